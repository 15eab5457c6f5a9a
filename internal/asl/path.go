package asl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
)

// A path is an ASL Path: a JSONPath starting with "$" (the state's input) or
// "$$" (the context object). AWS documents two kinds: Reference Paths (only
// object fields and array indexes, always one node: ResultPath, Variable,
// SecondsPath, ...) and full Paths (any JSONPath: InputPath, OutputPath,
// ItemsPath, the "x.$" fields of Parameters and ResultSelector). A full Path
// that is not a reference path may select many nodes; AWS (Jayway JSONPath)
// then yields a JSON array of the matches, as does this runner.
type path struct {
	src     string
	context bool           // "$$..."
	steps   []step         // set when the path is a reference path
	query   *jsonpath.Path // set otherwise
}

// step is one element of a reference path: a field name or an array index.
type step struct {
	name  string
	index int
	isIdx bool
}

// parsePath parses an ASL path; reference requires a Reference Path.
func parsePath(src string, reference bool) (*path, error) {
	p := &path{src: src}
	body := src
	if strings.HasPrefix(src, "$$") {
		p.context = true
		body = src[1:]
	}
	if !strings.HasPrefix(body, "$") {
		return nil, fmt.Errorf("path %q does not start with $", src)
	}
	steps, err := parseReference(body[1:])
	if err == nil {
		p.steps = steps
		return p, nil
	}
	if reference {
		return nil, fmt.Errorf("path %q is not a reference path: %v", src, err)
	}
	q, qerr := jsonpath.Parse(body)
	if qerr != nil {
		return nil, fmt.Errorf("path %q: %v", src, qerr)
	}
	p.query = q
	return p, nil
}

// parseReference parses what follows "$" in a reference path: .name,
// ['name'], ["name"], [N].
func parseReference(s string) ([]step, error) {
	var steps []step
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			name := s[:end]
			if name == "" || strings.ContainsAny(name, "*@?()$'\" ,:]") {
				return nil, fmt.Errorf("bad field name %q", name)
			}
			steps = append(steps, step{name: name})
			s = s[end:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			in := s[1:end]
			switch {
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				name := in[1 : len(in)-1]
				if strings.ContainsAny(name, "'\"\\") {
					return nil, fmt.Errorf("quoted name %q needs escapes", name)
				}
				steps = append(steps, step{name: name})
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 || strings.HasPrefix(in, "+") {
					return nil, fmt.Errorf("bad index %q", in)
				}
				steps = append(steps, step{index: n, isIdx: true})
			}
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("unexpected %q", s[0])
		}
	}
	return steps, nil
}

// get evaluates p against doc (or the context object ctx for "$$").
// found is false when a reference path selects nothing.
func (p *path) get(doc, ctx any) (v any, found bool) {
	root := doc
	if p.context {
		root = ctx
	}
	if p.query != nil {
		nodes := p.query.Select(root)
		out := make([]any, 0, len(nodes))
		for _, n := range nodes {
			out = append(out, n)
		}
		return out, true
	}
	v = root
	for _, st := range p.steps {
		switch cur := v.(type) {
		case map[string]any:
			if st.isIdx {
				return nil, false
			}
			next, ok := cur[st.name]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			if !st.isIdx || st.index >= len(cur) {
				return nil, false
			}
			v = cur[st.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// set returns a copy of doc with the node at the reference path p replaced
// by val, creating missing objects on the way, as ResultPath does. It fails
// when the path crosses a value that is not an object (or an array with the
// index present).
func (p *path) set(doc, val any) (any, error) {
	if p.context || p.query != nil {
		return nil, fmt.Errorf("%q is not a reference path into the input", p.src)
	}
	return setSteps(doc, p.steps, val)
}

func setSteps(doc any, steps []step, val any) (any, error) {
	if len(steps) == 0 {
		return val, nil
	}
	st := steps[0]
	switch cur := doc.(type) {
	case map[string]any:
		if st.isIdx {
			return nil, fmt.Errorf("index [%d] applied to an object", st.index)
		}
		out := make(map[string]any, len(cur)+1)
		for k, v := range cur {
			out[k] = v
		}
		child, ok := cur[st.name]
		if !ok {
			child = map[string]any{}
		}
		nv, err := setSteps(child, steps[1:], val)
		if err != nil {
			return nil, err
		}
		out[st.name] = nv
		return out, nil
	case []any:
		if !st.isIdx || st.index >= len(cur) {
			return nil, fmt.Errorf("cannot set %v in an array of %d", st, len(cur))
		}
		out := append([]any(nil), cur...)
		nv, err := setSteps(cur[st.index], steps[1:], val)
		if err != nil {
			return nil, err
		}
		out[st.index] = nv
		return out, nil
	}
	return nil, fmt.Errorf("cannot set a field in a %s", typeName(doc))
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "number"
	}
}
