package rollover

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// want is the expected outcome of one gate: its status, its earliest time
// (checked only when not pending) and substrings of its pending reasons.
type want struct {
	status   string
	earliest time.Time
	pending  []string
}

func checkPlan(t *testing.T, name string, p Plan, wants map[Transition]want) {
	t.Helper()
	for tr, w := range wants {
		g, ok := p.Gate(tr)
		if !ok {
			t.Errorf("%s: no gate %s in %v", name, tr, p)
			continue
		}
		if g.Status() != w.status {
			t.Errorf("%s: %s status = %s, want %s\n%v", name, tr, g.Status(), w.status, g)
		}
		if w.status != "pending" && !g.Earliest.Equal(w.earliest) {
			t.Errorf("%s: %s earliest = %s, want %s\n%v", name, tr, stamp(g.Earliest), stamp(w.earliest), g)
		}
		for _, sub := range w.pending {
			if !strings.Contains(strings.Join(g.Pending, "; "), sub) {
				t.Errorf("%s: %s pending = %q, want it to mention %q", name, tr, g.Pending, sub)
			}
		}
		if w.status != "pending" && len(g.Pending) > 0 {
			t.Errorf("%s: %s pending = %q, want none", name, tr, g.Pending)
		}
	}
}

func TestRotateKSKGates(t *testing.T) {
	oldK, newK := ksk(t), ksk(t)
	zsk, _, _ := newKey(t, 256)
	oldDS, newDS := dsOf(t, oldK), dsOf(t, newK)
	oldSet := NewDNSKEYSet([]Key{zsk}, oldK)
	bothSet := NewDNSKEYSet([]Key{zsk}, oldK, newK)
	newSet := NewDNSKEYSet([]Key{zsk}, newK)

	s := newScene(t) // DS TTL 1 day, DNSKEY TTL 1 hour
	margin := time.Hour
	steps := []struct {
		name  string
		at    time.Time
		serve serving
		wants map[Transition]want
	}{{
		name: "before", at: hours(0), serve: all(NewDSSet(oldDS), oldSet),
		wants: map[Transition]want{
			AddKSK:           {status: "ready", earliest: hours(0)},
			PublishNewDS:     {status: "pending", pending: []string{"not every zone server serves the DNSKEY set signed by"}},
			RemoveOldDS:      {status: "pending", pending: []string{"not every parent server serves the DS"}},
			DeactivateOldKSK: {status: "pending", pending: []string{"KeySigningKeyInParentDSRecord"}},
		},
	}, {
		name: "new key on one zone server", at: hours(1),
		serve: serving{ds: &DSSet{oldDS}, keysBy: map[int]DNSKEYSet{0: bothSet, 1: oldSet}},
		wants: map[Transition]want{
			PublishNewDS: {status: "pending", pending: []string{"not every zone server"}},
		},
	}, {
		// Every zone server serves both keys: the old-only DNSKEY set was last
		// served at 2h.
		name: "new key everywhere", at: hours(2), serve: all(NewDSSet(oldDS), bothSet),
		wants: map[Transition]want{
			PublishNewDS: {status: "ready", earliest: hours(2)},
			RemoveOldDS:  {status: "pending", pending: []string{"not every parent server serves the DS"}},
		},
	}, {
		// The parent serves both DS records from 3h: the old-only DS set was
		// last served at 3h.
		name: "both DS", at: hours(3), serve: all(NewDSSet(oldDS, newDS), bothSet),
		wants: map[Transition]want{
			// 2h + DNSKEY TTL 1h + margin 1h.
			RemoveOldDS:      {status: "waiting", earliest: hours(4)},
			DeactivateOldKSK: {status: "pending", pending: []string{"still serves the DS of"}},
		},
	}, {
		name: "remove gate reached", at: hours(4), serve: all(NewDSSet(oldDS, newDS), bothSet),
		wants: map[Transition]want{
			RemoveOldDS: {status: "ready", earliest: hours(4)},
		},
	}, {
		// Old DS removed, on one parent server first.
		name: "old DS on one parent server", at: hours(5),
		serve: serving{dsBy: map[int]DSSet{0: NewDSSet(newDS), 1: NewDSSet(oldDS, newDS)}, keys: &bothSet},
		wants: map[Transition]want{
			DeactivateOldKSK: {status: "pending", pending: []string{"still serves the DS of"}},
		},
	}, {
		// 3h (old-only DS set last served) + DS TTL 24h + margin 1h = 28h.
		name: "old DS gone", at: hours(6), serve: all(NewDSSet(newDS), bothSet),
		wants: map[Transition]want{
			DeactivateOldKSK: {status: "waiting", earliest: hours(28)},
			DeleteOldKSK:     {status: "pending", pending: []string{"without"}},
		},
	}, {
		name: "old key deactivated", at: hours(29), serve: all(NewDSSet(newDS), newSet),
		wants: map[Transition]want{
			DeactivateOldKSK: {status: "ready", earliest: hours(28)},
			DeleteOldKSK:     {status: "ready", earliest: hours(28)},
			// The old-only DS set still bounds any DNSKEY set without the old key.
			AddKSK: {status: "ready", earliest: hours(28)},
		},
	}}
	for _, st := range steps {
		s.record(st.at, st.serve)
		p, err := RotateKSKGates(s.h, oldK, newK, margin, st.at)
		if err != nil {
			t.Fatalf("%s: RotateKSKGates: %v", st.name, err)
		}
		checkPlan(t, st.name, p, st.wants)
	}
}

