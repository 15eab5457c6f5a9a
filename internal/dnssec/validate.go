package dnssec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// validateAnswer turns an authoritative answer of zone z for qname/qtype into
// a cache entry with its verdict: the qtype RRset (or the CNAME at qname)
// with its signature checked, wildcard expansions proven (RFC 4035 section
// 5.3.4), or a negative answer with its NSEC/NSEC3 proof. With delegation
// set, qname is a delegation point of z and qtype is DS.
func (q *run) validateAnswer(z *zone, msg *dns.Msg, qname string, qtype uint16, delegation bool) *entry {
	e := &entry{zone: z, rcode: msg.Rcode}
	x := newExpiry(q.now, MaxCacheTTL)
	rtype := qtype
	rrs := rrsetOf(msg.Answer, qname, qtype)
	if len(rrs) == 0 && qtype != dns.TypeCNAME {
		rtype = dns.TypeCNAME
		rrs = rrsetOf(msg.Answer, qname, dns.TypeCNAME)
	}
	if len(rrs) > 0 {
		e.rcode = dns.RcodeSuccess // for a CNAME, the rcode belongs to the target
		e.rrs, e.sigs = rrs, SigsFor(msg.Answer, qname, rtype)
		if rtype == dns.TypeCNAME && len(e.sigs) == 0 {
			if dname := synthesizedBy(msg, qname, rrs); dname != nil {
				// A CNAME synthesized from a DNAME is unsigned: the DNAME
				// RRset is what is validated (RFC 6672 section 5.3.3).
				owner := dname[0].Header().Name
				e.rrs, e.sigs = append(rrs, dname...), SigsFor(msg.Answer, owner, dns.TypeDNAME)
				e.status, e.reason = q.checkPositive(z, msg, owner, dns.TypeDNAME, dname, e.sigs, x)
				e.expires = x.at
				return e
			}
		}
		e.status, e.reason = q.checkPositive(z, msg, qname, rtype, rrs, e.sigs, x)
	} else {
		e.status, e.reason = q.checkNegative(z, msg, qname, qtype, delegation, x)
	}
	if e.status == Bogus {
		x.before(q.now.Add(BogusTTL))
	}
	e.expires = x.at
	return e
}

// synthesizedBy returns the DNAME RRset of the answer from which the CNAME
// at qname was synthesized: a DNAME owned by an ancestor of qname whose
// substitution gives the CNAME's target.
func synthesizedBy(msg *dns.Msg, qname string, cname []dns.RR) []dns.RR {
	c, ok := cname[0].(*dns.CNAME)
	if !ok || len(cname) != 1 {
		return nil
	}
	for _, rr := range msg.Answer {
		d, ok := rr.(*dns.DNAME)
		if !ok || !isProperSubdomain(dns.CanonicalName(d.Hdr.Name), qname) {
			continue
		}
		owner := dns.CanonicalName(d.Hdr.Name)
		prefix := strings.TrimSuffix(qname, owner)
		if !sameName(prefix+dns.CanonicalName(d.Target), c.Target) {
			continue
		}
		return rrsetOf(msg.Answer, owner, dns.TypeDNAME)
	}
	return nil
}

// rrsetOf returns the records of type t owned by name in section.
func rrsetOf(section []dns.RR, name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range section {
		if h := rr.Header(); h.Rrtype == t && sameName(h.Name, name) {
			out = append(out, rr)
		}
	}
	return out
}

func (q *run) checkPositive(z *zone, msg *dns.Msg, qname string, rtype uint16, rrs []dns.RR, sigs []*dns.RRSIG, x *expiry) (Status, string) {
	if z.status != Secure {
		x.rrset(rrs, nil)
		return z.status, z.reason
	}
	sig, err := VerifyRRset(rrs, sigs, z.keys, z.name, q.now)
	if err != nil {
		return Bogus, zoneReason(err, z.name)
	}
	x.rrset(rrs, sig)
	if !expanded(qname, sig) {
		return Secure, ""
	}
	d, st, reason := q.denial(z, msg.Ns, x)
	if st != Secure {
		return st, reason
	}
	p := d.proveWildcard(qname, sig.Labels)
	if p.status == Secure {
		return Secure, ""
	}
	return p.status, recordReason(qname, rtype, z.name, p.reason)
}

