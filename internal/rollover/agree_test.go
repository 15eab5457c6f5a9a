package rollover

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The randomised test plays the whole life cycle (enable-signing,
// rotate-ksk, disable-signing) against simulated parent and zone servers
// with random TTLs (changed now and then), random per-server publication
// delays, random observation intervals, servers that sometimes do not
// answer, and random margins. At every transition it checks that
//   - at the gate's earliest time the invariant holds on the observed
//     history (formulas and invariant agree: the gate is late enough);
//   - just before it (Earliest - margin - 1s) the invariant fails, for the
//     combination of the binding term (the gate is not later than needed);
//   - at the time the transition is made, the invariant holds on the true
//     serving intervals and true TTLs of the simulation, not only on what was
//     observed (the observations are conservative).

// version is one state published on one side, and when each server picked
// it up.
type version struct {
	at   time.Time
	ds   DSSet
	keys DNSKEYSet
	ttl  uint32 // the TTL its records carry (for the unsigned zone: max(zone TTL, negative TTL))
	lags []time.Duration
}

type side struct {
	servers  []string
	versions []version
}

// serving returns the index of the version server j serves at t: the latest
// one it has picked up.
func (s *side) serving(j int, t time.Time) int {
	best := 0
	for i, v := range s.versions {
		if !t.Before(v.at.Add(v.lags[j])) {
			best = i
		}
	}
	return best
}

// truth returns the versions a cache may hold at t according to the real
// serving intervals: server j serves version i during [pickup(i, j),
// min over later k of pickup(k, j)), and a copy fetched at the end of that
// interval lasts the version's TTL.
func (s *side) truth(t time.Time) []int {
	var out []int
	for i, v := range s.versions {
		cached := false
		for j := range s.servers {
			start, end := v.at.Add(v.lags[j]), time.Time{}
			for _, later := range s.versions[i+1:] {
				if p := later.at.Add(later.lags[j]); end.IsZero() || p.Before(end) {
					end = p
				}
			}
			switch {
			case t.Before(start):
			case end.IsZero() || t.Before(end):
				cached = true // served now
			case start.Before(end) && t.Before(end.Add(time.Duration(v.ttl)*time.Second)):
				cached = true
			}
		}
		if cached {
			out = append(out, i)
		}
	}
	return out
}

type sim struct {
	t       *testing.T
	rng     *rand.Rand
	now     time.Time
	h       *History
	parent  side
	zone    side
	dsTTL   uint32
	keyTTL  uint32
	zoneTTL uint32
	negTTL  uint32
	maxLag  time.Duration
	maxStep time.Duration
	unknown float64 // chance a server does not answer in a round
	checker *checker
	// Coverage, per transition: gates checked one second before, and
	// gates determined before they were reached.
	before, future map[Transition]int
}

func randTTL(rng *rand.Rand) uint32 {
	ttls := []uint32{60, 300, 900, 3600, 7200, 86400, 172800}
	if rng.IntN(3) == 0 {
		return 60 + rng.Uint32N(172800)
	}
	return ttls[rng.IntN(len(ttls))]
}

func newSim(t *testing.T, rng *rand.Rand) *sim {
	s := &sim{
		t: t, rng: rng, now: t0, h: NewHistory(zone),
		dsTTL: randTTL(rng), keyTTL: randTTL(rng), zoneTTL: randTTL(rng), negTTL: randTTL(rng),
		maxLag:  time.Duration(rng.IntN(3600)) * time.Second,
		maxStep: time.Duration(30+rng.IntN(1800)) * time.Second,
		unknown: []float64{0, 0.05, 0.2}[rng.IntN(3)],
		checker: newChecker(),
		before:  map[Transition]int{}, future: map[Transition]int{},
	}
	for i := range 1 + rng.IntN(4) {
		s.parent.servers = append(s.parent.servers, fmt.Sprintf("192.0.2.%d:53", i+1))
	}
	for i := range 1 + rng.IntN(4) {
		s.zone.servers = append(s.zone.servers, fmt.Sprintf("198.51.100.%d:53", i+1))
	}
	long := t0.Add(-365 * 24 * time.Hour) // served since long before
	s.parent.versions = []version{{at: long, ds: nil, ttl: s.dsTTL, lags: make([]time.Duration, len(s.parent.servers))}}
	s.zone.versions = []version{{at: long, keys: DNSKEYSet{}, ttl: max(s.zoneTTL, s.negTTL), lags: make([]time.Duration, len(s.zone.servers))}}
	s.h.ObserveZoneTTL(s.zoneTTL)
	return s
}

func (s *sim) lags(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		if s.maxLag > 0 {
			out[i] = time.Duration(s.rng.Int64N(int64(s.maxLag)))
		}
	}
	return out
}

func (s *sim) maybeChangeTTLs() {
	if s.rng.IntN(4) == 0 {
		s.dsTTL = randTTL(s.rng)
	}
	if s.rng.IntN(4) == 0 {
		s.keyTTL = randTTL(s.rng)
	}
}

