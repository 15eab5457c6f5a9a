package dnssec_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// signingTime is the fixed "now" of the loopback tests.
var signingTime = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// smallSpec is the hierarchy the broken cases mutate: small, so that each
// case can have its own, and signed with ECDSA only, so that it starts fast.
//
//	.  test.  example.test. (NSEC)  n3.test. (NSEC3, salt, no opt-out)
//	insecure.test. (unsigned)
func smallSpec(now time.Time) hierarchy.Spec {
	records := "www A 192.0.2.1\nwww AAAA 2001:db8::1\nalias CNAME www\n*.wild A 192.0.2.10\nhost.ent A 192.0.2.3\n"
	return hierarchy.Spec{
		Now: now,
		Zones: []hierarchy.ZoneSpec{
			{Origin: "."},
			{Origin: "test."},
			{Origin: "example.test.", Records: records},
			{Origin: "n3.test.", Denial: authzone.DenialNSEC3, NSEC3: authzone.NSEC3Params{Iterations: 1, Salt: "beef"}, Records: records},
			{Origin: "insecure.test.", Unsigned: true, Records: "www A 192.0.2.30\n"},
		},
	}
}

// startHierarchy starts spec on loopback for the test's lifetime.
func startHierarchy(t testing.TB, spec hierarchy.Spec) *hierarchy.Hierarchy {
	t.Helper()
	h, err := hierarchy.Start(spec)
	if err != nil {
		t.Fatalf("hierarchy.Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// anchors returns the hierarchy's root trust anchor.
func anchors(h *hierarchy.Hierarchy) []dns.RR {
	var out []dns.RR
	for _, ds := range h.TrustAnchorDS() {
		out = append(out, ds)
	}
	return out
}

// testClient answers fast enough for tests and gives up fast on dead
// servers.
func testClient() *dnsquery.Client {
	return &dnsquery.Client{Timeout: 300 * time.Millisecond, Attempts: 2}
}

// newResolver returns a resolver for h with its anchor, at now unless the
// config sets a clock.
func newResolver(t testing.TB, h *hierarchy.Hierarchy, cfg dnssec.Config) *dnssec.Resolver {
	t.Helper()
	if cfg.Roots == nil {
		cfg.Roots = h.RootServers()
	}
	if cfg.Anchors == nil {
		cfg.Anchors = anchors(h)
	}
	if cfg.Now == nil {
		now := h.Now()
		cfg.Now = func() time.Time { return now }
	}
	if cfg.Client == nil {
		cfg.Client = testClient()
	}
	r, err := dnssec.NewResolver(cfg)
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	return r
}

// answerText renders answer records compactly for comparisons:
// "owner TYPE rdata" without TTL and class.
func answerText(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		rdata := strings.TrimPrefix(rr.String(), h.String())
		out = append(out, fmt.Sprintf("%s %s %s", h.Name, dns.TypeToString[h.Rrtype], rdata))
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
