package r53dns

import (
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
)

// maxSignedTTL is the largest TTL Route 53 serves in a signed zone: "When
// DNSSEC signing is enabled for a hosted zone, Route 53 limits the TTL to
// one week."
const maxSignedTTL = 7 * 24 * 3600

// view is one hosted zone as of one snapshot, indexed for answering.
type view struct {
	origin  string
	signing bool
	// ksks are the published key-signing keys (every status but INACTIVE).
	ksks  []route53emu.KSK
	nodes map[string]map[uint16][]dns.RR
	// exists holds every owner name and every name between an owner and
	// the origin (empty non-terminals).
	exists map[string]bool
	// cuts are the delegation points (NS below the origin).
	cuts map[string]bool
	soa  *dns.SOA
}

func newView(snap route53emu.Snapshot) *view { return newViewPolicy(snap, defaultPolicy) }

// newViewPolicy is newView with the TTLs capped by p.
func newViewPolicy(snap route53emu.Snapshot, p policy) *view {
	v := &view{
		origin:  dns.CanonicalName(snap.Name),
		signing: snap.Signing,
		nodes:   map[string]map[uint16][]dns.RR{},
		exists:  map[string]bool{},
		cuts:    map[string]bool{},
	}
	for _, rr := range snap.Records {
		rr = dns.Copy(rr)
		h := rr.Header()
		h.Name = dns.CanonicalName(h.Name)
		if v.signing && h.Ttl > maxSignedTTL {
			h.Ttl = maxSignedTTL
		}
		h.Ttl = p.ttl(h.Ttl)
		n := v.nodes[h.Name]
		if n == nil {
			n = map[uint16][]dns.RR{}
			v.nodes[h.Name] = n
		}
		n[h.Rrtype] = append(n[h.Rrtype], rr)
		for name := h.Name; dns.IsSubDomain(v.origin, name); name = parent(name) {
			v.exists[name] = true
			if name == v.origin {
				break
			}
		}
		switch r := rr.(type) {
		case *dns.SOA:
			if h.Name == v.origin {
				v.soa = r
			}
		case *dns.NS:
			if h.Name != v.origin {
				v.cuts[h.Name] = true
			}
		}
	}
	if v.signing {
		for _, k := range snap.KSKs {
			if k.Status != route53emu.KSKInactive && k.Status != route53emu.KSKDeleting {
				v.ksks = append(v.ksks, k)
			}
		}
	}
	return v
}

// cut returns the highest delegation point at or above name, or "".
func (v *view) cut(name string) string {
	labels := dns.SplitDomainName(name)
	originLabels := dns.CountLabel(v.origin)
	for i := len(labels) - originLabels - 1; i >= 0; i-- {
		n := dns.Fqdn(strings.Join(labels[i:], "."))
		if v.cuts[n] {
			return n
		}
	}
	return ""
}

// types returns the types at name in ascending order, with DNSKEY at the
// apex of a signed zone.
func (v *view) types(name string) []uint16 {
	var out []uint16
	for t := range v.nodes[name] {
		out = append(out, t)
	}
	if v.signing && name == v.origin {
		out = append(out, dns.TypeDNSKEY)
	}
	slices.Sort(out)
	return out
}

// wildcard returns the wildcard name that covers name (RFC 4592: the
// wildcard child of name's closest encloser), or "" when none does.
func (v *view) wildcard(name string) string {
	for ce := parent(name); dns.IsSubDomain(v.origin, ce); ce = parent(ce) {
		if v.exists[ce] {
			w := "*." + ce
			if v.nodes[w] != nil {
				return w
			}
			return ""
		}
		if ce == v.origin || ce == "." {
			break
		}
	}
	return ""
}

// negativeTTL is the TTL of negative answers: min(SOA TTL, SOA MINIMUM)
// (RFC 2308 section 5, RFC 9077).
func (v *view) negativeTTL() uint32 {
	if v.soa == nil {
		return 0
	}
	return min(v.soa.Hdr.Ttl, v.soa.Minttl)
}

func parent(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}
