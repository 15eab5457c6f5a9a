package asl

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// choiceRule is a Choice Rule (top level, with Next) or a nested Boolean
// expression. Exactly one of op, and, or, not is set.
type choiceRule struct {
	next     string
	variable *path
	op       string // comparison operator, without a Path suffix
	viaPath  bool   // the *Path form: operand is a path
	operand  any
	opPath   *path
	and, or  []*choiceRule
	not      *choiceRule
}

var comparisonKinds = map[string]string{
	"StringEquals": "string", "StringLessThan": "string", "StringGreaterThan": "string",
	"StringLessThanEquals": "string", "StringGreaterThanEquals": "string", "StringMatches": "pattern",
	"NumericEquals": "number", "NumericLessThan": "number", "NumericGreaterThan": "number",
	"NumericLessThanEquals": "number", "NumericGreaterThanEquals": "number",
	"BooleanEquals":   "boolean",
	"TimestampEquals": "timestamp", "TimestampLessThan": "timestamp", "TimestampGreaterThan": "timestamp",
	"TimestampLessThanEquals": "timestamp", "TimestampGreaterThanEquals": "timestamp",
	"IsNull": "test", "IsPresent": "test", "IsNumeric": "test", "IsString": "test",
	"IsBoolean": "test", "IsTimestamp": "test",
}

// parseChoiceRule validates one rule; top says whether Next is required.
func parseChoiceRule(raw map[string]any, top bool) (*choiceRule, error) {
	r := &choiceRule{}
	var ops []string
	for k, v := range raw {
		switch k {
		case "Next":
			if !top {
				return nil, fmt.Errorf("a nested rule must not have Next")
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("field Next must be a string")
			}
			r.next = s
		case "Variable":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("field Variable must be a string")
			}
			p, err := parsePath(s, false)
			if err != nil {
				return nil, fmt.Errorf("field Variable: %v", err)
			}
			r.variable = p
		case "Comment":
		case "And", "Or":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, fmt.Errorf("%s must be a non-empty array of rules", k)
			}
			var subs []*choiceRule
			for i, item := range list {
				m, ok := item.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s[%d] is not an object", k, i)
				}
				sub, err := parseChoiceRule(m, false)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %v", k, i, err)
				}
				subs = append(subs, sub)
			}
			if k == "And" {
				r.and = subs
			} else {
				r.or = subs
			}
			ops = append(ops, k)
		case "Not":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("field Not must be a rule object")
			}
			sub, err := parseChoiceRule(m, false)
			if err != nil {
				return nil, fmt.Errorf("field Not: %v", err)
			}
			r.not = sub
			ops = append(ops, k)
		default:
			name, viaPath := k, false
			if _, ok := comparisonKinds[name]; !ok && strings.HasSuffix(k, "Path") {
				name, viaPath = strings.TrimSuffix(k, "Path"), true
			}
			kind, ok := comparisonKinds[name]
			if !ok || (viaPath && (kind == "pattern" || kind == "test")) {
				return nil, fmt.Errorf("unknown field %q in a Choice rule", k)
			}
			r.op, r.viaPath = name, viaPath
			ops = append(ops, k)
			if viaPath {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("%s must be a path string", k)
				}
				p, err := parsePath(s, false)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", k, err)
				}
				r.opPath = p
				continue
			}
			if err := checkOperand(kind, k, v); err != nil {
				return nil, err
			}
			r.operand = v
		}
	}
	sort.Strings(ops)
	switch {
	case len(ops) == 0:
		return nil, fmt.Errorf("a rule needs a comparison operator, And, Or or Not")
	case len(ops) > 1:
		return nil, fmt.Errorf("a rule has more than one operator: %s", strings.Join(ops, ", "))
	}
	if top && r.next == "" {
		return nil, fmt.Errorf("a top-level Choice rule needs Next")
	}
	if r.op != "" && r.variable == nil {
		return nil, fmt.Errorf("comparison %s needs Variable", ops[0])
	}
	if r.op == "" && r.variable != nil {
		return nil, fmt.Errorf("field Variable is not allowed with %s", ops[0])
	}
	return r, nil
}

