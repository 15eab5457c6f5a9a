package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Layout is what the repository holds that the stack deploys: the function
// directories and the state machine files. Everything is derived from the
// tree, so a new functions/<step> or statemachines/<workflow>.asl.json is
// deployed without touching the stack.
type Layout struct {
	// Root is the repository root (paths below are relative to it).
	Root string
	// AssetDir holds <function>/bootstrap (make build writes build/).
	AssetDir string
	// Functions are the names of the functions/<name> directories.
	Functions []string
	// Workflows are the state machines, by name (<name>.asl.json).
	Workflows map[string]*Workflow
	// Examples is statemachines/substitutions.json: placeholder -> example.
	Examples map[string]string
}

// Workflow is one statemachines/<name>.asl.json.
type Workflow struct {
	Name       string
	File       string // relative to Root
	Definition string // the file's content, unchanged
	// Placeholders are the ${Name}s of the definition, sorted.
	Placeholders []string
	// Tasks are the Task states' Resource fields (after no substitution).
	Tasks []Task
	// Distributed says a Map state runs in DISTRIBUTED mode (child
	// executions of the state machine itself).
	Distributed bool
}

// Task is one Task state.
type Task struct {
	State    string
	Resource string
	// Refs are the placeholders the Task's Resource and Parameters name.
	Refs []string
}

// The workflows the stack wires beyond deploying them.
const (
	WorkflowRotateKSK     = "rotate-ksk"
	WorkflowAlarmResponse = "alarm-response"
	WorkflowFleetRotate   = "fleet-rotate"
)

var placeholderRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// LoadLayout reads the tree under root.
func LoadLayout(root, assetDir string) (*Layout, error) {
	l := &Layout{Root: root, AssetDir: assetDir, Workflows: map[string]*Workflow{}, Examples: map[string]string{}}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("infra: functions: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			l.Functions = append(l.Functions, e.Name())
		}
	}
	slices.Sort(l.Functions)
	b, err := os.ReadFile(filepath.Join(root, "statemachines", "substitutions.json"))
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, fmt.Errorf("infra: %w", err)
	default:
		if err := json.Unmarshal(b, &l.Examples); err != nil {
			return nil, fmt.Errorf("infra: statemachines/substitutions.json: %w", err)
		}
	}
	files, err := filepath.Glob(filepath.Join(root, "statemachines", "*.asl.json"))
	if err != nil {
		return nil, fmt.Errorf("infra: %w", err)
	}
	for _, f := range files {
		w, err := loadWorkflow(root, f)
		if err != nil {
			return nil, err
		}
		l.Workflows[w.Name] = w
	}
	return l, nil
}

// WorkflowNames returns the workflow names, sorted.
func (l *Layout) WorkflowNames() []string {
	var names []string
	for n := range l.Workflows {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func loadWorkflow(root, path string) (*Workflow, error) {
	rel, _ := filepath.Rel(root, path)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("infra: %w", err)
	}
	w := &Workflow{Name: strings.TrimSuffix(filepath.Base(path), ".asl.json"), File: rel, Definition: string(b)}
	for _, m := range placeholderRE.FindAllStringSubmatch(w.Definition, -1) {
		w.Placeholders = append(w.Placeholders, m[1])
	}
	slices.Sort(w.Placeholders)
	w.Placeholders = slices.Compact(w.Placeholders)
	var def map[string]any
	if err := json.Unmarshal(b, &def); err != nil {
		return nil, fmt.Errorf("infra: %s: not JSON: %w", rel, err)
	}
	if _, ok := def["TimeoutSeconds"].(float64); !ok {
		return nil, fmt.Errorf("infra: %s: no top-level TimeoutSeconds: every workflow needs a timeout in its ASL (StateMachineProps.Timeout is ignored for a definition string)", rel)
	}
	walkStates(def, func(name string, st map[string]any) {
		switch st["Type"] {
		case "Task":
			res, _ := st["Resource"].(string)
			t := Task{State: name, Resource: res}
			raw, _ := json.Marshal([]any{st["Resource"], st["Parameters"], st["Arguments"]})
			for _, m := range placeholderRE.FindAllStringSubmatch(string(raw), -1) {
				t.Refs = append(t.Refs, m[1])
			}
			w.Tasks = append(w.Tasks, t)
		case "Map":
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if p, ok := st[k].(map[string]any); ok {
					if pc, ok := p["ProcessorConfig"].(map[string]any); ok && pc["Mode"] == "DISTRIBUTED" {
						w.Distributed = true
					}
				}
			}
		}
	})
	return w, nil
}

