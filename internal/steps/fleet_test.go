package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestParseFleetInput(t *testing.T) {
	zone := func(id string) string {
		return fmt.Sprintf(`{"hostedZoneId": %q, "dsPublisher": {"kind": "route53Domains", "domainName": "example.com"}}`, id)
	}
	tests := []struct {
		name, input string
		field       string // "" when valid
	}{
		{"zones", `{"zones": [` + zone("Z1") + `,` + zone("Z2") + `]}`, ""},
		{"tag", `{"tag": {"key": "k", "value": "v"}, "defaults": {"dsPublisher": {"kind": "route53Domains"}, "safetyMarginSeconds": 600}}`, ""},
		{"nothing", `{}`, "zones"},
		{"unknown field", `{"zone": []}`, "input"},
		{"not json", `[1]`, "input"},
		{"both", `{"zones": [` + zone("Z1") + `], "tag": {"key": "k", "value": "v"}}`, "tag"},
		{"empty tag key", `{"tag": {"key": "", "value": "v"}}`, "tag.key"},
		{"defaults without tag", `{"zones": [` + zone("Z1") + `], "defaults": {}}`, "defaults"},
		{"defaults with a zone", `{"tag": {"key": "k", "value": "v"}, "defaults": {"hostedZoneId": "Z1"}}`, "defaults.hostedZoneId"},
		{"bad default margin", `{"tag": {"key": "k", "value": "v"}, "defaults": {"safetyMarginSeconds": -1}}`, "defaults.safetyMarginSeconds"},
		{"duplicate zone", `{"zones": [` + zone("Z1") + `,` + zone("/hostedzone/Z1") + `]}`, "zones[1].hostedZoneId"},
		{"bad zone", `{"zones": [` + zone("Z1") + `,` + zone("z-lower") + `]}`, "zones[1].hostedZoneId"},
		{"zone without publisher", `{"zones": [{"hostedZoneId": "Z1"}]}`, "zones[0].dsPublisher"},
		{"rate too low", `{"zones": [` + zone("Z1") + `], "route53RequestsPerSecond": 1e-9}`, "route53RequestsPerSecond"},
		{"rate above the limit", `{"zones": [` + zone("Z1") + `], "route53RequestsPerSecond": 6}`, "route53RequestsPerSecond"},
		{"negative rate", `{"zones": [` + zone("Z1") + `], "route53RequestsPerSecond": -1}`, "route53RequestsPerSecond"},
		{"batch too big", `{"zones": [` + zone("Z1") + `], "batchSize": 41}`, "batchSize"},
		{"negative age", `{"zones": [` + zone("Z1") + `], "minKeyAgeDays": -1}`, "minKeyAgeDays"},
		{"bad topic", `{"zones": [` + zone("Z1") + `], "notifyTopicArn": "topic"}`, "notifyTopicArn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFleetInput(json.RawMessage(tt.input))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			var ie *InvalidInputError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Fatalf("error %v, want InvalidInputError on %s", err, tt.field)
			}
		})
	}
}

