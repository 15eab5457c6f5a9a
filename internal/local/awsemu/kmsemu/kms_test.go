package kmsemu

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var testStart = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// harness is one emulator behind an httptest server and an SDK client.
type harness struct {
	clk *clock.Virtual
	svc *Service
	kms *kms.Client
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	clk := clock.NewVirtual(testStart)
	svc := New(clk, opts...)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	client := kms.New(kms.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
	return &harness{clk: clk, svc: svc, kms: client}
}

// createKey creates a key through the SDK and returns its metadata.
func (h *harness) createKey(t *testing.T, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	out, err := h.kms.CreateKey(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func (h *harness) signingKey(t *testing.T) *types.KeyMetadata {
	t.Helper()
	return h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
}

// errorCode returns the API error code of err ("" when err is nil or
// not an API error).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// dnssecPolicy is the key policy the Route 53 developer guide documents
// for DNSSEC signing keys ("Working with customer managed keys for
// DNSSEC").
func dnssecPolicy(account string) string {
	return `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Allow Route 53 DNSSEC Service",
      "Effect": "Allow",
      "Principal": {"Service": "dnssec-route53.amazonaws.com"},
      "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
      "Resource": "*",
      "Condition": {
        "StringEquals": {"aws:SourceAccount": "` + account + `"},
        "ArnLike": {"aws:SourceArn": "arn:aws:route53:::hostedzone/*"}
      }
    },
    {
      "Sid": "Allow Route 53 DNSSEC Service to CreateGrant",
      "Effect": "Allow",
      "Principal": {"Service": "dnssec-route53.amazonaws.com"},
      "Action": "kms:CreateGrant",
      "Resource": "*",
      "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    },
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::` + account + `:root"},
      "Action": "kms:*",
      "Resource": "*"
    }
  ]
}`
}

func TestCreateKey(t *testing.T) {
	noRoot := `{"Statement":[{"Effect":"Allow","Principal":{"Service":"dnssec-route53.amazonaws.com"},"Action":"kms:Sign","Resource":"*"}]}`
	tests := []struct {
		name      string
		in        kms.CreateKeyInput
		wantCode  string
		wantSpec  types.KeySpec
		wantUsage types.KeyUsageType
		wantSign  []types.SigningAlgorithmSpec
	}{
		{
			name:      "ECC P-256 signing key",
			in:        kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify, Description: aws.String("ksk")},
			wantSpec:  types.KeySpecEccNistP256,
			wantUsage: types.KeyUsageTypeSignVerify,
			wantSign:  []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256},
		},
		{
			name:      "ECC P-384 signing key",
			in:        kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP384, KeyUsage: types.KeyUsageTypeSignVerify},
			wantSpec:  types.KeySpecEccNistP384,
			wantUsage: types.KeyUsageTypeSignVerify,
			wantSign:  []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha384},
		},
		{
			name:      "default is a symmetric encryption key",
			in:        kms.CreateKeyInput{},
			wantSpec:  types.KeySpecSymmetricDefault,
			wantUsage: types.KeyUsageTypeEncryptDecrypt,
		},
		{
			name: "deprecated CustomerMasterKeySpec",
			//lint:ignore SA1019 KMS still accepts the deprecated parameter; the emulator must too.
			in:        kms.CreateKeyInput{CustomerMasterKeySpec: types.CustomerMasterKeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify},
			wantSpec:  types.KeySpecEccNistP256,
			wantUsage: types.KeyUsageTypeSignVerify,
			wantSign:  []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256},
		},
		{
			name:      "DNSSEC policy",
			in:        kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify, Policy: aws.String(dnssecPolicy(DefaultAccount))},
			wantSpec:  types.KeySpecEccNistP256,
			wantUsage: types.KeyUsageTypeSignVerify,
			wantSign:  []types.SigningAlgorithmSpec{types.SigningAlgorithmSpecEcdsaSha256},
		},
		{
			name:      "lockout check bypassed",
			in:        kms.CreateKeyInput{Policy: aws.String(noRoot), BypassPolicyLockoutSafetyCheck: true},
			wantSpec:  types.KeySpecSymmetricDefault,
			wantUsage: types.KeyUsageTypeEncryptDecrypt,
		},
		{name: "ECC key without SIGN_VERIFY", in: kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256}, wantCode: "ValidationException"},
		{name: "symmetric signing key", in: kms.CreateKeyInput{KeyUsage: types.KeyUsageTypeSignVerify}, wantCode: "ValidationException"},
		{name: "unknown key spec", in: kms.CreateKeyInput{KeySpec: "ECC_BOGUS"}, wantCode: "ValidationException"},
		{name: "unknown key usage", in: kms.CreateKeyInput{KeyUsage: "SHRED"}, wantCode: "ValidationException"},
		//lint:ignore SA1019 KMS refuses both specs together; the emulator must too.
		{name: "both specs", in: kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, CustomerMasterKeySpec: types.CustomerMasterKeySpecEccNistP256}, wantCode: "ValidationException"},
		{name: "spec not emulated", in: kms.CreateKeyInput{KeySpec: types.KeySpecEccSecgP256k1, KeyUsage: types.KeyUsageTypeSignVerify}, wantCode: "UnsupportedOperationException"},
		{name: "external origin", in: kms.CreateKeyInput{Origin: types.OriginTypeExternal}, wantCode: "UnsupportedOperationException"},
		{name: "multi-Region", in: kms.CreateKeyInput{MultiRegion: aws.Bool(true)}, wantCode: "UnsupportedOperationException"},
		{name: "custom key store", in: kms.CreateKeyInput{CustomKeyStoreId: aws.String("cks-1234567890abcdef0")}, wantCode: "CustomKeyStoreNotFoundException"},
		{name: "policy not JSON", in: kms.CreateKeyInput{Policy: aws.String("{not json")}, wantCode: "MalformedPolicyDocumentException"},
		{name: "policy without Effect", in: kms.CreateKeyInput{Policy: aws.String(`{"Statement":{"Principal":"*","Action":"kms:*","Resource":"*"}}`)}, wantCode: "MalformedPolicyDocumentException"},
		{name: "policy locks the caller out", in: kms.CreateKeyInput{Policy: aws.String(noRoot)}, wantCode: "MalformedPolicyDocumentException"},
		{name: "policy too large", in: kms.CreateKeyInput{Policy: aws.String(strings.Repeat(" ", maxPolicy+1))}, wantCode: "LimitExceededException"},
		{name: "reserved tag key", in: kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("aws:owner"), TagValue: aws.String("x")}}}, wantCode: "TagException"},
		{name: "description too long", in: kms.CreateKeyInput{Description: aws.String(strings.Repeat("d", maxDescription+1))}, wantCode: "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			out, err := h.kms.CreateKey(context.Background(), &tt.in)
			if tt.wantCode != "" {
				if got := errorCode(err); got != tt.wantCode {
					t.Fatalf("CreateKey error = %v (code %q), want code %q", err, got, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			md := out.KeyMetadata
			wantARN := "arn:aws:kms:us-east-1:123456789012:key/" + aws.ToString(md.KeyId)
			if aws.ToString(md.Arn) != wantARN {
				t.Errorf("Arn = %q, want %q", aws.ToString(md.Arn), wantARN)
			}
			if md.KeySpec != tt.wantSpec || md.KeyUsage != tt.wantUsage {
				t.Errorf("KeySpec, KeyUsage = %s, %s, want %s, %s", md.KeySpec, md.KeyUsage, tt.wantSpec, tt.wantUsage)
			}
			if diff := cmp.Diff(tt.wantSign, md.SigningAlgorithms); diff != "" {
				t.Errorf("SigningAlgorithms (-want +got):\n%s", diff)
			}
			if md.KeyState != types.KeyStateEnabled || !md.Enabled || md.KeyManager != types.KeyManagerTypeCustomer ||
				md.Origin != types.OriginTypeAwsKms || aws.ToString(md.AWSAccountId) != DefaultAccount || aws.ToBool(md.MultiRegion) {
				t.Errorf("metadata = %+v, want an Enabled CUSTOMER AWS_KMS single-Region key of %s", md, DefaultAccount)
			}
			if !aws.ToTime(md.CreationDate).Equal(testStart) {
				t.Errorf("CreationDate = %v, want %v", aws.ToTime(md.CreationDate), testStart)
			}
		})
	}
}

