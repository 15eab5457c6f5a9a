package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The project's workflows (statemachines/*.asl.json, found by glob) run in
// this runner and in aws-local-stepfunctions with the same scripted task
// results; the two must agree on the path of states, every task input and
// the final output or error (the machinery of conformance_test.go).
//
// Task results are data, generated here once and given to both runners: a
// State (internal/steps) named after the answering state and its call
// count, with poll.done, gate.ready and gate.at (a fixed past time) set by
// the scenario. The scenarios of every file are generic: the happy path, a
// dry run, every poll loop taken once (first answer not done), every gate
// loop taken once (first answer not ready), the Lambda retry and the
// ServiceBusyError retry on every Task, and named errors: for every Catch
// target met on a path, the first and the last Task that leads to it throws
// PropagationTimeoutError (ConcurrentRunError for the StartAt Task, a
// preflight refusal), then again inside the error handling so reached (a
// failing rollback, a failing release of the lock), to a depth of three.
// In rotate-ksk this gives the rollback path (before the removal of the old
// DS) and the forward-only stop (after it). An error scenario that reaches
// a Task no loop scenario has run runs again with its poll and gate loops;
// every Wait state must be entered in some scenario.
//
// Known deviations of the oracle handled here: it never matches
// {"IsPresent": false} (conformance case ispresent-false), so its copy
// carries the equivalent {"Not": {"IsPresent": true}} (oracleEquivalent);
// it takes $$.Execution.StartTime from the wall clock, so driver.mjs pins it
// to the spec's start (conformance case context-execution-starttime).
//
// Each Task's Resource is pointed, in the test's copy only, at a function
// named after its state (the oracle dispatches by state name, this runner
// by function name); the function's name is no part of the data flow.
// Wait states take no time: waitTimeOverrides 0 in the oracle, a virtual
// clock here; paths are compared, not times.

var smStateName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// smPastGate is the gate.at of every answer: before the executions start,
// so a TimestampPath Wait ends at once in both runners.
const smPastGate = "2026-11-27T05:00:00Z"

// conformanceDefinition substitutes the placeholders of the file's
// definition and points every Task at a function named after its state. A
// non-empty reason says why the oracle cannot run the file.
func conformanceDefinition(def []byte, subs map[string]string) (out []byte, reason string, err error) {
	src, err := Substitute(def, subs)
	if err != nil {
		return nil, "", err
	}
	d := json.NewDecoder(bytes.NewReader(src))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, "", err
	}
	var walk func(states map[string]any) string
	walk = func(states map[string]any) string {
		for name, v := range states {
			st, _ := v.(map[string]any)
			for _, b := range asSlice(st["Branches"]) {
				if r := walk(asMap(asMap(b)["States"])); r != "" {
					return r
				}
			}
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if p := asMap(st[k]); p != nil {
					if r := walk(asMap(p["States"])); r != "" {
						return r
					}
				}
			}
			if st["Type"] != "Task" {
				continue
			}
			if !smStateName.MatchString(name) {
				return fmt.Sprintf("Task state %q: its name cannot be a function name", name)
			}
			res, _ := st["Resource"].(string)
			switch {
			case strings.HasPrefix(res, "arn:aws:lambda:"):
				st["Resource"] = "arn:aws:lambda:us-east-1:123456789012:function:" + name
			case res == "arn:aws:states:::lambda:invoke.waitForTaskToken":
				// The oracle has no task-token callbacks; no generated
				// scenario enters such a state (they are the manual
				// publisher's waitForCallback branch), so the test's copy runs it
				// as a plain lambda:invoke to accept the file.
				p := asMap(st["Parameters"])
				if p == nil {
					return fmt.Sprintf("Task state %q: lambda:invoke.waitForTaskToken without Parameters", name)
				}
				st["Resource"] = "arn:aws:states:::lambda:invoke"
				delete(p, "FunctionName.$")
				p["FunctionName"] = name
			case res == "arn:aws:states:::lambda:invoke":
				p := asMap(st["Parameters"])
				if p == nil {
					return fmt.Sprintf("Task state %q: lambda:invoke without Parameters", name)
				}
				delete(p, "FunctionName.$")
				p["FunctionName"] = name
			default:
				return fmt.Sprintf("Task state %q uses %s, which the oracle cannot run (it runs Lambda functions only)", name, res)
			}
		}
		return ""
	}
	if r := walk(asMap(doc["States"])); r != "" {
		return nil, r, nil
	}
	out, err = json.Marshal(doc)
	return out, "", err
}

