package authzone

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// node holds the RRsets of one owner name and their signatures.
type node struct {
	sets map[uint16][]dns.RR
	sigs map[uint16][]*dns.RRSIG // by type covered
}

func newNode() *node {
	return &node{sets: map[uint16][]dns.RR{}, sigs: map[uint16][]*dns.RRSIG{}}
}

func (n *node) clone() *node {
	c := newNode()
	for t, set := range n.sets {
		c.sets[t] = copyRRs(set)
	}
	for t, sigs := range n.sigs {
		c.sigs[t] = copySigs(sigs)
	}
	return c
}

// Zone is one DNS zone: its records, and once Sign has run, its DNSSEC
// records. A Zone is safe for concurrent use: servers call Answer while
// tests mutate it.
type Zone struct {
	mu     sync.RWMutex
	origin string
	nodes  map[string]*node // by lower-cased owner name; NSEC3 records are in nsec3

	// Derived from nodes by index.
	ents map[string]bool // empty non-terminals

	// Set by Sign.
	signed      bool
	opts        SignOptions
	nsecNames   []string         // NSEC chain, canonical order
	nsec3       map[string]*node // NSEC3 RRsets by lower-cased hashed owner name
	nsec3Hashes []string         // upper-case base32hex hashes, sorted

	denied map[string]map[uint16]bool // Deny: (name, type) answered as NODATA
	hook   AnswerHook
}

// Parse builds a zone for origin from zone-file text (relative names are
// relative to origin). See New for what the records must satisfy.
func Parse(origin, text string) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("authzone: parse %s: %w", origin, err)
	}
	return New(origin, rrs)
}

// MustParse is Parse for tests and fixed setups; it panics on error.
func MustParse(origin, text string) *Zone {
	z, err := Parse(origin, text)
	if err != nil {
		panic(err)
	}
	return z
}

// New builds a zone for origin from unsigned records: every record must be
// of class IN at or below origin, and there must be exactly one SOA, at
// origin. DNSSEC records (DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM) are made by
// Sign and refused here; DS records belong at delegations. Records of one
// RRset get the smallest TTL among them (RFC 2181 section 5.2).
func New(origin string, rrs []dns.RR) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	z := &Zone{origin: origin, nodes: map[string]*node{}}
	for _, rr := range rrs {
		if err := z.add(rr); err != nil {
			return nil, err
		}
	}
	soa := z.nodes[origin]
	if soa == nil || len(soa.sets[dns.TypeSOA]) != 1 {
		return nil, fmt.Errorf("authzone: %s: need exactly one SOA at the origin", origin)
	}
	for name, n := range z.nodes {
		if name != origin && len(n.sets[dns.TypeSOA]) > 0 {
			return nil, fmt.Errorf("authzone: %s: SOA at %s, below the origin", origin, name)
		}
	}
	z.index()
	return z, nil
}

func (z *Zone) add(rr dns.RR) error {
	h := rr.Header()
	name := dns.CanonicalName(h.Name)
	switch {
	case h.Class != dns.ClassINET:
		return fmt.Errorf("authzone: %s: record %q: class must be IN", z.origin, rr)
	case !dns.IsSubDomain(z.origin, name):
		return fmt.Errorf("authzone: %s: record %q is outside the zone", z.origin, rr)
	}
	switch h.Rrtype {
	case dns.TypeDNSKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM:
		return fmt.Errorf("authzone: %s: record %q: DNSSEC records are made by Sign", z.origin, rr)
	case dns.TypeDS:
		if name == z.origin {
			return fmt.Errorf("authzone: %s: DS at the origin belongs in the parent zone", z.origin)
		}
	}
	rr = dns.Copy(rr)
	rr.Header().Name = name
	n := z.nodes[name]
	if n == nil {
		n = newNode()
		z.nodes[name] = n
	}
	set := n.sets[h.Rrtype]
	for _, old := range set {
		if dns.IsDuplicate(old, rr) {
			return nil
		}
	}
	set = append(set, rr)
	ttl := set[0].Header().Ttl
	for _, r := range set {
		ttl = min(ttl, r.Header().Ttl)
	}
	for _, r := range set {
		r.Header().Ttl = ttl
	}
	n.sets[h.Rrtype] = set
	return nil
}

