package dnssec

import (
	"crypto"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return rr
}

// RFC 4034 section 5.4: the DNSKEY whose key tag (computed with the
// Appendix B algorithm) is 60485, and its SHA-1 DS.
const (
	rfc4034DNSKEY = `dskey.example.com. 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9Xz
		fwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvx
		egXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/r
		ljwvFw== )`
	rfc4034DS = `dskey.example.com. 86400 IN DS 60485 5 1 ( 2BB183AF5F22588179A53B0A
		98631FAD1A292118 )`
)

func TestKeyTagRFC4034(t *testing.T) {
	key := mustRR(t, rfc4034DNSKEY).(*dns.DNSKEY)
	if got := key.KeyTag(); got != 60485 {
		t.Errorf("KeyTag() = %d, want 60485", got)
	}
	ds := mustRR(t, rfc4034DS).(*dns.DS)
	if !DSMatches(ds, key) {
		t.Errorf("DSMatches(RFC 4034 DS, RFC 4034 DNSKEY) = false, want true")
	}
	// DSMatches is about the digest; whether the validator uses algorithm 5
	// and SHA-1 is a separate question, answered no.
	if SupportedAlgorithm(ds.Algorithm) || SupportedDigest(ds.DigestType) {
		t.Errorf("algorithm 5 / digest 1 reported supported")
	}
}

// RFC 6605 section 6.1: the P-256 example for example.net.
const (
	rfc6605DNSKEY = `example.net. 3600 IN DNSKEY 257 3 13 (
		GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb
		krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA== )`
	rfc6605DS = `example.net. 3600 IN DS 55648 13 2 (
		b4c8c1fe2e7477127b27115656ad6256f424625bf5c1
		e2770ce6d6e37df61d17 )`
	rfc6605A     = `www.example.net. 3600 IN A 192.0.2.1`
	rfc6605RRSIG = `www.example.net. 3600 IN RRSIG A 13 3 3600 (
		20100909100439 20100812100439 55648 example.net.
		qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA
		yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw== )`
)

func TestRFC6605P256(t *testing.T) {
	key := mustRR(t, rfc6605DNSKEY).(*dns.DNSKEY)
	ds := mustRR(t, rfc6605DS).(*dns.DS)
	a := mustRR(t, rfc6605A)
	sig := mustRR(t, rfc6605RRSIG).(*dns.RRSIG)

	if got := key.KeyTag(); got != 55648 {
		t.Errorf("KeyTag() = %d, want 55648", got)
	}
	if !DSMatches(ds, key) {
		t.Errorf("DSMatches(RFC 6605 DS, DNSKEY) = false, want true")
	}
	if got := key.ToDS(dns.SHA256).Digest; !strings.EqualFold(got, ds.Digest) {
		t.Errorf("ToDS(SHA256).Digest = %s, want %s", got, ds.Digest)
	}
	inside := time.Date(2010, 8, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		now    time.Time
		keys   []*dns.DNSKEY
		signer string
		rrset  []dns.RR
		reason string // "" for valid
	}{
		{"valid inside the window", inside, []*dns.DNSKEY{key}, "example.net.", []dns.RR{a}, ""},
		{"expired", time.Date(2010, 9, 10, 0, 0, 0, 0, time.UTC), []*dns.DNSKEY{key}, "example.net.", []dns.RR{a}, "expired at 2010-09-09T10:04:39Z"},
		{"not yet valid", time.Date(2010, 8, 1, 0, 0, 0, 0, time.UTC), []*dns.DNSKEY{key}, "example.net.", []dns.RR{a}, "not yet valid (inception 2010-08-12T10:04:39Z)"},
		{"key not in the set", inside, nil, "example.net.", []dns.RR{a}, "made by a key not in the DNSKEY set"},
		{"signer is not the zone", inside, []*dns.DNSKEY{key}, "net.", []dns.RR{a}, "signer example.net. is not the zone net."},
		{"tampered data", inside, []*dns.DNSKEY{key}, "example.net.", []dns.RR{mustRR(t, "www.example.net. 3600 IN A 192.0.2.2")}, "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyRRset(tt.rrset, []*dns.RRSIG{sig}, tt.keys, tt.signer, tt.now)
			if tt.reason == "" {
				if err != nil || got != sig {
					t.Fatalf("VerifyRRset() = %v, %v; want the RFC signature, nil", got, err)
				}
				return
			}
			var be *BogusError
			if !errors.As(err, &be) {
				t.Fatalf("VerifyRRset() error = %v, want a *BogusError", err)
			}
			if !strings.Contains(be.Reason, tt.reason) || be.Name != "www.example.net." || be.Type != dns.TypeA {
				t.Errorf("VerifyRRset() error = %q, want www.example.net. A with reason containing %q", err, tt.reason)
			}
		})
	}
	if _, err := VerifyRRset([]dns.RR{a}, nil, []*dns.DNSKEY{key}, "example.net.", inside); err == nil || !strings.Contains(err.Error(), "www.example.net. A: missing RRSIG") {
		t.Errorf("VerifyRRset(no RRSIG) error = %v, want www.example.net. A: missing RRSIG", err)
	}
}

