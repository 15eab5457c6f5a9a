package authzone

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Denial selects how a signed zone proves that names and types do not exist.
type Denial uint8

const (
	// DenialNSEC uses an NSEC chain (RFC 4034 section 4, RFC 4035 section 2.3).
	DenialNSEC Denial = iota
	// DenialNSEC3 uses a hashed NSEC3 chain (RFC 5155).
	DenialNSEC3
)

func (d Denial) String() string {
	switch d {
	case DenialNSEC:
		return "NSEC"
	case DenialNSEC3:
		return "NSEC3"
	}
	return fmt.Sprintf("Denial(%d)", uint8(d))
}

// NSEC3Params are the parameters of an NSEC3 chain (RFC 5155 section 3.1).
// The zero value is what RFC 9276 recommends: no extra iterations, no salt,
// no opt-out.
type NSEC3Params struct {
	Iterations uint16
	Salt       string // hex; "" for none
	// OptOut leaves insecure delegations (NS without DS) out of the chain
	// and sets the Opt-Out flag on every NSEC3 record (RFC 5155 section 6).
	OptOut bool
}

// SignOptions say how Sign signs a zone.
type SignOptions struct {
	// Keys sign the zone and are published in its DNSKEY RRset. KSKs and
	// CSKs sign the DNSKEY RRset, ZSKs and CSKs every other RRset. When no
	// key may sign data, the KSKs sign it; when no key may sign the DNSKEY
	// RRset, the ZSKs do.
	Keys []*Key
	// Publish are further DNSKEY records published without signing (a
	// pre-published or retired key).
	Publish []*dns.DNSKEY
	// Inception and Expiration bound every signature's validity.
	Inception, Expiration time.Time
	Denial                Denial
	NSEC3                 NSEC3Params // used with DenialNSEC3
	// DNSKEYTTL is the TTL of the DNSKEY RRset; 0 means the SOA's TTL.
	DNSKEYTTL uint32
}

// Sign signs the zone (RFC 4035 section 2): it replaces any previous DNSKEY,
// RRSIG, NSEC, NSEC3 and NSEC3PARAM records, publishes the keys, signs every
// authoritative RRset (delegation NS and glue stay unsigned, DS at
// delegations is signed) and builds the NSEC or NSEC3 chain. Negative-proof
// records get the negative TTL, min(SOA TTL, SOA MINIMUM) (RFC 9077).
func (z *Zone) Sign(opts SignOptions) error {
	if len(opts.Keys) == 0 {
		return fmt.Errorf("authzone: sign %s: no keys", z.origin)
	}
	if !opts.Expiration.After(opts.Inception) {
		return fmt.Errorf("authzone: sign %s: expiration %v is not after inception %v", z.origin, opts.Expiration, opts.Inception)
	}
	for _, k := range opts.Keys {
		if k == nil || k.DNSKEY == nil || k.Signer == nil {
			return fmt.Errorf("authzone: sign %s: key without DNSKEY or signer", z.origin)
		}
	}
	if opts.Denial == DenialNSEC3 && opts.NSEC3.Salt != "" {
		if _, err := hexLen(opts.NSEC3.Salt); err != nil {
			return fmt.Errorf("authzone: sign %s: NSEC3 salt: %w", z.origin, err)
		}
	}
	opts.Keys = slices.Clone(opts.Keys)
	opts.Publish = slices.Clone(opts.Publish)

	z.mu.Lock()
	defer z.mu.Unlock()
	for name, n := range z.nodes {
		for _, t := range []uint16{dns.TypeDNSKEY, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM} {
			delete(n.sets, t)
		}
		n.sigs = map[uint16][]*dns.RRSIG{}
		if len(n.sets) == 0 {
			delete(z.nodes, name)
		}
	}
	z.nsec3, z.nsec3Hashes, z.nsecNames = nil, nil, nil
	z.index()
	z.opts = opts
	z.signed = true

	apex := z.nodes[z.origin]
	dnskeyTTL := opts.DNSKEYTTL
	if dnskeyTTL == 0 {
		dnskeyTTL = apex.sets[dns.TypeSOA][0].Header().Ttl
	}
	var keys []dns.RR
	for _, k := range opts.Keys {
		keys = appendKey(keys, k.DNSKEY, z.origin, dnskeyTTL)
	}
	for _, k := range opts.Publish {
		keys = appendKey(keys, k, z.origin, dnskeyTTL)
	}
	apex.sets[dns.TypeDNSKEY] = keys
	if opts.Denial == DenialNSEC3 {
		apex.sets[dns.TypeNSEC3PARAM] = []dns.RR{&dns.NSEC3PARAM{
			Hdr:        dns.RR_Header{Name: z.origin, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: z.negativeTTL()},
			Hash:       dns.SHA1,
			Iterations: opts.NSEC3.Iterations,
			SaltLength: uint8(len(opts.NSEC3.Salt) / 2),
			Salt:       strings.ToUpper(opts.NSEC3.Salt),
		}}
	}

	for name, n := range z.nodes {
		if z.occluded(name) {
			continue
		}
		cut := z.isCut(name)
		for t := range n.sets {
			if cut && t != dns.TypeDS {
				continue
			}
			if err := z.signSet(n, t, nil, opts.Inception, opts.Expiration); err != nil {
				return err
			}
		}
	}
	var err error
	switch opts.Denial {
	case DenialNSEC:
		err = z.buildNSEC()
	case DenialNSEC3:
		err = z.buildNSEC3()
	default:
		err = fmt.Errorf("authzone: sign %s: unknown denial %v", z.origin, opts.Denial)
	}
	if err != nil {
		return err
	}
	for name := range z.denied {
		if err := z.applyDenied(name); err != nil {
			return err
		}
	}
	return nil
}

