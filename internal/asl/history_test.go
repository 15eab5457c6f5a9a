package asl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

func eventTypes(e *Execution) []string {
	var types []string
	for _, ev := range e.History() {
		types = append(types, ev.Type)
	}
	return types
}

func TestHistoryLambdaInvoke(t *testing.T) {
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	r.Register("check", func(_ context.Context, in struct{ Zone string }) (map[string]string, error) {
		return map[string]string{"zone": in.Zone}, nil
	})
	res, e := run(t, r, `{"StartAt":"Check","States":{"Check":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"check","Payload":{"Zone.$":"$.zone"}},"TimeoutSeconds":30,"ResultSelector":{"r.$":"$.Payload"},"End":true}}}`, `{"zone":"example.test"}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("Status = %s %s", res.Status, res.Cause)
	}
	want := []string{"ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}
	if diff := cmp.Diff(want, eventTypes(e)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	h := e.History()
	sched := h[2].Details
	if sched["resourceType"] != "lambda" || sched["resource"] != "invoke" || sched["timeoutInSeconds"] != int64(30) {
		t.Errorf("TaskScheduled details = %v", sched)
	}
	if !strings.Contains(sched["parameters"].(string), `"FunctionName":"check"`) {
		t.Errorf("TaskScheduled parameters = %v", sched["parameters"])
	}
	b, err := json.Marshal(h[0])
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	json.Unmarshal(b, &ev)
	if ev["type"] != "ExecutionStarted" || ev["id"] != 1.0 || ev["previousEventId"] != 0.0 || ev["executionStartedEventDetails"] == nil {
		t.Errorf("ExecutionStarted JSON = %s", b)
	}
	if diff := cmp.Diff(jsonOf(t, `{"r":{"zone":"example.test"}}`), jsonOf(t, string(res.Output))); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestHistoryMapAndFail(t *testing.T) {
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	res, e := run(t, r, `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"Next":"F"},
		"F":{"Type":"Fail","Error":"Done","Cause":"by design"}}}`, `[1,2]`)
	if res.Status != StatusFailed || res.Error != "Done" || res.Cause != "by design" {
		t.Fatalf("result = %s %s %s", res.Status, res.Error, res.Cause)
	}
	want := []string{"ExecutionStarted", "MapStateEntered", "MapStateStarted",
		"MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
		"MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
		"MapStateSucceeded", "MapStateExited", "FailStateEntered", "ExecutionFailed"}
	if diff := cmp.Diff(want, eventTypes(e)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if res.Transitions != 4 {
		t.Errorf("Transitions = %d, want 4 (Map, two Pass, Fail)", res.Transitions)
	}
}

func TestParallelFailureStopsSiblings(t *testing.T) {
	vc := clock.NewVirtual(testStart)
	r := NewRunner(vc, Options{})
	res, e := run(t, r, `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"Next":"After"},"After":{"Type":"Pass","End":true}}},
		{"StartAt":"W2","States":{"W2":{"Type":"Wait","Seconds":60,"Next":"F"},"F":{"Type":"Fail","Error":"BranchBroke"}}}]}}}`, `{}`)
	if res.Status != StatusFailed || res.Error != "BranchBroke" {
		t.Fatalf("result = %s %s, want FAILED BranchBroke", res.Status, res.Error)
	}
	for _, typ := range eventTypes(e) {
		if typ == "PassStateEntered" {
			t.Error("the sibling branch went on after the failure")
		}
	}
	if got := vc.Now(); got.After(testStart.Add(time.Hour)) {
		t.Errorf("clock = %v: the aborted one-day Wait still ran", got)
	}
}

type codedError struct{}

func (codedError) Error() string     { return "topic gone" }
func (codedError) ErrorCode() string { return "NotFoundException" }

func TestSNSPublish(t *testing.T) {
	def := `{"StartAt":"N","States":{"N":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Subject":"s","Message":{"zone.$":"$.zone"}},
		"ResultSelector":{"id.$":"$.MessageId"},"End":true}}}`
	pub := &recordingPublisher{}
	r := NewRunner(clock.NewVirtual(testStart), Options{Publisher: pub})
	res, _ := run(t, r, def, `{"zone":"example.test"}`)
	if diff := cmp.Diff(jsonOf(t, `{"id":"m-1"}`), jsonOf(t, string(res.Output))); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if pub.message != `{"zone":"example.test"}` || pub.subject != "s" {
		t.Errorf("published %q %q", pub.subject, pub.message)
	}
	pub.err = codedError{}
	res, _ = run(t, r, def, `{"zone":"example.test"}`)
	if res.Error != "SNS.NotFoundException" {
		t.Errorf("Error = %q, want SNS.NotFoundException", res.Error)
	}
}

type recordingPublisher struct {
	subject, message string
	err              error
}

func (p *recordingPublisher) Publish(_ context.Context, topic, subject, message string) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	p.subject, p.message = subject, message
	return "m-1", nil
}

func TestStartExecutionAsyncAndStop(t *testing.T) {
	vc := clock.NewVirtual(testStart)
	r := NewRunner(vc, Options{NoAutoAdvance: true})
	child := mustLoad(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
	childARN := r.AddStateMachine("child", child)
	parent := mustLoad(t, `{"StartAt":"Fire","States":{"Fire":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution","Parameters":{"StateMachineArn":"`+childARN+`","Name":"c1","Input":{}},"Next":"Sync"},
		"Sync":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync","Parameters":{"StateMachineArn":"`+childARN+`","Name":"c2"},"End":true}}}`)
	r.AddStateMachine("parent", parent)
	e := r.Start(context.Background(), parent, "p", json.RawMessage(`{}`))
	// Wait for the .sync child to be running, then stop the parent.
	deadline := time.Now().Add(5 * time.Second)
	var c2 *Execution
	for time.Now().Before(deadline) && c2 == nil {
		r.mu.Lock()
		c2 = r.executions["arn:aws:states:us-east-1:123456789012:execution:child:c2"]
		r.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if c2 == nil {
		t.Fatal("the .sync child never started")
	}
	if err := r.StopExecution(e.ARN, "", ""); err != nil {
		t.Fatal(err)
	}
	if res := e.Wait(); res.Status != StatusAborted {
		t.Errorf("parent = %s, want ABORTED", res.Status)
	}
	if res := c2.Wait(); res.Status != StatusAborted {
		t.Errorf(".sync child = %s, want ABORTED (stopped with its parent)", res.Status)
	}
	r.mu.Lock()
	c1 := r.executions["arn:aws:states:us-east-1:123456789012:execution:child:c1"]
	r.mu.Unlock()
	if c1 == nil || c1.Describe().Status != StatusRunning {
		t.Errorf("the fire-and-forget child should still run")
	}
	vc.Advance(time.Hour)
	if res := c1.Wait(); res.Status != StatusSucceeded {
		t.Errorf("c1 = %s, want SUCCEEDED", res.Status)
	}
	if err := r.StopExecution("arn:nope", "", ""); err == nil {
		t.Error("StopExecution(unknown) = nil, want an error")
	}
}

func TestRetryCountAndEnteredTime(t *testing.T) {
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	var seen []map[string]any
	r.Register("f", func(in map[string]any) (string, error) {
		seen = append(seen, in)
		if len(seen) < 3 {
			return "", xError{}
		}
		return "ok", nil
	})
	res, _ := run(t, r, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"f","Payload":{"retry.$":"$$.State.RetryCount","entered.$":"$$.State.EnteredTime","name.$":"$$.State.Name","exec.$":"$$.Execution.Name","sm.$":"$$.StateMachine.Name"}},
		"Retry":[{"ErrorEquals":["xError"],"IntervalSeconds":10}],"End":true}}}`, `{}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("Status = %s %s", res.Status, res.Cause)
	}
	want := []map[string]any{
		{"retry": 0.0, "entered": "2026-11-27T06:00:00.000Z", "name": "T", "exec": "test", "sm": "StateMachine"},
		{"retry": 1.0, "entered": "2026-11-27T06:00:00.000Z", "name": "T", "exec": "test", "sm": "StateMachine"},
		{"retry": 2.0, "entered": "2026-11-27T06:00:00.000Z", "name": "T", "exec": "test", "sm": "StateMachine"},
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
}

func TestTimeoutSecondsPathRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("waits one real second")
	}
	r := NewRunner(clock.Real{}, Options{})
	r.Register("slow", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	res, _ := run(t, r, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","TimeoutSecondsPath":"$.t",
		"Catch":[{"ErrorEquals":["States.Timeout"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`, `{"t":1}`)
	if got := jsonOf(t, string(res.Output)).(map[string]any)["Error"]; got != ErrTimeout {
		t.Errorf("caught %v, want States.Timeout (output %s)", got, res.Output)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("timeout after %s, want about 1s", d)
	}
}

func TestStartRefusals(t *testing.T) {
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	sm := mustLoad(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`)
	if res := r.Start(context.Background(), sm, "a", nil).Wait(); res.Status != StatusSucceeded || string(res.Output) != "{}" {
		t.Errorf("no input: %s %s, want SUCCEEDED {}", res.Status, res.Output)
	}
	if res := r.Start(context.Background(), sm, "a", json.RawMessage(`{}`)).Wait(); res.Error != "ExecutionAlreadyExists" {
		t.Errorf("same name again: %s %s, want ExecutionAlreadyExists", res.Status, res.Error)
	}
	if res := r.Start(context.Background(), sm, "b", json.RawMessage(`{`)).Wait(); res.Error != "InvalidExecutionInput" {
		t.Errorf("bad input: %s %s, want InvalidExecutionInput", res.Status, res.Error)
	}
}
