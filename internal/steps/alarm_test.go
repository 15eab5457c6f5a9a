package steps

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// alarmEventJSON is a "CloudWatch Alarm State Change" event as EventBridge
// delivers it (the shape of the AWS documentation's example).
func alarmEventJSON(state, namespace, metric, zoneID string) string {
	return fmt.Sprintf(`{
  "version": "0", "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
  "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
  "account": "123456789012", "time": "2026-11-27T06:31:00Z", "region": "us-east-1",
  "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:dnssec-ksk"],
  "detail": {
    "alarmName": "dnssec-ksk",
    "state": {"value": %q, "reason": "Threshold Crossed", "timestamp": "2026-11-27T06:31:00.000+0000"},
    "previousState": {"value": "OK", "reason": "", "timestamp": "2026-11-27T06:30:00.000+0000"},
    "configuration": {"metrics": [{"id": "m1", "returnData": true,
      "metricStat": {"metric": {"namespace": %q, "name": %q, "dimensions": {"HostedZoneId": %q}}, "period": 60, "stat": "Sum"}}]}
  }
}`, state, namespace, metric, zoneID)
}

func TestParseAlarmInput(t *testing.T) {
	off := false
	tests := []struct {
		name      string
		raw       string
		wantZone  string
		wantSrc   string
		wantField string // of the InvalidInputError; "" for none
		wantOff   []string
	}{
		{"KSK alarm", alarmEventJSON("ALARM", "AWS/Route53", MetricKSKsNeedingAction, zoneID), zoneID, "alarm", "", nil},
		{"internal failure alarm", alarmEventJSON("ALARM", "AWS/Route53", MetricInternalFailure, zoneID), zoneID, "alarm", "", nil},
		{"back to OK", alarmEventJSON("OK", "AWS/Route53", MetricKSKsNeedingAction, zoneID), "", "", "detail.state.value", nil},
		{"insufficient data", alarmEventJSON("INSUFFICIENT_DATA", "AWS/Route53", MetricKSKsNeedingAction, zoneID), "", "", "detail.state.value", nil},
		{"another metric", alarmEventJSON("ALARM", "AWS/Route53", "HealthCheckStatus", zoneID), "", "", "detail.configuration.metrics", nil},
		{"another namespace", alarmEventJSON("ALARM", "AWS/EC2", MetricKSKsNeedingAction, zoneID), "", "", "detail.configuration.metrics", nil},
		{"no dimension", alarmEventJSON("ALARM", "AWS/Route53", MetricKSKsNeedingAction, ""), "", "", "detail.configuration.metrics", nil},
		{"another event", `{"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}}`, "", "", "detail-type", nil},
		{"console", `{"hostedZoneId": "/hostedzone/` + zoneID + `"}`, zoneID, "console", "", nil},
		{"console switches", `{"hostedZoneId": "` + zoneID + `", "remediate": {"enableKey": false, "restorePolicy": true}, "topicArn": "` + topic + `"}`, zoneID, "console", "", []string{"enableKey"}},
		{"unknown switch", `{"hostedZoneId": "` + zoneID + `", "remediate": {"deleteKey": true}}`, "", "", "remediate.deleteKey", nil},
		{"no zone", `{"remediate": {}}`, "", "", "hostedZoneId", nil},
		{"bad zone", `{"hostedZoneId": "example.com"}`, "", "", "hostedZoneId", nil},
		{"bad topic", `{"hostedZoneId": "` + zoneID + `", "topicArn": "my-topic"}`, "", "", "topicArn", nil},
		{"unknown field", `{"zoneId": "` + zoneID + `"}`, "", "", "input", nil},
		{"not an object", `[1]`, "", "", "input", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, tr, err := ParseAlarmInput([]byte(tt.raw))
			var ie *InvalidInputError
			switch {
			case tt.wantField != "":
				if !errors.As(err, &ie) || ie.Field != tt.wantField {
					t.Fatalf("ParseAlarmInput = %v, want InvalidInputError of %s", err, tt.wantField)
				}
				return
			case err != nil:
				t.Fatalf("ParseAlarmInput = %v", err)
			}
			if in.HostedZoneID != tt.wantZone || tr.Source != tt.wantSrc {
				t.Errorf("ParseAlarmInput = zone %q source %q, want %q %q", in.HostedZoneID, tr.Source, tt.wantZone, tt.wantSrc)
			}
			for _, name := range tt.wantOff {
				if v := in.Remediate[name]; v == nil || *v != off {
					t.Errorf("remediate.%s = %v, want false", name, v)
				}
			}
		})
	}
	in, tr, _ := ParseAlarmInput([]byte(alarmEventJSON("ALARM", "AWS/Route53", MetricInternalFailure, zoneID)))
	want := AlarmTrigger{Source: "alarm", AlarmName: "dnssec-ksk", AlarmARN: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dnssec-ksk",
		Metric: MetricInternalFailure, Time: "2026-11-27T06:31:00Z", Reason: "Threshold Crossed"}
	if diff := cmp.Diff(want, tr); diff != "" || in.HostedZoneID != zoneID {
		t.Errorf("trigger (-want +got):\n%s", diff)
	}
}