// testKey is a generated zone key with its signer.
type testKey struct {
	key    *dns.DNSKEY
	signer crypto.Signer
}

func newTestKey(t testing.TB, zone string, flags uint16, alg uint8) testKey {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: flags, Protocol: 3, Algorithm: alg}
	bits := map[uint8]int{dns.RSASHA256: 2048, dns.ECDSAP256SHA256: 256, dns.ECDSAP384SHA384: 384, dns.ED25519: 256}[alg]
	priv, err := k.Generate(bits)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return testKey{k, priv.(crypto.Signer)}
}

func (k testKey) sign(t testing.TB, rrset []dns.RR, inception, expiration time.Time) *dns.RRSIG {
	t.Helper()
	h := rrset[0].Header()
	sig := &dns.RRSIG{
		Hdr:         dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		TypeCovered: h.Rrtype, Algorithm: k.key.Algorithm, Labels: uint8(dns.CountLabel(h.Name)), OrigTtl: h.Ttl,
		Expiration: uint32(expiration.Unix()), Inception: uint32(inception.Unix()),
		KeyTag: k.key.KeyTag(), SignerName: k.key.Hdr.Name,
	}
	if err := sig.Sign(k.signer, rrset); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return sig
}

func TestVerifyDNSKEYs(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	ksk := newTestKey(t, "example.test.", 257, dns.ECDSAP256SHA256)
	zsk := newTestKey(t, "example.test.", 256, dns.ECDSAP256SHA256)
	idle := newTestKey(t, "example.test.", 257, dns.ECDSAP256SHA256)
	other := newTestKey(t, "example.test.", 257, dns.ECDSAP256SHA256)
	keys := []*dns.DNSKEY{ksk.key, zsk.key, idle.key}
	rrset := []dns.RR{ksk.key, zsk.key, idle.key}
	good := ksk.sign(t, rrset, now.Add(-time.Hour), now.Add(time.Hour))
	expired := ksk.sign(t, rrset, now.Add(-2*time.Hour), now.Add(-time.Hour))

	unsupported := ksk.key.ToDS(dns.SHA256)
	unsupported.Algorithm = 253
	tests := []struct {
		name    string
		anchors []dns.RR
		sigs    []*dns.RRSIG
		wantErr string // "" for success
	}{
		{"DS of the signing KSK", []dns.RR{ksk.key.ToDS(dns.SHA256)}, []*dns.RRSIG{good}, ""},
		{"SHA-384 DS", []dns.RR{ksk.key.ToDS(dns.SHA384)}, []*dns.RRSIG{good}, ""},
		{"DNSKEY anchor", []dns.RR{ksk.key}, []*dns.RRSIG{good}, ""},
		{"DS matches no key", []dns.RR{other.key.ToDS(dns.SHA256)}, []*dns.RRSIG{good}, "example.test. DNSKEY: no DS matches a DNSKEY that signs the set (DS " + itoa(other.key.KeyTag()) + "/13/2 matches no DNSKEY)"},
		{"DS for a key that signs nothing", []dns.RR{idle.key.ToDS(dns.SHA256)}, []*dns.RRSIG{good}, "DNSKEY " + itoa(idle.key.KeyTag()) + "/13 signs nothing"},
		{"expired signature", []dns.RR{ksk.key.ToDS(dns.SHA256)}, []*dns.RRSIG{expired}, "expired at"},
		{"no signature", []dns.RR{ksk.key.ToDS(dns.SHA256)}, nil, "signs nothing"},
		{"unsupported algorithm", []dns.RR{unsupported}, []*dns.RRSIG{good}, ErrUnsupported.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyDNSKEYs("example.test.", tt.anchors, keys, tt.sigs, now)
			if tt.wantErr == "" {
				if err != nil || len(got) != len(keys) {
					t.Fatalf("VerifyDNSKEYs() = %d keys, %v; want %d keys, nil", len(got), err, len(keys))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("VerifyDNSKEYs() error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }
