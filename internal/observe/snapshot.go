package observe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// State is what one server address said about one RRset.
type State int

// The three states. The zero value is Unknown so that a result that was never
// filled in is never mistaken for an answer.
const (
	Unknown State = iota // no usable answer: timeout, REFUSED, SERVFAIL, not authoritative, malformed
	OK                   // authoritative answer holding the RRset
	Absent               // authoritative, well-formed negative answer (NODATA or NXDOMAIN)
)

func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Absent:
		return "absent"
	default:
		return "unknown"
	}
}

// MarshalText makes a State appear as its word in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses the word written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	switch string(b) {
	case "ok":
		*s = OK
	case "absent":
		*s = Absent
	case "unknown":
		*s = Unknown
	default:
		return fmt.Errorf("observe: unknown state %q", b)
	}
	return nil
}

// Reasons given for Unknown and Absent states.
const (
	ReasonTimeout          = "timeout" // every attempt failed at the transport level
	ReasonNotAuthoritative = "not authoritative"
	ReasonMalformed        = "malformed"
	ReasonNoAddress        = "no address"
	ReasonNoData           = "NODATA"
	ReasonNXDomain         = "NXDOMAIN"
)

// RRset is one server address's answer for one name and type.
type RRset struct {
	State State `json:"state"`
	// Reason says why the state is Unknown (ReasonTimeout, an RCODE such as
	// "REFUSED" or "SERVFAIL", ReasonNotAuthoritative, ReasonMalformed,
	// ReasonNoAddress) or which negative answer made it Absent
	// (ReasonNoData, ReasonNXDomain).
	Reason string `json:"reason,omitempty"`
	// Detail is the error text or the malformation behind Reason.
	Detail string `json:"detail,omitempty"`
	// TTL is, for OK, the larger of the records' TTL and the RRSIG original
	// TTL (a validating cache keeps the smaller, a non-validating one the
	// record TTL: gates need the largest any cache may hold); for Absent, the
	// negative TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 section 5).
	TTL uint32 `json:"ttl"`
	// Records is the RRset (owner and type as asked), Sigs the RRSIGs over it.
	Records []dns.RR     `json:"-"`
	Sigs    []*dns.RRSIG `json:"-"`
	// Expiry is the earliest RRSIG expiration; zero when unsigned.
	Expiry time.Time `json:"expiry,omitzero"`
}

// rrsetJSON is the wire form of RRset: records in presentation format.
type rrsetJSON struct {
	State   State     `json:"state"`
	Reason  string    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	TTL     uint32    `json:"ttl"`
	Records []string  `json:"records,omitempty"`
	Sigs    []string  `json:"rrsigs,omitempty"`
	Expiry  time.Time `json:"expiry,omitzero"`
}

