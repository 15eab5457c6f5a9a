package authzone

import (
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// EDNSSize is the UDP payload size the zone's answers advertise (the DNS
// flag day 2020 value).
const EDNSSize = 1232

// maxCNAMEChain bounds CNAME chasing within the zone, so a loop ends.
const maxCNAMEChain = 8

// AnswerHook may alter a response after the zone has built it; req is the
// request. Tests use it to strip or replace records.
type AnswerHook func(req, resp *dns.Msg)

// SetAnswerHook installs h (nil removes it); Answer calls it last.
func (z *Zone) SetAnswerHook(h AnswerHook) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.hook = h
}

// Answer answers req as an authoritative server for the zone does (RFC 1034
// section 4.3.2 with the DNSSEC additions of RFC 4035 section 3.1 and RFC
// 5155 section 7.2): answers with AA set, CNAMEs chased within the zone,
// referrals at zone cuts (with DS or the proof there is none), wildcard
// expansion and negative answers with the SOA and, when the request has the
// DO bit, signatures and NSEC or NSEC3 proofs. Names outside the zone are
// REFUSED. An EDNS0 OPT in the request is answered with one (DO echoed).
func (z *Zone) Answer(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	if opt != nil {
		resp.SetEdns0(EDNSSize, do)
		if opt.Version() != 0 {
			resp.Rcode = dns.RcodeBadVers
			return resp
		}
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	case len(req.Question) != 1:
		resp.Rcode = dns.RcodeFormatError
		return resp
	case req.Question[0].Qclass != dns.ClassINET:
		resp.Rcode = dns.RcodeRefused
		return resp
	}

	z.mu.RLock()
	a := &answerer{z: z, resp: resp, do: do && z.signed, added: map[string]bool{}}
	a.answer(req.Question[0].Name, req.Question[0].Qtype)
	hook := z.hook
	z.mu.RUnlock()

	if opt != nil {
		// Keep the OPT last in the additional section.
		extra := resp.Extra[:0]
		var o dns.RR
		for _, rr := range resp.Extra {
			if rr.Header().Rrtype == dns.TypeOPT {
				o = rr
				continue
			}
			extra = append(extra, rr)
		}
		resp.Extra = append(extra, o)
	}
	if hook != nil {
		hook(req, resp)
	}
	return resp
}

// answerer builds one response with the zone's read lock held.
type answerer struct {
	z     *Zone
	resp  *dns.Msg
	do    bool            // DNSSEC records wanted and the zone is signed
	added map[string]bool // "owner/type/section" already added
}

func (a *answerer) answer(qname string, qtype uint16) {
	z := a.z
	if !dns.IsSubDomain(z.origin, dns.CanonicalName(qname)) {
		a.resp.Rcode = dns.RcodeRefused
		return
	}
	a.resp.Authoritative = true
	seen := map[string]bool{}
	for range maxCNAMEChain {
		target := a.step(qname, qtype)
		if target == "" {
			return
		}
		key := dns.CanonicalName(target)
		if seen[key] || !dns.IsSubDomain(z.origin, key) {
			return // a loop, or the chain leaves the zone: the resolver follows it
		}
		seen[key] = true
		qname = target
	}
}

// step answers qname/qtype into the response; it returns the CNAME target
// to follow, or "".
func (a *answerer) step(qname string, qtype uint16) string {
	z := a.z
	name := dns.CanonicalName(qname)

	if cut := z.cutAbove(name); cut != "" && (cut != name || qtype != dns.TypeDS) {
		a.referral(cut)
		return ""
	}
	if n := z.nodes[name]; n != nil && len(n.sets) > 0 {
		if z.denied[name][qtype] {
			a.nodata(name)
			return ""
		}
		if qtype == dns.TypeANY {
			for _, t := range sortedTypes(n.sets) {
				a.add(&a.resp.Answer, n, "", t)
			}
			return ""
		}
		if len(n.sets[qtype]) > 0 {
			a.add(&a.resp.Answer, n, "", qtype)
			return ""
		}
		if cname := n.sets[dns.TypeCNAME]; len(cname) > 0 {
			a.add(&a.resp.Answer, n, "", dns.TypeCNAME)
			return cname[0].(*dns.CNAME).Target
		}
		a.nodata(name)
		return ""
	}
	if z.ents[name] {
		a.nodata(name)
		return ""
	}

	ce := z.closestEncloser(name)
	wildcard := "*." + ce
	if ce == "." {
		wildcard = "*."
	}
	wn := z.nodes[wildcard]
	if wn == nil || len(wn.sets) == 0 {
		a.resp.Rcode = dns.RcodeNameError
		a.soa()
		if a.do {
			a.denyName(name, ce)
			a.denyName(wildcard, ce)
		}
		return ""
	}

	// Wildcard expansion (RFC 4592, RFC 4035 section 3.1.3.3).
	t := qtype
	if len(wn.sets[t]) == 0 && len(wn.sets[dns.TypeCNAME]) > 0 {
		t = dns.TypeCNAME
	}
	if qtype == dns.TypeANY {
		for _, t := range sortedTypes(wn.sets) {
			a.add(&a.resp.Answer, wn, qname, t)
		}
		if a.do {
			a.coverNextCloser(name, ce)
		}
		return ""
	}
	if len(wn.sets[t]) == 0 || z.denied[wildcard][qtype] {
		// Wildcard NODATA (RFC 4035 section 3.1.3.4, RFC 5155 section 7.2.5).
		a.soa()
		if a.do {
			a.denyName(name, ce)
			a.match(wildcard)
		}
		return ""
	}
	a.add(&a.resp.Answer, wn, qname, t)
	if a.do {
		a.coverNextCloser(name, ce)
	}
	if t == dns.TypeCNAME {
		return wn.sets[t][0].(*dns.CNAME).Target
	}
	return ""
}

