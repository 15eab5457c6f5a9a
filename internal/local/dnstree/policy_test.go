package dnstree

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// TestShortPolicy checks that a tree for the real clock hands its
// signature validity and TTL cap to the root and the TLD.
func TestShortPolicy(t *testing.T) {
	const maxTTL = 60
	validity := 10 * time.Minute
	clk := clock.NewVirtual(t0)
	r53 := route53emu.New(route53emu.Options{Clock: clk})
	defer r53.Close()
	tree, err := Start(Config{Clock: clk, Route53: r53, Validity: validity, MaxTTL: maxTTL})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer tree.Close()
	if err := tree.RegisterDomain("example.test", []string{"ns1.elsewhere.example."}); err != nil {
		t.Fatal(err)
	}
	c := &dnsquery.Client{}
	tests := []struct {
		server netip.AddrPort
		name   string
		qtype  uint16
	}{
		{tree.RootServers()[0], ".", dns.TypeDNSKEY},
		{tree.RootServers()[1], "test.", dns.TypeNS},
		{tree.TLDServers()[0], "test.", dns.TypeDNSKEY},
		{tree.TLDServers()[1], "www.example.test.", dns.TypeA},
	}
	for _, tt := range tests {
		r, err := c.Exchange(context.Background(), tt.server, tt.name, tt.qtype)
		if err != nil {
			t.Fatalf("%s %s at %v: %v", tt.name, dns.TypeToString[tt.qtype], tt.server, err)
		}
		if len(r.Answer)+len(r.Ns) == 0 {
			t.Errorf("%s %s: empty answer", tt.name, dns.TypeToString[tt.qtype])
		}
		for _, rr := range append(r.Answer, r.Ns...) {
			if rr.Header().Ttl > maxTTL {
				t.Errorf("%s %s: %s TTL %d, want at most %d", tt.name, dns.TypeToString[tt.qtype], dns.TypeToString[rr.Header().Rrtype], rr.Header().Ttl, maxTTL)
			}
			if sig, ok := rr.(*dns.RRSIG); ok && sig.Expiration != uint32(t0.Add(validity).Unix()) {
				t.Errorf("%s %s: RRSIG expires %d, want %d", tt.name, dns.TypeToString[tt.qtype], sig.Expiration, t0.Add(validity).Unix())
			}
		}
	}
}