// MarshalJSON writes records and signatures in presentation format.
func (r RRset) MarshalJSON() ([]byte, error) {
	j := rrsetJSON{State: r.State, Reason: r.Reason, Detail: r.Detail, TTL: r.TTL, Expiry: r.Expiry}
	for _, rr := range r.Records {
		j.Records = append(j.Records, rr.String())
	}
	for _, s := range r.Sigs {
		j.Sigs = append(j.Sigs, s.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *RRset) UnmarshalJSON(b []byte) error {
	var j rrsetJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = RRset{State: j.State, Reason: j.Reason, Detail: j.Detail, TTL: j.TTL, Expiry: j.Expiry}
	for _, s := range j.Records {
		rr, err := dns.NewRR(s)
		if err != nil {
			return fmt.Errorf("observe: record %q: %w", s, err)
		}
		r.Records = append(r.Records, rr)
	}
	for _, s := range j.Sigs {
		rr, err := dns.NewRR(s)
		if err != nil {
			return fmt.Errorf("observe: rrsig %q: %w", s, err)
		}
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			return fmt.Errorf("observe: rrsig %q is a %s record", s, dns.TypeToString[rr.Header().Rrtype])
		}
		r.Sigs = append(r.Sigs, sig)
	}
	return nil
}

// ServerResult is one row: one address of one name server and what it
// served. Parent rows fill DS and NS (the referral); zone rows fill DNSKEY,
// SOA and NS (the apex set).
type ServerResult struct {
	Name string `json:"name"`
	// Addr is the address queried; the zero value when the name had none
	// (then every RRset is Unknown with ReasonNoAddress).
	Addr netip.AddrPort `json:"addr"`
	// Delegation and Apex say where the name was listed: in the delegation
	// NS set of the zone this server serves (held by that zone's parent) and
	// in the zone's own apex NS set.
	Delegation bool `json:"delegation"`
	Apex       bool `json:"apex"`

	DS     *RRset `json:"ds,omitempty"`
	NS     *RRset `json:"ns,omitempty"`
	DNSKEY *RRset `json:"dnskey,omitempty"`
	SOA    *RRset `json:"soa,omitempty"`
	// Serial is the SOA serial when SOA is OK.
	Serial uint32 `json:"serial,omitempty"`
}

// Snapshot is everything one Observe saw, at one time.
type Snapshot struct {
	Zone   string    `json:"zone"`
	Parent string    `json:"parent"`
	Time   time.Time `json:"time"` // from the injected clock, when Observe started
	// DelegationNS is the union of the NS sets the parent servers refer to;
	// ApexNS the union of the apex NS sets the zone servers serve.
	DelegationNS []string `json:"delegationNS"`
	ApexNS       []string `json:"apexNS"`
	// ParentServers hold the DS rows (one per address of every parent name
	// server); ZoneServers the DNSKEY and SOA rows (one per address of every
	// name server in the delegation or apex NS set).
	ParentServers []ServerResult `json:"parentServers"`
	ZoneServers   []ServerResult `json:"zoneServers"`
	// Problems are findings a person should act on: NS set mismatches, lame
	// servers, names without addresses, disagreeing servers.
	Problems []string `json:"problems,omitempty"`
	// Queries is how many queries Observe sent.
	Queries int `json:"queries"`
}

// Coverage says how many parent (or zone) server addresses serve something.
type Coverage int

// The four coverages. The zero value is CoverageUnknown so that an undecided
// coverage never passes a gate.
const (
	CoverageUnknown Coverage = iota // some server is unknown and the known ones do not decide Some
	None                            // every server answered, none serves it
	Some                            // at least one serves it and at least one does not
	All                             // every server answered and serves it
)

func (c Coverage) String() string {
	switch c {
	case None:
		return "none"
	case Some:
		return "some"
	case All:
		return "all"
	default:
		return "unknown"
	}
}

// MarshalText makes a Coverage appear as its word in JSON.
func (c Coverage) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Agreement says whether the zone servers serve the same data.
type Agreement int

// The three agreements. The zero value is AgreementUnknown.
const (
	AgreementUnknown Agreement = iota // some server is unknown and the known ones agree
	Agree                             // every server answered with the same data
	Disagree                          // two servers that answered serve different data
)

func (a Agreement) String() string {
	switch a {
	case Agree:
		return "agree"
	case Disagree:
		return "disagree"
	default:
		return "unknown"
	}
}

// MarshalText makes an Agreement appear as its word in JSON.
func (a Agreement) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// coverage counts rows: has reports whether a row serves the thing (and
// whether the row is known at all).
func coverage(rows []ServerResult, has func(ServerResult) (yes, known bool)) Coverage {
	var yes, no, unknown int
	for _, r := range rows {
		y, k := has(r)
		switch {
		case !k:
			unknown++
		case y:
			yes++
		default:
			no++
		}
	}
	switch {
	case yes > 0 && no > 0:
		return Some
	case unknown > 0 || yes+no == 0:
		return CoverageUnknown
	case no == 0:
		return All
	default:
		return None
	}
}

// DSServed reports how many parent server addresses serve exactly the DS set
// want (compared as sets of key tag, algorithm, digest type and digest, the
// digest case-insensitively; owner and TTL ignored). An empty want means "no
// DS at all" (an authoritative negative answer).
func (s *Snapshot) DSServed(want []*dns.DS) Coverage {
	wantKeys := dsKeys(want)
	return coverage(s.ParentServers, func(r ServerResult) (bool, bool) {
		if r.DS == nil || r.DS.State == Unknown {
			return false, false
		}
		return sameSet(dsKeys(dsOf(r.DS)), wantKeys), true
	})
}

// DSPresent reports how many parent server addresses serve a DS set that
// includes every record in ds; with no argument, any DS record at all. "No
// parent server still serves the old DS" is DSPresent(old) == None.
func (s *Snapshot) DSPresent(ds ...*dns.DS) Coverage {
	want := dsKeys(ds)
	return coverage(s.ParentServers, func(r ServerResult) (bool, bool) {
		if r.DS == nil || r.DS.State == Unknown {
			return false, false
		}
		got := dsKeys(dsOf(r.DS))
		if len(want) == 0 {
			return len(got) > 0, true
		}
		return includes(got, want), true
	})
}

// DNSKEYPresent reports how many zone server addresses serve a DNSKEY set
// that includes every key given; with no argument, any DNSKEY at all.
func (s *Snapshot) DNSKEYPresent(keys ...*dns.DNSKEY) Coverage {
	want := dnskeyKeys(keys)
	return coverage(s.ZoneServers, func(r ServerResult) (bool, bool) {
		if r.DNSKEY == nil || r.DNSKEY.State == Unknown {
			return false, false
		}
		got := dnskeyKeys(dnskeysOf(r.DNSKEY))
		if len(want) == 0 {
			return len(got) > 0, true
		}
		return includes(got, want), true
	})
}

// ZoneServersAgree reports whether every zone server address serves the same
// DNSKEY set (compared as a set) and the same SOA serial.
func (s *Snapshot) ZoneServersAgree() Agreement {
	var keySets [][]string
	var serials []uint32
	unknown := len(s.ZoneServers) == 0
	for _, r := range s.ZoneServers {
		if r.DNSKEY != nil && r.DNSKEY.State != Unknown {
			keySets = append(keySets, dnskeyKeys(dnskeysOf(r.DNSKEY)))
		} else {
			unknown = true
		}
		if r.SOA != nil && r.SOA.State == OK {
			serials = append(serials, r.Serial)
		} else {
			unknown = true
		}
	}
	for i := 1; i < len(keySets); i++ {
		if !sameSet(keySets[i], keySets[0]) {
			return Disagree
		}
	}
	for i := 1; i < len(serials); i++ {
		if serials[i] != serials[0] {
			return Disagree
		}
	}
	if unknown {
		return AgreementUnknown
	}
	return Agree
}

// maxTTL returns the largest TTL among the OK RRsets pick selects, and
// whether every row answered (complete is false when some row was Unknown:
// an unseen server may hold a larger TTL).
func maxTTL(rows []ServerResult, pick func(ServerResult) *RRset, negative bool) (ttl uint32, complete bool) {
	complete = len(rows) > 0
	for _, r := range rows {
		set := pick(r)
		if set == nil || set.State == Unknown {
			complete = false
			continue
		}
		if set.State == OK && !negative || set.State == Absent && negative {
			ttl = max(ttl, set.TTL)
		}
	}
	return ttl, complete
}

// MaxDSTTL is the largest DS TTL any parent server address serves, and
// whether every parent server address answered.
func (s *Snapshot) MaxDSTTL() (uint32, bool) {
	return maxTTL(s.ParentServers, func(r ServerResult) *RRset { return r.DS }, false)
}

// MaxDSNegativeTTL is the largest negative TTL of a "no DS" answer from a
// parent server address (how long a resolver may cache that the zone has no
// DS), and whether every parent server address answered.
func (s *Snapshot) MaxDSNegativeTTL() (uint32, bool) {
	return maxTTL(s.ParentServers, func(r ServerResult) *RRset { return r.DS }, true)
}

// MaxDNSKEYTTL is the largest DNSKEY TTL any zone server address serves, and
// whether every zone server address answered.
func (s *Snapshot) MaxDNSKEYTTL() (uint32, bool) {
	return maxTTL(s.ZoneServers, func(r ServerResult) *RRset { return r.DNSKEY }, false)
}

// MaxSOATTL is the largest SOA TTL any zone server address serves, and
// whether every zone server address answered.
func (s *Snapshot) MaxSOATTL() (uint32, bool) {
	return maxTTL(s.ZoneServers, func(r ServerResult) *RRset { return r.SOA }, false)
}

// MaxNegativeTTL is the zone's largest negative-caching TTL, min(SOA TTL,
// SOA MINIMUM) (RFC 2308 section 5), over the zone server addresses, and
// whether every zone server address answered.
func (s *Snapshot) MaxNegativeTTL() (uint32, bool) {
	var ttl uint32
	complete := len(s.ZoneServers) > 0
	for _, r := range s.ZoneServers {
		soa := soaOf(r.SOA)
		if soa == nil {
			complete = false
			continue
		}
		ttl = max(ttl, min(r.SOA.TTL, soa.Minttl))
	}
	return ttl, complete
}

// EarliestExpiry is the earliest RRSIG expiration over the zone's own
// signatures (DNSKEY, SOA and NS at every zone server address), and whether
// any signature was seen.
func (s *Snapshot) EarliestExpiry() (time.Time, bool) {
	var earliest time.Time
	for _, r := range s.ZoneServers {
		for _, set := range []*RRset{r.DNSKEY, r.SOA, r.NS} {
			if set == nil || set.State != OK || set.Expiry.IsZero() {
				continue
			}
			if earliest.IsZero() || set.Expiry.Before(earliest) {
				earliest = set.Expiry
			}
		}
	}
	return earliest, !earliest.IsZero()
}

func dsOf(set *RRset) []*dns.DS {
	if set == nil || set.State != OK {
		return nil
	}
	var out []*dns.DS
	for _, rr := range set.Records {
		if ds, ok := rr.(*dns.DS); ok {
			out = append(out, ds)
		}
	}
	return out
}

func dnskeysOf(set *RRset) []*dns.DNSKEY {
	if set == nil || set.State != OK {
		return nil
	}
	var out []*dns.DNSKEY
	for _, rr := range set.Records {
		if k, ok := rr.(*dns.DNSKEY); ok {
			out = append(out, k)
		}
	}
	return out
}

func soaOf(set *RRset) *dns.SOA {
	if set == nil || set.State != OK {
		return nil
	}
	for _, rr := range set.Records {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// dsKeys returns the canonical identities of a DS set, sorted, without
// duplicates.
func dsKeys(ds []*dns.DS) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%d/%d/%d/%s", d.KeyTag, d.Algorithm, d.DigestType, strings.ToUpper(d.Digest)))
	}
	return uniq(out)
}

// dnskeyKeys returns the canonical identities of a DNSKEY set: flags,
// protocol, algorithm and the public key re-encoded from its bytes.
func dnskeyKeys(keys []*dns.DNSKEY) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		pub := strings.Join(strings.Fields(k.PublicKey), "")
		if b, err := base64.StdEncoding.DecodeString(pub); err == nil {
			pub = base64.StdEncoding.EncodeToString(b)
		}
		out = append(out, fmt.Sprintf("%d/%d/%d/%s", k.Flags, k.Protocol, k.Algorithm, pub))
	}
	return uniq(out)
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// sameSet compares two sorted, duplicate-free lists.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// includes reports whether sorted list got holds every element of want.
func includes(got, want []string) bool {
	have := make(map[string]bool, len(got))
	for _, g := range got {
		have[g] = true
	}
	for _, w := range want {
		if !have[w] {
			return false
		}
	}
	return true
}
