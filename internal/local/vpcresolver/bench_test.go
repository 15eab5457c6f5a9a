package vpcresolver

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// BenchmarkAnswerCached measures a validated answer served from the cache,
// in process (no socket).
func BenchmarkAnswerCached(b *testing.B) {
	h := startHierarchy(b, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	s, err := New(Config{Resolver: resolverConfig(h, clk.Now)})
	if err != nil {
		b.Fatal(err)
	}
	req := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	req.SetEdns0(1232, true)
	if r := s.Answer(context.Background(), req); r.Rcode != dns.RcodeSuccess {
		b.Fatalf("warm-up: %v", r)
	}
	for b.Loop() {
		s.Answer(context.Background(), req)
	}
}

// BenchmarkQueryUDPCached measures a cached answer through the UDP server.
func BenchmarkQueryUDPCached(b *testing.B) {
	h := startHierarchy(b, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	s := startServer(b, Config{Resolver: resolverConfig(h, clk.Now)})
	req := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	c := &dns.Client{Timeout: time.Second}
	for b.Loop() {
		if _, _, err := c.Exchange(req, s.Addr().String()); err != nil {
			b.Fatal(err)
		}
	}
}
