package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
)

// TestLocalUp runs `dnssecctl local up` in process, reads the endpoints
// file it writes and reaches the stack through it: the AWS endpoint with
// the real SDK, the VPC resolver with a DNS query, and `dnssecctl check`
// with the root and trust anchor; then interrupts it.
func TestLocalUp(t *testing.T) {
	for _, clk := range []string{"real", "virtual"} {
		t.Run(clk, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "endpoints.json")
			ctx, cancel := context.WithCancel(context.Background())
			var out bytes.Buffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"local", "up", "--clock", clk, "--endpoints", file, "--dir", filepath.Join(dir, "files")}, &out, &out)
			}()
			var e stack.Endpoints
			for deadline := time.Now().Add(20 * time.Second); ; {
				var err error
				if e, err = stack.ReadEndpoints(file); err == nil {
					break
				}
				select {
				case code := <-done:
					t.Fatalf("local up ended with %d before writing %s:\n%s", code, file, out.String())
				default:
				}
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("no endpoints file after 20s: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}

			if e.Clock != clk || e.AWS.Region != "us-east-1" || e.AWS.AccountID != "123456789012" || len(e.Zones) != 2 ||
				len(e.VPCs) != 1 || e.DNS.BogusZone != "dnssec-failed.test." || !strings.HasPrefix(e.SNSTopicARN, "arn:aws:sns:us-east-1:") {
				t.Errorf("endpoints = %+v", e)
			}
			for _, f := range []string{e.DNS.TrustAnchorFile, e.DNS.DelvAnchorFile, e.DNS.UnboundConfig} {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("endpoints name a file that is not there: %v", err)
				}
			}
			cfg := aws.Config{Region: e.AWS.Region, BaseEndpoint: aws.String(e.AWS.EndpointURL),
				Credentials: credentials.NewStaticCredentialsProvider(e.AWS.AccessKeyID, e.AWS.SecretAccessKey, "")}
			zones, err := route53.NewFromConfig(cfg).ListHostedZones(ctx, &route53.ListHostedZonesInput{})
			if err != nil || len(zones.HostedZones) != 2 {
				t.Errorf("ListHostedZones through the endpoints = %v, %v; want the 2 zones of the scenario", zones, err)
			}
			m := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
			r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, e.VPCs[0].Resolver)
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Errorf("VPC resolver %s: www.example.test A = %v, %v", e.VPCs[0].Resolver, r, err)
			}
			if clk == "real" {
				var check bytes.Buffer
				code := run(ctx, []string{"check", "--root", e.DNS.RootServers[0], "--anchor", e.DNS.TrustAnchorFile, "example.test."}, &check, &check)
				// Unsigned: check finds the zone insecure, which is a
				// verdict, not a usage or transport error.
				if code != exitOK && code != exitFailure || !strings.Contains(check.String(), "example.test") {
					t.Errorf("dnssecctl check against the endpoints: exit %d\n%s", code, check.String())
				}
			}
			for _, want := range []string{"dig @", "dnssecctl check --root", "delv @", "AWS_ENDPOINT_URL=" + e.AWS.EndpointURL, "aws route53 list-hosted-zones"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("local up output lacks %q:\n%s", want, out.String())
				}
			}
			if _, err := netip.ParseAddrPort(e.DNS.UnboundListen); err != nil {
				t.Errorf("unbound listen address %q: %v", e.DNS.UnboundListen, err)
			}

			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Errorf("local up exit code after interrupt = %d, want 0:\n%s", code, out.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("local up did not stop within 10s of the interrupt")
			}
		})
	}
}

func TestLocalUpBadFlags(t *testing.T) {
	tests := [][]string{
		{"local"},
		{"local", "down"},
		{"local", "up", "--clock", "sundial"},
		{"local", "up", "--clock", "virtual", "--speed", "0"},
		{"local", "up", "extra"},
	}
	for _, args := range tests {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != exitUsage {
			t.Errorf("run(%q) = %d, want %d (usage)\n%s", args, code, exitUsage, out.String())
		}
	}
}
