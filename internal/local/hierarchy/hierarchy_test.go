package hierarchy

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
)

var testNow = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

func startDefault(t *testing.T) *Hierarchy {
	t.Helper()
	h, err := Start(DefaultSpec(testNow))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func ask(t *testing.T, addr netip.AddrPort, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("%s %s @%v: %v", name, dns.TypeToString[qtype], addr, err)
	}
	if r.Truncated {
		c.Net = "tcp"
		if r, _, err = c.Exchange(m, addr.String()); err != nil {
			t.Fatalf("%s %s @%v over TCP: %v", name, dns.TypeToString[qtype], addr, err)
		}
	}
	return r
}

// walk resolves name iteratively from the root, as a resolver does,
// following referrals through glue or by resolving the name server's
// address; it returns the authoritative answer.
func walk(t *testing.T, h *Hierarchy, name string, qtype uint16) *dns.Msg {
	t.Helper()
	server := h.RootServers()[0]
	for range 10 {
		r := ask(t, server, name, qtype)
		if r.Authoritative || r.Rcode != dns.RcodeSuccess {
			return r
		}
		var next string
		for _, rr := range r.Ns {
			if ns, ok := rr.(*dns.NS); ok {
				next = ns.Ns
				break
			}
		}
		if next == "" {
			t.Fatalf("walk %s: neither answer nor referral from %v:\n%v", name, server, r)
		}
		var addr netip.Addr
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok && a.Hdr.Name == next {
				addr, _ = netip.AddrFromSlice(a.A.To4())
			}
		}
		if !addr.IsValid() {
			ar := walk(t, h, next, dns.TypeA)
			if len(ar.Answer) == 0 {
				t.Fatalf("walk %s: no address for name server %s", name, next)
			}
			addr, _ = netip.AddrFromSlice(ar.Answer[0].(*dns.A).A.To4())
		}
		server = netip.AddrPortFrom(addr, h.Port())
	}
	t.Fatalf("walk %s: too many referrals", name)
	return nil
}

func TestDefaultHierarchyResolves(t *testing.T) {
	h := startDefault(t)
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  string // first answer record's data, "" for none
	}{
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"www.example.test.", dns.TypeAAAA, dns.RcodeSuccess, "2001:db8::1"},
		{"alias.example.test.", dns.TypeA, dns.RcodeSuccess, "www.example.test."},
		{"a.wild.example.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.10"},
		{"ent.example.test.", dns.TypeA, dns.RcodeSuccess, ""},
		{"nope.example.test.", dns.TypeA, dns.RcodeNameError, ""},
		{"www.sub.example.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.20"},
		{"www.insecure.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.30"},
		{"www.nsec3.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.40"},
		{"www.unsigned.nsec3.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.50"},
		{"www.rsa.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.60"},
		{"www.ed25519.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.70"},
		{"www.oob.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.80"},
		{"big.example.test.", dns.TypeTXT, dns.RcodeSuccess, "\"0 "},
	}
	for _, tt := range tests {
		r := walk(t, h, tt.name, tt.qtype)
		var got string
		if len(r.Answer) > 0 {
			got = strings.TrimPrefix(r.Answer[0].String(), r.Answer[0].Header().String())
		}
		if r.Rcode != tt.rcode || !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
			t.Errorf("walk(%s %s) = %s %q, want %s %q", tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
		}
	}
}