func TestRotateKSKGatesTTLChange(t *testing.T) {
	// The DNSKEY TTL was 2 days before the rotation and is 1 hour now: the
	// largest TTL seen wins.
	oldK, newK := ksk(t), ksk(t)
	oldDS, newDS := dsOf(t, oldK), dsOf(t, newK)
	s := newScene(t)
	s.keyTTL = 172800
	s.record(hours(0), all(NewDSSet(oldDS), signed(oldK)))
	s.keyTTL = 3600
	s.record(hours(1), all(NewDSSet(oldDS, newDS), signed(oldK, newK)))
	p, err := RotateKSKGates(s.h, oldK, newK, 0, hours(1))
	if err != nil {
		t.Fatal(err)
	}
	// Old-only DNSKEY set last served at 1h, + 48h.
	checkPlan(t, "ttl change", p, map[Transition]want{RemoveOldDS: {status: "waiting", earliest: hours(49)}})
}

func TestEnableSigningGates(t *testing.T) {
	k := ksk(t)
	zsk, _, _ := newKey(t, 256)
	ds := dsOf(t, k)
	on := NewDNSKEYSet([]Key{zsk}, k)
	s := newScene(t)
	s.h.ObserveZoneTTL(172800) // the zone's largest record TTL: 2 days
	s.negTTL = 900
	margin := time.Hour
	steps := []struct {
		name  string
		at    time.Time
		serve serving
		wants map[Transition]want
	}{{
		name: "unsigned", at: hours(0), serve: all(nil, DNSKEYSet{}),
		wants: map[Transition]want{
			EnableSigning: {status: "ready", earliest: hours(0)},
			PublishDS:     {status: "pending", pending: []string{"not every zone server serves a DNSKEY set signed by", "unsigned zone is still served"}},
			ConfirmDS:     {status: "pending", pending: []string{"not every parent server serves the DS"}},
		},
	}, {
		name: "signed on one server", at: hours(0.5), serve: serving{ds: &DSSet{}, keysBy: map[int]DNSKEYSet{0: on, 1: {}}},
		wants: map[Transition]want{
			PublishDS: {status: "pending", pending: []string{"unsigned zone is still served"}},
		},
	}, {
		// Unsigned zone last served at 1h: + max(zone TTL 2d, negative 900s) + 1h.
		name: "signed everywhere", at: hours(1), serve: all(nil, on),
		wants: map[Transition]want{
			PublishDS: {status: "waiting", earliest: hours(50)},
			ConfirmDS: {status: "pending", pending: []string{"not every parent server serves the DS"}},
		},
	}, {
		name: "DS published", at: hours(51), serve: all(NewDSSet(ds), on),
		wants: map[Transition]want{
			PublishDS: {status: "ready", earliest: hours(50)},
			ConfirmDS: {status: "ready", earliest: hours(50)},
		},
	}}
	for _, st := range steps {
		s.record(st.at, st.serve)
		p, err := EnableSigningGates(s.h, k, margin, st.at)
		if err != nil {
			t.Fatalf("%s: EnableSigningGates: %v", st.name, err)
		}
		checkPlan(t, st.name, p, st.wants)
	}
}

func TestEnableSigningGatesNeedsZoneTTL(t *testing.T) {
	k := ksk(t)
	s := newScene(t)
	s.record(hours(0), all(nil, DNSKEYSet{}))
	s.record(hours(1), all(nil, signed(k)))
	p, err := EnableSigningGates(s.h, k, 0, hours(1))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, "no zone TTL", p, map[Transition]want{PublishDS: {status: "pending", pending: []string{"largest TTL is not known"}}})
}

