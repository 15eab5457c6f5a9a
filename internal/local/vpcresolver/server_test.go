package vpcresolver

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// answerCase is one query and what the VPC resolver must answer.
type answerCase struct {
	name   string
	qtype  uint16
	q      query
	rcode  int
	answer []string // records of type qtype, "owner TYPE rdata"
	ede    uint16   // Extended DNS Error code; 0: none
	soa    bool     // the authority section carries the zone's SOA
	sigs   bool     // the answer carries RRSIGs
}

func TestAnswers(t *testing.T) {
	h := startHierarchy(t, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	var validate atomic.Bool
	s := startServer(t, Config{
		VPCID:      "vpc-0a1b2c3d4e5f60001",
		Resolver:   resolverConfig(h, clk.Now),
		Validation: validate.Load,
	})
	www := []string{"www.example.test. A 192.0.2.1"}
	failed := []string{"www.dnssec-failed.test. A 192.0.2.66"}
	insecure := []string{"www.insecure.test. A 192.0.2.30"}
	tests := []struct {
		validation bool
		cases      []answerCase
	}{
		{validation: true, cases: []answerCase{
			{name: "www.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: www},
			{name: "www.example.test.", qtype: dns.TypeA, q: query{do: true}, rcode: dns.RcodeSuccess, answer: www, sigs: true},
			{name: "www.example.test.", qtype: dns.TypeA, q: query{noEDNS: true}, rcode: dns.RcodeSuccess, answer: www},
			{name: "alias.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: www},
			{name: "nope.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
			{name: "www.example.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, soa: true},
			{name: "www.insecure.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: insecure},
			{name: "nope.insecure.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
			{name: "www.dnssec-failed.test.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeDNSBogus},
			{name: "www.dnssec-failed.test.", qtype: dns.TypeA, q: query{tcp: true}, rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeDNSBogus},
			{name: "dnssec-failed.test.", qtype: dns.TypeSOA, rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeDNSBogus},
			// CD: the client validates itself and gets the data (RFC 4035 section 3.2.2).
			{name: "www.dnssec-failed.test.", qtype: dns.TypeA, q: query{cd: true, do: true}, rcode: dns.RcodeSuccess, answer: failed, sigs: true},
		}},
		{validation: false, cases: []answerCase{
			{name: "www.example.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: www},
			{name: "www.insecure.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: insecure},
			{name: "www.dnssec-failed.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, answer: failed},
			{name: "www.dnssec-failed.test.", qtype: dns.TypeA, q: query{do: true}, rcode: dns.RcodeSuccess, answer: failed, sigs: true},
			{name: "nope.dnssec-failed.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		}},
	}
	for _, tt := range tests {
		validate.Store(tt.validation)
		for _, c := range tt.cases {
			r := ask(t, s.Addr(), c.name, c.qtype, c.q)
			checkAnswer(t, tt.validation, c, r)
		}
	}
}

func checkAnswer(t *testing.T, validation bool, c answerCase, r *dns.Msg) {
	t.Helper()
	what := fmt.Sprintf("%s %s %+v validation=%v", c.name, dns.TypeToString[c.qtype], c.q, validation)
	if r.Rcode != c.rcode {
		t.Errorf("%s: rcode %s, want %s\n%v", what, dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode], r)
	}
	if r.AuthenticatedData {
		t.Errorf("%s: AD set; the VPC resolver never sets it", what)
	}
	if !r.RecursionAvailable {
		t.Errorf("%s: RA clear", what)
	}
	if got := rdata(r.Answer, c.qtype); !cmp.Equal(got, c.answer) {
		t.Errorf("%s: answer %v, want %v", what, got, c.answer)
	}
	gotSigs := len(rdata(r.Answer, dns.TypeRRSIG)) > 0
	if gotSigs != c.sigs {
		t.Errorf("%s: RRSIGs in answer = %v, want %v", what, gotSigs, c.sigs)
	}
	gotSOA := len(rdata(r.Ns, dns.TypeSOA)) > 0
	if gotSOA != c.soa {
		t.Errorf("%s: SOA in authority = %v, want %v", what, gotSOA, c.soa)
	}
	e, ok := ede(r)
	switch {
	case c.ede == 0 && ok:
		t.Errorf("%s: Extended DNS Error %d %q, want none", what, e.InfoCode, e.ExtraText)
	case c.ede != 0 && !ok:
		t.Errorf("%s: no Extended DNS Error, want %d", what, c.ede)
	case c.ede != 0 && (e.InfoCode != c.ede || !strings.Contains(e.ExtraText, "dnssec-failed.test.")):
		t.Errorf("%s: Extended DNS Error %d %q, want %d naming dnssec-failed.test.", what, e.InfoCode, e.ExtraText, c.ede)
	}
}

// TestTruncation checks that a large answer is truncated over UDP and
// complete over TCP.
func TestTruncation(t *testing.T) {
	h := startHierarchy(t, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	s := startServer(t, Config{Resolver: resolverConfig(h, clk.Now)})
	udp := ask(t, s.Addr(), "big.example.test.", dns.TypeTXT, query{})
	if !udp.Truncated {
		t.Errorf("UDP big.example.test. TXT: TC clear, want set (%d records)", len(udp.Answer))
	}
	tcp := ask(t, s.Addr(), "big.example.test.", dns.TypeTXT, query{tcp: true})
	if tcp.Truncated || len(tcp.Answer) != 20 {
		t.Errorf("TCP big.example.test. TXT: TC=%v, %d records, want complete with 20", tcp.Truncated, len(tcp.Answer))
	}
}

// TestRefusals checks the queries a recursive resolver does not look up.
func TestRefusals(t *testing.T) {
	h := startHierarchy(t, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	s, err := New(Config{Resolver: resolverConfig(h, clk.Now)})
	if err != nil {
		t.Fatal(err)
	}
	q := func(name string, qtype uint16) *dns.Msg { return new(dns.Msg).SetQuestion(name, qtype) }
	tests := []struct {
		desc  string
		req   *dns.Msg
		rcode int
	}{
		{"ANY", q("www.example.test.", dns.TypeANY), dns.RcodeNotImplemented},
		{"AXFR", q("example.test.", dns.TypeAXFR), dns.RcodeNotImplemented},
		{"class CH", func() *dns.Msg { m := q("version.bind.", dns.TypeTXT); m.Question[0].Qclass = dns.ClassCHAOS; return m }(), dns.RcodeRefused},
		{"two questions", func() *dns.Msg {
			m := q("a.test.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), dns.RcodeFormatError},
		{"no question", &dns.Msg{}, dns.RcodeFormatError},
		{"NOTIFY", func() *dns.Msg { m := q("example.test.", dns.TypeSOA); m.Opcode = dns.OpcodeNotify; return m }(), dns.RcodeNotImplemented},
		{"EDNS version 1", func() *dns.Msg {
			m := q("www.example.test.", dns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().SetVersion(1)
			return m
		}(), dns.RcodeBadVers},
	}
	for _, tt := range tests {
		r := s.Answer(context.Background(), tt.req)
		if r.Rcode != tt.rcode {
			t.Errorf("Answer(%s) rcode = %s, want %s", tt.desc, dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
		}
	}
}

// TestTTLCountsDown checks that the TTLs served decrease on the clock while
// the answer comes from the cache, and that the RRset is fetched again once
// its TTL has passed.
func TestTTLCountsDown(t *testing.T) {
	h := startHierarchy(t, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	s := startServer(t, Config{Resolver: resolverConfig(h, clk.Now)})
	steps := []struct {
		advance time.Duration
		ttl     uint32 // of www.example.test. A; the hierarchy's TTL is 300
		fetched bool   // the example.test. servers were asked
	}{
		{0, 300, true},
		{100 * time.Second, 200, false},
		{199 * time.Second, 1, false},
		{time.Second, 300, true}, // 300 s after the first fetch: expired
		{30 * time.Second, 270, false},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		before := zoneQueries(h, "example.test.")
		r := ask(t, s.Addr(), "www.example.test.", dns.TypeA, query{do: true})
		fetched := zoneQueries(h, "example.test.") > before
		if len(r.Answer) == 0 {
			t.Fatalf("step %d: no answer: %v", i, r)
		}
		for _, rr := range r.Answer {
			if rr.Header().Ttl != st.ttl {
				t.Errorf("step %d (+%v): %s TTL %d, want %d", i, st.advance, dns.TypeToString[rr.Header().Rrtype], rr.Header().Ttl, st.ttl)
			}
		}
		if fetched != st.fetched {
			t.Errorf("step %d (+%v): example.test. servers asked = %v, want %v", i, st.advance, fetched, st.fetched)
		}
	}
	// The negative answer's SOA has the negative TTL, counting down too.
	r := ask(t, s.Addr(), "nope.example.test.", dns.TypeA, query{})
	if len(r.Ns) == 0 || r.Ns[0].Header().Ttl > 60 {
		t.Errorf("nope.example.test. A: authority %v, want the SOA with TTL <= 60 (SOA MINIMUM)", r.Ns)
	}
}
