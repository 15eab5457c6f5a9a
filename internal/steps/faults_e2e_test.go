package steps_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
)

var examplePublisher = map[string]any{"kind": "route53Domains", "domainName": "example.test"}

// TestGateWaitCost: a zone whose largest TTL is a week waits a week before
// its DS is published, in the same number of state transitions as one whose
// largest TTL is two days.
func TestGateWaitCost(t *testing.T) {
	w := newWorld(t)
	out, err := w.r53.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(w.sc.ZoneID), StartRecordName: aws.String("example.test."), StartRecordType: r53types.RRTypeNs, MaxItems: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	ns := out.ResourceRecordSets[0]
	ns.TTL = aws.Int64(7 * 24 * 3600)
	if _, err := w.r53.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(w.sc.ZoneID),
		ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &ns}}}}); err != nil {
		t.Fatal(err)
	}
	start := w.clk.Now()
	res, _ := w.run(t, w.load(t, "enable-signing.asl.json"), "week", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if took := w.clk.Now().Sub(start); took < 7*24*time.Hour+time.Hour {
		t.Errorf("enable-signing took %v of virtual time, want at least the week's TTL + margin", took)
	}
	if res.Transitions != 54 {
		t.Errorf("enable-signing with a week's TTL: %d transitions, want 54 as with two days", res.Transitions)
	}
}

// TestEnableSigningBusyAPIs: Route 53's throttle on (5 requests a second on
// the virtual clock), ConcurrentModification and PriorRequestNotComplete
// injected: the busy answers become ServiceBusyError, the state machine
// retries them, and the run succeeds with each change made once.
func TestEnableSigningBusyAPIs(t *testing.T) {
	w := newWorld(t)
	w.st.Route53().SetThrottle(5, 5)
	for _, f := range []struct{ op, code string }{
		{"ChangeResourceRecordSets", "ConcurrentModification"},
		{"EnableHostedZoneDNSSEC", "PriorRequestNotComplete"},
		{"CreateKeySigningKey", "Throttling"},
	} {
		if err := w.st.InjectAPIError(awsemu.ServiceRoute53, f.op, f.code, 1); err != nil {
			t.Fatal(err)
		}
	}
	w.calls.reset()
	res, ex := w.run(t, w.load(t, "enable-signing.asl.json"), "busy", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	busy := 0
	for _, ev := range ex.History() {
		if ev.Type == "LambdaFunctionFailed" && ev.Details["error"] == "ServiceBusyError" {
			busy++
		}
	}
	if busy < 3 {
		t.Errorf("%d ServiceBusyError failures retried, want at least the 3 injected", busy)
	}
	want := enableCalls("AssociateDelegationSignerToDomain")
	for op, n := range w.calls.get() {
		if want[op] != n {
			t.Errorf("%s made %d times, want %d", op, n, want[op])
		}
	}
	if got := w.status(t, "example.test.", dns.TypeSOA); got.Status != dnssec.Secure {
		t.Errorf("example.test. SOA %v (%s), want secure", got.Status, got.Reason)
	}
}

// TestEnableSigningRegistrarFails: the registry refuses the DS. The run ends
// in RegistrarOperationFailedError with the lock released, and the zone is
// signed without a DS: insecure, never bogus.
func TestEnableSigningRegistrarFails(t *testing.T) {
	w := newWorld(t)
	w.st.FailRegistrarOperations("FAILED", "the registry refused the DS record", 1)
	res, _ := w.run(t, w.load(t, "enable-signing.asl.json"), "refused", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher})
	if res.Status != asl.StatusFailed || res.Error != "RegistrarOperationFailedError" || !strings.Contains(res.Cause, "the registry refused") {
		t.Fatalf("enable-signing: %s %s (%s), want FAILED RegistrarOperationFailedError", res.Status, res.Error, res.Cause)
	}
	if strings.Contains(w.footprintZone(t, w.sc.ZoneID), "_dnssec-autopilot") {
		t.Error("the failed run left its lock")
	}
	if got := w.status(t, "www.example.test.", dns.TypeA); got.Status != dnssec.Insecure {
		t.Errorf("www.example.test. A %v (%s), want insecure", got.Status, got.Reason)
	}
}

// TestEnableSigningParentLag: one TLD server serves everything twelve hours
// late. While it does not delegate the zone yet, preflight refuses and names
// it; once it does, verify-ds waits (and says which server lags) until it
// serves the DS too, and the run succeeds.
func TestEnableSigningParentLag(t *testing.T) {
	w := newWorld(t)
	if err := w.st.Tree().Registry().SetLag(1, 12*time.Hour); err != nil {
		t.Fatal(err)
	}
	sm := w.load(t, "enable-signing.asl.json")
	res, _ := w.run(t, sm, "early", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher})
	if res.Status != asl.StatusFailed || res.Error != "ZoneNotDelegatedError" || !strings.Contains(res.Cause, "ns2.test.") {
		t.Fatalf("enable-signing while ns2.test. lags: %s %s (%s), want ZoneNotDelegatedError naming ns2.test.", res.Status, res.Error, res.Cause)
	}
	w.clk.Advance(13 * time.Hour)
	res, ex := w.run(t, sm, "lag", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	lagged := false
	for _, ev := range ex.History() {
		if ev.Type == "TaskStateExited" && ev.Details["name"] == "VerifyDS" {
			if out, _ := ev.Details["output"].(string); strings.Contains(out, `"done":false`) && strings.Contains(out, "ns2.test.") {
				lagged = true
			}
		}
	}
	if !lagged {
		t.Error("verify-ds never reported the lagging TLD server ns2.test.")
	}
}
