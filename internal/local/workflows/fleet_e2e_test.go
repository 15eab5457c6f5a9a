package workflows

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// fleetSize is the fleet of TestFleetRotateEndToEnd (DNSSEC_FLEET_ZONES
// overrides it).
func fleetSize(t *testing.T) int {
	if v := os.Getenv("DNSSEC_FLEET_ZONES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 200
}

// TestFleetRotateEndToEnd rotates a fleet of 200 signed zones selected by
// tag, on the virtual clock with Route 53's 5 requests/s throttle on: every
// zone is rotated (a new ACTIVE KSK, the old one gone), no execution fails,
// and the emulator never admitted more than the limit.
func TestFleetRotateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet of 200 rotations")
	}
	st, w, ctx := startFleetStack(t, 10*time.Minute)
	n := fleetSize(t)
	zones, err := SetupFleet(ctx, w, n)
	if err != nil {
		t.Fatal(err)
	}
	st.Route53().SetThrottle(0, 0) // reads off the runner's clock
	before := map[string]string{}
	for _, z := range zones {
		before[z.ID] = activeKSK(t, w, z.ID)
	}
	st.Route53().SetThrottle(route53emu.DefaultThrottleRate, route53emu.DefaultThrottleBurst)
	st.Route53().ResetStats()
	res := runToEnd(ctx, t, w, FleetRotate, "fleet", map[string]any{"tag": FleetTag, "defaults": map[string]any{"safetyMarginSeconds": 600}})
	stats := st.Route53().Stats()
	st.Route53().SetThrottle(0, 0) // for the checks below, off the runner's clock
	t.Logf("fleet of %d: %s; Route 53: %d admitted (peak %d/s), %d throttled, %.2f req/s over %s", n, res.Status,
		stats.Admitted, stats.PeakSecond, stats.Throttled, float64(stats.Admitted)/stats.Last.Sub(stats.First).Seconds(), stats.Last.Sub(stats.First))
	t.Logf("by operation: %v", stats.ByOp)
	sum := succeededFleet(t, w, res)
	if sum.Rotated != n || sum.Failed != 0 || sum.Skipped != 0 {
		t.Errorf("summary %+v, want %d rotated", sum, n)
	}
	for _, z := range zones {
		if after := activeKSK(t, w, z.ID); after == "" || after == before[z.ID] {
			t.Errorf("%s: active KSK %q after the fleet, %q before", z.Name, after, before[z.ID])
		}
	}
	rotation := stats.Admitted - stats.ByOp["ListHostedZonesByName"] - stats.ByOp["ListTagsForResources"]
	if perZone := float64(rotation) / float64(n); perZone > steps.RotationRoute53Calls {
		t.Errorf("a rotation made %.1f Route 53 requests, more than the %d fleet-rotate's pacing plans for (steps.RotationRoute53Calls)", perZone, steps.RotationRoute53Calls)
	}
	if stats.PeakSecond > int(route53emu.DefaultThrottleRate)+route53emu.DefaultThrottleBurst {
		t.Errorf("peak %d requests in a second: the throttle let more than rate+burst through", stats.PeakSecond)
	}
}

// activeKSK is the name of the zone's only ACTIVE KSK ("" if not one).
func activeKSK(t *testing.T, w *Workflows, zoneID string) string {
	t.Helper()
	out, err := route53.NewFromConfig(w.st.AWSConfig()).GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, k := range out.KeySigningKeys {
		if aws.ToString(k.Status) == steps.KSKActive {
			if name != "" {
				return ""
			}
			name = aws.ToString(k.Name)
		}
	}
	return name
}

// TestFleetRotateConfiguredZones: configured zones, one signed, one not
// signed (skipped: rotate-ksk refuses, nothing changes) and one that does
// not exist (failed): the execution fails with FleetRotationIncompleteError
// after the summary names each zone's outcome by SNS.
func TestFleetRotateConfiguredZones(t *testing.T) {
	st, w, ctx := startFleetStack(t, 2*time.Minute)
	sc := st.Scenario()
	zones, err := SetupFleet(ctx, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(parent string) map[string]any {
		return map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": parent}
	}
	input := map[string]any{"zones": []map[string]any{
		{"hostedZoneId": zones[0].ID, "dsPublisher": pub(zones[0].ParentID), "safetyMarginSeconds": 600},
		{"hostedZoneId": sc.ChildZoneID, "dsPublisher": pub(sc.ZoneID)},
		{"hostedZoneId": "ZNOSUCHZONE0000000000", "dsPublisher": pub(sc.ZoneID)},
	}}
	res := runToEnd(ctx, t, w, FleetRotate, "configured", input)
	if res.Status != asl.StatusFailed || res.Error != "FleetRotationIncompleteError" || res.Cause != "1 rotated, 1 skipped, 1 failed" {
		t.Fatalf("fleet-rotate %s %s: %s, want FAILED FleetRotationIncompleteError: 1 rotated, 1 skipped, 1 failed", res.Status, res.Error, res.Cause)
	}
	msgs := st.SNS().Messages(sc.TopicARN)
	if len(msgs) == 0 {
		t.Fatal("no summary notified")
	}
	body := msgs[len(msgs)-1].Subject + "\n" + msgs[len(msgs)-1].Body
	for _, want := range []string{"1 rotated, 1 skipped, 1 failed", sc.ChildZoneID + ": skipped: NoKSKToRotateError", "ZNOSUCHZONE0000000000: FAILED ZoneNotFoundError"} {
		if !strings.Contains(body, want) {
			t.Errorf("summary lacks %q:\n%s", want, body)
		}
	}
}

// runToEnd starts machine and waits for its result until ctx ends.
func runToEnd(ctx context.Context, t *testing.T, w *Workflows, machine, name string, input any) asl.Result {
	t.Helper()
	ex, err := w.Start(ctx, machine, name, input)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ex.Done():
	case <-ctx.Done():
		t.Fatalf("%s %s did not end", machine, name)
	}
	return ex.Wait()
}

