package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var testStart = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func mustLoad(t *testing.T, def string) *StateMachine {
	t.Helper()
	sm, err := Load([]byte(def), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sm
}

func run(t *testing.T, r *Runner, def, input string) (Result, *Execution) {
	t.Helper()
	sm := mustLoad(t, def)
	name := "test"
	r.mu.Lock()
	for arn := range r.executions {
		if strings.HasSuffix(arn, ":test") {
			name = "" // a runner used twice: a fresh name
		}
	}
	r.mu.Unlock()
	e := r.Start(context.Background(), sm, name, json.RawMessage(input))
	done := make(chan Result, 1)
	go func() { done <- e.Wait() }()
	select {
	case res := <-done:
		return res, e
	case <-time.After(10 * time.Second):
		t.Fatalf("execution did not end; history: %v", e.History())
	}
	return Result{}, nil
}

func jsonOf(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return normalize(v)
}

// TestDataFlowGuideExamples uses the examples of the Step Functions guide
// ("Processing input and output", "ResultPath") with their documented outputs.
func TestDataFlowGuideExamples(t *testing.T) {
	tests := []struct {
		name, def, input, want string
	}{
		{
			// ResultPath "$.taskresult" keeps the input and adds the result.
			name:  "resultpath-adds",
			def:   `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":"Hello, AWS Step Functions!","ResultPath":"$.taskresult","End":true}}}`,
			input: `{"comment":"This is a test of the input and output of a Task state.","details":"Default example","who":"AWS Step Functions"}`,
			want:  `{"comment":"This is a test of the input and output of a Task state.","details":"Default example","who":"AWS Step Functions","taskresult":"Hello, AWS Step Functions!"}`,
		},
		{
			name:  "resultpath-replaces",
			def:   `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":"Hello, AWS Step Functions!","End":true}}}`,
			input: `{"who":"AWS Step Functions"}`,
			want:  `"Hello, AWS Step Functions!"`,
		},
		{
			name:  "resultpath-null-discards",
			def:   `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":"x","ResultPath":null,"End":true}}}`,
			input: `{"who":"AWS Step Functions"}`,
			want:  `{"who":"AWS Step Functions"}`,
		},
		{
			// The guide's InputPath/Parameters/ResultSelector/ResultPath/OutputPath walk-through.
			name: "full-pipeline",
			def: `{"StartAt":"S","States":{"S":{"Type":"Pass","InputPath":"$.library","Parameters":{"staticValue":"Just a string","catalog":{"myFavoriteItem.$":"$.my.favorite.item"}},
				"ResultPath":"$.pass","OutputPath":"$.pass","End":true}}}`,
			input: `{"library":{"my":{"favorite":{"item":"book"}}}}`,
			want:  `{"staticValue":"Just a string","catalog":{"myFavoriteItem":"book"}}`,
		},
		{
			name:  "resultpath-into-nested-new-objects",
			def:   `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":1,"ResultPath":"$.a.b.c","End":true}}}`,
			input: `{"a":{"x":0}}`,
			want:  `{"a":{"x":0,"b":{"c":1}}}`,
		},
		{
			name:  "outputpath-null",
			def:   `{"StartAt":"S","States":{"S":{"Type":"Pass","OutputPath":null,"End":true}}}`,
			input: `{"a":1}`,
			want:  `{}`,
		},
		{
			name:  "parameters-jsonpath-filter",
			def:   `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"cheap.$":"$.items[?(@.price < 10)].name"},"End":true}}}`,
			input: `{"items":[{"name":"a","price":5},{"name":"b","price":50}]}`,
			want:  `{"cheap":["a"]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRunner(clock.NewVirtual(testStart), Options{})
			res, _ := run(t, r, tc.def, tc.input)
			if res.Status != StatusSucceeded {
				t.Fatalf("Status = %s (%s: %s), want SUCCEEDED", res.Status, res.Error, res.Cause)
			}
			if diff := cmp.Diff(jsonOf(t, tc.want), jsonOf(t, string(res.Output))); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDataFlowErrors(t *testing.T) {
	tests := []struct {
		name, def, input, wantErr string
	}{
		{"resultpath-on-string", `{"StartAt":"S","States":{"S":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}}`, `{"a":"str"}`, ErrResultPathMatchFailure},
		{"inputpath-missing", `{"StartAt":"S","States":{"S":{"Type":"Pass","InputPath":"$.nope","End":true}}}`, `{}`, ErrRuntime},
		{"parameters-path-missing", `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"x.$":"$.nope"},"End":true}}}`, `{}`, ErrRuntime},
		{"choice-variable-missing", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`, `{}`, ErrRuntime},
		{"no-choice", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"E"}]},"E":{"Type":"Succeed"}}}`, `{"n":2}`, ErrNoChoiceMatched},
		{"wait-bad-secondspath", `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`, `{"s":-1}`, ErrRuntime},
		{"wait-bad-timestamp", `{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.t","End":true}}}`, `{"t":"2026-11-27 06:00"}`, ErrRuntime},
		{"output-over-quota", `{"StartAt":"S","States":{"S":{"Type":"Pass","Parameters":{"big.$":"States.ArrayRange(1, 1000, 1)","x.$":"States.Format('{}{}{}{}{}{}{}{}', $.s, $.s, $.s, $.s, $.s, $.s, $.s, $.s)"},"Next":"T"},"T":{"Type":"Pass","Parameters":{"a.$":"$.x","b.$":"$.x","c.$":"$.x","d.$":"$.x","e.$":"$.x","f.$":"$.x","g.$":"$.x","h.$":"$.x"},"End":true}}}`, `{"s":"` + strings.Repeat("x", 5000) + `"}`, ErrDataLimitExceeded},
		{"map-items-not-array", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}`, `{"a":1}`, ErrRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRunner(clock.NewVirtual(testStart), Options{})
			res, _ := run(t, r, tc.def, tc.input)
			if res.Status != StatusFailed || res.Error != tc.wantErr {
				t.Errorf("result = %s %s (%s), want FAILED %s", res.Status, res.Error, res.Cause, tc.wantErr)
			}
		})
	}
}

func TestIntrinsics(t *testing.T) {
	input := `{"arr":[1,2,2,3],"s":"a b","o":{"a":1},"n":7,"str":"x"}`
	tests := []struct {
		expr    string
		want    string // JSON; empty when wantErr
		wantErr bool
	}{
		{`States.Format('Hello, my name is {}.', $.s)`, `"Hello, my name is a b."`, false},
		{`States.Format('{} and {}', $.n, true)`, `"7 and true"`, false},
		{`States.Format('literal \{\} and \' and \\ {}', 1)`, `"literal {} and ' and \\ 1"`, false},
		{`States.Format('{} {}', 1)`, ``, true},
		{`States.Format('{}', $.o)`, ``, true},
		{`States.StringToJson('{"number": 20}')`, `{"number":20}`, false},
		{`States.JsonToString($.o)`, `"{\"a\":1}"`, false},
		{`States.Array('Foo', 2020, $.o, null)`, `["Foo",2020,{"a":1},null]`, false},
		{`States.ArrayPartition(States.ArrayRange(1, 7, 1), 4)`, `[[1,2,3,4],[5,6,7]]`, false},
		{`States.ArrayPartition($.arr, 0)`, ``, true},
		{`States.ArrayContains($.arr, 3)`, `true`, false},
		{`States.ArrayRange(1, 9, 2)`, `[1,3,5,7,9]`, false},
		{`States.ArrayRange(10, 1, -4)`, `[10,6,2]`, false},
		{`States.ArrayRange(1, 1001, 1)`, ``, true},
		{`States.ArrayRange(1, 2, 0)`, ``, true},
		{`States.ArrayGetItem($.arr, 1)`, `2`, false},
		{`States.ArrayGetItem($.arr, 9)`, ``, true},
		{`States.ArrayLength($.arr)`, `4`, false},
		{`States.ArrayUnique($.arr)`, `[1,2,3]`, false},
		{`States.Base64Encode('Data to encode')`, `"RGF0YSB0byBlbmNvZGU="`, false},
		{`States.Base64Decode('RGF0YSB0byBlbmNvZGU=')`, `"Data to encode"`, false},
		{`States.Base64Decode('!!')`, ``, true},
		{`States.Hash('input data', 'SHA-1')`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`, false},
		{`States.Hash('x', 'SHA-3')`, ``, true},
		{`States.JsonMerge($.o, States.StringToJson('{"a":2,"b":3}'), false)`, `{"a":2,"b":3}`, false},
		{`States.JsonMerge($.o, $.o, true)`, ``, true},
		{`States.MathAdd(111, -1)`, `110`, false},
		{`States.MathAdd(2147483648, 1)`, ``, true},
		{`States.MathRandom(5, 6)`, `5`, false},
		{`States.MathRandom(6, 5)`, ``, true},
		{`States.StringSplit('1,2,3,4,5', ',')`, `["1","2","3","4","5"]`, false},
		{`States.StringSplit($.str, 7)`, ``, true},
		{`States.ArrayLength(States.StringSplit($.s, ' '))`, `2`, false},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			fn, err := parseIntrinsic(tc.expr)
			if err != nil {
				t.Fatalf("parseIntrinsic: %v", err)
			}
			in, _ := decodeJSON([]byte(input))
			got, serr := fn.eval(in, nil)
			if tc.wantErr {
				if serr == nil || serr.Name != ErrIntrinsicFailure {
					t.Errorf("eval = %v, %v; want States.IntrinsicFailure", got, serr)
				}
				return
			}
			if serr != nil {
				t.Fatalf("eval: %v", serr)
			}
			if diff := cmp.Diff(jsonOf(t, tc.want), normalize(got)); diff != "" {
				t.Errorf("eval (-want +got):\n%s", diff)
			}
		})
	}
	u, _ := (&intrinsic{name: "States.UUID"}).eval(nil, nil)
	if s, _ := u.(string); len(s) != 36 || s[14] != '4' {
		t.Errorf("States.UUID() = %v, want a version 4 UUID", u)
	}
}

