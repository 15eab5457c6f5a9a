package kmsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file holds a small IAM policy evaluator, enough for key policies:
// Allow/Deny statements (an explicit Deny wins, no Allow is an implicit
// deny), Principal/NotPrincipal, Action/NotAction, Resource/NotResource and
// the condition operators listed in conditionOps.

// policy is a parsed key policy document.
type policy struct {
	Statements []statement
}

type statement struct {
	Sid          string
	Effect       string // "Allow" or "Deny"
	Principal    principals
	NotPrincipal principals
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	Conditions   []condition
}

// principals is the parsed Principal element. All is set by "*".
type principals struct {
	All     bool
	AWS     []string
	Service []string
	present bool
}

// condition is one operator/key pair of a Condition block; its Values are
// ORed, and every condition of a statement must hold (AND).
type condition struct {
	Op       string // operator without the IfExists suffix, e.g. "StringLike"
	IfExists bool
	Key      string
	Values   []string
}

// request is what a policy is evaluated against.
type request struct {
	// PrincipalAWS is the ARN of an IAM principal (e.g. the account root),
	// empty for a service principal.
	PrincipalAWS string
	// PrincipalAccount is the account of PrincipalAWS.
	PrincipalAccount string
	// PrincipalService is a service principal such as
	// dnssec-route53.amazonaws.com, empty for an IAM principal.
	PrincipalService string
	Action           string
	Resource         string
	// Context holds the condition keys of the request; names are matched
	// case-insensitively.
	Context map[string]string
}

// errMalformedPolicy is wrapped by every parse failure.
var errMalformedPolicy = errors.New("malformed policy document")

// conditionOps are the supported condition operators (the IfExists forms
// are accepted for every one except Null).
var conditionOps = map[string]bool{
	"StringEquals":              true,
	"StringNotEquals":           true,
	"StringEqualsIgnoreCase":    true,
	"StringNotEqualsIgnoreCase": true,
	"StringLike":                true,
	"StringNotLike":             true,
	"ArnEquals":                 true,
	"ArnLike":                   true,
	"ArnNotEquals":              true,
	"ArnNotLike":                true,
	"Bool":                      true,
	"Null":                      true,
}

