// Package population simulates the validating resolvers that a zone's
// DNSSEC changes must never break: many resolvers, each with its own cache,
// sharing nothing but the network and the clock, each querying names of the
// zones at random times (a Poisson process on the stack's clock) and
// checking every verdict against what it should be: secure for a name in a
// signed zone, insecure for one in an unsigned zone.
//
// What makes a broken key rotation visible is a resolver that still holds an
// old DS or DNSKEY RRset in its cache while the zone changes; so every
// resolver keeps RRsets for their TTLs on the clock (the cache of package
// dnssec), and queries run at their own times along the whole timeline, not
// only where the clock stops.
package population

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// Policy numbers, each with the reason it has this value.
const (
	// DefaultMaxSamples is how many failures Stats keeps in full: enough to
	// see which names and reasons, few enough to print.
	DefaultMaxSamples = 10
	// minInterval is the shortest time between two queries of one
	// resolver, so that a tiny exponential draw cannot make a burst of
	// queries at one instant.
	minInterval = time.Millisecond
	// queryTimeout bounds one query (a whole iterative resolution) on the
	// real clock; the dnsquery timeouts bound each exchange inside it.
	queryTimeout = 30 * time.Second
)

// Target is a name the resolvers query and the verdict it must get.
type Target struct {
	Name string
	Type uint16 // 0: A
	// Want is the verdict every answer must have: dnssec.Secure for a name
	// in a signed zone (existing or not: a denial must be secure too),
	// dnssec.Insecure for one in an unsigned zone.
	Want dnssec.Status
}

// Config configures a Population.
type Config struct {
	Resolvers int      // how many resolvers
	Names     []Target // what they query; each query picks one at random
	// MeanInterval is the mean time between two queries of one resolver:
	// each resolver's queries form a Poisson process.
	MeanInterval time.Duration
	// Clock is the stack's clock; the first queries are due after its time
	// at New.
	Clock clock.Clock
	Seed  uint64 // seeds the query times and the names picked
	// Stagger spreads the resolvers' first queries uniformly over this
	// long after the start (0: each resolver's first query comes after an
	// ordinary exponential draw). Resolvers that all start with empty caches
	// at once refresh their DS and DNSKEY RRsets in step; a stagger of the
	// longest TTL spreads their cache ages as in a population that has been
	// running for long, which a broken rotation must meet.
	Stagger time.Duration
	// ResolverConfig configures every resolver (roots, trust anchors,
	// transport). Its Now is replaced: each resolver's clock reads the time
	// of the query it is making.
	ResolverConfig dnssec.Config
	// MaxSamples is how many failures Stats keeps in full; 0 means
	// DefaultMaxSamples.
	MaxSamples int
	// Workers bounds how many resolvers query at once during a Tick; 0 means
	// GOMAXPROCS.
	Workers int
}

// Failure is one answer whose verdict was not the one wanted.
type Failure struct {
	Resolver int       // index of the resolver, from 0
	Time     time.Time // on the clock
	Name     string
	Type     uint16
	Want     dnssec.Status
	Got      dnssec.Status
	Rcode    int
	Reason   string // the resolver's reason for Got
}

func (f Failure) String() string {
	return fmt.Sprintf("%s resolver %d: %s %s: %s (%s), want %s: %s", f.Time.UTC().Format(time.RFC3339), f.Resolver,
		f.Name, dns.TypeToString[f.Type], f.Got, dns.RcodeToString[f.Rcode], f.Want, f.Reason)
}

// Stats counts the population's answers so far.
type Stats struct {
	Validations int       // answers checked
	Failures    int       // answers whose verdict was not the one wanted
	Samples     []Failure // the first failures, in time order
	LastFailure time.Time // of the latest failure; zero when none
	// Through is the clock time up to which every due query has run.
	Through time.Time
}

// Population is a set of simulated validating resolvers. Its methods are
// safe for concurrent use.
type Population struct {
	clk        clock.Clock
	names      []Target
	mean       time.Duration
	maxSamples int
	workers    int
	members    []*member

	tick  sync.Mutex // one Tick at a time; guards the members' schedules
	mu    sync.Mutex // guards stats
	stats Stats
}

// member is one resolver with its own cache, random source and clock.
type member struct {
	id   int
	r    *dnssec.Resolver
	rng  *rand.Rand
	next time.Time // when its next query is due

	mu sync.Mutex
	at time.Time // the time of the query being made: the resolver's clock
}

func (m *member) now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.at
}

func (m *member) setNow(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at = t
}

