package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
)

// allSamples keeps every answer that was not secure, so that each can be
// judged against its zone's state at the time it was made: a run of a few
// virtual days makes tens of thousands, a few megabytes.
const allSamples = 1 << 22

// watcher is the resolver population of the local stack watching the
// demo's zones: many validating resolvers with their own caches, each
// asking the scenario's names at its own random times on the stack's
// clock. Every answer must be secure while its zone is signed and its DS
// served (the "secure-only" span); insecure is right while the zone is
// legitimately unsigned or in transition (its DS just published, with
// resolvers still holding the parent's proof that there was none, or
// being withdrawn); bogus or no answer is always a failure.
//
// The population's targets all want secure, and it keeps every other
// answer: each is then judged against the zone's spans, which the demo
// opens and closes as the workflows go. One population with one set of
// caches watches the whole run, across every change of expectation.
type watcher struct {
	pop    *population.Population
	zoneOf map[string]string // target name -> its zone
	stop   func()

	mu     sync.Mutex
	secure map[string][]span // zone -> spans where only secure is right
}

// span is [from, to); a zero to is open.
type span struct{ from, to time.Time }

func (s span) contains(t time.Time) bool {
	return !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to))
}

// watchConfig sizes the population.
type watchConfig struct {
	Resolvers    int
	MeanInterval time.Duration
	Stagger      time.Duration
	Seed         uint64
}

// startWatcher starts the population over the scenario's names on st's
// clock: ticked before every move of a virtual clock (before anything
// changes at the new time, as the stack ticks its own), or running on its
// own on the real clock until stop.
func startWatcher(st *stack.Stack, cfg watchConfig) (*watcher, error) {
	targets, err := st.ScenarioTargets()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &watcher{zoneOf: map[string]string{}, secure: map[string][]span{}}
	for i := range targets {
		targets[i].Want = dnssec.Secure
		w.zoneOf[dns.CanonicalName(targets[i].Name)] = zoneOfName(targets[i].Name)
	}
	rc := st.ResolverConfig()
	rc.Now = nil
	w.pop, err = population.New(population.Config{
		Resolvers: cfg.Resolvers, Names: targets, MeanInterval: cfg.MeanInterval,
		Clock: st.Clock(), Seed: cfg.Seed, Stagger: cfg.Stagger,
		ResolverConfig: rc, MaxSamples: allSamples,
	})
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if v := st.Virtual(); v != nil {
		remove := v.Hook(clock.Hooks{Before: func(_, to time.Time) { w.pop.Tick(ctx, to) }})
		w.stop = func() { remove(); cancel() }
		return w, nil
	}
	done := make(chan struct{})
	go func() { defer close(done); w.pop.Run(ctx) }()
	w.stop = func() { cancel(); <-done }
	return w, nil
}

// zoneOfName is the scenario zone a name belongs to.
func zoneOfName(name string) string {
	if dns.IsSubDomain(stack.ScenarioChildZone, dns.CanonicalName(name)) {
		return stack.ScenarioChildZone
	}
	return stack.ScenarioDomain
}

// secureFrom opens zone's secure-only span at t.
func (w *watcher) secureFrom(zone string, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secure[zone] = append(w.secure[zone], span{from: t})
}

// secureUntil closes zone's open secure-only span at t.
func (w *watcher) secureUntil(zone string, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	spans := w.secure[zone]
	if n := len(spans); n > 0 && spans[n-1].to.IsZero() {
		spans[n-1].to = t
	}
}

// close stops the population; its verdicts stay readable.
func (w *watcher) close() { w.stop() }

// verdicts are the population's counts, with every answer judged.
type verdicts struct {
	Validations int
	// Failures: bogus or no answer, or insecure where only secure is right.
	Failures int
	// InsecureUnsigned: insecure answers while the zone was legitimately
	// unsigned or in transition (not failures).
	InsecureUnsigned int
	Samples          []population.Failure // the first failures
}

// judge counts the verdicts so far.
func (w *watcher) judge() verdicts {
	st := w.pop.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	v := verdicts{Validations: st.Validations}
	for _, f := range st.Samples {
		if f.Got == dnssec.Insecure && !slices.ContainsFunc(w.secure[w.zoneOf[f.Name]], func(s span) bool { return s.contains(f.Time) }) {
			v.InsecureUnsigned++
			continue
		}
		v.Failures++
		if len(v.Samples) < population.DefaultMaxSamples {
			v.Samples = append(v.Samples, f)
		}
	}
	// Answers beyond what the population kept cannot be judged: count
	// them as failures rather than hide them.
	if st.Failures > len(st.Samples) {
		v.Failures += st.Failures - len(st.Samples)
	}
	return v
}

// negativeTTL is how long a resolver may keep the parent's proof that zone
// had no DS (RFC 2308 section 5: the SOA's TTL or MINIMUM, the smaller):
// after the DS appears, an insecure answer stays right that long.
func negativeTTL(ctx context.Context, st *stack.Stack, zone string) (time.Duration, error) {
	r, err := dnssec.NewResolver(st.ResolverConfig())
	if err != nil {
		return 0, fmt.Errorf("negative TTL: %w", err)
	}
	labels := dns.SplitDomainName(zone)
	parent := dns.Fqdn(strings.Join(labels[1:], "."))
	res, err := r.Resolve(ctx, parent, dns.TypeSOA)
	if err != nil {
		return 0, fmt.Errorf("negative TTL: SOA of %s: %w", parent, err)
	}
	for _, rr := range res.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second, nil
		}
	}
	return 0, fmt.Errorf("negative TTL: no SOA for %s (%s)", parent, res.Status)
}
