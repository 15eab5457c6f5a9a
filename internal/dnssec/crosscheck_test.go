package dnssec_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/unboundtest"
)

// The cross-check runs the good and broken hierarchies, signed at the real
// now, past two independent validators and asserts that they reach our
// verdicts: unbound (validating) and delv (validating itself behind a
// non-validating unbound). It is skipped when the binaries are absent.

// crossCheckTimeout bounds one query to unbound or one delv run: both answer
// from loopback in milliseconds; seconds mean something hangs.
const crossCheckTimeout = 10 * time.Second

// delvDiffers lists the good cases on which BIND's validator is known to
// reach another verdict than unbound's and ours: what delv says, and why.
var delvDiffers = map[string]struct {
	says dnssec.Status
	why  string
}{
	// BIND accepts a name error proven by an opt-out NSEC3 as secure; unbound
	// and this package treat it as insecure, since an unsigned delegation may
	// hide in the opt-out span (RFC 5155 section 9.2).
	"NSEC3 opt-out NXDOMAIN": {dnssec.Secure, "BIND treats an opt-out NXDOMAIN as secure"},
}

// validators is unbound and, when installed, delv in front of one hierarchy.
type validators struct {
	unbound    netip.AddrPort // validating
	iterator   netip.AddrPort // not validating, for delv
	delv       string         // path of delv, "" when absent
	delvAnchor string         // trust-anchors file for delv
}

