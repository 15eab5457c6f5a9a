package stack

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/r53dns"
)

// TestScenarioStartsUnsigned checks the scenario before any workflow ran:
// every name resolves, insecure, from the root; the bogus zone is bogus.
func TestScenarioStartsUnsigned(t *testing.T) {
	e := newEnv(t, virtualOpts())
	tests := []struct {
		name    string
		qtype   uint16
		status  dnssec.Status
		rcode   int
		answers int
	}{
		{"www.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"www.example.test.", dns.TypeAAAA, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeMX, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeTXT, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"anything.wild.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"alias.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"nope.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeNameError, 0},
		{"www.app.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, 1},
		{"www.dnssec-failed.test.", dns.TypeA, dnssec.Bogus, dns.RcodeSuccess, 1},
	}
	for _, tt := range tests {
		res := e.validate(t, tt.name, tt.qtype)
		n := 0
		for _, rr := range res.Answer {
			if rr.Header().Rrtype == tt.qtype {
				n++
			}
		}
		if res.Status != tt.status || res.Rcode != tt.rcode || n != tt.answers {
			t.Errorf("Resolve(%s %s) = %v %s %d answers (%s); want %v %s %d", tt.name, dns.TypeToString[tt.qtype],
				res.Status, dns.RcodeToString[res.Rcode], n, res.Reason, tt.status, dns.RcodeToString[tt.rcode], tt.answers)
		}
	}
	targets, err := e.s.ScenarioTargets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.Want != dnssec.Insecure {
			t.Errorf("ScenarioTargets before signing: %s wants %v, want insecure", tg.Name, tg.Want)
		}
	}
	if got := e.s.Domains().DS("example.test"); len(got) != 0 {
		t.Errorf("example.test has DS %v before signing", got)
	}
}