func TestKeyReferences(t *testing.T) {
	h := newHarness(t)
	md := h.signingKey(t)
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	ctx := context.Background()
	if _, err := h.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ksk"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	otherRegion := strings.Replace(arn, "us-east-1", "us-west-2", 1)
	otherAccount := strings.Replace(arn, DefaultAccount, "210987654321", 1)
	tests := []struct {
		ref      string
		wantCode string
	}{
		{ref: id},
		{ref: strings.ToUpper(id)},
		{ref: arn},
		{ref: "alias/ksk"},
		{ref: "arn:aws:kms:us-east-1:123456789012:alias/ksk"},
		{ref: otherRegion, wantCode: "NotFoundException"},
		{ref: otherAccount, wantCode: "NotFoundException"},
		{ref: "alias/missing", wantCode: "NotFoundException"},
		{ref: "arn:aws:kms:us-east-1:123456789012:alias/missing", wantCode: "NotFoundException"},
		{ref: "00000000-0000-4000-8000-000000000000", wantCode: "NotFoundException"},
		{ref: "not-a-key-id", wantCode: "NotFoundException"},
		{ref: "arn:aws:s3:::bucket", wantCode: "InvalidArnException"},
		{ref: "arn:aws:kms:us-east-1:123456789012:grant/x", wantCode: "InvalidArnException"},
		{ref: "", wantCode: "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			out, err := h.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(tt.ref)})
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("DescribeKey(%q) error = %v, want code %q", tt.ref, err, tt.wantCode)
			}
			if tt.wantCode == "" && aws.ToString(out.KeyMetadata.Arn) != arn {
				t.Errorf("DescribeKey(%q).Arn = %q, want %q", tt.ref, aws.ToString(out.KeyMetadata.Arn), arn)
			}
		})
	}
	// Operations that take only a key ID or key ARN refuse an alias.
	if _, err := h.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("alias/ksk")}); errorCode(err) != "NotFoundException" {
		t.Errorf("DisableKey(alias) error = %v, want NotFoundException", err)
	}
	var nf *types.NotFoundException
	_, err := h.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(otherRegion)})
	if !errors.As(err, &nf) || !strings.Contains(aws.ToString(nf.Message), "us-west-2") {
		t.Errorf("DescribeKey(other region) = %v, want *types.NotFoundException naming us-west-2", err)
	}
}

