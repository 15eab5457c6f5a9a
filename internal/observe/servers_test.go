package observe

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnslisten"
	"github.com/miekg/dns"
)

// Faults a test server can be told to show.
const (
	faultNone       = ""
	faultDrop       = "drop"       // never answers
	faultRefused    = "refused"    // RCODE REFUSED
	faultServfail   = "servfail"   // RCODE SERVFAIL
	faultLame       = "lame"       // answers without the AA bit and with nothing in it
	faultTruncate   = "truncate"   // truncates every UDP answer (TCP works)
	faultNoSOA      = "nosoa"      // negative answers lack the SOA
	faultUpReferral = "upreferral" // refers back to the root
)

// testServer is a tiny authoritative server on loopback: it serves the
// zones it is given (longest match), refers below delegations and signs
// nothing itself (RRSIGs are records of the zone data, sent when DO is set).
type testServer struct {
	name string
	addr netip.AddrPort

	mu    sync.Mutex
	zones map[string][]dns.RR
	fault string

	queries  atomic.Int64
	tcp      atomic.Int64
	listener *dnslisten.Listener
}

func (s *testServer) setZone(apex string, rrs []dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[dns.CanonicalName(apex)] = rrs
}

func (s *testServer) setFault(f string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

func (s *testServer) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	s.queries.Add(1)
	isTCP := w.LocalAddr().Network() == "tcp"
	if isTCP {
		s.tcp.Add(1)
	}
	s.mu.Lock()
	fault := s.fault
	resp := s.answer(q)
	s.mu.Unlock()
	switch fault {
	case faultDrop:
		return
	case faultRefused:
		resp = new(dns.Msg)
		resp.SetRcode(q, dns.RcodeRefused)
	case faultServfail:
		resp = new(dns.Msg)
		resp.SetRcode(q, dns.RcodeServerFailure)
	case faultLame:
		resp = new(dns.Msg)
		resp.SetReply(q)
	case faultUpReferral:
		resp = new(dns.Msg)
		resp.SetReply(q)
		resp.Ns = []dns.RR{mustRR(". 3600 IN NS a.root.test.")}
	case faultTruncate:
		if !isTCP {
			resp = new(dns.Msg)
			resp.SetReply(q)
			resp.Authoritative = true
			resp.Truncated = true
		}
	case faultNoSOA:
		if len(resp.Answer) == 0 && resp.Authoritative {
			resp.Ns = nil
		}
	}
	if opt := q.IsEdns0(); opt != nil {
		resp.SetEdns0(opt.UDPSize(), opt.Do())
	}
	_ = w.WriteMsg(resp)
}

// answer builds the authoritative answer, referral or negative answer.
func (s *testServer) answer(q *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(q)
	qname, qtype := dns.CanonicalName(q.Question[0].Name), q.Question[0].Qtype
	do := q.IsEdns0() != nil && q.IsEdns0().Do()
	apex := ""
	for z := range s.zones {
		if dns.IsSubDomain(z, qname) && len(z) > len(apex) {
			apex = z
		}
	}
	if apex == "" {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	rrs := s.zones[apex]
	// A delegation at or above qname (below the apex) gives a referral,
	// except for DS at the cut, which the parent answers.
	cut := ""
	for _, rr := range rrs {
		h := rr.Header()
		owner := dns.CanonicalName(h.Name)
		if h.Rrtype == dns.TypeNS && owner != apex && dns.IsSubDomain(owner, qname) && !(qtype == dns.TypeDS && owner == qname) {
			if cut == "" || len(owner) < len(cut) {
				cut = owner
			}
		}
	}
	if cut != "" {
		targets := map[string]bool{}
		for _, rr := range rrs {
			if ns, ok := rr.(*dns.NS); ok && dns.CanonicalName(ns.Hdr.Name) == cut {
				resp.Ns = append(resp.Ns, ns)
				targets[dns.CanonicalName(ns.Ns)] = true
			}
		}
		for _, rr := range rrs {
			h := rr.Header()
			if (h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA) && targets[dns.CanonicalName(h.Name)] {
				resp.Extra = append(resp.Extra, rr)
			}
		}
		return resp
	}
	resp.Authoritative = true
	exists := false
	for _, rr := range rrs {
		h := rr.Header()
		owner := dns.CanonicalName(h.Name)
		if dns.IsSubDomain(qname, owner) {
			exists = true
		}
		if owner != qname {
			continue
		}
		if h.Rrtype == qtype {
			resp.Answer = append(resp.Answer, rr)
		}
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == qtype && do {
			resp.Answer = append(resp.Answer, rr)
		}
	}
	if len(resp.Answer) > 0 {
		if qtype == dns.TypeNS {
			for _, rr := range resp.Answer {
				if ns, ok := rr.(*dns.NS); ok {
					for _, g := range rrs {
						if (g.Header().Rrtype == dns.TypeA || g.Header().Rrtype == dns.TypeAAAA) && dns.CanonicalName(g.Header().Name) == dns.CanonicalName(ns.Ns) {
							resp.Extra = append(resp.Extra, g)
						}
					}
				}
			}
		}
		return resp
	}
	if !exists {
		resp.Rcode = dns.RcodeNameError
	}
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok && dns.CanonicalName(soa.Hdr.Name) == apex {
			neg := dns.Copy(soa).(*dns.SOA)
			neg.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
			resp.Ns = append(resp.Ns, neg)
		}
	}
	return resp
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(fmt.Sprintf("%q: %v", s, err))
	}
	return rr
}

