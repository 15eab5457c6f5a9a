package observe

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// Tests against the project's signed loopback hierarchy: real signatures,
// real glue, one shared port.

var hierNow = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

func startHierarchy(t testing.TB, spec hierarchy.Spec) *hierarchy.Hierarchy {
	t.Helper()
	h, err := hierarchy.Start(spec)
	if err != nil {
		t.Fatalf("hierarchy.Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// smallSpec is root -> test. (parents servers) -> example.test. (zone
// servers).
func smallSpec(parents, zoneServers int) hierarchy.Spec {
	return hierarchy.Spec{Now: hierNow, Zones: []hierarchy.ZoneSpec{
		{Origin: "."},
		{Origin: "test.", Servers: parents},
		{Origin: "example.test.", Servers: zoneServers},
	}}
}

func hierObserver(t testing.TB, h *hierarchy.Hierarchy) *Observer {
	t.Helper()
	o, err := New(Config{
		Roots:  h.RootServers(),
		Port:   h.Port(),
		Client: testClient(),
		Now:    func() time.Time { return hierNow },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return o
}

func hierObserve(t *testing.T, h *hierarchy.Hierarchy, zone string) *Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := hierObserver(t, h).Observe(ctx, zone)
	if err != nil {
		t.Fatalf("Observe(%s): %v", zone, err)
	}
	return snap
}

func TestHierarchyEveryZone(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(hierNow))
	for _, z := range h.Zones() {
		if z.Origin == "." {
			continue
		}
		t.Run(z.Origin, func(t *testing.T) {
			snap := hierObserve(t, h, z.Origin)
			if snap.Parent != z.Parent.Origin {
				t.Errorf("Parent = %s, want %s", snap.Parent, z.Parent.Origin)
			}
			var wantNS []string
			for name := range z.NS() {
				wantNS = append(wantNS, dns.CanonicalName(name))
			}
			slices.Sort(wantNS)
			if diff := cmp.Diff(wantNS, snap.DelegationNS); diff != "" {
				t.Errorf("DelegationNS (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantNS, snap.ApexNS); diff != "" {
				t.Errorf("ApexNS (-want +got):\n%s", diff)
			}
			if got, want := len(snap.ZoneServers), len(z.Servers); got != want {
				t.Errorf("zone rows = %d, want %d", got, want)
			}
			if got, want := len(snap.ParentServers), len(z.Parent.Servers); got != want {
				t.Errorf("parent rows = %d, want %d", got, want)
			}
			// What the parent zone really holds is what every server serves.
			var wantDS []*dns.DS
			for _, rr := range z.Parent.Zone.RRset(z.Origin, dns.TypeDS) {
				wantDS = append(wantDS, rr.(*dns.DS))
			}
			if got := snap.DSServed(wantDS); got != All {
				t.Errorf("DSServed(%d records from the parent zone) = %v, want all", len(wantDS), got)
			}
			wantAny := None
			if len(wantDS) > 0 {
				wantAny = All
			}
			if got := snap.DSPresent(); got != wantAny {
				t.Errorf("DSPresent() = %v, want %v", got, wantAny)
			}
			if got := snap.ZoneServersAgree(); got != Agree {
				t.Errorf("ZoneServersAgree() = %v, want agree", got)
			}
			if len(snap.Problems) > 0 {
				t.Errorf("Problems = %q, want none", snap.Problems)
			}
			if z.Spec.Unsigned {
				if got := snap.DNSKEYPresent(); got != None {
					t.Errorf("DNSKEYPresent() of an unsigned zone = %v, want none", got)
				}
				return
			}
			var keys []*dns.DNSKEY
			for _, k := range z.Zone.Keys() {
				keys = append(keys, k.DNSKEY)
			}
			if got := snap.DNSKEYPresent(keys...); got != All {
				t.Errorf("DNSKEYPresent(zone keys) = %v, want all", got)
			}
			if ttl, complete := snap.MaxDNSKEYTTL(); ttl != hierarchy.DefaultTTL || !complete {
				t.Errorf("MaxDNSKEYTTL() = %d, %t, want %d, true", ttl, complete, hierarchy.DefaultTTL)
			}
			if ttl, complete := snap.MaxNegativeTTL(); ttl != hierarchy.DefaultNegativeTTL || !complete {
				t.Errorf("MaxNegativeTTL() = %d, %t, want %d, true", ttl, complete, hierarchy.DefaultNegativeTTL)
			}
			if exp, ok := snap.EarliestExpiry(); !ok || !exp.Equal(hierNow.Add(hierarchy.DefaultValidity)) {
				t.Errorf("EarliestExpiry() = %v, %t, want %v, true", exp, ok, hierNow.Add(hierarchy.DefaultValidity))
			}
		})
	}
}

func TestHierarchyParentLags(t *testing.T) {
	h := startHierarchy(t, smallSpec(3, 4))
	zone := h.Zone("example.test.")
	old := zone.Zone.DS(dns.SHA256)
	parent := h.Zone("test.")
	// ns1.test. keeps serving the old parent zone; the others get a new DS
	// beside the old one.
	lagging := parent.Servers[0]
	lagging.Server.SetZone(parent.Zone.Clone())
	next := authzone.MustGenerateKey("example.test.", dns.ECDSAP256SHA256, authzone.KSK)
	newDS := next.DS(dns.SHA256)
	if err := h.PublishDS("example.test.", append(slices.Clone(old), newDS)...); err != nil {
		t.Fatalf("PublishDS: %v", err)
	}
	snap := hierObserve(t, h, "example.test.")

	for _, c := range []struct {
		name      string
		got, want Coverage
	}{
		{"DSServed(old)", snap.DSServed(old), Some},
		{"DSServed(old+new)", snap.DSServed(append(slices.Clone(old), newDS)), Some},
		{"DSPresent(new)", snap.DSPresent(newDS), Some},
		{"DSPresent(old...)", snap.DSPresent(old...), All},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, r := range snap.ParentServers {
		wantRecords := 2
		if r.Addr == lagging.Addr {
			wantRecords = 1
		}
		if r.DS.State != OK || len(r.DS.Records) != wantRecords || len(r.DS.Sigs) == 0 {
			t.Errorf("parent row %s = %v with %d DS and %d RRSIGs, want ok with %d DS, signed", describe(r), r.DS.State, len(r.DS.Records), len(r.DS.Sigs), wantRecords)
		}
	}
}

func TestHierarchyFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults func(h *hierarchy.Hierarchy)
		check  func(t *testing.T, h *hierarchy.Hierarchy, snap *Snapshot)
	}{
		{
			name: "a parent server drops queries: unknown, never none",
			faults: func(h *hierarchy.Hierarchy) {
				h.Zone("test.").Servers[1].Server.SetFaults(authserver.Faults{Drop: true})
			},
			check: func(t *testing.T, h *hierarchy.Hierarchy, snap *Snapshot) {
				other := authzone.MustGenerateKey("example.test.", dns.ECDSAP256SHA256, authzone.KSK).DS(dns.SHA256)
				if got := snap.DSPresent(other); got != CoverageUnknown {
					t.Errorf("DSPresent(a DS nobody serves) = %v, want unknown", got)
				}
				if got := snap.DSServed(h.Zone("example.test.").Zone.DS(dns.SHA256)); got != CoverageUnknown {
					t.Errorf("DSServed(current) = %v, want unknown", got)
				}
				if _, complete := snap.MaxDSTTL(); complete {
					t.Errorf("MaxDSTTL() complete = true, want false")
				}
			},
		},
		{
			name: "a parent server is slower than the timeout",
			faults: func(h *hierarchy.Hierarchy) {
				h.Zone("test.").Servers[0].Server.SetFaults(authserver.Faults{Delay: time.Second})
			},
			check: func(t *testing.T, h *hierarchy.Hierarchy, snap *Snapshot) {
				if diff := cmp.Diff([]string{"ns1.test. unknown(timeout)", "ns2.test. ok", "ns3.test. ok"}, rowStates(snap.ParentServers, pickDS)); diff != "" {
					t.Errorf("DS rows (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "zone servers REFUSED, SERVFAIL, lame",
			faults: func(h *hierarchy.Hierarchy) {
				s := h.Zone("example.test.").Servers
				s[0].Server.SetFaults(authserver.Faults{Refuse: true})
				s[1].Server.SetFaults(authserver.Faults{ServFail: true})
				s[2].Server.SetFaults(authserver.Faults{Lame: true})
			},
			check: func(t *testing.T, h *hierarchy.Hierarchy, snap *Snapshot) {
				want := []string{
					"ns1.example.test. unknown(REFUSED)", "ns2.example.test. unknown(SERVFAIL)",
					"ns3.example.test. unknown(not authoritative)", "ns4.example.test. ok",
				}
				if diff := cmp.Diff(want, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
					t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
				}
				if got := snap.ZoneServersAgree(); got != AgreementUnknown {
					t.Errorf("ZoneServersAgree() = %v, want unknown", got)
				}
				if !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.Contains(p, "ns3.example.test") && strings.Contains(p, "lame") }) {
					t.Errorf("Problems = %q, want ns3.example.test. flagged lame", snap.Problems)
				}
			},
		},
		{
			name: "truncation forces TCP",
			faults: func(h *hierarchy.Hierarchy) {
				for _, s := range h.Zone("example.test.").Servers {
					s.Server.SetFaults(authserver.Faults{Truncate: true})
				}
			},
			check: func(t *testing.T, h *hierarchy.Hierarchy, snap *Snapshot) {
				if got := snap.ZoneServersAgree(); got != Agree {
					t.Errorf("ZoneServersAgree() = %v, want agree over TCP", got)
				}
				for _, r := range snap.ZoneServers {
					if r.DNSKEY.State != OK || len(r.DNSKEY.Sigs) == 0 {
						t.Errorf("zone row %s DNSKEY = %v with %d RRSIGs, want ok and signed", describe(r), r.DNSKEY.State, len(r.DNSKEY.Sigs))
					}
				}
			},
		},
		{
			name: "apex NS set differs from the delegation",
			faults: func(h *hierarchy.Hierarchy) {
				z := h.Zone("example.test.").Zone
				ns := z.RRset("example.test.", dns.TypeNS)
				if err := z.SetRRset("example.test.", dns.TypeNS, ns[:len(ns)-1]...); err != nil {
					panic(err)
				}
				if err := z.Resign(); err != nil {
					panic(err)
				}
			},
			check: func(t *testing.T, h *hierarchy.Hierarchy, snap *Snapshot) {
				if len(snap.ApexNS) != 3 || len(snap.DelegationNS) != 4 {
					t.Errorf("ApexNS, DelegationNS = %v, %v, want 3 and 4 names", snap.ApexNS, snap.DelegationNS)
				}
				if !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.HasPrefix(p, "NS in the delegation but not in the apex NS set") }) {
					t.Errorf("Problems = %q, want the NS mismatch", snap.Problems)
				}
				for _, r := range snap.ZoneServers {
					if r.Name == "ns4.example.test." && (r.Apex || !r.Delegation) {
						t.Errorf("ns4.example.test. apex=%t delegation=%t, want false, true", r.Apex, r.Delegation)
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHierarchy(t, smallSpec(3, 4))
			tc.faults(h)
			snap := hierObserve(t, h, "example.test.")
			tc.check(t, h, snap)
		})
	}
}

func TestHierarchyUnreachableZone(t *testing.T) {
	h := startHierarchy(t, smallSpec(2, 4))
	for _, s := range h.Zone("example.test.").Servers {
		s.Server.SetFaults(authserver.Faults{Drop: true})
	}
	start := time.Now()
	snap := hierObserve(t, h, "example.test.")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Observe took %v, want it bounded by the client timeouts", elapsed)
	}
	for _, c := range []struct {
		name string
		got  fmt.Stringer
		want fmt.Stringer
	}{
		{"ZoneServersAgree()", snap.ZoneServersAgree(), AgreementUnknown},
		{"DNSKEYPresent()", snap.DNSKEYPresent(), CoverageUnknown},
		{"DSPresent()", snap.DSPresent(), All},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestHierarchyOutOfBailiwick(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(hierNow))
	snap := hierObserve(t, h, "oob.test.")
	want := []string{"ns1.oob-hosting.example.test. ok", "ns2.oob-hosting.example.test. ok"}
	if diff := cmp.Diff(want, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
		t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
	}
	for _, r := range snap.ZoneServers {
		if r.Addr.Port() != h.Port() {
			t.Errorf("row %s port = %d, want the hierarchy's %d (Config.Port for looked-up addresses)", describe(r), r.Addr.Port(), h.Port())
		}
	}
}

// The validating resolver of package dnssec can find name server addresses.
var _ AddrResolver = (*dnssec.Resolver)(nil)

func TestHierarchyWithDNSSECResolver(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(hierNow))
	var anchors []dns.RR
	for _, ds := range h.TrustAnchorDS() {
		anchors = append(anchors, ds)
	}
	res, err := dnssec.NewResolver(dnssec.Config{
		Roots: h.RootServers(), Port: h.Port(), Anchors: anchors, Client: testClient(),
		Now: func() time.Time { return hierNow },
	})
	if err != nil {
		t.Fatalf("dnssec.NewResolver: %v", err)
	}
	o, err := New(Config{Roots: h.RootServers(), Port: h.Port(), Client: testClient(), Resolver: res, Now: func() time.Time { return hierNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := o.Observe(ctx, "oob.test.")
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	want := []string{"ns1.oob-hosting.example.test. ok", "ns2.oob-hosting.example.test. ok"}
	if diff := cmp.Diff(want, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
		t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
	}
}