func TestAddresses(t *testing.T) {
	h := startDefault(t)
	var network netip.Prefix
	seen := map[netip.Addr]bool{}
	for i, ns := range h.Servers() {
		if ns.Addr.Port() != h.Port() {
			t.Errorf("%s listens on port %d, want the shared port %d", ns.Name, ns.Addr.Port(), h.Port())
		}
		p, _ := ns.Addr.Addr().Prefix(24)
		if i == 0 {
			network = p
		}
		if p != network || !ns.Addr.Addr().IsLoopback() || seen[ns.Addr.Addr()] {
			t.Errorf("%s has address %v, want its own loopback address in %v", ns.Name, ns.Addr, network)
		}
		seen[ns.Addr.Addr()] = true
		if ns.Server.Addr() != ns.Addr {
			t.Errorf("%s: server listens on %v, NameServer says %v", ns.Name, ns.Server.Addr(), ns.Addr)
		}
	}
	if got := len(h.Zone("example.test.").Servers); got != 4 {
		t.Errorf("example.test. has %d servers, want 4", got)
	}
	if got, want := h.RootServers(), h.Zone(".").Addrs(); !slices.Equal(got, want) || len(got) != 2 {
		t.Errorf("RootServers() = %v, want the root's 2 servers %v", got, want)
	}
	// Glue in the parent is the servers' real addresses.
	r := ask(t, h.Zone("test.").Servers[0].Addr, "www.example.test.", dns.TypeA)
	ns := h.Zone("example.test.").NS()
	for _, rr := range r.Extra {
		if a, ok := rr.(*dns.A); ok {
			addr, _ := netip.AddrFromSlice(a.A.To4())
			if ns[a.Hdr.Name].Addr() != addr {
				t.Errorf("glue %v, want %v", a, ns[a.Hdr.Name])
			}
		}
	}
}

// TestChainOfTrust checks every delegation of the default hierarchy on
// every server: a DS in the parent matching a key that signs the child's
// DNSKEY RRset for secure zones, a proof of no DS for insecure ones.
func TestChainOfTrust(t *testing.T) {
	h := startDefault(t)
	checkChain(t, h)
}

func checkChain(t *testing.T, h *Hierarchy) {
	t.Helper()
	var anchors []*dns.DS
	for _, z := range h.Zones() {
		var ds []*dns.DS
		if z.Parent == nil {
			ds = h.TrustAnchorDS()
			anchors = ds
		} else {
			for _, p := range z.Parent.Servers {
				r := ask(t, p.Addr, z.Origin, dns.TypeDS)
				if !r.Authoritative || r.Rcode != dns.RcodeSuccess {
					t.Errorf("DS %s @%s: %s AA=%v, want an authoritative answer", z.Origin, p.Name, dns.RcodeToString[r.Rcode], r.Authoritative)
				}
				var got []*dns.DS
				for _, rr := range r.Answer {
					if d, ok := rr.(*dns.DS); ok {
						got = append(got, d)
					}
				}
				if p == z.Parent.Servers[0] {
					ds = got
				} else if len(got) != len(ds) {
					t.Errorf("DS %s: %d records @%s, %d @%s", z.Origin, len(got), p.Name, len(ds), z.Parent.Servers[0].Name)
				}
			}
		}
		secure := !z.Spec.Unsigned && z.Spec.DS == DSSecure
		if !secure {
			if len(ds) != 0 && z.Spec.DS != DSBogus {
				t.Errorf("DS %s = %v, want none for an insecure delegation", z.Origin, ds)
			}
			continue
		}
		if len(ds) == 0 {
			t.Errorf("DS %s: none, want the zone's", z.Origin)
			continue
		}
		for _, ns := range z.Servers {
			r := ask(t, ns.Addr, z.Origin, dns.TypeDNSKEY)
			var keys []dns.RR
			var sigs []*dns.RRSIG
			for _, rr := range r.Answer {
				switch rr := rr.(type) {
				case *dns.DNSKEY:
					keys = append(keys, rr)
				case *dns.RRSIG:
					sigs = append(sigs, rr)
				}
			}
			if !secureKeys(ds, keys, sigs, h.Now()) {
				t.Errorf("DNSKEY %s @%s: no key matching DS %v signs the DNSKEY RRset", z.Origin, ns.Name, ds)
			}
		}
	}
	if len(anchors) == 0 {
		t.Errorf("TrustAnchorDS() is empty")
	}
}