func TestAlarmRepairSwitches(t *testing.T) {
	yes, no := true, false
	all := AlarmRepairs{true, true, true, true, true}
	tests := []struct {
		name  string
		off   []string
		input map[string]*bool
		want  AlarmRepairs
	}{
		{"default on", nil, nil, all},
		{"input off", nil, map[string]*bool{"enableKey": &no, "retryInternalFailure": &no}, AlarmRepairs{false, true, true, true, false}},
		{"config off", []string{"restorePolicy", "reactivateKsk"}, nil, AlarmRepairs{true, true, false, false, true}},
		{"input beats config", []string{"restorePolicy"}, map[string]*bool{"restorePolicy": &yes}, all},
	}
	for _, tt := range tests {
		f := newAlarmFixture(t, tt.off...)
		if got := f.h.repairs(tt.input); got != tt.want {
			t.Errorf("%s: repairs = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRestoreKeyPolicy(t *testing.T) {
	full := KeyPolicy(account, zoneID)
	accountOnly := PolicyDocument{Version: "2012-10-17", Statement: full.Statement[2:]}
	wrongZone := KeyPolicy(account, "ZOTHER")
	single := `{"Version": "2012-10-17", "Statement": {"Sid": "Mine", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}}`
	tests := []struct {
		name      string
		doc       string
		wantSids  []string
		wantError bool
	}{
		{"statements removed", accountOnly.String(), []string{"Enable IAM User Permissions", "Allow Route 53 DNSSEC Service", "Allow Route 53 DNSSEC to CreateGrant"}, false},
		{"another zone's condition replaced", wrongZone.String(), []string{"Allow Route 53 DNSSEC Service", "Allow Route 53 DNSSEC to CreateGrant", "Enable IAM User Permissions"}, false},
		{"already complete", full.String(), []string{"Allow Route 53 DNSSEC Service", "Allow Route 53 DNSSEC to CreateGrant", "Enable IAM User Permissions"}, false},
		{"one statement object", single, []string{"Mine", "Allow Route 53 DNSSEC Service", "Allow Route 53 DNSSEC to CreateGrant"}, false},
		{"not JSON", "{", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RestoreKeyPolicy(tt.doc, account, zoneID)
			if tt.wantError {
				if err == nil {
					t.Errorf("RestoreKeyPolicy = %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if reason := CheckKeyPolicy(got, account, zoneID); reason != "" {
				t.Errorf("restored policy still refused: %s\n%s", reason, got)
			}
			var doc struct{ Statement []PolicyStatement }
			if err := json.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatal(err)
			}
			var sids []string
			for _, s := range doc.Statement {
				sids = append(sids, s.Sid)
			}
			if diff := cmp.Diff(tt.wantSids, sids); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
		})
	}
}

// signedKSK is a KSK of zone with its private key, for snapshots whose
// DNSKEY sets validate.
type signedKSK struct {
	key  *dns.DNSKEY
	priv crypto.Signer
}

func newSignedKSK(t *testing.T) signedKSK {
	t.Helper()
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	return signedKSK{key: key, priv: priv.(crypto.Signer)}
}

// route53 is the KSK as GetDNSSEC reports it.
func (k signedKSK) route53(name, kmsARN, status string) r53types.KeySigningKey {
	return r53types.KeySigningKey{Name: aws.String(name), KmsArn: aws.String(kmsARN), Status: aws.String(status), Flag: 257,
		SigningAlgorithmType: 13, PublicKey: aws.String(k.key.PublicKey)}
}

// snapshot: two parent servers serving the KSK's DS with TTL dsTTL, and
// three zone servers serving the DNSKEY set signed until expiry (one
// server silent when silent).
func (k signedKSK) snapshot(t *testing.T, now, expiry time.Time, dsTTL uint32, silent bool) func(string) (*observe.Snapshot, error) {
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600}, TypeCovered: dns.TypeDNSKEY,
		Algorithm: dns.ECDSAP256SHA256, Labels: 2, OrigTtl: 3600, Expiration: uint32(expiry.Unix()), Inception: uint32(now.Add(-24 * time.Hour).Unix()),
		KeyTag: k.key.KeyTag(), SignerName: zone}
	if err := sig.Sign(k.priv, []dns.RR{k.key}); err != nil {
		t.Fatal(err)
	}
	return func(z string) (*observe.Snapshot, error) {
		s := &observe.Snapshot{Zone: z, Parent: "test.", Time: now}
		for i := range 2 {
			s.ParentServers = append(s.ParentServers, observe.ServerResult{Name: fmt.Sprintf("ns%d.test.", i+1),
				Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:53", i+1)), Delegation: true,
				DS: &observe.RRset{State: observe.OK, Records: []dns.RR{k.key.ToDS(dns.SHA256)}, TTL: dsTTL}})
		}
		for i := range 3 {
			r := observe.ServerResult{Name: fmt.Sprintf("ns-%d.awsdns-0%d.test.", i+1, i+1), Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.1.%d:53", i+1)), Apex: true,
				DNSKEY: &observe.RRset{State: observe.OK, Records: []dns.RR{k.key}, Sigs: []*dns.RRSIG{sig}, TTL: 3600, Expiry: expiry}}
			if silent && i == 2 {
				r.DNSKEY = &observe.RRset{State: observe.Unknown, Reason: observe.ReasonTimeout}
			}
			s.ZoneServers = append(s.ZoneServers, r)
		}
		return s, nil
	}
}

func alarmStart(raw string) Event {
	return Event{Execution: execution, State: &State{Alarm: &AlarmState{Input: json.RawMessage(raw)}}}
}

// TestDiagnose: the findings of each KSK's key, the earliest expiry over
// the servers that answer, the time left and the urgency.
func TestDiagnose(t *testing.T) {
	tests := []struct {
		name       string
		left       time.Duration
		wantUrgent bool
	}{
		{"two weeks left", 13 * 24 * time.Hour, false},
		{"less than DS TTL + margin left", 20 * time.Hour, true},
		{"already expired", -time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAlarmFixture(t)
			k := newSignedKSK(t)
			arn := f.key(kmstypes.KeyStateDisabled, true)
			f.r53.serve = ServeActionNeeded
			f.r53.ksks = []r53types.KeySigningKey{k.route53("ksk_1", arn, KSKActionNeeded)}
			f.obs.snap = k.snapshot(t, t0, t0.Add(tt.left), 86400, true)
			s, err := f.h.Diagnose(context.Background(), alarmStart(alarmEventJSON("ALARM", "AWS/Route53", MetricKSKsNeedingAction, zoneID)))
			if err != nil {
				t.Fatal(err)
			}
			a := s.Alarm
			if s.Zone != zone || s.TopicARN != topic || s.Workflow != WorkflowAlarmResponse || a.Trigger.Metric != MetricKSKsNeedingAction {
				t.Errorf("state: zone %q topic %q workflow %q metric %q", s.Zone, s.TopicARN, s.Workflow, a.Trigger.Metric)
			}
			if len(a.KSKs) != 1 || a.KSKs[0].KeyState != "Disabled" || !a.KSKs[0].Workflow || a.KSKs[0].PolicyProblem != "" {
				t.Errorf("KSKs = %+v, want one with a disabled workflow key and a good policy", a.KSKs)
			}
			if a.TimeLeftSeconds != int64(tt.left/time.Second) || a.DSTTL != 86400 || a.Urgent != tt.wantUrgent {
				t.Errorf("time left %ds, DS TTL %d, urgent %t; want %ds, 86400, %t", a.TimeLeftSeconds, a.DSTTL, a.Urgent, int64(tt.left/time.Second), tt.wantUrgent)
			}
			if !a.DSPublished {
				t.Error("dsPublished = false, want true: the parent servers serve the DS")
			}
			if a.ZoneServers != 2 || len(a.Unanswered) != 1 {
				t.Errorf("zone servers %d, unanswered %q; want 2 and the silent one", a.ZoneServers, a.Unanswered)
			}
			if len(f.kms.calls) != 0 || len(f.r53.changes) != 0 {
				t.Errorf("diagnose changed something: KMS %v, Route 53 %v", f.kms.calls, f.r53.changes)
			}
		})
	}

	// Input that is no alarm of ours: refused before any API call.
	f := newAlarmFixture(t)
	f.r53.fail["GetDNSSEC"] = errors.New("must not be called")
	_, err := f.h.Diagnose(context.Background(), alarmStart(alarmEventJSON("OK", "AWS/Route53", MetricKSKsNeedingAction, zoneID)))
	var ie *InvalidInputError
	if !errors.As(err, &ie) {
		t.Errorf("Diagnose(OK event) = %v, want InvalidInputError", err)
	}
	if _, err := f.h.Diagnose(context.Background(), alarmStart(`{"hostedZoneId": "ZNOSUCHZONE"}`)); !errors.As(err, new(*ZoneNotFoundError)) {
		t.Errorf("Diagnose(unknown zone) = %v, want ZoneNotFoundError", err)
	}
}

