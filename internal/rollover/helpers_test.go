package rollover

import (
	"crypto"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const zone = "example.test."

// t0 is the fixed start of every test timeline.
var t0 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func hours(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

// newKey generates a real P-256 key of zone with flags (257 KSK, 256 ZSK).
func newKey(t testing.TB, flags uint16) (Key, *dns.DNSKEY, crypto.Signer) {
	t.Helper()
	rr := &dns.DNSKEY{
		Hdr:   dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: flags, Protocol: 3, Algorithm: dns.ECDSAP256SHA256,
	}
	for {
		priv, err := rr.Generate(256)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if rr.KeyTag() != 0 { // miekg/dns does not sign with key tag 0
			return KeyFromRR(rr), rr, priv.(crypto.Signer)
		}
	}
}

func ksk(t testing.TB) Key { k, _, _ := newKey(t, 257); return k }

func dsOf(t testing.TB, k Key) DS {
	t.Helper()
	d, err := k.DS(zone, dns.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// scene records what a fixed list of parent and zone servers serve.
type scene struct {
	t      testing.TB
	h      *History
	parent []string
	zone   []string
	dsTTL  uint32
	keyTTL uint32
	negTTL uint32
}

func newScene(t testing.TB) *scene {
	return &scene{
		t: t, h: NewHistory(zone),
		parent: []string{"192.0.2.1:53", "192.0.2.2:53"},
		zone:   []string{"198.51.100.1:53", "198.51.100.2:53"},
		dsTTL:  86400, keyTTL: 3600, negTTL: 900,
	}
}

// serve records one snapshot at at; nil for a side means not observed, and
// per-server values override the set for that server ("?" marks unknown).
type serving struct {
	ds      *DSSet
	keys    *DNSKEYSet
	dsBy    map[int]DSSet // parent server index -> set
	keysBy  map[int]DNSKEYSet
	unknown map[string]bool
}

func (s *scene) record(at time.Time, v serving) {
	s.t.Helper()
	snap := Snapshot{At: at}
	if v.ds != nil || len(v.dsBy) > 0 {
		for i, srv := range s.parent {
			set := DSSet{}
			if v.ds != nil {
				set = *v.ds
			}
			if o, ok := v.dsBy[i]; ok {
				set = o
			}
			snap.Parent = append(snap.Parent, DSAnswer{Server: srv, Unknown: v.unknown[srv], Set: set, TTL: s.dsTTL})
		}
	}
	if v.keys != nil || len(v.keysBy) > 0 {
		for i, srv := range s.zone {
			set := DNSKEYSet{}
			if v.keys != nil {
				set = *v.keys
			}
			if o, ok := v.keysBy[i]; ok {
				set = o
			}
			a := DNSKEYAnswer{Server: srv, Unknown: v.unknown[srv], Set: set, TTL: s.keyTTL}
			if set.Unsigned() {
				a.TTL, a.NegativeTTL = 0, s.negTTL
			}
			snap.Zone = append(snap.Zone, a)
		}
	}
	if err := s.h.Record(snap); err != nil {
		s.t.Fatalf("Record(%s): %v", stamp(at), err)
	}
}

// all returns a serving in which every server serves ds and keys.
func all(ds DSSet, keys DNSKEYSet) serving { return serving{ds: &ds, keys: &keys} }

func signed(signers ...Key) DNSKEYSet { return NewDNSKEYSet(nil, signers...) }
