package vpcresolver

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// sweepEvery is how many new RRsets ages remembers between two sweeps of
// the expired ones: often enough to bound memory, rarely enough to cost
// nothing per query.
const sweepEvery = 1024

// ages makes the TTLs served count down on the clock. The dnssec resolver
// returns cached RRsets with the TTLs they were received with; ages
// remembers when the server first served each RRset (owner, type and data)
// and serves the original TTL minus the time since, as a cache does
// (RFC 1035 section 7.4). Once that reaches zero the resolver's own cache
// has dropped the RRset too, so the next sighting counts as a fresh copy.
// A resolver cache that drops an RRset early (at a signature's expiry, for
// example) and gets it again unchanged makes ages serve a smaller TTL than
// left, never a larger one.
type ages struct {
	mu    sync.Mutex
	first map[string]age
	added int
}

type age struct {
	at  time.Time
	ttl uint32 // seconds, as first served
}

func newAges() *ages { return &ages{first: map[string]age{}} }

func (a *ages) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.first = map[string]age{}
}

// remaining returns the TTL to serve now for the RRset set (non-empty, one
// owner and type): the smallest TTL in it, less the time since it was first
// served.
func (a *ages) remaining(set []dns.RR, now time.Time) uint32 {
	ttl := set[0].Header().Ttl
	for _, rr := range set[1:] {
		ttl = min(ttl, rr.Header().Ttl)
	}
	key := rrsetKey(set)
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.first[key]
	if !ok || now.Before(e.at) || elapsed(e.at, now) >= e.ttl {
		e = age{at: now, ttl: ttl}
		a.first[key] = e
		a.added++
		if a.added%sweepEvery == 0 {
			a.sweepLocked(now)
		}
	}
	return min(ttl, e.ttl-elapsed(e.at, now))
}

func (a *ages) sweepLocked(now time.Time) {
	for k, e := range a.first {
		if elapsed(e.at, now) >= e.ttl {
			delete(a.first, k)
		}
	}
}

// elapsed is the whole seconds from then to now.
func elapsed(then, now time.Time) uint32 {
	d := now.Sub(then) / time.Second
	if d < 0 {
		return 0
	}
	if d > 1<<31 {
		return 1 << 31
	}
	return uint32(d)
}

// rrsetKey identifies an RRset by owner, type and data, not TTL.
func rrsetKey(set []dns.RR) string {
	h := set[0].Header()
	data := make([]string, len(set))
	for i, rr := range set {
		data[i] = strings.TrimPrefix(rr.String(), rr.Header().String())
	}
	slices.Sort(data)
	return dns.CanonicalName(h.Name) + " " + dns.TypeToString[h.Rrtype] + " " + strings.Join(data, "|")
}