// secureKeys reports whether a key of the DNSKEY RRset matches a DS and
// made a valid signature over the RRset (RFC 4035 section 5.2).
func secureKeys(ds []*dns.DS, keys []dns.RR, sigs []*dns.RRSIG, now time.Time) bool {
	for _, d := range ds {
		for _, rr := range keys {
			k := rr.(*dns.DNSKEY)
			if k.KeyTag() != d.KeyTag || !strings.EqualFold(k.ToDS(d.DigestType).Digest, d.Digest) {
				continue
			}
			for _, s := range sigs {
				if s.KeyTag == k.KeyTag() && s.Verify(k, keys) == nil && s.ValidityPeriod(now) {
					return true
				}
			}
		}
	}
	return false
}

func TestTrustAnchorFiles(t *testing.T) {
	h := startDefault(t)
	var b bytes.Buffer
	if err := h.WriteTrustAnchor(&b); err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(&b, "", "")
	var ds, keys int
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch rr := rr.(type) {
		case *dns.DS:
			ds++
		case *dns.DNSKEY:
			keys++
			if rr.Flags != 257 {
				t.Errorf("trust anchor key %v, want a KSK", rr)
			}
		}
	}
	if err := zp.Err(); err != nil || ds != 1 || keys != 1 {
		t.Errorf("trust anchor file: %d DS, %d DNSKEY, %v; want one of each:\n%s", ds, keys, err, b.String())
	}
	b.Reset()
	if err := h.WriteDelvAnchors(&b); err != nil {
		t.Fatal(err)
	}
	d := h.TrustAnchorDS()[0]
	if !strings.HasPrefix(b.String(), "trust-anchors {\n") || !strings.Contains(b.String(), `"." static-ds `) || !strings.Contains(b.String(), d.Digest) {
		t.Errorf("delv anchors:\n%s\nwant a trust-anchors statement with the root's DS", b.String())
	}
}

func TestUnboundConfig(t *testing.T) {
	h := startDefault(t)
	listen := netip.MustParseAddrPort("127.0.0.1:5353")
	for _, validate := range []bool{true, false} {
		dir := t.TempDir()
		path, err := h.WriteUnboundConfig(UnboundConfig{Listen: listen, Dir: dir, NoValidation: !validate})
		if err != nil {
			t.Fatal(err)
		}
		conf := h.unboundConfig(UnboundConfig{Listen: listen, Dir: dir, NoValidation: !validate}, dir+"/root.anchor")
		want := []string{"interface: 127.0.0.1", "port: 5353", `do-not-query-localhost: no`, `local-zone: "test." nodefault`,
			`stub-zone:`, `name: "example.test."`, "control-enable: no", `trust-anchor-file: "` + dir + `/root.anchor"`}
		if validate {
			want = append(want, `module-config: "validator iterator"`)
		} else {
			want = append(want, `module-config: "iterator"`)
		}
		for _, ns := range h.Zone("example.test.").Servers {
			want = append(want, "stub-addr: "+ns.Addr.Addr().String()+"@"+strconv.Itoa(int(h.Port())))
		}
		for _, w := range want {
			if !strings.Contains(conf, w) {
				t.Errorf("unbound.conf (%s) lacks %q", path, w)
			}
		}
	}
}

// TestResign rolls a zone's KSK, re-signs it and checks that the parent
// now publishes the new DS and the chain still holds.
func TestResign(t *testing.T) {
	h := startDefault(t)
	z := h.Zone("example.test.")
	oldDS := ask(t, z.Parent.Servers[0].Addr, z.Origin, dns.TypeDS).Answer[0].(*dns.DS)
	oldSerial := z.Zone.SOA().Serial
	z.Spec.Keys[0] = authzone.MustGenerateKey(z.Origin, dns.ECDSAP256SHA256, authzone.KSK)
	if err := h.Resign(z.Origin); err != nil {
		t.Fatal(err)
	}
	newDS := ask(t, z.Parent.Servers[1].Addr, z.Origin, dns.TypeDS).Answer[0].(*dns.DS)
	if newDS.KeyTag == oldDS.KeyTag || newDS.KeyTag != z.Spec.Keys[0].Tag() {
		t.Errorf("DS after Resign has key tag %d, want the new KSK's %d (old %d)", newDS.KeyTag, z.Spec.Keys[0].Tag(), oldDS.KeyTag)
	}
	if got := z.Zone.SOA().Serial; got != oldSerial+1 {
		t.Errorf("SOA serial after Resign = %d, want %d", got, oldSerial+1)
	}
	checkChain(t, h)
}

