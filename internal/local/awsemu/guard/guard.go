// Package guard holds what every emulated AWS API puts in front of its
// operations: a token bucket on the stack's clock (the service's request
// rate limit) and a queue of injected faults per operation. Both are safe
// for concurrent use.
package guard

import (
	"fmt"
	"sync"
	"time"
)

// Throttle is a token bucket on the caller's clock: rate tokens per second,
// up to burst. The zero value never throttles.
type Throttle struct {
	mu     sync.Mutex
	on     bool
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// Set changes the limit; ratePerSecond <= 0 turns throttling off. The
// bucket starts full at now.
func (t *Throttle) Set(ratePerSecond float64, burst int, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ratePerSecond <= 0 {
		t.on = false
		return
	}
	t.on, t.rate, t.burst = true, ratePerSecond, float64(max(burst, 1))
	t.tokens, t.last = t.burst, now
}

// Allow takes a token at time now and reports whether there was one.
func (t *Throttle) Allow(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return true
	}
	if elapsed := now.Sub(t.last).Seconds(); elapsed > 0 {
		t.tokens = min(t.burst, t.tokens+elapsed*t.rate)
		t.last = now
	}
	if t.tokens < 1 {
		return false
	}
	t.tokens--
	return true
}

// Faults queues injected errors per operation. The zero value is empty.
type Faults struct {
	mu    sync.Mutex
	queue map[string][]*fault
}

type fault struct {
	code string
	left int
}

// Inject makes the next n calls of operation fail with the error code.
// Injections queue: a second one for the same operation applies after the
// first is used up. n <= 0 clears every fault queued for operation.
func (f *Faults) Inject(operation, code string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= 0 {
		delete(f.queue, operation)
		return
	}
	if f.queue == nil {
		f.queue = map[string][]*fault{}
	}
	f.queue[operation] = append(f.queue[operation], &fault{code: code, left: n})
}

// Take uses up one injected fault of operation and returns its code, or ""
// when none is queued.
func (f *Faults) Take(operation string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue[operation]
	if len(q) == 0 {
		return ""
	}
	head := q[0]
	head.left--
	if head.left <= 0 {
		if len(q) == 1 {
			delete(f.queue, operation)
		} else {
			f.queue[operation] = q[1:]
		}
	}
	return head.code
}

// Refuse applies the throttle and then the injected faults to one request
// of operation at now, as the JSON-protocol emulators answer: the error
// code and message that refuse it, or "" when it is admitted. name
// prefixes an injected fault's message.
func Refuse(t *Throttle, f *Faults, name, operation string, now time.Time) (code, message string) {
	if !t.Allow(now) {
		return "ThrottlingException", "Rate exceeded"
	}
	if code := f.Take(operation); code != "" {
		return code, fmt.Sprintf("%s: injected fault for %s", name, operation)
	}
	return "", ""
}
