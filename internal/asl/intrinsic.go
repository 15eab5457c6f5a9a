package asl

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Intrinsic functions of the Amazon States Language (JSONPath), as the
// Step Functions developer guide ("Intrinsic functions for JSONPath states")
// documents them, with its argument limits. Every failure is
// States.IntrinsicFailure.

// Documented limits.
const (
	maxIntrinsicNesting = 10    // "up to 10 intrinsic functions within a field"
	maxArrayRange       = 1000  // States.ArrayRange: "up to 1000 elements"
	maxEncodeInput      = 10000 // States.Base64Encode/Base64Decode/Hash: 10,000 characters
	minMathAdd          = math.MinInt32
	maxMathAdd          = math.MaxInt32
)

// intrinsic is a parsed call: States.Name(args...).
type intrinsic struct {
	name string
	args []iarg
}

// iarg is one argument: a literal, a path, or a nested call.
type iarg struct {
	lit  any
	str  *istring // string literal, with the escapes kept for States.Format
	path *path
	call *intrinsic
}

// istring is a string literal; escaped marks the runes written with a
// backslash (\' \{ \} \\), which States.Format never treats as a placeholder.
type istring struct {
	runes   []rune
	escaped []bool
}

func (s *istring) String() string { return string(s.runes) }

var intrinsicArity = map[string][2]int{ // min, max (-1: any)
	"States.Format":         {1, -1},
	"States.StringToJson":   {1, 1},
	"States.JsonToString":   {1, 1},
	"States.Array":          {0, -1},
	"States.ArrayPartition": {2, 2},
	"States.ArrayContains":  {2, 2},
	"States.ArrayRange":     {3, 3},
	"States.ArrayGetItem":   {2, 2},
	"States.ArrayLength":    {1, 1},
	"States.ArrayUnique":    {1, 1},
	"States.Base64Encode":   {1, 1},
	"States.Base64Decode":   {1, 1},
	"States.Hash":           {2, 2},
	"States.JsonMerge":      {3, 3},
	"States.MathRandom":     {2, 3},
	"States.MathAdd":        {2, 2},
	"States.StringSplit":    {2, 2},
	"States.UUID":           {0, 0},
}

// isIntrinsic tells whether a "x.$" value is an intrinsic call.
func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

// parseIntrinsic parses a whole call and checks names and arity at load time.
func parseIntrinsic(src string) (*intrinsic, error) {
	p := &iparser{src: []rune(src)}
	call, err := p.call(1)
	if err != nil {
		return nil, fmt.Errorf("intrinsic %q: %v", src, err)
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("intrinsic %q: unexpected text after the call at %d", src, p.pos)
	}
	return call, nil
}

type iparser struct {
	src []rune
	pos int
}

func (p *iparser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

func (p *iparser) call(depth int) (*intrinsic, error) {
	if depth > maxIntrinsicNesting {
		return nil, fmt.Errorf("more than %d nested intrinsic functions", maxIntrinsicNesting)
	}
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '(' {
		p.pos++
	}
	if p.pos == len(p.src) {
		return nil, fmt.Errorf("missing (")
	}
	name := strings.TrimSpace(string(p.src[start:p.pos]))
	arity, ok := intrinsicArity[name]
	if !ok {
		return nil, fmt.Errorf("unknown intrinsic function %q", name)
	}
	p.pos++ // (
	c := &intrinsic{name: name}
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			p.space()
			a, err := p.arg(depth)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.pos >= len(p.src) {
				return nil, fmt.Errorf("missing )")
			}
			if p.src[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			return nil, fmt.Errorf("unexpected %q at %d", p.src[p.pos], p.pos)
		}
	}
	if len(c.args) < arity[0] || (arity[1] >= 0 && len(c.args) > arity[1]) {
		return nil, fmt.Errorf("%s takes %s arguments, got %d", name, arityText(arity), len(c.args))
	}
	return c, nil
}