// oracleEquivalent rewrites, in the oracle's copy only, each Choice rule
// {"Variable": v, "IsPresent": false} as {"Not": {"Variable": v,
// "IsPresent": true}}: the same rule (the States Language compares the
// field's presence with the operator's value), which the oracle gets right,
// while it never matches IsPresent false (the known deviation of the
// conformance case ispresent-false). It returns the states rewritten.
func oracleEquivalent(def []byte) (out []byte, rewritten []string, err error) {
	d := json.NewDecoder(bytes.NewReader(def))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return nil, nil, err
	}
	var rule func(r map[string]any) (map[string]any, bool)
	rule = func(r map[string]any) (map[string]any, bool) {
		if r == nil {
			return nil, false
		}
		if r["IsPresent"] == false {
			out := map[string]any{"Not": map[string]any{"Variable": r["Variable"], "IsPresent": true}}
			for _, k := range []string{"Next", "Comment"} {
				if v, ok := r[k]; ok {
					out[k] = v
				}
			}
			return out, true
		}
		changed := false
		for _, k := range []string{"And", "Or"} {
			for i, sub := range asSlice(r[k]) {
				if n, ok := rule(asMap(sub)); ok {
					r[k].([]any)[i], changed = n, true
				}
			}
		}
		if n, ok := rule(asMap(r["Not"])); ok {
			r["Not"], changed = n, true
		}
		return r, changed
	}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for name, v := range states {
			st := asMap(v)
			for i, c := range asSlice(st["Choices"]) {
				if n, ok := rule(asMap(c)); ok {
					st["Choices"].([]any)[i] = n
					rewritten = append(rewritten, name)
				}
			}
			for _, b := range asSlice(st["Branches"]) {
				walk(asMap(asMap(b)["States"]))
			}
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				walk(asMap(asMap(st[k])["States"]))
			}
		}
	}
	walk(asMap(doc["States"]))
	if len(rewritten) == 0 {
		return def, nil, nil
	}
	sort.Strings(rewritten)
	out, err = json.Marshal(doc)
	return out, slices.Compact(rewritten), err
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }

// smScenario is one scripted run of a workflow.
type smScenario struct {
	name       string
	dryRun     bool
	firstPoll  bool     // every Task's first answer has poll.done false
	firstGate  bool     // every Task's first answer has gate.ready false
	keepKMS    bool     // disable.deleteKmsKeys false
	firstThrow string   // every Task's first call throws this error (a retried one)
	throwers   []string // each throws a named error on its first call
	// needsPerson: alarm-response's remediate leaves work for a person.
	needsPerson bool
}

// smInput is the console input (internal/steps.Input), with the fields of
// enable-validation's input (internal/steps.ValidationInput) too: the zone
// workflows ignore them, and its Map needs a VPC to iterate over.
func smInput(dryRun bool) string {
	return fmt.Sprintf(`{"hostedZoneId":"Z0123456789ABCDEFGHIJ","zoneName":"example.test","dsPublisher":{"kind":"manual"},"safetyMarginSeconds":3600,"dryRun":%t,"vpcIds":["vpc-0a1b2c3d4e5f60718"],"validation":"ENABLE"}`, dryRun)
}

// smAnswer is the State a Task returns on its call-th call (from 1). The
// StartAt Task (the preflight) creates the State: it has no KSK yet.
func smAnswer(sc smScenario, stateName string, call int, first bool) map[string]any {
	ksk := func(name, pub string) map[string]any {
		return map[string]any{"name": name, "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/" + name, "status": "ACTIVE",
			"dnskey": map[string]any{"flags": 257, "algorithm": 13, "publicKey": pub}}
	}
	s := map[string]any{
		"workflow":     "conformance",
		"hostedZoneId": "Z0123456789ABCDEFGHIJ",
		"zone":         "example.test.",
		"dryRun":       sc.dryRun,
		"lockHeld":     !sc.dryRun,
		"poll":         map[string]any{"done": !(sc.firstPoll && call == 1), "delaySeconds": 1, "loop": stateName, "count": call},
		"gate":         map[string]any{"at": smPastGate, "ready": !(sc.firstGate && call == 1)},
		"disable":      map[string]any{"deleteKmsKeys": !sc.keepKMS},
		"timeline":     []any{fmt.Sprintf("%s#%d", stateName, call)},
		// alarm-response: verify and end SUCCEEDED, or (needsPerson)
		// notify the runbook and fail with AlarmNotRemediableError.
		"alarm": map[string]any{"verify": !sc.needsPerson, "dsPublished": true, "outcome": map[bool]string{false: "repaired", true: "needs-person"}[sc.needsPerson], "cause": "scripted runbook"},
	}
	if !first {
		s["ksk"] = ksk("ksk_20261127060000", "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")
		s["oldKsk"] = ksk("ksk_20250101000000", "oJMRESz5E4gYzS/q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVfRvMGPmM1x8fGAa2XhSA==")
	}
	return s
}

