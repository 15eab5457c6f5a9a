// Package registry runs a parent zone of the local stack, such as the
// registry of the TLD "test." or the root: a fixed base content plus
// delegations (NS, DS and glue) that change through its Go API, signed on
// the stack's clock and served by servers that each apply a change only
// after their own lag, as the servers of a real registry do.
//
// A Registry implements domainsemu.Registry: Route 53 Domains hands it the
// DS set of a registered domain when an operation succeeds.
package registry

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// Signing and TTL policy.
const (
	// InceptionSkew back-dates every signature so that a validator whose
	// clock is a little behind still accepts it.
	InceptionSkew = time.Hour
	// Validity is how long the registry's signatures last; the large TLDs
	// sign for one to two weeks.
	Validity = 14 * 24 * time.Hour
	// RefreshInterval is how old the signatures of a served zone may get
	// before it is signed again: a day, so that a validator always sees at
	// least Validity minus a day left.
	RefreshInterval = 24 * time.Hour
	// DelegationTTL is the TTL of delegation NS and glue records, the two
	// days the root and the large TLDs use.
	DelegationTTL = 172800
	// DSTTL is the TTL given to DS records handed in without one, the day
	// the large gTLD registries use.
	DSTTL = 86400
)

// ErrNotDelegated: a DS set for a domain the registry does not delegate.
var ErrNotDelegated = errors.New("registry: domain not delegated")

// Config describes a Registry.
type Config struct {
	Clock clock.Clock
	// Origin is the zone the registry runs ("test.", or "." for a root).
	Origin string
	// Records are the zone's fixed content: exactly one SOA, the apex NS,
	// the address records of its own name servers, and any other record,
	// including delegations that never change (NS, DS, glue). DNSSEC
	// records (DNSKEY, RRSIG, NSEC...) are ignored: the registry signs.
	Records []dns.RR
	// Keys sign the zone; none serves it unsigned.
	Keys []*authzone.Key
	// Servers serve the zone: the registry becomes their Answerer.
	Servers []*authserver.Server
	// BeforeAnswer, when set, runs before each answer, without locks held
	// (the local stack uses it to start the name servers of new hosted
	// zones before anyone asks the TLD for their addresses).
	BeforeAnswer func()
	// Validity and Refresh, when not 0, replace Validity and
	// RefreshInterval (a quarter of Validity, at most, when only Validity
	// is set): a stack on the real clock signs for minutes.
	Validity, Refresh time.Duration
	// MaxTTL, when not 0, caps every TTL of the zone (delegations, DS and
	// the base records), so that outside tools see changes within minutes.
	MaxTTL uint32
}

// Registry is a running registry zone. It is safe for concurrent use.
type Registry struct {
	clk          clock.Clock
	origin       string
	base         []dns.RR
	baseSerial   uint32
	keys         []*authzone.Key
	beforeAnswer func()
	validity     time.Duration
	refresh      time.Duration
	maxTTL       uint32

	mu       sync.Mutex
	versions []version // ascending in time; versions[0] is the initial state
	hosts    map[string][]netip.Addr
	hostsGen uint32
	servers  []*server
	built    map[buildKey]*builtZone
}

// version is the registry's delegations after one change.
type version struct {
	at          time.Time
	delegations map[string]delegation // by domain
}

type delegation struct {
	ns []string
	ds []*dns.DS
}

type server struct {
	srv *authserver.Server
	lag time.Duration
}

// buildKey names the content of one signed zone.
type buildKey struct {
	version  int
	hostsGen uint32
}

type builtZone struct {
	zone     *authzone.Zone
	signedAt time.Time
}

// New returns a registry serving cfg.Records on cfg.Servers, with no
// delegations beyond those in the records.
func New(cfg Config) (*Registry, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	r := &Registry{
		clk:          cfg.Clock,
		origin:       dns.CanonicalName(cfg.Origin),
		keys:         cfg.Keys,
		beforeAnswer: cfg.BeforeAnswer,
		validity:     Validity,
		refresh:      RefreshInterval,
		maxTTL:       cfg.MaxTTL,
		hosts:        map[string][]netip.Addr{},
		built:        map[buildKey]*builtZone{},
	}
	if cfg.Validity > 0 {
		r.validity = cfg.Validity
		r.refresh = min(r.refresh, cfg.Validity/4)
	}
	if cfg.Refresh > 0 {
		r.refresh = cfg.Refresh
	}
	if r.refresh >= r.validity {
		return nil, fmt.Errorf("registry: refresh %v must be shorter than validity %v", r.refresh, r.validity)
	}
	for _, rr := range cfg.Records {
		switch rr.Header().Rrtype {
		case dns.TypeDNSKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM:
			continue
		case dns.TypeSOA:
			r.baseSerial = rr.(*dns.SOA).Serial
		}
		r.base = append(r.base, dns.Copy(rr))
	}
	r.versions = []version{{delegations: map[string]delegation{}}}
	// Build once now, so that a bad base fails here rather than at a query.
	if _, err := r.build(buildKey{}, r.clk.Now()); err != nil {
		return nil, err
	}
	for _, s := range cfg.Servers {
		sv := &server{srv: s}
		r.servers = append(r.servers, sv)
		s.SetAnswerer(&answerer{r: r, s: sv})
	}
	return r, nil
}