func TestIntrinsicParseErrors(t *testing.T) {
	for _, expr := range []string{
		`States.Nope(1)`, `States.ArrayLength()`, `States.Format('x'`, `States.Format('\q')`,
		`States.UUID(1)`, `States.Array(` + strings.Repeat("States.Array(", 10) + strings.Repeat(")", 11),
	} {
		if _, err := parseIntrinsic(expr); err == nil {
			t.Errorf("parseIntrinsic(%q) = nil error, want an error", expr)
		}
	}
}

func TestStringMatches(t *testing.T) {
	tests := []struct {
		s, pattern string
		want       bool
	}{
		{"log-20261127.txt", "log-*.txt", true},
		{"log-.txt", "log-*.txt", true},
		{"log-1.csv", "log-*.txt", false},
		{"a*b", `a\*b`, true},
		{"axb", `a\*b`, false},
		{`a\b`, `a\\b`, true},
		{"abcabc", "*c*c", true},
		{"", "*", true},
	}
	for _, tc := range tests {
		if got := stringMatches(tc.s, tc.pattern); got != tc.want {
			t.Errorf("stringMatches(%q, %q) = %v, want %v", tc.s, tc.pattern, got, tc.want)
		}
	}
}

func TestLoadRefusals(t *testing.T) {
	pass := `"P":{"Type":"Pass","End":true}`
	tests := []struct {
		name, def, want string
	}{
		{"jsonata", `{"QueryLanguage":"JSONata","StartAt":"P","States":{` + pass + `}}`, "QueryLanguage"},
		{"arguments", `{"StartAt":"P","States":{"P":{"Type":"Pass","Arguments":{},"End":true}}}`, `state "P": Arguments belongs to JSONata`},
		{"assign", `{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"x":1},"End":true}}}`, "Assign"},
		{"unknown-field", `{"StartAt":"P","States":{"P":{"Type":"Pass","Foo":1,"End":true}}}`, `unknown field(s) Foo`},
		{"unknown-resource", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::dynamodb:putItem","Parameters":{},"End":true}}}`, "dynamodb:putItem"},
		{"item-reader", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemReader":{},"ItemProcessor":{"StartAt":"P","States":{` + pass + `}},"End":true}}}`, "ItemReader"},
		{"missing-next", `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Q"}}}`, `transition to "Q"`},
		{"unreachable", `{"StartAt":"P","States":{` + pass + `,"Q":{"Type":"Pass","End":true}}}`, "unreachable state(s) Q"},
		{"no-terminal", `{"StartAt":"P","States":{"P":{"Type":"Pass"}}}`, "exactly one of Next"},
		{"choice-no-next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x"}]}}}`, "needs Next"},
		{"choice-two-ops", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","IsNull":true,"Next":"C"}]}}}`, "more than one operator"},
		{"choice-bad-operand", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":"x","Next":"C"}]}}}`, "needs a number"},
		{"states-all-not-last", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],"End":true}}}`, "States.ALL must be in the last"},
		{"states-all-not-alone", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Catch":[{"ErrorEquals":["States.ALL","X"],"Next":"T"}],"End":true}}}`, "alone"},
		{"bad-intrinsic", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.Nope()"},"End":true}}}`, "unknown intrinsic"},
		{"resultpath-not-reference", `{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}`, "not a reference path"},
		{"tolerated-inline", `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":1,"ItemProcessor":{"StartAt":"P","States":{` + pass + `}},"End":true}}}`, "only for a DISTRIBUTED"},
		{"duplicate-name", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}],"End":true}}}`, "used twice"},
		{"lambda-without-function", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"Payload":{}},"End":true}}}`, "FunctionName"},
		{"placeholder", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${Fn}","End":true}}}`, "placeholder(s) Fn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.def), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${CheckFn}","Payload.$":"$"},"End":true}}}`
	sm, err := Load([]byte(def), map[string]string{"CheckFn": "arn:aws:lambda:us-east-1:123456789012:function:check"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	r.Register("check", func(_ context.Context, in map[string]any) (string, error) { return "ok", nil })
	res := r.Start(context.Background(), sm, "", json.RawMessage(`{}`)).Wait()
	if res.Status != StatusSucceeded {
		t.Fatalf("Status = %s %s %s", res.Status, res.Error, res.Cause)
	}
	var out struct {
		Payload    string
		StatusCode int
	}
	json.Unmarshal(res.Output, &out)
	if out.Payload != "ok" || out.StatusCode != 200 {
		t.Errorf("lambda:invoke result = %s, want Payload ok and StatusCode 200", res.Output)
	}
}

// ZoneNotFoundError is a named error a step returns.
type ZoneNotFoundError struct{ Zone string }

func (e *ZoneNotFoundError) Error() string { return "zone " + e.Zone + " not found" }

func TestLambdaErrorNames(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload":{}},
		"Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`
	tests := []struct {
		name      string
		handler   any
		wantError string
		wantCause map[string]any
	}{
		{"named", func() error { return &ZoneNotFoundError{Zone: "example.test"} }, "ZoneNotFoundError",
			map[string]any{"errorMessage": "zone example.test not found", "errorType": "ZoneNotFoundError"}},
		{"wrapped", func() error { return fmt.Errorf("steps: check: %w", &ZoneNotFoundError{Zone: "x"}) }, "wrapError",
			map[string]any{"errorMessage": "steps: check: zone x not found", "errorType": "wrapError"}},
		{"plain", func() error { return errors.New("boom") }, "errorString",
			map[string]any{"errorMessage": "boom", "errorType": "errorString"}},
		{"bad-input-type", func(in int) error { return nil }, "UnmarshalTypeError", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRunner(clock.NewVirtual(testStart), Options{})
			r.Register("arn:aws:lambda:us-east-1:123456789012:function:f", tc.handler)
			res, _ := run(t, r, def, `{}`)
			var out struct{ Error, Cause string }
			json.Unmarshal(res.Output, &out)
			if out.Error != tc.wantError {
				t.Errorf("Error = %q, want %q", out.Error, tc.wantError)
			}
			if tc.wantCause != nil {
				var cause map[string]any
				if err := json.Unmarshal([]byte(out.Cause), &cause); err != nil {
					t.Fatalf("Cause %q is not JSON: %v", out.Cause, err)
				}
				if diff := cmp.Diff(tc.wantCause, cause); diff != "" {
					t.Errorf("Cause (-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("panic", func(t *testing.T) {
		r := NewRunner(clock.NewVirtual(testStart), Options{})
		r.Register("f", func() error { panic("kaboom") })
		res, _ := run(t, r, def, `{}`)
		var out struct{ Error, Cause string }
		json.Unmarshal(res.Output, &out)
		var cause struct {
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
			StackTrace   []any  `json:"stackTrace"`
		}
		json.Unmarshal([]byte(out.Cause), &cause)
		if out.Error != "string" || cause.ErrorMessage != "kaboom" || len(cause.StackTrace) == 0 {
			t.Errorf("panic gave Error %q, Cause %s; want string, kaboom and a stack trace", out.Error, out.Cause)
		}
	})
	t.Run("unknown-function", func(t *testing.T) {
		r := NewRunner(clock.NewVirtual(testStart), Options{})
		res, _ := run(t, r, def, `{}`)
		if !strings.Contains(string(res.Output), "Lambda.ResourceNotFoundException") {
			t.Errorf("output = %s, want Lambda.ResourceNotFoundException", res.Output)
		}
	})
}

// TestVirtualWait: a two-day Wait passes at once on a virtual clock, the
// clock ends at the deadline, and the progress line tells a person.
func TestVirtualWait(t *testing.T) {
	vc := clock.NewVirtual(testStart)
	var progress bytes.Buffer
	wall := time.Date(2026, 11, 27, 12, 0, 3, 0, time.UTC)
	r := NewRunner(vc, Options{Progress: &progress, Wall: func() time.Time { return wall }})
	def := `{"StartAt":"WaitForDSTTL","States":{"WaitForDSTTL":{"Type":"Wait","TimestampPath":"$.gate","Next":"Retry"},
		"Retry":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Retry":[{"ErrorEquals":["xError"],"IntervalSeconds":60,"BackoffRate":2,"MaxAttempts":2}],"End":true}}}`
	calls := 0
	r.Register("f", func() (string, error) {
		calls++
		if calls < 3 {
			return "", xError{}
		}
		return "ok", nil
	})
	start := time.Now()
	res, e := run(t, r, def, `{"gate":"2026-11-29T06:00:00Z"}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("Status = %s %s %s", res.Status, res.Error, res.Cause)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("a virtual two-day wait took %s", time.Since(start))
	}
	// 48h wait, then retries after 60s and 120s.
	if got, want := vc.Now(), testStart.Add(48*time.Hour+180*time.Second); !got.Equal(want) {
		t.Errorf("clock after run = %v, want %v", got, want)
	}
	// Transitions: 2 states entered + 2 retries.
	if res.Transitions != 4 {
		t.Errorf("Transitions = %d, want 4", res.Transitions)
	}
	wantLine := "12:00:03 [virtual 2026-11-27T06:00Z] Wait WaitForDSTTL until 2026-11-29T06:00Z (48h0m0s)"
	if !strings.Contains(progress.String(), wantLine) {
		t.Errorf("progress =\n%s\nwant a line %q", progress.String(), wantLine)
	}
	var types []string
	for _, ev := range e.History() {
		types = append(types, ev.Type)
	}
	want := []string{"ExecutionStarted", "WaitStateEntered", "WaitStateExited", "TaskStateEntered",
		"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
		"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
		"LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
		"TaskStateExited", "ExecutionSucceeded"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("history types (-want +got):\n%s", diff)
	}
	for i, ev := range e.History() {
		if ev.ID != int64(i+1) || ev.PreviousEventID != int64(i) {
			t.Errorf("event %d: id %d previousEventId %d, want %d and %d", i, ev.ID, ev.PreviousEventID, i+1, i)
		}
	}
}

type xError struct{}

func (xError) Error() string { return "x" }

// TestParallelWaitsAdvanceTogether: two branches waiting 1h and 2h end at
// +2h, not +3h, and both wait on the same clock.
func TestParallelWaitsAdvanceTogether(t *testing.T) {
	vc := clock.NewVirtual(testStart)
	r := NewRunner(vc, Options{})
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"W1","States":{"W1":{"Type":"Wait","Seconds":3600,"Next":"W1b"},"W1b":{"Type":"Wait","Seconds":3600,"End":true}}},
		{"StartAt":"W2","States":{"W2":{"Type":"Wait","Seconds":7200,"End":true}}}]}}}`
	res, e := run(t, r, def, `{"x":1}`)
	if res.Status != StatusSucceeded {
		t.Fatalf("Status = %s", res.Status)
	}
	if got, want := vc.Now(), testStart.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("clock = %v, want %v", got, want)
	}
	if diff := cmp.Diff(jsonOf(t, `[{"x":1},{"x":1}]`), jsonOf(t, string(res.Output))); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	// Events of each branch chain to the ParallelStateStarted event.
	h := e.History()
	var started int64
	for _, ev := range h {
		if ev.Type == "ParallelStateStarted" {
			started = ev.ID
		}
	}
	n := 0
	for _, ev := range h {
		if ev.Type == "WaitStateEntered" && ev.PreviousEventID == started {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d branch starts chain to ParallelStateStarted (id %d), want 2", n, started)
	}
}

func TestTimeoutAndStop(t *testing.T) {
	t.Run("execution-timeout", func(t *testing.T) {
		r := NewRunner(clock.NewVirtual(testStart), Options{})
		res, e := run(t, r, `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`, `{}`)
		if res.Status != StatusTimedOut || res.Error != ErrTimeout {
			t.Errorf("result = %s %s, want TIMED_OUT States.Timeout", res.Status, res.Error)
		}
		h := e.History()
		if last := h[len(h)-1].Type; last != "ExecutionTimedOut" {
			t.Errorf("last event = %s, want ExecutionTimedOut", last)
		}
	})
	t.Run("stop", func(t *testing.T) {
		r := NewRunner(clock.NewVirtual(testStart), Options{NoAutoAdvance: true})
		sm := mustLoad(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
		e := r.Start(context.Background(), sm, "s", json.RawMessage(`{}`))
		if err := r.StopExecution(e.ARN, "Operator", "stopped by hand"); err != nil {
			t.Fatal(err)
		}
		res := e.Wait()
		if res.Status != StatusAborted || res.Error != "Operator" {
			t.Errorf("result = %s %s, want ABORTED Operator", res.Status, res.Error)
		}
	})
	t.Run("task-token-timeout", func(t *testing.T) {
		vc := clock.NewVirtual(testStart)
		r := NewRunner(vc, Options{})
		r.Register("f", func(in map[string]any) error { return nil })
		sm := mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
			"Parameters":{"FunctionName":"f","Payload":{"token.$":"$$.Task.Token"}},"HeartbeatSeconds":60,"TimeoutSeconds":600,"End":true}}}`)
		e := r.Start(context.Background(), sm, "", json.RawMessage(`{}`))
		waitTokens(t, r, 1)
		vc.Advance(61 * time.Second)
		res := e.Wait()
		if res.Status != StatusFailed || res.Error != ErrHeartbeatTimeout {
			t.Errorf("result = %s %s, want FAILED States.HeartbeatTimeout", res.Status, res.Error)
		}
	})
}

func waitTokens(t *testing.T, r *Runner, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if toks := r.TaskTokens(); len(toks) == n {
			return toks
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %d task tokens appeared", n)
	return nil
}

func TestTaskToken(t *testing.T) {
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	got := make(chan string, 1)
	r.Register("notify", func(in struct{ Token string }) error {
		got <- in.Token
		return nil
	})
	sm := mustLoad(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		"Parameters":{"FunctionName":"notify","Payload":{"Token.$":"$$.Task.Token"}},"ResultPath":"$.callback","Next":"U"},
		"U":{"Type":"Task","Resource":"arn:aws:states:::sns:publish.waitForTaskToken","Parameters":{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message.$":"$$.Task.Token"},"End":true}}}`)
	pub := &fakePublisher{}
	r.opts.Publisher = pub
	e := r.Start(context.Background(), sm, "", json.RawMessage(`{"zone":"example.test"}`))
	tok := <-got
	if err := r.SendTaskHeartbeat(tok); err != nil {
		t.Fatal(err)
	}
	if err := r.SendTaskSuccess(tok, json.RawMessage(`{"ds":"published"}`)); err != nil {
		t.Fatal(err)
	}
	var toks []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if toks = r.TaskTokens(); len(toks) == 1 && toks[0] != tok {
			break
		}
	}
	if err := r.SendTaskFailure(toks[0], "ManualRejected", "operator said no"); err != nil {
		t.Fatal(err)
	}
	res := e.Wait()
	if res.Status != StatusFailed || res.Error != "ManualRejected" || res.Cause != "operator said no" {
		t.Errorf("result = %s %s %s, want FAILED ManualRejected", res.Status, res.Error, res.Cause)
	}
	if pub.messages() != 1 {
		t.Errorf("published %d messages, want 1", pub.messages())
	}
	if err := r.SendTaskSuccess("nope", json.RawMessage(`{}`)); err == nil {
		t.Error("SendTaskSuccess(unknown token) = nil, want an error")
	}
}

type fakePublisher struct {
	n int
}

func (p *fakePublisher) Publish(_ context.Context, topic, subject, message string) (string, error) {
	p.n++
	return "msg-1", nil
}
func (p *fakePublisher) messages() int { return p.n }

func TestStartExecutionSync(t *testing.T) {
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	child := mustLoad(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"Next":"C"},"C":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"F"}],"Default":"S"},
		"S":{"Type":"Pass","Parameters":{"rotated.$":"$.zone"},"End":true},"F":{"Type":"Fail","Error":"RotationFailed","Cause":"bad"}}}`)
	childARN := r.AddStateMachine("rotate-ksk", child)
	parent := mustLoad(t, `{"StartAt":"Run","States":{"Run":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
		"Parameters":{"StateMachineArn":"`+childARN+`","Input":{"zone.$":"$.zone","fail.$":"$.fail"}},
		"ResultSelector":{"out.$":"$.Output","status.$":"$.Status"},"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"Failed"}],"End":true},
		"Failed":{"Type":"Pass","End":true}}}`)
	res := r.Start(context.Background(), parent, "ok", json.RawMessage(`{"zone":"example.test","fail":false}`)).Wait()
	if diff := cmp.Diff(jsonOf(t, `{"out":{"rotated":"example.test"},"status":"SUCCEEDED"}`), jsonOf(t, string(res.Output))); diff != "" {
		t.Errorf("sync:2 output (-want +got):\n%s", diff)
	}
	res = r.Start(context.Background(), parent, "bad", json.RawMessage(`{"zone":"example.test","fail":true}`)).Wait()
	var caught struct{ Error, Cause string }
	json.Unmarshal(res.Output, &caught)
	if caught.Error != ErrTaskFailed || !strings.Contains(caught.Cause, `"Error":"RotationFailed"`) {
		t.Errorf("failed child caught as %q / %s, want States.TaskFailed with the child's error", caught.Error, caught.Cause)
	}
}

func TestDistributedMapTolerance(t *testing.T) {
	def := func(tol string) string {
		return `{"StartAt":"M","States":{"M":{"Type":"Map",` + tol + `"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
		"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericGreaterThan":8,"Next":"F"}],"Default":"W"},
		"W":{"Type":"Wait","Seconds":300,"End":true},"F":{"Type":"Fail","Error":"TooBig"}}},"End":true}}}`
	}
	items := `[1,2,3,4,5,6,7,8,9,10]`
	tests := []struct {
		tol, wantStatus string
	}{
		{``, StatusFailed},
		{`"ToleratedFailureCount":2,`, StatusSucceeded},
		{`"ToleratedFailureCount":1,`, StatusFailed},
		{`"ToleratedFailurePercentage":20,`, StatusSucceeded},
		{`"ToleratedFailurePercentage":10,`, StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.tol, func(t *testing.T) {
			r := NewRunner(clock.NewVirtual(testStart), Options{})
			res, _ := run(t, r, def(tc.tol), items)
			if res.Status != tc.wantStatus {
				t.Fatalf("Status = %s (%s), want %s", res.Status, res.Error, tc.wantStatus)
			}
			if res.Status == StatusFailed && res.Error != ErrExceedToleratedFailures {
				t.Errorf("Error = %s, want %s", res.Error, ErrExceedToleratedFailures)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		eq   []string
		name string
		want bool
	}{
		{[]string{ErrAll}, "Custom", true},
		{[]string{ErrAll}, ErrRuntime, false},
		{[]string{ErrAll}, ErrDataLimitExceeded, false},
		{[]string{ErrRuntime}, ErrRuntime, true},
		{[]string{ErrTaskFailed}, "Custom", true},
		{[]string{ErrTaskFailed}, ErrTimeout, false},
		{[]string{"A", "B"}, "B", true},
		{[]string{"A"}, "a", false},
	}
	for _, tc := range tests {
		if got := matches(tc.eq, tc.name); got != tc.want {
			t.Errorf("matches(%v, %q) = %v, want %v", tc.eq, tc.name, got, tc.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	rt := retrier{interval: 3 * time.Second, backoff: 2, maxDelay: 10 * time.Second}
	for i, want := range []time.Duration{3 * time.Second, 6 * time.Second, 10 * time.Second, 10 * time.Second} {
		if got := retryDelay(rt, i); got != want {
			t.Errorf("retryDelay(attempt %d) = %v, want %v", i, got, want)
		}
	}
	rt.fullJitter = true
	for range 100 {
		if got := retryDelay(rt, 1); got < 0 || got > 6*time.Second {
			t.Fatalf("FULL jitter delay %v outside [0, 6s]", got)
		}
	}
}

func TestLint(t *testing.T) {
	retry := `"Retry":[{"ErrorEquals":["Lambda.ServiceException","Lambda.AWSLambdaException","Lambda.SdkClientException","Lambda.TooManyRequestsException"],"IntervalSeconds":2,"MaxAttempts":6,"BackoffRate":2}]`
	good := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${CheckFn}","Payload.$":"$"},` + retry + `,"End":true}}}`
	if p := Lint([]byte(good), map[string]string{"CheckFn": "arn:aws:lambda:us-east-1:123456789012:function:check"}); len(p) != 0 {
		t.Errorf("Lint(good) = %v, want none", p)
	}
	p := Lint([]byte(good), nil)
	if len(p) != 1 || !strings.Contains(p[0].String(), "${CheckFn}") {
		t.Errorf("Lint(no subs) = %v, want the placeholder", p)
	}
	noRetry := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"},"End":true}}}`
	p = Lint([]byte(noRetry), nil)
	if len(p) != 1 || p[0].State != "T" {
		t.Errorf("Lint(no retry) = %v, want one problem on T", p)
	}
	unreachable := `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true},"Q":{"Type":"Pass","End":true}}}`
	p = Lint([]byte(unreachable), nil)
	if len(p) != 1 || !strings.Contains(p[0].String(), "unreachable") {
		t.Errorf("Lint(unreachable) = %v, want an unreachable state", p)
	}
}