// parsePolicy parses and validates a key policy document.
func parsePolicy(doc string) (*policy, error) {
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformedPolicy, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the document", errMalformedPolicy)
	}
	if raw.Version != "" && raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return nil, fmt.Errorf("%w: unknown Version %q", errMalformedPolicy, raw.Version)
	}
	if len(raw.Statement) == 0 {
		return nil, fmt.Errorf("%w: no Statement", errMalformedPolicy)
	}
	var rawStmts []json.RawMessage
	if trimmed := bytes.TrimSpace(raw.Statement); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(raw.Statement, &rawStmts); err != nil {
			return nil, fmt.Errorf("%w: Statement: %v", errMalformedPolicy, err)
		}
	} else {
		rawStmts = []json.RawMessage{raw.Statement}
	}
	if len(rawStmts) == 0 {
		return nil, fmt.Errorf("%w: empty Statement list", errMalformedPolicy)
	}
	p := &policy{}
	for i, rs := range rawStmts {
		st, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("%w (statement %d)", err, i)
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func parseStatement(data json.RawMessage) (statement, error) {
	var rs struct {
		Sid          string
		Effect       string
		Principal    json.RawMessage
		NotPrincipal json.RawMessage
		Action       json.RawMessage
		NotAction    json.RawMessage
		Resource     json.RawMessage
		NotResource  json.RawMessage
		Condition    map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &rs); err != nil {
		return statement{}, fmt.Errorf("%w: %v", errMalformedPolicy, err)
	}
	st := statement{Sid: rs.Sid, Effect: rs.Effect}
	if st.Effect != "Allow" && st.Effect != "Deny" {
		return st, fmt.Errorf("%w: Effect must be Allow or Deny, got %q", errMalformedPolicy, rs.Effect)
	}
	var err error
	if st.Principal, err = parsePrincipal(rs.Principal); err != nil {
		return st, err
	}
	if st.NotPrincipal, err = parsePrincipal(rs.NotPrincipal); err != nil {
		return st, err
	}
	if st.Principal.present == st.NotPrincipal.present {
		return st, fmt.Errorf("%w: a key policy statement needs exactly one of Principal or NotPrincipal", errMalformedPolicy)
	}
	if st.Actions, err = stringOrList(rs.Action, "Action"); err != nil {
		return st, err
	}
	if st.NotActions, err = stringOrList(rs.NotAction, "NotAction"); err != nil {
		return st, err
	}
	if (len(st.Actions) == 0) == (len(st.NotActions) == 0) {
		return st, fmt.Errorf("%w: a statement needs exactly one of Action or NotAction", errMalformedPolicy)
	}
	for _, a := range append(append([]string(nil), st.Actions...), st.NotActions...) {
		if a != "*" && !strings.Contains(a, ":") {
			return st, fmt.Errorf("%w: action %q has no service prefix", errMalformedPolicy, a)
		}
	}
	if st.Resources, err = stringOrList(rs.Resource, "Resource"); err != nil {
		return st, err
	}
	if st.NotResources, err = stringOrList(rs.NotResource, "NotResource"); err != nil {
		return st, err
	}
	if (len(st.Resources) == 0) == (len(st.NotResources) == 0) {
		return st, fmt.Errorf("%w: a statement needs exactly one of Resource or NotResource", errMalformedPolicy)
	}
	for op, keys := range rs.Condition {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		if !conditionOps[base] || (ifExists && base == "Null") {
			return st, fmt.Errorf("%w: unsupported condition operator %q", errMalformedPolicy, op)
		}
		for key, rv := range keys {
			vals, err := conditionValues(rv)
			if err != nil {
				return st, fmt.Errorf("%w: condition %s %s: %v", errMalformedPolicy, op, key, err)
			}
			st.Conditions = append(st.Conditions, condition{Op: base, IfExists: ifExists, Key: key, Values: vals})
		}
	}
	return st, nil
}

func parsePrincipal(data json.RawMessage) (principals, error) {
	if len(data) == 0 {
		return principals{}, nil
	}
	p := principals{present: true}
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		if s != "*" {
			return p, fmt.Errorf("%w: Principal string must be \"*\", got %q", errMalformedPolicy, s)
		}
		p.All = true
		return p, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return p, fmt.Errorf("%w: Principal: %v", errMalformedPolicy, err)
	}
	if len(m) == 0 {
		return p, fmt.Errorf("%w: empty Principal", errMalformedPolicy)
	}
	for kind, raw := range m {
		vals, err := stringOrList(raw, "Principal."+kind)
		if err != nil {
			return p, err
		}
		switch kind {
		case "AWS":
			for _, v := range vals {
				if v != "*" && !isAccountID(v) && !strings.HasPrefix(v, "arn:") {
					return p, fmt.Errorf("%w: invalid principal %q", errMalformedPolicy, v)
				}
			}
			p.AWS = append(p.AWS, vals...)
		case "Service":
			p.Service = append(p.Service, vals...)
		case "Federated", "CanonicalUser":
			// Accepted, never matched by this emulator's principals.
		default:
			return p, fmt.Errorf("%w: unknown principal type %q", errMalformedPolicy, kind)
		}
	}
	return p, nil
}

// stringOrList decodes a JSON string or list of strings; absent -> nil.
func stringOrList(data json.RawMessage, what string) ([]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		if s == "" {
			return nil, fmt.Errorf("%w: empty %s", errMalformedPolicy, what)
		}
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("%w: %s must be a string or a list of strings", errMalformedPolicy, what)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("%w: empty %s list", errMalformedPolicy, what)
	}
	return l, nil
}