// walkStates calls f for every state of def, in branches and Map
// processors too.
func walkStates(def map[string]any, f func(name string, st map[string]any)) {
	states, _ := def["States"].(map[string]any)
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		st, ok := states[n].(map[string]any)
		if !ok {
			continue
		}
		f(n, st)
		if bs, ok := st["Branches"].([]any); ok {
			for _, b := range bs {
				if bm, ok := b.(map[string]any); ok {
					walkStates(bm, f)
				}
			}
		}
		for _, k := range []string{"ItemProcessor", "Iterator"} {
			if p, ok := st[k].(map[string]any); ok {
				walkStates(p, f)
			}
		}
	}
}

// Ref is what a placeholder stands for.
type Ref struct {
	Kind RefKind
	// Name is the function or the workflow.
	Name string
}

// RefKind is the kind of resource a placeholder names.
type RefKind int

// The kinds of placeholders.
const (
	RefFunction RefKind = iota
	RefWorkflow
	RefTopic
)

var (
	lambdaARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:([A-Za-z0-9_-]+)(:[A-Za-z0-9$_-]+)?$`)
	sfnARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:([A-Za-z0-9_-]+)$`)
	snsARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$`)
	camelRE     = regexp.MustCompile(`([a-z0-9])([A-Z])`)
)

// Resolve says what placeholder name of workflow w stands for, from its
// example value in statemachines/substitutions.json:
//   - a Lambda function ARN "...:function:<name>" is functions/<name> (a
//     "dnssec-autopilot-" prefix of <name> is dropped);
//   - a state machine ARN "...:stateMachine:<name>" is statemachines/<name>.asl.json
//     (same prefix rule);
//   - an SNS topic ARN is the deployment's notification topic.
//
// Anything else, or a name that exists nowhere, is an error naming the
// placeholder and the file.
func (l *Layout) Resolve(w *Workflow, name string) (Ref, error) {
	ex, ok := l.Examples[name]
	if !ok {
		return Ref{}, fmt.Errorf("infra: %s: placeholder ${%s} has no value: add it with an example ARN to statemachines/substitutions.json (a Lambda function ARN ending in :function:<functions dir>, a state machine ARN ending in :stateMachine:<workflow>, or an SNS topic ARN for the notification topic)", w.File, name)
	}
	if m := lambdaARNRE.FindStringSubmatch(ex); m != nil {
		fn := l.match(m[1], l.Functions)
		if fn == "" {
			return Ref{}, fmt.Errorf("infra: %s: placeholder ${%s} = %q names function %q, but there is no functions/%s directory", w.File, name, ex, m[1], strings.TrimPrefix(m[1], "dnssec-autopilot-"))
		}
		return Ref{Kind: RefFunction, Name: fn}, nil
	}
	if m := sfnARNRE.FindStringSubmatch(ex); m != nil {
		wf := l.match(m[1], l.WorkflowNames())
		if wf == "" {
			return Ref{}, fmt.Errorf("infra: %s: placeholder ${%s} = %q names state machine %q, but there is no statemachines/%s.asl.json", w.File, name, ex, m[1], strings.TrimPrefix(m[1], "dnssec-autopilot-"))
		}
		return Ref{Kind: RefWorkflow, Name: wf}, nil
	}
	if snsARNRE.MatchString(ex) {
		return Ref{Kind: RefTopic}, nil
	}
	return Ref{}, fmt.Errorf("infra: %s: placeholder ${%s} = %q in statemachines/substitutions.json is not a Lambda function, state machine or SNS topic ARN: the stack cannot tell what to substitute", w.File, name, ex)
}

// match finds name among names, with or without the dnssec-autopilot-
// prefix, or in kebab case when name is CamelCase.
func (l *Layout) match(name string, names []string) string {
	for _, c := range []string{name, strings.TrimPrefix(name, "dnssec-autopilot-"), strings.ToLower(camelRE.ReplaceAllString(name, "$1-$2"))} {
		if slices.Contains(names, c) {
			return c
		}
	}
	return ""
}
