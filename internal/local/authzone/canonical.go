package authzone

import (
	"bytes"
	"cmp"
	"strings"

	"github.com/miekg/dns"
)

// labels returns the lower-cased wire labels of name, leftmost first.
func labels(name string) [][]byte {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		// Not a valid name: fall back to its text labels.
		var out [][]byte
		for _, l := range dns.SplitDomainName(name) {
			out = append(out, []byte(strings.ToLower(l)))
		}
		return out
	}
	var out [][]byte
	for i := 0; i < n && buf[i] != 0; {
		l := int(buf[i])
		out = append(out, bytes.ToLower(buf[i+1:i+1+l]))
		i += l + 1
	}
	return out
}

// canonicalCompare orders two names as RFC 4034 section 6.1 does: label by
// label from the right, each label as lower-cased octets.
func canonicalCompare(a, b string) int {
	la, lb := labels(a), labels(b)
	for i := 1; i <= min(len(la), len(lb)); i++ {
		if c := bytes.Compare(la[len(la)-i], lb[len(lb)-i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(la), len(lb))
}

// parentName returns name without its leftmost label ("." for a TLD).
func parentName(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}

// ancestors returns the names strictly between origin and name, from the
// one just below origin down to name's parent. name must be below origin.
func ancestors(origin, name string) []string {
	var out []string
	for n := parentName(name); n != origin && dns.IsSubDomain(origin, n) && n != "."; n = parentName(n) {
		out = append(out, n)
	}
	// Reverse: top first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
