package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	domtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// TestWatcherCatchesUnsafeRotation is the negative control of issue 5: the
// population that watches the demo must see a rotation done unsafely. The
// zone is signed by the workflow; then, by hand through the SDK, a new KSK
// is added and its DS published, and as soon as the registry serves it the
// old DS is withdrawn and the old KSK deactivated, with no wait for any
// cache. Resolvers still holding the old DS (a day's TTL) meet a DNSKEY set
// without its key: bogus, which the watcher must count.
func TestWatcherCatchesUnsafeRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v := clock.NewVirtual(demoT0)
	st, err := stack.Start(stack.Options{Clock: v, Seed: demoSeed})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc, err := st.SetupScenario(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := workflows.Start(st, workflows.Options{Route53Throttle: &workflows.Throttle{}})
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	w, err := startWatcher(st, watchConfig{Resolvers: testResolvers, MeanInterval: demoMeanInterval, Stagger: 24 * time.Hour, Seed: demoSeed})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()

	ex, err := wf.Start(ctx, workflows.EnableSigning, "enable", exampleInput(sc))
	if err != nil {
		t.Fatal(err)
	}
	if res := ex.Wait(); res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing = %s %s %s", res.Status, res.Error, res.Cause)
	}
	neg, err := negativeTTL(ctx, st, stack.ScenarioDomain)
	if err != nil {
		t.Fatal(err)
	}
	w.secureFrom(stack.ScenarioDomain, v.Now().Add(neg))
	// A day of resolvers caching the signed zone's DS and DNSKEY, at the
	// ages the stagger spreads.
	for range 26 {
		v.Advance(time.Hour)
	}
	if vd := w.judge(); vd.Failures != 0 || vd.Validations == 0 {
		t.Fatalf("before the unsafe rotation: %d validations, %d failures %v; want some and none", vd.Validations, vd.Failures, vd.Samples)
	}

	unsafeRotation(t, ctx, st, sc)
	// Half the DS TTL: resolvers that still hold the old DS meet the new
	// DNSKEY set all along.
	for range 12 {
		v.Advance(time.Hour)
	}
	vd := w.judge()
	if vd.Failures == 0 {
		t.Fatalf("after an unsafe rotation: %d validations, no failure; the watcher must catch it", vd.Validations)
	}
	bogus := 0
	for _, f := range vd.Samples {
		if f.Got == dnssec.Bogus {
			bogus++
		}
	}
	if bogus == 0 {
		t.Errorf("failures %v: want bogus answers among them", vd.Samples)
	}
	t.Logf("unsafe rotation: %d of %d validations failed, e.g. %v", vd.Failures, vd.Validations, vd.Samples[0])
}

// unsafeRotation rotates example.test.'s KSK the wrong way: the old DS is
// removed as soon as the new one is served, and the old KSK deactivated as
// soon as the old DS is gone, with no cache wait anywhere.
func unsafeRotation(t *testing.T, ctx context.Context, st *stack.Stack, sc *stack.Scenario) {
	t.Helper()
	cfg := st.AWSConfig()
	r53, kc, dom := route53.NewFromConfig(cfg), kms.NewFromConfig(cfg), route53domains.NewFromConfig(cfg)
	v := st.Virtual()
	domain := strings.TrimSuffix(stack.ScenarioDomain, ".")

	before, err := r53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(sc.ZoneID)})
	if err != nil || len(before.KeySigningKeys) != 1 {
		t.Fatalf("GetDNSSEC = %v, %v; want one KSK", before, err)
	}
	oldKSK := aws.ToString(before.KeySigningKeys[0].Name)
	oldKeys, err := dom.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String(domain)})
	if err != nil || len(oldKeys.DnssecKeys) != 1 {
		t.Fatalf("GetDomainDetail = %v, %v; want one DS", oldKeys, err)
	}

	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify,
		Policy: aws.String(steps.KeyPolicy(stack.AccountID, sc.ZoneID).String()),
	})
	if err != nil {
		t.Fatal(err)
	}
	created, err := r53.CreateKeySigningKey(ctx, &route53.CreateKeySigningKeyInput{
		HostedZoneId: aws.String(sc.ZoneID), KeyManagementServiceArn: key.KeyMetadata.Arn,
		Name: aws.String("unsafe"), Status: aws.String("ACTIVE"), CallerReference: aws.String("unsafe-rotation"),
	})
	if err != nil {
		t.Fatal(err)
	}
	v.Advance(2 * time.Minute) // the change is INSYNC; no DNSKEY TTL is waited
	k := created.KeySigningKey
	if _, err := dom.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName: aws.String(domain),
		SigningAttributes: &domtypes.DnssecSigningAttributes{
			Algorithm: aws.Int32(k.SigningAlgorithmType), Flags: aws.Int32(k.Flag), PublicKey: k.PublicKey,
		},
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; len(st.Tree().Registry().DS(stack.ScenarioDomain)) < 2; i++ {
		if i == 120 {
			t.Fatal("the new DS was not served within two hours")
		}
		v.Advance(time.Minute)
	}
	// As soon as the new DS appears: the old one goes, and the old KSK.
	if _, err := dom.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
		DomainName: aws.String(domain), Id: oldKeys.DnssecKeys[0].Id,
	}); err != nil {
		t.Fatal(err)
	}
	// Route 53 refuses to deactivate a KSK whose DS the parent serves:
	// deactivate it the moment the registry stops serving it, without
	// waiting for the DS TTL.
	for i := 0; len(st.Tree().Registry().DS(stack.ScenarioDomain)) > 1; i++ {
		if i == 120 {
			t.Fatal("the old DS was still served after two hours")
		}
		v.Advance(time.Minute)
	}
	if _, err := r53.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{
		HostedZoneId: aws.String(sc.ZoneID), Name: aws.String(oldKSK),
	}); err != nil {
		t.Fatal(fmt.Errorf("deactivate %s: %w", oldKSK, err))
	}
}
