package dnssec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SupportedAlgorithm reports whether DNSKEY algorithm alg is validated here:
// RSASHA256 (8), ECDSAP256SHA256 (13, Route 53's), ECDSAP384SHA384 (14) and
// ED25519 (15). A zone whose DS set names only other algorithms is treated
// as insecure, never bogus (RFC 4035 section 5.2).
func SupportedAlgorithm(alg uint8) bool {
	switch alg {
	case dns.RSASHA256, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	}
	return false
}

// SupportedDigest reports whether DS digest type d is validated here:
// SHA-256 (2) and SHA-384 (4).
func SupportedDigest(d uint8) bool {
	return d == dns.SHA256 || d == dns.SHA384
}

// ErrUnsupported marks a DS set none of whose records this validator can use:
// the zone below is insecure (RFC 4035 section 5.2, RFC 6840 section 5.2).
var ErrUnsupported = errors.New("no DS record uses a supported algorithm and digest")

// BogusError says which record failed which check. Its text is the reason
// shown to people, e.g. "example.test. DNSKEY: no DS matches a DNSKEY that
// signs the set".
type BogusError struct {
	Name   string // owner of the RRset that failed
	Type   uint16 // its type
	Reason string // the check that failed
	// Zone is the zone whose data failed, when known; it is shown when it
	// differs from Name ("www.example.test. A in example.test.: ...").
	Zone string
}

func (e *BogusError) Error() string {
	return recordReason(e.Name, e.Type, e.Zone, e.Reason)
}

// recordReason formats a verdict reason that names the record, the zone (when
// it is not the record's owner) and the check.
func recordReason(name string, t uint16, zone, check string) string {
	if zone != "" && !strings.EqualFold(dns.CanonicalName(zone), dns.CanonicalName(name)) {
		return fmt.Sprintf("%s %s in %s: %s", name, typeString(t), zone, check)
	}
	return fmt.Sprintf("%s %s: %s", name, typeString(t), check)
}

func bogus(name string, t uint16, format string, args ...any) *BogusError {
	return &BogusError{Name: name, Type: t, Reason: fmt.Sprintf(format, args...)}
}

// DSMatches reports whether ds is the digest of key: same owner, key tag,
// algorithm, and the digest recomputed from the key (RFC 4034 section 5.1.4).
func DSMatches(ds *dns.DS, key *dns.DNSKEY) bool {
	if !strings.EqualFold(dns.CanonicalName(ds.Hdr.Name), dns.CanonicalName(key.Hdr.Name)) {
		return false
	}
	if ds.Algorithm != key.Algorithm || ds.KeyTag != key.KeyTag() || key.Flags&dns.ZONE == 0 {
		return false
	}
	computed := key.ToDS(ds.DigestType)
	return computed != nil && strings.EqualFold(computed.Digest, ds.Digest)
}

// SigsFor returns the RRSIGs in rrs that cover type t at owner name.
func SigsFor(rrs []dns.RR, name string, t uint16) []*dns.RRSIG {
	var out []*dns.RRSIG
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == t && dns.CanonicalName(s.Hdr.Name) == dns.CanonicalName(name) {
			out = append(out, s)
		}
	}
	return out
}

// VerifyRRset checks that at least one RRSIG in sigs, made by one of keys for
// zone signer, validates rrset at time now (RFC 4035 section 5.3). It returns
// the signature that validated. When none does, the error is a *BogusError
// naming the most telling failure (missing, expired, not yet valid, no key,
// bad signature).
func VerifyRRset(rrset []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, signer string, now time.Time) (*dns.RRSIG, error) {
	if len(rrset) == 0 {
		return nil, errors.New("dnssec: empty RRset")
	}
	h := rrset[0].Header()
	name, rtype := dns.CanonicalName(h.Name), h.Rrtype
	if len(sigs) == 0 {
		return nil, bogus(h.Name, rtype, "missing RRSIG")
	}
	var fails []failure
	for _, sig := range sigs {
		err := verifyOne(rrset, sig, keys, signer, name, now)
		if err == nil {
			return sig, nil
		}
		fails = append(fails, *err)
	}
	sort.SliceStable(fails, func(i, j int) bool { return fails[i].rank > fails[j].rank })
	return nil, bogus(h.Name, rtype, "%s", fails[0].msg)
}

// failure ranks why one signature failed, so that the reason reported for an
// RRset is the one closest to validating (an expired but otherwise good
// signature says more than a signature by an unknown key).
type failure struct {
	rank int
	msg  string
}