// TestPublishDS withdraws a DS, making the delegation insecure, then puts
// it back.
func TestPublishDS(t *testing.T) {
	h := startDefault(t)
	z := h.Zone("sub.example.test.")
	if err := h.PublishDS(z.Origin); err != nil {
		t.Fatal(err)
	}
	r := ask(t, z.Parent.Servers[0].Addr, z.Origin, dns.TypeDS)
	if len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
		t.Errorf("DS after withdrawal: %v, want NODATA", r)
	}
	var proof bool
	for _, rr := range r.Ns {
		if n, ok := rr.(*dns.NSEC); ok && n.Hdr.Name == z.Origin && !slices.Contains(n.TypeBitMap, dns.TypeDS) {
			proof = true
		}
	}
	if !proof {
		t.Errorf("DS after withdrawal: no NSEC proving there is no DS:\n%v", r)
	}
	if err := h.PublishDS(z.Origin, z.Zone.DS(dns.SHA256)...); err != nil {
		t.Fatal(err)
	}
	checkChain(t, h)
}

func TestBrokenDS(t *testing.T) {
	spec := Spec{Now: testNow, Zones: []ZoneSpec{
		{Origin: "."}, {Origin: "test."},
		{Origin: "bogus.test.", DS: DSBogus},
		{Origin: "orphan.test.", DS: DSOrphan},
		{Origin: "nods.test.", DS: DSNone},
	}}
	h, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, tt := range []struct {
		origin string
		ds     int // DS records in the parent
	}{{"bogus.test.", 1}, {"orphan.test.", 1}, {"nods.test.", 0}} {
		z := h.Zone(tt.origin)
		r := ask(t, z.Parent.Servers[0].Addr, z.Origin, dns.TypeDS)
		var ds []*dns.DS
		for _, rr := range r.Answer {
			if d, ok := rr.(*dns.DS); ok {
				ds = append(ds, d)
			}
		}
		if len(ds) != tt.ds {
			t.Fatalf("DS %s: %v, want %d records", tt.origin, ds, tt.ds)
		}
		keys := z.Zone.RRset(z.Origin, dns.TypeDNSKEY)
		if secureKeys(ds, keys, z.Zone.RRSIGs(z.Origin, dns.TypeDNSKEY), testNow) {
			t.Errorf("DS %s validates the zone's DNSKEY RRset, want a broken chain", tt.origin)
		}
		if tt.origin == "orphan.test." {
			// The DS matches a published key, which signs nothing.
			var matched bool
			for _, rr := range keys {
				if k := rr.(*dns.DNSKEY); k.KeyTag() == ds[0].KeyTag && k.ToDS(dns.SHA256).Digest == ds[0].Digest {
					matched = true
				}
			}
			if !matched {
				t.Errorf("orphan DS %v matches no published key", ds[0])
			}
		}
	}
}

// TestSharedServer hosts a parent and its child on one server: the DS of
// the child comes from the parent, as on real servers.
func TestSharedServer(t *testing.T) {
	spec := Spec{Now: testNow, Zones: []ZoneSpec{
		{Origin: "."},
		{Origin: "test.", NS: []string{"ns1.test.", "ns2.test."}},
		{Origin: "child.test.", NS: []string{"ns1.test.", "ns.child.test."}, Records: "www A 192.0.2.1\n"},
	}}
	h, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := len(h.Servers()); got != 5 {
		t.Errorf("%d servers, want 5 (2 root, ns1.test shared, ns2.test, ns.child.test)", got)
	}
	shared := h.Zone("test.").NS()["ns1.test."]
	r := ask(t, shared, "child.test.", dns.TypeDS)
	if len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeDS || !r.Authoritative {
		t.Errorf("DS child.test. @shared server: %v, want the parent's DS", r)
	}
	childOnly := h.Zone("child.test.").NS()["ns.child.test."]
	r = ask(t, childOnly, "child.test.", dns.TypeDS)
	if len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
		t.Errorf("DS child.test. @child-only server: %v, want NODATA", r)
	}
	if r := walk(t, h, "www.child.test.", dns.TypeA); len(r.Answer) == 0 {
		t.Errorf("walk(www.child.test.) = %v, want an answer", r)
	}
	checkChain(t, h)
}