// TestRemediate: each problem and switch, the calls made, the outcome and
// the runbook.
func TestRemediate(t *testing.T) {
	type setup struct {
		serve  string
		status string // of the one KSK
		state  kmstypes.KeyState
		tagged bool
		policy string // "" for the documented one
		gone   bool   // the key does not exist
	}
	noRoute53 := PolicyDocument{Version: "2012-10-17", Statement: KeyPolicy(account, zoneID).Statement[2:]}.String()
	deny := `{"Statement": [` + strings.TrimSuffix(strings.TrimPrefix(KeyPolicy(account, zoneID).String(), `{"Version":"2012-10-17","Statement":[`), `]}`) +
		`, {"Sid": "No", "Effect": "Deny", "Principal": {"Service": "dnssec-route53.amazonaws.com"}, "Action": "kms:Sign", "Resource": "*"}]}`
	tests := []struct {
		name        string
		setup       setup
		off         []string
		retried     []string
		wantOutcome string
		wantKMS     map[string]int
		wantR53     map[string]int
		wantLeft    string // in the runbook; "" for none
	}{
		{"disabled key", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateDisabled, true, "", false}, nil, nil,
			AlarmRepaired, map[string]int{"EnableKey": 1}, map[string]int{"ActivateKeySigningKey": 1}, ""},
		{"pending deletion", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStatePendingDeletion, true, "", false}, nil, nil,
			AlarmRepaired, map[string]int{"CancelKeyDeletion": 1, "EnableKey": 1}, map[string]int{"ActivateKeySigningKey": 1}, ""},
		{"policy removed", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateEnabled, true, noRoute53, false}, nil, nil,
			AlarmRepaired, map[string]int{"PutKeyPolicy": 1}, map[string]int{"ActivateKeySigningKey": 1}, ""},
		{"healthy", setup{ServeSigning, KSKActive, kmstypes.KeyStateEnabled, true, "", false}, nil, nil,
			AlarmNothingToRepair, map[string]int{}, map[string]int{}, ""},
		{"not a workflow key", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateDisabled, false, "", false}, nil, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "it was not created by dnssec-autopilot (no dnssec-autopilot:zone tag)"},
		{"enableKey off", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateDisabled, true, "", false}, []string{"enableKey"}, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "(enableKey is off)"},
		{"cancelKeyDeletion off", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStatePendingDeletion, true, "", false}, []string{"cancelKeyDeletion"}, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "cancel its deletion (aws kms cancel-key-deletion"},
		{"restorePolicy off", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateEnabled, true, noRoute53, false}, []string{"restorePolicy"}, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "(restorePolicy is off)"},
		{"reactivateKsk off", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateDisabled, true, "", false}, []string{"reactivateKsk"}, nil,
			AlarmNeedsPerson, map[string]int{"EnableKey": 1}, map[string]int{}, "(reactivateKsk is off)"},
		{"a deny statement", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateEnabled, true, deny, false}, nil, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "someone denied it on purpose"},
		{"key deleted", setup{ServeActionNeeded, KSKActionNeeded, kmstypes.KeyStateEnabled, true, "", true}, nil, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "cannot be repaired (the key does not exist any more): add a new KSK with a new key (rotate-ksk)"},
		{"inactive KSK untouched", setup{ServeSigning, KSKInactive, kmstypes.KeyStateDisabled, true, "", false}, nil, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "has no KSK that signs or could sign again"},
		{"KSK internal failure", setup{ServeSigning, KSKInternalFailure, kmstypes.KeyStateEnabled, true, "", false}, nil, nil,
			AlarmRepaired, map[string]int{}, map[string]int{"ActivateKeySigningKey": 1}, ""},
		{"KSK internal failure again", setup{ServeSigning, KSKInternalFailure, kmstypes.KeyStateEnabled, true, "", false}, nil, []string{"KSK ksk_1"},
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "(activating it once more did not help)"},
		{"KSK internal failure, retry off", setup{ServeSigning, KSKInternalFailure, kmstypes.KeyStateEnabled, true, "", false}, []string{"retryInternalFailure"}, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "open an AWS Support case"},
		{"signing internal failure", setup{ServeInternalFailure, KSKActive, kmstypes.KeyStateEnabled, true, "", false}, nil, nil,
			AlarmRepaired, map[string]int{}, map[string]int{"EnableHostedZoneDNSSEC": 1}, ""},
		{"signing internal failure again", setup{ServeInternalFailure, KSKActive, kmstypes.KeyStateEnabled, true, "", false}, nil, []string{"signing"},
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "(enabling it once more did not help)"},
		{"not signing", setup{ServeNotSigning, KSKInactive, kmstypes.KeyStateEnabled, true, "", false}, nil, nil,
			AlarmNeedsPerson, map[string]int{}, map[string]int{}, "run enable-signing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAlarmFixture(t, tt.off...)
			arn := f.key(tt.setup.state, tt.setup.tagged)
			if tt.setup.policy != "" {
				_ = f.kms.set(arn, func(k *fakeKey) { k.policy = tt.setup.policy })
			}
			if tt.setup.gone {
				delete(f.kms.keys, arn)
			}
			f.r53.serve = tt.setup.serve
			f.r53.ksks = []r53types.KeySigningKey{newRoute53KSK("ksk_1", arn, tt.setup.status)}
			s := &State{Workflow: WorkflowAlarmResponse, HostedZoneID: zoneID, Zone: zone, MarginSeconds: 3600,
				Alarm: &AlarmState{Repairs: f.h.repairs(nil), Retried: tt.retried}}
			out, err := f.h.Remediate(context.Background(), Event{Execution: execution, State: s})
			if err != nil {
				t.Fatal(err)
			}
			a := out.Alarm
			if a.Outcome != tt.wantOutcome || a.Verify != (tt.wantOutcome != AlarmNeedsPerson) {
				t.Errorf("outcome %s verify %t, want %s; left %q, actions %q", a.Outcome, a.Verify, tt.wantOutcome, a.Left, a.Actions)
			}
			if diff := cmp.Diff(tt.wantKMS, f.kms.calls); diff != "" {
				t.Errorf("KMS calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantR53, f.r53.changes); diff != "" {
				t.Errorf("Route 53 changes (-want +got):\n%s", diff)
			}
			left := strings.Join(a.Left, "\n")
			if (tt.wantLeft == "") != (left == "") || !strings.Contains(left, tt.wantLeft) {
				t.Errorf("left = %q, want it to say %q", left, tt.wantLeft)
			}
		})
	}
}

