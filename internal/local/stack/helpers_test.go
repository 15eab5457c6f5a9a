package stack

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	domtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	restypes "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/unboundtest"
)

// t0 is the start of the virtual clock.
var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// keyPolicy is the key policy of the Route 53 Developer Guide for a
// DNSSEC KSK's KMS key.
const keyPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Allow Route 53 DNSSEC Service","Effect":"Allow",
  "Principal":{"Service":"dnssec-route53.amazonaws.com"},
  "Action":["kms:DescribeKey","kms:GetPublicKey","kms:Sign"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:route53:::hostedzone/*"}}},
 {"Sid":"Enable IAM User Permissions","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`

// env is a stack with its scenario and the real SDK clients pointed at its
// endpoint: the tests drive the stack only through them (and the clock).
type env struct {
	s   *Stack
	sc  *Scenario
	r53 *route53.Client
	kms *kms.Client
	dom *route53domains.Client
	res *route53resolver.Client
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc, err := s.SetupScenario(ctx)
	if err != nil {
		t.Fatalf("SetupScenario: %v", err)
	}
	cfg := s.AWSConfig()
	if s.Virtual() != nil {
		// The virtual clock stands still between calls: a retry that
		// sleeps in real time would never see a token come back, so the
		// SDK must not retry, and Route 53's throttle (5 per second on
		// the stack's clock) is off for these tests.
		cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
		s.Route53().SetThrottle(0, 0)
	} else {
		// On the real clock Route 53's 5 requests per second stay on, as in
		// AWS; the tests poll, so the client retries Throttling like a
		// patient production client instead of giving up after 3 tries.
		cfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 20
				o.MaxBackoff = time.Second
			})
		}
	}
	return &env{
		s: s, sc: sc,
		r53: route53.NewFromConfig(cfg), kms: kms.NewFromConfig(cfg),
		dom: route53domains.NewFromConfig(cfg), res: route53resolver.NewFromConfig(cfg),
	}
}

// waitFor waits on the stack's clock until cond holds: a virtual clock is
// advanced step by step (each move applies what fell due), the real one
// polled.
func (e *env) waitFor(t *testing.T, what string, step time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) || i > 10000 {
			t.Fatalf("waiting for %s: still not there at %v", what, e.s.Clock().Now())
		}
		if v := e.s.Virtual(); v != nil {
			v.Advance(step)
		} else {
			// Under Route 53's 5 requests per second.
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// insync waits until a Route 53 change is INSYNC.
func (e *env) insync(t *testing.T, ci *r53types.ChangeInfo) {
	t.Helper()
	e.waitFor(t, "change "+aws.ToString(ci.Id), 10*time.Second, func() (bool, error) {
		out, err := e.r53.GetChange(context.Background(), &route53.GetChangeInput{Id: ci.Id})
		if err != nil {
			return false, err
		}
		return out.ChangeInfo.Status == r53types.ChangeStatusInsync, nil
	})
}

// signZone creates a KMS key with the documented policy, an ACTIVE KSK
// named ksk over it, enables signing and waits INSYNC; it returns the key's
// ARN.
func (e *env) signZone(t *testing.T, zoneID, ksk string) string {
	t.Helper()
	ctx := context.Background()
	key, err := e.kms.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify, Policy: aws.String(keyPolicy),
	})
	if err != nil {
		t.Fatalf("kms CreateKey: %v", err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	created, err := e.r53.CreateKeySigningKey(ctx, &route53.CreateKeySigningKeyInput{
		CallerReference: aws.String(zoneID + "-" + ksk), HostedZoneId: aws.String(zoneID),
		KeyManagementServiceArn: aws.String(arn), Name: aws.String(ksk), Status: aws.String("ACTIVE"),
	})
	if err != nil {
		t.Fatalf("CreateKeySigningKey(%s): %v", zoneID, err)
	}
	e.insync(t, created.ChangeInfo)
	enabled, err := e.r53.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("EnableHostedZoneDNSSEC(%s): %v", zoneID, err)
	}
	e.insync(t, enabled.ChangeInfo)
	got, err := e.r53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("GetDNSSEC(%s): %v", zoneID, err)
	}
	if s := aws.ToString(got.Status.ServeSignature); s != "SIGNING" || len(got.KeySigningKeys) != 1 || aws.ToString(got.KeySigningKeys[0].Status) != "ACTIVE" {
		t.Fatalf("GetDNSSEC(%s) after enabling: %s with %d KSKs, want SIGNING with one ACTIVE", zoneID, s, len(got.KeySigningKeys))
	}
	return arn
}

// ksk returns the zone's only KSK as GetDNSSEC reports it.
func (e *env) ksk(t *testing.T, zoneID string) (r53types.KeySigningKey, r53types.DNSSECStatus) {
	t.Helper()
	out, err := e.r53.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("GetDNSSEC(%s): %v", zoneID, err)
	}
	if len(out.KeySigningKeys) != 1 {
		t.Fatalf("GetDNSSEC(%s): %d KSKs, want 1", zoneID, len(out.KeySigningKeys))
	}
	return out.KeySigningKeys[0], *out.Status
}

// dsViaDomains publishes the zone's KSK through Route 53 Domains and waits
// until the operation is SUCCESSFUL.
func (e *env) dsViaDomains(t *testing.T, domain, zoneID string) {
	t.Helper()
	ctx := context.Background()
	k, _ := e.ksk(t, zoneID)
	out, err := e.dom.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName:        aws.String(domain),
		SigningAttributes: &domtypes.DnssecSigningAttributes{Algorithm: aws.Int32(13), Flags: aws.Int32(257), PublicKey: k.PublicKey},
	})
	if err != nil {
		t.Fatalf("AssociateDelegationSignerToDomain(%s): %v", domain, err)
	}
	e.waitFor(t, "DS operation", time.Minute, func() (bool, error) {
		op, err := e.dom.GetOperationDetail(ctx, &route53domains.GetOperationDetailInput{OperationId: out.OperationId})
		if err != nil {
			return false, err
		}
		switch op.Status {
		case domtypes.OperationStatusSuccessful:
			return true, nil
		case domtypes.OperationStatusError, domtypes.OperationStatusFailed:
			return false, fmt.Errorf("operation %s: %s", op.Status, aws.ToString(op.Message))
		}
		return false, nil
	})
}

// dsViaParentZone UPSERTs the child zone's DS record in the parent hosted
// zone and waits INSYNC.
func (e *env) dsViaParentZone(t *testing.T, parentID, child, childID string) {
	t.Helper()
	k, _ := e.ksk(t, childID)
	out, err := e.r53.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(parentID),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
			Action: r53types.ChangeActionUpsert,
			ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(child), Type: r53types.RRTypeDs, TTL: aws.Int64(3600),
				ResourceRecords: []r53types.ResourceRecord{{Value: k.DSRecord}},
			},
		}}},
	})
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets(DS %s): %v", child, err)
	}
	e.insync(t, out.ChangeInfo)
}

// setValidation changes the VPC's Resolver DNSSEC validation and waits for
// its final status.
func (e *env) setValidation(t *testing.T, vpcID string, on bool) {
	t.Helper()
	ctx := context.Background()
	v, want := restypes.ValidationDisable, restypes.ResolverDNSSECValidationStatusDisabled
	if on {
		v, want = restypes.ValidationEnable, restypes.ResolverDNSSECValidationStatusEnabled
	}
	if _, err := e.res.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpcID), Validation: v}); err != nil {
		t.Fatalf("UpdateResolverDnssecConfig(%s, %s): %v", vpcID, v, err)
	}
	e.waitFor(t, "validation "+string(want), 10*time.Second, func() (bool, error) {
		out, err := e.res.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String(vpcID)})
		if err != nil {
			return false, err
		}
		return out.ResolverDNSSECConfig.ValidationStatus == want, nil
	})
}

// signScenario signs both zones of the scenario end to end: the parent
// with its DS through Route 53 Domains, the child with its DS in the
// parent hosted zone. It returns the KMS key ARN of the parent's KSK.
func (e *env) signScenario(t *testing.T) string {
	t.Helper()
	arn := e.signZone(t, e.sc.ZoneID, "ksk_parent")
	e.dsViaDomains(t, "example.test", e.sc.ZoneID)
	e.signZone(t, e.sc.ChildZoneID, "ksk_child")
	e.dsViaParentZone(t, e.sc.ZoneID, ScenarioChildZone, e.sc.ChildZoneID)
	return arn
}

// validate resolves name/qtype with a fresh validating resolver from the
// stack's root on its clock.
func (e *env) validate(t *testing.T, name string, qtype uint16) *dnssec.Result {
	t.Helper()
	r, err := dnssec.NewResolver(e.s.ResolverConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.Resolve(ctx, name, qtype)
	if err != nil {
		t.Fatalf("Resolve(%s %s): %v", name, dns.TypeToString[qtype], err)
	}
	return res
}

// query sends one recursive query (RD, DO) to addr.
func query(t *testing.T, addr netip.AddrPort, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("query %s %s at %v: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

// startUnbound runs a validating unbound with the stack's configuration
// and an empty cache; it stops when the test ends or at stop. The test is
// skipped without unbound.
func startUnbound(t *testing.T, s *Stack) (addr netip.AddrPort, stop func()) {
	t.Helper()
	unboundtest.Binary(t) // skips the test without unbound
	listen := s.UnboundListen()
	conf, err := s.WriteUnboundConfig(t.TempDir(), listen)
	if err != nil {
		t.Fatal(err)
	}
	return listen, unboundtest.Start(t, conf, listen)
}

// answers counts the records of qtype in a response's answer section.
func answers(m *dns.Msg, qtype uint16) int {
	n := 0
	for _, rr := range m.Answer {
		if rr.Header().Rrtype == qtype {
			n++
		}
	}
	return n
}

// virtualOpts is a stack on a virtual clock at t0.
func virtualOpts() Options { return Options{Clock: clock.NewVirtual(t0), Seed: 7} }

// alarmRecorder collects the alarm events delivered to a subscriber.
type alarmRecorder chan events.CloudWatchEvent

func recordAlarms(s *Stack) alarmRecorder {
	r := make(alarmRecorder, 16)
	s.SubscribeAlarms(func(ev events.CloudWatchEvent) { r <- ev })
	return r
}

// next waits for the next event.
func (r alarmRecorder) next(t *testing.T, what string) events.CloudWatchEvent {
	t.Helper()
	select {
	case ev := <-r:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no alarm event within 5s %s", what)
		return events.CloudWatchEvent{}
	}
}

// none checks that no event arrives for a while.
func (r alarmRecorder) none(t *testing.T, what string) {
	t.Helper()
	select {
	case ev := <-r:
		t.Errorf("an alarm event %s: %s", what, ev.Detail)
	case <-time.After(100 * time.Millisecond):
	}
}