// New checks cfg and builds the population; no query runs before Tick or
// Run.
func New(cfg Config) (*Population, error) {
	switch {
	case cfg.Resolvers <= 0:
		return nil, fmt.Errorf("population: %d resolvers, want at least one", cfg.Resolvers)
	case len(cfg.Names) == 0:
		return nil, errors.New("population: no names to query")
	case cfg.MeanInterval <= 0:
		return nil, fmt.Errorf("population: mean interval %v, want a positive duration", cfg.MeanInterval)
	case cfg.Clock == nil:
		return nil, errors.New("population: no clock")
	case cfg.Stagger < 0:
		return nil, fmt.Errorf("population: stagger %v, want zero or more", cfg.Stagger)
	}
	p := &Population{
		clk:        cfg.Clock,
		mean:       cfg.MeanInterval,
		maxSamples: cfg.MaxSamples,
		workers:    cfg.Workers,
	}
	if p.maxSamples <= 0 {
		p.maxSamples = DefaultMaxSamples
	}
	if p.workers <= 0 {
		p.workers = runtime.GOMAXPROCS(0)
	}
	for _, t := range cfg.Names {
		if _, ok := dns.IsDomainName(t.Name); !ok || t.Name == "" {
			return nil, fmt.Errorf("population: target %q is not a domain name", t.Name)
		}
		if t.Type == 0 {
			t.Type = dns.TypeA
		}
		if t.Want == dnssec.Indeterminate {
			return nil, fmt.Errorf("population: target %s %s wants no verdict; want secure or insecure", t.Name, dns.TypeToString[t.Type])
		}
		t.Name = dns.CanonicalName(t.Name)
		p.names = append(p.names, t)
	}
	start := cfg.Clock.Now()
	p.stats.Through = start
	for i := range cfg.Resolvers {
		m := &member{id: i, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), at: start}
		rc := cfg.ResolverConfig
		rc.Now = m.now
		r, err := dnssec.NewResolver(rc)
		if err != nil {
			return nil, fmt.Errorf("population: resolver %d: %w", i, err)
		}
		m.r = r
		if cfg.Stagger > 0 {
			m.next = start.Add(max(time.Duration(m.rng.Int64N(int64(cfg.Stagger))), minInterval))
		} else {
			m.next = start.Add(p.interval(m))
		}
		p.members = append(p.members, m)
	}
	return p, nil
}

// interval draws the time to a resolver's next query: exponential with the
// configured mean.
func (p *Population) interval(m *member) time.Duration {
	return max(time.Duration(m.rng.ExpFloat64()*float64(p.mean)), minInterval)
}

// Tick runs every query due up to now, each resolver's in order and each at
// its own time: a resolver's clock reads the query's scheduled time, so that
// its cache ages and signatures are checked as they would have been then.
// The stack calls Tick whenever its clock moves, before it changes any zone
// at the new time, so that the zones as the queries see them are the zones
// as they were between the previous time and now. Its cost is one
// resolution per resolver per MeanInterval of the time covered: a jump of
// two days with 100 resolvers querying every 5 minutes makes 57,600 (most
// answered from the caches). It returns only when the queries are done, or
// with ctx's error.
func (p *Population) Tick(ctx context.Context, now time.Time) error {
	p.tick.Lock()
	defer p.tick.Unlock()
	var due []*member
	for _, m := range p.members {
		if !m.next.After(now) {
			due = append(due, m)
		}
	}
	type result struct {
		validations int
		failures    []Failure
	}
	results := make([]result, len(due))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(p.workers, len(due)) {
		wg.Go(func() {
			for i := range work {
				results[i].validations, results[i].failures = p.runDue(ctx, due[i], now)
			}
		})
	}
	for i := range due {
		work <- i
	}
	close(work)
	wg.Wait()

	var validations int
	var failures []Failure
	for _, r := range results {
		validations += r.validations
		failures = append(failures, r.failures...)
	}
	slices.SortFunc(failures, func(a, b Failure) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Resolver, b.Resolver))
	})
	p.mu.Lock()
	p.stats.Validations += validations
	p.stats.Failures += len(failures)
	if len(failures) > 0 {
		p.stats.LastFailure = failures[len(failures)-1].Time
	}
	if room := p.maxSamples - len(p.stats.Samples); room > 0 {
		p.stats.Samples = append(p.stats.Samples, failures[:min(room, len(failures))]...)
	}
	if err := ctx.Err(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("population: tick %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	if now.After(p.stats.Through) {
		p.stats.Through = now
	}
	p.mu.Unlock()
	return nil
}

// runDue makes m's queries due up to now, in order.
func (p *Population) runDue(ctx context.Context, m *member, now time.Time) (validations int, failures []Failure) {
	for !m.next.After(now) {
		at := m.next
		t := p.names[m.rng.IntN(len(p.names))]
		m.setNow(at)
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		res, err := m.r.Resolve(qctx, t.Name, t.Type)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return validations, failures // stopped: this query did not happen
			}
			res = &dnssec.Result{Name: t.Name, Type: t.Type, Rcode: dns.RcodeServerFailure, Status: dnssec.Indeterminate, Reason: err.Error()}
		}
		validations++
		if res.Status != t.Want {
			failures = append(failures, Failure{Resolver: m.id, Time: at, Name: t.Name, Type: t.Type,
				Want: t.Want, Got: res.Status, Rcode: res.Rcode, Reason: res.Reason})
		}
		m.next = at.Add(p.interval(m))
	}
	return validations, failures
}

// Next returns when the earliest query is due.
func (p *Population) Next() time.Time {
	p.tick.Lock()
	defer p.tick.Unlock()
	next := p.members[0].next
	for _, m := range p.members[1:] {
		if m.next.Before(next) {
			next = m.next
		}
	}
	return next
}

// Run makes the queries as they fall due on the clock until ctx ends, and
// returns ctx's error. It suits the real clock. On a virtual clock it wakes
// only when the clock reaches the next due time, so a driver that advances
// to NextDeadline steps through every query; a driver that jumps should
// call Tick itself instead (before changing zones), as the queries of the
// jump otherwise run after the changes made at its end.
func (p *Population) Run(ctx context.Context) error {
	for {
		wait := p.Next().Sub(p.clk.Now())
		select {
		case <-p.clk.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := p.Tick(ctx, p.clk.Now()); err != nil {
			return err
		}
	}
}

// Stats returns the counts so far.
func (p *Population) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Samples = slices.Clone(s.Samples)
	return s
}
