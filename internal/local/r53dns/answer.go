package r53dns

import (
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
)

// maxChain bounds the CNAME chain followed within one zone.
const maxChain = 8

// answerer builds one response from a view.
type answerer struct {
	v    *view
	zs   *signer
	sign bool // DNSSEC records in the response
	now  time.Time
	resp *dns.Msg
	err  error
}

// answer answers req from v at now, signing with s when the zone is signed
// and the query has the DO bit (RFC 4035 section 3.2.1).
func answer(v *view, s *signer, req *dns.Msg, now time.Time) *dns.Msg {
	resp := new(dns.Msg).SetReply(req)
	resp.Authoritative = true
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	a := &answerer{v: v, zs: s, sign: v.signing && do, now: now, resp: resp}
	q := req.Question[0]
	a.run(dns.CanonicalName(q.Name), q.Qtype)
	if a.err != nil {
		resp = new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
	}
	if opt != nil {
		resp.SetEdns0(authzone.EDNSSize, do)
	}
	return resp
}

func (a *answerer) run(qname string, qtype uint16) {
	v := a.v
	for range maxChain {
		if cut := v.cut(qname); cut != "" && (cut != qname || qtype != dns.TypeDS) {
			a.referral(cut)
			return
		}
		owner, node, types := qname, v.nodes[qname], v.types(qname)
		if node == nil && !v.exists[qname] {
			w := v.wildcard(qname)
			if w == "" {
				a.nxdomain(qname, qtype)
				return
			}
			node, types = v.nodes[w], v.typesOf(v.nodes[w])
		}
		if node == nil { // empty non-terminal
			a.nodata(qname, qtype, nil)
			return
		}
		switch {
		case qtype == dns.TypeDNSKEY && qname == v.origin && v.signing:
			a.dnskey()
			return
		case qtype == dns.TypeANY:
			for _, t := range types {
				if t == dns.TypeDNSKEY {
					a.dnskey()
				} else {
					a.add(&a.resp.Answer, node[t], owner)
				}
			}
			return
		case len(node[qtype]) > 0:
			a.add(&a.resp.Answer, node[qtype], owner)
			return
		case len(node[dns.TypeCNAME]) > 0:
			cname := node[dns.TypeCNAME]
			a.add(&a.resp.Answer, cname, owner)
			target := dns.CanonicalName(cname[0].(*dns.CNAME).Target)
			if !dns.IsSubDomain(v.origin, target) {
				return
			}
			qname = target
			continue
		}
		a.nodata(qname, qtype, types)
		return
	}
}

// typesOf returns the types of a node in ascending order.
func (v *view) typesOf(node map[uint16][]dns.RR) []uint16 {
	var out []uint16
	for t := range node {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// add appends rrs, with owner as their owner name (a wildcard's records
// answer for the query name), and their ZSK signature.
func (a *answerer) add(section *[]dns.RR, rrs []dns.RR, owner string) {
	set := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		set[i] = dns.Copy(rr)
		set[i].Header().Name = owner
	}
	*section = append(*section, set...)
	if !a.sign {
		return
	}
	sig, err := a.zs.sign(set, a.now)
	if err != nil {
		a.err = err
		return
	}
	*section = append(*section, sig)
}

// dnskey adds the DNSKEY RRset and its KSK signatures.
func (a *answerer) dnskey() {
	rrset, sigs := a.zs.dnskeyRRset(a.v, a.now)
	a.resp.Answer = append(a.resp.Answer, rrset...)
	if a.sign {
		a.resp.Answer = append(a.resp.Answer, sigs...)
	}
}

// nxdomain answers for a name that does not exist: with the DO bit in a
// signed zone, a black lie (NODATA with an NSEC that claims the name exists
// with no type but RRSIG and NSEC); otherwise NXDOMAIN.
func (a *answerer) nxdomain(qname string, qtype uint16) {
	if a.sign {
		a.nodata(qname, qtype, nil)
		return
	}
	a.resp.Rcode = dns.RcodeNameError
	a.soa()
}

// nodata answers NOERROR with no data for qtype at name, whose types are
// types, with the minimally covering NSEC at name when signing.
func (a *answerer) nodata(name string, qtype uint16, types []uint16) {
	a.soa()
	if !a.sign {
		return
	}
	bitmap := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	for _, t := range types {
		if t != qtype && t != dns.TypeRRSIG && t != dns.TypeNSEC {
			bitmap = append(bitmap, t)
		}
	}
	a.nsec(name, bitmap)
}

// nsec adds the black-lie NSEC at name: the next name is the immediate
// successor of name in canonical order, "\000.<name>" (RFC 4470 section 3),
// so that it denies nothing but the types missing from bitmap.
func (a *answerer) nsec(name string, bitmap []uint16) {
	slices.Sort(bitmap)
	bitmap = slices.Compact(bitmap)
	nsec := &dns.NSEC{
		Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: a.v.negativeTTL()},
		NextDomain: `\000.` + name,
		TypeBitMap: bitmap,
	}
	a.add(&a.resp.Ns, []dns.RR{nsec}, name)
}

// soa adds the zone's SOA with the negative TTL (RFC 2308 section 3).
func (a *answerer) soa() {
	if a.v.soa == nil {
		return
	}
	soa := dns.Copy(a.v.soa)
	soa.Header().Ttl = a.v.negativeTTL()
	a.add(&a.resp.Ns, []dns.RR{soa}, a.v.origin)
}

// referral answers with the delegation at cut (RFC 1034 section 4.3.2,
// RFC 4035 section 3.1.4): its NS, its DS or the NSEC proving there is
// none, and the addresses the zone holds for its name servers.
func (a *answerer) referral(cut string) {
	v := a.v
	if len(a.resp.Answer) == 0 {
		a.resp.Authoritative = false
	}
	node := v.nodes[cut]
	for _, rr := range node[dns.TypeNS] {
		a.resp.Ns = append(a.resp.Ns, dns.Copy(rr))
	}
	if a.sign {
		if ds := node[dns.TypeDS]; len(ds) > 0 {
			a.add(&a.resp.Ns, ds, cut)
		} else {
			a.nsec(cut, append(v.typesOf(node), dns.TypeRRSIG, dns.TypeNSEC))
		}
	}
	for _, rr := range node[dns.TypeNS] {
		host := dns.CanonicalName(rr.(*dns.NS).Ns)
		if !dns.IsSubDomain(v.origin, host) {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			for _, g := range v.nodes[host][t] {
				a.resp.Extra = append(a.resp.Extra, dns.Copy(g))
			}
		}
	}
}