func appendKey(keys []dns.RR, k *dns.DNSKEY, origin string, ttl uint32) []dns.RR {
	c := dns.Copy(k).(*dns.DNSKEY)
	c.Hdr = dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: ttl}
	for _, old := range keys {
		if dns.IsDuplicate(old, c) {
			return keys
		}
	}
	return append(keys, c)
}

// signers returns the keys that sign RRsets of type t under opts.
func (o *SignOptions) signers(t uint16) []*Key {
	pick := func(keep func(*Key) bool) []*Key {
		var out []*Key
		for _, k := range o.Keys {
			if keep(k) {
				out = append(out, k)
			}
		}
		return out
	}
	var ks []*Key
	if t == dns.TypeDNSKEY {
		ks = pick((*Key).signsKeys)
	} else {
		ks = pick((*Key).signsData)
	}
	if len(ks) == 0 {
		return slices.Clone(o.Keys)
	}
	return ks
}

// signSet replaces the signatures of RRset t of n by ones from keys (nil:
// the keys the sign options choose). Call with mu held for writing.
func (z *Zone) signSet(n *node, t uint16, keys []*Key, inception, expiration time.Time) error {
	set := n.sets[t]
	if len(set) == 0 {
		return fmt.Errorf("authzone: %s: no %s RRset to sign", z.origin, dns.TypeToString[t])
	}
	if keys == nil {
		keys = z.opts.signers(t)
	}
	sigs := make([]*dns.RRSIG, 0, len(keys))
	for _, k := range keys {
		sig, err := signRRset(set, k, z.origin, inception, expiration)
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	n.sigs[t] = sigs
	return nil
}

func signRRset(set []dns.RR, k *Key, signer string, inception, expiration time.Time) (*dns.RRSIG, error) {
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Ttl: set[0].Header().Ttl},
		Algorithm:  k.DNSKEY.Algorithm,
		KeyTag:     k.Tag(),
		SignerName: signer,
		Inception:  uint32(inception.Unix()),
		Expiration: uint32(expiration.Unix()),
	}
	if err := sig.Sign(k.Signer, set); err != nil {
		h := set[0].Header()
		return nil, fmt.Errorf("authzone: sign %s %s with key %d: %w", h.Name, dns.TypeToString[h.Rrtype], k.Tag(), err)
	}
	return sig, nil
}

// negativeTTL is min(SOA TTL, SOA MINIMUM) (RFC 2308 section 5, RFC 9077).
// Call with mu held.
func (z *Zone) negativeTTL() uint32 {
	soa := z.nodes[z.origin].sets[dns.TypeSOA][0].(*dns.SOA)
	return min(soa.Hdr.Ttl, soa.Minttl)
}

