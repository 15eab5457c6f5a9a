package rollover

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/miekg/dns"
)

// DS is one DS record, in a form that survives JSON (the state passed between
// workflow steps).
type DS struct {
	KeyTag     uint16 `json:"keyTag"`
	Algorithm  uint8  `json:"algorithm"`
	DigestType uint8  `json:"digestType"`
	Digest     string `json:"digest"` // hex, upper case
}

// DSFromRR converts a miekg/dns DS record.
func DSFromRR(rr *dns.DS) DS {
	return DS{KeyTag: rr.KeyTag, Algorithm: rr.Algorithm, DigestType: rr.DigestType, Digest: strings.ToUpper(rr.Digest)}
}

// RR returns d as a DS record owned by zone.
func (d DS) RR(zone string) *dns.DS {
	return &dns.DS{
		Hdr:    dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDS, Class: dns.ClassINET},
		KeyTag: d.KeyTag, Algorithm: d.Algorithm, DigestType: d.DigestType, Digest: d.Digest,
	}
}

// Usable reports whether a validator here can use d (RFC 4035 section 5.2):
// a DS set with no usable record makes the zone insecure, never bogus.
func (d DS) Usable() bool {
	return dnssec.SupportedAlgorithm(d.Algorithm) && dnssec.SupportedDigest(d.DigestType)
}

// String gives "tag/algorithm/digest-type", e.g. "20326/13/2".
func (d DS) String() string { return fmt.Sprintf("%d/%d/%d", d.KeyTag, d.Algorithm, d.DigestType) }

func (d DS) id() string {
	return strconv.Itoa(int(d.KeyTag)) + "/" + strconv.Itoa(int(d.Algorithm)) + "/" + strconv.Itoa(int(d.DigestType)) + "/" + strings.ToUpper(d.Digest)
}

// Key is one DNSKEY record (flags 257 for a KSK, 256 for Route 53's ZSK).
type Key struct {
	Flags     uint16 `json:"flags"`
	Algorithm uint8  `json:"algorithm"`
	PublicKey string `json:"publicKey"` // base64, as in presentation format
}

// KeyFromRR converts a miekg/dns DNSKEY record.
func KeyFromRR(rr *dns.DNSKEY) Key {
	return Key{Flags: rr.Flags, Algorithm: rr.Algorithm, PublicKey: rr.PublicKey}
}

// RR returns k as a DNSKEY record owned by zone.
func (k Key) RR(zone string) *dns.DNSKEY {
	return &dns.DNSKEY{
		Hdr:   dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
		Flags: k.Flags, Protocol: 3, Algorithm: k.Algorithm, PublicKey: k.PublicKey,
	}
}

// Tag is the key tag (RFC 4034 appendix B).
func (k Key) Tag() uint16 {
	memo.Lock()
	tag, ok := memo.tags[k]
	memo.Unlock()
	if ok {
		return tag
	}
	tag = k.RR(".").KeyTag()
	memo.Lock()
	if len(memo.tags) >= memoSize {
		clear(memo.tags)
	}
	memo.tags[k] = tag
	memo.Unlock()
	return tag
}

// DS returns the DS record of k for zone with digest type digest (Route 53
// shows SHA-256, type 2).
func (k Key) DS(zone string, digest uint8) (DS, error) {
	id := dsKey{dns.CanonicalName(zone), k, digest}
	memo.Lock()
	d, ok := memo.ds[id]
	memo.Unlock()
	if ok {
		return d, nil
	}
	rr := k.RR(zone).ToDS(digest)
	if rr == nil {
		return DS{}, fmt.Errorf("rollover: cannot compute digest type %d of DNSKEY %s", digest, k)
	}
	d = DSFromRR(rr)
	memo.Lock()
	if len(memo.ds) >= memoSize {
		clear(memo.ds)
	}
	memo.ds[id] = d
	memo.Unlock()
	return d, nil
}

// String gives "KSK 20326/13" or "ZSK 1234/13".
func (k Key) String() string {
	kind := "ZSK"
	if k.Flags&dns.SEP != 0 {
		kind = "KSK"
	}
	return fmt.Sprintf("%s %d/%d", kind, k.Tag(), k.Algorithm)
}

// id identifies the key itself, not only its tag (tags can collide).
func (k Key) id() string {
	return strconv.Itoa(int(k.Flags)) + "/" + strconv.Itoa(int(k.Algorithm)) + "/" + k.PublicKey
}

