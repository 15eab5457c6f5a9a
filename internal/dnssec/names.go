package dnssec

import (
	"github.com/miekg/dns"
)

// Name helpers. Every name handled by the resolver is first made canonical
// (lower case, fully qualified) with dns.CanonicalName.

// lastLabels returns the name made of the last n labels of name: the
// ancestor of name with n labels ("." for n == 0).
func lastLabels(name string, n int) string {
	idx := dns.Split(name)
	switch {
	case n <= 0:
		return "."
	case n >= len(idx):
		return name
	}
	return name[idx[len(idx)-n]:]
}

// parentName returns name without its first label ("." for the root and
// for single-label names).
func parentName(name string) string {
	return lastLabels(name, dns.CountLabel(name)-1)
}

// isSubdomain reports whether child is parent or below it.
func isSubdomain(parent, child string) bool { return dns.IsSubDomain(parent, child) }

// isProperSubdomain reports whether child is strictly below parent.
func isProperSubdomain(parent, child string) bool {
	return dns.CountLabel(child) > dns.CountLabel(parent) && dns.IsSubDomain(parent, child)
}

// sameName compares two names case-insensitively.
func sameName(a, b string) bool { return dns.CanonicalName(a) == dns.CanonicalName(b) }

// commonAncestor returns the longest name that is an ancestor of (or equal
// to) both a and b.
func commonAncestor(a, b string) string {
	return lastLabels(a, dns.CompareDomainName(a, b))
}

// wireLabels returns the labels of name as raw bytes, lower-cased, from the
// leftmost label to the rightmost, with presentation escapes resolved.
func wireLabels(name string) [][]byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	buf = buf[:n]
	var out [][]byte
	for off := 0; off < len(buf) && buf[off] != 0; {
		l := int(buf[off])
		if off+1+l > len(buf) {
			break
		}
		out = append(out, buf[off+1:off+1+l])
		off += 1 + l
	}
	return out
}

// canonicalCompare orders two names as RFC 4034 section 6.1 does: label by
// label from the right, each label compared as lower-cased octets, a name
// sorting before its own descendants. It returns -1, 0 or +1.
func canonicalCompare(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i, j := len(la)-1, len(lb)-1; ; i, j = i-1, j-1 {
		switch {
		case i < 0 && j < 0:
			return 0
		case i < 0:
			return -1
		case j < 0:
			return 1
		}
		if c := compareOctets(la[i], lb[j]); c != 0 {
			return c
		}
	}
}

func compareOctets(a, b []byte) int {
	for k := 0; k < len(a) && k < len(b); k++ {
		if a[k] != b[k] {
			if a[k] < b[k] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// hasType reports whether a type bitmap lists t.
func hasType(bitmap []uint16, t uint16) bool {
	for _, b := range bitmap {
		if b == t {
			return true
		}
	}
	return false
}
