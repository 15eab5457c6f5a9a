package kmsemu

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

func TestLookupKey(t *testing.T) {
	h := newHarness(t)
	md := h.signingKey(t)
	arn, id := aws.ToString(md.Arn), aws.ToString(md.KeyId)
	if _, err := h.kms.CreateAlias(context.Background(), &kms.CreateAliasInput{AliasName: aws.String("alias/ksk"), TargetKeyId: md.KeyId}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	want := KeyInfo{ARN: arn, KeyID: id, Region: "us-east-1", Account: DefaultAccount, KeySpec: SpecECCNISTP256, KeyUsage: UsageSignVerify, State: StateEnabled}
	tests := []struct {
		ref     string
		wantErr error
	}{
		{ref: arn},
		{ref: id},
		{ref: "alias/ksk"},
		{ref: "arn:aws:kms:us-east-1:123456789012:alias/ksk"},
		{ref: strings.Replace(arn, "us-east-1", "eu-west-1", 1), wantErr: ErrKeyNotFound},
		{ref: strings.Replace(arn, DefaultAccount, "111111111111", 1), wantErr: ErrKeyNotFound},
		{ref: "alias/none", wantErr: ErrKeyNotFound},
		{ref: "garbage", wantErr: ErrKeyNotFound},
	}
	for _, tt := range tests {
		got, err := h.svc.LookupKey(tt.ref)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("LookupKey(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
			continue
		}
		if tt.wantErr != nil {
			continue
		}
		got.Policy = ""
		if got != want {
			t.Errorf("LookupKey(%q) = %+v, want %+v", tt.ref, got, want)
		}
	}
	if _, err := h.kms.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	if got, err := h.svc.LookupKey(arn); err != nil || got.State != StateDisabled {
		t.Errorf("LookupKey after DisableKey = %+v, %v, want State Disabled", got, err)
	}
}

// TestAllowsDNSSECPolicy evaluates the key policy documented for Route 53
// DNSSEC signing keys for the requests Route 53 makes.
func TestAllowsDNSSECPolicy(t *testing.T) {
	const (
		r53     = "dnssec-route53.amazonaws.com"
		zoneARN = "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
	)
	srcCtx := func(account, arn string) map[string]string {
		return map[string]string{"aws:SourceAccount": account, "aws:SourceArn": arn}
	}
	specificZone := strings.Replace(dnssecPolicy(DefaultAccount), "arn:aws:route53:::hostedzone/*", zoneARN, 1)
	withDeny := strings.Replace(dnssecPolicy(DefaultAccount), `"Statement": [`, `"Statement": [
    {"Sid": "NoSign", "Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*"},`, 1)
	noR53 := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`
	tests := []struct {
		name      string
		policy    string
		principal string
		action    string
		ctx       map[string]string
		want      bool
	}{
		{name: "sign for own zone", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:Sign", ctx: srcCtx(DefaultAccount, zoneARN), want: true},
		{name: "describe", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:DescribeKey", ctx: srcCtx(DefaultAccount, zoneARN), want: true},
		{name: "public key", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:GetPublicKey", ctx: srcCtx(DefaultAccount, zoneARN), want: true},
		{name: "action names are case-insensitive", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "KMS:sign", ctx: srcCtx(DefaultAccount, zoneARN), want: true},
		{name: "condition keys are case-insensitive", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:Sign",
			ctx: map[string]string{"AWS:SOURCEACCOUNT": DefaultAccount, "aws:sourcearn": zoneARN}, want: true},
		{name: "another account", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:Sign", ctx: srcCtx("210987654321", zoneARN)},
		{name: "source is not a hosted zone", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:Sign", ctx: srcCtx(DefaultAccount, "arn:aws:route53:::healthcheck/abc")},
		{name: "no source context", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:Sign"},
		{name: "action not granted", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:Decrypt", ctx: srcCtx(DefaultAccount, zoneARN)},
		{name: "another service", policy: dnssecPolicy(DefaultAccount), principal: "lambda.amazonaws.com", action: "kms:Sign", ctx: srcCtx(DefaultAccount, zoneARN)},
		{name: "grant for an AWS resource", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:CreateGrant", ctx: map[string]string{"kms:GrantIsForAWSResource": "true"}, want: true},
		{name: "grant not for an AWS resource", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:CreateGrant", ctx: map[string]string{"kms:GrantIsForAWSResource": "false"}},
		{name: "grant without the key", policy: dnssecPolicy(DefaultAccount), principal: r53, action: "kms:CreateGrant"},
		{name: "specific zone, same zone", policy: specificZone, principal: r53, action: "kms:Sign", ctx: srcCtx(DefaultAccount, zoneARN), want: true},
		{name: "specific zone, another zone", policy: specificZone, principal: r53, action: "kms:Sign", ctx: srcCtx(DefaultAccount, "arn:aws:route53:::hostedzone/ZOTHER")},
		{name: "statement missing", policy: noR53, principal: r53, action: "kms:Sign", ctx: srcCtx(DefaultAccount, zoneARN)},
		{name: "explicit deny wins", policy: withDeny, principal: r53, action: "kms:Sign", ctx: srcCtx(DefaultAccount, zoneARN)},
		{name: "deny leaves other actions", policy: withDeny, principal: r53, action: "kms:GetPublicKey", ctx: srcCtx(DefaultAccount, zoneARN), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			md := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify, Policy: aws.String(tt.policy)})
			got, err := h.svc.Allows(aws.ToString(md.Arn), tt.principal, tt.action, tt.ctx)
			if err != nil {
				t.Fatalf("Allows: %v", err)
			}
			if got != tt.want {
				t.Errorf("Allows(%s, %s, %v) = %v, want %v", tt.principal, tt.action, tt.ctx, got, tt.want)
			}
		})
	}
	h := newHarness(t)
	if _, err := h.svc.Allows("arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000", r53, "kms:Sign", nil); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Allows(unknown key) error = %v, want ErrKeyNotFound", err)
	}
}

// TestSigner checks that the Go signer signs like KMS and stops the moment
// the key leaves the Enabled state.
func TestSigner(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	md := h.signingKey(t)
	arn := aws.ToString(md.Arn)
	signer, err := h.svc.Signer(arn)
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	pub, err := h.svc.PublicKey(arn)
	if err != nil {
		t.Fatalf("PublicKey: %v", err)
	}
	out, err := h.kms.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatalf("GetPublicKey: %v", err)
	}
	apiPub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		t.Fatalf("ParsePKIXPublicKey: %v", err)
	}
	if !pub.Equal(apiPub) || !pub.Equal(signer.Public()) {
		t.Fatalf("PublicKey, GetPublicKey and Signer.Public disagree")
	}
	digest := sha256.Sum256([]byte("DNSKEY RRset"))
	sign := func() error {
		sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Errorf("signature does not verify")
		}
		return err
	}
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{name: "enabled", do: func() error { return nil }},
		{name: "disabled", do: func() error { _, err := h.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: md.KeyId}); return err }, wantErr: ErrKeyDisabled},
		{name: "enabled again", do: func() error { _, err := h.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: md.KeyId}); return err }},
		{name: "pending deletion", do: func() error {
			_, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)})
			return err
		}, wantErr: ErrKeyPendingDeletion},
		{name: "deleted", do: func() error { h.clk.Advance(7 * 24 * time.Hour); return nil }, wantErr: ErrKeyNotFound},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if err := sign(); !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Errorf("%s: Sign error = %v, want %v", st.name, err, st.wantErr)
		}
	}

	sym := h.createKey(t, &kms.CreateKeyInput{})
	rsaKey := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	for _, tt := range []struct {
		name string
		f    func() error
		want error
	}{
		{"Signer(symmetric)", func() error { _, err := h.svc.Signer(aws.ToString(sym.Arn)); return err }, ErrKeyUsage},
		{"PublicKey(RSA)", func() error { _, err := h.svc.PublicKey(aws.ToString(rsaKey.Arn)); return err }, ErrKeyUsage},
		{"Signer(unknown)", func() error { _, err := h.svc.Signer("alias/none"); return err }, ErrKeyNotFound},
		{"PublicKey(deleted)", func() error { _, err := h.svc.PublicKey(arn); return err }, ErrKeyNotFound},
	} {
		if err := tt.f(); !errors.Is(err, tt.want) {
			t.Errorf("%s error = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSubscribePolicyChange(t *testing.T) {
	h := newHarness(t)
	md := h.signingKey(t)
	var got []KeyEvent
	h.svc.Subscribe(func(e KeyEvent) {
		// Subscribers may call back into the service.
		if _, err := h.svc.LookupKey(e.ARN); err != nil && e.Kind != EventDeleted {
			t.Errorf("LookupKey in subscriber: %v", err)
		}
		got = append(got, e)
	})
	if _, err := h.kms.PutKeyPolicy(context.Background(), &kms.PutKeyPolicyInput{KeyId: md.KeyId, Policy: aws.String(dnssecPolicy(DefaultAccount))}); err != nil {
		t.Fatalf("PutKeyPolicy: %v", err)
	}
	// Disabling an already disabled key changes nothing and says nothing.
	for range 2 {
		if _, err := h.kms.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: md.KeyId}); err != nil {
			t.Fatalf("DisableKey: %v", err)
		}
	}
	want := []KeyEvent{{aws.ToString(md.Arn), EventPolicyChanged}, {aws.ToString(md.Arn), EventDisabled}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("events = %v, want %v", got, want)
	}
	info, err := h.svc.LookupKey(aws.ToString(md.Arn))
	if err != nil || info.Policy != dnssecPolicy(DefaultAccount) {
		t.Errorf("LookupKey().Policy = %q, %v, want the policy put", info.Policy, err)
	}
}

// TestSweep checks that a key whose window ended is deleted, and the
// deletion published, by Sweep alone.
func TestSweep(t *testing.T) {
	h := newHarness(t)
	md := h.signingKey(t)
	if _, err := h.kms.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	var got []KeyEvent
	h.svc.Subscribe(func(e KeyEvent) { got = append(got, e) })
	h.clk.Advance(7*24*time.Hour - time.Nanosecond)
	h.svc.Sweep()
	if len(got) != 0 {
		t.Fatalf("events before the deletion date = %v, want none", got)
	}
	h.clk.Advance(time.Nanosecond)
	h.svc.Sweep()
	if want := []KeyEvent{{aws.ToString(md.Arn), EventDeleted}}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestAccountAndRegionOptions(t *testing.T) {
	svc := New(clock.NewVirtual(testStart), WithAccount("111122223333"), WithRegion("eu-west-1"))
	if svc.Account() != "111122223333" || svc.Region() != "eu-west-1" {
		t.Fatalf("Account, Region = %s, %s, want 111122223333, eu-west-1", svc.Account(), svc.Region())
	}
	out, err := svc.createKey([]byte(`{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}`))
	if err != nil {
		t.Fatalf("createKey: %v", err)
	}
	arn := out.(struct{ KeyMetadata keyMetadata }).KeyMetadata.Arn
	if !strings.HasPrefix(arn, "arn:aws:kms:eu-west-1:111122223333:key/") {
		t.Errorf("ARN = %s, want one of eu-west-1 and account 111122223333", arn)
	}
	if _, err := svc.LookupKey(strings.Replace(arn, "eu-west-1", "us-east-1", 1)); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("LookupKey(us-east-1 ARN) error = %v, want ErrKeyNotFound", err)
	}
	if _, err := svc.LookupKey(arn); err != nil {
		t.Errorf("LookupKey: %v", err)
	}
}