func verifyOne(rrset []dns.RR, sig *dns.RRSIG, keys []*dns.DNSKEY, signer, name string, now time.Time) *failure {
	tag := fmt.Sprintf("RRSIG %d/%d", sig.KeyTag, sig.Algorithm)
	if dns.CanonicalName(sig.SignerName) != dns.CanonicalName(signer) {
		return &failure{1, fmt.Sprintf("%s signer %s is not the zone %s", tag, sig.SignerName, signer)}
	}
	if !dns.IsSubDomain(dns.CanonicalName(signer), name) {
		return &failure{1, fmt.Sprintf("%s signer %s is not an ancestor of the owner", tag, sig.SignerName)}
	}
	if int(sig.Labels) > dns.CountLabel(name) {
		return &failure{1, fmt.Sprintf("%s labels field %d exceeds the owner's labels", tag, sig.Labels)}
	}
	if !SupportedAlgorithm(sig.Algorithm) {
		return &failure{0, fmt.Sprintf("%s uses unsupported algorithm %d", tag, sig.Algorithm)}
	}
	var candidates []*dns.DNSKEY
	for _, k := range keys {
		if k.Algorithm == sig.Algorithm && k.KeyTag() == sig.KeyTag && k.Flags&dns.ZONE != 0 && k.Protocol == 3 {
			candidates = append(candidates, k)
		}
	}
	if len(candidates) == 0 {
		return &failure{2, fmt.Sprintf("%s made by a key not in the DNSKEY set", tag)}
	}
	var cryptoErr error
	for _, k := range candidates {
		if cryptoErr = sig.Verify(k, rrset); cryptoErr == nil {
			break
		}
	}
	if cryptoErr != nil {
		return &failure{3, fmt.Sprintf("%s does not verify: %v", tag, cryptoErr)}
	}
	// The time check is separate from the crypto check (as in miekg/dns) and
	// uses the injected clock, with RFC 1982 serial arithmetic.
	if !sig.ValidityPeriod(now) {
		inc, exp := sigTime(sig.Inception), sigTime(sig.Expiration)
		if now.Before(inc) {
			return &failure{4, fmt.Sprintf("%s not yet valid (inception %s)", tag, inc.Format(time.RFC3339))}
		}
		return &failure{4, fmt.Sprintf("%s expired at %s", tag, exp.Format(time.RFC3339))}
	}
	return nil
}

// sigTime converts an RRSIG timestamp to a time (only for messages: the
// validity decision itself uses RRSIG.ValidityPeriod).
func sigTime(t uint32) time.Time { return time.Unix(int64(t), 0).UTC() }

// SigExpiry returns the RRSIG's expiration time as an absolute time.
func SigExpiry(sig *dns.RRSIG) time.Time { return sigTime(sig.Expiration) }

// VerifyDNSKEYs decides whether the DNSKEY RRset of zone is trusted by the DS
// set (or by trust-anchor records, DS or DNSKEY) in anchors: some anchor must
// match a zone key that itself signs the DNSKEY RRset with a valid signature
// (RFC 4035 section 5.2). It returns the zone's keys on success. When no
// anchor uses a supported algorithm and digest, it returns ErrUnsupported
// (the zone is insecure). Other failures are *BogusError.
func VerifyDNSKEYs(zone string, anchors []dns.RR, keys []*dns.DNSKEY, sigs []*dns.RRSIG, now time.Time) ([]*dns.DNSKEY, error) {
	zone = dns.CanonicalName(zone)
	if len(keys) == 0 {
		return nil, bogus(zone, dns.TypeDNSKEY, "no DNSKEY records although the parent has a DS")
	}
	rrset := make([]dns.RR, len(keys))
	for i, k := range keys {
		rrset[i] = k
	}
	usable := 0
	var details []string
	for _, a := range anchors {
		var matched []*dns.DNSKEY
		switch a := a.(type) {
		case *dns.DS:
			if !SupportedAlgorithm(a.Algorithm) || !SupportedDigest(a.DigestType) {
				continue
			}
			usable++
			for _, k := range keys {
				if DSMatches(a, k) {
					matched = append(matched, k)
				}
			}
			if len(matched) == 0 {
				details = append(details, fmt.Sprintf("DS %d/%d/%d matches no DNSKEY", a.KeyTag, a.Algorithm, a.DigestType))
			}
		case *dns.DNSKEY:
			if !SupportedAlgorithm(a.Algorithm) {
				continue
			}
			usable++
			for _, k := range keys {
				if k.Algorithm == a.Algorithm && k.Flags == a.Flags && k.PublicKey == a.PublicKey {
					matched = append(matched, k)
				}
			}
			if len(matched) == 0 {
				details = append(details, fmt.Sprintf("anchor DNSKEY %d is not in the DNSKEY set", a.KeyTag()))
			}
		}
		for _, k := range matched {
			var ksigs []*dns.RRSIG
			for _, s := range sigs {
				if s.KeyTag == k.KeyTag() && s.Algorithm == k.Algorithm {
					ksigs = append(ksigs, s)
				}
			}
			if len(ksigs) == 0 {
				details = append(details, fmt.Sprintf("DNSKEY %d/%d signs nothing", k.KeyTag(), k.Algorithm))
				continue
			}
			_, err := VerifyRRset(rrset, ksigs, []*dns.DNSKEY{k}, zone, now)
			if err == nil {
				return keys, nil
			}
			var be *BogusError
			if errors.As(err, &be) {
				details = append(details, fmt.Sprintf("DNSKEY %d/%d: %s", k.KeyTag(), k.Algorithm, be.Reason))
			} else {
				details = append(details, err.Error())
			}
		}
	}
	if usable == 0 {
		return nil, ErrUnsupported
	}
	return nil, bogus(zone, dns.TypeDNSKEY, "no DS matches a DNSKEY that signs the set (%s)", strings.Join(details, "; "))
}
