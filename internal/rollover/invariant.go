package rollover

import (
	"crypto"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/miekg/dns"
)

// CacheState is what validating caches may hold at one time: every DS set
// and every DNSKEY set a cache may have fetched and not yet expired,
// including the sets served after the transition being checked.
type CacheState struct {
	Zone   string      `json:"zone"`
	At     time.Time   `json:"at"`
	DS     []DSSet     `json:"ds"`
	DNSKEY []DNSKEYSet `json:"dnskey"`
}

// CacheAt returns what caches may hold at time at if the transition to
// after happens at at (DESIGN.md section 4): every DS set served by some
// parent server within the last DS TTL before at (or still served), every
// DNSKEY set served by some zone server within the last DNSKEY TTL (for the
// unsigned zone, the zone's largest TTL or negative TTL), and after. Each
// set's largest observed TTL is used, and a set counts unless an
// observation at or after at showed that no server served it yet: the state
// is an over-approximation, so that a state it accepts is safe.
func (h *History) CacheAt(after Published, at time.Time) CacheState {
	s := CacheState{Zone: h.Zone, At: at}
	add := func(ds DSSet) {
		if !slices.ContainsFunc(s.DS, func(x DSSet) bool { return x.ID() == ds.ID() }) {
			s.DS = append(s.DS, ds)
		}
	}
	addKeys := func(k DNSKEYSet) {
		if !slices.ContainsFunc(s.DNSKEY, func(x DNSKEYSet) bool { return x.ID() == k.ID() }) {
			s.DNSKEY = append(s.DNSKEY, k)
		}
	}
	for _, d := range h.DS {
		if cached(d.Seen, d.MaxTTL, at) {
			add(d.Set)
		}
	}
	for _, k := range h.DNSKEY {
		ttl, _ := h.dnskeyCacheTTL(k)
		if cached(k.Seen, ttl, at) {
			addKeys(k.Set)
		}
	}
	add(after.DS)
	addKeys(after.DNSKEY)
	return s
}

// CheckGate checks the invariant for the transition of g made at at, on
// what h observed: CheckTransition(h.CacheAt(g.After, at)). A step can run it
// just before acting, as a second opinion on the gate.
func (h *History) CheckGate(g Gate, at time.Time) error {
	return CheckTransition(h.CacheAt(g.After, at))
}

// cached reports whether a copy fetched while the set was served may still be
// in a cache at at: a copy fetched at LastServed expires at LastServed + TTL.
func cached(s Seen, ttl uint32, at time.Time) bool {
	if !s.AbsentAt.IsZero() && !at.After(s.AbsentAt) {
		return false // not served yet at at
	}
	return s.LastServed == nil || at.Before(s.LastServed.Add(time.Duration(ttl)*time.Second))
}

// Combination is one DS set and one DNSKEY set that caches may hold together
// and that do not validate.
type Combination struct {
	DS     DSSet     `json:"ds"`
	DNSKEY DNSKEYSet `json:"dnskey"`
	Reason string    `json:"reason"`
}

func (c Combination) String() string {
	return fmt.Sprintf("cached %s with %s: %s", c.DS, c.DNSKEY, c.Reason)
}

// UnsafeError says which combinations of cached sets would be bogus.
type UnsafeError struct {
	Zone         string        `json:"zone"`
	At           time.Time     `json:"at"`
	Combinations []Combination `json:"combinations"`
}

func (e *UnsafeError) Error() string {
	parts := make([]string, len(e.Combinations))
	for i, c := range e.Combinations {
		parts[i] = c.String()
	}
	return fmt.Sprintf("rollover: %s unsafe at %s: %s", e.Zone, stamp(e.At), strings.Join(parts, "; "))
}

// Fails reports whether the combination of ds and keys is among the failing
// ones.
func (e *UnsafeError) Fails(ds DSSet, keys DNSKEYSet) bool {
	return slices.ContainsFunc(e.Combinations, func(c Combination) bool {
		return c.DS.ID() == ds.ID() && c.DNSKEY.ID() == keys.ID()
	})
}

