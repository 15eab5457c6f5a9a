package workflows

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// alarmWorld is a stack with example.test. signed through enable-signing
// and the workflows subscribed to its alarms.
type alarmWorld struct {
	t   *testing.T
	st  *stack.Stack
	sc  *stack.Scenario
	w   *Workflows
	r53 *route53.Client
	kms *kms.Client
}

func newAlarmWorld(t *testing.T) *alarmWorld {
	t.Helper()
	st, sc := newStack(t)
	w, err := Start(st, Options{Route53Throttle: &Throttle{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	a := &alarmWorld{t: t, st: st, sc: sc, w: w, r53: route53.NewFromConfig(st.AWSConfig()), kms: kms.NewFromConfig(st.AWSConfig())}
	res := a.run(EnableSigning, "enable", map[string]any{"hostedZoneId": sc.ZoneID,
		"dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	a.settle()
	return a
}

// run runs an execution to its end.
func (a *alarmWorld) run(machine, name string, input any) asl.Result {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ex, err := a.w.Start(ctx, machine, name, input)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.wait(ctx, ex)
}

func (a *alarmWorld) wait(ctx context.Context, ex *asl.Execution) asl.Result {
	a.t.Helper()
	select {
	case <-ex.Done():
	case <-ctx.Done():
		a.t.Fatalf("%s did not end within 60s", ex.ARN)
	}
	return ex.Wait()
}

// settle lets an alarm period pass, so that every alarm reads the zone as
// it is now (back to OK after a repair).
func (a *alarmWorld) settle() {
	a.st.Virtual().Advance(stack.DefaultAlarmPeriod)
	a.st.EvaluateAlarms()
}

// alarmRun ends the current alarm period (the stack's alarm evaluates it
// and raises the change into ALARM) and waits for the alarm-response
// execution it starts.
func (a *alarmWorld) alarmRun() asl.Result {
	a.t.Helper()
	before := len(a.w.AlarmExecutions())
	a.settle()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if started := a.w.AlarmExecutions(); len(started) > before {
			if len(started) > before+1 {
				a.t.Errorf("one fault started %d executions, want 1", len(started)-before)
			}
			return a.wait(ctx, started[before])
		}
		select {
		case <-ctx.Done():
			a.t.Fatalf("no alarm-response started within 60s; alarms: %+v", a.st.Alarms())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ksk returns the zone's only KSK.
func (a *alarmWorld) ksk(zoneID string) (name, kmsARN string) {
	a.t.Helper()
	out, err := a.r53.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil || len(out.KeySigningKeys) != 1 {
		a.t.Fatalf("GetDNSSEC(%s) = %d KSKs, %v; want 1", zoneID, len(out.KeySigningKeys), err)
	}
	k := out.KeySigningKeys[0]
	return aws.ToString(k.Name), aws.ToString(k.KmsArn)
}

// healthy checks that Route 53 signs with every KSK ACTIVE and that the
// zone validates secure from the root.
func (a *alarmWorld) healthy(zoneID, zone string) {
	a.t.Helper()
	ctx := context.Background()
	out, err := a.r53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		a.t.Fatal(err)
	}
	if got := aws.ToString(out.Status.ServeSignature); got != "SIGNING" {
		a.t.Errorf("GetDNSSEC(%s) status %s (%s), want SIGNING", zone, got, aws.ToString(out.Status.StatusMessage))
	}
	for _, k := range out.KeySigningKeys {
		if got := aws.ToString(k.Status); got != "ACTIVE" {
			a.t.Errorf("KSK %s is %s (%s), want ACTIVE", aws.ToString(k.Name), got, aws.ToString(k.StatusMessage))
		}
	}
	r, err := dnssec.NewResolver(a.st.ResolverConfig())
	if err != nil {
		a.t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := r.Resolve(rctx, zone, dns.TypeSOA)
	if err != nil || res.Status != dnssec.Secure {
		a.t.Errorf("validating %s SOA: %v %v, want secure", zone, res, err)
	}
}

// message returns the last notification about zone.
func (a *alarmWorld) message(zone string) (subject, body string) {
	a.t.Helper()
	msgs := a.st.SNS().Messages(a.sc.TopicARN)
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.Contains(msgs[i].Subject, "alarm-response of "+strings.TrimSuffix(zone, ".")) {
			return msgs[i].Subject, msgs[i].Body
		}
	}
	a.t.Fatalf("no alarm-response notification about %s", zone)
	return "", ""
}

func output(t *testing.T, res asl.Result) steps.State {
	t.Helper()
	var s steps.State
	if err := json.Unmarshal(res.Output, &s); err != nil || s.Alarm == nil {
		t.Fatalf("alarm-response output: %v: %s", err, res.Output)
	}
	return s
}

func contains(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// TestAlarmResponseRepairs: for each fault, the stack's alarm fires,
// alarm-response runs from the EventBridge event, repairs exactly what is
// wrong, verifies it, and afterwards Route 53 signs with the KSK ACTIVE,
// the zone validates secure, and the notification says what was found and
// what was done. One stack, the faults one after the other: each repair
// leaves the zone as the next fault expects it.
func TestAlarmResponseRepairs(t *testing.T) {
	a := newAlarmWorld(t)
	ctx := context.Background()
	zoneID, zone := a.sc.ZoneID, stack.ScenarioDomain
	name, keyARN := a.ksk(zoneID)
	r53 := a.st.Route53()
	tests := []struct {
		name    string
		fault   func() error
		metric  string
		found   []string // in the findings
		actions []string // in the notification's "What was done"
	}{
		{"disabled key", func() error { return a.st.DisableKMSKey(ctx, keyARN) }, stack.MetricKSKsNeedingAction,
			[]string{"KSK " + name + ": ACTION_NEEDED", "disabled"},
			[]string{"enabled KMS key " + keyARN, "activated KSK " + name + " again (was ACTION_NEEDED)"}},
		{"key pending deletion", func() error { return a.st.ScheduleKMSKeyDeletion(ctx, keyARN, 7) }, stack.MetricKSKsNeedingAction,
			[]string{"pending deletion on "},
			[]string{"cancelled the pending deletion of KMS key " + keyARN, "enabled KMS key " + keyARN, "activated KSK " + name}},
		{"policy statement removed", func() error { return a.st.RemoveRoute53FromKeyPolicy(ctx, keyARN) }, stack.MetricKSKsNeedingAction,
			[]string{"policy: no statement allows dnssec-route53.amazonaws.com"},
			[]string{"restored the key policy statements for dnssec-route53.amazonaws.com on KMS key " + keyARN, "activated KSK " + name}},
		{"KSK internal failure", func() error {
			return r53.SetKSKStatus(zoneID, name, route53emu.KSKInternalFailure, "injected: Route 53 could not use the key")
		}, stack.MetricInternalFailure,
			[]string{"KSK " + name + ": INTERNAL_FAILURE (injected"},
			[]string{"activated KSK " + name + " again (was INTERNAL_FAILURE)"}},
		{"signing internal failure", func() error {
			return r53.SetSigningStatus(zoneID, route53emu.InternalFailure, "injected: signing failed")
		}, stack.MetricInternalFailure,
			[]string{"signing: INTERNAL_FAILURE (injected: signing failed)"},
			[]string{"enabled DNSSEC signing of " + zone + " again after INTERNAL_FAILURE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			if err := tc.fault(); err != nil {
				t.Fatal(err)
			}
			res := a.alarmRun()
			if res.Status != asl.StatusSucceeded {
				t.Fatalf("alarm-response = %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
			}
			s := output(t, res)
			al := s.Alarm
			if al.Trigger.Source != "alarm" || al.Trigger.Metric != tc.metric || al.Trigger.AlarmName != stack.AlarmName(zoneID, tc.metric) {
				t.Errorf("trigger = %+v, want the alarm of %s", al.Trigger, tc.metric)
			}
			if al.Outcome != steps.AlarmRepaired || len(al.Left) > 0 || s.ChainStatus != "secure" {
				t.Errorf("outcome %s, left %q, chain %s; want repaired, nothing left, secure", al.Outcome, al.Left, s.ChainStatus)
			}
			if al.TimeLeftSeconds < 13*24*3600 || al.DSTTL != 86400 || al.Urgent || al.ZoneServers == 0 {
				t.Errorf("time left %ds, DS TTL %d, urgent %t, %d servers; want about 14 days, 86400, false, > 0", al.TimeLeftSeconds, al.DSTTL, al.Urgent, al.ZoneServers)
			}
			a.healthy(zoneID, zone)
			subject, body := a.message(zone)
			if subject != "dnssec-autopilot: alarm-response of example.test repaired" {
				t.Errorf("subject %q", subject)
			}
			contains(t, "notification", body, append(append([]string{"What was found:", "What was done:", "verified: Route 53 signing SIGNING", "What a person must do:\n  nothing"}, tc.found...), tc.actions...)...)
			if t.Failed() || testing.Verbose() {
				t.Logf("notification:\n%s", body)
			}
			a.settle() // the alarm goes back to OK before the next fault
		})
	}
	a.t = t

	// A console start on the healthy zone: nothing to repair, verified.
	res := a.run(AlarmResponse, "console-healthy", map[string]any{"hostedZoneId": zoneID})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("console alarm-response = %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if s := output(t, res); s.Alarm.Outcome != steps.AlarmNothingToRepair || len(s.Alarm.Actions) != 0 || s.Alarm.Trigger.Source != "console" {
		t.Errorf("console run on a healthy zone: outcome %s, actions %q, source %s; want nothing-to-repair, none, console", s.Alarm.Outcome, s.Alarm.Actions, s.Alarm.Trigger.Source)
	}
}

// TestAlarmResponseNeedsPerson: a repair switched off, a key no workflow
// created, and signatures about to expire: nothing is changed that may not
// be, the execution fails with AlarmNotRemediableError after notifying the
// runbook, and when the signatures expire before a withdrawn DS could leave
// caches, the notification says so first. Then a console start with the
// repairs on fixes the key in time.
func TestAlarmResponseNeedsPerson(t *testing.T) {
	a := newAlarmWorld(t)
	ctx := context.Background()
	zoneID, zone := a.sc.ZoneID, stack.ScenarioDomain
	name, keyARN := a.ksk(zoneID)

	// A key no workflow created backs the child's KSK: its alarm leads to
	// the runbook, the key is left as it is.
	key, err := a.kms.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify,
		Policy: aws.String(steps.KeyPolicy(stack.AccountID, a.sc.ChildZoneID).String())})
	if err != nil {
		t.Fatal(err)
	}
	childKey := aws.ToString(key.KeyMetadata.Arn)
	res := a.run(EnableSigning, "enable-child", map[string]any{"hostedZoneId": a.sc.ChildZoneID, "kmsKeyArn": childKey,
		"dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": zoneID}})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing of the child: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	a.settle()
	if err := a.st.DisableKMSKey(ctx, childKey); err != nil {
		t.Fatal(err)
	}
	res = a.alarmRun()
	if res.Status != asl.StatusFailed || res.Error != "AlarmNotRemediableError" || !strings.Contains(res.Cause, "not created by dnssec-autopilot") {
		t.Errorf("alarm-response for an untagged key = %s %s (%s), want FAILED AlarmNotRemediableError naming the key's origin", res.Status, res.Error, res.Cause)
	}
	d, err := a.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(childKey)})
	if err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStateDisabled {
		t.Errorf("the untagged key is %v (%v), want left Disabled", d.KeyMetadata.KeyState, err)
	}
	subject, body := a.message(stack.ScenarioChildZone)
	if !strings.HasSuffix(subject, "needs a person") || strings.HasPrefix(subject, "URGENT") {
		t.Errorf("subject %q, want a needs-a-person subject, not urgent", subject)
	}
	contains(t, "notification", body, "What a person must do:\n  1. the KMS key "+childKey, "aws kms enable-key --key-id "+childKey,
		"then activate the KSK", "What was done:\n  - nothing was changed")

	// The rest runs from the console, without the alarms (whose own run
	// would repair the key).
	a.w.Close()
	if err := a.st.DisableKMSKey(ctx, keyARN); err != nil {
		t.Fatal(err)
	}
	off := map[string]any{"hostedZoneId": zoneID, "remediate": map[string]any{"enableKey": false}}
	res = a.run(AlarmResponse, "console-enable-off", off)
	if res.Status != asl.StatusFailed || res.Error != "AlarmNotRemediableError" {
		t.Fatalf("console run with enableKey off = %s %s (%s), want FAILED AlarmNotRemediableError", res.Status, res.Error, res.Cause)
	}
	_, body = a.message(zone)
	contains(t, "notification", body, "1. the KMS key "+keyARN+" of KSK "+name+" is disabled: enable it (aws kms enable-key --key-id "+keyARN+"), then activate the KSK (enableKey is off)")
	if strings.HasPrefix(body, "URGENT") {
		t.Errorf("a zone with two weeks left is not urgent:\n%s", body)
	}

	// Days later, the signatures expire within the DS TTL: the message
	// says so first.
	var expiry time.Time
	for _, l := range strings.Split(body, "\n") {
		if _, rest, ok := strings.Cut(l, "signatures: the earliest expires at "); ok {
			expiry, _ = time.Parse(time.RFC3339, strings.Fields(rest)[0])
		}
	}
	if expiry.IsZero() {
		t.Fatalf("no signature expiry in the notification:\n%s", body)
	}
	a.st.Virtual().Set(expiry.Add(-5 * time.Hour))
	res = a.run(AlarmResponse, "console-urgent", off)
	if res.Status != asl.StatusFailed || res.Error != "AlarmNotRemediableError" || !strings.Contains(res.Cause, "URGENT") {
		t.Errorf("urgent console run = %s %s (%s), want FAILED AlarmNotRemediableError, URGENT", res.Status, res.Error, res.Cause)
	}
	subject, body = a.message(zone)
	if !strings.HasPrefix(subject, "URGENT ") {
		t.Errorf("subject %q, want URGENT first", subject)
	}
	// (The DNSKEY signature the disabled key made last is the one left:
	// the zone-signing key's were refreshed meanwhile.)
	first, _, _ := strings.Cut(body, "\n")
	if !strings.HasPrefix(first, "URGENT: the signatures of example.test. expire at 2026-12-") || !strings.Contains(first, "(in 5h") ||
		!strings.Contains(first, "before a DS withdrawn now could leave resolver caches (DS TTL 86400s + margin 3600s)") {
		t.Errorf("the notification does not start with the deadline:\n%s", body)
	}

	// With the repairs on, the key is enabled in time and the zone is
	// re-signed: verification asks for signatures that outlive the DS TTL.
	res = a.run(AlarmResponse, "console-repair", map[string]any{"hostedZoneId": zoneID})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("console repair = %s %s (%s)", res.Status, res.Error, res.Cause)
	}
	if s := output(t, res); s.Alarm.Outcome != steps.AlarmRepaired || !s.Alarm.Urgent {
		t.Errorf("repair: outcome %s urgent %t, want repaired, diagnosed urgent", s.Alarm.Outcome, s.Alarm.Urgent)
	}
	a.healthy(zoneID, zone)
	subject, body = a.message(zone)
	if strings.HasPrefix(subject, "URGENT") || strings.HasPrefix(body, "URGENT") {
		t.Errorf("a repaired zone's notification is not urgent: %q\n%s", subject, body)
	}

	// Input that is no alarm of ours: refused, nothing notified.
	n := len(a.st.SNS().Messages(a.sc.TopicARN))
	for _, bad := range []map[string]any{
		{"hostedZoneId": "not a zone"},
		{"version": "0", "source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": map[string]any{"state": map[string]any{"value": "OK"}}},
	} {
		res = a.run(AlarmResponse, "", bad)
		if res.Status != asl.StatusFailed || res.Error != "InvalidInputError" {
			t.Errorf("input %v = %s %s (%s), want FAILED InvalidInputError", bad, res.Status, res.Error, res.Cause)
		}
	}
	if got := len(a.st.SNS().Messages(a.sc.TopicARN)); got != n {
		t.Errorf("refused inputs sent %d notifications, want none", got-n)
	}
}