// smScript is the table of answers per Task state for sc.
func smScript(sc smScenario, tasks []string, startAt string) map[string][]scriptStep {
	out := map[string][]scriptStep{}
	for _, name := range tasks {
		var script []scriptStep
		switch {
		case slices.Contains(sc.throwers, name) && name == startAt:
			script = append(script, scriptStep{Throw: &stepThrow{Error: "ConcurrentRunError", Cause: "example.test.: another execution holds the lock"}})
		case slices.Contains(sc.throwers, name):
			script = append(script, scriptStep{Throw: &stepThrow{Error: "PropagationTimeoutError", Cause: "example.test.: ns2.example.test. still serves the previous answer"}})
		case sc.firstThrow != "":
			script = append(script, scriptStep{Throw: &stepThrow{Error: sc.firstThrow, Cause: "scripted " + sc.firstThrow}})
		}
		for call := 1; len(script) < 4; call++ {
			script = append(script, scriptStep{Return: smAnswer(sc, name, call, name == startAt)})
		}
		out[name] = script
	}
	return out
}

// smWorkflow is one file, ready to run.
type smWorkflow struct {
	file      string
	def       string
	oracleDef string // def in the form the oracle gets right (oracleEquivalent)
	sm        *StateMachine
	tasks     []string            // sorted
	catches   map[string][]string // Task -> its Catch targets
	states    []string            // every state, sorted
	waits     []string            // the Wait states
}

func (w smWorkflow) confCase(sc smScenario) confCase {
	return confCase{
		name:      strings.TrimSuffix(w.file, ".asl.json") + "/" + sc.name,
		def:       w.def,
		oracleDef: w.oracleDef,
		input:     smInput(sc.dryRun),
		tasks:     smScript(sc, w.tasks, w.sm.top.startAt),
	}
}

// smScenarios derives the scenarios of w; the error scenarios follow the
// paths this runner takes (both runners then run them all).
func smScenarios(t *testing.T, w smWorkflow) []smScenario {
	t.Helper()
	base := []smScenario{
		{name: "happy"},
		{name: "dry-run", dryRun: true},
	}
	if w.file == "alarm-response.asl.json" {
		base = append(base, smScenario{name: "needs-person", needsPerson: true})
	}
	out := append([]smScenario(nil), base...)
	out = append(out,
		smScenario{name: "poll-loops", firstPoll: true},
		smScenario{name: "gate-loops", firstGate: true, keepKMS: true},
		smScenario{name: "lambda-retry", firstThrow: "Lambda.ServiceException"},
		smScenario{name: "busy-retry", firstThrow: "ServiceBusyError"},
	)
	seen := map[string]bool{}
	level := base
	for depth := 0; depth < 3 && len(level) > 0; depth++ {
		var next []smScenario
		for _, sc := range level {
			path := runOurs(t, w.confCase(sc)).Path
			from := 0
			if n := len(sc.throwers); n > 0 {
				from = slices.Index(path, sc.throwers[n-1]) + 1
			}
			// The first and the last Task after the last thrower that
			// leads to each Catch target not yet met from this scenario.
			first, last := map[string]string{}, map[string]string{}
			var targets []string
			for _, st := range path[from:] {
				for _, target := range w.catches[st] {
					if _, ok := first[target]; !ok {
						first[target] = st
						targets = append(targets, target)
					}
					last[target] = st
				}
			}
			for _, target := range targets {
				for _, thrower := range []string{first[target], last[target]} {
					throwers := append(slices.Clone(sc.throwers), thrower)
					key := fmt.Sprint(sc.dryRun, throwers)
					if seen[key] || slices.Contains(sc.throwers, thrower) {
						continue
					}
					seen[key] = true
					n := sc
					n.throwers = throwers
					n.name = fmt.Sprintf("%s-throws-in-%s", map[bool]string{false: "run", true: "dry-run"}[sc.dryRun], strings.Join(throwers, "+"))
					next = append(next, n)
				}
			}
		}
		out = append(out, next...)
		level = next
	}
	// The poll and gate loops of the error handling: each error scenario
	// that reaches a Task no loop scenario has run runs again with loops.
	looped := map[string]bool{}
	for _, sc := range out {
		if !sc.firstPoll {
			continue
		}
		for _, st := range runOurs(t, w.confCase(sc)).Path {
			looped[st] = true
		}
	}
	for _, sc := range slices.Clone(out) {
		if len(sc.throwers) == 0 {
			continue
		}
		path := runOurs(t, w.confCase(sc)).Path
		if !slices.ContainsFunc(path, func(st string) bool { return w.isTask(st) && !looped[st] }) {
			continue
		}
		for _, st := range path {
			looped[st] = true
		}
		p, g := sc, sc
		p.name, p.firstPoll = sc.name+"-poll-loops", true
		g.name, g.firstGate = sc.name+"-gate-loops", true
		out = append(out, p, g)
	}
	return out
}

