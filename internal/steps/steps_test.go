package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

func publisherSettings() *dspublish.Settings {
	return &dspublish.Settings{Kind: dspublish.KindRoute53Domains, DomainName: "example.test"}
}

// errName is the name a state machine sees: what aws-lambda-go reports.
func errName(err error) string {
	if err == nil {
		return ""
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func i64(v int64) *int64 { return &v }
func i32(v int32) *int32 { return &v }

func TestInputValidate(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		field string // "" for valid
	}{
		{"valid", *enableInput(), ""},
		{"valid with prefix", Input{HostedZoneID: "/hostedzone/" + zoneID, DSPublisher: publisherSettings()}, ""},
		{"no zone", Input{DSPublisher: publisherSettings()}, "hostedZoneId"},
		{"lower-case zone", Input{HostedZoneID: "z123", DSPublisher: publisherSettings()}, "hostedZoneId"},
		{"negative margin", Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), SafetyMarginSeconds: i64(-1)}, "safetyMarginSeconds"},
		{"huge margin", Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), SafetyMarginSeconds: i64(1e9)}, "safetyMarginSeconds"},
		{"deletion window", Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), KMSDeletionWindowDays: i32(3)}, "kmsDeletionWindowDays"},
		{"key alias", Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), KMSKeyARN: "alias/mine"}, "kmsKeyArn"},
		{"topic", Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), NotifyTopicARN: "my-topic"}, "notifyTopicArn"},
		{"no publisher", Input{HostedZoneID: zoneID}, "dsPublisher"},
		{"bad zone name", Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), ZoneName: "a..b"}, "zoneName"},
	}
	for _, tt := range tests {
		err := tt.in.Validate(true)
		var ie *InvalidInputError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field):
			t.Errorf("%s: Validate = %v, want InvalidInputError on %s", tt.name, err, tt.field)
		}
	}
}