func checkOperand(kind, field string, v any) error {
	ok := false
	switch kind {
	case "string", "pattern":
		_, ok = v.(string)
	case "number":
		_, ok = v.(json.Number)
	case "boolean", "test":
		_, ok = v.(bool)
	case "timestamp":
		s, isStr := v.(string)
		if isStr {
			if _, err := parseTimestamp(s); err != nil {
				return fmt.Errorf("%s: %v", field, err)
			}
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%s needs a %s operand, got %s", field, kind, typeName(v))
	}
	return nil
}

// parseTimestamp accepts the RFC 3339 profile that Step Functions documents:
// an uppercase T between date and time and a zone (Z or an offset).
func parseTimestamp(s string) (time.Time, error) {
	if !strings.Contains(s, "T") || strings.Contains(s, "t") || strings.HasSuffix(s, "z") {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp with an uppercase T and Z", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return t, nil
}

// eval evaluates the rule; a Variable (or operand path) that selects nothing
// is States.Runtime, except under IsPresent.
func (r *choiceRule) eval(input, ctx any) (bool, *StateError) {
	switch {
	case r.and != nil:
		for _, s := range r.and {
			ok, err := s.eval(input, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, s := range r.or {
			ok, err := s.eval(input, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(input, ctx)
		return !ok && err == nil, err
	}
	v, found := r.variable.get(input, ctx)
	if r.op == "IsPresent" {
		return found == r.operand.(bool), nil
	}
	if !found {
		return false, runtimeError("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.src)
	}
	operand := r.operand
	if r.viaPath {
		o, ok := r.opPath.get(input, ctx)
		if !ok {
			return false, runtimeError("Invalid path '%s': The choice state's condition path references an invalid value.", r.opPath.src)
		}
		operand = o
	}
	switch r.op {
	case "IsNull":
		return (v == nil) == operand.(bool), nil
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok == operand.(bool), nil
	case "IsString":
		_, ok := v.(string)
		return ok == operand.(bool), nil
	case "IsBoolean":
		_, ok := v.(bool)
		return ok == operand.(bool), nil
	case "IsTimestamp":
		s, ok := v.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == operand.(bool), nil
	case "StringMatches":
		s, ok := v.(string)
		return ok && stringMatches(s, operand.(string)), nil
	}
	switch comparisonKinds[r.op] {
	case "string":
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		return compareResult(r.op, strings.Compare(a, b)), nil
	case "number":
		a, ok1 := v.(json.Number)
		b, ok2 := operand.(json.Number)
		if !ok1 || !ok2 {
			return false, nil
		}
		c := numCmp(a, b)
		return c != -2 && compareResult(r.op, c), nil
	case "boolean":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case "timestamp":
		as, ok1 := v.(string)
		bs, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		a, err1 := parseTimestamp(as)
		b, err2 := parseTimestamp(bs)
		if err1 != nil || err2 != nil {
			return false, nil
		}
		return compareResult(r.op, a.Compare(b)), nil
	}
	return false, runtimeError("unknown comparison %s", r.op)
}

func compareResult(op string, c int) bool {
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	default: // Equals
		return c == 0
	}
}

// stringMatches implements StringMatches: * matches any run of characters
// (including none); \* is a literal asterisk and \\ a literal backslash.
func stringMatches(s, pattern string) bool {
	type tok struct {
		r    rune
		star bool
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr):
			toks = append(toks, tok{r: pr[i+1]})
			i++
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{r: pr[i]})
		}
	}
	sr := []rune(s)
	// Classic wildcard matching with backtracking to the last star.
	si, ti, starT, starS := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].r == sr[si]:
			si++
			ti++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			si, ti = starS, starT+1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
