package stack

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/miekg/dns"
)

// realTiming is a real-clock stack fast enough for a test: signatures
// valid for seconds, API delays of a fraction of a second.
var realTiming = Timing{
	MaxTTL:             2,
	Validity:           6 * time.Second,
	Refresh:            time.Second,
	PropagationDelay:   200 * time.Millisecond,
	DomainsSubmitted:   100 * time.Millisecond,
	DomainsInProgress:  200 * time.Millisecond,
	ResolverTransition: 100 * time.Millisecond,
	AlarmPeriod:        time.Second,
	RecordTTL:          2,
}

// TestRealClockUnbound signs the scenario through the SDK on the real
// clock and lets unbound, an independent validator, judge: the zones are
// secure (AD), the bogus zone fails; then the parent's KMS key is disabled,
// GetDNSSEC reports ACTION_NEEDED, the alarm event arrives, and once the
// last DNSKEY signature expired a fresh unbound answers SERVFAIL.
func TestRealClockUnbound(t *testing.T) {
	timing := realTiming
	e := newEnv(t, Options{Timing: &timing, Seed: 11})
	ctx := context.Background()
	alarms := recordAlarms(e.s)

	keyARN := e.signScenario(t)

	addr, stop := startUnbound(t, e.s)
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		ad      bool
		answers int
	}{
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1},
		{"example.test.", dns.TypeMX, dns.RcodeSuccess, true, 1},
		{"host.wild.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1},
		{"alias.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1},
		{"nope.example.test.", dns.TypeA, dns.RcodeNameError, true, 0},
		{"www.app.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1},
		{"www.dnssec-failed.test.", dns.TypeA, dns.RcodeServerFailure, false, 0},
	}
	for _, tt := range tests {
		r := query(t, addr, tt.name, tt.qtype)
		// Unbound turns the black lie's NODATA for a name that does not
		// exist into whatever the NSEC proves: accept NOERROR/NODATA too.
		rcodeOK := r.Rcode == tt.rcode || (tt.rcode == dns.RcodeNameError && r.Rcode == dns.RcodeSuccess)
		if !rcodeOK || r.AuthenticatedData != tt.ad || answers(r, tt.qtype) != tt.answers {
			t.Errorf("unbound %s %s = %s AD %v, %d answers; want %s AD %v, %d", tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[r.Rcode], r.AuthenticatedData, answers(r, tt.qtype), dns.RcodeToString[tt.rcode], tt.ad, tt.answers)
		}
		for _, rr := range r.Answer {
			if rr.Header().Ttl > timing.MaxTTL {
				t.Errorf("unbound %s: %s with TTL %d, want at most %d on the real clock", tt.name, dns.TypeToString[rr.Header().Rrtype], rr.Header().Ttl, timing.MaxTTL)
			}
		}
	}
	// delv validates by itself behind unbound with the delv anchors.
	if bin, err := exec.LookPath("delv"); err == nil {
		files, err := e.s.WriteFiles(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(bin, "@"+addr.Addr().String(), "-p", strconv.Itoa(int(addr.Port())),
			"-a", files.DNS.DelvAnchorFile, "+root=.", "www.app.example.test.", "A").CombinedOutput()
		if !strings.Contains(string(out), "; fully validated") {
			t.Errorf("delv www.app.example.test A:\n%s\nwant fully validated", out)
		}
	}
	stop()

	if err := e.s.DisableKMSKey(ctx, keyARN); err != nil {
		t.Fatal(err)
	}
	disabledAt := time.Now()
	if k, _ := e.ksk(t, e.sc.ZoneID); aws.ToString(k.Status) != "ACTION_NEEDED" {
		t.Errorf("KSK status after DisableKey = %s, want ACTION_NEEDED", aws.ToString(k.Status))
	}
	checkAlarmEvent(t, alarms.next(t, "after disabling the key"), e.sc.ZoneID, MetricKSKsNeedingAction, AlarmOK, timing.AlarmPeriod)

	time.Sleep(time.Until(disabledAt.Add(timing.Validity + 1500*time.Millisecond)))
	addr, _ = startUnbound(t, e.s)
	for _, name := range []string{"www.example.test.", "www.app.example.test."} {
		if r := query(t, addr, name, dns.TypeA); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("unbound %s A after the signatures expired = %s AD %v, want SERVFAIL", name, dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
	}
}