// chainNames returns the names that own authoritative data or delegations,
// in canonical order. Call with mu held.
func (z *Zone) chainNames() []string {
	var names []string
	for name, n := range z.nodes {
		if len(n.sets) > 0 && !z.occluded(name) {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, canonicalCompare)
	return names
}

// ownTypes returns the types that exist at name for a bitmap, without the
// denial type itself: at a delegation only NS and DS, plus RRSIG when an
// RRset there is signed. Call with mu held.
func (z *Zone) ownTypes(name string) []uint16 {
	n := z.nodes[name]
	if n == nil {
		return nil
	}
	var types []uint16
	cut := z.isCut(name)
	for t := range n.sets {
		if t == dns.TypeNSEC {
			continue
		}
		if cut && t != dns.TypeNS && t != dns.TypeDS {
			continue
		}
		types = append(types, t)
	}
	if !cut || len(n.sets[dns.TypeDS]) > 0 {
		types = append(types, dns.TypeRRSIG)
	}
	slices.Sort(types)
	return types
}

// buildNSEC makes and signs the NSEC chain (RFC 4035 section 2.3). Call with
// mu held for writing.
func (z *Zone) buildNSEC() error {
	names := z.chainNames()
	ttl := z.negativeTTL()
	for i, name := range names {
		types := append(z.ownTypes(name), dns.TypeNSEC)
		if !slices.Contains(types, dns.TypeRRSIG) {
			types = append(types, dns.TypeRRSIG) // the NSEC itself is signed
		}
		slices.Sort(types)
		nsec := &dns.NSEC{
			Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
			NextDomain: names[(i+1)%len(names)],
			TypeBitMap: types,
		}
		n := z.nodes[name]
		n.sets[dns.TypeNSEC] = []dns.RR{nsec}
		if err := z.signSet(n, dns.TypeNSEC, nil, z.opts.Inception, z.opts.Expiration); err != nil {
			return err
		}
	}
	z.nsecNames = names
	return nil
}

// hash returns the upper-case base32hex NSEC3 hash of name under the zone's
// NSEC3 parameters. Call with mu held.
func (z *Zone) hash(name string) string {
	p := z.opts.NSEC3
	return dns.HashName(name, dns.SHA1, p.Iterations, strings.ToUpper(p.Salt))
}

// hashedOwner returns the NSEC3 owner name for hash h.
func (z *Zone) hashedOwner(h string) string {
	return strings.ToLower(h) + "." + z.origin
}

// buildNSEC3 makes and signs the NSEC3 chain (RFC 5155 section 7.1): one
// NSEC3 per authoritative name and per empty non-terminal, insecure
// delegations left out under opt-out. Call with mu held for writing.
func (z *Zone) buildNSEC3() error {
	p := z.opts.NSEC3
	type entry struct {
		hash  string
		types []uint16
	}
	var entries []entry
	seen := map[string]string{}
	add := func(name string, types []uint16) error {
		h := z.hash(name)
		if other, ok := seen[h]; ok {
			return fmt.Errorf("authzone: sign %s: NSEC3 hash collision between %s and %s", z.origin, name, other)
		}
		seen[h] = name
		entries = append(entries, entry{hash: h, types: types})
		return nil
	}
	for _, name := range z.chainNames() {
		n := z.nodes[name]
		if p.OptOut && z.isCut(name) && len(n.sets[dns.TypeDS]) == 0 {
			continue
		}
		if err := add(name, z.ownTypes(name)); err != nil {
			return err
		}
	}
	for name := range z.ents {
		if err := add(name, nil); err != nil {
			return err
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.hash, b.hash) })

	var flags uint8
	if p.OptOut {
		flags = 1
	}
	ttl := z.negativeTTL()
	z.nsec3 = map[string]*node{}
	z.nsec3Hashes = make([]string, len(entries))
	for i, e := range entries {
		owner := z.hashedOwner(e.hash)
		rr := &dns.NSEC3{
			Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: ttl},
			Hash:       dns.SHA1,
			Flags:      flags,
			Iterations: p.Iterations,
			SaltLength: uint8(len(p.Salt) / 2),
			Salt:       strings.ToUpper(p.Salt),
			HashLength: 20,
			NextDomain: entries[(i+1)%len(entries)].hash,
			TypeBitMap: e.types,
		}
		n := newNode()
		n.sets[dns.TypeNSEC3] = []dns.RR{rr}
		if err := z.signSet(n, dns.TypeNSEC3, nil, z.opts.Inception, z.opts.Expiration); err != nil {
			return err
		}
		z.nsec3[owner] = n
		z.nsec3Hashes[i] = e.hash
	}
	return nil
}

func hexLen(s string) (int, error) {
	if len(s)%2 != 0 {
		return 0, errors.New("odd number of hex digits")
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return 0, fmt.Errorf("%q is not hex", s)
		}
	}
	return len(s) / 2, nil
}