// CheckTransition checks the cache-combination invariant of DESIGN.md
// section 4: every DS set in s combined with every DNSKEY set in s must
// validate at s.At. It returns an *UnsafeError naming each combination that
// does not.
//
// The check is real validation, not a re-statement of the gate formulas: the
// sets are modelled with freshly generated P-256 keys (one per distinct key
// of the zone, one per DS that matches no key of the zone) and real RRSIGs
// made by the keys that sign each set, and each combination goes through
// dnssec.VerifyDNSKEYs. A DS set with no usable record (or none at all) makes
// the zone insecure, which is accepted without validation, as a validator
// does; the unsigned zone is the empty DNSKEY set, which no usable DS set
// validates. Keys of algorithms the
// validator does not support are modelled as not signing.
func CheckTransition(s CacheState) error {
	return newChecker().check(s)
}

// checker holds the model keys and signatures so that many checks of one
// zone's sets (the randomised tests) generate each only once.
type checker struct {
	keys map[string]*modelKey    // by Key.id(), or "orphan "+DS.id()
	real map[uint16]uint16       // model key tag -> the zone's key tag, for messages
	sigs map[string][]*dns.RRSIG // by DNSKEYSet.ID()
	// verdicts remembers each combination's result (model DS records and
	// DNSKEY set): the sets are the same from one check to the next.
	verdicts map[string]error
	tags     map[uint16]bool
	from     time.Time // signatures are valid from - 1 year to from + 1 year
}

type modelKey struct {
	rr   *dns.DNSKEY
	priv crypto.Signer
}

func newChecker() *checker {
	return &checker{
		keys: map[string]*modelKey{}, real: map[uint16]uint16{}, sigs: map[string][]*dns.RRSIG{},
		tags: map[uint16]bool{}, verdicts: map[string]error{},
	}
}

func (c *checker) key(id string, flags, realTag uint16, zone string) (*modelKey, error) {
	if k, ok := c.keys[id]; ok {
		return k, nil
	}
	for range 100 {
		rr := &dns.DNSKEY{
			Hdr:   dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags: flags, Protocol: 3, Algorithm: dns.ECDSAP256SHA256,
		}
		priv, err := rr.Generate(256)
		if err != nil {
			return nil, fmt.Errorf("rollover: model key: %w", err)
		}
		if c.tags[rr.KeyTag()] || rr.KeyTag() == 0 {
			// Keep model key tags distinct, so that tags name keys; and
			// not 0, which miekg/dns refuses to sign with.
			continue
		}
		c.tags[rr.KeyTag()] = true
		c.real[rr.KeyTag()] = realTag
		k := &modelKey{rr: rr, priv: priv.(crypto.Signer)}
		c.keys[id] = k
		return k, nil
	}
	return nil, errors.New("rollover: model key: no free key tag")
}

// model returns the model DNSKEY RRset of set and its RRSIGs.
func (c *checker) model(zone string, set DNSKEYSet) ([]*dns.DNSKEY, []*dns.RRSIG, error) {
	var keys []*dns.DNSKEY
	var signers []*modelKey
	for _, sk := range set.Keys {
		mk, err := c.key(sk.id(), sk.Flags, sk.Tag(), zone)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, mk.rr)
		if sk.Signs && dnssec.SupportedAlgorithm(sk.Algorithm) {
			signers = append(signers, mk)
		}
	}
	if sigs, ok := c.sigs[set.ID()]; ok {
		return keys, sigs, nil
	}
	rrset := make([]dns.RR, len(keys))
	for i, k := range keys {
		rrset[i] = k
	}
	var sigs []*dns.RRSIG
	for _, s := range signers {
		sig := &dns.RRSIG{
			Hdr:         dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
			TypeCovered: dns.TypeDNSKEY, Algorithm: s.rr.Algorithm, Labels: uint8(dns.CountLabel(zone)),
			OrigTtl: 3600, KeyTag: s.rr.KeyTag(), SignerName: zone,
			Inception:  uint32(c.from.Add(-365 * 24 * time.Hour).Unix()),
			Expiration: uint32(c.from.Add(365 * 24 * time.Hour).Unix()),
		}
		if err := sig.Sign(s.priv, rrset); err != nil {
			return nil, nil, fmt.Errorf("rollover: model signature: %w", err)
		}
		sigs = append(sigs, sig)
	}
	c.sigs[set.ID()] = sigs
	return keys, sigs, nil
}

