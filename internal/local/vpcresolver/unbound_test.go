package vpcresolver

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/unboundtest"
)

// startUnbound runs unbound in front of h, validating or not, and returns
// its address; it is stopped when the test ends.
func startUnbound(t *testing.T, h *hierarchy.Hierarchy, validate bool) netip.AddrPort {
	t.Helper()
	unboundtest.Binary(t) // skips the test without unbound
	root := h.RootServers()[0].Addr().As4()
	last := byte(252)
	if !validate {
		last = 251
	}
	listen := netip.AddrPortFrom(netip.AddrFrom4([4]byte{root[0], root[1], root[2], last}), h.Port())
	dir := t.TempDir()
	conf, err := h.WriteUnboundConfig(hierarchy.UnboundConfig{Listen: listen, Dir: dir, NoValidation: !validate})
	if err != nil {
		t.Fatal(err)
	}
	unboundtest.Start(t, conf, listen)
	return listen
}

// TestAgreesWithUnbound asks the VPC resolver and unbound the same
// questions about a hierarchy signed at the real time, with validation on
// and off in both: they must give the same rcode and the same records.
// Validating unbound's AD bit must be set exactly for the secure answers,
// which the VPC resolver answers without AD.
func TestAgreesWithUnbound(t *testing.T) {
	h := startHierarchy(t, testSpec(time.Now()))
	tests := []struct {
		name   string
		qtype  uint16
		secure bool
	}{
		{"www.example.test.", dns.TypeA, true},
		{"alias.example.test.", dns.TypeA, true},
		{"nope.example.test.", dns.TypeA, true},
		{"www.example.test.", dns.TypeTXT, true},
		{"www.insecure.test.", dns.TypeA, false},
		{"nope.insecure.test.", dns.TypeA, false},
		{"www.dnssec-failed.test.", dns.TypeA, false},
		{"nope.dnssec-failed.test.", dns.TypeA, false},
		{"dnssec-failed.test.", dns.TypeDNSKEY, false},
	}
	for _, validate := range []bool{true, false} {
		ub := startUnbound(t, h, validate)
		s := startServer(t, Config{Resolver: resolverConfig(h, time.Now), Validation: func() bool { return validate }})
		for _, tt := range tests {
			want := ask(t, ub, tt.name, tt.qtype, query{do: true})
			got := ask(t, s.Addr(), tt.name, tt.qtype, query{do: true})
			what := fmt.Sprintf("%s %s validation=%v", tt.name, dns.TypeToString[tt.qtype], validate)
			if got.Rcode != want.Rcode {
				t.Errorf("%s: VPC resolver %s, unbound %s", what, dns.RcodeToString[got.Rcode], dns.RcodeToString[want.Rcode])
			}
			// Record order within an RRset is not significant (unbound rotates it).
			if g, w := rdata(got.Answer, tt.qtype), rdata(want.Answer, tt.qtype); !cmp.Equal(g, w, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
				t.Errorf("%s: VPC resolver answer %v, unbound %v", what, g, w)
			}
			if want.AuthenticatedData != (tt.secure && validate) {
				t.Errorf("%s: unbound AD=%v, want %v", what, want.AuthenticatedData, tt.secure && validate)
			}
			if got.AuthenticatedData {
				t.Errorf("%s: VPC resolver set AD", what)
			}
		}
	}
}
