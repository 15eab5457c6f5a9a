package dnssec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/miekg/dns"
)

// Resolver policy numbers, each with the reason it has this value.
const (
	// DefaultMaxQueries bounds the queries one Resolve may send: a cold
	// five-level chain costs about ten, glueless name servers and a long CNAME
	// chain a few dozen more; anything beyond is a loop or an attack.
	DefaultMaxQueries = 200
	// MaxReferrals bounds the zone cuts followed for one name; real names cross
	// fewer than ten.
	MaxReferrals = 24
	// MaxCNAMEChain is the most CNAME records followed for one question
	// (unbound and BIND stop at 11 to 16).
	MaxCNAMEChain = 12
	// MaxNSLookupDepth bounds nested name-server address lookups for glueless
	// delegations whose name servers are themselves behind glueless delegations.
	MaxNSLookupDepth = 3
	// maxGluelessServers is how many glueless name servers get their addresses
	// looked up when a referral carries no glue: enough to survive one dead
	// server without spending the query budget on all of them.
	maxGluelessServers = 2
)

// Config configures a Resolver. The zero value resolves from the real root
// with the IANA trust anchors.
type Config struct {
	// Roots are the root server addresses; RootHints() when empty.
	Roots []netip.AddrPort
	// Port is used for server addresses learned from glue or lookups; 0 means
	// the port shared by all Roots if they share one, else 53 (local
	// hierarchies run every server on one high port).
	Port uint16
	// NSAddrs optionally maps name-server names to addresses, overriding glue
	// and lookups (for local hierarchies).
	NSAddrs map[string][]netip.AddrPort
	// Anchors are trust anchors, DS or DNSKEY records of any owner;
	// RootAnchors() when empty.
	Anchors []dns.RR
	// Now is the clock used for signature validity and cache expiry;
	// time.Now when nil.
	Now func() time.Time
	// Client is the transport; the zero value when nil.
	Client *dnsquery.Client
	// MaxQueries bounds the queries sent by one Resolve (and by each lookup of
	// LookupAddrs and ZoneCut); DefaultMaxQueries when zero.
	MaxQueries int
}

// Resolver is a validating iterative resolver: it follows referrals from the
// root servers and validates every zone cut (DS -> DNSKEY -> RRSIG), answers,
// CNAME chains, wildcard expansions and NSEC/NSEC3 denials. It caches RRsets,
// zone cuts and their verdicts on the injected clock. A Resolver is safe for
// concurrent use.
type Resolver struct {
	roots      []netip.AddrPort
	port       uint16
	nsAddrs    map[string][]netip.AddrPort
	anchors    map[string][]dns.RR // by canonical owner
	now        func() time.Time
	maxQueries int
	cache      *cache
	// exchange sends one query; it is the Client's Exchange (tests may wrap it).
	exchange func(ctx context.Context, addr netip.AddrPort, name string, qtype uint16) (*dns.Msg, error)
}

// NewResolver checks cfg and returns a Resolver.
func NewResolver(cfg Config) (*Resolver, error) {
	r := &Resolver{
		roots:      slices.Clone(cfg.Roots),
		port:       cfg.Port,
		nsAddrs:    map[string][]netip.AddrPort{},
		anchors:    map[string][]dns.RR{},
		now:        cfg.Now,
		maxQueries: cfg.MaxQueries,
		cache:      newCache(),
	}
	if len(r.roots) == 0 {
		r.roots = RootHints()
	}
	for _, a := range r.roots {
		if !a.IsValid() || a.Port() == 0 {
			return nil, fmt.Errorf("dnssec: resolver: invalid root address %s", a)
		}
	}
	if r.port == 0 {
		r.port = r.roots[0].Port()
		for _, a := range r.roots[1:] {
			if a.Port() != r.port {
				r.port = 53
				break
			}
		}
	}
	for name, addrs := range cfg.NSAddrs {
		if _, ok := dns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("dnssec: resolver: invalid name-server name %q", name)
		}
		r.nsAddrs[dns.CanonicalName(name)] = slices.Clone(addrs)
	}
	anchors := cfg.Anchors
	if len(anchors) == 0 {
		anchors = RootAnchors()
	}
	for _, a := range anchors {
		switch a.(type) {
		case *dns.DS, *dns.DNSKEY:
		default:
			return nil, fmt.Errorf("dnssec: resolver: trust anchor %s is not a DS or DNSKEY", a.Header().Name)
		}
		owner := dns.CanonicalName(a.Header().Name)
		r.anchors[owner] = append(r.anchors[owner], a)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.maxQueries <= 0 {
		r.maxQueries = DefaultMaxQueries
	}
	client := cfg.Client
	if client == nil {
		client = &dnsquery.Client{}
	}
	r.exchange = client.Exchange
	return r, nil
}

