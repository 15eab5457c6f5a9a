// Package observe asks every address of every parent and authoritative name
// server of a zone what it serves: DS (with its RRSIG) at each parent server,
// DNSKEY, SOA and the apex NS set at each zone server. It is the evidence the
// safety gates stand on, so it never reports "absent" or "agree" on
// incomplete evidence: a timeout, REFUSED, SERVFAIL, lame or malformed answer
// is Unknown, and an aggregate over a set that holds an Unknown row is Unknown
// unless the known rows already decide it.
package observe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/miekg/dns"
)

// Policy numbers, each with the reason it has this value.
const (
	// DefaultConcurrency bounds the queries in flight: a zone has a handful of
	// parent and zone servers with one or two addresses each, so 16 queries
	// them all in one round without flooding anyone.
	DefaultConcurrency = 16
	// staggerDelay is how long discovery waits for one server before also
	// asking the next: well above a normal round trip, well below the query
	// timeout, so a dead server costs discovery little.
	staggerDelay = 300 * time.Millisecond
	// maxReferrals bounds the referrals followed for one name (one per label
	// in any sane tree).
	maxReferrals = 16
	// maxDepth bounds nested look-ups of glue-less name server names.
	maxDepth = 4
	// maxRounds bounds how often newly learned NS names (from other parent
	// servers or from the apex NS sets) are resolved and queried.
	maxRounds = 3
	// maxNames bounds the name servers per zone: more is a broken or hostile
	// delegation, not something to query exhaustively.
	maxNames = 32
)

// AddrResolver finds the addresses of a name server name. *dnssec.Resolver
// satisfies it.
type AddrResolver interface {
	LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error)
}

// Config configures an Observer. The zero value observes the real DNS from the
// IANA root hints.
type Config struct {
	// Roots are the root server addresses to start from; the IANA root hints
	// when empty.
	Roots []netip.AddrPort
	// Port is the port of addresses learned from glue or look-ups; 53 when
	// zero. A local hierarchy puts every server on its own 127.x.y.z address
	// with one shared port.
	Port uint16
	// NSAddrs maps name server names to the addresses to query instead of
	// their glue or looked-up addresses.
	NSAddrs map[string][]netip.AddrPort
	// Client sends the queries; a zero dnsquery.Client when nil.
	Client *dnsquery.Client
	// Now is the clock that stamps a Snapshot; time.Now when nil.
	Now func() time.Time
	// Resolver finds the addresses of name server names that come without
	// glue; when nil, the Observer follows referrals from Roots itself.
	Resolver AddrResolver
	// Concurrency bounds the queries in flight; DefaultConcurrency when zero.
	Concurrency int
	// IPv4Only leaves out IPv6 root, glue and looked-up addresses, for hosts
	// without IPv6 connectivity (where every IPv6 row would be Unknown). A
	// name server left without an address is still an Unknown row.
	IPv4Only bool
}