// index recomputes the empty non-terminals. Call with mu held for writing.
func (z *Zone) index() {
	z.ents = map[string]bool{}
	for name, n := range z.nodes {
		if len(n.sets) == 0 || z.occluded(name) {
			continue
		}
		for _, a := range ancestors(z.origin, name) {
			if _, ok := z.nodes[a]; !ok {
				z.ents[a] = true
			}
		}
	}
}

// Origin returns the zone's origin, lower-cased and fully qualified.
func (z *Zone) Origin() string { return z.origin }

// SOA returns a copy of the zone's SOA record.
func (z *Zone) SOA() *dns.SOA {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return dns.Copy(z.nodes[z.origin].sets[dns.TypeSOA][0]).(*dns.SOA)
}

// Signed reports whether Sign has run on the zone.
func (z *Zone) Signed() bool {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.signed
}

// isCut reports whether name is a delegation point (NS below the origin).
// Call with mu held.
func (z *Zone) isCut(name string) bool {
	if name == z.origin {
		return false
	}
	n := z.nodes[name]
	return n != nil && len(n.sets[dns.TypeNS]) > 0
}

// cutAbove returns the topmost delegation point at or above name, or "".
// Call with mu held.
func (z *Zone) cutAbove(name string) string {
	for _, a := range append(ancestors(z.origin, name), name) {
		if a != z.origin && z.isCut(a) {
			return a
		}
	}
	return ""
}

// occluded reports whether name is below a delegation point (glue, or data
// hidden by the cut). Call with mu held.
func (z *Zone) occluded(name string) bool {
	for _, a := range ancestors(z.origin, name) {
		if z.isCut(a) {
			return true
		}
	}
	return false
}

// exists reports whether name owns authoritative data or a delegation, or
// is an empty non-terminal. Call with mu held.
func (z *Zone) exists(name string) bool {
	if z.ents[name] {
		return true
	}
	n := z.nodes[name]
	return n != nil && len(n.sets) > 0 && !z.occluded(name)
}

// RRset returns a copy of the RRset of the given type at name (an NSEC3
// RRset when name is a hashed owner name), or nil.
func (z *Zone) RRset(name string, rrtype uint16) []dns.RR {
	z.mu.RLock()
	defer z.mu.RUnlock()
	n := z.owner(name)
	if n == nil {
		return nil
	}
	return copyRRs(n.sets[rrtype])
}

// RRSIGs returns copies of the signatures over the RRset of the given type at
// name.
func (z *Zone) RRSIGs(name string, covered uint16) []*dns.RRSIG {
	z.mu.RLock()
	defer z.mu.RUnlock()
	n := z.owner(name)
	if n == nil {
		return nil
	}
	return copySigs(n.sigs[covered])
}

// owner returns the node of name, looking at NSEC3 owners too. Call with mu
// held.
func (z *Zone) owner(name string) *node {
	name = dns.CanonicalName(name)
	if n := z.nodes[name]; n != nil {
		return n
	}
	return z.nsec3[name]
}

// Add adds records to the zone. Call Sign again to sign them and rebuild
// the NSEC or NSEC3 chain.
func (z *Zone) Add(rrs ...dns.RR) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, rr := range rrs {
		if err := z.add(rr); err != nil {
			return err
		}
	}
	z.index()
	return nil
}