func (s *sim) publishDS(ds DSSet) {
	s.maybeChangeTTLs()
	s.parent.versions = append(s.parent.versions, version{at: s.now, ds: ds, ttl: s.dsTTL, lags: s.lags(len(s.parent.servers))})
}

func (s *sim) publishKeys(keys DNSKEYSet) {
	s.maybeChangeTTLs()
	ttl := s.keyTTL
	if keys.Unsigned() {
		ttl = max(s.zoneTTL, s.negTTL)
	}
	s.zone.versions = append(s.zone.versions, version{at: s.now, keys: keys, ttl: ttl, lags: s.lags(len(s.zone.servers))})
}

// observe queries every server at s.now and records the answers.
func (s *sim) observe() {
	snap := Snapshot{At: s.now}
	for j, srv := range s.parent.servers {
		v := s.parent.versions[s.parent.serving(j, s.now)]
		snap.Parent = append(snap.Parent, DSAnswer{Server: srv, Unknown: s.rng.Float64() < s.unknown, Set: v.ds, TTL: v.ttl})
	}
	for j, srv := range s.zone.servers {
		v := s.zone.versions[s.zone.serving(j, s.now)]
		a := DNSKEYAnswer{Server: srv, Unknown: s.rng.Float64() < s.unknown, Set: v.keys, TTL: v.ttl}
		if v.keys.Unsigned() {
			a.TTL, a.NegativeTTL = 0, s.negTTL
		}
		snap.Zone = append(snap.Zone, a)
	}
	if err := s.h.Record(snap); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sim) step() {
	s.now = s.now.Add(time.Second + time.Duration(s.rng.Int64N(int64(s.maxStep))))
	s.observe()
}

// settled reports whether every server has picked up every version.
func (s *sim) settled() bool {
	for _, sd := range []*side{&s.parent, &s.zone} {
		last := sd.versions[len(sd.versions)-1]
		for j := range sd.servers {
			if s.now.Before(last.at.Add(last.lags[j])) {
				return false
			}
		}
	}
	return true
}

// trueState is what caches may really hold at t if after is published at t.
func (s *sim) trueState(after Published, t time.Time) CacheState {
	c := CacheState{Zone: zone, At: t}
	for _, i := range s.parent.truth(t) {
		c.DS = append(c.DS, s.parent.versions[i].ds)
	}
	for _, i := range s.zone.truth(t) {
		c.DNSKEY = append(c.DNSKEY, s.zone.versions[i].keys)
	}
	c.DS = append(c.DS, after.DS)
	c.DNSKEY = append(c.DNSKEY, after.DNSKEY)
	return c
}

func (s *sim) setOf(term Term) (DSSet, DNSKEYSet, bool) {
	for _, d := range s.h.DS {
		if term.Kind == "ds" && d.Set.ID() == term.SetID {
			return d.Set, DNSKEYSet{}, true
		}
	}
	for _, k := range s.h.DNSKEY {
		if term.Kind == "dnskey" && k.Set.ID() == term.SetID {
			return nil, k.Set, true
		}
	}
	return nil, DNSKEYSet{}, false
}

// transition waits for the gate of tr to be determined, checks it, waits for
// it, and makes the transition with apply.
func (s *sim) transition(tr Transition, plan func(now time.Time) (Plan, error), margin time.Duration, apply func()) {
	s.t.Helper()
	var g Gate
	for range 100000 {
		p, err := plan(s.now)
		if err != nil {
			s.t.Fatalf("%s: %v", tr, err)
		}
		var ok bool
		if g, ok = p.Gate(tr); !ok {
			s.t.Fatalf("no gate %s", tr)
		}
		if g.Determined() {
			break
		}
		s.step()
	}
	if !g.Determined() {
		s.t.Fatalf("%s: never determined: %v", tr, g.Pending)
	}

	// Formulas and invariant agree: safe at the gate...
	if err := s.checker.check(s.h.CacheAt(g.After, g.Earliest)); err != nil {
		b, _ := json.MarshalIndent(s.h, "", " ")
		s.t.Fatalf("%s: invariant fails at the gate:\n%v\n%v\n%s", tr, g, err, b)
	}
	if g.Earliest.After(s.now) {
		s.future[tr]++
	}
	// ...and unsafe one second before the margin, for the binding term.
	if len(g.Terms) > 0 {
		s.before[tr]++
		before := g.Earliest.Add(-margin - time.Second)
		err := s.checker.check(s.h.CacheAt(g.After, before))
		var unsafe *UnsafeError
		if !errors.As(err, &unsafe) {
			s.t.Fatalf("%s: invariant holds at %s, 1s before the gate without margin:\n%v", tr, stamp(before), g)
		}
		ds, keys, ok := s.setOf(g.Terms[0])
		if !ok {
			s.t.Fatalf("%s: binding term names no observed set: %v", tr, g.Terms[0])
		}
		if g.Terms[0].Kind == "ds" {
			keys = g.After.DNSKEY
		} else {
			ds = g.After.DS
		}
		if !unsafe.Fails(ds, keys) {
			s.t.Fatalf("%s: at %s the binding combination %s / %s does not fail: %v", tr, stamp(before), ds, keys, err)
		}
	}

	// Wait for the gate (sometimes longer), then act.
	until := g.Earliest
	if s.rng.IntN(3) == 0 {
		until = until.Add(time.Duration(s.rng.IntN(7200)) * time.Second)
	}
	for s.now.Before(until) {
		if s.settled() {
			// Nothing changes any more: observe once at the gate.
			s.now = until
			s.observe()
			break
		}
		s.step()
	}
	// A server that does not answer can make a precondition pending again
	// for a while; the gate itself must not move.
	for i := 0; ; i++ {
		p, err := plan(s.now)
		if err != nil {
			s.t.Fatal(err)
		}
		g2, _ := p.Gate(tr)
		if g2.Ready {
			if len(g.Terms) > 0 && !g2.Earliest.Equal(g.Earliest) {
				s.t.Fatalf("%s: gate moved from %s to %s without any change", tr, stamp(g.Earliest), stamp(g2.Earliest))
			}
			break
		}
		if i > 1000 {
			s.t.Fatalf("%s: gate not ready at %s after waiting for it:\n%v", tr, stamp(s.now), g2)
		}
		s.step()
	}
	before := len(s.parent.versions) + len(s.zone.versions)
	apply()
	if len(s.parent.versions)+len(s.zone.versions) > before {
		last := Published{DS: s.parent.versions[len(s.parent.versions)-1].ds, DNSKEY: s.zone.versions[len(s.zone.versions)-1].keys}
		if err := s.checker.check(s.trueState(last, s.now)); err != nil {
			b, _ := json.MarshalIndent(s.h.DNSKEY, "", " ")
			s.t.Logf("zone versions: %+v\nzoneTTL %d negTTL %d\nhistory %s\ngate %v", s.zone.versions, s.zoneTTL, s.negTTL, b, g)
			s.t.Fatalf("%s at %s: unsafe against the true serving times: %v", tr, stamp(s.now), err)
		}
	}
	s.step()
}

