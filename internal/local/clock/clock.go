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
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
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

// Advance moves the clock forward by d and wakes every sleeper whose time came.
func (v *Virtual) Advance(d time.Duration) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now = v.now.Add(d)
	v.fire()
	return v.now
}

// Set moves the clock to t if t is later than now (a clock never runs back).
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.After(v.now) {
		v.now = t
		v.fire()
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
