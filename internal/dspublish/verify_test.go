package dspublish

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/domainsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// Verification against a signed hierarchy on loopback: root -> test.
// (three servers) -> example.test.

func startHierarchy(t *testing.T) *hierarchy.Hierarchy {
	t.Helper()
	h, err := hierarchy.Start(hierarchy.Spec{Now: t0, Zones: []hierarchy.ZoneSpec{
		{Origin: "."},
		{Origin: "test.", Servers: 3},
		{Origin: "example.test.", Servers: 2},
	}})
	if err != nil {
		t.Fatalf("hierarchy.Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func observer(t *testing.T, h *hierarchy.Hierarchy) *observe.Observer {
	t.Helper()
	o, err := observe.New(observe.Config{
		Roots:  h.RootServers(),
		Port:   h.Port(),
		Client: &dnsquery.Client{Timeout: 150 * time.Millisecond, Attempts: 2},
		Now:    func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatalf("observe.New: %v", err)
	}
	return o
}

// lag makes the i-th server of the parent zone test. keep serving what it
// serves now, while its siblings get later changes.
func lag(h *hierarchy.Hierarchy, i int) {
	z := h.Zone("test.")
	z.Servers[i].Server.SetZone(z.Zone.Clone())
}

func TestVerify(t *testing.T) {
	const zone = "example.test."
	next := newKSK(zone)
	for _, tc := range []struct {
		name string
		// change the hierarchy; cur is the DS the parent serves at first.
		change       func(h *hierarchy.Hierarchy, cur []*dns.DS)
		verify       func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error)
		wantVerified bool
		wantCoverage observe.Coverage
		wantLagging  []string // server names
		wantUnknown  []string
		wantText     []string // parts of Verdict.String()
	}{
		{
			name: "current DS served everywhere",
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return Verify(ctx, o, zone, cur)
			},
			wantVerified: true, wantCoverage: observe.All,
			wantText: []string{"served by 3 of 3 parent server addresses of test."},
		},
		{
			name: "new DS beside the old on every server",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) {
				must(h.PublishDS(zone, append(cur, next.ds)...))
			},
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return Verify(ctx, o, zone, append(cur, next.ds))
			},
			wantVerified: true, wantCoverage: observe.All,
		},
		{
			name: "a server lags behind",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) {
				lag(h, 1)
				must(h.PublishDS(zone, append(cur, next.ds)...))
			},
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return Verify(ctx, o, zone, []*dns.DS{next.ds})
			},
			wantCoverage: observe.Some, wantLagging: []string{"ns2.test."},
			wantText: []string{"served by 2 of 3", "lagging: ns2.test. (", ") serves "},
		},
		{
			name: "a server does not answer: unknown, never served",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) {
				must(h.PublishDS(zone, append(cur, next.ds)...))
				h.Zone("test.").Servers[2].Server.SetFaults(authserver.Faults{Drop: true})
			},
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return Verify(ctx, o, zone, []*dns.DS{next.ds})
			},
			wantCoverage: observe.CoverageUnknown, wantUnknown: []string{"ns3.test."},
			wantText: []string{"served by 2 of 3", "unknown: ns3.test. (", "is unknown (timeout)"},
		},
		{
			name: "a server answers SERVFAIL while another lags",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) {
				lag(h, 0)
				must(h.PublishDS(zone, append(cur, next.ds)...))
				h.Zone("test.").Servers[1].Server.SetFaults(authserver.Faults{ServFail: true})
			},
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return Verify(ctx, o, zone, []*dns.DS{next.ds})
			},
			wantCoverage: observe.Some, wantLagging: []string{"ns1.test."}, wantUnknown: []string{"ns2.test."},
			wantText: []string{"lagging: ns1.test.", "unknown: ns2.test.", "SERVFAIL"},
		},
		{
			name:   "old DS withdrawn everywhere",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) { must(h.PublishDS(zone, next.ds)) },
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return VerifyWithdrawn(ctx, o, zone, cur)
			},
			wantVerified: true, wantCoverage: observe.All,
			wantText: []string{"withdrawn from 3 of 3"},
		},
		{
			name: "old DS still on a lagging server",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) {
				lag(h, 2)
				must(h.PublishDS(zone, next.ds))
			},
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return VerifyWithdrawn(ctx, o, zone, cur)
			},
			wantCoverage: observe.Some, wantLagging: []string{"ns3.test."},
			wantText: []string{"withdrawn from 2 of 3", "lagging: ns3.test."},
		},
		{
			name:   "every DS withdrawn",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) { must(h.PublishDS(zone)) },
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return VerifyWithdrawn(ctx, o, zone, nil)
			},
			wantVerified: true, wantCoverage: observe.All,
			wantText: []string{"any DS for example.test. withdrawn from 3 of 3"},
		},
		{
			name: "every DS withdrawn but a server does not answer: unknown, never absent",
			change: func(h *hierarchy.Hierarchy, cur []*dns.DS) {
				must(h.PublishDS(zone))
				h.Zone("test.").Servers[0].Server.SetFaults(authserver.Faults{Drop: true})
			},
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return VerifyWithdrawn(ctx, o, zone, nil)
			},
			wantCoverage: observe.CoverageUnknown, wantUnknown: []string{"ns1.test."},
		},
		{
			name: "a DS is still served: not withdrawn",
			verify: func(ctx context.Context, o Observer, cur []*dns.DS) (Verdict, error) {
				return VerifyWithdrawn(ctx, o, zone, nil)
			},
			wantCoverage: observe.None, wantLagging: []string{"ns1.test.", "ns2.test.", "ns3.test."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHierarchy(t)
			cur := h.Zone(zone).Zone.DS(dns.SHA256)
			if tc.change != nil {
				tc.change(h, cur)
			}
			ctx := testCtx(t)
			v, err := tc.verify(ctx, observer(t, h), cur)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if v.Verified != tc.wantVerified || v.Coverage != tc.wantCoverage {
				t.Errorf("Verified, Coverage = %t, %v, want %t, %v (%s)", v.Verified, v.Coverage, tc.wantVerified, tc.wantCoverage, v)
			}
			if got := names(v.Lagging()); !equalStrings(got, tc.wantLagging) {
				t.Errorf("Lagging = %v, want %v", got, tc.wantLagging)
			}
			if got := names(v.Unknown()); !equalStrings(got, tc.wantUnknown) {
				t.Errorf("Unknown = %v, want %v", got, tc.wantUnknown)
			}
			for _, part := range tc.wantText {
				if !strings.Contains(v.String(), part) {
					t.Errorf("String() = %q, want it to contain %q", v, part)
				}
			}
			if v.Parent != "test." || v.Zone != zone || len(v.Servers) != 3 {
				t.Errorf("Verdict zone, parent, servers = %s, %s, %d, want %s, test., 3", v.Zone, v.Parent, len(v.Servers), zone)
			}
			if v.Verified && v.Goal == Served && v.MaxDSTTL != hierarchy.DefaultTTL {
				t.Errorf("MaxDSTTL = %d, want %d", v.MaxDSTTL, hierarchy.DefaultTTL)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	h := startHierarchy(t)
	o := observer(t, h)
	ctx := testCtx(t)
	if _, err := Verify(ctx, o, "example.test.", nil); errorTypeName(err) != "InvalidRequestError" {
		t.Errorf("Verify(no DS) = %v, want an InvalidRequestError", err)
	}
	_, err := Verify(ctx, o, "absent.test.", []*dns.DS{newKSK("absent.test.").ds})
	var nd *observe.NotDelegatedError
	if !errors.As(err, &nd) || !strings.HasPrefix(err.Error(), "dspublish: verify DS served for absent.test.") {
		t.Errorf("Verify(a zone not delegated) = %v, want a wrapped observe.NotDelegatedError", err)
	}
}

// hierarchyRegistry publishes the emulator's DS sets in the hierarchy, as
// the local stack wires Route 53 Domains to its TLD servers.
type hierarchyRegistry struct {
	mu sync.Mutex
	h  *hierarchy.Hierarchy
}

func (r *hierarchyRegistry) SetDS(domain string, ds []*dns.DS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h.PublishDS(dns.Fqdn(domain), ds...)
}

// TestRegistrarVerifiedByObservation runs a KSK rotation's DS half through
// Route 53 Domains and checks every step by observing the parent servers.
func TestRegistrarVerifiedByObservation(t *testing.T) {
	const zone = "example.test."
	h := startHierarchy(t)
	d := newDomains(t, domainsemu.WithRegistry(&hierarchyRegistry{h: h}))
	o := observer(t, h)
	ctx := testCtx(t)
	old := h.Zone(zone).Zone.DS(dns.SHA256)
	next := newKSK(zone)
	p := d.publisher(t, "example.test")

	add := Request{Zone: zone, DS: next.ds, DNSKEY: next.key}
	first, err := p.Add(ctx, add)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if v, err := Verify(ctx, o, zone, []*dns.DS{next.ds}); err != nil || v.Verified || v.Coverage != observe.None {
		t.Errorf("Verify while the operation runs = %v, %v, want not verified, none", v, err)
	}
	untilDone(t, d.clk, first, func(op string) (Progress, error) {
		r := add
		r.Operation = op
		return p.Add(ctx, r)
	})
	// The registry publishes only the keys Route 53 Domains holds: the
	// hierarchy's own DS was never associated, so only the new one is
	// there. Verify asks for inclusion, so it passes.
	if v, err := Verify(ctx, o, zone, []*dns.DS{next.ds}); err != nil || !v.Verified {
		t.Errorf("Verify after the operation = %v, %v, want verified", v, err)
	}
	if v, err := VerifyWithdrawn(ctx, o, zone, old); err != nil || !v.Verified {
		t.Errorf("VerifyWithdrawn(hierarchy's DS) = %v, %v, want verified", v, err)
	}

	rm := Request{Zone: zone, DS: next.ds}
	first, err = p.Remove(ctx, rm)
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	untilDone(t, d.clk, first, func(op string) (Progress, error) {
		r := rm
		r.Operation = op
		return p.Remove(ctx, r)
	})
	if v, err := VerifyWithdrawn(ctx, o, zone, nil); err != nil || !v.Verified || v.MaxNegativeTTL == 0 {
		t.Errorf("VerifyWithdrawn(every DS) = %v (negative TTL %d), %v, want verified with a negative TTL", v, v.MaxNegativeTTL, err)
	}
}

func names(cs []ServerCheck) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