// conditionValues decodes a condition value: a scalar or a list of scalars
// (strings, booleans or numbers, all compared as strings).
func conditionValues(data json.RawMessage) ([]string, error) {
	var decoded any
	if err := json.Unmarshal(data, &decoded); err != nil {
		return nil, err
	}
	scalar := func(v any) (string, error) {
		switch x := v.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		}
		return "", fmt.Errorf("value %v is not a scalar", v)
	}
	if l, ok := decoded.([]any); ok {
		if len(l) == 0 {
			return nil, errors.New("empty value list")
		}
		out := make([]string, 0, len(l))
		for _, v := range l {
			s, err := scalar(v)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(decoded)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// decision is the outcome of evaluating a policy.
type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

// evaluate applies p to req: an explicit Deny wins over any Allow, and no
// matching Allow is an implicit deny.
func (p *policy) evaluate(req request) decision {
	d := implicitDeny
	for _, st := range p.Statements {
		if !st.matches(req) {
			continue
		}
		if st.Effect == "Deny" {
			return explicitDeny
		}
		d = allowed
	}
	return d
}

func (st statement) matches(req request) bool {
	if st.Principal.present && !st.Principal.match(req) {
		return false
	}
	if st.NotPrincipal.present && st.NotPrincipal.match(req) {
		return false
	}
	if len(st.Actions) > 0 && !anyMatch(st.Actions, req.Action, true) {
		return false
	}
	if len(st.NotActions) > 0 && anyMatch(st.NotActions, req.Action, true) {
		return false
	}
	if len(st.Resources) > 0 && !anyMatch(st.Resources, req.Resource, false) {
		return false
	}
	if len(st.NotResources) > 0 && anyMatch(st.NotResources, req.Resource, false) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(req.Context) {
			return false
		}
	}
	return true
}

func (p principals) match(req request) bool {
	if p.All {
		return true
	}
	for _, a := range p.AWS {
		switch {
		case a == "*":
			return true
		case req.PrincipalAWS == "":
		case a == req.PrincipalAWS:
			return true
		case isAccountID(a) && a == req.PrincipalAccount:
			return true
		case a == "arn:aws:iam::"+req.PrincipalAccount+":root":
			// The account root delegates to the account's IAM policies;
			// every IAM principal of the account is treated as allowed by
			// them (the emulator's callers are account administrators).
			return true
		}
	}
	if req.PrincipalService != "" {
		for _, s := range p.Service {
			if strings.EqualFold(s, req.PrincipalService) {
				return true
			}
		}
	}
	return false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, value string, foldCase bool) bool {
	for _, p := range patterns {
		if foldCase {
			if wildcardMatch(strings.ToLower(p), strings.ToLower(value)) {
				return true
			}
		} else if wildcardMatch(p, value) {
			return true
		}
	}
	return false
}

// holds reports whether the condition is satisfied by ctx. A missing key
// fails every positive operator, satisfies the negated ones and any
// ...IfExists form.
func (c condition) holds(ctx map[string]string) bool {
	v, ok := lookupFold(ctx, c.Key)
	if c.Op == "Null" {
		want := strings.EqualFold(c.Values[0], "true")
		return want != ok
	}
	if !ok {
		if c.IfExists {
			return true
		}
		return strings.Contains(c.Op, "Not")
	}
	switch c.Op {
	case "StringEquals":
		return anyOf(c.Values, func(p string) bool { return p == v })
	case "StringNotEquals":
		return !anyOf(c.Values, func(p string) bool { return p == v })
	case "StringEqualsIgnoreCase":
		return anyOf(c.Values, func(p string) bool { return strings.EqualFold(p, v) })
	case "StringNotEqualsIgnoreCase":
		return !anyOf(c.Values, func(p string) bool { return strings.EqualFold(p, v) })
	case "StringLike":
		return anyOf(c.Values, func(p string) bool { return wildcardMatch(p, v) })
	case "StringNotLike":
		return !anyOf(c.Values, func(p string) bool { return wildcardMatch(p, v) })
	case "ArnEquals", "ArnLike":
		return anyOf(c.Values, func(p string) bool { return arnMatch(p, v) })
	case "ArnNotEquals", "ArnNotLike":
		return !anyOf(c.Values, func(p string) bool { return arnMatch(p, v) })
	case "Bool":
		return anyOf(c.Values, func(p string) bool { return strings.EqualFold(p, v) })
	}
	return false
}

func lookupFold(ctx map[string]string, key string) (string, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func anyOf(vals []string, f func(string) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
	}
	return false
}

// arnMatch compares an ARN pattern and an ARN component by component (six
// colon-separated parts, the last one may contain colons), each with
// wildcards, as IAM's ArnLike and ArnEquals do.
func arnMatch(pattern, arn string) bool {
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !wildcardMatch(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// wildcardMatch matches s against pattern, where * matches any run of
// characters (also empty) and ? exactly one character.
func wildcardMatch(pattern, s string) bool {
	p, v := []rune(pattern), []rune(s)
	pi, vi := 0, 0
	star, mark := -1, 0
	for vi < len(v) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == v[vi]):
			pi++
			vi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, vi
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			vi = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