// Observer observes zones. It is safe for concurrent use.
type Observer struct {
	roots       []netip.AddrPort
	port        uint16
	nsAddrs     map[string][]netip.AddrPort
	client      *dnsquery.Client
	now         func() time.Time
	resolver    AddrResolver
	concurrency int
	ipv4Only    bool
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Observer, error) {
	o := &Observer{
		roots:       cfg.Roots,
		port:        cfg.Port,
		nsAddrs:     map[string][]netip.AddrPort{},
		client:      cfg.Client,
		now:         cfg.Now,
		resolver:    cfg.Resolver,
		concurrency: cfg.Concurrency,
		ipv4Only:    cfg.IPv4Only,
	}
	if len(o.roots) == 0 {
		o.roots = dnssec.RootHints()
	}
	if o.ipv4Only {
		var v4 []netip.AddrPort
		for _, a := range o.roots {
			if a.Addr().Unmap().Is4() {
				v4 = append(v4, a)
			}
		}
		if len(v4) == 0 {
			return nil, errors.New("observe: IPv4Only is set and no root address is IPv4")
		}
		o.roots = v4
	}
	for _, a := range o.roots {
		if !a.IsValid() || a.Port() == 0 {
			return nil, fmt.Errorf("observe: root address %q is not an address and port", a)
		}
	}
	if o.port == 0 {
		o.port = 53
	}
	for name, addrs := range cfg.NSAddrs {
		if _, ok := dns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("observe: name server %q is not a domain name", name)
		}
		for _, a := range addrs {
			if !a.IsValid() || a.Port() == 0 {
				return nil, fmt.Errorf("observe: name server %s: address %q is not an address and port", name, a)
			}
		}
		o.nsAddrs[dns.CanonicalName(name)] = addrs
	}
	if o.client == nil {
		o.client = &dnsquery.Client{}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.concurrency < 0 {
		return nil, fmt.Errorf("observe: concurrency %d is negative", o.concurrency)
	}
	if o.concurrency == 0 {
		o.concurrency = DefaultConcurrency
	}
	return o, nil
}

// NotDelegatedError says that the parent servers answered authoritatively
// that the zone is not delegated (or does not exist).
type NotDelegatedError struct {
	Zone   string // the zone asked for
	Parent string // the closest enclosing zone found
	Reason string // NXDOMAIN or NODATA
}

func (e *NotDelegatedError) Error() string {
	return fmt.Sprintf("observe: %s is not delegated by %s (%s): create the delegation in the parent zone first", e.Zone, e.Parent, e.Reason)
}

// Observe finds the parent servers and the zone servers of zone and queries
// every address of each. It returns an error only when it could not find
// them (no server on the way answered, or the zone is not delegated:
// *NotDelegatedError); servers that do not answer are Unknown rows.
func (o *Observer) Observe(ctx context.Context, zone string) (*Snapshot, error) {
	if _, ok := dns.IsDomainName(zone); !ok {
		return nil, fmt.Errorf("observe: %q is not a domain name", zone)
	}
	zone = dns.CanonicalName(zone)
	if zone == "." {
		return nil, errors.New("observe: the root zone has no parent to hold a DS")
	}
	r := &run{o: o, sem: make(chan struct{}, o.concurrency), cuts: map[string]*cut{}}
	r.cuts["."] = &cut{name: ".", addrs: o.roots}
	snap := &Snapshot{Zone: zone, Time: o.now()}

	d, err := r.discover(ctx, zone)
	if err != nil {
		return nil, err
	}
	snap.Parent = d.parent.name
	snap.Problems = append(snap.Problems, d.problems...)
	r.observe(ctx, snap, d)
	snap.Queries = int(r.queries.Load())
	return snap, nil
}

// cut is a zone cut met on the way down: its name, the NS names and glue
// of the referral into it, and the addresses to ask.
type cut struct {
	name  string
	ns    []string
	glue  map[string][]dns.RR
	addrs []netip.AddrPort
}

// run holds the state of one Observe.
type run struct {
	o       *Observer
	sem     chan struct{}
	queries atomic.Int64

	mu   sync.Mutex
	cuts map[string]*cut // zone cuts learned by following referrals
}

// exchange sends one query, holding a worker slot while it is in flight.
func (r *run) exchange(ctx context.Context, addr netip.AddrPort, name string, qtype uint16) (*dns.Msg, error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("observe: %s %s @%s: %w", name, dns.TypeToString[qtype], addr, ctx.Err())
	}
	defer func() { <-r.sem }()
	r.queries.Add(1)
	return r.o.client.Exchange(ctx, addr, name, qtype)
}

// nameServer is one name server name to be queried.
type nameServer struct {
	name             string
	addrs            []netip.AddrPort
	err              error // why addrs is empty
	delegation, apex bool
}