// Origin returns the zone's origin.
func (r *Registry) Origin() string { return r.origin }

// Delegate sets the name servers of domain (a name below the origin) in the
// next version of the zone; none removes the delegation and its DS.
// Address records of in-bailiwick name servers come from SetHost.
func (r *Registry) Delegate(domain string, nameservers []string) error {
	domain, err := r.child(domain)
	if err != nil {
		return err
	}
	ns := make([]string, len(nameservers))
	for i, n := range nameservers {
		ns[i] = dns.CanonicalName(n)
		if _, ok := dns.IsDomainName(ns[i]); !ok {
			return fmt.Errorf("registry: delegate %s: bad name server %q", domain, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.latest().delegations[domain]
	if len(ns) == 0 {
		d = delegation{}
	}
	d.ns = ns
	r.change(domain, d)
	return nil
}

// SetDS replaces the DS set of domain in the next version of the zone
// (none: an insecure delegation). It implements domainsemu.Registry and
// fails with ErrNotDelegated for a domain without name servers here.
func (r *Registry) SetDS(domain string, ds []*dns.DS) error {
	domain, err := r.child(domain)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.latest().delegations[domain]
	if !ok || len(d.ns) == 0 {
		return fmt.Errorf("%w: %s", ErrNotDelegated, domain)
	}
	d.ds = make([]*dns.DS, len(ds))
	for i, x := range ds {
		c := dns.Copy(x).(*dns.DS)
		c.Hdr = dns.RR_Header{Name: domain, Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: x.Hdr.Ttl}
		if c.Hdr.Ttl == 0 {
			c.Hdr.Ttl = DSTTL
		}
		d.ds[i] = c
	}
	r.change(domain, d)
	return nil
}

// DS returns the DS set of domain in the latest version (what a server
// without lag serves).
func (r *Registry) DS(domain string) []*dns.DS {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*dns.DS
	for _, ds := range r.latest().delegations[dns.CanonicalName(domain)].ds {
		out = append(out, dns.Copy(ds).(*dns.DS))
	}
	return out
}

// SetHost publishes the address records of a name server host below the
// origin (the Route 53 name servers of the local stack) on every server at
// once: they are the registry's infrastructure, not a registrant's change.
// No address removes them.
func (r *Registry) SetHost(name string, addrs ...netip.Addr) error {
	name = dns.CanonicalName(name)
	if !dns.IsSubDomain(r.origin, name) || name == r.origin {
		return fmt.Errorf("registry: host %s is not below %s", name, r.origin)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Equal(r.hosts[name], addrs) {
		return nil
	}
	if len(addrs) == 0 {
		delete(r.hosts, name)
	} else {
		r.hosts[name] = slices.Clone(addrs)
	}
	r.hostsGen++
	return nil
}

// SetLag makes server i (in Config.Servers order) apply every later or
// earlier change only lag after it was made.
func (r *Registry) SetLag(i int, lag time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i < 0 || i >= len(r.servers) {
		return fmt.Errorf("registry: no server %d", i)
	}
	r.servers[i].lag = lag
	return nil
}

// Zone returns the zone server i serves now.
func (r *Registry) Zone(i int) (*authzone.Zone, error) {
	r.mu.Lock()
	if i < 0 || i >= len(r.servers) {
		r.mu.Unlock()
		return nil, fmt.Errorf("registry: no server %d", i)
	}
	sv := r.servers[i]
	r.mu.Unlock()
	return r.zoneFor(sv, r.clk.Now())
}

// Close stops answering through the registry: its servers go back to the
// zones they hold.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sv := range r.servers {
		sv.srv.SetAnswerer(nil)
	}
}

func (r *Registry) child(domain string) (string, error) {
	d := dns.CanonicalName(domain)
	if _, ok := dns.IsDomainName(d); !ok || !dns.IsSubDomain(r.origin, d) || d == r.origin {
		return "", fmt.Errorf("registry: %q is not a domain below %s", domain, r.origin)
	}
	return d, nil
}

// latest returns the newest version. Callers hold r.mu.
func (r *Registry) latest() version { return r.versions[len(r.versions)-1] }

// change appends a version with domain's delegation replaced. Callers
// hold r.mu.
func (r *Registry) change(domain string, d delegation) {
	next := version{at: r.clk.Now(), delegations: map[string]delegation{}}
	for k, v := range r.latest().delegations {
		next.delegations[k] = v
	}
	if len(d.ns) == 0 {
		delete(next.delegations, domain)
	} else {
		next.delegations[domain] = d
	}
	r.versions = append(r.versions, next)
}

// versionAt returns the index of the version a server with lag serves at
// now: the newest made at or before now-lag, the initial one otherwise.
// Callers hold r.mu.
func (r *Registry) versionAt(now time.Time, lag time.Duration) int {
	cut := now.Add(-lag)
	for i := len(r.versions) - 1; i > 0; i-- {
		if !r.versions[i].at.After(cut) {
			return i
		}
	}
	return 0
}

// zoneFor returns the signed zone sv serves at now, building and signing
// it when its content changed or its signatures are due for refresh.
func (r *Registry) zoneFor(sv *server, now time.Time) (*authzone.Zone, error) {
	r.mu.Lock()
	key := buildKey{version: r.versionAt(now, sv.lag), hostsGen: r.hostsGen}
	b := r.built[key]
	r.mu.Unlock()
	if b != nil && !now.Before(b.signedAt) && now.Sub(b.signedAt) < r.refresh {
		return b.zone, nil
	}
	return r.build(key, now)
}

// build makes and signs the zone of key at now and caches it.
func (r *Registry) build(key buildKey, now time.Time) (*authzone.Zone, error) {
	r.mu.Lock()
	rrs := r.records(key)
	r.mu.Unlock()
	z, err := authzone.New(r.origin, rrs)
	if err != nil {
		return nil, fmt.Errorf("registry: zone %s: %w", r.origin, err)
	}
	if len(r.keys) > 0 {
		err := z.Sign(authzone.SignOptions{
			Keys:       r.keys,
			Inception:  now.Add(-InceptionSkew),
			Expiration: now.Add(r.validity),
		})
		if err != nil {
			return nil, fmt.Errorf("registry: sign %s: %w", r.origin, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.built {
		if k.hostsGen != r.hostsGen || k.version < len(r.versions)-64 {
			delete(r.built, k) // content no server can serve any more
		}
	}
	r.built[key] = &builtZone{zone: z, signedAt: now}
	return z, nil
}

// records is the content of the zone for key. Callers hold r.mu.
func (r *Registry) records(key buildKey) []dns.RR {
	var out []dns.RR
	for _, rr := range r.base {
		rr = dns.Copy(rr)
		if soa, ok := rr.(*dns.SOA); ok {
			// Serial: one step per version and per host change.
			soa.Serial = r.baseSerial + uint32(key.version) + key.hostsGen
		}
		out = append(out, rr)
	}
	for name, addrs := range r.hosts {
		out = append(out, addressRecords(name, addrs)...)
	}
	for domain, d := range r.versions[key.version].delegations {
		for _, ns := range d.ns {
			out = append(out, &dns.NS{Hdr: hdr(domain, dns.TypeNS, DelegationTTL), Ns: ns})
		}
		for _, ds := range d.ds {
			out = append(out, dns.Copy(ds))
		}
	}
	if r.maxTTL > 0 {
		for _, rr := range out {
			if h := rr.Header(); h.Ttl > r.maxTTL {
				h.Ttl = r.maxTTL
			}
		}
	}
	return out
}

func addressRecords(name string, addrs []netip.Addr) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		if a.Is4() {
			out = append(out, &dns.A{Hdr: hdr(name, dns.TypeA, DelegationTTL), A: a.AsSlice()})
		} else {
			out = append(out, &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, DelegationTTL), AAAA: a.AsSlice()})
		}
	}
	return out
}

func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// answerer answers one server's queries from the zone it serves now.
type answerer struct {
	r *Registry
	s *server
}

func (a *answerer) Answer(req *dns.Msg) *dns.Msg {
	if a.r.beforeAnswer != nil {
		a.r.beforeAnswer()
	}
	z, err := a.r.zoneFor(a.s, a.r.clk.Now())
	if err != nil {
		return nil // SERVFAIL
	}
	return z.Answer(req)
}
