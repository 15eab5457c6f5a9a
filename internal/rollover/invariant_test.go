package rollover

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUnsafeSchedulesRejected plays the schedules that break zones and
// checks that the invariant rejects each with the combination that fails,
// that the gate says "not yet" at that time, and that the same transition at
// its gate passes.
func TestUnsafeSchedulesRejected(t *testing.T) {
	oldK, newK := ksk(t), ksk(t)
	oldDS, newDS := dsOf(t, oldK), dsOf(t, newK)

	tests := []struct {
		name       string
		history    func(s *scene)
		at         time.Time
		transition Transition
		plan       func(h *History, now time.Time) (Plan, error)
		failDS     DSSet     // the combination that must fail
		failKeys   DNSKEYSet //
		reason     string
	}{{
		name: "old DS removed as soon as the new one appears",
		history: func(s *scene) {
			s.record(hours(0), all(NewDSSet(oldDS), signed(oldK)))
			s.record(hours(1), all(NewDSSet(oldDS), signed(oldK, newK)))
			s.record(hours(1.1), all(NewDSSet(oldDS, newDS), signed(oldK, newK)))
		},
		at: hours(1.2), transition: RemoveOldDS,
		plan:   func(h *History, now time.Time) (Plan, error) { return RotateKSKGates(h, oldK, newK, 0, now) },
		failDS: NewDSSet(newDS), failKeys: signed(oldK),
		reason: fmt.Sprintf("DS %d/13/2 matches no DNSKEY", newDS.KeyTag),
	}, {
		name: "KSK retired while its DS may be cached",
		history: func(s *scene) {
			s.record(hours(0), all(NewDSSet(oldDS), signed(oldK)))
			s.record(hours(1), all(NewDSSet(oldDS), signed(oldK, newK)))
			s.record(hours(2), all(NewDSSet(oldDS, newDS), signed(oldK, newK)))
			s.record(hours(4), all(NewDSSet(newDS), signed(oldK, newK)))
		},
		// The DS set holding only the old DS was last served at 2h; a
		// cache may hold it until 2h + 1 day.
		at: hours(5), transition: DeactivateOldKSK,
		plan:   func(h *History, now time.Time) (Plan, error) { return RotateKSKGates(h, oldK, newK, 0, now) },
		failDS: NewDSSet(oldDS), failKeys: signed(newK),
		reason: fmt.Sprintf("DS %d/13/2 matches no DNSKEY", oldDS.KeyTag),
	}, {
		name: "signing disabled while a DS may be cached",
		history: func(s *scene) {
			s.record(hours(0), all(NewDSSet(oldDS), signed(oldK)))
			s.record(hours(1), all(nil, signed(oldK)))
		},
		at: hours(2), transition: DisableSigning,
		plan:   func(h *History, now time.Time) (Plan, error) { return DisableSigningGates(h, 0, now) },
		failDS: NewDSSet(oldDS), failKeys: DNSKEYSet{},
		reason: "no DNSKEY records although the parent has a DS",
	}, {
		name: "DS published while unsigned answers may be cached",
		history: func(s *scene) {
			s.h.ObserveZoneTTL(86400)
			s.record(hours(0), all(nil, DNSKEYSet{}))
			s.record(hours(1), all(nil, signed(newK)))
		},
		at: hours(2), transition: PublishDS,
		plan:   func(h *History, now time.Time) (Plan, error) { return EnableSigningGates(h, newK, 0, now) },
		failDS: NewDSSet(newDS), failKeys: DNSKEYSet{},
		reason: "no DNSKEY records although the parent has a DS",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			tt.history(s)
			p, err := tt.plan(s.h, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := p.Gate(tt.transition)
			if g.Ready {
				t.Errorf("gate %s is ready at %s, want not yet:\n%v", tt.transition, stamp(tt.at), g)
			}
			err = CheckTransition(s.h.CacheAt(g.After, tt.at))
			var unsafe *UnsafeError
			if !errors.As(err, &unsafe) {
				t.Fatalf("CheckTransition at %s = %v, want *UnsafeError", stamp(tt.at), err)
			}
			if !unsafe.Fails(tt.failDS, tt.failKeys) {
				t.Errorf("CheckTransition = %v, want the combination %s with %s to fail", err, tt.failDS, tt.failKeys)
			}
			if !strings.Contains(err.Error(), tt.reason) || !strings.Contains(err.Error(), tt.failDS.String()) {
				t.Errorf("CheckTransition = %v, want it to name %s and say %q", err, tt.failDS, tt.reason)
			}
			if !g.Determined() {
				t.Fatalf("gate %s not determined: %v", tt.transition, g.Pending)
			}
			if err := CheckTransition(s.h.CacheAt(g.After, g.Earliest)); err != nil {
				t.Errorf("CheckTransition at the gate %s = %v, want nil", stamp(g.Earliest), err)
			}
		})
	}
}

