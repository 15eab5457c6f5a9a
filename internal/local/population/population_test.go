package population

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// start is the virtual clock's start and the hierarchy's first signing time.
var start = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

const (
	zone = "rot.test."
	// dsTTL is the TTL of rot.test.'s DS in test.: an hour, as TLDs keep DS
	// longer than the zones keep their DNSKEY RRset.
	dsTTL = 3600
	// zoneTTL is rot.test.'s TTL, of its DNSKEY RRset among others.
	zoneTTL = 300
	// maxTTL is the longest TTL a cache may hold rot.test.'s DS or DNSKEY
	// for, plus a margin: the wait of a correct rotation.
	maxTTL = dsTTL*time.Second + 5*time.Minute
)

// targets are the names the population queries.
var targets = []Target{
	{Name: "www.rot.test.", Type: dns.TypeA, Want: dnssec.Secure},
	{Name: "nope.rot.test.", Type: dns.TypeA, Want: dnssec.Secure},
	{Name: "www.insecure.test.", Type: dns.TypeA, Want: dnssec.Insecure},
}

// world is a hierarchy, a virtual clock and a population of resolvers.
type world struct {
	h   *hierarchy.Hierarchy
	clk *clock.Virtual
	p   *Population
}

// newWorld starts the hierarchy
//
//	. and test. (TTL 1 h)  rot.test. (signed, KSK + ZSK, TTL 5 min, DS TTL 1 h)
//	insecure.test. (unsigned)
//
// and a population of resolvers querying it.
func newWorld(t *testing.T, resolvers int, mean time.Duration) *world {
	t.Helper()
	h, err := hierarchy.Start(hierarchy.Spec{
		Now: start,
		Zones: []hierarchy.ZoneSpec{
			{Origin: ".", TTL: 3600},
			{Origin: "test.", TTL: 3600},
			{Origin: zone, TTL: zoneTTL, Records: "www A 192.0.2.1\n"},
			{Origin: "insecure.test.", Unsigned: true, Records: "www A 192.0.2.30\n"},
		},
	})
	if err != nil {
		t.Fatalf("hierarchy.Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	w := &world{h: h, clk: clock.NewVirtual(start)}
	w.publishDS(t, w.key(t, authzone.KSK))
	p, err := New(Config{
		Resolvers:      resolvers,
		Names:          targets,
		MeanInterval:   mean,
		Clock:          w.clk,
		Seed:           1,
		Stagger:        maxTTL,
		ResolverConfig: w.resolverConfig(),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w.p = p
	return w
}

func (w *world) resolverConfig() dnssec.Config {
	var anchors []dns.RR
	for _, ds := range w.h.TrustAnchorDS() {
		anchors = append(anchors, ds)
	}
	return dnssec.Config{
		Roots:   w.h.RootServers(),
		Anchors: anchors,
		Client:  &dnsquery.Client{Timeout: 500 * time.Millisecond, Attempts: 2},
	}
}

// key returns rot.test.'s current key with role r.
func (w *world) key(t *testing.T, r authzone.Role) *authzone.Key {
	t.Helper()
	for _, k := range w.h.Zone(zone).Spec.Keys {
		if k.Role == r {
			return k
		}
	}
	t.Fatalf("%s has no %s", zone, r)
	return nil
}

// publishDS publishes the DS of keys for rot.test. in test., with dsTTL.
func (w *world) publishDS(t *testing.T, keys ...*authzone.Key) {
	t.Helper()
	var ds []*dns.DS
	for _, k := range keys {
		d := k.DS(dns.SHA256)
		d.Hdr.Ttl = dsTTL
		ds = append(ds, d)
	}
	w.h.SetNow(w.clk.Now())
	if err := w.h.PublishDS(zone, ds...); err != nil {
		t.Fatalf("PublishDS: %v", err)
	}
}

// swapKSK replaces rot.test.'s KSK by ksk in its DNSKEY RRset (the old one
// retired) and re-signs it; then the parent publishes the DS of keep.
func (w *world) swapKSK(t *testing.T, ksk *authzone.Key, keep ...*authzone.Key) {
	t.Helper()
	z := w.h.Zone(zone)
	z.Spec.Keys = []*authzone.Key{ksk, w.key(t, authzone.ZSK)}
	w.h.SetNow(w.clk.Now())
	if err := w.h.Resign(zone); err != nil {
		t.Fatalf("Resign: %v", err)
	}
	w.publishDS(t, keep...) // Resign published the new DS alone, with the zone's TTL
}

// runFor advances the clock by d in steps (one jump when step is 0),
// letting the population make its queries at every step.
func (w *world) runFor(t *testing.T, d, step time.Duration) {
	t.Helper()
	if step == 0 {
		step = d
	}
	end := w.clk.Now().Add(d)
	for w.clk.Now().Before(end) {
		now := w.clk.Advance(min(step, end.Sub(w.clk.Now())))
		if err := w.p.Tick(context.Background(), now); err != nil {
			t.Fatalf("Tick: %v", err)
		}
	}
}

// chainKeyTags returns the key tags of the DS that a fresh resolver finds
// for rot.test. now.
func (w *world) chainKeyTags(t *testing.T) []uint16 {
	t.Helper()
	cfg := w.resolverConfig()
	cfg.Now = w.clk.Now
	r, err := dnssec.NewResolver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(context.Background(), "www."+zone, dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dnssec.Secure {
		t.Fatalf("fresh resolver: www.%s A is %s: %s", zone, res.Status, res.Reason)
	}
	var tags []uint16
	for _, l := range res.Chain {
		if l.Zone == zone {
			for _, ds := range l.DS {
				tags = append(tags, ds.KeyTag)
			}
		}
	}
	slices.Sort(tags)
	return tags
}

func logStats(t *testing.T, s Stats) {
	t.Helper()
	t.Logf("%d validations, %d failures (last %s), through %s", s.Validations, s.Failures, s.LastFailure.Format(time.RFC3339), s.Through.Format(time.RFC3339))
	for _, f := range s.Samples {
		t.Logf("  %s", f)
	}
}

// TestStableZone runs the population over a simulated day of an unchanged
// hierarchy: every answer has the verdict wanted.
func TestStableZone(t *testing.T) {
	const resolvers, mean = 12, 10 * time.Minute
	w := newWorld(t, resolvers, mean)
	w.runFor(t, 24*time.Hour, 10*time.Minute)
	s := w.p.Stats()
	logStats(t, s)
	if s.Failures != 0 {
		t.Errorf("stable zone: %d failures, want 0; first: %v", s.Failures, s.Samples)
	}
	// A Poisson process of mean 10 min over a day: 144 queries a resolver.
	if want := resolvers * 144; s.Validations < want*8/10 || s.Validations > want*12/10 {
		t.Errorf("stable zone: %d validations, want about %d", s.Validations, want)
	}
	if !s.Through.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("Through = %v, want %v", s.Through, start.Add(24*time.Hour))
	}
}

// TestBrokenRotation is the negative control: rot.test.'s KSK is replaced
// and its DS changed at the same instant, while resolvers hold the old DS
// for up to an hour. The population must see failures, and only in that
// hour: whether the clock moves in small steps or jumps over it at once.
func TestBrokenRotation(t *testing.T) {
	tests := []struct {
		desc string
		step time.Duration // of the clock after the break; 0: one jump
	}{
		{"clock in one-minute steps", time.Minute},
		{"clock jumping two hours at once", 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w := newWorld(t, 10, 5*time.Minute)
			w.runFor(t, 2*time.Hour, time.Minute)
			if s := w.p.Stats(); s.Failures != 0 || s.Validations == 0 {
				t.Fatalf("before the rotation: %d failures in %d validations, want 0 in some", s.Failures, s.Validations)
			}
			broken := w.clk.Now()
			ksk := authzone.MustGenerateKey(zone, dns.ECDSAP256SHA256, authzone.KSK)
			w.swapKSK(t, ksk, ksk)
			w.runFor(t, 2*time.Hour, tt.step)
			s := w.p.Stats()
			logStats(t, s)
			if s.Failures == 0 {
				t.Fatalf("broken rotation: no failures in %d validations, want some", s.Validations)
			}
			// Old DS cached up to dsTTL, then a bogus verdict kept for
			// dnssec.BogusTTL.
			last := broken.Add(dsTTL*time.Second + dnssec.BogusTTL)
			// The caches' ages are spread: some hold the old DS for most
			// of its TTL.
			if s.LastFailure.Before(broken.Add(dsTTL*time.Second/2)) || s.LastFailure.After(last) {
				t.Errorf("last failure at %v, want within [%v, %v]", s.LastFailure, broken.Add(dsTTL*time.Second/2), last)
			}
			for _, f := range s.Samples {
				if !f.Time.After(broken) || f.Time.After(last) {
					t.Errorf("failure at %v, want within (%v, %v]", f.Time, broken, last)
				}
				if f.Got != dnssec.Bogus || !strings.HasSuffix(f.Name, "."+zone) || !strings.Contains(f.Reason, zone+" DNSKEY") {
					t.Errorf("failure %v, want a bogus %s DNSKEY RRset", f, zone)
				}
			}
			if got := w.chainKeyTags(t); !slices.Equal(got, []uint16{ksk.Tag()}) {
				t.Errorf("after the rotation the DS key tags are %v, want [%d]", got, ksk.Tag())
			}
		})
	}
}

// TestBrokenRotationEndsWithTheTTL checks that the failures of a broken
// rotation stop once every cache has dropped the old DS.
func TestBrokenRotationEndsWithTheTTL(t *testing.T) {
	w := newWorld(t, 10, 5*time.Minute)
	w.runFor(t, 2*time.Hour, time.Minute)
	ksk := authzone.MustGenerateKey(zone, dns.ECDSAP256SHA256, authzone.KSK)
	w.swapKSK(t, ksk, ksk)
	w.runFor(t, dsTTL*time.Second+dnssec.BogusTTL, time.Minute)
	during := w.p.Stats()
	w.runFor(t, 3*time.Hour, time.Minute)
	after := w.p.Stats()
	logStats(t, after)
	if during.Failures == 0 {
		t.Errorf("no failures within the DS TTL of the broken rotation")
	}
	if after.Failures != during.Failures {
		t.Errorf("%d failures after every cache dropped the old DS, want 0", after.Failures-during.Failures)
	}
	if after.Validations <= during.Validations {
		t.Errorf("no validations after the DS TTL")
	}
}

// TestDoubleDSRotation runs a double-DS rotation (RFC 7583 section 3.3.2):
// the new DS is added beside the old one, then after a wait the KSK is
// replaced, then after a wait again the old DS is removed. With waits of the
// longest TTL no resolver may see a failure; with waits shorter than the DS
// TTL, resolvers that still hold the old DS alone must.
func TestDoubleDSRotation(t *testing.T) {
	tests := []struct {
		desc     string
		wait     time.Duration
		failures bool
	}{
		{"waits of the longest TTL", maxTTL, false},
		{"waits of ten minutes", 10 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w := newWorld(t, 10, 5*time.Minute)
			old := w.key(t, authzone.KSK)
			ksk := authzone.MustGenerateKey(zone, dns.ECDSAP256SHA256, authzone.KSK)
			steps := []struct {
				desc   string
				change func()
				wait   time.Duration
			}{
				{"warm up", func() {}, 2 * time.Hour},
				{"publish the new DS beside the old", func() { w.publishDS(t, old, ksk) }, tt.wait},
				{"replace the KSK", func() { w.swapKSK(t, ksk, old, ksk) }, tt.wait},
				{"remove the old DS", func() { w.publishDS(t, ksk) }, 2 * time.Hour},
			}
			for _, st := range steps {
				st.change()
				w.runFor(t, st.wait, time.Minute)
				if s := w.p.Stats(); s.Failures != 0 && !tt.failures {
					logStats(t, s)
					t.Fatalf("after %q: %d failures, want 0", st.desc, s.Failures)
				}
			}
			s := w.p.Stats()
			logStats(t, s)
			if s.Validations == 0 {
				t.Errorf("no validations")
			}
			if got := s.Failures > 0; got != tt.failures {
				t.Errorf("%d failures; want failures: %v", s.Failures, tt.failures)
			}
			if got := w.chainKeyTags(t); !slices.Equal(got, []uint16{ksk.Tag()}) {
				t.Errorf("after the rotation the DS key tags are %v, want [%d]", got, ksk.Tag())
			}
		})
	}
}

// TestRealClock runs the population on the wall clock for a moment against
// a hierarchy signed now.
func TestRealClock(t *testing.T) {
	h, err := hierarchy.Start(hierarchy.Spec{
		Now: time.Now(),
		Zones: []hierarchy.ZoneSpec{
			{Origin: "."}, {Origin: "test."},
			{Origin: zone, Records: "www A 192.0.2.1\n"},
			{Origin: "insecure.test.", Unsigned: true, Records: "www A 192.0.2.30\n"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	w := &world{h: h}
	p, err := New(Config{Resolvers: 4, Names: targets, MeanInterval: 20 * time.Millisecond, Clock: clock.Real{}, Seed: 2, ResolverConfig: w.resolverConfig()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want the context's deadline", err)
	}
	s := p.Stats()
	logStats(t, s)
	if s.Validations < 10 || s.Failures != 0 {
		t.Errorf("real clock: %d failures in %d validations, want 0 in at least 10", s.Failures, s.Validations)
	}
}

func TestNewRefuses(t *testing.T) {
	good := Config{Resolvers: 1, Names: targets, MeanInterval: time.Minute, Clock: clock.NewVirtual(start)}
	tests := []struct {
		desc string
		edit func(*Config)
		want string
	}{
		{"no resolvers", func(c *Config) { c.Resolvers = 0 }, "resolvers"},
		{"no names", func(c *Config) { c.Names = nil }, "no names"},
		{"no interval", func(c *Config) { c.MeanInterval = 0 }, "mean interval"},
		{"no clock", func(c *Config) { c.Clock = nil }, "no clock"},
		{"negative stagger", func(c *Config) { c.Stagger = -time.Second }, "stagger"},
		{"bad name", func(c *Config) { c.Names = []Target{{Name: "a..b", Want: dnssec.Secure}} }, "not a domain name"},
		{"no verdict", func(c *Config) { c.Names = []Target{{Name: "www.test."}} }, "wants no verdict"},
		{"bad root", func(c *Config) { c.ResolverConfig.Roots = []netip.AddrPort{{}} }, "resolver 0"},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "population: ") {
			t.Errorf("New(%s) = %v, want an error about %q", tt.desc, err, tt.want)
		}
	}
	if _, err := New(good); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}