// TestHistoryLimit: with HistoryLimit the runner keeps only the newest
// events of a failed execution and the last of one that succeeded, yet
// numbers every event and shows every one to OnEvent.
func TestHistoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		last     map[string]any
		status   string
		min, max int
		lastType string
	}{
		{"succeeded", map[string]any{"Type": "Pass", "End": true}, StatusSucceeded, 1, 1, "ExecutionSucceeded"},
		{"failed", map[string]any{"Type": "Fail", "Error": "E"}, StatusFailed, 10, 10, "ExecutionFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			states := map[string]any{}
			for i := range 49 {
				states[fmt.Sprintf("P%d", i)] = map[string]any{"Type": "Pass", "Next": fmt.Sprintf("P%d", i+1)}
			}
			states["P49"] = tc.last
			def, _ := json.Marshal(map[string]any{"StartAt": "P0", "States": states})
			sm, err := Load(def, nil)
			if err != nil {
				t.Fatal(err)
			}
			var seen atomic.Int64
			var kept []int
			r := NewRunner(clock.NewVirtual(testStart), Options{HistoryLimit: 10, OnEvent: func(ex *Execution, _ Event) {
				seen.Add(1)
				kept = append(kept, len(ex.History()))
			}})
			ex := r.Start(context.Background(), sm, "", json.RawMessage(`{}`))
			if res := ex.Wait(); res.Status != tc.status {
				t.Fatalf("%s %s, want %s", res.Status, res.Error, tc.status)
			}
			if m := slices.Max(kept); m > 20 {
				t.Errorf("kept up to %d events while running, want at most 20", m)
			}
			h := ex.History()
			// started, entered+exited per Pass state, then a Fail's entered or a Pass's entered+exited, the end
			total := int64(1 + 49*2 + 2 + 1)
			if tc.status == StatusFailed {
				total--
			}
			if len(h) < tc.min || len(h) > tc.max {
				t.Errorf("kept %d events at the end, want %d to %d", len(h), tc.min, tc.max)
			}
			if last := h[len(h)-1]; last.ID != total || last.Type != tc.lastType {
				t.Errorf("last event %d %s, want %d %s", last.ID, last.Type, total, tc.lastType)
			}
			if seen.Load() != total {
				t.Errorf("OnEvent saw %d events, want %d", seen.Load(), total)
			}
		})
	}
}
