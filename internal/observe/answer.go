package observe

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/miekg/dns"
)

// unknown builds an Unknown RRset.
func unknown(reason, format string, args ...any) *RRset {
	return &RRset{State: Unknown, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// transportFailure turns an Exchange error into an Unknown RRset: a server
// that did not answer is never "absent".
func transportFailure(err error) *RRset {
	reason := "error"
	if errors.Is(err, dnsquery.ErrNoAnswer) || errors.Is(err, context.DeadlineExceeded) {
		reason = ReasonTimeout
	}
	return unknown(reason, "%v", err)
}

// authAnswer classifies the answer of a server that must be authoritative
// for zone to the question qname/qtype. It is OK only with the AA bit and the
// RRset in the answer section, Absent only with the AA bit, RCODE NOERROR
// (NODATA) or NXDOMAIN and the SOA of zone in the authority section (RFC 2308
// section 2), and Unknown otherwise. An apex query (qname == zone) that gets
// NXDOMAIN, or an SOA or NS query at the apex that gets NODATA, is malformed:
// the apex always exists and holds both.
func authAnswer(resp *dns.Msg, err error, zone, qname string, qtype uint16) *RRset {
	if err != nil {
		return transportFailure(err)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return unknown(dns.RcodeToString[resp.Rcode], "RCODE %s", dns.RcodeToString[resp.Rcode])
	}
	if resp.Truncated {
		return unknown(ReasonMalformed, "answer still truncated over TCP")
	}
	if !resp.Authoritative {
		return unknown(ReasonNotAuthoritative, "AA bit clear (lame or referral)")
	}
	zone, qname = dns.CanonicalName(zone), dns.CanonicalName(qname)
	var records []dns.RR
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype == qtype && h.Class == dns.ClassINET && dns.CanonicalName(h.Name) == qname {
			records = append(records, rr)
		}
	}
	if len(records) > 0 {
		if resp.Rcode != dns.RcodeSuccess {
			return unknown(ReasonMalformed, "%s with %s records in the answer", dns.RcodeToString[resp.Rcode], dns.TypeToString[qtype])
		}
		set := &RRset{State: OK, Records: records, Sigs: dnssec.SigsFor(resp.Answer, qname, qtype)}
		for _, rr := range records {
			set.TTL = max(set.TTL, rr.Header().Ttl)
		}
		for _, s := range set.Sigs {
			set.TTL = max(set.TTL, s.OrigTtl)
			if exp := dnssec.SigExpiry(s); set.Expiry.IsZero() || exp.Before(set.Expiry) {
				set.Expiry = exp
			}
		}
		return set
	}
	if len(resp.Answer) > 0 {
		return unknown(ReasonMalformed, "answer section holds no %s record for %s", dns.TypeToString[qtype], qname)
	}
	var soa *dns.SOA
	for _, rr := range resp.Ns {
		if s, ok := rr.(*dns.SOA); ok && dns.CanonicalName(s.Hdr.Name) == zone {
			soa = s
		}
	}
	if soa == nil {
		return unknown(ReasonMalformed, "negative answer without the SOA of %s", zone)
	}
	reason := ReasonNoData
	if resp.Rcode == dns.RcodeNameError {
		reason = ReasonNXDomain
	}
	if qname == zone && (reason == ReasonNXDomain || qtype == dns.TypeSOA || qtype == dns.TypeNS) {
		return unknown(ReasonMalformed, "%s for %s at the zone apex", reason, dns.TypeToString[qtype])
	}
	return &RRset{State: Absent, Reason: reason, TTL: min(soa.Hdr.Ttl, soa.Minttl)}
}

// referral classifies a parent server's answer to "zone NS": OK when it
// refers to zone (AA clear, the NS set of zone in the authority section) or,
// for a server that also serves the zone, answers it authoritatively; Absent
// when the parent authoritatively says the name has no delegation; Unknown
// otherwise. glue receives the addresses of the additional section whose
// owners are NS names under parent (in bailiwick).
func referral(resp *dns.Msg, err error, parent, zone string) (set *RRset, glue map[string][]dns.RR) {
	if err != nil {
		return transportFailure(err), nil
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return unknown(dns.RcodeToString[resp.Rcode], "RCODE %s", dns.RcodeToString[resp.Rcode]), nil
	}
	if resp.Truncated {
		return unknown(ReasonMalformed, "answer still truncated over TCP"), nil
	}
	zone = dns.CanonicalName(zone)
	if resp.Authoritative {
		set := authAnswer(resp, nil, zone, zone, dns.TypeNS)
		if set.State == Unknown && set.Reason == ReasonMalformed {
			// NODATA or NXDOMAIN signed by the parent: no delegation here.
			if neg := authAnswer(resp, nil, parent, zone, dns.TypeNS); neg.State == Absent {
				return neg, nil
			}
		}
		if set.State == OK {
			set.Detail = "authoritative answer, not a referral: the server also serves the zone"
		}
		return set, nil
	}
	var ns []dns.RR
	for _, rr := range resp.Ns {
		if n, ok := rr.(*dns.NS); ok && dns.CanonicalName(n.Hdr.Name) == zone {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return unknown(ReasonNotAuthoritative, "AA bit clear and no referral to %s", zone), nil
	}
	set = &RRset{State: OK, Records: ns}
	for _, rr := range ns {
		set.TTL = max(set.TTL, rr.Header().Ttl)
	}
	return set, glueFor(resp, parent, ns)
}

// glueFor collects the A and AAAA records of the additional section that
// belong to the names in ns and lie under bailiwick.
func glueFor(resp *dns.Msg, bailiwick string, ns []dns.RR) map[string][]dns.RR {
	names := map[string]bool{}
	for _, rr := range ns {
		if n, ok := rr.(*dns.NS); ok {
			names[dns.CanonicalName(n.Ns)] = true
		}
	}
	glue := map[string][]dns.RR{}
	for _, rr := range resp.Extra {
		h := rr.Header()
		name := dns.CanonicalName(h.Name)
		if (h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA) || !names[name] || !dns.IsSubDomain(dns.CanonicalName(bailiwick), name) {
			continue
		}
		glue[name] = append(glue[name], rr)
	}
	return glue
}

// nsNames returns the target names of the NS records in set, canonical.
func nsNames(set *RRset) []string {
	if set == nil || set.State != OK {
		return nil
	}
	var out []string
	for _, rr := range set.Records {
		if n, ok := rr.(*dns.NS); ok {
			out = append(out, dns.CanonicalName(n.Ns))
		}
	}
	return uniq(out)
}

// describe names a row for problem messages.
func describe(r ServerResult) string {
	if !r.Addr.IsValid() {
		return strings.TrimSuffix(r.Name, ".")
	}
	return fmt.Sprintf("%s (%s)", strings.TrimSuffix(r.Name, "."), r.Addr)
}
