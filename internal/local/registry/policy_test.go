package registry

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// TestShortPolicy checks a registry configured for the real clock: every
// TTL is capped and signatures last Validity, made again after Refresh.
func TestShortPolicy(t *testing.T) {
	const maxTTL = 60
	validity, refresh := 4*time.Minute, time.Minute
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(base), "test.", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	clk := clock.NewVirtual(t0)
	srv := authserver.New()
	r, err := New(Config{
		Clock: clk, Origin: "test.", Records: rrs, Servers: []*authserver.Server{srv},
		Keys:     []*authzone.Key{authzone.MustGenerateKey("test.", dns.ECDSAP256SHA256, authzone.CSK)},
		Validity: validity, Refresh: refresh, MaxTTL: maxTTL,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Delegate("example.test.", []string{"ns-1.awsdns-00.test."}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetHost("ns-1.awsdns-00.test.", netip.MustParseAddr("127.9.9.9")); err != nil {
		t.Fatal(err)
	}
	ds := &dns.DS{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: DSTTL}, KeyTag: 1, Algorithm: 13, DigestType: 2,
		Digest: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	if err := r.SetDS("example.test.", []*dns.DS{ds}); err != nil {
		t.Fatal(err)
	}
	expiry := func(m *dns.Msg) uint32 {
		for _, rr := range m.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok {
				return sig.Expiration
			}
		}
		return 0
	}
	tests := []struct {
		name  string
		qtype uint16
		want  int // records of qtype
	}{
		{"example.test.", dns.TypeDS, 1},
		{"ns-1.awsdns-00.test.", dns.TypeA, 1},
		{"test.", dns.TypeDNSKEY, 1},
		{"test.", dns.TypeSOA, 1},
		{"www.example.test.", dns.TypeA, 0}, // a referral
	}
	for _, tt := range tests {
		m := ask(srv, tt.name, tt.qtype)
		if got := count(m.Answer, tt.qtype); got != tt.want {
			t.Errorf("%s %s: %d records, want %d", tt.name, dns.TypeToString[tt.qtype], got, tt.want)
		}
		for _, rr := range append(m.Answer, m.Ns...) {
			if rr.Header().Ttl > maxTTL {
				t.Errorf("%s %s: %s TTL %d, want at most %d", tt.name, dns.TypeToString[tt.qtype], dns.TypeToString[rr.Header().Rrtype], rr.Header().Ttl, maxTTL)
			}
		}
		if tt.want > 0 {
			if got, want := expiry(m), uint32(t0.Add(validity).Unix()); got != want {
				t.Errorf("%s %s: RRSIG expires %d, want %d", tt.name, dns.TypeToString[tt.qtype], got, want)
			}
		}
	}
	clk.Advance(refresh - time.Second)
	if got, want := expiry(ask(srv, "test.", dns.TypeSOA)), uint32(t0.Add(validity).Unix()); got != want {
		t.Errorf("before the refresh: RRSIG expires %d, want the first signature's %d", got, want)
	}
	clk.Advance(time.Second)
	if got, want := expiry(ask(srv, "test.", dns.TypeSOA)), uint32(clk.Now().Add(validity).Unix()); got != want {
		t.Errorf("at the refresh: RRSIG expires %d, want a new signature's %d", got, want)
	}

	if _, err := New(Config{Clock: clk, Origin: "test.", Records: rrs, Validity: time.Minute, Refresh: time.Minute}); err == nil {
		t.Error("New with refresh = validity: no error, want one")
	}
}
