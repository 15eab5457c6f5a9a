package route53emu

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Domain names cross the API in Route 53's format: labels of letters,
// digits, '-' and '_', any other byte written as a three-digit octal escape
// (\052 for '*'), an optional final dot, case-insensitive. Inside the
// package a name is kept as miekg/dns presentation (lowercase, other bytes as
// decimal \DDD escapes, final dot), the form dns.RR owner names use.

// errName reports a name that is not a valid domain name.
var errName = errors.New("not a valid domain name")

// parseAPIName reads a name in Route 53's API format into its labels'
// bytes, lowercased. The root (".") has no labels.
func parseAPIName(s string) ([][]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", errName)
	}
	if s == "." {
		return nil, nil
	}
	var (
		labels [][]byte
		cur    []byte
		total  = 1
	)
	end := func() error {
		if len(cur) == 0 {
			return fmt.Errorf("%w: %q has an empty label", errName, s)
		}
		if len(cur) > 63 {
			return fmt.Errorf("%w: %q has a label longer than 63 bytes", errName, s)
		}
		total += len(cur) + 1
		labels = append(labels, cur)
		cur = nil
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if err := end(); err != nil {
				return nil, err
			}
		case c == '\\':
			if i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
				v := int(s[i+1]-'0')*64 + int(s[i+2]-'0')*8 + int(s[i+3]-'0')
				if v > 255 {
					return nil, fmt.Errorf("%w: %q has an escape above \\377", errName, s)
				}
				cur = append(cur, lower(byte(v)))
				i += 3
				continue
			}
			if i+1 < len(s) {
				cur = append(cur, lower(s[i+1]))
				i++
				continue
			}
			return nil, fmt.Errorf("%w: %q ends in a backslash", errName, s)
		case c <= ' ' || c >= 0x7f:
			return nil, fmt.Errorf("%w: %q contains byte 0x%02x; escape it as \\%03o", errName, s, c, c)
		default:
			cur = append(cur, lower(c))
		}
	}
	if len(cur) > 0 {
		if err := end(); err != nil {
			return nil, err
		}
	}
	if total > 255 {
		return nil, fmt.Errorf("%w: %q is longer than 255 bytes", errName, s)
	}
	return labels, nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// plainByte reports whether Route 53 writes b unescaped.
func plainByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// internalName writes labels as a miekg/dns presentation name.
func internalName(labels [][]byte) string {
	if len(labels) == 0 {
		return "."
	}
	var b strings.Builder
	for _, l := range labels {
		for _, c := range l {
			switch {
			case plainByte(c) || c == '*':
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "\\%03d", c)
			}
		}
		b.WriteByte('.')
	}
	return b.String()
}

// labelsOf splits a miekg/dns presentation name into its labels' bytes.
func labelsOf(name string) [][]byte {
	var (
		labels [][]byte
		cur    []byte
	)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if len(cur) > 0 {
				labels = append(labels, cur)
			}
			cur = nil
		case c == '\\' && i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]):
			cur = append(cur, byte(int(name[i+1]-'0')*100+int(name[i+2]-'0')*10+int(name[i+3]-'0')))
			i += 3
		case c == '\\' && i+1 < len(name):
			cur = append(cur, name[i+1])
			i++
		default:
			cur = append(cur, c)
		}
	}
	if len(cur) > 0 {
		labels = append(labels, cur)
	}
	return labels
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// apiLabel writes one label the way Route 53 returns it.
func apiLabel(l []byte) string {
	var b strings.Builder
	for _, c := range l {
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "\\%03o", c)
	}
	return b.String()
}

// apiName writes an internal name the way Route 53 returns it: escaped
// labels and a final dot ("\052.example.com.").
func apiName(name string) string {
	labels := labelsOf(name)
	if len(labels) == 0 {
		return "."
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = apiLabel(l)
	}
	return strings.Join(parts, ".") + "."
}

// sortKey is the key Route 53 sorts names by: the escaped labels reversed
// ("com.example.www."), compared as ASCII.
func sortKey(name string) string {
	if k, ok := sortKeys.Load(name); ok {
		return k.(string)
	}
	k := computeSortKey(name)
	sortKeys.Store(name, k)
	return k
}

// sortKeys memoizes sortKey: listings and every change of a zone with
// thousands of record sets sort them by it. Names are few (those of the
// emulated zones), so the cache stays small.
var sortKeys sync.Map

func computeSortKey(name string) string {
	labels := labelsOf(name)
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[len(labels)-1-i] = apiLabel(l)
	}
	return strings.Join(parts, ".") + "."
}

// normalizeAPIName turns an API name into the internal form.
func normalizeAPIName(s string) (string, error) {
	labels, err := parseAPIName(s)
	if err != nil {
		return "", err
	}
	return internalName(labels), nil
}

// inZone reports whether name is zone or below it (both internal form).
func inZone(name, zone string) bool {
	if zone == "." {
		return true
	}
	return name == zone || strings.HasSuffix(name, "."+zone)
}