func mustRRs(lines ...string) []dns.RR {
	var out []dns.RR
	for _, l := range lines {
		for _, one := range strings.Split(l, "\n") {
			if strings.TrimSpace(one) != "" {
				out = append(out, mustRR(one))
			}
		}
	}
	return out
}

// sigLine fabricates an RRSIG (the observer reports signatures, it does not
// verify them).
func sigLine(owner, covered string, origTTL uint32, expiry time.Time, signer string) string {
	return fmt.Sprintf("%s %d IN RRSIG %s 13 %d %d %s %s 12345 %s dGVzdHNpZ25hdHVyZQ==",
		owner, origTTL, covered, dns.CountLabel(owner), origTTL,
		expiry.UTC().Format("20060102150405"), expiry.Add(-30*24*time.Hour).UTC().Format("20060102150405"), signer)
}

// testNet is a set of test servers on distinct 127.0.x.y addresses that
// share one port, like a local hierarchy.
type testNet struct {
	t       testing.TB
	port    uint16
	servers []*testServer
}

// newTestNet picks a port that is free on every address it will need.
func newTestNet(t testing.TB) *testNet {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	n := &testNet{t: t, port: port}
	t.Cleanup(func() {
		for _, s := range n.servers {
			_ = s.listener.Close()
		}
	})
	return n
}

// start starts a server named name on ip (and the shared port).
func (n *testNet) start(name, ip string) *testServer {
	n.t.Helper()
	return n.startAt(name, netip.AddrPortFrom(netip.MustParseAddr(ip), n.port))
}

func (n *testNet) startAt(name string, addr netip.AddrPort) *testServer {
	n.t.Helper()
	s := &testServer{name: dns.CanonicalName(name), zones: map[string][]dns.RR{}}
	// dnslisten retries a port-0 address whose UDP port is taken for TCP.
	l, err := dnslisten.Start(addr, s)
	if err != nil {
		n.t.Fatalf("%s: %v", name, err)
	}
	s.listener, s.addr = l, l.Addr()
	n.servers = append(n.servers, s)
	return s
}

func (n *testNet) queries() int64 {
	var q int64
	for _, s := range n.servers {
		q += s.queries.Load()
	}
	return q
}

// world is root -> test. -> example.test. on a testNet.
type world struct {
	net     *testNet
	root    *testServer
	parents []*testServer // ns1..N.nic.test.
	zone    []*testServer // ns1..N.example.test.
}

// Fixed test values.
var (
	testNow    = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	testExpiry = testNow.Add(14 * 24 * time.Hour)
	dsOld      = "example.test. 3600 IN DS 11111 13 2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	dsNew      = "example.test. 3600 IN DS 22222 13 2 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	kskOld     = "example.test. 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
	kskNew     = "example.test. 3600 IN DNSKEY 257 3 13 oJMRESz5E4gYzS/q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVfRvMGPmM1x8fGAa2XhSA=="
	zsk        = "example.test. 3600 IN DNSKEY 256 3 13 zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zsk0zw=="
)

