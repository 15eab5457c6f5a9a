package rollover

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestKeyRFC6605(t *testing.T) {
	// RFC 6605 section 6.1: the P-256 example key, its tag and SHA-256 DS.
	k := Key{Flags: 257, Algorithm: 13, PublicKey: "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="}
	if got := k.Tag(); got != 55648 {
		t.Errorf("Tag() = %d, want 55648", got)
	}
	ds, err := k.DS("example.net.", dns.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	want := DS{KeyTag: 55648, Algorithm: 13, DigestType: 2, Digest: "B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"}
	if ds != want {
		t.Errorf("DS = %+v, want %+v", ds, want)
	}
	if !NewDSSet(ds).covers("example.net.", k) || NewDSSet(ds).covers("example.org.", k) {
		t.Errorf("covers: want the DS to cover the key of example.net. only")
	}
	if got := k.String(); got != "KSK 55648/13" {
		t.Errorf("String() = %q", got)
	}
}

func TestDSSetCanonical(t *testing.T) {
	a := DS{KeyTag: 2, Algorithm: 13, DigestType: 2, Digest: "abcd"}
	b := DS{KeyTag: 1, Algorithm: 13, DigestType: 2, Digest: "EF01"}
	s1 := NewDSSet(a, b, a)
	s2 := NewDSSet(b, DS{KeyTag: 2, Algorithm: 13, DigestType: 2, Digest: "ABCD"})
	if s1.ID() != s2.ID() {
		t.Errorf("IDs differ: %q vs %q", s1.ID(), s2.ID())
	}
	if got, want := s1.String(), "DS {1/13/2, 2/13/2}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (DSSet{}).ID(); got != "none" {
		t.Errorf("empty ID = %q", got)
	}
	rrs := []dns.RR{a.RR(zone), b.RR(zone), &dns.A{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeA, Ttl: 9}}}
	rrs[0].Header().Ttl, rrs[1].Header().Ttl = 300, 3600
	set, ttl := DSSetFromRRs(rrs)
	if set.ID() != s1.ID() || ttl != 3600 {
		t.Errorf("DSSetFromRRs = %s TTL %d, want %s TTL 3600", set, ttl, s1)
	}
}

func TestDNSKEYSetFromRRs(t *testing.T) {
	now := t0
	kskK, kskRR, kskPriv := newKey(t, 257)
	zskK, zskRR, _ := newKey(t, 256)
	otherK, otherRR, otherPriv := newKey(t, 257)
	rrset := []dns.RR{kskRR, zskRR, otherRR}
	mk := func(k *dns.DNSKEY, inc, exp time.Time) *dns.RRSIG {
		return &dns.RRSIG{
			Hdr:         dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
			TypeCovered: dns.TypeDNSKEY, Algorithm: k.Algorithm, Labels: 2, OrigTtl: 3600,
			KeyTag: k.KeyTag(), SignerName: zone,
			Inception: uint32(inc.Unix()), Expiration: uint32(exp.Unix()),
		}
	}
	good := mk(kskRR, now.Add(-time.Hour), now.Add(time.Hour))
	if err := good.Sign(kskPriv, rrset); err != nil {
		t.Fatal(err)
	}
	expired := mk(otherRR, now.Add(-2*time.Hour), now.Add(-time.Hour))
	if err := expired.Sign(otherPriv, rrset); err != nil {
		t.Fatal(err)
	}
	zskRR.Hdr.Ttl = 7200
	set, ttl := DNSKEYSetFromRRs(zone, append(append([]dns.RR{}, rrset...), good, expired), now)
	want := NewDNSKEYSet([]Key{zskK, otherK}, kskK)
	if set.ID() != want.ID() {
		t.Errorf("DNSKEYSetFromRRs = %s, want %s (only the valid signature counts)", set, want)
	}
	if ttl != 7200 {
		t.Errorf("TTL = %d, want 7200", ttl)
	}
	if set, _ := DNSKEYSetFromRRs(zone, nil, now); !set.Unsigned() || set.String() != "unsigned zone" {
		t.Errorf("no records: %s, want the unsigned zone", set)
	}
}