// TestPreflightEnableRefusals: each refusal is its named error, and changes
// nothing (no record change, no KSK).
func TestPreflightEnableRefusals(t *testing.T) {
	otherLock := r53types.ResourceRecordSet{Name: aws.String(LockName(zone)), Type: r53types.RRTypeTxt, TTL: aws.Int64(60),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"owner=ffffffffffffffffffffffff" "execution=other"`)}}}
	tests := []struct {
		name  string
		in    *Input
		setup func(f *fixture)
		want  string
	}{
		{"no input", nil, nil, "InvalidInputError"},
		{"unknown zone", &Input{HostedZoneID: "Z0NOSUCHZONE", DSPublisher: publisherSettings()}, nil, "ZoneNotFoundError"},
		{"private zone", enableInput(), func(f *fixture) { f.r53.private = true }, "PrivateZoneError"},
		{"zone name mismatch", &Input{HostedZoneID: zoneID, ZoneName: "example.org", DSPublisher: publisherSettings()}, nil, "InvalidInputError"},
		{"publisher for another domain", &Input{HostedZoneID: zoneID, DSPublisher: &dspublish.Settings{Kind: dspublish.KindRoute53Domains, DomainName: "other.test"}}, nil, "InvalidInputError"},
		{"publisher missing setting", &Input{HostedZoneID: zoneID, DSPublisher: &dspublish.Settings{Kind: dspublish.KindParentHostedZone}}, nil, "InvalidInputError"},
		{"not delegated", enableInput(), func(f *fixture) {
			f.obs.snap = func(string) (*observe.Snapshot, error) {
				return nil, &observe.NotDelegatedError{Zone: zone, Parent: "test.", Reason: observe.ReasonNXDomain}
			}
		}, "ZoneNotDelegatedError"},
		{"delegated elsewhere", enableInput(), func(f *fixture) { f.obs.snap = delegated("ns1.registrar.test.", "ns2.registrar.test.") }, "ZoneNotDelegatedError"},
		{"partly delegated", enableInput(), func(f *fixture) {
			f.obs.snap = func(z string) (*observe.Snapshot, error) {
				s, _ := delegated(zoneNS...)(z)
				s.ParentServers[1].NS.Records = s.ParentServers[1].NS.Records[:1]
				return s, nil
			}
		}, "ZoneNotDelegatedError"},
		{"parent server silent", enableInput(), func(f *fixture) {
			f.obs.snap = func(z string) (*observe.Snapshot, error) {
				s, _ := delegated(zoneNS...)(z)
				s.ParentServers[0].NS = &observe.RRset{State: observe.Unknown, Reason: observe.ReasonTimeout}
				return s, nil
			}
		}, "ObservationIncompleteError"},
		{"parent insecure", enableInput(), func(f *fixture) { f.res.status["test."] = dnssec.Insecure }, "ParentNotSecureError"},
		{"parent bogus", enableInput(), func(f *fixture) { f.res.status["test."] = dnssec.Bogus }, "ParentNotSecureError"},
		{"already signed", enableInput(), func(f *fixture) {
			f.r53.serve = ServeSigning
			f.r53.ksks = []r53types.KeySigningKey{newRoute53KSK("ksk_old", "arn:aws:kms:us-east-1:123456789012:key/x", KSKActive)}
		}, "AlreadySignedError"},
		{"internal failure", enableInput(), func(f *fixture) { f.r53.serve = ServeInternalFailure }, "SigningInternalFailureError"},
		{"locked by another run", enableInput(), func(f *fixture) { f.r53.records = append(f.r53.records, otherLock) }, "ConcurrentRunError"},
		{"throttled", enableInput(), func(f *fixture) { f.r53.fail["GetHostedZone"] = apiErr("Throttling") }, "ServiceBusyError"},
		{"key in another region", &Input{HostedZoneID: zoneID, DSPublisher: publisherSettings(), KMSKeyARN: "arn:aws:kms:eu-west-1:123456789012:key/abc"}, nil, "KMSKeyRegionError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			records := len(f.r53.records)
			_, err := f.h.PreflightEnable(context.Background(), Event{Execution: execution, Input: tt.in})
			if got := errName(err); got != tt.want {
				t.Fatalf("PreflightEnable = %s (%v), want %s", got, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "steps: ") {
				t.Errorf("error %q is not prefixed with its origin", err)
			}
			if len(f.r53.changes) != 0 || len(f.r53.records) != records {
				t.Errorf("refusal changed the zone: %v", f.r53.changes)
			}
		})
	}
}

// TestPreflightEnable: the state it starts, the lock it takes, and a second
// call (a retried Task) that finds the lock its own.
func TestPreflightEnable(t *testing.T) {
	f := newFixture(t)
	ev := Event{Execution: execution, Input: enableInput()}
	s1, err := f.h.PreflightEnable(context.Background(), ev)
	if err != nil {
		t.Fatalf("PreflightEnable: %v", err)
	}
	s2, err := f.h.PreflightEnable(context.Background(), ev)
	if err != nil {
		t.Fatalf("PreflightEnable again: %v", err)
	}
	if diff := cmp.Diff(s1, s2); diff != "" {
		t.Errorf("second call gave another state (-first +second):\n%s", diff)
	}
	if f.r53.changes["ChangeResourceRecordSets:CREATE"] != 1 {
		t.Errorf("lock created %d times, want 1", f.r53.changes["ChangeResourceRecordSets:CREATE"])
	}
	if s1.Zone != zone || s1.HostedZoneID != zoneID || !s1.LockHeld || s1.Parent != "test." || s1.MarginSeconds != 3600 || s1.History.MaxZoneTTL != 172800 {
		t.Errorf("state: zone %s id %s lock %v parent %s margin %d zone TTL %d", s1.Zone, s1.HostedZoneID, s1.LockHeld, s1.Parent, s1.MarginSeconds, s1.History.MaxZoneTTL)
	}
	// Resuming: the zone is signed by this execution's KSK.
	f.r53.serve = ServeSigning
	f.r53.ksks = []r53types.KeySigningKey{newRoute53KSK(KSKName(t0), "arn:aws:kms:us-east-1:123456789012:key/x", KSKActive)}
	if _, err := f.h.PreflightEnable(context.Background(), ev); err != nil {
		t.Errorf("PreflightEnable of a zone this execution signed: %v, want nil (resume)", err)
	}
	// Release twice: one DELETE.
	for range 2 {
		if _, err := f.h.ReleaseLock(context.Background(), Event{Execution: execution, State: &s1}); err != nil {
			t.Fatalf("ReleaseLock: %v", err)
		}
	}
	if f.r53.changes["ChangeResourceRecordSets:DELETE"] != 1 {
		t.Errorf("lock deleted %d times, want 1", f.r53.changes["ChangeResourceRecordSets:DELETE"])
	}
}

func TestReleaseLockLeavesOthersLock(t *testing.T) {
	f := newFixture(t)
	s, err := f.h.PreflightEnable(context.Background(), Event{Execution: execution, Input: enableInput()})
	if err != nil {
		t.Fatal(err)
	}
	other := Execution{ARN: execution.ARN + "-other", Name: "other"}
	if _, err := f.h.ReleaseLock(context.Background(), Event{Execution: other, State: &s}); err != nil {
		t.Fatal(err)
	}
	if f.r53.changes["ChangeResourceRecordSets:DELETE"] != 0 {
		t.Errorf("another execution's release deleted the lock")
	}
	// An event without a state (a failure before preflight made one).
	if _, err := f.h.ReleaseLock(context.Background(), Event{Execution: execution}); err != nil {
		t.Errorf("ReleaseLock without state = %v, want nil", err)
	}
}

// state returns a state as preflight leaves it.
func (f *fixture) state(t *testing.T) *State {
	t.Helper()
	s, err := f.h.PreflightEnable(context.Background(), Event{Execution: execution, Input: enableInput()})
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestVerifyKMSKey(t *testing.T) {
	good := KeyPolicy(account, zoneID).String()
	other := KeyPolicy("210987654321", zoneID).String()
	otherZone := KeyPolicy(account, "Z0OTHER").String()
	wildcard := strings.ReplaceAll(good, HostedZoneARN(zoneID), "arn:aws:route53:::hostedzone/*")
	deny := strings.Replace(good, `"Statement":[`, `"Statement":[{"Effect":"Deny","Principal":{"Service":"dnssec-route53.amazonaws.com"},"Action":"kms:Sign","Resource":"*"},`, 1)
	noService := KeyPolicy(account, zoneID)
	noService.Statement = noService.Statement[2:]
	tests := []struct {
		name string
		key  func(k *fakeKMS) string
		ksks []r53types.KeySigningKey
		want string
	}{
		{"good", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, good)
		}, nil, ""},
		{"documented wildcard ARN", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, wildcard)
		}, nil, ""},
		{"other region", func(*fakeKMS) string { return "arn:aws:kms:eu-west-1:123456789012:key/abc" }, nil, "KMSKeyRegionError"},
		{"other account", func(*fakeKMS) string { return "arn:aws:kms:us-east-1:210987654321:key/abc" }, nil, "KMSKeyNotFoundError"},
		{"absent", func(*fakeKMS) string { return "arn:aws:kms:us-east-1:123456789012:key/abc" }, nil, "KMSKeyNotFoundError"},
		{"RSA", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecRsa2048, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, good)
		}, nil, "KMSKeySpecError"},
		{"encrypt", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeEncryptDecrypt, kmstypes.KeyStateEnabled, good)
		}, nil, "KMSKeyUsageError"},
		{"disabled", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateDisabled, good)
		}, nil, "KMSKeyStateError"},
		{"pending deletion", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStatePendingDeletion, good)
		}, nil, "KMSKeyStateError"},
		{"policy of another account", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, other)
		}, nil, "KMSKeyPolicyError"},
		{"policy of another zone", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, otherZone)
		}, nil, "KMSKeyPolicyError"},
		{"policy without Route 53", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, noService.String())
		}, nil, "KMSKeyPolicyError"},
		{"policy denies Sign", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, deny)
		}, nil, "KMSKeyPolicyError"},
		{"used by a KSK of the zone", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, good)
		}, []r53types.KeySigningKey{newRoute53KSK("ksk_current", "arn:aws:kms:us-east-1:123456789012:key/00000001-0000-0000-0000-000000000000", KSKActive)}, "KMSKeyInUseError"},
		{"made for another zone", func(k *fakeKMS) string {
			return k.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, good,
				kmstypes.Tag{TagKey: aws.String(TagHostedZoneID), TagValue: aws.String("Z0OTHER")})
		}, nil, "KMSKeyInUseError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			s := f.state(t)
			f.r53.ksks = tt.ksks
			arn := tt.key(f.kms)
			err := f.h.VerifyKMSKey(context.Background(), s, arn, KSKName(t0))
			if got := errName(err); got != tt.want {
				t.Errorf("VerifyKMSKey = %s (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestKeyPolicy pins the policy to the Route 53 Developer Guide's statements
// (the aws:SourceArn narrowed to the zone).
func TestKeyPolicy(t *testing.T) {
	var got any
	if err := json.Unmarshal([]byte(KeyPolicy(account, zoneID).String()), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{
				"Sid": "Allow Route 53 DNSSEC Service", "Effect": "Allow",
				"Principal": map[string]any{"Service": "dnssec-route53.amazonaws.com"},
				"Action":    []any{"kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"}, "Resource": "*",
				"Condition": map[string]any{
					"StringEquals": map[string]any{"aws:SourceAccount": account},
					"ArnLike":      map[string]any{"aws:SourceArn": "arn:aws:route53:::hostedzone/" + zoneID},
				},
			},
			map[string]any{
				"Sid": "Allow Route 53 DNSSEC to CreateGrant", "Effect": "Allow",
				"Principal": map[string]any{"Service": "dnssec-route53.amazonaws.com"},
				"Action":    "kms:CreateGrant", "Resource": "*",
				"Condition": map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": true}},
			},
			map[string]any{
				"Sid": "Enable IAM User Permissions", "Effect": "Allow",
				"Principal": map[string]any{"AWS": "arn:aws:iam::" + account + ":root"},
				"Action":    "kms:*", "Resource": "*",
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeyPolicy (-want +got):\n%s", diff)
	}
	if reason := CheckKeyPolicy(KeyPolicy(account, zoneID).String(), account, zoneID); reason != "" {
		t.Errorf("CheckKeyPolicy(KeyPolicy) = %q, want accepted", reason)
	}
}

// TestStepsIdempotent calls each step twice with the same event: the same
// state, and no second side effect.
func TestStepsIdempotent(t *testing.T) {
	f := newFixture(t)
	s := f.state(t)
	ctx := context.Background()
	for _, st := range []struct {
		name   string
		step   func(context.Context, Event) (State, error)
		effect string
	}{
		{"prepare-kms-key", f.h.PrepareKMSKey, ""},
		{"create-ksk", f.h.CreateKSK, "CreateKeySigningKey"},
		{"enable-signing", f.h.EnableSigning, "EnableHostedZoneDNSSEC"},
	} {
		ev := Event{Execution: execution, State: s}
		first, err := st.step(ctx, ev)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		firstJSON, _ := json.Marshal(first)
		var again State
		json.Unmarshal(firstJSON, &again)
		ev2 := Event{Execution: execution, State: s} // the same input, as a retried Task gets
		second, err := st.step(ctx, ev2)
		if err != nil {
			t.Fatalf("%s again: %v", st.name, err)
		}
		if st.effect != "" && f.r53.changes[st.effect] != 1 {
			t.Errorf("%s: %s made %d times, want 1", st.name, st.effect, f.r53.changes[st.effect])
		}
		// The change to follow may differ (nothing left to change the second
		// time); everything else is the same.
		first.ChangeID, second.ChangeID = "", ""
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%s: second call gave another state (-first +second):\n%s", st.name, diff)
		}
		s = &again
	}
	if f.kms.created != 1 || len(f.kms.aliases) != 1 {
		t.Errorf("KMS keys created %d, aliases %d; want 1 and 1", f.kms.created, len(f.kms.aliases))
	}
	if _, ok := f.kms.aliases[KeyAlias(zone, KSKName(t0))]; !ok {
		t.Errorf("aliases %v, want %s", f.kms.aliases, KeyAlias(zone, KSKName(t0)))
	}
}

func TestCreateKSKConflict(t *testing.T) {
	f := newFixture(t)
	s := f.state(t)
	s.KSK = &KSKRef{Name: KSKName(t0), KMSKeyARN: "arn:aws:kms:us-east-1:123456789012:key/mine"}
	f.r53.ksks = []r53types.KeySigningKey{newRoute53KSK(KSKName(t0), "arn:aws:kms:us-east-1:123456789012:key/theirs", KSKActive)}
	_, err := f.h.CreateKSK(context.Background(), Event{Execution: execution, State: s})
	if got := errName(err); got != "KSKConflictError" {
		t.Errorf("CreateKSK = %s (%v), want KSKConflictError", got, err)
	}
	// An INACTIVE key of ours is activated.
	f.r53.ksks = []r53types.KeySigningKey{newRoute53KSK(KSKName(t0), s.KSK.KMSKeyARN, KSKInactive)}
	got, err := f.h.CreateKSK(context.Background(), Event{Execution: execution, State: s})
	if err != nil || f.r53.changes["ActivateKeySigningKey"] != 1 || got.ChangeID == "" {
		t.Errorf("CreateKSK of an INACTIVE key of ours: %v, %d activations, change %q", err, f.r53.changes["ActivateKeySigningKey"], got.ChangeID)
	}
}

func TestPollBackoff(t *testing.T) {
	var p Poll
	var delays []int64
	now := t0
	var err error
	for range 12 {
		if err = p.Continue("loop", now, 20*time.Second, 0, 2*time.Hour, "lagging: ns1"); err != nil {
			break
		}
		delays = append(delays, p.DelaySeconds)
		now = now.Add(time.Duration(p.DelaySeconds) * time.Second)
	}
	want := []int64{20, 40, 80, 160, 320, 640, 1280, 1800, 1800, 1060} // the last ends on the 2 h budget
	if diff := cmp.Diff(want, delays); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	var pe *PropagationTimeoutError
	if !errors.As(err, &pe) || len(delays) != len(want) {
		t.Errorf("after the budget: %v, want PropagationTimeoutError", err)
	}
	// A hint from the API replaces the back-off; a new loop starts afresh.
	p.Continue("other", now, 20*time.Second, time.Minute, time.Hour, "")
	if p.DelaySeconds != 60 || p.Count != 1 || p.Loop != "other" {
		t.Errorf("new loop with a hint: %+v", p)
	}
}

func TestNames(t *testing.T) {
	if got, want := KSKName(time.Date(2026, 11, 27, 6, 30, 5, 0, time.FixedZone("x", 3600))), "ksk_20261127T053005Z"; got != want {
		t.Errorf("KSKName = %s, want %s", got, want)
	}
	if !kskNameRE.MatchString(KSKName(t0)) {
		t.Errorf("KSKName %s breaks Route 53's rule", KSKName(t0))
	}
	if got, want := KeyAlias("App.Example.com.", "ksk_1"), "alias/dnssec-autopilot/app-example-com/ksk_1"; got != want {
		t.Errorf("KeyAlias = %s, want %s", got, want)
	}
	if got, want := LockName("Example.COM"), "_dnssec-autopilot.example.com."; got != want {
		t.Errorf("LockName = %s, want %s", got, want)
	}
}

func TestNamed(t *testing.T) {
	pub := &dspublish.RegistrarRefusedError{Domain: "example.test", Code: "TLDRulesViolation"}
	tests := []struct {
		err  error
		want string
	}{
		{&ZoneNotFoundError{HostedZoneID: "Z1"}, "ZoneNotFoundError"},
		{fmt.Errorf("context: %w", &ZoneNotFoundError{HostedZoneID: "Z1"}), "ZoneNotFoundError"},
		{fmt.Errorf("publish: %w", pub), "RegistrarRefusedError"},
		{fmt.Errorf("x: %w", apiErr("Throttling")), "ServiceBusyError"},
		{fmt.Errorf("x: %w", apiErr("ConcurrentModification")), "ServiceBusyError"},
		{fmt.Errorf("x: %w", apiErr("PriorRequestNotComplete")), "ServiceBusyError"},
		{fmt.Errorf("x: %w", apiErr("AccessDenied")), "AccessDeniedError"},
		{fmt.Errorf("x: %w", apiErr("AccessDeniedException")), "AccessDeniedError"},
		{fmt.Errorf("x: %w", apiErr("AuthorizationError")), "AccessDeniedError"},
		{fmt.Errorf("x: %w", apiErr("InvalidInput")), "UnexpectedError"},
		{errors.New("boom"), "UnexpectedError"},
	}
	for _, tt := range tests {
		if got := errName(named("step", tt.err)); got != tt.want {
			t.Errorf("named(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
	if !IsKSKInParentDS(fmt.Errorf("x: %w", apiErr("KeySigningKeyInParentDSRecord"))) {
		t.Error("IsKSKInParentDS missed the guard")
	}
}