// closestEncloser returns the longest existing ancestor of name (RFC 5155
// section 1.3). Call with mu held.
func (z *Zone) closestEncloser(name string) string {
	for n := name; ; n = parentName(n) {
		if n == z.origin || z.exists(n) {
			return n
		}
	}
}

// add appends a copy of RRset t of n, and its signatures when wanted, to
// section; owner, when not "", replaces the owner name (wildcard expansion).
func (a *answerer) add(section *[]dns.RR, n *node, owner string, t uint16) {
	set := n.sets[t]
	if len(set) == 0 {
		return
	}
	key := set[0].Header().Name + owner + "/" + dns.TypeToString[t] + "/" + sectionName(a.resp, section)
	if a.added[key] {
		return
	}
	a.added[key] = true
	for _, rr := range set {
		c := dns.Copy(rr)
		if owner != "" {
			c.Header().Name = owner
		}
		*section = append(*section, c)
	}
	if !a.do {
		return
	}
	for _, s := range n.sigs[t] {
		c := dns.Copy(s).(*dns.RRSIG)
		if owner != "" {
			c.Hdr.Name = owner
		}
		*section = append(*section, c)
	}
}

func sectionName(m *dns.Msg, section *[]dns.RR) string {
	switch section {
	case &m.Answer:
		return "an"
	case &m.Ns:
		return "ns"
	}
	return "ar"
}

// soa adds the SOA (and its signatures) to the authority section with the
// negative TTL (RFC 2308 section 3).
func (a *answerer) soa() {
	z := a.z
	before := len(a.resp.Ns)
	a.add(&a.resp.Ns, z.nodes[z.origin], "", dns.TypeSOA)
	ttl := z.negativeTTL()
	for _, rr := range a.resp.Ns[before:] {
		rr.Header().Ttl = ttl
	}
}

// nodata completes a NOERROR answer without data for name, which exists
// (RFC 4035 section 3.1.3.1, RFC 5155 sections 7.2.3 and 7.2.4).
func (a *answerer) nodata(name string) {
	a.soa()
	if !a.do {
		return
	}
	z := a.z
	if z.opts.Denial == DenialNSEC {
		// An empty non-terminal has no NSEC: the one covering it proves it
		// owns no data (RFC 4035 section 3.1.3.2 and 5.4).
		a.nsecFor(name)
		return
	}
	if z.nsec3[z.hashedOwner(z.hash(name))] != nil {
		a.match(name)
		return
	}
	// No NSEC3 for name: an insecure delegation under opt-out. Prove the
	// closest provable encloser and cover the next closer name.
	a.closestProvable(name)
}

// referral adds a referral to the delegation at cut (RFC 1034 section
// 4.3.2 step 3b, RFC 4035 section 3.1.4).
func (a *answerer) referral(cut string) {
	z := a.z
	if len(a.resp.Answer) == 0 {
		a.resp.Authoritative = false
	}
	n := z.nodes[cut]
	for _, rr := range n.sets[dns.TypeNS] {
		if !a.added[cut+"/NS/ns"] {
			a.resp.Ns = append(a.resp.Ns, dns.Copy(rr))
		}
	}
	a.added[cut+"/NS/ns"] = true
	if a.do {
		if len(n.sets[dns.TypeDS]) > 0 {
			a.add(&a.resp.Ns, n, "", dns.TypeDS)
		} else {
			a.nodataProofOnly(cut)
		}
	}
	// Glue: addresses of the name servers that this zone holds.
	for _, rr := range n.sets[dns.TypeNS] {
		host := dns.CanonicalName(rr.(*dns.NS).Ns)
		if !dns.IsSubDomain(z.origin, host) {
			continue
		}
		hn := z.nodes[host]
		if hn == nil {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			key := host + "/" + dns.TypeToString[t] + "/glue"
			if a.added[key] {
				continue
			}
			a.added[key] = true
			for _, g := range hn.sets[t] {
				a.resp.Extra = append(a.resp.Extra, dns.Copy(g))
			}
		}
	}
}

