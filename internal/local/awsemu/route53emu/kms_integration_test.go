package route53emu

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// keyPolicy is a key policy for DNSSEC signing as the Route 53 developer
// guide shows it, with sourceArn as the aws:SourceArn pattern.
func keyPolicy(sourceArn string) string {
	return `{"Version":"2012-10-17","Statement":[
 {"Sid":"Allow Route 53 DNSSEC Service","Effect":"Allow",
  "Principal":{"Service":"dnssec-route53.amazonaws.com"},
  "Action":["kms:DescribeKey","kms:GetPublicKey","kms:Sign"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"` + sourceArn + `"}}},
 {"Sid":"Enable IAM User Permissions","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`
}

// kmsEnv is a Route 53 emulator backed by the real KMS emulator, each on its
// own httptest server, with SDK clients for both.
type kmsEnv struct {
	*env
	kmsSvc *kmsemu.Service
	kms    *kms.Client
}

func newKMSEnv(t *testing.T) *kmsEnv {
	t.Helper()
	clk := clock.NewVirtual(t0)
	kmsSvc := kmsemu.New(clk)
	kmsSrv := httptest.NewServer(kmsSvc)
	t.Cleanup(kmsSrv.Close)
	svc := New(Options{Clock: clk, KMS: kmsSvc})
	svc.SetThrottle(0, 0)
	svc.SetPropagationDelay(0)
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		srv.Close()
		svc.Close()
	})
	kmsClient := kms.NewFromConfig(aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(kmsSrv.URL) })
	return &kmsEnv{
		env:    &env{svc: svc, clk: clk, client: newClient(srv.URL), url: srv.URL},
		kmsSvc: kmsSvc,
		kms:    kmsClient,
	}
}

func (e *kmsEnv) createKey(t *testing.T, spec kmstypes.KeySpec, usage kmstypes.KeyUsageType, policy string) string {
	t.Helper()
	out, err := e.kms.CreateKey(context.Background(), &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Policy: aws.String(policy)})
	if err != nil {
		t.Fatalf("kms CreateKey: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

func (e *kmsEnv) createKSKWith(zoneID, name, arn string) error {
	_, err := e.client.CreateKeySigningKey(context.Background(), &route53.CreateKeySigningKeyInput{
		CallerReference: aws.String("c-" + name), HostedZoneId: aws.String(zoneID),
		KeyManagementServiceArn: aws.String(arn), Name: aws.String(name), Status: aws.String("ACTIVE")})
	return err
}

func TestWithKMSEmulator(t *testing.T) {
	e := newKMSEnv(t)
	ctx := context.Background()
	id := e.createZone(t, "example.test")
	arn := e.createKey(t, kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/*"))

	if err := e.createKSKWith(id, "ksk_a", arn); err != nil {
		t.Fatalf("CreateKeySigningKey with a kmsemu key: %v", err)
	}
	// The KSK's public key is the one KMS gives through its own API.
	pk, err := e.kms.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	got := getDNSSEC(t, e.env, id).KeySigningKeys[0]
	pub, err := e.kmsSvc.PublicKey(arn)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := pub.Bytes()
	if aws.ToString(got.PublicKey) != base64.StdEncoding.EncodeToString(raw[1:]) {
		t.Errorf("KSK PublicKey = %s, want the KMS key's X||Y", aws.ToString(got.PublicKey))
	}
	if len(pk.PublicKey) == 0 {
		t.Error("kms GetPublicKey returned no key")
	}

	e.enableSigning(t, id)
	snap, err := e.svc.Snapshot(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := signDNSKEYs(t, snap, e.clk.Now()); err != nil {
		t.Fatalf("signing through kmsemu: %v", err)
	}

	// Disabling the key through the KMS API moves the KSK to ACTION_NEEDED
	// and stops signing.
	notified := make(chan string, 10)
	defer e.svc.Subscribe(func(z string) { notified <- z })()
	if _, err := e.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after kms DisableKey")
	}
	if st, _ := e.svc.SigningStatus(id); st != ActionNeeded {
		t.Errorf("SigningStatus after DisableKey = %s, want ACTION_NEEDED", st)
	}
	if _, err := snap.KSKs[0].Signer.Sign(nil, make([]byte, 32), crypto.SHA256); !errors.Is(err, kmsemu.ErrKeyDisabled) {
		t.Errorf("Sign after DisableKey: err = %v, want kmsemu.ErrKeyDisabled", err)
	}
	_, err = e.client.ActivateKeySigningKey(ctx, &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(id), Name: aws.String("ksk_a")})
	var bad *types.InvalidKMSArn
	if !errors.As(err, &bad) {
		t.Errorf("ActivateKeySigningKey with the key disabled: err = %v, want InvalidKMSArn", err)
	}
	if _, err := e.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err = e.client.ActivateKeySigningKey(ctx, &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(id), Name: aws.String("ksk_a")}); err != nil {
		t.Fatalf("ActivateKeySigningKey once the key is enabled: %v", err)
	}
	if got := kskStatuses(getDNSSEC(t, e.env, id)); got != "SIGNING ksk_a=ACTIVE" {
		t.Errorf("after re-activation: %s", got)
	}
	// Scheduling the key's deletion is noticed too.
	if _, err := e.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	out := getDNSSEC(t, e.env, id)
	if got := kskStatuses(out); got != "ACTION_NEEDED ksk_a=ACTION_NEEDED" {
		t.Errorf("after ScheduleKeyDeletion: %s", got)
	}
	if msg := aws.ToString(out.KeySigningKeys[0].StatusMessage); !strings.Contains(msg, "pending deletion") {
		t.Errorf("StatusMessage = %q, want it to say the key is pending deletion", msg)
	}
}

func TestKMSKeyRequirementsWithKMSEmulator(t *testing.T) {
	e := newKMSEnv(t)
	id := e.createZone(t, "example.test")
	other := e.createZone(t, "other.test")
	tests := []struct {
		name   string
		spec   kmstypes.KeySpec
		usage  kmstypes.KeyUsageType
		policy string
		ok     bool
	}{
		{"documented key", kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/*"), true},
		{"policy for this zone only", kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/" + id), true},
		{"policy for another zone", kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/" + other), false},
		{"no Route 53 statement", kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`, false},
		{"P-384 key", kmstypes.KeySpecEccNistP384, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/*"), false},
		{"RSA key", kmstypes.KeySpecRsa2048, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/*"), false},
		{"symmetric key", kmstypes.KeySpecSymmetricDefault, kmstypes.KeyUsageTypeEncryptDecrypt, keyPolicy("arn:aws:route53:::hostedzone/*"), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := e.createKey(t, tt.spec, tt.usage, tt.policy)
			name := "ksk_" + string(rune('a'+i))
			err := e.createKSKWith(id, name, arn)
			if tt.ok {
				if err != nil {
					t.Fatalf("CreateKeySigningKey: %v", err)
				}
				// Make room for the next case (two KSKs at most).
				ctx := context.Background()
				if _, err := e.client.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: aws.String(id), Name: aws.String(name)}); err != nil {
					t.Fatal(err)
				}
				if _, err := e.client.DeleteKeySigningKey(ctx, &route53.DeleteKeySigningKeyInput{HostedZoneId: aws.String(id), Name: aws.String(name)}); err != nil {
					t.Fatal(err)
				}
				return
			}
			var bad *types.InvalidKMSArn
			if !errors.As(err, &bad) {
				t.Errorf("err = %v, want InvalidKMSArn", err)
			}
		})
	}
}
