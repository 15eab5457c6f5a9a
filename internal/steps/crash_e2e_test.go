package steps_test

import (
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// TestEnableSigningCrashAfterEachStep makes every step's first call lose its
// answer after its side effects (a Lambda.ServiceException after the
// function ran): Step Functions retries the Task with the same input, and
// the run must converge to the same result with no side effect made twice
// (but the summary, which a lost answer may send again).
func TestEnableSigningCrashAfterEachStep(t *testing.T) {
	w := newWorld(t)
	c := &crashOnce{crash: map[string]bool{}, crashed: map[string]int{}}
	for ph := range w.stepHandlers() {
		c.crash[ph] = true
	}
	w.register(c.wrap)
	sm := w.load(t, "enable-signing.asl.json")
	w.calls.reset()
	res, _ := w.run(t, sm, "crashy", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing with crashes: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	for ph := range c.crash {
		if c.crashed[ph] != 1 {
			t.Errorf("step %s crashed %d times, want 1", ph, c.crashed[ph])
		}
	}
	if got := w.status(t, "example.test.", dns.TypeSOA); got.Status != dnssec.Secure {
		t.Errorf("example.test. SOA is %v (%s), want secure", got.Status, got.Reason)
	}
	want := enableCalls("AssociateDelegationSignerToDomain")
	want["Publish"] = 2 // Notify ran twice: SNS has no idempotency key
	if got := w.calls.get(); !maps.Equal(got, want) {
		t.Errorf("side-effecting calls %v, want %v", got, want)
	}
	d, err := w.r53.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(w.sc.ZoneID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.KeySigningKeys) != 1 || aws.ToString(d.Status.ServeSignature) != "SIGNING" {
		t.Errorf("zone: %s with %d KSKs, want SIGNING with 1", aws.ToString(d.Status.ServeSignature), len(d.KeySigningKeys))
	}
}

// TestEnableSigningConcurrentRun: a second execution on a zone whose lock
// another execution holds refuses with ConcurrentRunError and leaves the
// lock to its holder.
func TestEnableSigningConcurrentRun(t *testing.T) {
	w := newWorld(t)
	sm := w.load(t, "enable-signing.asl.json")
	// The first run holds the lock: take it as its preflight would.
	lock := "_dnssec-autopilot.example.test."
	value := `"owner=0123456789abcdef01234567" "execution=first" "since=2026-11-27T06:00:00Z"`
	_, err := w.r53.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(w.sc.ZoneID),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(lock), Type: r53types.RRTypeTxt, TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(value)}},
		}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := w.footprint(t)
	res, _ := w.run(t, sm, "second", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}})
	if res.Status != asl.StatusFailed || res.Error != "ConcurrentRunError" {
		t.Fatalf("second run: %s %s (%s), want FAILED ConcurrentRunError", res.Status, res.Error, res.Cause)
	}
	if after := w.footprint(t); after != before {
		t.Errorf("the refused run changed the account (or took the lock):\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
