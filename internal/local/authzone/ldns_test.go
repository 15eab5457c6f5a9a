package authzone

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestLDNSVerifyZone cross-checks the signer with ldns-verify-zone
// (ldnsutils): signatures, NSEC and NSEC3 chains, at the signing time.
func TestLDNSVerifyZone(t *testing.T) {
	bin, err := exec.LookPath("ldns-verify-zone")
	if err != nil {
		t.Skip("ldns-verify-zone (ldnsutils) is not installed")
	}
	for _, s := range signings {
		if s.opts.NSEC3.OptOut {
			continue // ldns-verify-zone reports opted-out delegations as errors
		}
		for _, alg := range []uint8{dns.RSASHA256, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519} {
			t.Run(s.name+"/"+dns.AlgorithmToString[alg], func(t *testing.T) {
				z := newTestZone(t, nil)
				opts := s.opts
				opts.Keys = []*Key{MustGenerateKey(testOrigin, alg, KSK), MustGenerateKey(testOrigin, alg, ZSK)}
				opts.Inception, opts.Expiration = testNow.Add(-time.Hour), testNow.Add(24*time.Hour)
				if err := z.Sign(opts); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), "zone")
				if err := os.WriteFile(path, []byte(z.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(bin, "-V", "2", "-t", testNow.UTC().Format("20060102150405"), path).CombinedOutput()
				if err != nil {
					t.Errorf("ldns-verify-zone: %v\n%s", err, out)
				}
			})
		}
	}
}

// TestLDNSVerifyZoneDetectsBreakage makes sure the cross-check above can
// fail: a zone with a missing and an expired signature must be rejected.
func TestLDNSVerifyZoneDetectsBreakage(t *testing.T) {
	bin, err := exec.LookPath("ldns-verify-zone")
	if err != nil {
		t.Skip("ldns-verify-zone (ldnsutils) is not installed")
	}
	for name, brk := range map[string]func(z *testZone) error{
		"missing RRSIG": func(z *testZone) error {
			z.RemoveRRSIGs("www.example.test.", dns.TypeA)
			return nil
		},
		"expired RRSIG": func(z *testZone) error {
			return z.ResignRRset("www.example.test.", dns.TypeA, testNow.Add(-48*time.Hour), testNow.Add(-24*time.Hour))
		},
	} {
		t.Run(name, func(t *testing.T) {
			z := newTestZone(t, &SignOptions{})
			if err := brk(z); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "zone")
			if err := os.WriteFile(path, []byte(z.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-V", "1", "-t", testNow.UTC().Format("20060102150405"), path).CombinedOutput()
			if err == nil {
				t.Errorf("ldns-verify-zone accepted the broken zone:\n%s", out)
			}
		})
	}
}
