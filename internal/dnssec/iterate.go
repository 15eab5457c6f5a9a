package dnssec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// unanchoredTTL bounds how long a zone cut with no trust anchor above it is
// remembered when nothing else bounds it (the root built from Roots).
const unanchoredTTL = time.Hour

// NameServer is one name server of a zone with the addresses used to reach it.
type NameServer struct {
	Name  string           // empty for the configured root addresses
	Addrs []netip.AddrPort // empty when the name could not be resolved
}

// zone is a zone cut as the resolver knows it: its servers and, when
// secure, its validated DNSKEY set. Zones are immutable once cached.
type zone struct {
	name    string
	parent  string   // "" for the root
	nsNames []string // from the parent's referral, canonical
	servers []NameServer
	keys    []*dns.DNSKEY // the validated DNSKEY RRset when Secure
	status  Status
	reason  string
	chain   []Link
	expires time.Time
	// keysEntry is the DNSKEY RRset entry made while the cut is built; it
	// points at this zone, so it is cached only by finish, once the zone is
	// complete (another goroutine may read it as soon as it is cached).
	keysEntry *entry
}

// serverFailure reports server trouble: an indeterminate verdict that is never
// cached.
func serverFailure(z *zone, reason string) *entry {
	return &entry{rcode: dns.RcodeServerFailure, status: Indeterminate, reason: reason, zone: z}
}

// lookup returns the validated RRset (or proven absence) of name/qtype, from
// the cache or by iterating from the closest known zone cut. A CNAME at name
// is returned in place of the qtype RRset.
func (q *run) lookup(ctx context.Context, name string, qtype uint16) *entry {
	if e := q.r.cache.get(name, qtype, q.now); e != nil {
		return e
	}
	if qtype != dns.TypeCNAME {
		if e := q.r.cache.get(name, dns.TypeCNAME, q.now); e != nil && len(e.rrs) > 0 {
			return e
		}
	}
	z, msg, fail := q.iterate(ctx, name, qtype)
	if fail != nil {
		return fail
	}
	e := q.validateAnswer(z, msg, name, qtype, false)
	t := qtype
	if len(e.rrs) > 0 {
		t = e.rrs[0].Header().Rrtype
	}
	q.r.cache.put(name, t, e, q.now)
	return e
}

// iterate follows referrals from the closest cached zone cut until a server
// of the zone holding name gives an authoritative answer for name/qtype.
// DS is asked at the parent side of a cut.
func (q *run) iterate(ctx context.Context, name string, qtype uint16) (*zone, *dns.Msg, *entry) {
	z, fail := q.startZone(ctx, name, qtype)
	if fail != nil {
		return nil, nil, fail
	}
	for range MaxReferrals {
		msg, fail := q.ask(ctx, z, name, qtype)
		if fail != nil {
			return nil, nil, fail
		}
		child := referralTarget(msg, z.name, name, qtype)
		if child == "" {
			child = hiddenCut(msg, z.name, name, qtype)
		}
		if child == "" {
			return z, msg, nil
		}
		if msg.Authoritative {
			msg = nil // a cut found through signer or SOA names: same servers, no referral data
		}
		z, fail = q.descend(ctx, z, child, msg)
		if fail != nil {
			return nil, nil, fail
		}
	}
	return nil, nil, serverFailure(z, fmt.Sprintf("%s: more than %d referrals for %s %s", z.name, MaxReferrals, name, typeString(qtype)))
}

// startZone returns the deepest cached zone cut above name (strictly above
// for DS, which lives at the parent), or the root.
func (q *run) startZone(ctx context.Context, name string, qtype uint16) (*zone, *entry) {
	n := name
	if qtype == dns.TypeDS && n != "." {
		n = parentName(n)
	}
	for {
		if z := q.r.cache.zone(n, q.now); z != nil {
			return z, nil
		}
		if n == "." {
			break
		}
		n = parentName(n)
	}
	return q.rootZone(ctx)
}

