package rollover

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// observeLoopback queries the DS of origin at every server of its parent and
// its DNSKEY set at every server of its own, as internal/observe does, and
// returns the snapshot, labelled at (the test's virtual time). A timeout,
// an error rcode or an answer without AA is unknown.
func observeLoopback(t *testing.T, hz *hierarchy.Hierarchy, origin string, at time.Time) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &dnsquery.Client{Timeout: 300 * time.Millisecond, Attempts: 1}
	z := hz.Zone(origin)
	snap := Snapshot{At: at}
	for _, ns := range z.Parent.Servers {
		a := DSAnswer{Server: ns.Addr.String()}
		resp, err := c.Exchange(ctx, ns.Addr, origin, dns.TypeDS)
		switch {
		case errors.Is(err, dnsquery.ErrNoAnswer):
			a.Unknown = true
		case err != nil:
			t.Fatalf("DS at %s: %v", ns.Addr, err)
		case resp.Rcode != dns.RcodeSuccess || !resp.Authoritative:
			a.Unknown = true
		default:
			a.Set, a.TTL = DSSetFromRRs(resp.Answer)
		}
		snap.Parent = append(snap.Parent, a)
	}
	for _, ns := range z.Servers {
		a := DNSKEYAnswer{Server: ns.Addr.String()}
		resp, err := c.Exchange(ctx, ns.Addr, origin, dns.TypeDNSKEY)
		switch {
		case errors.Is(err, dnsquery.ErrNoAnswer):
			a.Unknown = true
		case err != nil:
			t.Fatalf("DNSKEY at %s: %v", ns.Addr, err)
		case resp.Rcode != dns.RcodeSuccess || !resp.Authoritative:
			a.Unknown = true
		default:
			a.Set, a.TTL = DNSKEYSetFromRRs(origin, resp.Answer, hz.Now())
			for _, rr := range resp.Ns {
				if soa, ok := rr.(*dns.SOA); ok && a.Set.Unsigned() {
					a.NegativeTTL = min(soa.Hdr.Ttl, soa.Minttl)
				}
			}
		}
		snap.Zone = append(snap.Zone, a)
	}
	return snap
}