func (w smWorkflow) isTask(name string) bool { _, ok := slices.BinarySearch(w.tasks, name); return ok }

func loadWorkflow(t *testing.T, file string, subs map[string]string) (smWorkflow, string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	def, reason, err := conformanceDefinition(raw, subs)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if reason != "" {
		return smWorkflow{}, reason
	}
	sm, err := Load(def, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", file, err)
	}
	w := smWorkflow{file: filepath.Base(file), def: string(def), sm: sm, catches: map[string][]string{}}
	odef, rewritten, err := oracleEquivalent(def)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(rewritten) > 0 {
		w.oracleDef = string(odef)
		t.Logf("%s: the oracle runs IsPresent false as Not IsPresent true in %v (known deviation: IsPresent: false never matches)", w.file, rewritten)
	}
	var walk func(m *machine)
	walk = func(m *machine) {
		for n, st := range m.states {
			w.states = append(w.states, n)
			switch st.typ {
			case "Task":
				w.tasks = append(w.tasks, n)
			case "Wait":
				w.waits = append(w.waits, n)
			}
			for _, c := range st.catch {
				w.catches[n] = append(w.catches[n], c.next)
			}
			for _, b := range st.branches {
				walk(b)
			}
			if st.processor != nil {
				walk(st.processor)
			}
		}
	}
	walk(sm.top)
	sort.Strings(w.tasks)
	sort.Strings(w.states)
	return w, ""
}

func TestProjectStateMachinesConformance(t *testing.T) {
	files := projectDefinitions(t)
	subs := projectSubstitutions(t)
	confTool(t) // skip before deriving the scenarios when the oracle is absent
	var flows []smWorkflow
	var cases []confCase
	var owner []int // cases[i] runs flows[owner[i]]
	for _, f := range files {
		w, reason := loadWorkflow(t, f, subs)
		if reason != "" {
			t.Logf("%s: not run through the oracle: %s", filepath.Base(f), reason)
			continue
		}
		for _, sc := range smScenarios(t, w) {
			cases = append(cases, w.confCase(sc))
			owner = append(owner, len(flows))
		}
		flows = append(flows, w)
	}
	if len(cases) == 0 {
		t.Skip("no workflow the oracle can run")
	}
	oracle := runOracle(t, cases)
	entered := make([]map[string]bool, len(flows))
	count := make([]int, len(flows))
	for i := range entered {
		entered[i] = map[string]bool{}
	}
	for i, c := range cases {
		k := owner[i]
		count[k]++
		t.Run(c.name, func(t *testing.T) {
			res := checkConformance(t, c, oracle[i])
			if len(res.Path) == 0 {
				t.Fatalf("no path: %+v", res)
			}
			for _, s := range res.Path {
				entered[k][s] = true
			}
		})
	}
	// Every poll and gate loop is taken at least once; the states the
	// generic scenarios do not reach are listed.
	for k, w := range flows {
		var missed []string
		for _, s := range w.states {
			if !entered[k][s] {
				missed = append(missed, s)
			}
		}
		t.Logf("%s: %d scenarios, %d of %d states entered; not entered: %v", w.file, count[k], len(w.states)-len(missed), len(w.states), missed)
		for _, s := range w.waits {
			if !entered[k][s] {
				t.Errorf("%s: the loop through Wait state %q is taken in no scenario", w.file, s)
			}
		}
	}
}