// expanded reports whether sig shows its RRset was synthesized from a
// wildcard: fewer labels than the owner, the owner not being the wildcard
// itself (RFC 4035 section 5.3.4).
func expanded(owner string, sig *dns.RRSIG) bool {
	n := dns.CountLabel(owner)
	if int(sig.Labels) >= n {
		return false
	}
	return !(int(sig.Labels) == n-1 && dns.SplitDomainName(owner)[0] == "*")
}

func (q *run) checkNegative(z *zone, msg *dns.Msg, qname string, qtype uint16, delegation bool, x *expiry) (Status, string) {
	var soa *dns.SOA
	for _, rr := range msg.Ns {
		if s, ok := rr.(*dns.SOA); ok {
			soa = s
			break
		}
	}
	// RFC 2308 section 5: the negative TTL is the smaller of the SOA's TTL and
	// its MINIMUM; without an SOA, a negative answer is not cached (except the
	// DS denial of a referral, which the NSEC/NSEC3 TTLs bound).
	x.before(q.now.Add(MaxNegativeTTL))
	switch {
	case soa != nil:
		x.ttl(min(soa.Hdr.Ttl, soa.Minttl))
	case !delegation:
		x.ttl(0)
	}
	if z.status != Secure {
		return z.status, z.reason
	}
	if soa != nil {
		soaSet := rrsetOf(msg.Ns, soa.Hdr.Name, dns.TypeSOA)
		sig, err := VerifyRRset(soaSet, SigsFor(msg.Ns, soa.Hdr.Name, dns.TypeSOA), z.keys, z.name, q.now)
		if err != nil {
			return Bogus, zoneReason(err, z.name)
		}
		x.rrset(soaSet, sig)
	}
	d, st, reason := q.denial(z, msg.Ns, x)
	if st != Secure {
		return st, reason
	}
	var p proof
	if msg.Rcode == dns.RcodeNameError {
		p = d.proveNXDOMAIN(qname)
	} else {
		p = d.proveNODATA(qname, qtype, delegation)
	}
	if p.status == Secure {
		return Secure, ""
	}
	return p.status, recordReason(qname, qtype, z.name, p.reason)
}

// denial verifies the NSEC and NSEC3 RRsets of an authority section with
// the zone's keys. An NSEC or NSEC3 that does not validate, or that was
// itself synthesized from a wildcard, makes the answer bogus.
func (q *run) denial(z *zone, section []dns.RR, x *expiry) (denialSet, Status, string) {
	d := denialSet{zone: z.name}
	done := map[rrKey]bool{}
	for _, rr := range section {
		h := rr.Header()
		if h.Rrtype != dns.TypeNSEC && h.Rrtype != dns.TypeNSEC3 {
			continue
		}
		k := rrKey{dns.CanonicalName(h.Name), h.Rrtype}
		if done[k] {
			continue
		}
		done[k] = true
		set := rrsetOf(section, h.Name, h.Rrtype)
		sig, err := VerifyRRset(set, SigsFor(section, h.Name, h.Rrtype), z.keys, z.name, q.now)
		if err != nil {
			return d, Bogus, zoneReason(err, z.name)
		}
		if expanded(k.name, sig) {
			return d, Bogus, recordReason(h.Name, h.Rrtype, z.name, "the record was synthesized from a wildcard")
		}
		x.rrset(set, sig)
		for _, r := range set {
			switch r := r.(type) {
			case *dns.NSEC:
				d.nsecs = append(d.nsecs, r)
			case *dns.NSEC3:
				d.nsec3s = append(d.nsec3s, r)
			}
		}
	}
	return d, Secure, ""
}

// zoneReason renders a verification error as a reason naming the zone.
func zoneReason(err error, zoneName string) string {
	var be *BogusError
	if errors.As(err, &be) {
		c := *be
		c.Zone = zoneName
		return c.Error()
	}
	return fmt.Sprintf("%s: %v", zoneName, err)
}