func TestSign(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ecc := h.signingKey(t)
	rsaKey := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	sym := h.createKey(t, &kms.CreateKeyInput{})
	msg := []byte("example.test. DNSKEY RRset")
	digest := sha256.Sum256(msg)

	verify := func(t *testing.T, keyID string, alg types.SigningAlgorithmSpec, sig []byte) {
		t.Helper()
		pk, err := h.kms.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
		if err != nil {
			t.Fatalf("GetPublicKey: %v", err)
		}
		pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
		if err != nil {
			t.Fatalf("public key is not DER SubjectPublicKeyInfo: %v", err)
		}
		switch p := pub.(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(p, digest[:], sig) {
				t.Errorf("ECDSA signature does not verify")
			}
		case *rsa.PublicKey:
			var err error
			if alg == types.SigningAlgorithmSpecRsassaPssSha256 {
				err = rsa.VerifyPSS(p, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			} else {
				err = rsa.VerifyPKCS1v15(p, crypto.SHA256, digest[:], sig)
			}
			if err != nil {
				t.Errorf("RSA signature does not verify: %v", err)
			}
		default:
			t.Fatalf("public key type %T", pub)
		}
	}

	tests := []struct {
		name     string
		in       kms.SignInput
		wantCode string
	}{
		{name: "raw message", in: kms.SignInput{KeyId: ecc.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}},
		{name: "digest", in: kms.SignInput{KeyId: ecc.KeyId, Message: digest[:], MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}},
		{name: "by ARN", in: kms.SignInput{KeyId: ecc.Arn, Message: msg, MessageType: types.MessageTypeRaw, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}},
		{name: "RSA PSS", in: kms.SignInput{KeyId: rsaKey.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256}},
		{name: "RSA PKCS1", in: kms.SignInput{KeyId: rsaKey.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPkcs1V15Sha256}},
		{name: "digest of wrong length", in: kms.SignInput{KeyId: ecc.KeyId, Message: msg, MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, wantCode: "ValidationException"},
		{name: "message too long", in: kms.SignInput{KeyId: ecc.KeyId, Message: make([]byte, maxSignMessage+1), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, wantCode: "ValidationException"},
		{name: "empty message", in: kms.SignInput{KeyId: ecc.KeyId, Message: []byte{}, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, wantCode: "ValidationException"},
		{name: "unknown algorithm", in: kms.SignInput{KeyId: ecc.KeyId, Message: msg, SigningAlgorithm: "ECDSA_MD5"}, wantCode: "ValidationException"},
		{name: "unknown message type", in: kms.SignInput{KeyId: ecc.KeyId, Message: msg, MessageType: "HASHED", SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, wantCode: "ValidationException"},
		{name: "algorithm of another curve", in: kms.SignInput{KeyId: ecc.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384}, wantCode: "InvalidKeyUsageException"},
		{name: "encryption key", in: kms.SignInput{KeyId: sym.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}, wantCode: "InvalidKeyUsageException"},
		{name: "dry run", in: kms.SignInput{KeyId: ecc.KeyId, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256, DryRun: aws.Bool(true)}, wantCode: "DryRunOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := h.kms.Sign(ctx, &tt.in)
			if got := errorCode(err); got != tt.wantCode {
				t.Fatalf("Sign error = %v, want code %q", err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			if out.SigningAlgorithm != tt.in.SigningAlgorithm {
				t.Errorf("SigningAlgorithm = %s, want %s", out.SigningAlgorithm, tt.in.SigningAlgorithm)
			}
			if !strings.HasPrefix(aws.ToString(out.KeyId), "arn:aws:kms:") {
				t.Errorf("KeyId = %q, want the key ARN", aws.ToString(out.KeyId))
			}
			verify(t, aws.ToString(tt.in.KeyId), tt.in.SigningAlgorithm, out.Signature)
		})
	}

	if _, err := h.kms.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: sym.KeyId}); errorCode(err) != "UnsupportedOperationException" {
		t.Errorf("GetPublicKey(symmetric) error = %v, want UnsupportedOperationException", err)
	}
}

// TestKeyStates walks a key through Disabled, PendingDeletion, back to
// Disabled, and to deletion on the virtual clock, checking what KMS allows
// in each state.
func TestKeyStates(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var events []KeyEvent
	h.svc.Subscribe(func(e KeyEvent) { events = append(events, e) })
	md := h.signingKey(t)
	id := md.KeyId
	signIn := &kms.SignInput{KeyId: id, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}
	if _, err := h.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/doomed"), TargetKeyId: id}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}

	type step struct {
		name     string
		call     func() error
		wantCode string
		// wantState is checked with DescribeKey after the call ("" = gone).
		wantState types.KeyState
	}
	var deletion time.Time
	steps := []step{
		{name: "disable", call: func() error { _, err := h.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id}); return err }, wantState: types.KeyStateDisabled},
		{name: "sign while disabled", call: func() error { _, err := h.kms.Sign(ctx, signIn); return err }, wantCode: "DisabledException", wantState: types.KeyStateDisabled},
		{name: "public key while disabled", call: func() error {
			_, err := h.kms.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: id})
			return err
		}, wantCode: "DisabledException", wantState: types.KeyStateDisabled},
		{name: "enable", call: func() error { _, err := h.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id}); return err }, wantState: types.KeyStateEnabled},
		{name: "cancel without schedule", call: func() error {
			_, err := h.kms.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id})
			return err
		}, wantCode: "KMSInvalidStateException", wantState: types.KeyStateEnabled},
		{name: "window too short", call: func() error {
			_, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(6)})
			return err
		}, wantCode: "ValidationException", wantState: types.KeyStateEnabled},
		{name: "window too long", call: func() error {
			_, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(31)})
			return err
		}, wantCode: "ValidationException", wantState: types.KeyStateEnabled},
		{name: "schedule 7 days", call: func() error {
			out, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)})
			if err == nil {
				deletion = aws.ToTime(out.DeletionDate)
				if want := testStart.Add(7 * 24 * time.Hour); !deletion.Equal(want) || aws.ToInt32(out.PendingWindowInDays) != 7 || out.KeyState != types.KeyStatePendingDeletion {
					return fmt.Errorf("ScheduleKeyDeletion = %v, 7, %s; want %v, 7, PendingDeletion", deletion, out.KeyState, want)
				}
			}
			return err
		}, wantState: types.KeyStatePendingDeletion},
		{name: "schedule again", call: func() error {
			_, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id})
			return err
		}, wantCode: "KMSInvalidStateException", wantState: types.KeyStatePendingDeletion},
		{name: "sign while pending deletion", call: func() error { _, err := h.kms.Sign(ctx, signIn); return err }, wantCode: "KMSInvalidStateException", wantState: types.KeyStatePendingDeletion},
		{name: "enable while pending deletion", call: func() error { _, err := h.kms.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id}); return err }, wantCode: "KMSInvalidStateException", wantState: types.KeyStatePendingDeletion},
		{name: "disable while pending deletion", call: func() error { _, err := h.kms.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id}); return err }, wantCode: "KMSInvalidStateException", wantState: types.KeyStatePendingDeletion},
		{name: "alias to a key pending deletion", call: func() error {
			_, err := h.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/late"), TargetKeyId: id})
			return err
		}, wantCode: "KMSInvalidStateException", wantState: types.KeyStatePendingDeletion},
		{name: "cancel", call: func() error {
			_, err := h.kms.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id})
			return err
		}, wantState: types.KeyStateDisabled},
		{name: "schedule default window", call: func() error {
			out, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id})
			if err == nil {
				deletion = aws.ToTime(out.DeletionDate)
				if want := h.clk.Now().Add(30 * 24 * time.Hour); !deletion.Equal(want) {
					return fmt.Errorf("DeletionDate = %v, want %v", deletion, want)
				}
			}
			return err
		}, wantState: types.KeyStatePendingDeletion},
		{name: "one second before the deletion date", call: func() error {
			h.clk.Set(deletion.Add(-time.Second))
			return nil
		}, wantState: types.KeyStatePendingDeletion},
		{name: "deletion date passes", call: func() error {
			h.clk.Set(deletion)
			return nil
		}},
	}
	for _, st := range steps {
		err := st.call()
		if got := errorCode(err); got != st.wantCode || (st.wantCode == "" && err != nil) {
			t.Fatalf("%s: error = %v, want code %q", st.name, err, st.wantCode)
		}
		out, err := h.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id})
		if st.wantState == "" {
			if errorCode(err) != "NotFoundException" {
				t.Fatalf("%s: DescribeKey error = %v, want NotFoundException", st.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: DescribeKey: %v", st.name, err)
		}
		if got := out.KeyMetadata.KeyState; got != st.wantState {
			t.Fatalf("%s: KeyState = %s, want %s", st.name, got, st.wantState)
		}
		if got, want := out.KeyMetadata.Enabled, st.wantState == types.KeyStateEnabled; got != want {
			t.Errorf("%s: Enabled = %v, want %v", st.name, got, want)
		}
		if got, want := out.KeyMetadata.DeletionDate != nil, st.wantState == types.KeyStatePendingDeletion; got != want {
			t.Errorf("%s: DeletionDate set = %v, want %v", st.name, got, want)
		}
	}
	aliases, err := h.kms.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatalf("ListAliases: %v", err)
	}
	if len(aliases.Aliases) != 0 {
		t.Errorf("aliases after deletion = %d, want 0", len(aliases.Aliases))
	}
	arn := aws.ToString(md.Arn)
	want := []KeyEvent{
		{arn, EventCreated}, {arn, EventDisabled}, {arn, EventEnabled}, {arn, EventPendingDeletion},
		{arn, EventDeletionCanceled}, {arn, EventPendingDeletion}, {arn, EventDeleted},
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestKeyPolicy(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	md := h.signingKey(t)
	id := md.KeyId

	got, err := h.kms.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id})
	if err != nil {
		t.Fatalf("GetKeyPolicy: %v", err)
	}
	if !strings.Contains(aws.ToString(got.Policy), `"arn:aws:iam::123456789012:root"`) || aws.ToString(got.PolicyName) != "default" {
		t.Errorf("default policy = %s (%s), want the account root statement named default", aws.ToString(got.Policy), aws.ToString(got.PolicyName))
	}

	lockout := `{"Statement":[{"Effect":"Allow","Principal":{"Service":"dnssec-route53.amazonaws.com"},"Action":"kms:Sign","Resource":"*"}]}`
	tests := []struct {
		name     string
		in       kms.PutKeyPolicyInput
		wantCode string
	}{
		{name: "DNSSEC policy", in: kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(dnssecPolicy(DefaultAccount))}},
		{name: "explicit default name", in: kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("default"), Policy: aws.String(dnssecPolicy(DefaultAccount))}},
		{name: "other policy name", in: kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("other"), Policy: aws.String(dnssecPolicy(DefaultAccount))}, wantCode: "NotFoundException"},
		{name: "invalid policy name", in: kms.PutKeyPolicyInput{KeyId: id, PolicyName: aws.String("a b"), Policy: aws.String(dnssecPolicy(DefaultAccount))}, wantCode: "ValidationException"},
		{name: "not JSON", in: kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(`{"Statement":`)}, wantCode: "MalformedPolicyDocumentException"},
		{name: "resource is the key ARN", in: kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"kms:*","Resource":"` + aws.ToString(md.Arn) + `"}}`)}},
		{name: "resource is another key", in: kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"kms:*","Resource":"arn:aws:kms:us-east-1:123456789012:key/other"}}`)}, wantCode: "MalformedPolicyDocumentException"},
		{name: "unsupported operator", in: kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}]}`)}, wantCode: "MalformedPolicyDocumentException"},
		{name: "lockout", in: kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(lockout)}, wantCode: "MalformedPolicyDocumentException"},
		{name: "unknown key", in: kms.PutKeyPolicyInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000"), Policy: aws.String(dnssecPolicy(DefaultAccount))}, wantCode: "NotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.kms.PutKeyPolicy(ctx, &tt.in)
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("PutKeyPolicy error = %v, want code %q", err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			got, err := h.kms.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id, PolicyName: aws.String("default")})
			if err != nil {
				t.Fatalf("GetKeyPolicy: %v", err)
			}
			if aws.ToString(got.Policy) != aws.ToString(tt.in.Policy) {
				t.Errorf("GetKeyPolicy = %s, want the policy put", aws.ToString(got.Policy))
			}
		})
	}
	if _, err := h.kms.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id, PolicyName: aws.String("other")}); errorCode(err) != "NotFoundException" {
		t.Errorf("GetKeyPolicy(other) error = %v, want NotFoundException", err)
	}

	// Bypassing the lockout check leaves a key the account can no longer
	// manage, as in KMS.
	if _, err := h.kms.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(lockout), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatalf("PutKeyPolicy(bypass): %v", err)
	}
	for name, call := range map[string]func() error{
		"DescribeKey": func() error { _, err := h.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}); return err },
		"Sign": func() error {
			_, err := h.kms.Sign(ctx, &kms.SignInput{KeyId: id, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
			return err
		},
		"PutKeyPolicy": func() error {
			_, err := h.kms.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(dnssecPolicy(DefaultAccount))})
			return err
		},
	} {
		if err := call(); errorCode(err) != "AccessDeniedException" {
			t.Errorf("%s after lockout: error = %v, want AccessDeniedException", name, err)
		}
	}
	// The service principal the policy names still may sign.
	if ok, err := h.svc.Allows(aws.ToString(md.Arn), "dnssec-route53.amazonaws.com", "kms:Sign", nil); err != nil || !ok {
		t.Errorf("Allows(route53, kms:Sign) after lockout = %v, %v, want true", ok, err)
	}
}

func TestAliases(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	a := h.signingKey(t)
	b := h.signingKey(t)
	tests := []struct {
		name, alias string
		target      *string
		wantCode    string
	}{
		{name: "by key ID", alias: "alias/ksk-a", target: a.KeyId},
		{name: "by key ARN", alias: "alias/ksk-b", target: b.Arn},
		{name: "second alias of a key", alias: "alias/ksk-a2", target: a.KeyId},
		{name: "duplicate", alias: "alias/ksk-a", target: b.KeyId, wantCode: "AlreadyExistsException"},
		{name: "no prefix", alias: "ksk", target: a.KeyId, wantCode: "ValidationException"},
		{name: "reserved prefix", alias: "alias/aws/route53", target: a.KeyId, wantCode: "NotAuthorizedException"},
		{name: "empty name after prefix", alias: "alias/", target: a.KeyId, wantCode: "InvalidAliasNameException"},
		{name: "colon", alias: "alias/a:b", target: a.KeyId, wantCode: "InvalidAliasNameException"},
		{name: "space", alias: "alias/a b", target: a.KeyId, wantCode: "ValidationException"},
		{name: "empty name", alias: "", target: a.KeyId, wantCode: "ValidationException"},
		{name: "target is an alias", alias: "alias/x", target: aws.String("alias/ksk-a"), wantCode: "ValidationException"},
		{name: "unknown target", alias: "alias/x", target: aws.String("00000000-0000-4000-8000-000000000000"), wantCode: "NotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(tt.alias), TargetKeyId: tt.target})
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("CreateAlias(%q) error = %v, want code %q", tt.alias, err, tt.wantCode)
			}
		})
	}
	var ae *types.AlreadyExistsException
	if _, err := h.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ksk-a"), TargetKeyId: a.KeyId}); !errors.As(err, &ae) {
		t.Errorf("duplicate CreateAlias error = %v, want *types.AlreadyExistsException", err)
	}

	names := func(out *kms.ListAliasesOutput) []string {
		var n []string
		for _, e := range out.Aliases {
			n = append(n, aws.ToString(e.AliasName))
			if want := "arn:aws:kms:us-east-1:123456789012:" + aws.ToString(e.AliasName); aws.ToString(e.AliasArn) != want {
				t.Errorf("AliasArn = %q, want %q", aws.ToString(e.AliasArn), want)
			}
		}
		return n
	}
	listTests := []struct {
		name          string
		in            kms.ListAliasesInput
		want          []string
		wantTruncated bool
		wantCode      string
	}{
		{name: "all", want: []string{"alias/ksk-a", "alias/ksk-a2", "alias/ksk-b"}},
		{name: "by key ID", in: kms.ListAliasesInput{KeyId: a.KeyId}, want: []string{"alias/ksk-a", "alias/ksk-a2"}},
		{name: "by key ARN", in: kms.ListAliasesInput{KeyId: b.Arn}, want: []string{"alias/ksk-b"}},
		{name: "first page", in: kms.ListAliasesInput{Limit: aws.Int32(2)}, want: []string{"alias/ksk-a", "alias/ksk-a2"}, wantTruncated: true},
		{name: "second page", in: kms.ListAliasesInput{Limit: aws.Int32(2), Marker: aws.String("2")}, want: []string{"alias/ksk-b"}},
		{name: "unknown key", in: kms.ListAliasesInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000")}, wantCode: "NotFoundException"},
		{name: "bad marker", in: kms.ListAliasesInput{Marker: aws.String("zz")}, wantCode: "InvalidMarkerException"},
		{name: "bad limit", in: kms.ListAliasesInput{Limit: aws.Int32(0)}, wantCode: "ValidationException"},
	}
	for _, tt := range listTests {
		t.Run("list "+tt.name, func(t *testing.T) {
			out, err := h.kms.ListAliases(ctx, &tt.in)
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("ListAliases error = %v, want code %q", err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			if diff := cmp.Diff(tt.want, names(out)); diff != "" {
				t.Errorf("aliases (-want +got):\n%s", diff)
			}
			if out.Truncated != tt.wantTruncated {
				t.Errorf("Truncated = %v, want %v", out.Truncated, tt.wantTruncated)
			}
		})
	}
	// The paginator follows NextMarker to the end.
	var all []string
	p := kms.NewListAliasesPaginator(h.kms, &kms.ListAliasesInput{Limit: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListAliases page: %v", err)
		}
		all = append(all, names(out)...)
	}
	if diff := cmp.Diff([]string{"alias/ksk-a", "alias/ksk-a2", "alias/ksk-b"}, all); diff != "" {
		t.Errorf("paginated aliases (-want +got):\n%s", diff)
	}
}

func TestTags(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	md := h.createKey(t, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify,
		Tags: []types.Tag{{TagKey: aws.String("zone"), TagValue: aws.String("example.test")}}})
	tag := func(k, v string) types.Tag { return types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)} }
	many := make([]types.Tag, maxTagsPerKey)
	for i := range many {
		many[i] = tag(fmt.Sprintf("k%02d", i), "v")
	}
	tests := []struct {
		name     string
		tags     []types.Tag
		wantCode string
	}{
		{name: "add and overwrite", tags: []types.Tag{tag("owner", "dns"), tag("zone", "example.org")}},
		{name: "reserved prefix", tags: []types.Tag{tag("AWS:x", "y")}, wantCode: "TagException"},
		{name: "empty key", tags: []types.Tag{tag("", "y")}, wantCode: "ValidationException"},
		{name: "too many", tags: many, wantCode: "LimitExceededException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.kms.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: tt.tags})
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Fatalf("TagResource error = %v, want code %q", err, tt.wantCode)
			}
		})
	}
	out, err := h.kms.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.Arn})
	if err != nil {
		t.Fatalf("ListResourceTags: %v", err)
	}
	if diff := cmp.Diff([]types.Tag{tag("owner", "dns"), tag("zone", "example.org")}, out.Tags, cmp.AllowUnexported(types.Tag{})); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if _, err := h.kms.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: md.KeyId, Marker: aws.String("9")}); errorCode(err) != "InvalidMarkerException" {
		t.Errorf("ListResourceTags(bad marker) error = %v, want InvalidMarkerException", err)
	}
	if _, err := h.kms.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: md.KeyId}); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	if _, err := h.kms.TagResource(ctx, &kms.TagResourceInput{KeyId: md.KeyId, Tags: []types.Tag{tag("a", "b")}}); errorCode(err) != "KMSInvalidStateException" {
		t.Errorf("TagResource(pending deletion) error = %v, want KMSInvalidStateException", err)
	}
}

func TestFaultsAndThrottling(t *testing.T) {
	ctx := context.Background()
	t.Run("injected errors", func(t *testing.T) {
		h := newHarness(t)
		md := h.signingKey(t)
		in := &kms.SignInput{KeyId: md.KeyId, Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256}
		h.svc.InjectError("Sign", "KMSInternalException", 2)
		h.svc.InjectError("Sign", "DependencyTimeoutException", 1)
		want := []struct {
			code   string
			status int
		}{{"KMSInternalException", 500}, {"KMSInternalException", 500}, {"DependencyTimeoutException", 503}, {"", 200}}
		for i, w := range want {
			_, err := h.kms.Sign(ctx, in)
			if got := errorCode(err); got != w.code {
				t.Fatalf("call %d: error = %v, want code %q", i, err, w.code)
			}
			if w.code != "" && httpStatus(err) != w.status {
				t.Errorf("call %d: HTTP status = %d, want %d", i, httpStatus(err), w.status)
			}
		}
		var ie *types.KMSInternalException
		h.svc.InjectError("DescribeKey", "KMSInternalException", 1)
		if _, err := h.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId}); !errors.As(err, &ie) {
			t.Errorf("DescribeKey error = %v, want *types.KMSInternalException", err)
		}
		h.svc.InjectError("DescribeKey", "KMSInternalException", 5)
		h.svc.InjectError("DescribeKey", "", 0)
		if _, err := h.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId}); err != nil {
			t.Errorf("DescribeKey after clearing faults: %v", err)
		}
	})
	t.Run("throttle", func(t *testing.T) {
		h := newHarness(t)
		h.svc.SetThrottle(1, 2)
		call := func() error { _, err := h.kms.ListAliases(ctx, &kms.ListAliasesInput{}); return err }
		for i, wantCode := range []string{"", "", "ThrottlingException"} {
			if err := call(); errorCode(err) != wantCode {
				t.Fatalf("call %d: error = %v, want code %q", i, err, wantCode)
			}
		}
		if err := call(); httpStatus(err) != http.StatusBadRequest {
			t.Errorf("throttled status = %d, want 400", httpStatus(err))
		}
		h.clk.Set(testStart.Add(time.Second))
		if err := call(); err != nil {
			t.Errorf("call after one second: %v", err)
		}
		if err := call(); errorCode(err) != "ThrottlingException" {
			t.Errorf("second call after one second: error = %v, want ThrottlingException", err)
		}
		h.svc.SetThrottle(0, 0)
		if err := call(); err != nil {
			t.Errorf("call with throttling off: %v", err)
		}
	})
	t.Run("WithThrottle", func(t *testing.T) {
		clk := clock.NewVirtual(testStart)
		svc := New(clk, WithThrottle(10, 1))
		srv := httptest.NewServer(svc)
		defer srv.Close()
		c := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}})
		if _, err := c.ListAliases(ctx, &kms.ListAliasesInput{}); err != nil {
			t.Fatalf("first call: %v", err)
		}
		if _, err := c.ListAliases(ctx, &kms.ListAliasesInput{}); errorCode(err) != "ThrottlingException" {
			t.Errorf("second call: error = %v, want ThrottlingException", err)
		}
	})
}

func TestUnknownOperation(t *testing.T) {
	h := newHarness(t)
	// ListKeys exists in KMS but not in this emulator: it must be refused
	// by name, never answered with an empty success.
	_, err := h.kms.ListKeys(context.Background(), &kms.ListKeysInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" || !strings.Contains(ae.ErrorMessage(), "ListKeys") {
		t.Errorf("ListKeys error = %v, want UnknownOperationException naming ListKeys", err)
	}
}

// TestMalformedBody sends what no SDK client would: a body that is not
// JSON, and the wrong method. The emulator must answer with the protocol's
// error shape, never panic.
func TestMalformedBody(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.svc)
	defer srv.Close()
	tests := []struct {
		method, target, body string
		wantType             string
	}{
		{"POST", "TrentService.DescribeKey", "{not json", "ValidationException"},
		{"POST", "TrentService.CreateKey", `{"KeySpec": 5}`, "ValidationException"},
		{"GET", "TrentService.DescribeKey", "", "UnknownOperationException"},
		{"POST", "Route53Domains_v20140515.GetDomainDetail", "{}", "UnknownOperationException"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", tt.target)
		req.Header.Set("Content-Type", string(awsjson.JSON11))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType {
			t.Errorf("%s %s %q = %d %s, want 400 %s", tt.method, tt.target, tt.body, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tt.wantType)
		}
	}
}

// TestOtherRegionClient checks that a client configured for another region
// is refused, not served this region's keys.
func TestOtherRegionClient(t *testing.T) {
	svc := New(clock.NewVirtual(testStart))
	srv := httptest.NewServer(svc)
	defer srv.Close()
	c := kms.New(kms.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}})
	_, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{})
	if errorCode(err) != "UnrecognizedClientException" || !strings.Contains(err.Error(), "eu-west-1") {
		t.Errorf("CreateKey from eu-west-1: error = %v, want UnrecognizedClientException naming eu-west-1", err)
	}
}
