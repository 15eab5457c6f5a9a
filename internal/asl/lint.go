package asl

import (
	"fmt"
	"slices"
	"sort"
)

// Problem is one finding of Lint.
type Problem struct {
	State   string // "" for the whole definition
	Message string
}

func (p Problem) String() string {
	if p.State == "" {
		return p.Message
	}
	return fmt.Sprintf("state %q: %s", p.State, p.Message)
}

// StandardLambdaRetry lists the errors every Lambda Task must retry (the
// guide's "Handle transient Lambda service exceptions" best practice).
var StandardLambdaRetry = []string{
	"Lambda.ServiceException",
	"Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
	"Lambda.TooManyRequestsException",
}

// Lint checks a project definition: every ${Placeholder} must be in subs
// (pass the names the CDK stack substitutes), the definition must load
// (which also refuses unreachable states and anything unsupported), and
// every Task that invokes Lambda must have a retrier covering the standard
// Lambda service errors.
func Lint(def []byte, subs map[string]string) []Problem {
	var probs []Problem
	filled := map[string]string{}
	for _, m := range placeholderRE.FindAllSubmatch(def, -1) {
		name := string(m[1])
		v, ok := subs[name]
		if !ok {
			probs = append(probs, Problem{Message: fmt.Sprintf("placeholder ${%s} has no substitution", name)})
			v = "arn:aws:lambda:us-east-1:123456789012:function:" + name
		}
		filled[name] = v
	}
	sm, err := Load(def, filled)
	if err != nil {
		return append(probs, Problem{Message: err.Error()})
	}
	var walk func(m *machine)
	walk = func(m *machine) {
		names := make([]string, 0, len(m.states))
		for n := range m.states {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			st := m.states[n]
			if st.resource != nil && st.resource.service == "lambda:invoke" && !hasField(st.parameters, "Payload") {
				probs = append(probs, Problem{State: n, Message: "lambda:invoke without Payload: the guide does not say what the function then receives; pass \"Payload.$\": \"$\" or an explicit payload"})
			}
			if st.resource != nil && (st.resource.service == "lambda" || st.resource.service == "lambda:invoke") {
				if missing := missingRetry(st.retry); len(missing) > 0 {
					probs = append(probs, Problem{State: n, Message: fmt.Sprintf("Task has no Retry for %v", missing)})
				}
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
	return probs
}

// missingRetry lists the standard Lambda errors no retrier with attempts
// names explicitly (States.ALL alone is not enough: it is meant last, for
// everything else).
func missingRetry(retry []retrier) []string {
	var missing []string
	for _, e := range StandardLambdaRetry {
		covered := false
		for _, r := range retry {
			if r.maxAttempts > 0 && slices.Contains(r.errorEquals, e) {
				covered = true
			}
		}
		if !covered {
			missing = append(missing, e)
		}
	}
	return missing
}

func hasField(t *template, name string) bool {
	if t == nil {
		return false
	}
	for _, f := range t.fields {
		if f.name == name {
			return true
		}
	}
	return false
}
