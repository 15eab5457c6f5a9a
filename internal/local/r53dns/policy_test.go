package r53dns

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestShortPolicy checks the policy of a stack on the real clock: every TTL
// served is capped, signatures last Validity and are made again after
// Refresh, and a KSK that can no longer sign leaves the DNSKEY RRset
// without a valid signature once its last one expires.
func TestShortPolicy(t *testing.T) {
	p := policy{validity: 2 * time.Minute, refresh: 30 * time.Second, maxTTL: 60}
	snap, kms := signedSnapshot(t)
	v := newViewPolicy(snap, p)
	s, err := newSignerPolicy(v.origin, p)
	if err != nil {
		t.Fatal(err)
	}
	queries := []struct {
		name  string
		qtype uint16
	}{
		{"www.example.test.", dns.TypeA},
		{"long.example.test.", dns.TypeTXT},
		{"nope.example.test.", dns.TypeA},
		{"example.test.", dns.TypeDNSKEY},
		{"example.test.", dns.TypeNS},
	}
	for _, q := range queries {
		req := new(dns.Msg).SetQuestion(q.name, q.qtype)
		req.SetEdns0(1232, true)
		r := answer(v, s, req, t0)
		for _, rr := range append(r.Answer, r.Ns...) {
			if rr.Header().Ttl > p.maxTTL {
				t.Errorf("%s %s: %s has TTL %d, want at most %d", q.name, dns.TypeToString[q.qtype], dns.TypeToString[rr.Header().Rrtype], rr.Header().Ttl, p.maxTTL)
			}
			if sig, ok := rr.(*dns.RRSIG); ok {
				if got, want := sig.Expiration, uint32(t0.Add(p.validity).Unix()); got != want {
					t.Errorf("%s %s: RRSIG expires %d, want %d (validity %v)", q.name, dns.TypeToString[q.qtype], got, want, p.validity)
				}
			}
		}
	}

	rrset := v.nodes["www.example.test."][dns.TypeA]
	first, err := s.sign(rrset, t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at    time.Duration
		fresh bool // the cached signature is served again
	}{
		{p.refresh - time.Second, true},
		{p.refresh, false},
	}
	for _, tt := range tests {
		sig, err := s.sign(rrset, t0.Add(tt.at))
		if err != nil {
			t.Fatal(err)
		}
		if got := sig == first; got != tt.fresh {
			t.Errorf("sign at +%v: cached signature served = %v, want %v", tt.at, got, tt.fresh)
		}
	}

	s.dnskeyRRset(v, t0)
	kms.off.Store(true)
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{
		{p.validity - time.Second, 1},
		{p.validity + time.Second, 0},
	} {
		if _, sigs := s.dnskeyRRset(v, t0.Add(tt.at)); len(sigs) != tt.want {
			t.Errorf("KMS key off, at +%v: %d DNSKEY signatures, want %d", tt.at, len(sigs), tt.want)
		}
	}
}

func TestStartRefusesRefreshNotShorterThanValidity(t *testing.T) {
	_, err := Start(Config{Source: &fakeSource{}, Port: 1, Validity: time.Minute, Refresh: time.Minute})
	if err == nil {
		t.Error("Start with refresh = validity: no error, want one")
	}
}
