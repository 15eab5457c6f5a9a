package steps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// footprint is what a workflow may change in the account: every record set of
// the scenario's zones, their DNSSEC status and KSKs, and the KMS aliases.
func (w *world) footprint(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	for _, id := range []string{w.sc.ZoneID, w.sc.ChildZoneID} {
		out, err := w.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range out.ResourceRecordSets {
			var v []string
			for _, r := range rs.ResourceRecords {
				v = append(v, aws.ToString(r.Value))
			}
			lines = append(lines, fmt.Sprintf("%s %s %s %d %v", id, aws.ToString(rs.Name), rs.Type, aws.ToInt64(rs.TTL), v))
		}
		d, err := w.r53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, id+" signing "+aws.ToString(d.Status.ServeSignature))
		for _, k := range d.KeySigningKeys {
			lines = append(lines, id+" ksk "+aws.ToString(k.Name)+" "+aws.ToString(k.Status))
		}
	}
	al, err := w.kms.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range al.Aliases {
		lines = append(lines, "alias "+aws.ToString(a.AliasName))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// finalState decodes an execution's output (the state).
func finalState(t *testing.T, res asl.Result) steps.State {
	t.Helper()
	var s steps.State
	if err := json.Unmarshal(res.Output, &s); err != nil {
		t.Fatalf("output %s: %v", res.Output, err)
	}
	return s
}

// TestEnableSigningEndToEnd runs statemachines/enable-signing.asl.json on the
// local stack: refusals that change nothing (an unknown zone, a child zone
// whose parent is unsigned), then example.test. with its DS through Route 53
// Domains and app.example.test. with its DS in the parent hosted zone, each
// ending secure from the root.
func TestEnableSigningEndToEnd(t *testing.T) {
	w := newWorld(t)
	sm := w.load(t, "enable-signing.asl.json")
	before := w.footprint(t)

	refusals := []struct {
		name  string
		input map[string]any
		want  string
	}{
		{"unknown-zone", map[string]any{"hostedZoneId": "Z0000000000000NOSUCH", "dsPublisher": map[string]any{"kind": "manual", "topicArn": w.sc.TopicARN}}, "ZoneNotFoundError"},
		{"no-publisher", map[string]any{"hostedZoneId": w.sc.ZoneID}, "InvalidInputError"},
		{"publisher-of-other-domain", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "other.test"}}, "InvalidInputError"},
		{"wrong-zone-name", map[string]any{"hostedZoneId": w.sc.ZoneID, "zoneName": "example.org", "dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}}, "InvalidInputError"},
		{"key-in-other-region", map[string]any{"hostedZoneId": w.sc.ZoneID, "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}}, "KMSKeyRegionError"},
		{"child-of-unsigned-parent", map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": w.sc.ZoneID}}, "ParentNotSecureError"},
	}
	for _, r := range refusals {
		res, _ := w.run(t, sm, "refuse-"+r.name, r.input)
		if res.Status != asl.StatusFailed || res.Error != r.want {
			t.Errorf("%s: execution %s, error %s (%s); want FAILED with %s", r.name, res.Status, res.Error, res.Cause, r.want)
		}
		if r.name == "key-in-other-region" {
			// Refused after the lock was taken: released on the way out.
			continue
		}
		if after := w.footprint(t); after != before {
			t.Errorf("%s: the refused execution changed the account:\nbefore:\n%s\nafter:\n%s", r.name, before, after)
		}
	}
	if after := w.footprint(t); after != before {
		t.Fatalf("refused executions changed the account:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	runs := []struct {
		name, zoneID, zone string
		publisher          map[string]any
		transitions        int64
		calls              map[string]int
	}{
		// 24 states on the straight path (one Wait for the publish-ds
		// gate and the observation after it included, and the Choice
		// between polling and waiting for a callback), 2 + 2 polls for
		// the KSK's and the signing change to be INSYNC (Route 53: 60 s,
		// polled every 20 s; 3 transitions each: Choice, Wait, Task), and
		// the publisher's polls: Route 53 Domains 6 (an operation of 5.5
		// minutes polled every minute), the parent hosted zone 3. The count
		// does not depend on the TTLs the gate waits for (TestGateWaitCost).
		{"example", w.sc.ZoneID, "example.test.", map[string]any{"kind": "route53Domains", "domainName": "example.test"}, 54, enableCalls("AssociateDelegationSignerToDomain")},
		{"app", w.sc.ChildZoneID, "app.example.test.", map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": w.sc.ZoneID}, 45, enableCalls("ChangeResourceRecordSets:UPSERT:DS")},
	}
	w.calls.reset()
	for _, r := range runs {
		if res := w.status(t, r.zone, dns.TypeSOA); res.Status != dnssec.Insecure {
			t.Fatalf("before enable-signing: %s SOA is %v (%s), want insecure", r.zone, res.Status, res.Reason)
		}
		start := w.clk.Now()
		res, _ := w.run(t, sm, "enable-"+r.name, map[string]any{"hostedZoneId": r.zoneID, "dsPublisher": r.publisher})
		if res.Status != asl.StatusSucceeded {
			t.Fatalf("enable-signing %s: %s %s: %s", r.zone, res.Status, res.Error, res.Cause)
		}
		s := finalState(t, res)
		for _, q := range []uint16{dns.TypeSOA, dns.TypeDNSKEY} {
			if got := w.status(t, r.zone, q); got.Status != dnssec.Secure {
				t.Errorf("after enable-signing: %s %s is %v (%s), want secure", r.zone, dns.TypeToString[q], got.Status, got.Reason)
			}
		}
		if s.LockHeld || s.KSK == nil || s.History.MaxZoneTTL == 0 {
			t.Errorf("final state: lock held %v, KSK %v, zone TTL %d", s.LockHeld, s.KSK, s.History.MaxZoneTTL)
		}
		t.Logf("enable-signing %s: %d transitions, %v virtual; timeline:\n%s", r.zone, res.Transitions, w.clk.Now().Sub(start), strings.Join(s.Timeline, "\n"))
		if res.Transitions != r.transitions {
			t.Errorf("enable-signing %s: %d state transitions, want %d", r.zone, res.Transitions, r.transitions)
		}
		if got := w.calls.get(); !maps.Equal(got, r.calls) {
			t.Errorf("enable-signing %s: side-effecting calls %v, want %v", r.zone, got, r.calls)
		}
		w.calls.reset()
	}
	// Every lock is released.
	for _, id := range []string{w.sc.ZoneID, w.sc.ChildZoneID} {
		if strings.Contains(w.footprintZone(t, id), "_dnssec-autopilot") {
			t.Errorf("zone %s still holds a lock record", id)
		}
	}
}

// enableCalls are the side-effecting calls of one enable-signing run, each
// made once, with the DS publisher's call.
func enableCalls(publish string) map[string]int {
	return map[string]int{
		"ChangeResourceRecordSets:CREATE:TXT": 1, // the lock
		"ChangeResourceRecordSets:DELETE:TXT": 1,
		"CreateKey":                           1,
		"CreateAlias":                         1,
		"CreateKeySigningKey":                 1,
		"EnableHostedZoneDNSSEC":              1,
		"Publish":                             1, // the summary
		publish:                               1,
	}
}

func (w *world) footprintZone(t *testing.T, id string) string {
	t.Helper()
	out, err := w.r53.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rs := range out.ResourceRecordSets {
		names = append(names, aws.ToString(rs.Name))
	}
	return strings.Join(names, " ")
}