// addresses finds every address of every name: overrides, then glue, then
// look-ups (in parallel).
func (r *run) addresses(ctx context.Context, servers []*nameServer, glue ...map[string][]dns.RR) {
	var wg sync.WaitGroup
	for _, s := range servers {
		if a, ok := r.o.nsAddrs[s.name]; ok {
			s.addrs = a
			continue
		}
		for _, g := range glue {
			s.addrs = append(s.addrs, r.withPort(g[s.name])...)
		}
		if len(s.addrs) > 0 {
			s.addrs = uniqAddrs(s.addrs)
			continue
		}
		wg.Go(func() {
			ips, err := r.lookup(ctx, s.name, 0)
			if err == nil && len(ips) == 0 {
				err = fmt.Errorf("observe: %s has no A or AAAA record", s.name)
			}
			s.addrs = uniqAddrs(r.learned(ips))
			if err == nil && len(s.addrs) == 0 {
				err = fmt.Errorf("observe: %s has only IPv6 addresses and IPv4Only is set", s.name)
			}
			s.err = err
		})
	}
	wg.Wait()
}

func uniqAddrs(a []netip.AddrPort) []netip.AddrPort {
	sort.Slice(a, func(i, j int) bool { return a[i].Compare(a[j]) < 0 })
	out := a[:0]
	for i, v := range a {
		if i == 0 || v != a[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// rows turns name servers into rows, one per address (one address-less row
// for a name without addresses).
func rows(servers []*nameServer) []*ServerResult {
	var out []*ServerResult
	for _, s := range servers {
		if len(s.addrs) == 0 {
			out = append(out, &ServerResult{Name: s.name, Delegation: s.delegation, Apex: s.apex})
			continue
		}
		for _, a := range s.addrs {
			out = append(out, &ServerResult{Name: s.name, Addr: a, Delegation: s.delegation, Apex: s.apex})
		}
	}
	return out
}

// noAddress marks every RRset of an address-less row Unknown.
func noAddress(row *ServerResult, s *nameServer, types ...uint16) {
	detail := "no address found"
	if s.err != nil {
		detail = s.err.Error()
	}
	for _, t := range types {
		set := unknown(ReasonNoAddress, "%s", detail)
		switch t {
		case dns.TypeDS:
			row.DS = set
		case dns.TypeNS:
			row.NS = set
		case dns.TypeDNSKEY:
			row.DNSKEY = set
		case dns.TypeSOA:
			row.SOA = set
		}
	}
}

// observe queries every parent and zone server address and fills snap.
func (r *run) observe(ctx context.Context, snap *Snapshot, d *discovery) {
	zone, parent := snap.Zone, d.parent.name

	// Parent servers: the delegation's names and the parent's apex names.
	pServers := map[string]*nameServer{}
	var pList []*nameServer
	addName := func(m map[string]*nameServer, list *[]*nameServer, name string) *nameServer {
		if s, ok := m[name]; ok {
			return s
		}
		s := &nameServer{name: name}
		m[name] = s
		*list = append(*list, s)
		return s
	}
	for _, n := range d.parent.ns {
		addName(pServers, &pList, n).delegation = true
	}
	for _, n := range d.parentNS {
		addName(pServers, &pList, n).apex = true
	}
	if d.rootHints {
		for _, a := range r.o.roots {
			s := addName(pServers, &pList, "root hint "+a.String())
			s.addrs = []netip.AddrPort{a}
		}
	}
	if len(pList) > maxNames {
		snap.Problems = append(snap.Problems, fmt.Sprintf("%s has %d name servers: querying the first %d", parent, len(pList), maxNames))
		pList = pList[:maxNames]
	}
	r.addresses(ctx, pList, d.parent.glue, d.apexGlue)
	pRows := rows(pList)

	var mu sync.Mutex
	var parentGlue []map[string][]dns.RR // glue of every parent server's referral
	var wg sync.WaitGroup
	for _, row := range pRows {
		if !row.Addr.IsValid() {
			noAddress(row, pServers[row.Name], dns.TypeDS, dns.TypeNS)
			continue
		}
		wg.Go(func() {
			resp, err := r.exchange(ctx, row.Addr, zone, dns.TypeDS)
			row.DS = authAnswer(resp, err, parent, zone, dns.TypeDS)
		})
		wg.Go(func() {
			resp, err := r.exchange(ctx, row.Addr, zone, dns.TypeNS)
			set, glue := referral(resp, err, parent, zone)
			row.NS = set
			mu.Lock()
			parentGlue = append(parentGlue, glue)
			mu.Unlock()
		})
	}

	// Zone servers: the delegation's names, then every name learned from the
	// other parent servers and the apex NS sets, in rounds.
	zServers := map[string]*nameServer{}
	var zList []*nameServer
	var zRows []*ServerResult
	queryZone := func(fresh []*nameServer, glue []map[string][]dns.RR) {
		r.addresses(ctx, fresh, glue...)
		newRows := rows(fresh)
		zRows = append(zRows, newRows...)
		var zwg sync.WaitGroup
		for _, row := range newRows {
			if !row.Addr.IsValid() {
				noAddress(row, zServers[row.Name], dns.TypeDNSKEY, dns.TypeSOA, dns.TypeNS)
				continue
			}
			zwg.Go(func() {
				resp, err := r.exchange(ctx, row.Addr, zone, dns.TypeDNSKEY)
				row.DNSKEY = authAnswer(resp, err, zone, zone, dns.TypeDNSKEY)
			})
			zwg.Go(func() {
				resp, err := r.exchange(ctx, row.Addr, zone, dns.TypeSOA)
				row.SOA = authAnswer(resp, err, zone, zone, dns.TypeSOA)
				if soa := soaOf(row.SOA); soa != nil {
					row.Serial = soa.Serial
				}
			})
			zwg.Go(func() {
				resp, err := r.exchange(ctx, row.Addr, zone, dns.TypeNS)
				row.NS = authAnswer(resp, err, zone, zone, dns.TypeNS)
			})
		}
		zwg.Wait()
	}
	var fresh []*nameServer
	for _, n := range d.zoneNS {
		s := addName(zServers, &zList, n)
		s.delegation = true
		fresh = append(fresh, s)
	}
	// The first round runs while the parent servers are being asked.
	queryZone(fresh, []map[string][]dns.RR{d.zoneGlue})
	wg.Wait()
	glue := append([]map[string][]dns.RR{d.zoneGlue}, parentGlue...)

	for range maxRounds {
		fresh = nil
		learn := func(names []string, delegation bool) {
			for _, n := range names {
				s, ok := zServers[n]
				if !ok {
					if len(zList) >= maxNames {
						continue
					}
					s = addName(zServers, &zList, n)
					fresh = append(fresh, s)
				}
				if delegation {
					s.delegation = true
				} else {
					s.apex = true
				}
			}
		}
		for _, row := range pRows {
			learn(nsNames(row.NS), true)
		}
		for _, row := range zRows {
			learn(nsNames(row.NS), false)
		}
		if len(fresh) == 0 {
			break
		}
		queryZone(fresh, glue)
	}
	// Flags may have changed after rows were made.
	for _, row := range zRows {
		if s := zServers[row.Name]; s != nil {
			row.Delegation, row.Apex = s.delegation, s.apex
		}
	}

	snap.ParentServers = sortRows(pRows)
	snap.ZoneServers = sortRows(zRows)
	snap.DelegationNS = unionNS(snap.ParentServers)
	snap.ApexNS = unionNS(snap.ZoneServers)
	snap.Problems = append(snap.Problems, problems(snap)...)
}

func sortRows(rows []*ServerResult) []ServerResult {
	out := make([]ServerResult, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Addr.Compare(out[j].Addr) < 0
	})
	return out
}

func unionNS(rows []ServerResult) []string {
	var all []string
	for _, r := range rows {
		all = append(all, nsNames(r.NS)...)
	}
	return uniq(all)
}

// problems lists what a person should look at.
func problems(s *Snapshot) []string {
	var out []string
	for _, r := range s.ParentServers {
		switch {
		case r.NS != nil && r.NS.State == Absent:
			out = append(out, fmt.Sprintf("parent server %s has no delegation for %s (%s)", describe(r), s.Zone, r.NS.Reason))
		case r.DS != nil && r.DS.Reason == ReasonNoAddress:
			out = append(out, fmt.Sprintf("parent name server %s has no address: %s", describe(r), r.DS.Detail))
		case r.DS != nil && r.DS.Reason == ReasonNotAuthoritative:
			out = append(out, fmt.Sprintf("parent server %s is lame: not authoritative for %s", describe(r), s.Parent))
		}
	}
	for _, r := range s.ZoneServers {
		switch {
		case r.SOA != nil && r.SOA.Reason == ReasonNoAddress:
			out = append(out, fmt.Sprintf("name server %s has no address: %s", describe(r), r.SOA.Detail))
		case r.SOA != nil && r.SOA.Reason == ReasonNotAuthoritative:
			out = append(out, fmt.Sprintf("name server %s is lame: not authoritative for %s", describe(r), s.Zone))
		}
	}
	if d := differentSets(s.ParentServers, func(r ServerResult) ([]string, bool) {
		return nsNames(r.NS), r.NS != nil && r.NS.State == OK
	}); d > 1 {
		out = append(out, fmt.Sprintf("parent servers refer to %d different NS sets for %s", d, s.Zone))
	}
	if d := differentSets(s.ZoneServers, func(r ServerResult) ([]string, bool) {
		return nsNames(r.NS), r.NS != nil && r.NS.State == OK
	}); d > 1 {
		out = append(out, fmt.Sprintf("zone servers serve %d different apex NS sets", d))
	}
	if len(s.DelegationNS) > 0 && len(s.ApexNS) > 0 {
		if only := minus(s.DelegationNS, s.ApexNS); len(only) > 0 {
			out = append(out, fmt.Sprintf("NS in the delegation but not in the apex NS set: %s", strings.Join(only, ", ")))
		}
		if only := minus(s.ApexNS, s.DelegationNS); len(only) > 0 {
			out = append(out, fmt.Sprintf("NS in the apex NS set but not in the delegation: %s", strings.Join(only, ", ")))
		}
	}
	if d := differentSets(s.ParentServers, func(r ServerResult) ([]string, bool) {
		return dsKeys(dsOf(r.DS)), r.DS != nil && r.DS.State != Unknown
	}); d > 1 {
		out = append(out, fmt.Sprintf("parent servers serve %d different DS sets", d))
	}
	if d := differentSets(s.ZoneServers, func(r ServerResult) ([]string, bool) {
		return dnskeyKeys(dnskeysOf(r.DNSKEY)), r.DNSKEY != nil && r.DNSKEY.State != Unknown
	}); d > 1 {
		out = append(out, fmt.Sprintf("zone servers serve %d different DNSKEY sets", d))
	}
	if d := differentSets(s.ZoneServers, func(r ServerResult) ([]string, bool) {
		return []string{fmt.Sprint(r.Serial)}, r.SOA != nil && r.SOA.State == OK
	}); d > 1 {
		out = append(out, fmt.Sprintf("zone servers serve %d different SOA serials", d))
	}
	return out
}

// differentSets counts the distinct sets among the rows that have one.
func differentSets(rows []ServerResult, set func(ServerResult) ([]string, bool)) int {
	seen := map[string]bool{}
	for _, r := range rows {
		if s, ok := set(r); ok {
			seen[strings.Join(s, " ")] = true
		}
	}
	return len(seen)
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, v := range b {
		in[v] = true
	}
	var out []string
	for _, v := range a {
		if !in[v] {
			out = append(out, v)
		}
	}
	return out
}