func TestGatesAgreeWithInvariant(t *testing.T) {
	iterations := 2000
	if raceEnabled {
		iterations = 400
	}
	if testing.Short() {
		iterations = 200
	}
	rng := rand.New(rand.NewPCG(7583, 6781))
	// A small pool of real keys, reused across iterations (key generation
	// is not what is tested).
	var pool []Key
	for range 6 {
		pool = append(pool, ksk(t))
	}
	zsk, _, _ := newKey(t, 256)
	before, future := map[Transition]int{}, map[Transition]int{}
	for it := range iterations {
		s := newSim(t, rng)
		margin := time.Duration(0)
		if rng.IntN(2) == 0 {
			margin = time.Duration(1+rng.IntN(7200)) * time.Second
		}
		perm := rng.Perm(len(pool))
		k1, k2 := pool[perm[0]], pool[perm[1]]
		ds1, ds2 := dsOf(t, k1), dsOf(t, k2)
		enable := func(now time.Time) (Plan, error) { return EnableSigningGates(s.h, k1, margin, now) }
		rotate := func(now time.Time) (Plan, error) { return RotateKSKGates(s.h, k1, k2, margin, now) }
		disable := func(now time.Time) (Plan, error) { return DisableSigningGates(s.h, margin, now) }
		s.observe()
		s.transition(EnableSigning, enable, margin, func() { s.publishKeys(NewDNSKEYSet([]Key{zsk}, k1)) })
		s.transition(PublishDS, enable, margin, func() { s.publishDS(NewDSSet(ds1)) })
		s.transition(ConfirmDS, enable, margin, func() {})
		s.transition(AddKSK, rotate, margin, func() { s.publishKeys(NewDNSKEYSet([]Key{zsk}, k1, k2)) })
		s.transition(PublishNewDS, rotate, margin, func() { s.publishDS(NewDSSet(ds1, ds2)) })
		s.transition(RemoveOldDS, rotate, margin, func() { s.publishDS(NewDSSet(ds2)) })
		s.transition(DeactivateOldKSK, rotate, margin, func() { s.publishKeys(NewDNSKEYSet([]Key{zsk}, k2)) })
		s.transition(DeleteOldKSK, rotate, margin, func() {})
		s.transition(WithdrawDS, disable, margin, func() { s.publishDS(nil) })
		s.transition(DisableSigning, disable, margin, func() { s.publishKeys(DNSKEYSet{}) })
		s.transition(DeleteKSKs, disable, margin, func() {})
		if t.Failed() {
			t.Fatalf("iteration %d failed", it)
		}
		for tr, n := range s.before {
			before[tr] += n
		}
		for tr, n := range s.future {
			future[tr] += n
		}
	}
	// The cache-driven gates must have been exercised both ways often.
	for _, tr := range []Transition{PublishDS, RemoveOldDS, DeactivateOldKSK, DisableSigning} {
		if before[tr] < iterations/2 || future[tr] < iterations/10 {
			t.Errorf("%s: checked before the gate %d times, determined ahead of it %d times, in %d iterations", tr, before[tr], future[tr], iterations)
		}
	}
	t.Logf("checked one second before the gate: %v; determined ahead of the gate: %v", before, future)
}
