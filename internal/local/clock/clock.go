// Package clock gives the local stack one notion of time: the real clock, or
// a virtual one on which a two-day TTL wait passes in milliseconds. TTLs,
// signature validity, API propagation delays and Wait states all read it.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and lets a caller sleep on it.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the clock's time once d has
	// passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Virtual is a clock that moves only when told to (Advance, Set) or, for
// sleepers, when AutoAdvance is on: then a sleeper with nothing earlier to
// wait for moves the clock to its own deadline at once. The zero value is
// not usable; use NewVirtual.
type Virtual struct {
	move sync.Mutex // serialises Advance and Set with their hooks

	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	hooks   map[*Hooks]struct{}
}

// Hooks run around every move of a Virtual clock, on the goroutine that
// moves it (Advance or Set), without the clock's lock held: they may call
// Now and After, but not Advance or Set.
type Hooks struct {
	// Before runs while Now still reads from, before the clock moves to
	// to: the local stack's resolver population makes the queries due in
	// between against the zones as they were, before anything changes at
	// the new time.
	Before func(from, to time.Time)
	// After runs once Now reads now and the sleepers due have been woken,
	// before Advance or Set returns: the local stack applies the changes
	// due by now, so that whoever moved the clock sees them done.
	After func(now time.Time)
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewVirtual returns a virtual clock set to start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// After returns a channel that fires when the virtual time reaches Now()+d.
func (v *Virtual) After(d time.Duration) <-chan time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := v.now.Add(d)
	if d <= 0 {
		ch <- v.now
		return ch
	}
	v.waiters = append(v.waiters, waiter{at: at, ch: ch})
	return ch
}

// Advance moves the clock forward by d and wakes every sleeper whose time
// came, running the hooks around the move.
func (v *Virtual) Advance(d time.Duration) time.Time {
	v.move.Lock()
	defer v.move.Unlock()
	to := v.Now().Add(d)
	v.moveTo(to)
	return v.Now()
}

// Set moves the clock to t if t is later than now (a clock never runs
// back), running the hooks around the move.
func (v *Virtual) Set(t time.Time) {
	v.move.Lock()
	defer v.move.Unlock()
	if t.After(v.Now()) {
		v.moveTo(t)
	}
}

// Hook registers h to run around every later move of the clock; remove
// unregisters it.
func (v *Virtual) Hook(h Hooks) (remove func()) {
	p := &h
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.hooks == nil {
		v.hooks = map[*Hooks]struct{}{}
	}
	v.hooks[p] = struct{}{}
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		delete(v.hooks, p)
	}
}

// moveTo moves the clock to to with the hooks; the caller holds v.move.
func (v *Virtual) moveTo(to time.Time) {
	v.mu.Lock()
	from := v.now
	hooks := make([]*Hooks, 0, len(v.hooks))
	for h := range v.hooks {
		hooks = append(hooks, h)
	}
	v.mu.Unlock()
	for _, h := range hooks {
		if h.Before != nil {
			h.Before(from, to)
		}
	}
	v.mu.Lock()
	v.now = to
	v.fire()
	v.mu.Unlock()
	for _, h := range hooks {
		if h.After != nil {
			h.After(to)
		}
	}
}

// NextDeadline reports the earliest time a sleeper waits for.
func (v *Virtual) NextDeadline() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.waiters) == 0 {
		return time.Time{}, false
	}
	min := v.waiters[0].at
	for _, w := range v.waiters[1:] {
		if w.at.Before(min) {
			min = w.at
		}
	}
	return min, true
}

func (v *Virtual) fire() {
	kept := v.waiters[:0]
	for _, w := range v.waiters {
		if !w.at.After(v.now) {
			w.ch <- v.now
			continue
		}
		kept = append(kept, w)
	}
	v.waiters = kept
}
