package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/sfnemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// toyDefinition waits an hour (virtual), then waits for a task-token
// callback, like the manual DS publisher.
const toyDefinition = `{"StartAt":"Gate","States":{
	"Gate":{"Type":"Wait","Seconds":3600,"Next":"PublishDS"},
	"PublishDS":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"notify","Payload":{"token.$":"$$.Task.Token","zone.$":"$.zone"}},
		"HeartbeatSeconds":86400,"End":true}}}`

type sfnStack struct {
	url    string
	runner *asl.Runner
	tokens chan string
	input  string // path of a file holding a valid input
}

// newSFNStack serves the Step Functions emulator on httptest with the toy
// workflow registered as "rotate-ksk", and shortens the follow pace.
func newSFNStack(t *testing.T) *sfnStack {
	t.Helper()
	saved := followPace
	followPace = pace{first: time.Millisecond, max: 10 * time.Millisecond, call: 5 * time.Second}
	t.Cleanup(func() { followPace = saved })
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_SFN", "")

	clk := clock.NewVirtual(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
	st := &sfnStack{runner: asl.NewRunner(clk, asl.Options{}), tokens: make(chan string, 4)}
	st.runner.Register("notify", func(in struct{ Token string }) error {
		st.tokens <- in.Token
		return nil
	})
	svc := sfnemu.New(clk, st.runner)
	sm, err := asl.Load([]byte(toyDefinition), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterStateMachine("rotate-ksk", sm); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	st.url = srv.URL
	st.input = filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(st.input, []byte(`{"zone":"example.test"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *sfnStack) token(t *testing.T) string {
	t.Helper()
	select {
	case tok := <-st.tokens:
		return tok
	case <-time.After(5 * time.Second):
		t.Fatal("no task token within 5s")
		return ""
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs dnssecctl in process with a bound, so a hang fails the test.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// goCLI runs dnssecctl on a goroutine.
func goCLI(t *testing.T, args ...string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, &stdout, &stderr)
		ch <- result{code, stdout.String(), stderr.String()}
	}()
	return ch
}

func TestRunNoWaitThenTaskSuccess(t *testing.T) {
	st := newSFNStack(t)
	r := cli(t, "run", "rotate-ksk", "--input", st.input, "--no-wait", "--name", "q4", "--endpoint", st.url)
	want := "arn:aws:states:us-east-1:123456789012:execution:rotate-ksk:q4"
	if r.code != exitOK || strings.TrimSpace(r.stdout) != want {
		t.Fatalf("run --no-wait = %d %q (stderr %q), want 0 and %s", r.code, r.stdout, r.stderr, want)
	}
	tok := st.token(t)
	// --token - reads the token from standard input.
	stdin = strings.NewReader(tok + "\n")
	t.Cleanup(func() { stdin = os.Stdin })
	if r := cli(t, "task", "heartbeat", "--token", "-", "--endpoint", st.url); r.code != exitOK || r.stdout != "task heartbeat sent\n" {
		t.Errorf("task heartbeat --token - = %d %q %q, want 0", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, "task", "success", "--token", tok, "--output", `{"ds":"published"}`, "--endpoint", st.url); r.code != exitOK {
		t.Fatalf("task success = %d %q", r.code, r.stderr)
	}
	e, ok := st.runner.Execution(want)
	if !ok {
		t.Fatalf("no execution %s", want)
	}
	select {
	case <-e.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("execution still running 5s after task success")
	}
	if res := e.Describe(); res.Status != asl.StatusSucceeded || string(res.Output) != `{"ds":"published"}` {
		t.Errorf("execution = %s %s, want SUCCEEDED with the task's output", res.Status, res.Output)
	}
	// The task is closed now: answering again is a failure, not a hang.
	if r := cli(t, "task", "success", "--token", tok, "--endpoint", st.url); r.code != exitFailure || !strings.Contains(r.stderr, "TaskTimedOut") {
		t.Errorf("task success on a closed task = %d %q, want 1 naming TaskTimedOut", r.code, r.stderr)
	}
}

func TestRunFollowsToSuccess(t *testing.T) {
	st := newSFNStack(t)
	stdin = strings.NewReader(`{"zone":"example.test"}`)
	t.Cleanup(func() { stdin = os.Stdin })
	// The endpoint comes from the environment, as with the local stack.
	t.Setenv("AWS_ENDPOINT_URL", st.url)
	done := goCLI(t, "run", "rotate-ksk", "--input", "-")
	tok := st.token(t)
	if r := cli(t, "task", "success", "--token", tok); r.code != exitOK {
		t.Fatalf("task success = %d %q", r.code, r.stderr)
	}
	r := <-done
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("run = %d, stderr %q, want 0 and nothing on stderr", r.code, r.stderr)
	}
	for _, want := range []string{
		"started arn:aws:states:us-east-1:123456789012:execution:rotate-ksk:",
		"2026-11-27T08:00:00Z  entered  Gate (Wait)",
		"2026-11-27T09:00:00Z  exited   Gate",
		"2026-11-27T09:00:00Z  entered  PublishDS (Task)",
		"waiting  for a task token callback",
		"exited   PublishDS",
		"SUCCEEDED arn:aws:states:us-east-1:123456789012:execution:rotate-ksk:",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "entered  Gate"); n != 1 {
		t.Errorf("run printed 'entered Gate' %d times, want once:\n%s", n, r.stdout)
	}
}

func TestRunJSON(t *testing.T) {
	st := newSFNStack(t)
	done := goCLI(t, "run", "rotate-ksk", "--input", st.input, "--json", "--endpoint", st.url)
	if r := cli(t, "task", "success", "--token", st.token(t), "--output", `{"ok":true}`, "--endpoint", st.url); r.code != exitOK {
		t.Fatalf("task success = %d %q", r.code, r.stderr)
	}
	r := <-done
	var got executionJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("run --json stdout is not JSON (%v): %q", err, r.stdout)
	}
	if r.code != exitOK || got.Status != "SUCCEEDED" || got.Output != `{"ok":true}` || got.Input != `{"zone":"example.test"}` ||
		got.StopDate == nil || got.StopDate.Sub(got.StartDate) != time.Hour {
		t.Errorf("run --json = %d %+v, want SUCCEEDED after the 1h Wait with the output", r.code, got)
	}
}

func TestRunFailure(t *testing.T) {
	st := newSFNStack(t)
	done := goCLI(t, "run", "rotate-ksk", "--input", st.input, "--endpoint", st.url)
	tok := st.token(t)
	if r := cli(t, "task", "failure", "--token", tok, "--error", "DSNotPublishedError", "--cause", "the registrar\nrefused the DS", "--endpoint", st.url); r.code != exitOK {
		t.Fatalf("task failure = %d %q", r.code, r.stderr)
	}
	r := <-done
	if r.code != exitFailure {
		t.Errorf("run = %d, want %d", r.code, exitFailure)
	}
	line := strings.TrimSpace(r.stderr)
	if strings.Count(line, "\n") != 0 || !strings.Contains(line, "FAILED") || !strings.Contains(line, "DSNotPublishedError") ||
		!strings.Contains(line, "the registrar refused the DS") {
		t.Errorf("run stderr = %q, want one line naming FAILED, the error and the cause", r.stderr)
	}
	if !strings.Contains(r.stdout, "FAILED arn:") {
		t.Errorf("run stdout lacks the FAILED summary:\n%s", r.stdout)
	}
}

func TestRunTimeoutLeavesExecutionRunning(t *testing.T) {
	st := newSFNStack(t)
	start := time.Now()
	r := cli(t, "run", "rotate-ksk", "--input", st.input, "--timeout", "300ms", "--endpoint", st.url)
	if r.code != exitFailure || !strings.Contains(r.stderr, "still RUNNING after --timeout 300ms") {
		t.Errorf("run --timeout 300ms = %d %q, want 1 saying it still runs", r.code, r.stderr)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("run --timeout 300ms took %v", el)
	}
}

func TestRunAndTaskBadInput(t *testing.T) {
	st := newSFNStack(t)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "input.txt")
	if err := os.WriteFile(notJSON, []byte("zone=example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A server that never answers: every call must still end.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) }) // runs first: Close waits for the handlers
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unreadable input", []string{"run", "rotate-ksk", "--input", filepath.Join(dir, "nope.json"), "--endpoint", st.url}, exitUsage, "no such file"},
		{"input not JSON", []string{"run", "rotate-ksk", "--input", notJSON, "--endpoint", st.url}, exitUsage, "is not JSON"},
		{"missing input", []string{"run", "rotate-ksk", "--endpoint", st.url}, exitUsage, "--input FILE|- is required"},
		{"unknown workflow", []string{"run", "rotate-zsk", "--input", st.input, "--endpoint", st.url}, exitUsage, `unknown workflow "rotate-zsk"`},
		{"no workflow", []string{"run", "--input", st.input, "--endpoint", st.url}, exitUsage, "want WORKFLOW"},
		{"two workflows", []string{"run", "a", "b", "--input", st.input}, exitUsage, "want one WORKFLOW"},
		{"unknown state machine ARN", []string{"run", "--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:nope", "--input", st.input, "--endpoint", st.url}, exitUsage, "StateMachineDoesNotExist"},
		{"bad execution name", []string{"run", "rotate-ksk", "--name", "a b", "--input", st.input, "--endpoint", st.url}, exitUsage, "InvalidName"},
		{"bad endpoint", []string{"run", "rotate-ksk", "--input", st.input, "--endpoint", "localhost:4566"}, exitUsage, "want an http or https URL"},
		{"bad flag", []string{"run", "--frobnicate"}, exitUsage, "flag provided but not defined"},
		{"endpoint that never answers", []string{"run", "rotate-ksk", "--input", st.input, "--timeout", "300ms", "--endpoint", hang.URL}, exitUnexpectedErr, "listing the state machines"},
		{"task without action", []string{"task"}, exitUsage, "want success, failure or heartbeat"},
		{"task unknown action", []string{"task", "retry", "--token", "x"}, exitUsage, "unknown action"},
		{"task without token", []string{"task", "success", "--endpoint", st.url}, exitUsage, "--token TOKEN is required"},
		{"task output not JSON", []string{"task", "success", "--token", "x", "--output", "{ok}", "--endpoint", st.url}, exitUsage, "is not JSON"},
		{"task invalid token", []string{"task", "success", "--token", "not-a-token", "--endpoint", st.url}, exitUsage, "InvalidToken"},
		{"task extra argument", []string{"task", "heartbeat", "--token", "x", "extra"}, exitUsage, "unexpected argument"},
		{"task endpoint that never answers", []string{"task", "heartbeat", "--token", "x", "--timeout", "300ms", "--endpoint", hang.URL}, exitUnexpectedErr, "no answer from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := cli(t, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("dnssecctl %q = %d, want %d (stderr %q)", tt.args, r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("dnssecctl %q stderr = %q, want it to mention %q", tt.args, r.stderr, tt.wantErr)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 {
				t.Errorf("dnssecctl %q printed %d stderr lines, want one: %q", tt.args, lines, r.stderr)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("dnssecctl %q took %v", tt.args, el)
			}
		})
	}
}