// TestRotateOnLoopback rotates the KSK of example.test. on the local
// hierarchy's real servers (one lagging, one not answering for a while),
// observes them with real queries, and checks the gates and the invariant
// on what was observed.
func TestRotateOnLoopback(t *testing.T) {
	hz, err := hierarchy.Start(hierarchy.DefaultSpec(t0))
	if err != nil {
		t.Skipf("cannot start the local hierarchy: %v", err)
	}
	defer hz.Close()
	const origin = "example.test."
	z := hz.Zone(origin)
	h := NewHistory(origin)
	margin := 2 * time.Hour

	var oldK *authzone.Key
	for _, k := range z.Zone.Keys() {
		if k.Role == authzone.KSK {
			oldK = k
		}
	}
	if oldK == nil {
		t.Fatal("example.test. has no KSK")
	}
	newK := authzone.MustGenerateKey(origin, dns.ECDSAP256SHA256, authzone.KSK)
	old, nw := KeyFromRR(oldK.DNSKEY), KeyFromRR(newK.DNSKEY)
	gates := func(at time.Time) Plan {
		t.Helper()
		if err := h.Record(observeLoopback(t, hz, origin, at)); err != nil {
			t.Fatal(err)
		}
		p, err := RotateKSKGates(h, old, nw, margin, at)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyTTL := z.Zone.RRset(origin, dns.TypeDNSKEY)[0].Header().Ttl
	oldDSTTL := z.Parent.Zone.RRset(origin, dns.TypeDS)[0].Header().Ttl
	const dsTTL = 7200 // of the DS sets we publish
	dsRR := func(k *authzone.Key) *dns.DS {
		d := k.DS(dns.SHA256)
		d.Hdr.Ttl = dsTTL
		return d
	}

	p := gates(hours(0))
	checkPlan(t, "start", p, map[Transition]want{AddKSK: {status: "ready", earliest: hours(0)}})

	// add-ksk: both KSKs sign; one server lags, one does not answer.
	lagging := z.Zone.Clone()
	opts := z.Zone.Options()
	opts.Keys = append(opts.Keys, newK)
	if err := z.Zone.Sign(opts); err != nil {
		t.Fatal(err)
	}
	z.Servers[3].Server.SetZone(lagging)
	z.Servers[2].Server.SetFaults(authserver.Faults{Drop: true})
	p = gates(hours(1))
	checkPlan(t, "lagging", p, map[Transition]want{PublishNewDS: {status: "pending", pending: []string{"not every zone server"}}})

	z.Servers[3].Server.SetZone(z.Zone)
	p = gates(hours(2))
	// Server 2 still does not answer: not every server is known to serve it.
	checkPlan(t, "one server silent", p, map[Transition]want{PublishNewDS: {status: "pending"}})
	z.Servers[2].Server.SetFaults(authserver.Faults{})
	p = gates(hours(3))
	checkPlan(t, "propagated", p, map[Transition]want{PublishNewDS: {status: "ready", earliest: hours(3)}})

	// publish-new-ds. The silent server's last answer, at 0h, was the old
	// set, so the old-only DNSKEY set counts as served until it answered
	// again at 3h.
	if err := hz.PublishDS(origin, dsRR(oldK), dsRR(newK)); err != nil {
		t.Fatal(err)
	}
	p = gates(hours(4))
	wantRemove := hours(3).Add(time.Duration(keyTTL)*time.Second + margin)
	checkPlan(t, "both DS", p, map[Transition]want{RemoveOldDS: {status: "waiting", earliest: wantRemove}})
	g, _ := p.Gate(RemoveOldDS)
	if err := h.CheckGate(g, g.Earliest); err != nil {
		t.Errorf("invariant at the remove-old-ds gate: %v", err)
	}
	if err := h.CheckGate(g, g.Earliest.Add(-margin-time.Second)); err == nil {
		t.Errorf("invariant holds one second before the remove-old-ds gate without margin")
	}

	// remove-old-ds at its gate; the DS set with only the old DS was last
	// served at 4h, with the hierarchy's TTL (the DS sets with the new DS
	// have a longer one, but trust the new key).
	if err := hz.PublishDS(origin, dsRR(newK)); err != nil {
		t.Fatal(err)
	}
	p = gates(wantRemove)
	wantDeactivate := hours(4).Add(time.Duration(oldDSTTL)*time.Second + margin)
	checkPlan(t, "old DS removed", p, map[Transition]want{DeactivateOldKSK: {status: "waiting", earliest: wantDeactivate}})

	// deactivate-old-ksk at its gate.
	opts.Keys = []*authzone.Key{newK}
	for _, k := range z.Zone.Keys() {
		if k.Role == authzone.ZSK {
			opts.Keys = append(opts.Keys, k)
		}
	}
	if err := z.Zone.Sign(opts); err != nil {
		t.Fatal(err)
	}
	p = gates(wantDeactivate)
	checkPlan(t, "old KSK gone", p, map[Transition]want{DeleteOldKSK: {status: "ready", earliest: wantDeactivate}})

	// The live chain validates with real records at the end.
	snap := observeLoopback(t, hz, origin, wantDeactivate)
	ds := snap.Parent[0].Set
	keys := snap.Zone[0].Set
	if !trusts(origin, ds, keys) || !keys.has(nw, true) || keys.has(old, false) {
		t.Errorf("final state %s / %s, want the new KSK alone, trusted", ds, keys)
	}
	var anchors []dns.RR
	for _, d := range ds {
		anchors = append(anchors, d.RR(origin))
	}
	var rrs []*dns.DNSKEY
	for _, rr := range z.Zone.RRset(origin, dns.TypeDNSKEY) {
		rrs = append(rrs, rr.(*dns.DNSKEY))
	}
	if _, err := dnssec.VerifyDNSKEYs(origin, anchors, rrs, z.Zone.RRSIGs(origin, dns.TypeDNSKEY), hz.Now()); err != nil {
		t.Errorf("VerifyDNSKEYs on the live zone: %v", err)
	}
}