// modelDS returns the model records of ds: a DS of the model key of the zone
// key it matches, a DS of a never-published model key when it matches none,
// and the record itself when it is not usable (the validator skips it).
// It also returns an identifier of the model records.
func (c *checker) modelDS(zone string, ds DSSet, zoneKeys []Key) ([]dns.RR, string, error) {
	var out []dns.RR
	var ids strings.Builder
	for _, d := range ds {
		if !d.Usable() {
			out = append(out, d.RR(zone))
			ids.WriteString("unusable " + d.id() + "\n")
			continue
		}
		id, flags := "orphan "+d.id(), uint16(dns.ZONE|dns.SEP)
		for _, k := range zoneKeys {
			if dsMatches(zone, d, k) {
				id, flags = k.id(), k.Flags
				break
			}
		}
		mk, err := c.key(id, flags, d.KeyTag, zone)
		if err != nil {
			return nil, "", err
		}
		m, err := KeyFromRR(mk.rr).DS(zone, d.DigestType)
		if err != nil {
			return nil, "", fmt.Errorf("rollover: model DS: %w", err)
		}
		out = append(out, m.RR(zone))
		ids.WriteString(id + " " + strconv.Itoa(int(d.DigestType)) + "\n")
	}
	return out, ids.String(), nil
}

// verify validates the model of set with the model DS records anchors,
// identified by anchorsID.
func (c *checker) verify(zone string, anchors []dns.RR, anchorsID string, set DNSKEYSet, at time.Time) error {
	id := anchorsID + set.ID()
	if err, ok := c.verdicts[id]; ok {
		return err
	}
	keys, sigs, err := c.model(zone, set)
	if err != nil {
		return err
	}
	_, err = dnssec.VerifyDNSKEYs(zone, anchors, keys, sigs, at)
	c.verdicts[id] = err
	return err
}

var tagRef = regexp.MustCompile(`\b(DS|DNSKEY|RRSIG) (\d+)/`)

// realTags rewrites the model key tags in a validator message to the tags
// of the zone's keys they stand for.
func (c *checker) realTags(msg string) string {
	return tagRef.ReplaceAllStringFunc(msg, func(m string) string {
		sub := tagRef.FindStringSubmatch(m)
		tag, err := strconv.ParseUint(sub[2], 10, 16)
		if err != nil {
			return m
		}
		if r, ok := c.real[uint16(tag)]; ok {
			return fmt.Sprintf("%s %d/", sub[1], r)
		}
		return m
	})
}

func (c *checker) check(s CacheState) error {
	zone := dns.CanonicalName(s.Zone)
	if c.from.IsZero() {
		c.from = s.At
	}
	var zoneKeys []Key
	for _, set := range s.DNSKEY {
		for _, k := range set.Keys {
			zoneKeys = append(zoneKeys, k.Key)
		}
	}
	unsafe := &UnsafeError{Zone: zone, At: s.At}
	for _, ds := range s.DS {
		if !ds.usable() {
			// No DS, or none a validator can use: the delegation is
			// insecure and the DNSKEY set is never validated (RFC 4035
			// section 5.2). VerifyDNSKEYs expects a DS to be present.
			continue
		}
		anchors, anchorsID, err := c.modelDS(zone, ds, zoneKeys)
		if err != nil {
			return err
		}
		for _, set := range s.DNSKEY {
			err := c.verify(zone, anchors, anchorsID, set, s.At)
			if err == nil || errors.Is(err, dnssec.ErrUnsupported) {
				continue
			}
			var be *dnssec.BogusError
			if !errors.As(err, &be) {
				return fmt.Errorf("rollover: validating %s with %s: %w", ds, set, err)
			}
			unsafe.Combinations = append(unsafe.Combinations, Combination{DS: ds, DNSKEY: set, Reason: c.realTags(be.Reason)})
		}
	}
	if len(unsafe.Combinations) > 0 {
		return unsafe
	}
	return nil
}