func (q *run) rootZone(ctx context.Context) (*zone, *entry) {
	z := &zone{name: ".", servers: []NameServer{{Addrs: q.r.roots}}}
	x := newExpiry(q.now, MaxCacheTTL)
	link := Link{Zone: "."}
	if anchors := q.r.anchors["."]; len(anchors) > 0 {
		link.Anchor, link.DS = true, anchorDS(anchors)
		if fail := q.fetchKeys(ctx, z, anchors, &link, x); fail != nil {
			return nil, fail
		}
	} else {
		z.status, z.reason = Indeterminate, ".: no trust anchor for the root"
		x.before(q.now.Add(unanchoredTTL))
	}
	link.Status, link.Reason = z.status, z.reason
	z.chain = []Link{link}
	q.finish(z, x)
	return z, nil
}

// finish sets the zone's expiry and caches it.
func (q *run) finish(z *zone, x *expiry) {
	if z.status == Bogus {
		x.before(q.now.Add(BogusTTL))
	}
	z.expires = x.at
	if e := z.keysEntry; e != nil {
		z.keysEntry = nil
		q.r.cache.put(z.name, dns.TypeDNSKEY, e, q.now)
	}
	q.r.cache.putZone(z, q.now)
}

// descend builds the zone cut at child below parent, from a referral (msg)
// or, for a cut found inside an authoritative answer (msg nil), with the
// parent's servers: its name servers and their addresses, its DS RRset at
// the parent and its validated DNSKEY RRset.
func (q *run) descend(ctx context.Context, parent *zone, child string, msg *dns.Msg) (*zone, *entry) {
	if z := q.r.cache.zone(child, q.now); z != nil {
		return z, nil
	}
	x := newExpiry(q.now, MaxCacheTTL)
	z := &zone{name: child, parent: parent.name}
	if msg != nil {
		glue := map[string][]netip.Addr{}
		for _, rr := range msg.Ns {
			if ns, ok := rr.(*dns.NS); ok && sameName(ns.Hdr.Name, child) {
				target := dns.CanonicalName(ns.Ns)
				if !slices.Contains(z.nsNames, target) {
					z.nsNames = append(z.nsNames, target)
				}
				x.ttl(ns.Hdr.Ttl)
			}
		}
		for _, rr := range msg.Extra {
			owner := dns.CanonicalName(rr.Header().Name)
			if !slices.Contains(z.nsNames, owner) || !isSubdomain(parent.name, owner) {
				continue // only in-bailiwick glue for the delegation's own servers
			}
			switch rr := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(rr.A.To4()); ok {
					glue[owner] = append(glue[owner], a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(rr.AAAA.To16()); ok {
					glue[owner] = append(glue[owner], a)
				}
			}
		}
		z.servers = q.serversFor(ctx, child, z.nsNames, glue)
	} else {
		z.nsNames, z.servers = parent.nsNames, parent.servers
	}
	link := Link{Zone: child}
	chainUp := parent.chain
	if !hasAddrs(z.servers) {
		z.status = Indeterminate
		z.reason = recordReason(child, dns.TypeNS, parent.name, fmt.Sprintf("no address for any name server (%s)", strings.Join(z.nsNames, ", ")))
		link.Status, link.Reason = z.status, z.reason
		z.chain = append(slices.Clone(chainUp), link)
		return nil, serverFailure(z, z.reason)
	}
	switch {
	case len(q.r.anchors[child]) > 0:
		anchors := q.r.anchors[child]
		link.Anchor, link.DS = true, anchorDS(anchors)
		if parent.status != Secure {
			chainUp = nil // the chain starts at this anchor
		}
		if fail := q.fetchKeys(ctx, z, anchors, &link, x); fail != nil {
			z.chain = append(slices.Clone(chainUp), link)
			return nil, fail
		}
	case parent.status == Secure:
		e := q.delegationDS(ctx, parent, child, msg)
		if e.status == Indeterminate {
			link.Status, link.Reason = e.status, e.reason
			z.chain = append(slices.Clone(chainUp), link)
			return nil, serverFailure(z, e.reason)
		}
		x.before(e.expires)
		switch {
		case e.status == Bogus:
			z.status, z.reason = Bogus, e.reason
		case e.rcode == dns.RcodeNameError:
			z.status = Bogus
			z.reason = recordReason(child, dns.TypeDS, parent.name, "the parent proves the delegated name does not exist")
		case e.status == Insecure: // an opt-out span, or a proof this validator cannot check
			z.status, z.reason = Insecure, e.reason
		case len(e.rrs) > 0:
			for _, rr := range e.rrs {
				if ds, ok := rr.(*dns.DS); ok {
					link.DS = append(link.DS, ds)
				}
			}
			if fail := q.fetchKeys(ctx, z, e.rrs, &link, x); fail != nil {
				z.chain = append(slices.Clone(chainUp), link)
				return nil, fail
			}
		default: // a proven absence of DS: an unsigned delegation
			z.status = Insecure
			z.reason = recordReason(child, dns.TypeDS, parent.name, "no DS: unsigned delegation, proven by NSEC/NSEC3")
		}
	default:
		z.status, z.reason = parent.status, parent.reason
		if parent.status == Indeterminate {
			z.reason = fmt.Sprintf("%s: no trust anchor at or above the zone", child)
		}
	}
	link.Status, link.Reason = z.status, z.reason
	z.chain = append(slices.Clone(chainUp), link)
	q.finish(z, x)
	return z, nil
}

func hasAddrs(servers []NameServer) bool {
	for _, s := range servers {
		if len(s.Addrs) > 0 {
			return true
		}
	}
	return false
}

// anchorDS shows trust anchors as DS records (DNSKEY anchors by their
// SHA-256 digest).
func anchorDS(anchors []dns.RR) []*dns.DS {
	var out []*dns.DS
	for _, a := range anchors {
		switch a := a.(type) {
		case *dns.DS:
			out = append(out, a)
		case *dns.DNSKEY:
			if ds := a.ToDS(dns.SHA256); ds != nil {
				out = append(out, ds)
			}
		}
	}
	return out
}

// delegationDS returns the DS RRset of child (or its proven absence) as the
// parent serves it: from the referral when it carries the DS or its denial,
// else by asking the parent's servers.
func (q *run) delegationDS(ctx context.Context, parent *zone, child string, referral *dns.Msg) *entry {
	if e := q.r.cache.get(child, dns.TypeDS, q.now); e != nil {
		return e
	}
	var e *entry
	if referral != nil {
		var m dns.Msg
		m.Rcode = dns.RcodeSuccess
		denial := false
		for _, rr := range referral.Ns {
			h := rr.Header()
			switch {
			case h.Rrtype == dns.TypeDS && sameName(h.Name, child):
				m.Answer = append(m.Answer, rr)
			case h.Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeDS && sameName(h.Name, child):
				m.Answer = append(m.Answer, rr)
			case h.Rrtype == dns.TypeNSEC || h.Rrtype == dns.TypeNSEC3:
				denial = true
				m.Ns = append(m.Ns, rr)
			case h.Rrtype == dns.TypeRRSIG:
				m.Ns = append(m.Ns, rr)
			}
		}
		if len(m.Answer) > 0 || denial {
			e = q.validateAnswer(parent, &m, child, dns.TypeDS, true)
		}
	}
	if e == nil {
		msg, fail := q.ask(ctx, parent, child, dns.TypeDS)
		if fail != nil {
			return fail
		}
		if !msg.Authoritative {
			return serverFailure(parent, recordReason(child, dns.TypeDS, parent.name, "the parent's servers refer instead of answering"))
		}
		e = q.validateAnswer(parent, msg, child, dns.TypeDS, true)
	}
	if len(e.rrs) > 0 && e.rrs[0].Header().Rrtype != dns.TypeDS {
		e = &entry{rcode: e.rcode, status: Bogus, zone: parent, expires: e.expires,
			reason: recordReason(child, dns.TypeDS, parent.name, fmt.Sprintf("the parent answers %s instead of DS", typeString(e.rrs[0].Header().Rrtype)))}
	}
	q.r.cache.put(child, dns.TypeDS, e, q.now)
	return e
}

// fetchKeys asks the zone's servers for its DNSKEY RRset and validates it
// against trusted DS or DNSKEY records, setting the zone's verdict and keys.
// It returns a failure only for server trouble.
func (q *run) fetchKeys(ctx context.Context, z *zone, trusted []dns.RR, link *Link, x *expiry) *entry {
	usable := false
	for _, t := range trusted {
		switch t := t.(type) {
		case *dns.DS:
			usable = usable || (SupportedAlgorithm(t.Algorithm) && SupportedDigest(t.DigestType))
		case *dns.DNSKEY:
			usable = usable || SupportedAlgorithm(t.Algorithm)
		}
	}
	if !usable {
		z.status = Insecure
		z.reason = recordReason(z.name, dns.TypeDS, "", "no DS record uses a supported algorithm and digest (RFC 4035 section 5.2)")
		return nil
	}
	msg, fail := q.ask(ctx, z, z.name, dns.TypeDNSKEY)
	if fail != nil {
		z.status, z.reason = Indeterminate, fail.reason
		link.Status, link.Reason = z.status, z.reason
		return fail
	}
	var keys []*dns.DNSKEY
	var rrset []dns.RR
	for _, rr := range msg.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && sameName(k.Hdr.Name, z.name) {
			keys = append(keys, k)
			rrset = append(rrset, k)
			link.KeyTags = append(link.KeyTags, k.KeyTag())
		}
	}
	slices.Sort(link.KeyTags)
	sigs := SigsFor(msg.Answer, z.name, dns.TypeDNSKEY)
	valid, err := VerifyDNSKEYs(z.name, trusted, keys, sigs, q.now)
	switch {
	case err == nil:
		z.status, z.keys = Secure, valid
		x.rrset(rrset, nil)
		for _, s := range sigs {
			if s.ValidityPeriod(q.now) {
				x.ttl(s.OrigTtl)
				x.before(SigExpiry(s))
			}
		}
	case errors.Is(err, ErrUnsupported):
		z.status = Insecure
		z.reason = recordReason(z.name, dns.TypeDNSKEY, "", "no trusted DS or anchor uses a supported algorithm and digest (RFC 4035 section 5.2)")
	default:
		z.status, z.reason = Bogus, err.Error()
	}
	e := &entry{rrs: rrset, sigs: sigs, rcode: msg.Rcode, status: z.status, reason: z.reason, zone: z, expires: x.at}
	if z.status == Bogus {
		e.expires = minTime(e.expires, q.now.Add(BogusTTL))
	}
	if len(rrset) > 0 {
		z.keysEntry = e // cached by finish, when the zone is complete
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// serversFor gives the delegation's name servers their addresses: the
// configured NSAddrs, else glue, else (when no server has any) a lookup of
// the first few names that are not inside the zone itself.
func (q *run) serversFor(ctx context.Context, zoneName string, nsNames []string, glue map[string][]netip.Addr) []NameServer {
	out := make([]NameServer, 0, len(nsNames))
	for _, n := range nsNames {
		ns := NameServer{Name: n}
		if a, ok := q.r.nsAddrs[n]; ok {
			ns.Addrs = slices.Clone(a)
		} else {
			for _, ip := range glue[n] {
				ns.Addrs = append(ns.Addrs, netip.AddrPortFrom(ip, q.r.port))
			}
		}
		out = append(out, ns)
	}
	if hasAddrs(out) || q.depth >= MaxNSLookupDepth {
		return out
	}
	found := 0
	for i := range out {
		if found >= maxGluelessServers || ctx.Err() != nil {
			break
		}
		if isSubdomain(zoneName, out[i].Name) {
			continue // in the zone but without glue: unreachable
		}
		addrs, _ := q.nested().lookupAddrs(ctx, out[i].Name)
		for _, a := range addrs {
			out[i].Addrs = append(out[i].Addrs, netip.AddrPortFrom(a, q.r.port))
		}
		if len(addrs) > 0 {
			found++
		}
	}
	return out
}

// ask sends name/qtype to the zone's servers in turn until one gives a
// usable answer: NOERROR or NXDOMAIN, and authoritative unless it is a
// referral to a zone below. A server that does not answer, REFUSEs,
// SERVFAILs or answers without AA is skipped in favour of the next.
func (q *run) ask(ctx context.Context, z *zone, name string, qtype uint16) (*dns.Msg, *entry) {
	var fails []string
	for _, ns := range z.servers {
		for _, addr := range ns.Addrs {
			who := addr.String()
			if ns.Name != "" {
				who += " " + ns.Name
			}
			if q.b.dead[addr] {
				fails = append(fails, who+": did not answer")
				continue
			}
			if q.b.queries >= q.r.maxQueries {
				fails = append(fails, fmt.Sprintf("query budget of %d exhausted", q.r.maxQueries))
				return nil, serverFailure(z, fmt.Sprintf("%s: no server answered %s %s (%s)", z.name, name, typeString(qtype), joinReasons(fails)))
			}
			if err := ctx.Err(); err != nil {
				return nil, serverFailure(z, fmt.Sprintf("%s: %s %s: %v", z.name, name, typeString(qtype), err))
			}
			q.b.queries++
			msg, err := q.r.exchange(ctx, addr, name, qtype)
			if err != nil {
				if ctx.Err() == nil {
					q.b.dead[addr] = true
				}
				fails = append(fails, who+": did not answer")
				continue
			}
			switch {
			case msg.Rcode != dns.RcodeSuccess && msg.Rcode != dns.RcodeNameError:
				fails = append(fails, who+": "+dns.RcodeToString[msg.Rcode])
				continue
			case !msg.Authoritative && referralTarget(msg, z.name, name, qtype) == "":
				fails = append(fails, who+": answered without AA")
				continue
			}
			return msg, nil
		}
	}
	if len(fails) == 0 {
		fails = append(fails, "no server address")
	}
	return nil, serverFailure(z, fmt.Sprintf("%s: no server answered %s %s (%s)", z.name, name, typeString(qtype), joinReasons(fails)))
}

func joinReasons(r []string) string { return strings.Join(r, "; ") }

// referralTarget returns the child zone a non-authoritative answer refers
// to: NS records for a zone strictly below the zone asked and at or above
// name. A referral to name itself for a DS query is not one (the parent must
// answer DS).
func referralTarget(msg *dns.Msg, zoneName, name string, qtype uint16) string {
	if msg.Authoritative || msg.Rcode != dns.RcodeSuccess || len(msg.Answer) > 0 {
		return ""
	}
	for _, rr := range msg.Ns {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		owner := dns.CanonicalName(ns.Hdr.Name)
		if !isProperSubdomain(zoneName, owner) || !isSubdomain(owner, name) {
			continue
		}
		if qtype == dns.TypeDS && owner == name {
			continue
		}
		return owner
	}
	return ""
}

// hiddenCut finds a zone cut the servers skipped (parent and child on the
// same servers): an authoritative answer whose signer or SOA owner is a zone
// strictly below the zone asked and at or above name (strictly above for
// DS).
func hiddenCut(msg *dns.Msg, zoneName, name string, qtype uint16) string {
	if !msg.Authoritative {
		return ""
	}
	best := ""
	consider := func(c string) {
		c = dns.CanonicalName(c)
		if !isProperSubdomain(zoneName, c) || !isSubdomain(c, name) || (qtype == dns.TypeDS && c == name) {
			return
		}
		if dns.CountLabel(c) > dns.CountLabel(best) || best == "" {
			best = c
		}
	}
	for _, rr := range msg.Answer {
		switch rr := rr.(type) {
		case *dns.RRSIG:
			if sameName(rr.Hdr.Name, name) {
				consider(rr.SignerName)
			}
		case *dns.SOA:
			if sameName(rr.Hdr.Name, name) {
				consider(rr.Hdr.Name)
			}
		}
	}
	for _, rr := range msg.Ns {
		switch rr := rr.(type) {
		case *dns.SOA:
			consider(rr.Hdr.Name)
		case *dns.RRSIG:
			consider(rr.SignerName)
		}
	}
	return best
}