// TestConformanceDefinitionHelpers checks the two rewrites of the workflow
// conformance test: Tasks pointed at functions named after their states
// (or a reason to skip), and the oracle's form of IsPresent false.
func TestConformanceDefinitionHelpers(t *testing.T) {
	subs := map[string]string{"Fn": "arn:aws:lambda:us-east-1:123456789012:function:shared"}
	defs := []struct {
		name, def, wantDef, wantReason string
	}{
		{
			name:    "plain ARN",
			def:     `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Fn}","End":true}}}`,
			wantDef: `{"StartAt":"A","States":{"A":{"End":true,"Resource":"arn:aws:lambda:us-east-1:123456789012:function:A","Type":"Task"}}}`,
		},
		{
			name:    "lambda:invoke.waitForTaskToken runs as lambda:invoke",
			def:     `{"StartAt":"W","States":{"W":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f","Payload":{"taskToken.$":"$$.Task.Token"}},"End":true}}}`,
			wantDef: `{"StartAt":"W","States":{"W":{"End":true,"Parameters":{"FunctionName":"W","Payload":{"taskToken.$":"$$.Task.Token"}},"Resource":"arn:aws:states:::lambda:invoke","Type":"Task"}}}`,
		},
		{
			name:    "lambda:invoke in a Parallel branch",
			def:     `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName.$":"$.f","Payload.$":"$"},"End":true}}}],"End":true}}}`,
			wantDef: `{"StartAt":"P","States":{"P":{"Branches":[{"StartAt":"B","States":{"B":{"End":true,"Parameters":{"FunctionName":"B","Payload.$":"$"},"Resource":"arn:aws:states:::lambda:invoke","Type":"Task"}}}],"End":true,"Type":"Parallel"}}}`,
		},
		{
			name:       "child execution",
			def:        `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2","Parameters":{"StateMachineArn":"x"},"End":true}}}`,
			wantReason: `Task state "S" uses arn:aws:states:::states:startExecution.sync:2, which the oracle cannot run (it runs Lambda functions only)`,
		},
		{
			name:       "state name unfit for a function",
			def:        `{"StartAt":"A b","States":{"A b":{"Type":"Task","Resource":"${Fn}","End":true}}}`,
			wantReason: `Task state "A b": its name cannot be a function name`,
		},
	}
	for _, tc := range defs {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, err := conformanceDefinition([]byte(tc.def), subs)
			if err != nil {
				t.Fatal(err)
			}
			if reason != tc.wantReason || string(got) != tc.wantDef {
				t.Errorf("conformanceDefinition = %s, %q; want %s, %q", got, reason, tc.wantDef, tc.wantReason)
			}
		})
	}
	if _, _, err := conformanceDefinition([]byte(`{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Missing}","End":true}}}`), subs); err == nil {
		t.Error("conformanceDefinition accepted a placeholder without a substitution")
	}

	rules := []struct {
		name, def, want string
		states          []string
	}{
		{
			name:   "top-level and nested",
			def:    `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":false,"Next":"E"},{"And":[{"Variable":"$.b","IsPresent":true},{"Not":{"Variable":"$.c","IsPresent":false}}],"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`,
			want:   `{"StartAt":"C","States":{"C":{"Choices":[{"Next":"E","Not":{"IsPresent":true,"Variable":"$.a"}},{"And":[{"IsPresent":true,"Variable":"$.b"},{"Not":{"Not":{"IsPresent":true,"Variable":"$.c"}}}],"Next":"E"}],"Default":"E","Type":"Choice"},"E":{"Type":"Succeed"}}}`,
			states: []string{"C"},
		},
		{
			name: "nothing to rewrite",
			def:  `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`,
			want: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"E"}],"Default":"E"},"E":{"Type":"Succeed"}}}`,
		},
	}
	for _, tc := range rules {
		t.Run(tc.name, func(t *testing.T) {
			got, states, err := oracleEquivalent([]byte(tc.def))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || !slices.Equal(states, tc.states) {
				t.Errorf("oracleEquivalent = %s, %v; want %s, %v", got, states, tc.want, tc.states)
			}
		})
	}
}