// TestBindRetry occupies the first address offered and checks that Start
// moves on to another network.
func TestBindRetry(t *testing.T) {
	taken, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddr := taken.LocalAddr().(*net.UDPAddr).AddrPort()
	orig := randomNetwork
	defer func() { randomNetwork = orig }()
	calls := 0
	randomNetwork = func() (netip.Addr, uint16) {
		calls++
		if calls == 1 {
			return netip.MustParseAddr("127.0.0.0"), takenAddr.Port() // first server: 127.0.0.1, in use
		}
		return orig()
	}
	spec := Spec{Now: testNow, Zones: []ZoneSpec{{Origin: "."}}}
	h, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if calls < 2 || h.RootServers()[0] == takenAddr {
		t.Errorf("Start used %v after %d picks, want a retry away from %v", h.RootServers(), calls, takenAddr)
	}
	// An explicit address in use is an error, not a retry.
	spec.Base, spec.Port = netip.MustParseAddr("127.0.0.0"), takenAddr.Port()
	if h2, err := Start(spec); err == nil {
		h2.Close()
		t.Errorf("Start on an explicit address in use succeeded, want an error")
	}
}

// TestParallelStarts starts several hierarchies at once, as tests of many
// packages do.
func TestParallelStarts(t *testing.T) {
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := Start(Spec{Now: testNow, Zones: []ZoneSpec{{Origin: ".", Servers: 6}, {Origin: "test.", Servers: 6}, {Origin: "bench.test.", Servers: 4}}})
			if err != nil {
				t.Error(err)
				return
			}
			defer h.Close()
			c := &dns.Client{Timeout: 2 * time.Second}
			r, _, err := c.Exchange(new(dns.Msg).SetQuestion("bench.test.", dns.TypeSOA), h.Zone("bench.test.").Servers[3].Addr.String())
			if err != nil || !r.Authoritative {
				t.Errorf("SOA bench.test.: %v, %v; want an authoritative answer", r, err)
			}
		}()
	}
	wg.Wait()
}

func TestSpecErrors(t *testing.T) {
	tests := []struct {
		desc string
		spec Spec
	}{
		{"no time", Spec{Zones: []ZoneSpec{{Origin: "."}}}},
		{"no root", Spec{Now: testNow, Zones: []ZoneSpec{{Origin: "test."}}}},
		{"zone twice", Spec{Now: testNow, Zones: []ZoneSpec{{Origin: "."}, {Origin: "test."}, {Origin: "TEST."}}}},
		{"bad records", Spec{Now: testNow, Zones: []ZoneSpec{{Origin: "."}, {Origin: "test.", Records: "www A not-an-address\n"}}}},
		{"bad algorithm", Spec{Now: testNow, Zones: []ZoneSpec{{Origin: "."}, {Origin: "test.", Algorithm: dns.RSASHA1}}}},
	}
	for _, tt := range tests {
		if h, err := Start(tt.spec); err == nil {
			h.Close()
			t.Errorf("Start(%s) succeeded, want an error", tt.desc)
		}
	}
}

// TestServerFaultsInHierarchy switches a fault on for one zone server.
func TestServerFaultsInHierarchy(t *testing.T) {
	h := startDefault(t)
	ns := h.Zone("example.test.").Servers[2]
	ns.Server.SetFaults(authserver.Faults{Refuse: true})
	if r := ask(t, ns.Addr, "www.example.test.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("www.example.test. @faulty server: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if r := ask(t, h.Zone("example.test.").Servers[0].Addr, "www.example.test.", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Errorf("www.example.test. @healthy sibling: %s, want NOERROR", dns.RcodeToString[r.Rcode])
	}
}
