package route53emu

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// deafKMS is the KMS emulator without its key events: the zones hear of a
// key change only when something checks.
type deafKMS struct{ *kmsemu.Service }

func (deafKMS) Subscribe(func(kmsemu.KeyEvent)) {}

// TestCheckKMSKeys: CheckKMSKeys marks ACTION_NEEDED, at once, the ACTIVE
// KSK whose key was disabled, without waiting for the key events (the
// stack's alarm evaluation relies on it), and leaves a healthy zone alone.
func TestCheckKMSKeys(t *testing.T) {
	clk := clock.NewVirtual(t0)
	kmsSvc := kmsemu.New(clk)
	kmsSrv := httptest.NewServer(kmsSvc)
	t.Cleanup(kmsSrv.Close)
	svc := New(Options{Clock: clk, KMS: deafKMS{kmsSvc}})
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
	e := &kmsEnv{env: &env{svc: svc, clk: clk, client: newClient(srv.URL), url: srv.URL}, kmsSvc: kmsSvc, kms: kmsClient}

	id := e.createZone(t, "example.test")
	arn := e.createKey(t, kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, keyPolicy("arn:aws:route53:::hostedzone/*"))
	if err := e.createKSKWith(id, "ksk_a", arn); err != nil {
		t.Fatal(err)
	}
	e.enableSigning(t, id)
	svc.CheckKMSKeys(id)
	if st, msg := svc.SigningStatus(id); st != Signing {
		t.Fatalf("SigningStatus of a healthy zone after CheckKMSKeys = %s (%s), want SIGNING", st, msg)
	}
	if _, err := e.kms.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if st, _ := svc.SigningStatus(id); st != Signing {
		t.Fatalf("SigningStatus before any check = %s, want SIGNING (the emulator is deaf to key events here)", st)
	}
	svc.CheckKMSKeys(id)
	if st, _ := svc.SigningStatus(id); st != ActionNeeded {
		t.Errorf("SigningStatus after CheckKMSKeys = %s, want ACTION_NEEDED", st)
	}
	snap, err := svc.Snapshot(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.KSKs) != 1 || snap.KSKs[0].Status != KSKActionNeeded {
		t.Errorf("the name servers' KSKs = %+v, want ksk_a ACTION_NEEDED", snap.KSKs)
	}
	svc.CheckKMSKeys("ZNOSUCHZONE") // an unknown zone: nothing to check
}
