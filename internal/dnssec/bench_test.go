package dnssec_test

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// threeLevels is the chain the benchmarks validate: root -> test. ->
// example.test., ECDSA P-256 (Route 53's algorithm), NSEC.
func threeLevels(now time.Time) hierarchy.Spec {
	return hierarchy.Spec{
		Now: now,
		Zones: []hierarchy.ZoneSpec{
			{Origin: "."},
			{Origin: "test."},
			{Origin: "example.test.", Records: "www A 192.0.2.1\n"},
		},
	}
}

func resolveSecure(b *testing.B, r *dnssec.Resolver, name string) {
	res, err := r.Resolve(context.Background(), name, dns.TypeA)
	if err != nil {
		b.Fatal(err)
	}
	if res.Status != dnssec.Secure {
		b.Fatalf("Resolve(%s) = %v (%q), want secure", name, res.Status, res.Reason)
	}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}

// BenchmarkChain measures validations of www.example.test. A:
//   - cold: a new resolver per validation (3 DNSKEY, 2 DS, 3 answers checked);
//   - warm-cuts: zone cuts cached, a new name per validation (one query and
//     an NSEC proof);
//   - cached: the answer itself is cached.
func BenchmarkChain(b *testing.B) {
	h := startHierarchy(b, threeLevels(signingTime))
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			resolveSecure(b, newResolver(b, h, dnssec.Config{}), "www.example.test.")
		}
		reportRate(b)
	})
	b.Run("warm-cuts", func(b *testing.B) {
		r := newResolver(b, h, dnssec.Config{})
		resolveSecure(b, r, "www.example.test.")
		i := 0
		for b.Loop() {
			i++
			res, err := r.Resolve(context.Background(), fmt.Sprintf("n%d.example.test.", i), dns.TypeA)
			if err != nil || res.Status != dnssec.Secure || res.Rcode != dns.RcodeNameError {
				b.Fatalf("Resolve() = %+v, %v; want secure NXDOMAIN", res, err)
			}
		}
		reportRate(b)
	})
	b.Run("cached", func(b *testing.B) {
		r := newResolver(b, h, dnssec.Config{})
		resolveSecure(b, r, "www.example.test.")
		for b.Loop() {
			resolveSecure(b, r, "www.example.test.")
		}
		reportRate(b)
	})
}

// maxDelvRuns bounds the delv side of BenchmarkVersusDelv: each run is a
// process start, so a few dozen give a stable mean.
const maxDelvRuns = 30

// BenchmarkVersusDelv validates the same name on the same hierarchy, signed
// at the real now, cold each time: ours with a new resolver per validation,
// delv (a new process, behind a non-validating unbound) run up to
// maxDelvRuns times. It reports both times per validation and their ratio.
func BenchmarkVersusDelv(b *testing.B) {
	if _, err := exec.LookPath("delv"); err != nil {
		b.Skip("delv is not installed")
	}
	if _, err := exec.LookPath("unbound"); err != nil {
		b.Skip("unbound is not installed")
	}
	h := startHierarchy(b, threeLevels(time.Now()))
	v := startValidators(b, h)

	start := time.Now()
	for range b.N {
		resolveSecure(b, newResolver(b, h, dnssec.Config{Now: time.Now}), "www.example.test.")
	}
	ours := time.Since(start) / time.Duration(b.N)

	runs := min(b.N, maxDelvRuns)
	start = time.Now()
	for range runs {
		out, err := exec.Command(v.delv, "@"+v.iterator.Addr().String(), "-p", strconv.Itoa(int(v.iterator.Port())),
			"-a", v.delvAnchor, "+root=.", "www.example.test.", "A").CombinedOutput()
		if err != nil {
			b.Fatalf("delv: %v\n%s", err, out)
		}
	}
	delv := time.Since(start) / time.Duration(runs)
	b.ReportMetric(float64(ours.Nanoseconds()), "ours-ns/validation")
	b.ReportMetric(float64(delv.Nanoseconds()), "delv-ns/validation")
	b.ReportMetric(float64(delv)/float64(ours), "delv/ours")
}