// DSSet is the DS RRset of the zone at its parent, sorted and without
// duplicates. The empty set (no DS: an insecure delegation) is a set too.
type DSSet []DS

// NewDSSet returns the canonical set of ds.
func NewDSSet(ds ...DS) DSSet {
	out := slices.Clone(ds)
	for i := range out {
		out[i].Digest = strings.ToUpper(out[i].Digest)
	}
	slices.SortFunc(out, func(a, b DS) int { return strings.Compare(a.id(), b.id()) })
	return slices.CompactFunc(out, func(a, b DS) bool { return a.id() == b.id() })
}

// DSSetFromRRs collects the DS records of rrs (other types are ignored) and
// returns the set with the largest TTL among them.
func DSSetFromRRs(rrs []dns.RR) (DSSet, uint32) {
	var ds []DS
	var ttl uint32
	for _, rr := range rrs {
		if d, ok := rr.(*dns.DS); ok {
			ds = append(ds, DSFromRR(d))
			ttl = max(ttl, d.Hdr.Ttl)
		}
	}
	return NewDSSet(ds...), ttl
}

// ID identifies the set canonically ("none" for the empty set).
func (s DSSet) ID() string {
	if len(s) == 0 {
		return "none"
	}
	ids := make([]string, len(s))
	for i, d := range s {
		ids[i] = d.id()
	}
	return strings.Join(ids, " ")
}

// String gives e.g. "DS {20326/13/2, 38696/13/2}" or "no DS".
func (s DSSet) String() string {
	if len(s) == 0 {
		return "no DS"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "DS {" + strings.Join(parts, ", ") + "}"
}

// usable reports whether some record of s is usable: a validator holding s
// demands a trusted DNSKEY set.
func (s DSSet) usable() bool {
	return slices.ContainsFunc(s, DS.Usable)
}

// covers reports whether s holds a usable DS record of k.
func (s DSSet) covers(zone string, k Key) bool {
	return slices.ContainsFunc(s, func(d DS) bool { return d.Usable() && dsMatches(zone, d, k) })
}

// memo remembers key tags, DS records and dnssec.DSMatches results: the
// gates ask the same questions about the same few records many times, and
// each answer costs a packing or a digest. A map is cleared when it grows
// large.
var memo = struct {
	sync.Mutex
	tags    map[Key]uint16
	ds      map[dsKey]DS
	matches map[matchKey]bool
}{tags: map[Key]uint16{}, ds: map[dsKey]DS{}, matches: map[matchKey]bool{}}

type dsKey struct {
	zone   string
	key    Key
	digest uint8
}

const memoSize = 4096

type matchKey struct {
	zone string
	ds   DS
	key  Key
}

func dsMatches(zone string, d DS, k Key) bool {
	id := matchKey{zone, d, k}
	memo.Lock()
	v, ok := memo.matches[id]
	memo.Unlock()
	if ok {
		return v
	}
	v = dnssec.DSMatches(d.RR(zone), k.RR(zone))
	memo.Lock()
	if len(memo.matches) >= memoSize {
		clear(memo.matches)
	}
	memo.matches[id] = v
	memo.Unlock()
	return v
}

// SetKey is one key of a DNSKEY set and whether an RRSIG made by it covers
// the set.
type SetKey struct {
	Key
	Signs bool `json:"signs"`
}

// DNSKEYSet is the DNSKEY RRset of the zone as served, with the keys whose
// signatures cover it. The empty set stands for the unsigned zone (NODATA to
// a DNSKEY query, and answers without RRSIGs).
type DNSKEYSet struct {
	Keys []SetKey `json:"keys"`
}

// NewDNSKEYSet returns the canonical set of keys. signers are the keys that
// sign the set; each must also be in keys or it is added.
func NewDNSKEYSet(keys []Key, signers ...Key) DNSKEYSet {
	var out []SetKey
	for _, k := range keys {
		out = append(out, SetKey{Key: k})
	}
	for _, s := range signers {
		i := slices.IndexFunc(out, func(sk SetKey) bool { return sk.id() == s.id() })
		if i < 0 {
			out = append(out, SetKey{Key: s, Signs: true})
		} else {
			out[i].Signs = true
		}
	}
	return canonicalDNSKEYs(out)
}

func canonicalDNSKEYs(keys []SetKey) DNSKEYSet {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b SetKey) int { return strings.Compare(a.id(), b.id()) })
	// Keep one entry per key; it signs if any duplicate said so.
	var dedup []SetKey
	for _, k := range out {
		if n := len(dedup); n > 0 && dedup[n-1].id() == k.id() {
			dedup[n-1].Signs = dedup[n-1].Signs || k.Signs
			continue
		}
		dedup = append(dedup, k)
	}
	return DNSKEYSet{Keys: dedup}
}