// TestRemediateBusy: a busy KMS reaches the state machine as
// ServiceBusyError, to be retried; the repairs already made are redone
// only where still missing (the key is read again).
func TestRemediateBusy(t *testing.T) {
	f := newAlarmFixture(t)
	arn := f.key(kmstypes.KeyStateDisabled, true)
	f.r53.serve = ServeActionNeeded
	f.r53.ksks = []r53types.KeySigningKey{newRoute53KSK("ksk_1", arn, KSKActionNeeded)}
	f.kms.fail["EnableKey"] = apiErr("ThrottlingException")
	ev := Event{Execution: execution, State: &State{HostedZoneID: zoneID, Zone: zone, Alarm: &AlarmState{Repairs: f.h.repairs(nil)}}}
	if _, err := f.h.Remediate(context.Background(), ev); !errors.As(err, new(*ServiceBusyError)) {
		t.Fatalf("Remediate with KMS throttling = %v, want ServiceBusyError", err)
	}
	delete(f.kms.fail, "EnableKey")
	ev.State.Alarm = &AlarmState{Repairs: f.h.repairs(nil)}
	if _, err := f.h.Remediate(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ev.State.Alarm = &AlarmState{Repairs: f.h.repairs(nil)}
	out, err := f.h.Remediate(context.Background(), ev) // a retry after the side effects
	if err != nil {
		t.Fatal(err)
	}
	if f.kms.calls["EnableKey"] != 1 || f.r53.changes["ActivateKeySigningKey"] != 1 || out.Alarm.Outcome != AlarmNothingToRepair {
		t.Errorf("after a repeated remediate: EnableKey %d, ActivateKeySigningKey %d, outcome %s; want 1, 1, nothing-to-repair",
			f.kms.calls["EnableKey"], f.r53.changes["ActivateKeySigningKey"], out.Alarm.Outcome)
	}
}

// TestVerifyRepair: verification polls while Route 53 or a server lags,
// fails after its budget, and passes once every server serves a DNSKEY set
// that validates with signatures outliving DS TTL + margin.
func TestVerifyRepair(t *testing.T) {
	k := newSignedKSK(t)
	arn := "arn:aws:kms:us-east-1:123456789012:key/00000001-0000-0000-0000-000000000000"
	tests := []struct {
		name     string
		status   string
		expiry   time.Duration // of the DNSKEY signatures from now
		wantDone bool
		lagging  string
	}{
		{"KSK still ACTION_NEEDED", KSKActionNeeded, 14 * 24 * time.Hour, false, "KSK ksk_1 is ACTION_NEEDED"},
		{"signatures not yet refreshed", KSKActive, 10 * time.Hour, false, "not yet re-signed"},
		{"repaired", KSKActive, 14 * 24 * time.Hour, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAlarmFixture(t)
			f.r53.serve = ServeSigning
			f.r53.ksks = []r53types.KeySigningKey{k.route53("ksk_1", arn, tt.status)}
			f.obs.snap = k.snapshot(t, t0, t0.Add(tt.expiry), 86400, false)
			s := &State{HostedZoneID: zoneID, Zone: zone, MarginSeconds: 3600, Alarm: &AlarmState{DSTTL: 86400}}
			out, err := f.h.Remediate(context.Background(), Event{Execution: execution, Action: AlarmActionVerify, State: s})
			if err != nil {
				t.Fatal(err)
			}
			if out.Poll.Done != tt.wantDone || (!tt.wantDone && (out.Poll.DelaySeconds <= 0 || !strings.Contains(out.Poll.Detail, tt.lagging))) {
				t.Errorf("poll = %+v, want done %t (lagging %q)", out.Poll, tt.wantDone, tt.lagging)
			}
			if tt.wantDone {
				if !strings.Contains(out.Alarm.Verified, "every zone server (3) serves a DNSKEY set that validates") {
					t.Errorf("verified = %q", out.Alarm.Verified)
				}
				return
			}
			f.now = t0.Add(AlarmVerifyBudget)
			if _, err := f.h.Remediate(context.Background(), Event{Execution: execution, Action: AlarmActionVerify, State: &out}); !errors.As(err, new(*PropagationTimeoutError)) {
				t.Errorf("verify after its budget = %v, want PropagationTimeoutError", err)
			}
		})
	}
}

