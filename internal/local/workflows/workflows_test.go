package workflows

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
)

var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

func statemachinesDir(t *testing.T) string {
	t.Helper()
	dir, err := FindDir(".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStepsTable: the table of steps, substitutions.json and the
// placeholders the state machines use are the same set.
func TestStepsTable(t *testing.T) {
	dir := statemachinesDir(t)
	subs, err := LoadSubstitutions(dir)
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	for _, s := range Steps {
		if slices.Contains(table, s.Placeholder) {
			t.Errorf("%s is twice in Steps", s.Placeholder)
		}
		table = append(table, s.Placeholder)
	}
	var inSubs []string
	for ph, v := range subs {
		if strings.Contains(v, ":stateMachine:") {
			name := v[strings.LastIndex(v, ":stateMachine:")+len(":stateMachine:"):]
			if _, err := os.Stat(filepath.Join(dir, strings.TrimPrefix(name, "dnssec-autopilot-")+".asl.json")); err != nil {
				t.Errorf("${%s} names state machine %s, which has no file: %v", ph, name, err)
			}
			continue // a workflow, not a step
		}
		inSubs = append(inSubs, ph)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.asl.json"))
	placeholder := regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)
	var used []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(used, m[1]) {
				used = append(used, m[1])
			}
		}
	}
	slices.Sort(table)
	slices.Sort(inSubs)
	slices.Sort(used)
	if diff := cmp.Diff(inSubs, table); diff != "" {
		t.Errorf("Steps vs %s (-subs +table):\n%s", SubstitutionsFile, diff)
	}
	for _, ph := range used {
		if !slices.Contains(table, ph) && !strings.Contains(subs[ph], ":stateMachine:") {
			t.Errorf("a state machine uses ${%s}, which has no step", ph)
		}
	}
}

func TestFunctionName(t *testing.T) {
	tests := []struct{ arn, want string }{
		{"arn:aws:lambda:us-east-1:123456789012:function:dnssec-autopilot-observe-zone", "dnssec-autopilot-observe-zone"},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := FunctionName(tt.arn); got != tt.want {
			t.Errorf("FunctionName(%q) = %q, want %q", tt.arn, got, tt.want)
		}
	}
}

func TestFindDir(t *testing.T) {
	if _, err := FindDir(t.TempDir()); err == nil {
		t.Error("FindDir(empty temporary directory) = nil error, want one")
	}
	dir := statemachinesDir(t)
	got, err := FindDir(filepath.Join(dir, "..", "internal", "local"))
	if err != nil || got != dir {
		t.Errorf("FindDir(internal/local) = %q, %v; want %q", got, err, dir)
	}
}

func newStack(t testing.TB) (*stack.Stack, *stack.Scenario) {
	t.Helper()
	st, err := stack.Start(stack.Options{Clock: clock.NewVirtual(t0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc, err := st.SetupScenario(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st, sc
}

// TestStartServesStepFunctions: after Start, the state machines are listed
// by the Step Functions API at the stack's endpoint, and an execution
// started through the SDK runs the real steps to SUCCEEDED.
func TestStartServesStepFunctions(t *testing.T) {
	st, sc := newStack(t)
	if _, err := Start(st, Options{Dir: t.TempDir()}); err == nil {
		t.Error("Start with an empty directory = nil error, want one")
	}
	w, err := Start(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := sfn.NewFromConfig(st.AWSConfig())
	list, err := client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range list.StateMachines {
		got[aws.ToString(m.Name)] = aws.ToString(m.StateMachineArn)
	}
	want := map[string]string{}
	for _, m := range w.Machines {
		want[m.Name] = m.ARN
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListStateMachines (-want +got):\n%s", diff)
	}
	for _, name := range []string{EnableSigning, RotateKSK, DisableSigning} {
		if _, ok := w.Machine(name); !ok {
			t.Errorf("no state machine %s", name)
		}
	}

	input, _ := json.Marshal(map[string]any{"hostedZoneId": sc.ZoneID,
		"dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}})
	m, _ := w.Machine(EnableSigning)
	started, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(m.ARN), Input: aws.String(string(input)), Name: aws.String("sdk")})
	if err != nil {
		t.Fatal(err)
	}
	ex, ok := w.Runner.Execution(aws.ToString(started.ExecutionArn))
	if !ok {
		t.Fatalf("the runner does not know %s", aws.ToString(started.ExecutionArn))
	}
	select {
	case <-ex.Done():
	case <-ctx.Done():
		t.Fatal("enable-signing did not end within 60s")
	}
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "SUCCEEDED" {
		t.Errorf("enable-signing through the SDK = %s (%s: %s), want SUCCEEDED", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

// TestAlarmResponse: with an alarm-response state machine, an alarm event
// starts it with the event as its input; without one, nothing subscribes.
func TestAlarmResponse(t *testing.T) {
	st, _ := newStack(t)
	src := statemachinesDir(t)
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(src, SubstitutionsFile))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		SubstitutionsFile:         string(b),
		"enable-signing.asl.json": `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := Start(st, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if w.cancelAlarms != nil {
		t.Error("subscribed to alarms without an alarm-response state machine")
	}
	w.Close()

	def := `{"StartAt":"Read","States":{"Read":{"Type":"Pass","Parameters":{"alarm.$":"$.detail.alarmName"},"End":true}}}`
	if err := os.WriteFile(filepath.Join(dir, AlarmResponse+".asl.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Start(st, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.cancelAlarms == nil {
		t.Fatal("not subscribed to alarms although alarm-response exists")
	}
	detail, _ := json.Marshal(map[string]any{"alarmName": "dnssec-ksk-action-needed-Z1"})
	w.onAlarm(events.CloudWatchEvent{Source: stack.EventSource, DetailType: stack.EventDetailType, Detail: detail})
	started := w.AlarmExecutions()
	if len(started) != 1 {
		t.Fatalf("alarm started %d executions, want 1", len(started))
	}
	res := started[0].Wait()
	if res.Status != asl.StatusSucceeded || string(res.Output) != `{"alarm":"dnssec-ksk-action-needed-Z1"}` {
		t.Errorf("alarm-response = %s %s, want SUCCEEDED with the alarm's name", res.Status, res.Output)
	}
}