func arityText(a [2]int) string {
	switch {
	case a[1] < 0:
		return fmt.Sprintf("at least %d", a[0])
	case a[0] == a[1]:
		return strconv.Itoa(a[0])
	default:
		return fmt.Sprintf("%d to %d", a[0], a[1])
	}
}

func (p *iparser) arg(depth int) (iarg, error) {
	if p.pos >= len(p.src) {
		return iarg{}, fmt.Errorf("missing argument")
	}
	r := p.src[p.pos]
	switch {
	case r == '\'':
		p.pos++
		s := &istring{}
		for {
			if p.pos >= len(p.src) {
				return iarg{}, fmt.Errorf("unterminated string")
			}
			c := p.src[p.pos]
			if c == '\\' {
				if p.pos+1 >= len(p.src) {
					return iarg{}, fmt.Errorf("dangling backslash")
				}
				next := p.src[p.pos+1]
				if !strings.ContainsRune(`'{}\`, next) {
					return iarg{}, fmt.Errorf("invalid escape \\%c", next)
				}
				s.runes = append(s.runes, next)
				s.escaped = append(s.escaped, true)
				p.pos += 2
				continue
			}
			if c == '\'' {
				p.pos++
				break
			}
			s.runes = append(s.runes, c)
			s.escaped = append(s.escaped, false)
			p.pos++
		}
		return iarg{str: s}, nil
	case r == '$':
		start := p.pos
		depthB := 0
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '[' || c == '(' {
				depthB++
			} else if (c == ']' || c == ')') && depthB > 0 {
				depthB--
			} else if depthB == 0 && (c == ',' || c == ')' || c == ' ') {
				break
			}
			p.pos++
		}
		pt, err := parsePath(string(p.src[start:p.pos]), false)
		if err != nil {
			return iarg{}, err
		}
		return iarg{path: pt}, nil
	case strings.HasPrefix(string(p.src[p.pos:]), "States."):
		c, err := p.call(depth + 1)
		if err != nil {
			return iarg{}, err
		}
		return iarg{call: c}, nil
	default:
		start := p.pos
		for p.pos < len(p.src) && p.src[p.pos] != ',' && p.src[p.pos] != ')' && p.src[p.pos] != ' ' {
			p.pos++
		}
		tok := string(p.src[start:p.pos])
		switch tok {
		case "true":
			return iarg{lit: true}, nil
		case "false":
			return iarg{lit: false}, nil
		case "null":
			return iarg{lit: nil}, nil
		}
		if _, err := strconv.ParseFloat(tok, 64); err == nil {
			return iarg{lit: json.Number(tok)}, nil
		}
		return iarg{}, fmt.Errorf("invalid argument %q", tok)
	}
}

// intrinsicError is States.IntrinsicFailure with a cause.
func intrinsicError(name, format string, a ...any) *StateError {
	return &StateError{Name: ErrIntrinsicFailure, Cause: name + ": " + fmt.Sprintf(format, a...)}
}

// eval runs the call against the effective input and the context object.
func (c *intrinsic) eval(input, ctx any) (any, *StateError) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.eval(input, ctx)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, ok := a.path.get(input, ctx)
			if !ok {
				return nil, intrinsicError(c.name, "the path %s selects nothing", a.path.src)
			}
			args[i] = v
		case a.str != nil:
			args[i] = a.str.String()
		default:
			args[i] = a.lit
		}
	}
	switch c.name {
	case "States.Format":
		return c.format(args)
	case "States.StringToJson":
		s, ok := args[0].(string)
		if !ok {
			return nil, intrinsicError(c.name, "the argument must be a string, not %s", typeName(args[0]))
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, intrinsicError(c.name, "the argument is not JSON: %v", err)
		}
		return v, nil
	case "States.JsonToString":
		if c.args[0].path == nil {
			return nil, intrinsicError(c.name, "the argument must be a path")
		}
		b, err := encodeJSON(args[0])
		if err != nil {
			return nil, intrinsicError(c.name, "%v", err)
		}
		return string(b), nil
	case "States.Array":
		return append([]any{}, args...), nil
	case "States.ArrayPartition":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, intrinsicError(c.name, "the first argument must be an array")
		}
		size, ok := intArg(args[1])
		if !ok || size <= 0 {
			return nil, intrinsicError(c.name, "the chunk size must be a positive integer")
		}
		out := []any{}
		for i := 0; i < len(arr); i += size {
			end := min(i+size, len(arr))
			out = append(out, append([]any{}, arr[i:end]...))
		}
		return out, nil
	case "States.ArrayContains":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, intrinsicError(c.name, "the first argument must be an array")
		}
		for _, v := range arr {
			if jsonEqual(v, args[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayRange":
		var n [3]int
		for i := range 3 {
			v, ok := intArg(args[i])
			if !ok {
				return nil, intrinsicError(c.name, "argument %d must be an integer", i+1)
			}
			n[i] = v
		}
		if n[2] == 0 {
			return nil, intrinsicError(c.name, "the step must not be 0")
		}
		out := []any{}
		for v := n[0]; (n[2] > 0 && v <= n[1]) || (n[2] < 0 && v >= n[1]); v += n[2] {
			if len(out) == maxArrayRange {
				return nil, intrinsicError(c.name, "the range has more than %d elements", maxArrayRange)
			}
			out = append(out, json.Number(strconv.Itoa(v)))
		}
		return out, nil
	case "States.ArrayGetItem":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, intrinsicError(c.name, "the first argument must be an array")
		}
		i, ok := intArg(args[1])
		if !ok || i < 0 || i >= len(arr) {
			return nil, intrinsicError(c.name, "index %v is out of range for an array of %d", args[1], len(arr))
		}
		return arr[i], nil
	case "States.ArrayLength":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, intrinsicError(c.name, "the argument must be an array")
		}
		return json.Number(strconv.Itoa(len(arr))), nil
	case "States.ArrayUnique":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, intrinsicError(c.name, "the argument must be an array")
		}
		out := []any{}
	next:
		for _, v := range arr {
			for _, seen := range out {
				if jsonEqual(v, seen) {
					continue next
				}
			}
			out = append(out, v)
		}
		return out, nil
	case "States.Base64Encode":
		s, ok := args[0].(string)
		if !ok {
			return nil, intrinsicError(c.name, "the argument must be a string")
		}
		if utf8.RuneCountInString(s) > maxEncodeInput {
			return nil, intrinsicError(c.name, "the input has more than %d characters", maxEncodeInput)
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, ok := args[0].(string)
		if !ok {
			return nil, intrinsicError(c.name, "the argument must be a string")
		}
		if utf8.RuneCountInString(s) > maxEncodeInput {
			return nil, intrinsicError(c.name, "the input has more than %d characters", maxEncodeInput)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, intrinsicError(c.name, "invalid base64: %v", err)
		}
		return string(b), nil
	case "States.Hash":
		s, ok := args[0].(string)
		if !ok {
			return nil, intrinsicError(c.name, "the data must be a string")
		}
		if utf8.RuneCountInString(s) > maxEncodeInput {
			return nil, intrinsicError(c.name, "the input has more than %d characters", maxEncodeInput)
		}
		alg, _ := args[1].(string)
		var h hash.Hash
		switch alg {
		case "MD5":
			h = md5.New()
		case "SHA-1":
			h = sha1.New()
		case "SHA-256":
			h = sha256.New()
		case "SHA-384":
			h = sha512.New384()
		case "SHA-512":
			h = sha512.New()
		default:
			return nil, intrinsicError(c.name, "unsupported algorithm %v (MD5, SHA-1, SHA-256, SHA-384, SHA-512)", args[1])
		}
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil)), nil
	case "States.JsonMerge":
		a, ok1 := args[0].(map[string]any)
		b, ok2 := args[1].(map[string]any)
		if !ok1 || !ok2 {
			return nil, intrinsicError(c.name, "both arguments must be objects")
		}
		if deep, ok := args[2].(bool); !ok || deep {
			return nil, intrinsicError(c.name, "only shallow merging is supported: the third argument must be false")
		}
		out := make(map[string]any, len(a)+len(b))
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out, nil
	case "States.MathRandom":
		lo, ok1 := intArg(args[0])
		hi, ok2 := intArg(args[1])
		if !ok1 || !ok2 {
			return nil, intrinsicError(c.name, "start and end must be integers")
		}
		if hi <= lo {
			return nil, intrinsicError(c.name, "end must be greater than start")
		}
		var r *mrand.Rand
		if len(args) == 3 {
			seed, ok := intArg(args[2])
			if !ok {
				return nil, intrinsicError(c.name, "the seed must be an integer")
			}
			r = mrand.New(mrand.NewPCG(uint64(seed), 0))
		} else {
			r = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
		}
		// The guide: "a random number between the specified start and end
		// number"; the spec examples treat start as inclusive and end as
		// exclusive, which this follows.
		return json.Number(strconv.Itoa(lo + r.IntN(hi-lo))), nil
	case "States.MathAdd":
		var sum int64
		for i := range 2 {
			f, ok := numArg(args[i])
			if !ok {
				return nil, intrinsicError(c.name, "argument %d must be a number", i+1)
			}
			// The guide: non-integer values are rounded to the nearest integer.
			v := int64(math.Round(f))
			if v < minMathAdd || v > maxMathAdd {
				return nil, intrinsicError(c.name, "argument %d is out of the range %d..%d", i+1, minMathAdd, maxMathAdd)
			}
			sum += v
		}
		return json.Number(strconv.FormatInt(sum, 10)), nil
	case "States.StringSplit":
		s, ok1 := args[0].(string)
		d, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, intrinsicError(c.name, "both arguments must be strings")
		}
		// AWS splits on any of the delimiter's characters and drops empty
		// tokens (the guide's example "1,2,3,4,5" -> ["1","2","3","4","5"];
		// observed behaviour for multi-character delimiters).
		out := []any{}
		for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) }) {
			out = append(out, tok)
		}
		return out, nil
	case "States.UUID":
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, intrinsicError(c.name, "%v", err)
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
	}
	return nil, intrinsicError(c.name, "not implemented")
}

// format is States.Format: each unescaped {} takes the next argument.
func (c *intrinsic) format(args []any) (any, *StateError) {
	tmpl := c.args[0].str
	if tmpl == nil {
		s, ok := args[0].(string)
		if !ok {
			return nil, intrinsicError(c.name, "the template must be a string")
		}
		tmpl = &istring{runes: []rune(s), escaped: make([]bool, utf8.RuneCountInString(s))}
	}
	var b strings.Builder
	next := 1
	for i := 0; i < len(tmpl.runes); i++ {
		r := tmpl.runes[i]
		if r == '{' && !tmpl.escaped[i] && i+1 < len(tmpl.runes) && tmpl.runes[i+1] == '}' && !tmpl.escaped[i+1] {
			if next >= len(args) {
				return nil, intrinsicError(c.name, "the template has more {} than arguments")
			}
			v := args[next]
			next++
			switch v := v.(type) {
			case string:
				b.WriteString(v)
			case map[string]any, []any:
				// The guide lists string, number, boolean and null
				// arguments; objects and arrays are refused.
				return nil, intrinsicError(c.name, "argument %d is an %s; only strings, numbers, booleans and null can be formatted", next-1, typeName(v))
			default:
				enc, _ := encodeJSON(v)
				b.Write(enc)
			}
			i++
			continue
		}
		b.WriteRune(r)
	}
	if next != len(args) {
		return nil, intrinsicError(c.name, "%d arguments for %d {} in the template", len(args)-1, next-1)
	}
	return b.String(), nil
}

// intArg reads an integral JSON number.
func intArg(v any) (int, bool) {
	f, ok := numArg(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

func numArg(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}