// TestAlarmNotify: the report's order and content for each outcome; the
// deadline comes first only when it is too late to withdraw the DS and the
// problem is not repaired.
func TestAlarmNotify(t *testing.T) {
	base := func(outcome string, urgent bool) *State {
		return &State{Workflow: WorkflowAlarmResponse, HostedZoneID: zoneID, Zone: zone, ExecutionARN: execution.ARN, MarginSeconds: 3600, TopicARN: topic,
			Alarm: &AlarmState{Trigger: AlarmTrigger{Source: "alarm", AlarmName: "a1", Metric: MetricKSKsNeedingAction}, Outcome: outcome, Urgent: urgent,
				EarliestExpiry: "2026-11-27T11:30:00Z", TimeLeftSeconds: 5 * 3600, DSTTL: 86400,
				Findings: []string{"KSK ksk_1: ACTION_NEEDED"}, Left: map[bool][]string{true: {"enable the key"}}[outcome == AlarmNeedsPerson],
				Actions: map[bool][]string{true: {"enabled KMS key k1"}}[outcome == AlarmRepaired]}}
	}
	tests := []struct {
		name        string
		state       *State
		failure     *Failure
		wantFirst   string
		wantSubject string
		want        []string
		wantCause   bool
	}{
		{"needs a person, urgent", base(AlarmNeedsPerson, true), nil,
			"URGENT: the signatures of example.test. expire at 2026-11-27T11:30:00Z (in 5h0m), before a DS withdrawn now could leave resolver caches (DS TTL 86400s + margin 3600s)",
			"URGENT dnssec-autopilot: alarm-response of example.test needs a person",
			[]string{"What a person must do:\n  1. enable the key\n  Do it before 2026-11-27T11:30:00Z"}, true},
		{"needs a person", base(AlarmNeedsPerson, false), nil,
			"alarm-response of example.test. (hosted zone " + zoneID + "): needs a person", "dnssec-autopilot: alarm-response of example.test needs a person",
			[]string{"started by alarm a1", "What was done:\n  - nothing was changed"}, true},
		{"repaired in time", base(AlarmRepaired, true), nil,
			"alarm-response of example.test. (hosted zone " + zoneID + "): repaired", "dnssec-autopilot: alarm-response of example.test repaired",
			[]string{"  - enabled KMS key k1", "What a person must do:\n  nothing"}, false},
		{"failed", base(AlarmRepaired, false), &Failure{Error: "PropagationTimeoutError", Cause: "servers lag"},
			"alarm-response of example.test. (hosted zone " + zoneID + "): failed", "dnssec-autopilot: alarm-response of example.test failed",
			[]string{"The run failed: PropagationTimeoutError: servers lag", "Start alarm-response again"}, false},
		{"diagnose failed", &State{Alarm: &AlarmState{Input: json.RawMessage(`{"hostedZoneId": "` + zoneID + `", "error": {"Error": "UnexpectedError"}}`)}},
			&Failure{Error: "UnexpectedError", Cause: "boom"},
			"alarm-response of - (hosted zone " + zoneID + "): failed", "dnssec-autopilot: alarm-response of hosted zone " + zoneID + " failed",
			[]string{"(no diagnosis)", "The run failed: UnexpectedError: boom"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAlarmFixture(t)
			out, err := f.h.Remediate(context.Background(), Event{Execution: execution, Action: AlarmActionNotify, State: tt.state, Failure: tt.failure})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.sns.msgs) != 1 {
				t.Fatalf("published %d messages, want 1", len(f.sns.msgs))
			}
			m := f.sns.msgs[0]
			subject, body := aws.ToString(m.Subject), aws.ToString(m.Message)
			if aws.ToString(m.TopicArn) != topic || subject != tt.wantSubject || len(subject) > 100 {
				t.Errorf("topic %s subject %q, want %s %q", aws.ToString(m.TopicArn), subject, topic, tt.wantSubject)
			}
			if !strings.HasPrefix(body, tt.wantFirst) {
				t.Errorf("body starts %q, want %q", body[:min(len(body), 200)], tt.wantFirst)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if got := out.Alarm.Cause != ""; got != tt.wantCause {
				t.Errorf("cause %q, want one: %t", out.Alarm.Cause, tt.wantCause)
			}
			if tt.wantCause && !strings.Contains(out.Alarm.Cause, "enable the key") {
				t.Errorf("cause %q lacks the runbook", out.Alarm.Cause)
			}
			if len(out.Alarm.Input) != 0 {
				t.Errorf("the input is kept in the output state")
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0m"},
		{5 * time.Hour, "5h0m"},
		{90 * time.Second, "2m"},
		{13*24*time.Hour + 23*time.Hour + 52*time.Minute, "13d23h52m"},
		{-2 * time.Hour, "-2h0m"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
