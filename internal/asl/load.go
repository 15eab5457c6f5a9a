package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// StateMachine is a loaded, validated definition (JSONPath query language).
type StateMachine struct {
	top     *machine
	timeout time.Duration // top-level TimeoutSeconds; 0: none
	source  []byte        // the definition after substitution
}

// machine is a set of states with its StartAt: the top level, a Parallel
// branch or a Map's item processor.
type machine struct {
	startAt string
	states  map[string]*state
}

// Placeholder is the DefinitionSubstitutions syntax: ${Name}.
var placeholderRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// Substitute replaces every ${Name} in def with subs[Name], as CloudFormation
// does with DefinitionSubstitutions (textually, before the JSON is parsed).
// A placeholder without a substitution is an error.
func Substitute(def []byte, subs map[string]string) ([]byte, error) {
	var missing []string
	out := placeholderRE.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("asl: no substitution for placeholder(s) %s", strings.Join(uniq(missing), ", "))
	}
	return out, nil
}

func uniq(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// Load substitutes the placeholders and validates the definition. Anything
// the runner does not implement exactly as AWS documents it (JSONata,
// variables, ItemReader, unknown fields or resources) is refused here with
// the state's name and the reason, never ignored at run time.
func Load(def []byte, subs map[string]string) (*StateMachine, error) {
	src, err := Substitute(def, subs)
	if err != nil {
		return nil, err
	}
	doc, err := decodeJSON(src)
	if err != nil {
		return nil, fmt.Errorf("asl: definition is not JSON: %w", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("asl: definition is not a JSON object")
	}
	l := &loader{names: map[string]bool{}}
	if err := l.checkFields("the definition", top, "StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"); err != nil {
		return nil, err
	}
	if err := checkQueryLanguage("the definition", top); err != nil {
		return nil, err
	}
	sm := &StateMachine{source: src}
	if v, ok := top["TimeoutSeconds"]; ok {
		n, ok := intArg(v)
		if !ok || n <= 0 {
			return nil, fmt.Errorf("asl: TimeoutSeconds must be a positive integer")
		}
		sm.timeout = time.Duration(n) * time.Second
	}
	if v, ok := top["Version"]; ok && v != "1.0" {
		return nil, fmt.Errorf("asl: Version %v is not 1.0", v)
	}
	m, err := l.machine("the definition", top)
	if err != nil {
		return nil, err
	}
	sm.top = m
	return sm, nil
}

type loader struct {
	names map[string]bool // state names must be unique in the whole machine
}

func checkQueryLanguage(where string, obj map[string]any) error {
	if v, ok := obj["QueryLanguage"]; ok && v != "JSONPath" {
		return fmt.Errorf("asl: %s: QueryLanguage %v is not supported (only JSONPath)", where, v)
	}
	return nil
}

var refusedFields = map[string]string{
	"Arguments":    "Arguments belongs to JSONata, which this runner does not execute",
	"Output":       "Output belongs to JSONata, which this runner does not execute",
	"Assign":       "variables (Assign) are not supported",
	"ItemReader":   "ItemReader is not supported by the local runner",
	"ResultWriter": "ResultWriter is not supported by the local runner",
	"ItemBatcher":  "ItemBatcher is not supported by the local runner",
	"Credentials":  "cross-account Credentials are not supported by the local runner",
}

func (l *loader) checkFields(where string, obj map[string]any, allowed ...string) error {
	var bad []string
	for k := range obj {
		if why, ok := refusedFields[k]; ok {
			return fmt.Errorf("asl: %s: %s", where, why)
		}
		if !slices.Contains(allowed, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("asl: %s: unknown field(s) %s", where, strings.Join(uniq(bad), ", "))
	}
	return nil
}

func (l *loader) machine(where string, obj map[string]any) (*machine, error) {
	start, ok := obj["StartAt"].(string)
	if !ok {
		return nil, fmt.Errorf("asl: %s: StartAt is missing", where)
	}
	rawStates, ok := obj["States"].(map[string]any)
	if !ok || len(rawStates) == 0 {
		return nil, fmt.Errorf("asl: %s: States is missing or empty", where)
	}
	m := &machine{startAt: start, states: map[string]*state{}}
	names := make([]string, 0, len(rawStates))
	for name := range rawStates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if l.names[name] {
			return nil, fmt.Errorf("asl: state %q: the name is used twice in the state machine", name)
		}
		l.names[name] = true
		if len(name) > 80 {
			return nil, fmt.Errorf("asl: state %q: a state name has at most 80 characters", name)
		}
		raw, ok := rawStates[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("asl: state %q: not a JSON object", name)
		}
		st, err := l.state(name, raw)
		if err != nil {
			return nil, err
		}
		m.states[name] = st
	}
	if _, ok := m.states[start]; !ok {
		return nil, fmt.Errorf("asl: %s: StartAt %q is not a state", where, start)
	}
	for _, name := range names {
		for _, target := range m.states[name].targets() {
			if _, ok := m.states[target]; !ok {
				return nil, fmt.Errorf("asl: state %q: transition to %q, which is not a state of this scope", name, target)
			}
		}
	}
	if un := m.unreachable(); len(un) > 0 {
		return nil, fmt.Errorf("asl: %s: unreachable state(s) %s", where, strings.Join(un, ", "))
	}
	return m, nil
}

// unreachable lists the states no path from StartAt reaches.
func (m *machine) unreachable() []string {
	seen := map[string]bool{m.startAt: true}
	queue := []string{m.startAt}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range m.states[n].targets() {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	var out []string
	for n := range m.states {
		if !seen[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// pathField is InputPath, OutputPath or ResultPath: absent ("$"), null, or a path.
type pathField struct {
	null bool
	p    *path // nil: "$"
}

// retrier and catcher are the Retry and Catch entries.
type retrier struct {
	errorEquals []string
	interval    time.Duration
	maxAttempts int
	backoff     float64
	maxDelay    time.Duration
	fullJitter  bool
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  pathField
}

type state struct {
	name, typ string
	next      string
	end       bool

	inputPath, outputPath, resultPath pathField
	parameters, resultSelector        *template
	result                            any
	hasResult                         bool

	// Task
	resource      *resource
	timeout       time.Duration
	timeoutPath   *path
	heartbeat     time.Duration
	heartbeatPath *path
	retry         []retrier
	catch         []catcher

	// Choice
	choices []*choiceRule
	deflt   string

	// Wait
	seconds       int64
	hasSeconds    bool
	secondsPath   *path
	timestamp     time.Time
	hasTimestamp  bool
	timestampPath *path

	// Fail
	errorName, cause    string
	errorExpr, causeExp *template

	// Parallel
	branches []*machine

	// Map
	itemsPath       *path
	itemSelector    *template
	processor       *machine
	distributed     bool
	maxConcurrency  int
	maxConcPath     *path
	toleratedCount  int
	toleratedPct    float64
	tolCountPath    *path
	tolPctPath      *path
	hasToleratedPct bool

	hasToleratedCount bool
}

func (s *state) targets() []string {
	var t []string
	if s.next != "" {
		t = append(t, s.next)
	}
	for _, c := range s.choices {
		t = append(t, c.next)
	}
	if s.deflt != "" {
		t = append(t, s.deflt)
	}
	for _, c := range s.catch {
		t = append(t, c.next)
	}
	return t
}

var stateFields = map[string][]string{
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath", "Result"},
	"Task":     {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Retry", "Catch"},
	"Choice":   {"Choices", "Default", "InputPath", "OutputPath"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "Cause", "ErrorPath", "CausePath"},
	"Parallel": {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Branches", "Retry", "Catch"},
	"Map": {"Next", "End", "InputPath", "OutputPath", "Parameters", "ItemSelector", "ResultSelector", "ResultPath", "ItemsPath",
		"MaxConcurrency", "MaxConcurrencyPath", "Iterator", "ItemProcessor", "ToleratedFailureCount", "ToleratedFailurePercentage",
		"ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "Label", "Retry", "Catch"},
}

func (l *loader) state(name string, raw map[string]any) (*state, error) {
	where := fmt.Sprintf("state %q", name)
	fail := func(format string, a ...any) error {
		return fmt.Errorf("asl: %s: %s", where, fmt.Sprintf(format, a...))
	}
	typ, _ := raw["Type"].(string)
	allowed, ok := stateFields[typ]
	if !ok {
		return nil, fail("unknown Type %v", raw["Type"])
	}
	if err := checkQueryLanguage(where, raw); err != nil {
		return nil, err
	}
	if err := l.checkFields(where, raw, append([]string{"Type", "Comment", "QueryLanguage"}, allowed...)...); err != nil {
		return nil, err
	}
	s := &state{name: name, typ: typ}
	var err error

	// Transitions.
	if slices.Contains(allowed, "End") {
		next, hasNext := raw["Next"].(string)
		end, _ := raw["End"].(bool)
		if _, ok := raw["Next"]; ok && !hasNext {
			return nil, fail("Next must be a string")
		}
		if hasNext == end {
			return nil, fail("needs exactly one of Next and \"End\": true")
		}
		s.next, s.end = next, end
	}

	// Paths.
	if s.inputPath, err = parsePathField(raw, "InputPath", false); err != nil {
		return nil, fail("%v", err)
	}
	if s.outputPath, err = parsePathField(raw, "OutputPath", false); err != nil {
		return nil, fail("%v", err)
	}
	if s.resultPath, err = parsePathField(raw, "ResultPath", true); err != nil {
		return nil, fail("%v", err)
	}
	if v, ok := raw["Parameters"]; ok {
		if s.parameters, err = parseTemplate(v, "Parameters"); err != nil {
			return nil, fail("%v", err)
		}
	}
	if v, ok := raw["ResultSelector"]; ok {
		if s.resultSelector, err = parseTemplate(v, "ResultSelector"); err != nil {
			return nil, fail("%v", err)
		}
	}
	if v, ok := raw["Result"]; ok {
		s.result, s.hasResult = v, true
	}
	if s.retry, err = parseRetry(raw["Retry"]); err != nil {
		return nil, fail("%v", err)
	}
	if s.catch, err = parseCatch(raw["Catch"]); err != nil {
		return nil, fail("%v", err)
	}

	switch typ {
	case "Task":
		res, _ := raw["Resource"].(string)
		if s.resource, err = parseResource(res, s.parameters); err != nil {
			return nil, fail("%v", err)
		}
		if s.timeout, s.timeoutPath, err = parseSeconds(raw, "TimeoutSeconds"); err != nil {
			return nil, fail("%v", err)
		}
		if s.heartbeat, s.heartbeatPath, err = parseSeconds(raw, "HeartbeatSeconds"); err != nil {
			return nil, fail("%v", err)
		}
		if s.timeout > 0 && s.heartbeat >= s.timeout {
			return nil, fail("HeartbeatSeconds must be smaller than TimeoutSeconds")
		}
	case "Choice":
		list, ok := raw["Choices"].([]any)
		if !ok || len(list) == 0 {
			return nil, fail("Choices must be a non-empty array")
		}
		for i, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fail("Choices[%d] is not an object", i)
			}
			r, err := parseChoiceRule(m, true)
			if err != nil {
				return nil, fail("Choices[%d]: %v", i, err)
			}
			s.choices = append(s.choices, r)
		}
		if v, ok := raw["Default"]; ok {
			if s.deflt, ok = v.(string); !ok {
				return nil, fail("Default must be a state name")
			}
		}
	case "Wait":
		n := 0
		if v, ok := raw["Seconds"]; ok {
			n++
			sec, ok := intArg(v)
			if !ok || sec < 0 {
				return nil, fail("Seconds must be a non-negative integer")
			}
			s.seconds, s.hasSeconds = int64(sec), true
		}
		if v, ok := raw["Timestamp"]; ok {
			n++
			str, _ := v.(string)
			t, err := parseTimestamp(str)
			if err != nil {
				return nil, fail("Timestamp: %v", err)
			}
			s.timestamp, s.hasTimestamp = t, true
		}
		for _, f := range []string{"SecondsPath", "TimestampPath"} {
			if v, ok := raw[f]; ok {
				n++
				str, _ := v.(string)
				p, err := parsePath(str, true)
				if err != nil {
					return nil, fail("%s: %v", f, err)
				}
				if f == "SecondsPath" {
					s.secondsPath = p
				} else {
					s.timestampPath = p
				}
			}
		}
		if n != 1 {
			return nil, fail("needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath")
		}
	case "Fail":
		s.errorName, _ = raw["Error"].(string)
		s.cause, _ = raw["Cause"].(string)
		for _, f := range []string{"ErrorPath", "CausePath"} {
			v, ok := raw[f]
			if !ok {
				continue
			}
			str, isStr := v.(string)
			if !isStr {
				return nil, fail("%s must be a path or an intrinsic function", f)
			}
			t, err := parseTemplate(map[string]any{"v.$": str}, f)
			if err != nil {
				return nil, fail("%v", err)
			}
			if f == "ErrorPath" {
				s.errorExpr = t
			} else {
				s.causeExp = t
			}
		}
		if s.errorExpr != nil && raw["Error"] != nil || s.causeExp != nil && raw["Cause"] != nil {
			return nil, fail("Error/ErrorPath and Cause/CausePath are exclusive")
		}
	case "Parallel":
		list, ok := raw["Branches"].([]any)
		if !ok || len(list) == 0 {
			return nil, fail("Branches must be a non-empty array")
		}
		for i, b := range list {
			bm, ok := b.(map[string]any)
			if !ok {
				return nil, fail("Branches[%d] is not an object", i)
			}
			bw := fmt.Sprintf("%s, branch %d", where, i)
			if err := l.checkFields(bw, bm, "StartAt", "States", "Comment", "QueryLanguage"); err != nil {
				return nil, err
			}
			m, err := l.machine(bw, bm)
			if err != nil {
				return nil, err
			}
			s.branches = append(s.branches, m)
		}
	case "Map":
		if err := l.mapState(s, raw); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (l *loader) mapState(s *state, raw map[string]any) error {
	where := fmt.Sprintf("state %q", s.name)
	fail := func(format string, a ...any) error {
		return fmt.Errorf("asl: %s: %s", where, fmt.Sprintf(format, a...))
	}
	var err error
	if v, ok := raw["ItemsPath"]; ok {
		str, _ := v.(string)
		if s.itemsPath, err = parsePath(str, false); err != nil {
			return fail("ItemsPath: %v", err)
		}
	}
	if _, ok := raw["Parameters"]; ok {
		if _, ok := raw["ItemSelector"]; ok {
			return fail("Parameters (legacy) and ItemSelector are exclusive")
		}
		s.itemSelector, s.parameters = s.parameters, nil
	}
	if v, ok := raw["ItemSelector"]; ok {
		if s.itemSelector, err = parseTemplate(v, "ItemSelector"); err != nil {
			return fail("%v", err)
		}
	}
	proc, hasProc := raw["ItemProcessor"].(map[string]any)
	iter, hasIter := raw["Iterator"].(map[string]any)
	switch {
	case hasProc && hasIter:
		return fail("Iterator (legacy) and ItemProcessor are exclusive")
	case hasIter:
		if err := l.checkFields(where+", Iterator", iter, "StartAt", "States", "Comment", "QueryLanguage"); err != nil {
			return err
		}
		if s.processor, err = l.machine(where+", Iterator", iter); err != nil {
			return err
		}
	case hasProc:
		if err := l.checkFields(where+", ItemProcessor", proc, "StartAt", "States", "Comment", "ProcessorConfig", "QueryLanguage"); err != nil {
			return err
		}
		if pc, ok := proc["ProcessorConfig"]; ok {
			cfg, ok := pc.(map[string]any)
			if !ok {
				return fail("ProcessorConfig must be an object")
			}
			if err := l.checkFields(where+", ProcessorConfig", cfg, "Mode", "ExecutionType"); err != nil {
				return err
			}
			switch cfg["Mode"] {
			case nil, "INLINE":
				if cfg["ExecutionType"] != nil {
					return fail("ExecutionType is only for Mode DISTRIBUTED")
				}
			case "DISTRIBUTED":
				s.distributed = true
				switch cfg["ExecutionType"] {
				case "STANDARD", "EXPRESS":
				default:
					return fail("a DISTRIBUTED Map needs ExecutionType STANDARD or EXPRESS")
				}
			default:
				return fail("ProcessorConfig.Mode %v is not INLINE or DISTRIBUTED", cfg["Mode"])
			}
		}
		if s.processor, err = l.machine(where+", ItemProcessor", proc); err != nil {
			return err
		}
	default:
		return fail("needs ItemProcessor (or the legacy Iterator)")
	}
	if v, ok := raw["MaxConcurrency"]; ok {
		n, ok := intArg(v)
		if !ok || n < 0 {
			return fail("MaxConcurrency must be a non-negative integer")
		}
		s.maxConcurrency = n
	}
	if v, ok := raw["MaxConcurrencyPath"]; ok {
		str, _ := v.(string)
		if s.maxConcPath, err = parsePath(str, true); err != nil {
			return fail("MaxConcurrencyPath: %v", err)
		}
	}
	for _, f := range []string{"ToleratedFailureCount", "ToleratedFailurePercentage", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"} {
		v, ok := raw[f]
		if !ok {
			continue
		}
		if !s.distributed {
			return fail("%s is only for a DISTRIBUTED Map", f)
		}
		switch f {
		case "ToleratedFailureCount":
			n, ok := intArg(v)
			if !ok || n < 0 {
				return fail("ToleratedFailureCount must be a non-negative integer")
			}
			s.toleratedCount, s.hasToleratedCount = n, true
		case "ToleratedFailurePercentage":
			f, ok := numArg(v)
			if !ok || f < 0 || f > 100 {
				return fail("ToleratedFailurePercentage must be a number from 0 to 100")
			}
			s.toleratedPct, s.hasToleratedPct = f, true
		default:
			str, _ := v.(string)
			p, err := parsePath(str, true)
			if err != nil {
				return fail("%s: %v", f, err)
			}
			if f == "ToleratedFailureCountPath" {
				s.tolCountPath = p
			} else {
				s.tolPctPath = p
			}
		}
	}
	if v, ok := raw["Label"]; ok && !s.distributed {
		_ = v
		return fail("Label is only for a DISTRIBUTED Map")
	}
	return nil
}

func parsePathField(raw map[string]any, field string, reference bool) (pathField, error) {
	v, ok := raw[field]
	if !ok {
		return pathField{}, nil
	}
	if v == nil {
		return pathField{null: true}, nil
	}
	s, ok := v.(string)
	if !ok {
		return pathField{}, fmt.Errorf("%s must be a path or null", field)
	}
	if strings.HasPrefix(s, "$$") {
		return pathField{}, fmt.Errorf("%s cannot refer to the context object", field)
	}
	p, err := parsePath(s, reference)
	if err != nil {
		return pathField{}, fmt.Errorf("%s: %v", field, err)
	}
	if len(p.steps) == 0 && p.query == nil {
		return pathField{}, nil // "$"
	}
	return pathField{p: p}, nil
}

// parseSeconds reads X and XPath (TimeoutSeconds, HeartbeatSeconds).
func parseSeconds(raw map[string]any, field string) (time.Duration, *path, error) {
	v, hasV := raw[field]
	pv, hasP := raw[field+"Path"]
	if hasV && hasP {
		return 0, nil, fmt.Errorf("%s and %sPath are exclusive", field, field)
	}
	if hasV {
		n, ok := intArg(v)
		if !ok || n <= 0 || n > 99999999 {
			return 0, nil, fmt.Errorf("%s must be a positive integer", field)
		}
		return time.Duration(n) * time.Second, nil, nil
	}
	if hasP {
		s, _ := pv.(string)
		p, err := parsePath(s, true)
		if err != nil {
			return 0, nil, fmt.Errorf("%sPath: %v", field, err)
		}
		return 0, p, nil
	}
	return 0, nil, nil
}

func parseErrorEquals(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("field ErrorEquals must be a non-empty array of error names")
	}
	var out []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("field ErrorEquals holds a non-string")
		}
		out = append(out, s)
	}
	if slices.Contains(out, ErrAll) && len(out) > 1 {
		return nil, fmt.Errorf("in ErrorEquals, States.ALL must appear alone")
	}
	return out, nil
}

func parseRetry(v any) ([]retrier, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("field Retry must be an array")
	}
	var out []retrier
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("field Retry[%d] is not an object", i)
		}
		for k := range m {
			if !slices.Contains([]string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}, k) {
				return nil, fmt.Errorf("field Retry[%d]: unknown field %q", i, k)
			}
		}
		errs, err := parseErrorEquals(m["ErrorEquals"])
		if err != nil {
			return nil, fmt.Errorf("field Retry[%d]: %v", i, err)
		}
		if slices.Contains(errs, ErrAll) && i != len(list)-1 {
			return nil, fmt.Errorf("field Retry[%d]: States.ALL must be in the last retrier", i)
		}
		r := retrier{errorEquals: errs, interval: time.Second, maxAttempts: 3, backoff: 2}
		if x, ok := m["IntervalSeconds"]; ok {
			n, ok := intArg(x)
			if !ok || n < 1 || n > 99999999 {
				return nil, fmt.Errorf("field Retry[%d]: IntervalSeconds must be a positive integer", i)
			}
			r.interval = time.Duration(n) * time.Second
		}
		if x, ok := m["MaxAttempts"]; ok {
			n, ok := intArg(x)
			if !ok || n < 0 || n > 99999999 {
				return nil, fmt.Errorf("field Retry[%d]: MaxAttempts must be a non-negative integer", i)
			}
			r.maxAttempts = n
		}
		if x, ok := m["BackoffRate"]; ok {
			f, ok := numArg(x)
			if !ok || f < 1 {
				return nil, fmt.Errorf("field Retry[%d]: BackoffRate must be a number >= 1.0", i)
			}
			r.backoff = f
		}
		if x, ok := m["MaxDelaySeconds"]; ok {
			n, ok := intArg(x)
			if !ok || n < 1 || n > 31622400 {
				return nil, fmt.Errorf("field Retry[%d]: MaxDelaySeconds must be a positive integer", i)
			}
			r.maxDelay = time.Duration(n) * time.Second
		}
		if x, ok := m["JitterStrategy"]; ok {
			switch x {
			case "FULL":
				r.fullJitter = true
			case "NONE":
			default:
				return nil, fmt.Errorf("field Retry[%d]: JitterStrategy must be FULL or NONE", i)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func parseCatch(v any) ([]catcher, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("field Catch must be an array")
	}
	var out []catcher
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("field Catch[%d] is not an object", i)
		}
		for k := range m {
			if !slices.Contains([]string{"ErrorEquals", "Next", "ResultPath", "Comment"}, k) {
				if why, ok := refusedFields[k]; ok {
					return nil, fmt.Errorf("field Catch[%d]: %s", i, why)
				}
				return nil, fmt.Errorf("field Catch[%d]: unknown field %q", i, k)
			}
		}
		errs, err := parseErrorEquals(m["ErrorEquals"])
		if err != nil {
			return nil, fmt.Errorf("field Catch[%d]: %v", i, err)
		}
		if slices.Contains(errs, ErrAll) && i != len(list)-1 {
			return nil, fmt.Errorf("field Catch[%d]: States.ALL must be in the last catcher", i)
		}
		next, ok := m["Next"].(string)
		if !ok {
			return nil, fmt.Errorf("field Catch[%d]: Next is missing", i)
		}
		rp, err := parsePathField(m, "ResultPath", true)
		if err != nil {
			return nil, fmt.Errorf("field Catch[%d]: %v", i, err)
		}
		out = append(out, catcher{errorEquals: errs, next: next, resultPath: rp})
	}
	return out, nil
}

// template is a payload template (Parameters, ResultSelector, ItemSelector):
// fields whose name ends in ".$" take a path or an intrinsic function.
type template struct {
	lit    any
	fields []tfield // object
	items  []*template
	isObj  bool
	isArr  bool
	p      *path
	fn     *intrinsic
}

type tfield struct {
	name string
	val  *template
}

func parseTemplate(v any, where string) (*template, error) {
	switch v := v.(type) {
	case map[string]any:
		t := &template{isObj: true}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		seen := map[string]bool{}
		for _, k := range keys {
			name := k
			var val *template
			if strings.HasSuffix(k, ".$") {
				name = strings.TrimSuffix(k, ".$")
				s, ok := v[k].(string)
				if !ok {
					return nil, fmt.Errorf("%s: field %q must be a path or an intrinsic function", where, k)
				}
				val = &template{}
				var err error
				if isIntrinsic(s) {
					val.fn, err = parseIntrinsic(s)
				} else {
					val.p, err = parsePath(s, false)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: field %q: %v", where, k, err)
				}
			} else {
				var err error
				if val, err = parseTemplate(v[k], where+"."+k); err != nil {
					return nil, err
				}
			}
			if seen[name] {
				return nil, fmt.Errorf("%s: field %q is given twice (with and without .$)", where, name)
			}
			seen[name] = true
			t.fields = append(t.fields, tfield{name: name, val: val})
		}
		return t, nil
	case []any:
		// Objects inside arrays are payload templates too (their ".$"
		// fields are evaluated); aws-local-stepfunctions agrees.
		t := &template{isArr: true}
		for i, item := range v {
			it, err := parseTemplate(item, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			t.items = append(t.items, it)
		}
		return t, nil
	default:
		return &template{lit: v}, nil
	}
}

// eval builds the payload from the effective input and the context object.
func (t *template) eval(input, ctx any, field string) (any, *StateError) {
	switch {
	case t.fn != nil:
		return t.fn.eval(input, ctx)
	case t.p != nil:
		v, ok := t.p.get(input, ctx)
		if !ok {
			// AWS reports States.Runtime here ("The JSONPath ... specified
			// for the field ... could not be found in the input"), although
			// the spec names States.ParameterPathFailure for this case.
			return nil, runtimeError("The JSONPath '%s' specified for the field '%s.$' could not be found in the input '%s'", t.p.src, field, mustEncode(input))
		}
		return v, nil
	case t.isObj:
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			v, err := f.val.eval(input, ctx, f.name)
			if err != nil {
				return nil, err
			}
			out[f.name] = v
		}
		return out, nil
	case t.isArr:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(input, ctx, field)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	default:
		return t.lit, nil
	}
}

// secondsValue reads a positive integer number of seconds from a path value.
func secondsValue(v any) (int64, bool) {
	f, ok := numArg(v)
	if !ok || f < 0 || f != math.Trunc(f) || f > 99999999 {
		return 0, false
	}
	return int64(f), true
}

// MarshalJSON returns the definition after substitution.
func (sm *StateMachine) MarshalJSON() ([]byte, error) { return json.RawMessage(sm.source), nil }