// rootRecords is the root zone: its own server and the delegation of test.
func rootRecords(parents int) []dns.RR {
	lines := []string{
		". 86400 IN SOA a.root.test. hostmaster.root.test. 1 1800 900 604800 86400",
		". 518400 IN NS a.root.test.",
		"a.root.test. 518400 IN A 127.0.1.1",
	}
	for i := 1; i <= parents; i++ {
		lines = append(lines,
			fmt.Sprintf("test. 172800 IN NS ns%d.nic.test.", i),
			fmt.Sprintf("ns%d.nic.test. 172800 IN A 127.0.1.%d", i, 10+i))
	}
	return mustRRs(lines...)
}

// parentRecords is test.: its servers, the delegation of example.test. to
// zoneNS name servers (with glue) and the DS set ds (signed).
func parentRecords(parents int, zoneNS []int, ds ...string) []dns.RR {
	lines := []string{"test. 86400 IN SOA ns1.nic.test. hostmaster.nic.test. 1 7200 3600 1209600 900"}
	for i := 1; i <= parents; i++ {
		lines = append(lines,
			fmt.Sprintf("test. 86400 IN NS ns%d.nic.test.", i),
			fmt.Sprintf("ns%d.nic.test. 86400 IN A 127.0.1.%d", i, 10+i))
	}
	for _, i := range zoneNS {
		lines = append(lines,
			fmt.Sprintf("example.test. 3600 IN NS ns%d.example.test.", i),
			fmt.Sprintf("ns%d.example.test. 3600 IN A 127.0.1.%d", i, 20+i))
	}
	lines = append(lines, ds...)
	if len(ds) > 0 {
		lines = append(lines, sigLine("example.test.", "DS", 3600, testExpiry, "test."))
	}
	return mustRRs(lines...)
}

// zoneRecords is example.test.: SOA with serial, apex NS set, DNSKEY set
// (keys), all signed with expiry exp.
func zoneRecords(serial uint32, apexNS []int, exp time.Time, keys ...string) []dns.RR {
	lines := []string{
		fmt.Sprintf("example.test. 900 IN SOA ns1.example.test. hostmaster.example.test. %d 7200 900 1209600 300", serial),
		sigLine("example.test.", "SOA", 900, exp, "example.test."),
		sigLine("example.test.", "NS", 172800, exp, "example.test."),
		"www.example.test. 300 IN A 192.0.2.1",
	}
	for _, i := range apexNS {
		lines = append(lines,
			fmt.Sprintf("example.test. 172800 IN NS ns%d.example.test.", i),
			fmt.Sprintf("ns%d.example.test. 172800 IN A 127.0.1.%d", i, 20+i))
	}
	lines = append(lines, keys...)
	if len(keys) > 0 {
		lines = append(lines, sigLine("example.test.", "DNSKEY", 3600, exp, "example.test."))
	}
	return mustRRs(lines...)
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// newWorld starts a root, parents servers of test. and zoneServers servers
// of example.test., all agreeing: DS dsOld, DNSKEY kskOld+zsk.
func newWorld(t testing.TB, parents, zoneServers int) *world {
	t.Helper()
	w := &world{net: newTestNet(t)}
	w.root = w.net.start("a.root.test.", "127.0.1.1")
	w.root.setZone(".", rootRecords(parents))
	for i := 1; i <= parents; i++ {
		s := w.net.start(fmt.Sprintf("ns%d.nic.test.", i), fmt.Sprintf("127.0.1.%d", 10+i))
		s.setZone("test.", parentRecords(parents, seq(zoneServers), dsOld))
		w.parents = append(w.parents, s)
	}
	for i := 1; i <= zoneServers; i++ {
		s := w.net.start(fmt.Sprintf("ns%d.example.test.", i), fmt.Sprintf("127.0.1.%d", 20+i))
		s.setZone("example.test.", zoneRecords(2026112701, seq(zoneServers), testExpiry, kskOld, zsk))
		w.zone = append(w.zone, s)
	}
	return w
}

// observer returns an Observer for w with short timeouts and a fixed clock.
func (w *world) observer(t testing.TB, mod ...func(*Config)) *Observer {
	t.Helper()
	cfg := Config{
		Roots:  []netip.AddrPort{w.root.addr},
		Port:   w.net.port,
		Client: testClient(),
		Now:    func() time.Time { return testNow },
	}
	for _, m := range mod {
		m(&cfg)
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return o
}
