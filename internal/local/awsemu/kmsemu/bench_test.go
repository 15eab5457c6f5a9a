package kmsemu

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"
)

// The Route 53 emulator signs online through Signer and checks the policy
// with Allows, so both sit on the path of every signed answer.

func benchKey(b *testing.B, policy string) (*Service, string) {
	b.Helper()
	svc := New(fixedClock{testStart})
	body, err := json.Marshal(map[string]string{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "Policy": policy})
	if err != nil {
		b.Fatal(err)
	}
	out, aerr := svc.createKey(body)
	if aerr != nil {
		b.Fatal(aerr)
	}
	return svc, out.(struct{ KeyMetadata keyMetadata }).KeyMetadata.Arn
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                       { return c.t }
func (c fixedClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func BenchmarkSignerSign(b *testing.B) {
	svc, arn := benchKey(b, dnssecPolicy(DefaultAccount))
	sg, err := svc.Signer(arn)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("RRset"))
	for b.Loop() {
		if _, err := sg.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllows(b *testing.B) {
	svc, arn := benchKey(b, dnssecPolicy(DefaultAccount))
	ctx := map[string]string{"aws:SourceAccount": DefaultAccount, "aws:SourceArn": "arn:aws:route53:::hostedzone/Z1"}
	for b.Loop() {
		ok, err := svc.Allows(arn, "dnssec-route53.amazonaws.com", "kms:Sign", ctx)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