func startValidators(t testing.TB, h *hierarchy.Hierarchy) *validators {
	t.Helper()
	if _, err := exec.LookPath("unbound"); err != nil {
		t.Skip("unbound is not installed: skipping the cross-check with independent validators")
	}
	v := &validators{unbound: startUnbound(t, h, true)}
	if path, err := exec.LookPath("delv"); err == nil {
		v.delv = path
		v.iterator = startUnbound(t, h, false)
		v.delvAnchor = filepath.Join(t.TempDir(), "delv.anchors")
		var b bytes.Buffer
		if err := h.WriteDelvAnchors(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(v.delvAnchor, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// startUnbound runs unbound in front of h on .254 (validating) or .253 of
// the hierarchy's network, on its port, until the test ends.
func startUnbound(t testing.TB, h *hierarchy.Hierarchy, validate bool) netip.AddrPort {
	t.Helper()
	ip := h.RootServers()[0].Addr().As4()
	ip[3] = 253
	if validate {
		ip[3] = 254
	}
	listen := netip.AddrPortFrom(netip.AddrFrom4(ip), h.Port())
	conf, err := h.WriteUnboundConfig(hierarchy.UnboundConfig{Listen: listen, Dir: t.TempDir(), NoValidation: !validate})
	if err != nil {
		t.Fatal(err)
	}
	unboundtest.Start(t, conf, listen)
	return listen
}

// unboundVerdict asks the validating unbound: SERVFAIL is bogus, AD is
// secure, NOERROR or NXDOMAIN without AD is insecure.
func (v *validators) unboundVerdict(t *testing.T, name string, qtype uint16) (dnssec.Status, string) {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: crossCheckTimeout}
	r, _, err := c.Exchange(m, v.unbound.String())
	if err != nil {
		t.Fatalf("unbound %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	switch {
	case r.Rcode == dns.RcodeServerFailure:
		return dnssec.Bogus, r.String()
	case r.AuthenticatedData:
		return dnssec.Secure, r.String()
	case r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError:
		return dnssec.Insecure, r.String()
	}
	return dnssec.Indeterminate, r.String()
}

// delvVerdict runs delv: a resolution failure (other than a validated
// negative answer) anywhere in the chain is bogus, else "fully validated" is
// secure and "unsigned answer" insecure.
func (v *validators) delvVerdict(t *testing.T, name string, qtype uint16) (dnssec.Status, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crossCheckTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, v.delv, "@"+v.iterator.Addr().String(), "-p", strconv.Itoa(int(v.iterator.Port())),
		"-a", v.delvAnchor, "+root=.", name, dns.TypeToString[qtype]).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("delv %s %s: %v", name, dns.TypeToString[qtype], ctx.Err())
	}
	text := string(out)
	failed := false // "resolution failed: ncache ..." is a validated negative answer
	for _, line := range strings.Split(text, "\n") {
		if _, why, ok := strings.Cut(line, "resolution failed: "); ok && !strings.HasPrefix(why, "ncache") {
			failed = true
		}
	}
	switch {
	case failed:
		return dnssec.Bogus, text
	case strings.Contains(text, "fully validated"):
		return dnssec.Secure, text
	case strings.Contains(text, "unsigned answer"):
		return dnssec.Insecure, text
	}
	return dnssec.Indeterminate, text + errString(err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return "\n" + err.Error()
}

func realClockResolver(t *testing.T, h *hierarchy.Hierarchy) *dnssec.Resolver {
	return newResolver(t, h, dnssec.Config{Now: time.Now})
}

func TestCrossCheckGood(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(time.Now()))
	v := startValidators(t, h)
	r := realClockResolver(t, h)
	for _, c := range goodCases {
		t.Run(c.name, func(t *testing.T) {
			ours, err := r.Resolve(context.Background(), c.qname, c.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if ours.Status != c.status {
				t.Fatalf("ours: %s %s = %v (%q), want %v", c.qname, dns.TypeToString[c.qtype], ours.Status, ours.Reason, c.status)
			}
			if got, detail := v.unboundVerdict(t, c.qname, c.qtype); got != ours.Status {
				t.Errorf("unbound: %s %s = %v, ours %v (%q)\n%s", c.qname, dns.TypeToString[c.qtype], got, ours.Status, ours.Reason, detail)
			}
			if v.delv == "" {
				return
			}
			got, detail := v.delvVerdict(t, c.qname, c.qtype)
			want := ours.Status
			if d, ok := delvDiffers[c.name]; ok {
				t.Logf("delv: %s %s: known difference: %s", c.qname, dns.TypeToString[c.qtype], d.why)
				want = d.says
			}
			if got != want {
				t.Errorf("delv: %s %s = %v, want %v; ours %v (%q)\n%s", c.qname, dns.TypeToString[c.qtype], got, want, ours.Status, ours.Reason, detail)
			}
		})
	}
}

func TestCrossCheckBroken(t *testing.T) {
	if _, err := exec.LookPath("unbound"); err != nil {
		t.Skip("unbound is not installed: skipping the cross-check with independent validators")
	}
	for _, c := range brokenCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := startBroken(t, c, time.Now())
			v := startValidators(t, h)
			ours, err := realClockResolver(t, h).Resolve(context.Background(), c.qname, c.qtype)
			if err != nil {
				t.Fatal(err)
			}
			if ours.Status != dnssec.Bogus {
				t.Fatalf("ours: %s %s = %v (%q), want bogus", c.qname, dns.TypeToString[c.qtype], ours.Status, ours.Reason)
			}
			// Where unbound and BIND are known to be more lenient than RFC
			// 4035, assert that they still are, so that this list stays true.
			want := dnssec.Bogus
			if c.othersAccept != "" {
				want = dnssec.Secure
				t.Logf("known difference: unbound and delv accept this: %s", c.othersAccept)
			}
			if got, detail := v.unboundVerdict(t, c.qname, c.qtype); got != want {
				t.Errorf("unbound: %s %s = %v, want %v; ours bogus (%q)\n%s", c.qname, dns.TypeToString[c.qtype], got, want, ours.Reason, detail)
			}
			if v.delv == "" {
				return
			}
			if got, detail := v.delvVerdict(t, c.qname, c.qtype); got != want {
				t.Errorf("delv: %s %s = %v, want %v; ours bogus (%q)\n%s", c.qname, dns.TypeToString[c.qtype], got, want, ours.Reason, detail)
			}
		})
	}
}