// TestVirtualLifeCycle signs the scenario end to end through the SDK on the
// virtual clock, with Route 53's real TTLs and validity, then checks every
// claim of the local stack with package dnssec's validator: the zones are
// secure, the VPC resolver follows its validation setting, the population
// sees a stable signed day without a failure, and a disabled KMS key makes
// the KSK ACTION_NEEDED, fires the alarm and, once the signatures expire,
// breaks the zone.
func TestVirtualLifeCycle(t *testing.T) {
	e := newEnv(t, virtualOpts())
	ctx := context.Background()
	alarms := recordAlarms(e.s)

	keyARN := e.signScenario(t)

	// The DS reached the TLD and the parent hosted zone; every name of the
	// scenario validates as secure from the root.
	targets, err := e.s.ScenarioTargets()
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.Want != dnssec.Secure {
			t.Errorf("ScenarioTargets after signing: %s wants %v, want secure", tg.Name, tg.Want)
		}
		if res := e.validate(t, tg.Name, tg.Type); res.Status != dnssec.Secure {
			t.Errorf("Resolve(%s %s) after signing = %v (%s), want secure", tg.Name, dns.TypeToString[tg.Type], res.Status, res.Reason)
		}
	}

	// The VPC resolver: SERVFAIL for the bogus zone with validation
	// ENABLED, an answer when DISABLED; signed names resolve either way,
	// without the AD bit.
	vpc, ok := e.s.VPCResolver(ScenarioVPC)
	if !ok {
		t.Fatalf("no resolver for %s", ScenarioVPC)
	}
	for _, on := range []bool{true, false} {
		e.setValidation(t, ScenarioVPC, on)
		bogusRcode, bogusAnswers := dns.RcodeSuccess, 1
		if on {
			bogusRcode, bogusAnswers = dns.RcodeServerFailure, 0
		}
		tests := []struct {
			name    string
			rcode   int
			answers int
		}{
			{"www.dnssec-failed.test.", bogusRcode, bogusAnswers},
			{"www.example.test.", dns.RcodeSuccess, 1},
			{"www.app.example.test.", dns.RcodeSuccess, 1},
		}
		for _, tt := range tests {
			r := query(t, vpc, tt.name, dns.TypeA)
			if r.Rcode != tt.rcode || answers(r, dns.TypeA) != tt.answers || r.AuthenticatedData {
				t.Errorf("validation %v: VPC resolver %s A = %s, %d answers, AD %v; want %s, %d, no AD", on, tt.name,
					dns.RcodeToString[r.Rcode], answers(r, dns.TypeA), r.AuthenticatedData, dns.RcodeToString[tt.rcode], tt.answers)
			}
		}
	}

	// A stable signed day: the population counts no failure.
	pop, err := e.s.StartPopulation(PopulationConfig{Resolvers: 20, MeanInterval: 10 * time.Minute, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := e.s.Clock().Now()
	for range 24 {
		e.s.Virtual().Advance(time.Hour)
	}
	st := pop.Stats()
	if st.Failures != 0 || st.Validations < 500 || st.Through.Before(start.Add(24*time.Hour)) {
		t.Errorf("population over a stable signed day: %d failures of %d validations through %v (%v); want 0 of at least 500 through %v",
			st.Failures, st.Validations, st.Through, st.Samples, start.Add(24*time.Hour))
	}
	t.Logf("population over a stable signed day: %d validations, %d failures", st.Validations, st.Failures)
	e.s.StopPopulation()

	// The parent's KMS key disabled: GetDNSSEC reports ACTION_NEEDED at
	// once, the alarm fires at the end of the period.
	if err := e.s.DisableKMSKey(ctx, keyARN); err != nil {
		t.Fatal(err)
	}
	k, status := e.ksk(t, e.sc.ZoneID)
	if got := aws.ToString(k.Status); got != "ACTION_NEEDED" {
		t.Errorf("KSK status after DisableKey = %s, want ACTION_NEEDED", got)
	}
	t.Logf("ServeSignature after DisableKey: %s (%s)", aws.ToString(status.ServeSignature), aws.ToString(status.StatusMessage))
	if v, ok := e.s.MetricValue(e.sc.ZoneID, MetricKSKsNeedingAction); !ok || v != 1 {
		t.Errorf("MetricValue(%s) = %v, %v; want 1", MetricKSKsNeedingAction, v, ok)
	}
	alarms.none(t, "before the period ended")
	disabledAt := e.s.Clock().Now()
	e.s.Virtual().Advance(DefaultAlarmPeriod)
	ev := alarms.next(t, "one period after the key was disabled")
	checkAlarmEvent(t, ev, e.sc.ZoneID, MetricKSKsNeedingAction, AlarmOK, DefaultAlarmPeriod)
	alarms.none(t, "besides the one of the KSK needing action")

	// The zone stays valid while the last DNSKEY signature lasts, and is
	// bogus once it expired: validators fail, the VPC resolver answers
	// SERVFAIL, a population meets failures.
	if res := e.validate(t, "www.example.test.", dns.TypeA); res.Status != dnssec.Secure {
		t.Errorf("right after DisableKey: %v (%s), want secure until the signatures expire", res.Status, res.Reason)
	}
	e.s.Virtual().Set(disabledAt.Add(r53dns.Validity + time.Hour))
	for _, name := range []string{"www.example.test.", "www.app.example.test."} {
		if res := e.validate(t, name, dns.TypeA); res.Status != dnssec.Bogus {
			t.Errorf("after the signatures expired: %s %v (%s), want bogus", name, res.Status, res.Reason)
		}
	}
	e.setValidation(t, ScenarioVPC, true)
	if r := query(t, vpc, "www.example.test.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("VPC resolver with validation, after expiry: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	broken, err := e.s.StartPopulation(PopulationConfig{Resolvers: 5, MeanInterval: 10 * time.Minute, Stagger: time.Minute,
		Targets: []population.Target{{Name: "www.example.test.", Want: dnssec.Secure}}})
	if err != nil {
		t.Fatal(err)
	}
	e.s.Virtual().Advance(time.Hour)
	st = broken.Stats()
	t.Logf("population after expiry: %d validations, %d failures, e.g. %v", st.Validations, st.Failures, st.Samples[:min(1, len(st.Samples))])
	if st.Failures == 0 || st.Failures != st.Validations {
		t.Errorf("population after expiry: %d failures of %d validations, want every one failed", st.Failures, st.Validations)
	}
}

// checkAlarmEvent checks an alarm state change event field by field
// against the shape CloudWatch sends to EventBridge.
func checkAlarmEvent(t *testing.T, ev events.CloudWatchEvent, zoneID, metric, previous string, period time.Duration) {
	t.Helper()
	name := AlarmName(zoneID, metric)
	if ev.Version != "0" || ev.DetailType != "CloudWatch Alarm State Change" || ev.Source != "aws.cloudwatch" ||
		ev.AccountID != "123456789012" || ev.Region != "us-east-1" || len(ev.ID) != 36 || ev.Time.IsZero() ||
		len(ev.Resources) != 1 || ev.Resources[0] != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"+name {
		t.Errorf("alarm event envelope = %+v", ev)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version    string `json:"version"`
		ID         string `json:"id"`
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
		Account    string `json:"account"`
		Time       string `json:"time"`
		Region     string `json:"region"`
		Resources  []string
		Detail     struct {
			AlarmName string `json:"alarmName"`
			State     struct {
				Value, Reason, ReasonData, Timestamp string
			} `json:"state"`
			PreviousState struct {
				Value string `json:"value"`
			} `json:"previousState"`
			Configuration struct {
				Metrics []struct {
					ID         string `json:"id"`
					ReturnData bool   `json:"returnData"`
					MetricStat struct {
						Period int    `json:"period"`
						Stat   string `json:"stat"`
						Metric struct {
							Namespace  string            `json:"namespace"`
							Name       string            `json:"name"`
							Dimensions map[string]string `json:"dimensions"`
						} `json:"metric"`
					} `json:"metricStat"`
				} `json:"metrics"`
			} `json:"configuration"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	d := doc.Detail
	if doc.DetailType != EventDetailType || doc.Account != AccountID || len(doc.Time) != len("2026-11-27T08:31:00Z") {
		t.Errorf("alarm event JSON envelope: %s", raw)
	}
	if d.AlarmName != name || d.State.Value != "ALARM" || d.PreviousState.Value != previous ||
		d.State.Reason == "" || d.State.ReasonData == "" || len(d.State.Timestamp) != len("2026-11-27T08:31:00.000+0000") {
		t.Errorf("alarm event detail: %s", raw)
	}
	if len(d.Configuration.Metrics) != 1 {
		t.Fatalf("alarm event metrics: %s", raw)
	}
	m := d.Configuration.Metrics[0]
	if !m.ReturnData || m.ID == "" || m.MetricStat.Stat != "Sum" || m.MetricStat.Period != int(period/time.Second) ||
		m.MetricStat.Metric.Namespace != "AWS/Route53" || m.MetricStat.Metric.Name != metric ||
		m.MetricStat.Metric.Dimensions["HostedZoneId"] != zoneID || len(m.MetricStat.Metric.Dimensions) != 1 {
		t.Errorf("alarm event metric: %+v", m)
	}
}
