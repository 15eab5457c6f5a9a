package stack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
)

// Population defaults, each with the reason it has this value.
const (
	// DefaultResolvers is enough resolvers that some hold every cached
	// DS and DNSKEY age at any moment, few enough to tick a day quickly.
	DefaultResolvers = 50
	// DefaultMeanInterval: each resolver asks every five minutes on
	// average, so a change is met within minutes by someone.
	DefaultMeanInterval = 5 * time.Minute
)

// PopulationConfig configures the stack's resolver population.
type PopulationConfig struct {
	Resolvers    int           // 0: DefaultResolvers
	MeanInterval time.Duration // 0: DefaultMeanInterval
	// Targets are the names and verdicts; nil: ScenarioTargets().
	Targets []population.Target
	// Stagger spreads the first queries (see population.Config); 0 means
	// the largest TTL a cache may hold (the DS TTL of the TLD: a day on a
	// virtual clock, Timing.MaxTTL on the real one).
	Stagger time.Duration
	Seed    uint64
}

// StartPopulation starts (or replaces) the stack's resolver population.
// On a virtual clock it runs whenever the clock moves, before anything
// changes at the new time; on the real clock it runs on its own.
func (s *Stack) StartPopulation(cfg PopulationConfig) (*population.Population, error) {
	if cfg.Resolvers == 0 {
		cfg.Resolvers = DefaultResolvers
	}
	if cfg.MeanInterval == 0 {
		cfg.MeanInterval = DefaultMeanInterval
	}
	if cfg.Targets == nil {
		t, err := s.ScenarioTargets()
		if err != nil {
			return nil, fmt.Errorf("stack: population: %w", err)
		}
		cfg.Targets = t
	}
	if cfg.Stagger == 0 {
		cfg.Stagger = 24 * time.Hour
		if s.timing.MaxTTL > 0 {
			cfg.Stagger = time.Duration(s.timing.MaxTTL) * time.Second
		}
	}
	rc := s.ResolverConfig()
	rc.Now = nil
	p, err := population.New(population.Config{
		Resolvers:      cfg.Resolvers,
		Names:          cfg.Targets,
		MeanInterval:   cfg.MeanInterval,
		Clock:          s.clk,
		Seed:           cfg.Seed,
		Stagger:        cfg.Stagger,
		ResolverConfig: rc,
	})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("stack: closed")
	}
	if s.popCancel != nil {
		s.popCancel()
		s.popCancel = nil
	}
	s.pop = p
	if s.virtual == nil {
		ctx, cancel := context.WithCancel(s.ctx)
		s.popCancel = cancel
		s.wg.Go(func() { p.Run(ctx) })
	}
	return p, nil
}

// Population returns the running population, or nil.
func (s *Stack) Population() *population.Population {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pop
}

// StopPopulation stops the population; its Stats stay readable.
func (s *Stack) StopPopulation() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.popCancel != nil {
		s.popCancel()
		s.popCancel = nil
	}
	s.pop = nil
}
