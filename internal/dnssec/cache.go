package dnssec

import (
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Cache policy numbers.
const (
	// MaxCacheTTL caps how long anything is kept, as resolvers do (unbound's
	// cache-max-ttl is one day): a validator must re-check the chain daily.
	MaxCacheTTL = 24 * time.Hour
	// MaxNegativeTTL caps negative answers (RFC 2308 section 5 suggests one to
	// three hours).
	MaxNegativeTTL = 3 * time.Hour
	// BogusTTL bounds how long a bogus verdict is remembered, so that a fixed
	// zone is seen again soon (RFC 4035 section 4.7, RFC 9520 section 3).
	BogusTTL = time.Minute
	// MaxCacheEntries bounds the RRsets (and, separately, the zone cuts) kept,
	// so that a long-running resolver asked about ever new names stays small:
	// past it, expired entries are swept and then a tenth of the rest dropped.
	MaxCacheEntries = 100_000
)

// rrKey identifies a cached RRset (or its proven absence).
type rrKey struct {
	name  string // canonical
	rtype uint16
}

// entry is one cached lookup result: an RRset with its signatures, or a
// negative answer, with the verdict reached for it.
type entry struct {
	rrs     []dns.RR     // the RRset; empty for a negative answer
	sigs    []*dns.RRSIG // the RRSIGs that came with it
	rcode   int          // NOERROR or NXDOMAIN
	status  Status
	reason  string
	zone    *zone // the zone that answered
	expires time.Time
}

// cache holds RRsets and zone cuts with their verdicts. Expiry is absolute
// time on the resolver's injected clock. It is safe for concurrent use.
type cache struct {
	mu     sync.Mutex
	rrsets map[rrKey]*entry
	zones  map[string]*zone
}

func newCache() *cache {
	return &cache{rrsets: map[rrKey]*entry{}, zones: map[string]*zone{}}
}

func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rrsets = map[rrKey]*entry{}
	c.zones = map[string]*zone{}
}

func (c *cache) get(name string, t uint16, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := rrKey{name, t}
	e := c.rrsets[k]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		delete(c.rrsets, k)
		return nil
	}
	return e
}

// put stores e unless it is already expired. Callers never store answers
// they could not get (server trouble): only verdicts reached on data.
func (c *cache) put(name string, t uint16, e *entry, now time.Time) {
	if !now.Before(e.expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rrsets[rrKey{name, t}] = e
	if len(c.rrsets) > MaxCacheEntries {
		shrink(c.rrsets, now, func(e *entry) time.Time { return e.expires })
	}
}

// shrink removes the expired entries of m and, if it is still over
// MaxCacheEntries, a tenth of the others (map order is random enough).
func shrink[K comparable, V any](m map[K]V, now time.Time, expires func(V) time.Time) {
	for k, v := range m {
		if !now.Before(expires(v)) {
			delete(m, k)
		}
	}
	drop := len(m) - MaxCacheEntries*9/10
	for k := range m {
		if drop <= 0 {
			break
		}
		delete(m, k)
		drop--
	}
}

func (c *cache) zone(name string, now time.Time) *zone {
	c.mu.Lock()
	defer c.mu.Unlock()
	z := c.zones[name]
	if z == nil {
		return nil
	}
	if !now.Before(z.expires) {
		delete(c.zones, name)
		return nil
	}
	return z
}

func (c *cache) putZone(z *zone, now time.Time) {
	if !now.Before(z.expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.zones[z.name] = z
	if len(c.zones) > MaxCacheEntries {
		shrink(c.zones, now, func(z *zone) time.Time { return z.expires })
	}
}

// expiry accumulates the earliest time at which cached data must be dropped.
type expiry struct {
	now time.Time
	at  time.Time
}

func newExpiry(now time.Time, limit time.Duration) *expiry {
	return &expiry{now: now, at: now.Add(limit)}
}

func (x *expiry) before(t time.Time) {
	if t.Before(x.at) {
		x.at = t
	}
}

func (x *expiry) ttl(seconds uint32) { x.before(x.now.Add(time.Duration(seconds) * time.Second)) }

// rrset lowers the expiry to the RRset's TTL and, when a signature validated
// it, to the RRSIG's original TTL and expiration (RFC 4035 section 5.3.3).
func (x *expiry) rrset(rrs []dns.RR, sig *dns.RRSIG) {
	for _, rr := range rrs {
		x.ttl(rr.Header().Ttl)
	}
	if sig != nil {
		x.ttl(sig.OrigTtl)
		x.before(SigExpiry(sig))
	}
}