// TestPlanFleet: configured zones cut into batches, each listed at its
// first zone's start; starts spaced by RotationRoute53Calls/rate; the
// items of a batch carry their start times and the dry run.
func TestPlanFleet(t *testing.T) {
	f := newFixture(t)
	var zones []string
	for i := range 7 {
		zones = append(zones, fmt.Sprintf(`{"hostedZoneId": "Z%d", "dsPublisher": {"kind": "route53Domains", "domainName": "z%d.example"}}`, i, i))
	}
	input := json.RawMessage(`{"zones": [` + strings.Join(zones, ",") + `], "batchSize": 3, "route53RequestsPerSecond": 2, "dryRun": true}`)
	s, err := f.h.PlanFleet(context.Background(), Event{Execution: execution, State: &State{Fleet: &FleetState{Input: input}}})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Fleet.Plan
	if p.Zones != 7 || p.SpacingSeconds != float64(RotationRoute53Calls)/2 || !p.DryRun {
		t.Fatalf("plan %+v", p)
	}
	if len(s.Fleet.Batches) != 3 {
		t.Fatalf("%d batches, want 3", len(s.Fleet.Batches))
	}
	spacing := time.Duration(p.SpacingSeconds * float64(time.Second))
	for i, b := range s.Fleet.Batches {
		if b.Offset != 3*i || b.ListAt != stamp(t0.Add(time.Duration(b.Offset)*spacing)) {
			t.Errorf("batch %d: offset %d list at %s", i, b.Offset, b.ListAt)
		}
	}
	last := s.Fleet.Batches[2]
	ls, err := f.h.ListBatch(context.Background(), Event{Execution: execution, State: &State{Fleet: &FleetState{Plan: p, Batch: &last}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Fleet.Items) != 1 {
		t.Fatalf("last batch has %d items, want 1", len(ls.Fleet.Items))
	}
	it := ls.Fleet.Items[0]
	if it.HostedZoneID != "Z6" || it.StartAt != stamp(t0.Add(6*spacing)) || it.Input == nil || !it.Input.DryRun {
		t.Errorf("item %+v", it)
	}
	if _, err := f.h.PlanFleet(context.Background(), Event{Execution: execution, State: &State{Fleet: &FleetState{Input: json.RawMessage(`{}`)}}}); err == nil {
		t.Error("an empty input was planned")
	}
}

func TestPublisherFromTag(t *testing.T) {
	tests := []struct{ tag, want string }{
		{"route53Domains", "route53Domains domain=a.example."},
		{"parentHostedZone:Z9", "parentHostedZone parent=Z9"},
		{"manual:arn:aws:sns:us-east-1:123456789012:dns", "manual topic=arn:aws:sns:us-east-1:123456789012:dns"},
		{"registrar", ""},
	}
	for _, tt := range tests {
		p, err := publisherFromTag(tt.tag, "a.example.")
		got := ""
		if err == nil {
			got = string(p.Kind)
			switch {
			case p.DomainName != "":
				got += " domain=" + p.DomainName
			case p.ParentHostedZoneID != "":
				got += " parent=" + p.ParentHostedZoneID
			case p.TopicARN != "":
				got += " topic=" + p.TopicARN
			}
		}
		if got != tt.want {
			t.Errorf("%q: %q, want %q", tt.tag, got, tt.want)
		}
	}
}

// TestSummarizeFleet: a child's refusal that changed nothing is skipped,
// any other error failed (read out of States.TaskFailed's cause); the
// fleet summary adds the batches up, lists at most MaxFleetListed zones and
// counts a batch without a summary as failed.
func TestSummarizeFleet(t *testing.T) {
	cause := func(errName string) string {
		b, _ := json.Marshal(map[string]string{"ExecutionArn": "arn:x", "Error": errName, "Cause": "because"})
		return string(b)
	}
	res := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	results := []json.RawMessage{
		res(map[string]string{"hostedZoneId": "Z1", "status": "rotated", "executionArn": "arn:1"}),
		res(map[string]string{"hostedZoneId": "Z2", "status": "skipped", "reason": "not due"}),
		res(map[string]string{"hostedZoneId": "Z3", "status": "not-rotated", "error": "States.TaskFailed", "cause": cause("NoKSKToRotateError")}),
		res(map[string]string{"hostedZoneId": "Z4", "status": "not-rotated", "error": "States.TaskFailed", "cause": cause("PropagationTimeoutError")}),
		res(map[string]string{"hostedZoneId": "Z5", "status": "not-rotated", "error": "States.Timeout", "cause": "too long"}),
		json.RawMessage(`"garbage"`),
	}
	b, unlisted := summarizeBatch(results, MaxFleetListed, false)
	if b.Rotated != 1 || b.Skipped != 2 || b.Failed != 3 || len(unlisted) != 0 {
		t.Fatalf("batch summary %s, %d failed unlisted; want 1 rotated, 2 skipped, 3 failed, all listed", b.Headline, len(unlisted))
	}
	if len(b.Zones) != 5 {
		t.Fatalf("batch lists %d zones, want the 5 not rotated", len(b.Zones))
	}
	// Failed first (Z4, Z5, the garbage), then skipped (Z2, Z3).
	if z := b.Zones[0]; z.Error != "PropagationTimeoutError" || z.Cause != "because" || z.ExecutionARN != "arn:x" {
		t.Errorf("failed child read as %+v", z)
	}
	if z := b.Zones[4]; z.Status != FleetSkipped || !strings.HasPrefix(z.Reason, "NoKSKToRotateError") {
		t.Errorf("refusal read as %+v", z)
	}
	for _, tc := range []struct{ list, unlistedFailed int }{{2, 1}, {0, 3}, {3, 0}} {
		capped, unlisted := summarizeBatch(results, tc.list, false)
		if len(capped.Zones) != tc.list || capped.Unlisted != 5-tc.list || capped.Failed != 3 || len(unlisted) != tc.unlistedFailed {
			t.Errorf("batch capped at %d: %d listed, %d unlisted, %d failed unlisted; want %d failed unlisted", tc.list, len(capped.Zones), capped.Unlisted, len(unlisted), tc.unlistedFailed)
		}
		for _, z := range append(capped.Zones[:min(tc.list, 3)], unlisted...) {
			if z.Status != FleetFailed {
				t.Errorf("batch capped at %d lists %s (%s) before a failed zone", tc.list, z.HostedZoneID, z.Status)
			}
		}
	}
	var batches []json.RawMessage
	for range 10 {
		batches = append(batches, res(b))
	}
	batches = append(batches, json.RawMessage(`{"Error": "States.TaskFailed"}`))
	sum := summarizeFleet(batches, 12, false)
	if sum.Rotated != 10 || sum.Skipped != 20 || sum.Failed != 30 || !sum.FleetIncomplete() {
		t.Errorf("fleet summary %s", sum.Headline)
	}
	if len(sum.Zones) != MaxFleetListed || sum.Unlisted != 50-MaxFleetListed {
		t.Errorf("%d zones listed, %d unlisted", len(sum.Zones), sum.Unlisted)
	}
	if len(sum.FailedBatches) != 2 {
		t.Errorf("failed batches %q, want the garbage one and the missing one", sum.FailedBatches)
	}
	one, _ := summarizeBatch(results[:1], MaxFleetListed, false)
	clean := summarizeFleet([]json.RawMessage{res(one)}, 1, false)
	if clean.FleetIncomplete() || clean.Headline != "1 rotated, 0 skipped, 0 failed" {
		t.Errorf("clean fleet: %+v", clean)
	}
	// A dry run rotated nothing: its headline (the SNS subject) says so.
	dry, _ := summarizeBatch(results[:1], MaxFleetListed, true)
	if dryFleet := summarizeFleet([]json.RawMessage{res(dry)}, 1, true); dryFleet.Headline != "1 would rotate (dry run), 0 skipped, 0 failed" {
		t.Errorf("dry-run fleet headline %q", dryFleet.Headline)
	}
	s := &State{ExecutionARN: "arn:fleet", Fleet: &FleetState{Plan: &FleetPlan{Selection: "x", Zones: 60, StartAt: stamp(t0)}, Summary: sum}}
	subject, body := FleetMessage(s, t0.Add(9*24*time.Hour+time.Hour))
	for _, want := range []string{"needs attention", "FAILED PropagationTimeoutError: because", "and 30 more", "each batch's own message", `"minKeyAgeDays": 10`} {
		if !strings.Contains(subject+body, want) {
			t.Errorf("message lacks %q:\n%s\n%s", want, subject, body)
		}
	}
	if strings.Contains(body, "skipped:") {
		t.Errorf("the message lists a skipped zone while failed ones are left out:\n%s", body)
	}
	// Nothing listed at all (a big fleet's batches had no room): the
	// message still says how many zones it does not name, and where.
	s.Fleet.Summary = &FleetSummary{Failed: 1, Rotated: 9999, Unlisted: 1, Headline: "9999 rotated, 0 skipped, 1 failed"}
	if _, body := FleetMessage(s, t0); !strings.Contains(body, "and 1 more not listed here") {
		t.Errorf("message hides the unlisted zone:\n%s", body)
	}
}

// TestSummarizeBatchNotifies: a batch whose summary has no room for a
// failed zone (ListPerBatch 0, as in a fleet of thousands) names it in its
// own message; a batch with only skipped zones, or every failure listed,
// sends nothing.
func TestSummarizeBatchNotifies(t *testing.T) {
	failedChild, _ := json.Marshal(map[string]string{"ExecutionArn": "arn:child", "Error": "PropagationTimeoutError", "Cause": "still PENDING"})
	res := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	rotated := res(map[string]string{"hostedZoneId": "Z1", "zone": "a.example.", "status": "rotated", "executionArn": "arn:1"})
	skipped := res(map[string]string{"hostedZoneId": "Z2", "zone": "b.example.", "status": "skipped", "reason": "not due"})
	failed := res(map[string]string{"hostedZoneId": "Z3", "zone": "c.example.", "status": "not-rotated", "error": "States.TaskFailed", "cause": string(failedChild)})
	for _, tc := range []struct {
		name    string
		list    int
		results []json.RawMessage
		topic   string
		want    int
	}{
		{"failure unlisted", 0, []json.RawMessage{rotated, skipped, failed}, topic, 1},
		{"failure listed", 1, []json.RawMessage{rotated, skipped, failed}, topic, 0},
		{"only skipped", 0, []json.RawMessage{rotated, skipped}, topic, 0},
		{"no topic", 0, []json.RawMessage{failed}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAlarmFixture(t)
			plan := &FleetPlan{Batches: 300, ListPerBatch: tc.list, TopicARN: tc.topic, Execution: "arn:fleet"}
			st := &State{ExecutionARN: "arn:batch-7", Fleet: &FleetState{Plan: plan, Batch: &FleetBatch{Index: 7}}}
			out, err := f.h.SummarizeFleet(context.Background(), Event{Execution: execution, Action: "batch", State: st, FleetResults: tc.results})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.sns.msgs) != tc.want {
				t.Fatalf("published %d messages, want %d", len(f.sns.msgs), tc.want)
			}
			if tc.want == 0 {
				return
			}
			m := f.sns.msgs[0]
			body := aws.ToString(m.Subject) + "\n" + aws.ToString(m.Message)
			for _, want := range []string{"batch 7: failed zones: 1", "batch 7 of 300", "c.example. (Z3): FAILED PropagationTimeoutError: still PENDING", "execution: arn:child", "fleet: arn:fleet"} {
				if !strings.Contains(body, want) {
					t.Errorf("batch message lacks %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, "b.example.") || aws.ToString(m.TopicArn) != tc.topic {
				t.Errorf("batch message to %s names a skipped zone or goes elsewhere:\n%s", aws.ToString(m.TopicArn), body)
			}
			if sum := out.Fleet.Summary; sum.Failed != 1 || sum.Unlisted != len(tc.results)-1 {
				t.Errorf("batch summary %+v", sum)
			}
		})
	}
}

// TestZoneKeyBefore: ListHostedZonesByName order, by reversed labels then
// ID; a batch ends at the first zone at or after its To, even when To
// itself is gone.
func TestZoneKeyBefore(t *testing.T) {
	tests := []struct {
		a, b ZoneKey
		want bool
	}{
		{ZoneKey{"a.example.com.", "Z1"}, ZoneKey{"b.example.com.", "Z1"}, true},
		{ZoneKey{"z.example.com.", "Z1"}, ZoneKey{"a.example.org.", "Z1"}, true}, // com. before org.
		{ZoneKey{"example.com.", "Z1"}, ZoneKey{"a.example.com.", "Z1"}, true},   // parent first
		{ZoneKey{"Example.COM.", "Z2"}, ZoneKey{"example.com.", "Z1"}, false},
		{ZoneKey{"example.com.", "Z1"}, ZoneKey{"example.com.", "Z2"}, true},
		{ZoneKey{"example.com.", "Z2"}, ZoneKey{"example.com.", "Z2"}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Before(tt.b); got != tt.want {
			t.Errorf("%v before %v = %t, want %t", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestSummarizeZone: the "zone" action compacts one result without a plan.
func TestSummarizeZone(t *testing.T) {
	f := newFixture(t)
	cause, _ := json.Marshal(map[string]string{"Error": "ZoneNotFoundError", "Cause": `{"errorMessage":"no such zone","errorType":"ZoneNotFoundError"}`})
	raw, _ := json.Marshal(map[string]string{"hostedZoneId": "Z1", "zone": "", "status": "not-rotated", "error": "States.TaskFailed", "cause": string(cause) + strings.Repeat(" ", 2000)})
	s, err := f.h.SummarizeFleet(context.Background(), Event{Execution: execution, Action: "zone", State: &State{Fleet: &FleetState{}}, FleetResults: []json.RawMessage{raw}})
	if err != nil {
		t.Fatal(err)
	}
	z := s.Fleet.Summary.Zones[0]
	if z.Status != FleetFailed || z.Error != "ZoneNotFoundError" || z.Cause != "no such zone" {
		t.Errorf("compacted %+v", z)
	}
	if _, err := f.h.SummarizeFleet(context.Background(), Event{Execution: execution, Action: "fleet", State: &State{Fleet: &FleetState{}}}); err == nil {
		t.Error("a fleet summary without a plan was made")
	}
}

// TestPlanFleetLimits: an empty selection plans no batch (an empty list,
// which the Map reads), and a rate that spaces the starts beyond
// MaxFleetStartWindow is refused.
func TestPlanFleetLimits(t *testing.T) {
	f := newFixture(t)
	var zones []string
	for i := range 5000 {
		zones = append(zones, fmt.Sprintf(`{"hostedZoneId": "Z%d", "dsPublisher": {"kind": "route53Domains", "domainName": "z%d.example"}}`, i, i))
	}
	slow := json.RawMessage(`{"zones": [` + strings.Join(zones, ",") + `], "route53RequestsPerSecond": 0.05}`)
	if _, err := f.h.PlanFleet(context.Background(), Event{Execution: execution, State: &State{Fleet: &FleetState{Input: slow}}}); err == nil {
		t.Error("5000 starts 20 minutes apart (over 60 days) were planned")
	}
	zones = zones[:400]
	s, err := f.h.PlanFleet(context.Background(), Event{Execution: execution, State: &State{Fleet: &FleetState{Input: json.RawMessage(`{"zones": [` + strings.Join(zones, ",") + `]}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Fleet.Plan; p.Batches != 10 || p.ListPerBatch != fleetListBudget/fleetListEntry/10 || p.Execution != execution.ARN {
		t.Errorf("plan %+v", p)
	}
	b, _ := json.Marshal(FleetState{})
	if !strings.Contains(string(b), `"batches":null`) && !strings.Contains(string(b), `"batches":[]`) {
		t.Errorf("batches absent from %s", b)
	}
}