// SetRRset replaces the RRset of the given type at name with rrs (which must
// all have that owner and type); an empty rrs removes it. Its signatures
// are removed: call ResignRRset, or Sign to also rebuild the denial chain.
func (z *Zone) SetRRset(name string, rrtype uint16, rrs ...dns.RR) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	name = dns.CanonicalName(name)
	if rrtype == dns.TypeSOA && len(rrs) != 1 {
		return fmt.Errorf("authzone: %s: SOA RRset must have one record", z.origin)
	}
	for _, rr := range rrs {
		if h := rr.Header(); dns.CanonicalName(h.Name) != name || h.Rrtype != rrtype {
			return fmt.Errorf("authzone: %s: record %q is not a %s at %s", z.origin, rr, dns.TypeToString[rrtype], name)
		}
	}
	if n := z.owner(name); n != nil {
		delete(n.sets, rrtype)
		delete(n.sigs, rrtype)
		if len(n.sets) == 0 && z.nodes[name] == n {
			delete(z.nodes, name)
		}
	}
	for _, rr := range rrs {
		if rrtype == dns.TypeNSEC || rrtype == dns.TypeNSEC3 || rrtype == dns.TypeDNSKEY || rrtype == dns.TypeNSEC3PARAM {
			// Tests may set DNSSEC records by hand.
			n := z.owner(name)
			if n == nil {
				n = newNode()
				z.nodes[name] = n
			}
			n.sets[rrtype] = append(n.sets[rrtype], dns.Copy(rr))
			continue
		}
		if err := z.add(rr); err != nil {
			return err
		}
	}
	z.index()
	return nil
}

// Clone returns a deep copy of the zone (without its answer hook), for a
// server that serves older or different content than its siblings.
func (z *Zone) Clone() *Zone {
	z.mu.RLock()
	defer z.mu.RUnlock()
	c := &Zone{
		origin:      z.origin,
		nodes:       map[string]*node{},
		ents:        map[string]bool{},
		signed:      z.signed,
		opts:        z.opts,
		nsecNames:   slices.Clone(z.nsecNames),
		nsec3:       map[string]*node{},
		nsec3Hashes: slices.Clone(z.nsec3Hashes),
		denied:      map[string]map[uint16]bool{},
	}
	c.opts.Keys = slices.Clone(z.opts.Keys)
	c.opts.Publish = slices.Clone(z.opts.Publish)
	for name, n := range z.nodes {
		c.nodes[name] = n.clone()
	}
	for name := range z.ents {
		c.ents[name] = true
	}
	for name, n := range z.nsec3 {
		c.nsec3[name] = n.clone()
	}
	for name, types := range z.denied {
		c.denied[name] = map[uint16]bool{}
		for t := range types {
			c.denied[name][t] = true
		}
	}
	return c
}

// Records returns a copy of every record of the zone, signatures and NSEC3
// records included, in canonical order (RFC 4034 section 6.1) with the SOA
// first.
func (z *Zone) Records() []dns.RR {
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []dns.RR
	emit := func(all map[string]*node) {
		names := make([]string, 0, len(all))
		for name := range all {
			names = append(names, name)
		}
		slices.SortFunc(names, canonicalCompare)
		for _, name := range names {
			n := all[name]
			types := sortedTypes(n.sets)
			for _, t := range types {
				if name == z.origin && t == dns.TypeSOA {
					continue
				}
				out = append(out, copyRRs(n.sets[t])...)
				for _, s := range n.sigs[t] {
					out = append(out, dns.Copy(s))
				}
			}
		}
	}
	apex := z.nodes[z.origin]
	out = append(out, copyRRs(apex.sets[dns.TypeSOA])...)
	for _, s := range apex.sigs[dns.TypeSOA] {
		out = append(out, dns.Copy(s))
	}
	emit(z.nodes)
	emit(z.nsec3)
	return out
}

// WriteTo writes the zone in zone-file presentation format, one record a
// line, SOA first.
func (z *Zone) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for _, rr := range z.Records() {
		n, err := fmt.Fprintln(w, rr.String())
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// String returns the zone in presentation format.
func (z *Zone) String() string {
	var b strings.Builder
	z.WriteTo(&b)
	return b.String()
}

func sortedTypes[V any](m map[uint16]V) []uint16 {
	types := make([]uint16, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

func copyRRs(rrs []dns.RR) []dns.RR {
	if rrs == nil {
		return nil
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

func copySigs(sigs []*dns.RRSIG) []*dns.RRSIG {
	if sigs == nil {
		return nil
	}
	out := make([]*dns.RRSIG, len(sigs))
	for i, s := range sigs {
		out[i] = dns.Copy(s).(*dns.RRSIG)
	}
	return out
}
