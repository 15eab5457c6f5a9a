package vpcresolver

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/resolveremu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// TestValidationFollowsResolverConfig turns the VPC's DNSSEC validation on
// and off through the Route 53 Resolver emulator, with the real SDK client,
// and checks that the VPC resolver follows the effective setting, through
// the transitional statuses, emptying its cache at each change.
func TestValidationFollowsResolverConfig(t *testing.T) {
	const vpc = "vpc-0a1b2c3d4e5f60001"
	const delay = 30 * time.Second
	h := startHierarchy(t, testSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	svc := resolveremu.New(clk, resolveremu.WithTransitionDelay(delay))
	if err := svc.AddVPC(vpc); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(svc)
	t.Cleanup(api.Close)
	client := route53resolver.New(route53resolver.Options{
		Region:       resolveremu.DefaultRegion,
		BaseEndpoint: aws.String(api.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
	s := startServer(t, Config{
		VPCID:      vpc,
		Resolver:   resolverConfig(h, clk.Now),
		Validation: func() bool { return svc.Validation(vpc) },
	})
	update := func(v types.Validation) {
		t.Helper()
		_, err := client.UpdateResolverDnssecConfig(context.Background(), &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpc), Validation: v})
		if err != nil {
			t.Fatalf("UpdateResolverDnssecConfig(%s): %v", v, err)
		}
	}
	steps := []struct {
		desc    string
		do      func()
		status  string
		bogus   int // rcode for www.dnssec-failed.test. A
		flushes int64
	}{
		{"new VPC", func() {}, resolveremu.StatusDisabled, dns.RcodeSuccess, 0},
		{"enable", func() { update(types.ValidationEnable) }, resolveremu.StatusEnabling, dns.RcodeSuccess, 0},
		{"enabled", func() { clk.Advance(delay) }, resolveremu.StatusEnabled, dns.RcodeServerFailure, 1},
		{"disable", func() { update(types.ValidationDisable) }, resolveremu.StatusDisabling, dns.RcodeServerFailure, 1},
		{"disabled", func() { clk.Advance(delay) }, resolveremu.StatusDisabled, dns.RcodeSuccess, 2},
	}
	for _, st := range steps {
		st.do()
		if got := svc.Status(vpc); got != st.status {
			t.Fatalf("%s: status %s, want %s", st.desc, got, st.status)
		}
		if r := ask(t, s.Addr(), "www.dnssec-failed.test.", dns.TypeA, query{}); r.Rcode != st.bogus || r.AuthenticatedData {
			t.Errorf("%s: www.dnssec-failed.test. A = %s AD=%v, want %s without AD", st.desc, dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[st.bogus])
		}
		if r := ask(t, s.Addr(), "www.example.test.", dns.TypeA, query{}); r.Rcode != dns.RcodeSuccess || r.AuthenticatedData {
			t.Errorf("%s: www.example.test. A = %s AD=%v, want NOERROR without AD", st.desc, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
		if got := s.Flushes(); got != st.flushes {
			t.Errorf("%s: %d cache flushes, want %d", st.desc, got, st.flushes)
		}
	}
}