// DNSKEYSetFromRRs collects the DNSKEY records of zone in rrs and marks as
// signing each key with an RRSIG in rrs that validates the set at now. It
// returns the set and the largest DNSKEY TTL. An answer without DNSKEY
// records gives the unsigned set.
func DNSKEYSetFromRRs(zone string, rrs []dns.RR, now time.Time) (DNSKEYSet, uint32) {
	var rrset []dns.RR
	var keys []*dns.DNSKEY
	var ttl uint32
	for _, rr := range rrs {
		if k, ok := rr.(*dns.DNSKEY); ok && dns.CanonicalName(k.Hdr.Name) == dns.CanonicalName(zone) {
			rrset = append(rrset, k)
			keys = append(keys, k)
			ttl = max(ttl, k.Hdr.Ttl)
		}
	}
	sigs := dnssec.SigsFor(rrs, zone, dns.TypeDNSKEY)
	set := make([]SetKey, len(keys))
	for i, k := range keys {
		set[i] = SetKey{Key: KeyFromRR(k)}
		if len(sigs) > 0 {
			_, err := dnssec.VerifyRRset(rrset, sigs, []*dns.DNSKEY{k}, zone, now)
			set[i].Signs = err == nil
		}
	}
	return canonicalDNSKEYs(set), ttl
}

// Unsigned reports whether s stands for the unsigned zone.
func (s DNSKEYSet) Unsigned() bool { return len(s.Keys) == 0 }

// ID identifies the set canonically ("unsigned" for the empty set).
func (s DNSKEYSet) ID() string {
	if s.Unsigned() {
		return "unsigned"
	}
	ids := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		ids[i] = k.id()
		if k.Signs {
			ids[i] += "+sig"
		}
	}
	return strings.Join(ids, " ")
}

// String gives e.g. "DNSKEY {KSK 20326/13 signing, ZSK 1234/13}" or
// "unsigned zone".
func (s DNSKEYSet) String() string {
	if s.Unsigned() {
		return "unsigned zone"
	}
	parts := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		parts[i] = k.Key.String()
		if k.Signs {
			parts[i] += " signing"
		}
	}
	return "DNSKEY {" + strings.Join(parts, ", ") + "}"
}

// has reports whether k is in s; signing additionally requires that k signs.
func (s DNSKEYSet) has(k Key, signing bool) bool {
	return slices.ContainsFunc(s.Keys, func(sk SetKey) bool { return sk.id() == k.id() && (sk.Signs || !signing) })
}

// with returns s plus k signing.
func (s DNSKEYSet) with(k Key) DNSKEYSet {
	return canonicalDNSKEYs(append(slices.Clone(s.Keys), SetKey{Key: k, Signs: true}))
}

// without returns s minus k.
func (s DNSKEYSet) without(k Key) DNSKEYSet {
	return DNSKEYSet{Keys: slices.DeleteFunc(slices.Clone(s.Keys), func(sk SetKey) bool { return sk.id() == k.id() })}
}

// trusts reports whether a validator holding DS set ds accepts DNSKEY set
// keys: ds has no usable record (insecure, accepted), or one of its usable
// records matches a key of a supported algorithm that signs the set. This is
// the symbolic rule the gate formulas use; CheckTransition checks the same
// with real signatures.
func trusts(zone string, ds DSSet, keys DNSKEYSet) bool {
	if !ds.usable() {
		return true
	}
	return slices.ContainsFunc(keys.Keys, func(k SetKey) bool {
		return k.Signs && dnssec.SupportedAlgorithm(k.Algorithm) && ds.covers(zone, k.Key)
	})
}

// Published is what the parent and the zone serve once a transition is done.
type Published struct {
	DS     DSSet     `json:"ds"`
	DNSKEY DNSKEYSet `json:"dnskey"`
}

func (p Published) String() string { return p.DS.String() + " / " + p.DNSKEY.String() }
