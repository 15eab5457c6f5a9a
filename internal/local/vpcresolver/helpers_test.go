package vpcresolver

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// signingTime is the start of the virtual clock and the hierarchy's signing
// time.
var signingTime = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// bigTXT is a TXT RRset too large for a 1232-byte UDP answer.
var bigTXT = func() string {
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "big TXT \"%02d %s\"\n", i, strings.Repeat("x", 90))
	}
	return b.String()
}()

// testSpec is the hierarchy of these tests:
//
//	.  test.  example.test. (signed)  insecure.test. (unsigned)
//	dnssec-failed.test. (signed, with a DS that matches no key: bogus)
func testSpec(now time.Time) hierarchy.Spec {
	return hierarchy.Spec{
		Now: now,
		Zones: []hierarchy.ZoneSpec{
			{Origin: "."},
			{Origin: "test."},
			{Origin: "example.test.", Records: "www A 192.0.2.1\nalias CNAME www\n" + bigTXT},
			{Origin: "insecure.test.", Unsigned: true, Records: "www A 192.0.2.30\n"},
			{Origin: "dnssec-failed.test.", DS: hierarchy.DSBogus, Records: "www A 192.0.2.66\n"},
		},
	}
}

func startHierarchy(t testing.TB, spec hierarchy.Spec) *hierarchy.Hierarchy {
	t.Helper()
	h, err := hierarchy.Start(spec)
	if err != nil {
		t.Fatalf("hierarchy.Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// resolverConfig points a resolver at h with its trust anchor and the clock
// now.
func resolverConfig(h *hierarchy.Hierarchy, now func() time.Time) dnssec.Config {
	var anchors []dns.RR
	for _, ds := range h.TrustAnchorDS() {
		anchors = append(anchors, ds)
	}
	return dnssec.Config{
		Roots:   h.RootServers(),
		Anchors: anchors,
		Now:     now,
		Client:  &dnsquery.Client{Timeout: 300 * time.Millisecond, Attempts: 2},
	}
}

// startServer serves a VPC resolver for h on loopback for the test's
// lifetime.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if !cfg.Listen.IsValid() {
		cfg.Listen = netip.MustParseAddrPort("127.0.0.1:0")
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// query is one client query's flags.
type query struct {
	do, cd, tcp, noEDNS bool
}

// ask sends name/qtype to addr as a stub resolver does (RD set).
func ask(t testing.TB, addr netip.AddrPort, name string, qtype uint16, q query) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.CheckingDisabled = q.cd
	if !q.noEDNS {
		m.SetEdns0(1232, q.do)
	}
	c := &dns.Client{Timeout: 5 * time.Second}
	if q.tcp {
		c.Net = "tcp"
	}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// ede returns the Extended DNS Error of r, if any.
func ede(r *dns.Msg) (*dns.EDNS0_EDE, bool) {
	opt := r.IsEdns0()
	if opt == nil {
		return nil, false
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			return e, true
		}
	}
	return nil, false
}

// rdata renders the answer's records of type t as "owner TYPE rdata".
func rdata(rrs []dns.RR, t uint16) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype != t {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s", h.Name, dns.TypeToString[h.Rrtype], strings.TrimPrefix(rr.String(), h.String())))
	}
	return out
}

// zoneQueries sums the queries received by a zone's servers.
func zoneQueries(h *hierarchy.Hierarchy, origin string) int64 {
	var n int64
	for _, ns := range h.Zone(origin).Servers {
		n += ns.Server.Queries()
	}
	return n
}
