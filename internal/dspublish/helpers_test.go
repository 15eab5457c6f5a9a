package dspublish

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
)

// t0 is the fixed start of every test's virtual clock.
var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// RFC 6605 section 6.1: the P-256 KSK of example.net. and its SHA-256 DS.
const (
	rfc6605Key = "example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="
	rfc6605DS  = "example.net. 3600 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17"
)

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

func rfcKey() *dns.DNSKEY { return mustRR(rfc6605Key).(*dns.DNSKEY) }
func rfcDS() *dns.DS      { return mustRR(rfc6605DS).(*dns.DS) }

// ksk is a generated key-signing key of zone and its SHA-256 DS.
type ksk struct {
	key *dns.DNSKEY
	ds  *dns.DS
}

func newKSK(zone string) ksk {
	k := authzone.MustGenerateKey(zone, dns.ECDSAP256SHA256, authzone.KSK)
	return ksk{key: k.DNSKEY, ds: k.DS(dns.SHA256)}
}

// counts counts the API calls a client wrapper sees, by operation.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

func (c *counts) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// countingRoute53 counts the calls that change a hosted zone.
type countingRoute53 struct {
	Route53API
	counts
}

func (c *countingRoute53) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	c.add("ChangeResourceRecordSets")
	return c.Route53API.ChangeResourceRecordSets(ctx, in, opts...)
}

// countingDomains counts the calls that submit an operation.
type countingDomains struct {
	DomainsAPI
	counts
}

func (c *countingDomains) AssociateDelegationSignerToDomain(ctx context.Context, in *route53domains.AssociateDelegationSignerToDomainInput, opts ...func(*route53domains.Options)) (*route53domains.AssociateDelegationSignerToDomainOutput, error) {
	c.add("Associate")
	return c.DomainsAPI.AssociateDelegationSignerToDomain(ctx, in, opts...)
}

func (c *countingDomains) DisassociateDelegationSignerFromDomain(ctx context.Context, in *route53domains.DisassociateDelegationSignerFromDomainInput, opts ...func(*route53domains.Options)) (*route53domains.DisassociateDelegationSignerFromDomainOutput, error) {
	c.add("Disassociate")
	return c.DomainsAPI.DisassociateDelegationSignerFromDomain(ctx, in, opts...)
}

// dsStrings presents DS records as "tag alg type DIGEST", for comparisons.
func dsStrings(set []*dns.DS) []string {
	out := make([]string, 0, len(set))
	for _, ds := range set {
		out = append(out, dsRData(ds))
	}
	return out
}

// errorAs reports whether err holds an error of type T.
func errorAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
