package r53dns

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
)

// Signature policy.
const (
	// InceptionSkew back-dates every signature's inception so that a
	// validator whose clock is a little behind still accepts it.
	InceptionSkew = time.Hour
	// Validity is how long a signature lasts: two weeks, as the local
	// stack assumes for Route 53 everywhere (hierarchy.DefaultValidity), so
	// that a KSK whose KMS key is lost leaves the zone valid for up to two
	// weeks after the last refresh.
	Validity = 14 * 24 * time.Hour
	// RefreshInterval is how old a cached signature may get before it is
	// made again: the "once a day regular refresh" of the Route 53
	// Developer Guide (KMS key and ZSK management in Route 53).
	RefreshInterval = 24 * time.Hour
	// maxCachedSignatures bounds a zone's signature cache; past it the
	// cache starts again empty.
	maxCachedSignatures = 10000
)

// policy is how a Service signs and which TTLs it serves.
type policy struct {
	validity, refresh time.Duration
	// maxTTL caps every TTL served (0: only Route 53's one-week cap of
	// signed zones).
	maxTTL uint32
}

// defaultPolicy is Route 53's.
var defaultPolicy = policy{validity: Validity, refresh: RefreshInterval}

// ttl caps a TTL by the policy.
func (p policy) ttl(ttl uint32) uint32 {
	if p.maxTTL > 0 && ttl > p.maxTTL {
		return p.maxTTL
	}
	return ttl
}

// signer holds a hosted zone's managed ZSK and its signature caches.
type signer struct {
	origin string
	zsk    *dns.DNSKEY
	priv   crypto.Signer
	policy policy

	mu   sync.Mutex
	sigs map[string]cachedSig // ZSK signatures, by RRset
	// dnskey holds, per KSK name, the last DNSKEY RRset signature the KSK
	// made: served while valid when the KSK can no longer sign.
	dnskey map[string]cachedSig
}

type cachedSig struct {
	set      string // the RRset it covers (setKey)
	sig      *dns.RRSIG
	signedAt time.Time
}

func newSigner(origin string) (*signer, error) { return newSignerPolicy(origin, defaultPolicy) }

func newSignerPolicy(origin string, p policy) (*signer, error) {
	k, err := authzone.GenerateKey(origin, dns.ECDSAP256SHA256, authzone.ZSK)
	if err != nil {
		return nil, fmt.Errorf("r53dns: ZSK for %s: %w", origin, err)
	}
	k.DNSKEY.Hdr.Ttl = p.ttl(route53emu.DNSKEYTTL)
	return &signer{
		origin: origin,
		zsk:    k.DNSKEY,
		priv:   k.Signer,
		policy: p,
		sigs:   map[string]cachedSig{},
		dnskey: map[string]cachedSig{},
	}, nil
}

// fresh reports whether c can be served at now without being made again,
// refresh after it was made.
func (c cachedSig) fresh(set string, now time.Time, refresh time.Duration) bool {
	return c.sig != nil && c.set == set && !now.Before(c.signedAt) && now.Sub(c.signedAt) < refresh && c.sig.ValidityPeriod(now)
}

// sign returns the ZSK's signature over rrset at now, from the cache when
// it is fresh.
func (s *signer) sign(rrset []dns.RR, now time.Time) (*dns.RRSIG, error) {
	set := setKey(rrset)
	s.mu.Lock()
	c := s.sigs[set]
	s.mu.Unlock()
	if c.fresh(set, now, s.policy.refresh) {
		return c.sig, nil
	}
	sig, err := makeSig(rrset, s.zsk, s.priv, s.origin, now, s.policy.validity)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.sigs) >= maxCachedSignatures {
		s.sigs = map[string]cachedSig{}
	}
	s.sigs[set] = cachedSig{set: set, sig: sig, signedAt: now}
	s.mu.Unlock()
	return sig, nil
}

// dnskeyRRset returns the DNSKEY RRset of v (its published KSKs and the
// ZSK) and its signatures at now: one per ACTIVE KSK that can sign, and
// for a KSK that cannot (or is no longer ACTIVE but still published), the
// last signature it made over the same RRset while that is still valid.
func (s *signer) dnskeyRRset(v *view, now time.Time) ([]dns.RR, []dns.RR) {
	var rrset []dns.RR
	for _, k := range v.ksks {
		key := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
		key.Hdr.Name, key.Hdr.Ttl = s.origin, s.policy.ttl(route53emu.DNSKEYTTL)
		rrset = append(rrset, key)
	}
	rrset = append(rrset, dns.Copy(s.zsk))
	set := setKey(rrset)
	var sigs []dns.RR
	for _, k := range v.ksks {
		s.mu.Lock()
		last := s.dnskey[k.Name]
		s.mu.Unlock()
		if last.fresh(set, now, s.policy.refresh) {
			sigs = append(sigs, last.sig)
			continue
		}
		if k.Status == route53emu.KSKActive && k.Signer != nil {
			sig, err := makeSig(rrset, k.DNSKEY, k.Signer, s.origin, now, s.policy.validity)
			if err == nil {
				s.mu.Lock()
				s.dnskey[k.Name] = cachedSig{set: set, sig: sig, signedAt: now}
				s.mu.Unlock()
				sigs = append(sigs, sig)
				continue
			}
		}
		if last.sig != nil && last.set == set && last.sig.ValidityPeriod(now) {
			sigs = append(sigs, last.sig)
		}
	}
	return rrset, sigs
}

// makeSig signs rrset with key at now for validity (RFC 4034 section 3,
// RFC 6605).
func makeSig(rrset []dns.RR, key *dns.DNSKEY, priv crypto.Signer, zone string, now time.Time, validity time.Duration) (*dns.RRSIG, error) {
	h := rrset[0].Header()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm:  key.Algorithm,
		OrigTtl:    h.Ttl,
		Inception:  uint32(now.Add(-InceptionSkew).Unix()),
		Expiration: uint32(now.Add(validity).Unix()),
		KeyTag:     key.KeyTag(),
		SignerName: zone,
	}
	if err := sig.Sign(priv, rrset); err != nil {
		return nil, fmt.Errorf("r53dns: sign %s %s with key %d: %w", h.Name, dns.TypeToString[h.Rrtype], sig.KeyTag, err)
	}
	return sig, nil
}

// setKey identifies an RRset by owner, type, TTL and data.
func setKey(rrset []dns.RR) string {
	lines := make([]string, len(rrset))
	for i, rr := range rrset {
		lines[i] = strings.ToLower(rr.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