func TestDisableSigningGates(t *testing.T) {
	k := ksk(t)
	ds := dsOf(t, k)
	s := newScene(t)
	margin := time.Hour
	steps := []struct {
		name  string
		at    time.Time
		serve serving
		wants map[Transition]want
	}{{
		name: "signed", at: hours(0), serve: all(NewDSSet(ds), signed(k)),
		wants: map[Transition]want{
			WithdrawDS:     {status: "ready", earliest: hours(0)},
			DisableSigning: {status: "pending", pending: []string{"a parent server still serves DS"}},
			DeleteKSKs:     {status: "pending", pending: []string{"unsigned zone"}},
		},
	}, {
		name: "DS on one parent server", at: hours(1), serve: serving{dsBy: map[int]DSSet{0: nil, 1: NewDSSet(ds)}, keys: ptr(signed(k))},
		wants: map[Transition]want{
			DisableSigning: {status: "pending", pending: []string{"still serves"}},
		},
	}, {
		// DS last served at 2h + DS TTL 24h + margin 1h.
		name: "DS gone", at: hours(2), serve: all(nil, signed(k)),
		wants: map[Transition]want{
			DisableSigning: {status: "waiting", earliest: hours(27)},
		},
	}, {
		name: "gate reached", at: hours(27), serve: all(nil, signed(k)),
		wants: map[Transition]want{
			DisableSigning: {status: "ready", earliest: hours(27)},
			DeleteKSKs:     {status: "pending", pending: []string{"unsigned zone"}},
		},
	}, {
		name: "unsigned", at: hours(28), serve: all(nil, DNSKEYSet{}),
		wants: map[Transition]want{
			DeleteKSKs: {status: "ready", earliest: hours(27)},
		},
	}}
	for _, st := range steps {
		s.record(st.at, st.serve)
		p, err := DisableSigningGates(s.h, margin, st.at)
		if err != nil {
			t.Fatalf("%s: DisableSigningGates: %v", st.name, err)
		}
		checkPlan(t, st.name, p, st.wants)
	}
}

func ptr[T any](v T) *T { return &v }

func TestDisableSigningGatesServerDidNotAnswer(t *testing.T) {
	// A parent server that times out is taken to serve what it served last:
	// the DS is not gone until it answers without it.
	k := ksk(t)
	ds := dsOf(t, k)
	s := newScene(t)
	s.record(hours(0), all(NewDSSet(ds), signed(k)))
	s.record(hours(1), serving{ds: &DSSet{}, keys: ptr(signed(k)), unknown: map[string]bool{s.parent[1]: true}})
	p, err := DisableSigningGates(s.h, 0, hours(1))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, "unknown", p, map[Transition]want{DisableSigning: {status: "pending", pending: []string{"still serves"}}})
	s.record(hours(2), all(nil, signed(k)))
	p, err = DisableSigningGates(s.h, 0, hours(2))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, "answered", p, map[Transition]want{DisableSigning: {status: "waiting", earliest: hours(26)}})
}

func TestGatesErrors(t *testing.T) {
	k := ksk(t)
	zsk, _, _ := newKey(t, 256)
	h := NewHistory(zone)
	tests := []struct {
		name string
		err  error
	}{
		{"nil history", func() error { _, err := RotateKSKGates(nil, k, ksk(t), 0, t0); return err }()},
		{"negative margin", func() error { _, err := DisableSigningGates(h, -time.Second, t0); return err }()},
		{"same key", func() error { _, err := RotateKSKGates(h, k, k, 0, t0); return err }()},
		{"ZSK as KSK", func() error { _, err := EnableSigningGates(h, zsk, 0, t0); return err }()},
		{"no public key", func() error { _, err := EnableSigningGates(h, Key{Flags: 257, Algorithm: 13}, 0, t0); return err }()},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), "rollover: ") {
			t.Errorf("%s: err = %v, want a rollover error", tt.name, tt.err)
		}
	}
}

func TestPlanPrintable(t *testing.T) {
	k := ksk(t)
	ds := dsOf(t, k)
	s := newScene(t)
	s.record(hours(0), all(NewDSSet(ds), signed(k)))
	s.record(hours(10), all(nil, signed(k)))
	p, err := DisableSigningGates(s.h, DefaultSafetyMargin, hours(10))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := p.Gate(DisableSigning)
	wantTerm := "DS {" + ds.String() + "} last served by a parent server 2026-11-27T10:00:00Z + DS TTL 86400s + margin 3600s = 2026-11-28T11:00:00Z"
	if len(g.Terms) != 1 || g.Terms[0].String() != wantTerm {
		t.Errorf("terms = %v, want [%s]", g.Terms, wantTerm)
	}
	out := p.String()
	for _, sub := range []string{"disable-signing example.test. at 2026-11-27T10:00:00Z (safety margin 3600s)", "withdraw-ds", "waiting at 2026-11-28T11:00:00Z", wantTerm, "delete-ksks", "pending: not every zone server serves the unsigned zone yet"} {
		if !strings.Contains(out, sub) {
			t.Errorf("Plan.String() = %s\nwant it to contain %q", out, sub)
		}
	}

	// JSON round trip keeps everything.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(b), `"earliest":"2026-11-28T11:00:00Z"`) {
		t.Errorf("JSON = %s, want an RFC 3339 earliest time", b)
	}
}