// Flush empties the cache.
func (r *Resolver) Flush() { r.cache.flush() }

// Link is one zone cut of a validation chain, from the trust anchor down.
type Link struct {
	Zone    string    // the zone below the cut
	DS      []*dns.DS // the DS RRset served by the parent, or the trust anchor (DNSKEY anchors shown as their SHA-256 DS)
	Anchor  bool      // the zone is trusted through a configured trust anchor rather than its parent
	KeyTags []uint16  // key tags of the zone's DNSKEY RRset, sorted
	Status  Status    // the zone's verdict: Secure when its DNSKEY set validated
	Reason  string    // why it is not Secure
}

// Result is the outcome of Resolve.
type Result struct {
	Name  string // the name asked, canonical
	Type  uint16 // the type asked
	Rcode int    // of the last answer in the chain; SERVFAIL when no server answered
	// Answer holds the answer RRsets including the CNAME chain, in chain
	// order (a CNAME synthesized from a DNAME is followed by that DNAME),
	// without RRSIGs; it is filled even when Status is Bogus (as with the CD
	// bit), so callers must check Status.
	Answer []dns.RR
	// RRSIGs holds the signatures that came with the Answer RRsets.
	RRSIGs []*dns.RRSIG
	Status Status
	// Reason is empty for Secure; otherwise it names the zone, the record and
	// the check, e.g. "example.test. DNSKEY: no DS matches a DNSKEY that signs
	// the set (...)".
	Reason string
	Zone   string // the zone that gave the last answer
	Chain  []Link // the zone cuts from the trust anchor down to Zone
}

// merge folds the verdict of one link of a CNAME chain into the result: the
// worst verdict wins (bogus, then indeterminate, then insecure), keeping the
// first reason given for it.
func (res *Result) merge(s Status, reason string) {
	if severity(s) > severity(res.Status) {
		res.Status, res.Reason = s, reason
	}
}

func severity(s Status) int {
	switch s {
	case Secure:
		return 0
	case Insecure:
		return 1
	case Indeterminate:
		return 2
	default:
		return 3
	}
}

// ErrBadQuery is wrapped by Resolve errors for invalid input.
var ErrBadQuery = errors.New("invalid query")

// Resolve looks up name/qtype iteratively from the roots and validates the
// answer. Its error is only for invalid input or a cancelled context; server
// trouble gives a Result with Status Indeterminate and a reason naming the
// zone and the servers.
func (r *Resolver) Resolve(ctx context.Context, name string, qtype uint16) (*Result, error) {
	cname, err := checkName(name)
	if err != nil {
		return nil, err
	}
	switch qtype {
	case 0, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeMAILA, dns.TypeMAILB, dns.TypeTSIG, dns.TypeTKEY:
		return nil, fmt.Errorf("dnssec: resolve %s: %w: type %s is not a data type", cname, ErrBadQuery, typeString(qtype))
	}
	res := r.newRun(0).resolve(ctx, cname, qtype)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dnssec: resolve %s %s: %w", cname, typeString(qtype), err)
	}
	return res, nil
}

func checkName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("dnssec: resolve: %w: empty name", ErrBadQuery)
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("dnssec: resolve: %w: %q is not a domain name", ErrBadQuery, name)
	}
	return dns.CanonicalName(name), nil
}

// LookupAddrs returns the IPv4 and IPv6 addresses of host (following
// CNAMEs), whatever their validation verdict: it serves to reach name
// servers, whose answers are checked on their own. It fails when no address
// is found.
func (r *Resolver) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	cname, err := checkName(host)
	if err != nil {
		return nil, err
	}
	q := r.newRun(0)
	addrs, why := q.lookupAddrs(ctx, cname)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dnssec: lookup %s: %w", cname, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("dnssec: lookup %s: no address (%s)", cname, why)
	}
	return addrs, nil
}