func TestCheckTransitionCombinations(t *testing.T) {
	a, b := ksk(t), ksk(t)
	dsA, dsB := dsOf(t, a), dsOf(t, b)
	dsA384, err := a.DS(zone, dns.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	unsupportedDigest := DS{KeyTag: dsA.KeyTag, Algorithm: 13, DigestType: dns.SHA1, Digest: "00"}
	unsupportedAlg := DS{KeyTag: 1, Algorithm: dns.RSASHA1, DigestType: dns.SHA256, Digest: "AB"}
	tests := []struct {
		name string
		ds   DSSet
		keys DNSKEYSet
		ok   bool
	}{
		{"no DS, unsigned: insecure", nil, DNSKEYSet{}, true},
		{"no DS, signed: insecure", nil, signed(a), true},
		{"DS matches signing key", NewDSSet(dsA), signed(a), true},
		{"SHA-384 DS", NewDSSet(dsA384), signed(a), true},
		{"one of two DS matches", NewDSSet(dsA, dsB), signed(b), true},
		{"DS of a key that is published but does not sign", NewDSSet(dsA), NewDNSKEYSet([]Key{a}, b), false},
		{"DS of an absent key", NewDSSet(dsB), signed(a), false},
		{"DS, unsigned zone", NewDSSet(dsA), DNSKEYSet{}, false},
		{"only an unsupported digest: insecure", NewDSSet(unsupportedDigest), DNSKEYSet{}, true},
		{"only an unsupported algorithm: insecure", NewDSSet(unsupportedAlg), DNSKEYSet{}, true},
		{"unsupported beside a usable DS that does not match", NewDSSet(unsupportedAlg, dsB), signed(a), false},
	}
	for _, tt := range tests {
		err := CheckTransition(CacheState{Zone: zone, At: t0, DS: []DSSet{tt.ds}, DNSKEY: []DNSKEYSet{tt.keys}})
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckTransition(%s, %s) = %v, want ok %v", tt.name, tt.ds, tt.keys, err, tt.ok)
		}
	}
}

func TestCacheAt(t *testing.T) {
	k, n := ksk(t), ksk(t)
	ds := dsOf(t, k)
	s := newScene(t) // DS TTL 1 day, DNSKEY TTL 1 hour
	s.h.ObserveZoneTTL(7200)
	s.record(hours(0), all(nil, DNSKEYSet{}))
	s.record(hours(1), all(NewDSSet(ds), signed(k)))
	s.record(hours(2), all(nil, signed(n)))
	after := Published{DS: nil, DNSKEY: signed(n)}
	tests := []struct {
		at     time.Time
		ds     []string
		dnskey []string
	}{
		// Unsigned last served 1h, cached until 1h + 2h (zone TTL).
		{hours(2), []string{"none", NewDSSet(ds).ID()}, []string{"unsigned", signed(k).ID(), signed(n).ID()}},
		// DNSKEY {k} last served 2h, cached until 3h.
		{hours(3).Add(-time.Second), []string{"none", NewDSSet(ds).ID()}, []string{"unsigned", signed(k).ID(), signed(n).ID()}},
		{hours(3), []string{"none", NewDSSet(ds).ID()}, []string{signed(n).ID()}},
		// DS last served 2h, cached until 26h.
		{hours(26), []string{"none"}, []string{signed(n).ID()}},
	}
	for _, tt := range tests {
		c := s.h.CacheAt(after, tt.at)
		var ds, keys []string
		for _, d := range c.DS {
			ds = append(ds, d.ID())
		}
		for _, k := range c.DNSKEY {
			keys = append(keys, k.ID())
		}
		if strings.Join(ds, "|") != strings.Join(tt.ds, "|") || strings.Join(keys, "|") != strings.Join(tt.dnskey, "|") {
			t.Errorf("CacheAt(%s) = DS %q DNSKEY %q, want DS %q DNSKEY %q", stamp(tt.at), ds, keys, tt.ds, tt.dnskey)
		}
	}
}