func TestGateMovesWhenAServerRollsBack(t *testing.T) {
	// The old-only DNSKEY set disappears at 2h, then a zone server rolls
	// back and serves it again at 3h, until 4h: its "last served" is 4h.
	oldK, newK := ksk(t), ksk(t)
	oldDS, newDS := dsOf(t, oldK), dsOf(t, newK)
	oldSet, bothSet := signed(oldK), signed(oldK, newK)
	ds := NewDSSet(oldDS, newDS)
	s := newScene(t)
	s.record(hours(0), all(NewDSSet(oldDS), oldSet))
	s.record(hours(2), all(ds, bothSet))
	gate := func(now time.Time) Gate {
		p, err := RotateKSKGates(s.h, oldK, newK, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := p.Gate(RemoveOldDS)
		return g
	}
	if g := gate(hours(2)); !g.Earliest.Equal(hours(3)) {
		t.Fatalf("before the rollback: %v, want 03:00", g)
	}
	s.record(hours(3), serving{ds: &ds, keysBy: map[int]DNSKEYSet{0: bothSet, 1: oldSet}})
	if g := gate(hours(3)); g.Determined() || !strings.Contains(strings.Join(g.Pending, " "), "still served") {
		t.Errorf("during the rollback: %v, want pending while the old set is served", g)
	}
	s.record(hours(4), all(ds, bothSet))
	if g := gate(hours(4)); !g.Earliest.Equal(hours(5)) || !g.Determined() {
		t.Errorf("after the rollback: %v, want 05:00", g)
	}
}

func TestGateToRollback(t *testing.T) {
	// A rotation fails after the new DS was published: withdraw the new DS,
	// then retire the new KSK. Neither needs a cache wait, since the old
	// KSK signs throughout and every DS set holds the old DS; retiring the
	// new KSK while a DS set holding only the new DS may be cached would.
	oldK, newK := ksk(t), ksk(t)
	oldDS, newDS := dsOf(t, oldK), dsOf(t, newK)
	s := newScene(t)
	s.record(hours(0), all(NewDSSet(oldDS), signed(oldK)))
	s.record(hours(1), all(NewDSSet(oldDS), signed(oldK, newK)))
	s.record(hours(2), all(NewDSSet(oldDS, newDS), signed(oldK, newK)))
	withdraw, err := GateTo(s.h, "withdraw-new-ds", "withdraw the new DS", Published{DS: NewDSSet(oldDS), DNSKEY: signed(oldK, newK)}, time.Hour, hours(2))
	if err != nil {
		t.Fatal(err)
	}
	if !withdraw.Ready || len(withdraw.Terms) != 0 {
		t.Errorf("withdraw-new-ds = %v, want ready without terms", withdraw)
	}
	s.record(hours(3), all(NewDSSet(oldDS), signed(oldK, newK)))
	retire, err := GateTo(s.h, "retire-new-ksk", "deactivate the new KSK", Published{DS: NewDSSet(oldDS), DNSKEY: signed(oldK)}, time.Hour, hours(3))
	if err != nil {
		t.Fatal(err)
	}
	if !retire.Ready || len(retire.Terms) != 0 {
		t.Errorf("retire-new-ksk = %v, want ready without terms", retire)
	}
	if err := s.h.CheckGate(retire, hours(3)); err != nil {
		t.Errorf("invariant: %v", err)
	}

	// Had the new DS replaced the old one, retiring the new KSK must wait.
	s2 := newScene(t)
	s2.record(hours(0), all(NewDSSet(oldDS), signed(oldK, newK)))
	s2.record(hours(1), all(NewDSSet(newDS), signed(oldK, newK)))
	s2.record(hours(2), all(NewDSSet(oldDS), signed(oldK, newK)))
	retire, err = GateTo(s2.h, "retire-new-ksk", "deactivate the new KSK", Published{DS: NewDSSet(oldDS), DNSKEY: signed(oldK)}, time.Hour, hours(2))
	if err != nil {
		t.Fatal(err)
	}
	// DS {new} last served 2h + DS TTL 1 day + margin 1h.
	if want := hours(27); retire.Ready || !retire.Earliest.Equal(want) {
		t.Errorf("retire-new-ksk = %v, want waiting until %s", retire, stamp(want))
	}
	if err := s2.h.CheckGate(retire, hours(2)); err == nil {
		t.Errorf("invariant holds at 2h, want the cached DS {new} to fail with the old key alone")
	}
}