// TestFleetRotateNotDue: a zone whose active KSK is younger than
// minKeyAgeDays is skipped with the reason, and nothing starts for it.
func TestFleetRotateNotDue(t *testing.T) {
	_, w, ctx := startFleetStack(t, time.Minute)
	zones, err := SetupFleet(ctx, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	before := activeKSK(t, w, zones[0].ID)
	res := runToEnd(ctx, t, w, FleetRotate, "not-due", map[string]any{"minKeyAgeDays": 1, "zones": []map[string]any{
		{"hostedZoneId": zones[0].ID, "dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": zones[0].ParentID}}}})
	sum := succeededFleet(t, w, res)
	if sum.Skipped != 1 || len(sum.Zones) != 1 || !strings.Contains(sum.Zones[0].Reason, "younger than minKeyAgeDays 1") {
		t.Errorf("summary %s, want the zone skipped as not due", res.Output)
	}
	if after := activeKSK(t, w, zones[0].ID); after != before {
		t.Errorf("active KSK %s after a skipped rotation, %s before", after, before)
	}
}

// TestFleetRotateDryRun: a dry-run fleet plans every zone's rotation and
// changes nothing; its summary and SNS subject say "would rotate", never
// "rotated".
func TestFleetRotateDryRun(t *testing.T) {
	st, w, ctx := startFleetStack(t, time.Minute)
	zones, err := SetupFleet(ctx, w, 2)
	if err != nil {
		t.Fatal(err)
	}
	var input []map[string]any
	before := map[string]string{}
	for _, z := range zones {
		before[z.ID] = activeKSK(t, w, z.ID)
		input = append(input, map[string]any{"hostedZoneId": z.ID, "dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": z.ParentID}})
	}
	topic := st.Scenario().TopicARN
	res := runToEnd(ctx, t, w, FleetRotate, "dry-run", map[string]any{"dryRun": true, "notifyTopicArn": topic, "zones": input})
	st.Route53().SetThrottle(0, 0) // for the checks below, off the runner's clock
	const want = "2 would rotate (dry run), 0 skipped, 0 failed"
	if sum := succeededFleet(t, w, res); sum.Headline != want {
		t.Errorf("headline %q, want %q", sum.Headline, want)
	}
	for _, z := range zones {
		if after := activeKSK(t, w, z.ID); after != before[z.ID] {
			t.Errorf("%s: active KSK %s after a dry run, %s before", z.Name, after, before[z.ID])
		}
	}
	msgs := st.SNS().Messages(topic)
	if len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1].Subject, want) {
		t.Errorf("fleet message %+v, want the subject to say %q", msgs, want)
	}
}

// TestFleetRotateEmptySelection: a tag no zone carries plans no batch and
// succeeds with nothing rotated (the Map reads an empty list, never a
// missing one).
func TestFleetRotateEmptySelection(t *testing.T) {
	_, w, ctx := startFleetStack(t, time.Minute)
	res := runToEnd(ctx, t, w, FleetRotate, "empty", map[string]any{"tag": map[string]string{"key": "dnssec-autopilot:none", "value": "x"},
		"defaults": map[string]any{"dsPublisher": map[string]any{"kind": "route53Domains"}}})
	if sum := succeededFleet(t, w, res); sum.Rotated+sum.Skipped+sum.Failed != 0 || sum.FleetIncomplete() {
		t.Errorf("summary %s, want nothing", res.Output)
	}
}

// startFleetStack starts a stack with its scenario and the workflows, and
// a context that ends after timeout; all end with the test.
func startFleetStack(t *testing.T, timeout time.Duration) (*stack.Stack, *Workflows, context.Context) {
	t.Helper()
	st, _ := newStack(t)
	w, err := Start(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return st, w, ctx
}

// succeededFleet is the summary of a fleet-rotate that must have succeeded.
func succeededFleet(t *testing.T, w *Workflows, res asl.Result) steps.FleetSummary {
	t.Helper()
	if res.Status != asl.StatusSucceeded {
		logFleetFailures(t, w)
		t.Fatalf("fleet-rotate %s %s: %s", res.Status, res.Error, res.Cause)
	}
	var sum steps.FleetSummary
	if err := json.Unmarshal(res.Output, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// logFleetFailures logs why a fleet did not succeed: its last SNS message
// (the zones not rotated) and every execution, child rotations included,
// that did not succeed, with its error and cause.
func logFleetFailures(tb testing.TB, w *Workflows) {
	tb.Helper()
	if msgs := w.st.SNS().Messages(w.st.Scenario().TopicARN); len(msgs) > 0 {
		tb.Log(msgs[len(msgs)-1].Body)
	}
	for _, ex := range w.Runner.Executions() {
		select {
		case <-ex.Done():
			if r := ex.Wait(); r.Status != asl.StatusSucceeded && !strings.HasPrefix(ex.Name, "baseline") {
				tb.Logf("%s: %s %s: %s", ex.ARN, r.Status, r.Error, r.Cause)
			}
		default:
			tb.Logf("%s: still running", ex.ARN)
		}
	}
}
