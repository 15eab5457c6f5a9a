package asl

import (
	"context"
	"sync"
	"time"
)

// Virtual time. The runner counts the goroutines that do work (busy). A
// goroutine that sleeps on the clock (a Wait state, a retry interval) stops
// counting; when none counts any more and a virtual clock is in use, the
// runner moves the clock to the next deadline and wakes that sleeper, so a
// two-day Wait passes at once. A goroutine waiting for children (Parallel,
// Map, startExecution.sync) stops counting too and inherits the busy unit of
// the last child to finish, so the count never touches zero in between.
//
// Things the runner cannot see keep virtual time still: a Task waiting for
// a task token, and a Lambda handler that is running count as busy, unless
// the handler sleeps through Runner.Sleep (the local stack's SDK retries
// do), which gives its unit up like a Wait state.

type sleeper struct {
	ctx  context.Context
	at   time.Time // the deadline on the virtual clock
	ch   <-chan time.Time
	woke chan time.Time
}

func (r *Runner) acquire(n int) {
	r.mu.Lock()
	r.busy += n
	r.mu.Unlock()
}

func (r *Runner) release() {
	r.mu.Lock()
	r.busy--
	r.advanceLocked()
	r.mu.Unlock()
}

// advanceLocked moves a virtual clock while nothing is busy and some
// execution sleeps on it.
func (r *Runner) advanceLocked() {
	if r.vclock == nil {
		return
	}
	for r.busy == 0 && len(r.sleepers) > 0 {
		// A sleeper whose context ended is about to wake up: it is not
		// waiting on the clock any more, so time must not move past it.
		for s := range r.sleepers {
			if s.ctx.Err() != nil {
				delete(r.sleepers, s)
				r.busy++
				s.woke <- r.vclock.Now()
			}
		}
		if r.busy > 0 {
			return
		}
		next, ok := r.vclock.NextDeadline()
		if !ok || !next.After(r.vclock.Now()) {
			return
		}
		r.vclock.Set(next)
		// Decide by deadline, not by reading the channel: the sleeper may
		// have read it first and be waiting for the lock.
		now := r.vclock.Now()
		for s := range r.sleepers {
			if !s.at.After(now) {
				delete(r.sleepers, s)
				r.busy++
				s.woke <- now
			}
		}
	}
}

// Sleep waits d on the runner's clock from inside a running Task's handler
// (which holds a busy unit): on a virtual clock the wait lets time move, as
// a Wait state does, so a handler's own back-off (an SDK retry after
// Throttling) sees the API's rate limit refill. It fails only when ctx ends.
// Outside a running Task it would unbalance the busy count: never call it
// there.
func (r *Runner) Sleep(ctx context.Context, d time.Duration) error { return r.sleep(ctx, d) }

// sleep waits d on the clock; the caller holds a busy unit and holds it
// again when sleep returns. It fails only when ctx ends.
func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if r.vclock == nil {
		select {
		case <-r.clock.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	s := &sleeper{ctx: ctx, at: r.vclock.Now().Add(d), ch: r.vclock.After(d), woke: make(chan time.Time, 1)}
	r.sleepers[s] = struct{}{}
	r.busy--
	r.advanceLocked()
	r.mu.Unlock()
	reclaim := func() {
		r.mu.Lock()
		if _, ok := r.sleepers[s]; ok {
			delete(r.sleepers, s)
			r.busy++
		}
		r.mu.Unlock()
	}
	select {
	case <-s.ch: // someone else advanced the clock
		reclaim()
		return nil
	case <-s.woke:
		return ctx.Err()
	case <-ctx.Done():
		reclaim()
		return ctx.Err()
	}
}

// join waits for n children that each hold a busy unit.
type join struct {
	mu        sync.Mutex
	remaining int
	empty     bool
	done      chan struct{}
}

// newJoin reserves busy units for n children about to start.
func (r *Runner) newJoin(n int) *join {
	r.acquire(n)
	j := &join{remaining: n, done: make(chan struct{})}
	if n == 0 {
		j.empty = true
		close(j.done)
	}
	return j
}

// finish is called by each child as it ends; the last one hands its unit
// to the waiting parent.
func (j *join) finish(r *Runner) {
	j.mu.Lock()
	j.remaining--
	last := j.remaining == 0
	j.mu.Unlock()
	if last {
		close(j.done)
		return
	}
	r.release()
}

// wait gives up the parent's unit until every child has finished, then
// holds the unit the last child handed over.
func (j *join) wait(r *Runner) {
	if j.empty {
		return
	}
	r.release()
	<-j.done
}