// nodataProofOnly adds the proof that name has no DS, without the SOA.
func (a *answerer) nodataProofOnly(name string) {
	z := a.z
	if z.opts.Denial == DenialNSEC {
		a.nsecFor(name)
		return
	}
	if z.nsec3[z.hashedOwner(z.hash(name))] != nil {
		a.match(name)
		return
	}
	a.closestProvable(name)
}

// denyName adds the proof that name does not exist below the closest
// encloser ce: the NSEC covering it, or for NSEC3 the NSEC3 matching ce and
// the one covering the next closer name (RFC 5155 section 7.2.1).
func (a *answerer) denyName(name, ce string) {
	z := a.z
	if z.opts.Denial == DenialNSEC {
		a.nsecFor(name)
		return
	}
	if strings.HasPrefix(name, "*.") && name[2:] == ce {
		// The wildcard at the closest encloser: cover it.
		a.nsec3For(name)
		return
	}
	a.match(ce)
	a.nsec3For(nextCloser(name, ce))
}

// coverNextCloser adds the proof that a wildcard answer was right to
// expand: no closer match for name exists (RFC 4035 section 3.1.3.3, RFC
// 5155 section 7.2.6).
func (a *answerer) coverNextCloser(name, ce string) {
	if a.z.opts.Denial == DenialNSEC {
		a.nsecFor(name)
		return
	}
	a.nsec3For(nextCloser(name, ce))
}

// closestProvable adds the closest provable encloser proof for name: the
// NSEC3 matching its closest ancestor that has one and the NSEC3 covering
// the next closer name (RFC 5155 section 7.2.1).
func (a *answerer) closestProvable(name string) {
	z := a.z
	for ce := parentName(name); ; ce = parentName(ce) {
		if z.nsec3[z.hashedOwner(z.hash(ce))] != nil || ce == z.origin {
			a.match(ce)
			a.nsec3For(nextCloser(name, ce))
			return
		}
	}
}

// nextCloser returns the name one label longer than ce on the way to name.
func nextCloser(name, ce string) string {
	next := name
	for n := name; n != ce && n != "."; n = parentName(n) {
		next = n
	}
	return next
}

// match adds the NSEC or NSEC3 that matches name, when there is one.
func (a *answerer) match(name string) {
	z := a.z
	if z.opts.Denial == DenialNSEC {
		if n := z.nodes[name]; n != nil {
			a.add(&a.resp.Ns, n, "", dns.TypeNSEC)
		}
		return
	}
	if n := z.nsec3[z.hashedOwner(z.hash(name))]; n != nil {
		a.add(&a.resp.Ns, n, "", dns.TypeNSEC3)
	}
}

// nsecFor adds the NSEC that matches or covers name.
func (a *answerer) nsecFor(name string) {
	z := a.z
	names := z.nsecNames
	if len(names) == 0 {
		return
	}
	// The last chain name <= name; the last one wraps around.
	i := sort.Search(len(names), func(i int) bool { return canonicalCompare(names[i], name) > 0 })
	owner := names[(i-1+len(names))%len(names)]
	a.add(&a.resp.Ns, z.nodes[owner], "", dns.TypeNSEC)
}

// nsec3For adds the NSEC3 that matches or covers the hash of name.
func (a *answerer) nsec3For(name string) {
	z := a.z
	hs := z.nsec3Hashes
	if len(hs) == 0 {
		return
	}
	h := z.hash(name)
	i := sort.SearchStrings(hs, h)
	if i == len(hs) || hs[i] != h {
		i = (i - 1 + len(hs)) % len(hs)
	}
	a.add(&a.resp.Ns, z.nsec3[z.hashedOwner(hs[i])], "", dns.TypeNSEC3)
}

// denialTypes are the record types that make up negative proofs.
var denialTypes = []uint16{dns.TypeNSEC, dns.TypeNSEC3}

func isDenial(rr dns.RR) bool {
	t := rr.Header().Rrtype
	if s, ok := rr.(*dns.RRSIG); ok {
		t = s.TypeCovered
	}
	return slices.Contains(denialTypes, t)
}