// run is the state of one top-level call: the clock reading, the query
// budget and the servers found dead, shared by the nested lookups of
// name-server addresses.
type run struct {
	r     *Resolver
	now   time.Time
	b     *budget
	depth int // nesting of name-server address lookups
}

type budget struct {
	queries int
	dead    map[netip.AddrPort]bool // servers that did not answer during this run
}

func (r *Resolver) newRun(depth int) *run {
	return &run{r: r, now: r.now(), b: &budget{dead: map[netip.AddrPort]bool{}}, depth: depth}
}

func (q *run) nested() *run { return &run{r: q.r, now: q.now, b: q.b, depth: q.depth + 1} }

// resolve follows the CNAME chain from name, looking each link up.
func (q *run) resolve(ctx context.Context, name string, qtype uint16) *Result {
	res := &Result{Name: name, Type: qtype, Status: Secure}
	seen := map[string]bool{name: true}
	cur := name
	for hops := 0; ; hops++ {
		e := q.lookup(ctx, cur, qtype)
		for _, rr := range e.rrs {
			res.Answer = append(res.Answer, dns.Copy(rr))
		}
		for _, s := range e.sigs {
			res.RRSIGs = append(res.RRSIGs, dns.Copy(s).(*dns.RRSIG))
		}
		res.merge(e.status, e.reason)
		res.Rcode = e.rcode
		if e.zone != nil {
			res.Zone, res.Chain = e.zone.name, copyChain(e.zone.chain)
		}
		target := cnameTarget(e, qtype)
		if target == "" {
			break
		}
		if hops >= MaxCNAMEChain {
			res.merge(Indeterminate, recordReason(cur, dns.TypeCNAME, "", fmt.Sprintf("more than %d CNAMEs", MaxCNAMEChain)))
			res.Rcode = dns.RcodeServerFailure
			break
		}
		if seen[target] {
			res.merge(Indeterminate, recordReason(cur, dns.TypeCNAME, "", fmt.Sprintf("CNAME loop back to %s", target)))
			res.Rcode = dns.RcodeServerFailure
			break
		}
		seen[target] = true
		cur = target
	}
	if res.Status == Secure {
		res.Reason = ""
	}
	return res
}

// copyChain deep-copies a cached chain for a caller.
func copyChain(chain []Link) []Link {
	out := make([]Link, len(chain))
	for i, l := range chain {
		out[i] = l
		out[i].KeyTags = slices.Clone(l.KeyTags)
		out[i].DS = make([]*dns.DS, len(l.DS))
		for j, ds := range l.DS {
			out[i].DS[j] = dns.Copy(ds).(*dns.DS)
		}
	}
	return out
}

// cnameTarget returns where the chain goes on from e: the target of its
// CNAME (which comes first, before the DNAME it may have been synthesized
// from), or "" at the end of the chain.
func cnameTarget(e *entry, qtype uint16) string {
	if qtype == dns.TypeCNAME || len(e.rrs) == 0 {
		return ""
	}
	if c, ok := e.rrs[0].(*dns.CNAME); ok {
		return dns.CanonicalName(c.Target)
	}
	return ""
}

// lookupAddrs resolves host's A and AAAA RRsets; why summarises the failures
// when there is no address.
func (q *run) lookupAddrs(ctx context.Context, host string) (addrs []netip.Addr, why string) {
	var whys []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		res := q.resolve(ctx, host, t)
		n := len(addrs)
		for _, rr := range res.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
					addrs = append(addrs, a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
					addrs = append(addrs, a)
				}
			}
		}
		if len(addrs) == n {
			w := fmt.Sprintf("%s: %s", typeString(t), dns.RcodeToString[res.Rcode])
			if res.Status == Indeterminate || res.Status == Bogus {
				w += " " + res.Status.String() + ": " + res.Reason
			}
			whys = append(whys, w)
		}
	}
	return addrs, joinReasons(whys)
}
