package dnssec

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// MaxNSEC3Iterations is the largest NSEC3 iteration count this validator
// accepts; a proof using more is treated as insecure, as RFC 9276 section 3.2
// allows, so that a zone cannot make validation arbitrarily expensive.
const MaxNSEC3Iterations = 150

// proof is the outcome of checking an authenticated denial of existence
// (RFC 4035 section 5.4, RFC 5155 section 8) against NSEC or NSEC3 records
// whose signatures have already been verified.
type proof struct {
	status Status // Secure: proven; Insecure: opt-out or unusable NSEC3; Bogus: not proven
	reason string // the check that failed or made it insecure; empty when Secure
}

var proven = proof{status: Secure}

func notProven(format string, args ...any) proof {
	return proof{status: Bogus, reason: fmt.Sprintf(format, args...)}
}

func insecureProof(format string, args ...any) proof {
	return proof{status: Insecure, reason: fmt.Sprintf(format, args...)}
}

// denialSet holds the verified NSEC and NSEC3 records of one response,
// all from one zone.
type denialSet struct {
	zone   string
	nsecs  []*dns.NSEC
	nsec3s []*dns.NSEC3
}

// proveNXDOMAIN checks that qname does not exist and that no wildcard could
// have produced it (RFC 4035 section 5.4, RFC 5155 section 8.4).
func (d denialSet) proveNXDOMAIN(qname string) proof {
	qname = dns.CanonicalName(qname)
	if len(d.nsecs) > 0 {
		return d.nsecNXDOMAIN(qname)
	}
	if len(d.nsec3s) > 0 {
		n3, bad := d.usableNSEC3()
		if bad.status != Secure {
			return bad
		}
		return n3.nxdomain(qname)
	}
	return notProven("NXDOMAIN without NSEC or NSEC3 records")
}

// proveNODATA checks that qname exists but has no qtype RRset (RFC 4035
// section 5.4, RFC 5155 sections 8.5 to 8.7). With delegation set, qname is
// a delegation point the parent referred to and qtype is DS: the proof must
// also show the NS bit, and an opt-out span makes the delegation insecure
// (RFC 5155 section 8.6, RFC 4035 section 5.2).
func (d denialSet) proveNODATA(qname string, qtype uint16, delegation bool) proof {
	qname = dns.CanonicalName(qname)
	if len(d.nsecs) > 0 {
		return d.nsecNODATA(qname, qtype, delegation)
	}
	if len(d.nsec3s) > 0 {
		n3, bad := d.usableNSEC3()
		if bad.status != Secure {
			return bad
		}
		return n3.nodata(qname, qtype, delegation)
	}
	return notProven("no NSEC or NSEC3 records prove that %s has no %s", qname, typeString(qtype))
}

// proveWildcard checks, for an answer whose RRSIG labels field shows it was
// synthesized from a wildcard, that the next closer name does not exist, so
// that the expansion was legitimate (RFC 4035 section 5.3.4, RFC 5155
// section 8.8).
func (d denialSet) proveWildcard(qname string, labels uint8) proof {
	qname = dns.CanonicalName(qname)
	ce := lastLabels(qname, int(labels))
	nc := lastLabels(qname, int(labels)+1)
	if len(d.nsecs) > 0 {
		for _, n := range d.nsecs {
			if nsecCovers(n, qname) && d.nsecDenies(n, qname) && !isProperSubdomain(qname, dns.CanonicalName(n.NextDomain)) {
				if got := nsecClosestEncloser(n, qname); got != ce {
					return notProven("wildcard expansion from *.%s but NSEC %s shows the closest encloser is %s", ce, n.Hdr.Name, got)
				}
				return proven
			}
		}
		return notProven("wildcard expansion without an NSEC proving that %s does not exist", qname)
	}
	if len(d.nsec3s) > 0 {
		n3, bad := d.usableNSEC3()
		if bad.status != Secure {
			return bad
		}
		cov := n3.cover(nc)
		if cov == nil {
			return notProven("wildcard expansion without an NSEC3 covering the next closer name %s", nc)
		}
		if optOut(cov) {
			return insecureProof("wildcard expansion whose next closer name %s is in an opt-out span", nc)
		}
		return proven
	}
	return notProven("wildcard expansion from *.%s without an NSEC or NSEC3 proving that %s does not exist", ce, qname)
}

// ---- NSEC (RFC 4035) ----

// nsecCovers reports whether n proves that name does not exist: name sorts
// strictly between the owner and the next name, the last NSEC of a zone
// wrapping round to the apex.
func nsecCovers(n *dns.NSEC, name string) bool {
	owner, next := dns.CanonicalName(n.Hdr.Name), dns.CanonicalName(n.NextDomain)
	if canonicalCompare(owner, name) >= 0 {
		return false
	}
	if canonicalCompare(owner, next) < 0 {
		return canonicalCompare(name, next) < 0
	}
	return true
}

// nsecDenies reports whether n may speak about name at all: it belongs to
// the zone, and it is not the parent-side NSEC of a delegation (or a DNAME)
// above name, whose span says nothing about the child zone's names (RFC 6840
// section 4.1).
func (d denialSet) nsecDenies(n *dns.NSEC, name string) bool {
	owner := dns.CanonicalName(n.Hdr.Name)
	if !isSubdomain(d.zone, owner) {
		return false
	}
	if isProperSubdomain(owner, name) {
		if hasType(n.TypeBitMap, dns.TypeDNAME) || (hasType(n.TypeBitMap, dns.TypeNS) && !hasType(n.TypeBitMap, dns.TypeSOA)) {
			return false
		}
	}
	return true
}

// nsecClosestEncloser derives the closest encloser of a name that n covers:
// the longer of the common ancestors of the name with the NSEC's owner and
// with its next name.
func nsecClosestEncloser(n *dns.NSEC, name string) string {
	a := commonAncestor(name, dns.CanonicalName(n.Hdr.Name))
	b := commonAncestor(name, dns.CanonicalName(n.NextDomain))
	if dns.CountLabel(b) > dns.CountLabel(a) {
		return b
	}
	return a
}

func (d denialSet) nsecMatch(name string) *dns.NSEC {
	for _, n := range d.nsecs {
		if sameName(n.Hdr.Name, name) && isSubdomain(d.zone, dns.CanonicalName(n.Hdr.Name)) {
			return n
		}
	}
	return nil
}

func (d denialSet) nsecCover(name string) *dns.NSEC {
	for _, n := range d.nsecs {
		if nsecCovers(n, name) && d.nsecDenies(n, name) {
			return n
		}
	}
	return nil
}

func (d denialSet) nsecNXDOMAIN(qname string) proof {
	if m := d.nsecMatch(qname); m != nil {
		return notProven("NXDOMAIN but the NSEC at %s shows the name exists", m.Hdr.Name)
	}
	var cover *dns.NSEC
	for _, n := range d.nsecs {
		if nsecCovers(n, qname) && d.nsecDenies(n, qname) {
			if isProperSubdomain(qname, dns.CanonicalName(n.NextDomain)) {
				return notProven("NXDOMAIN but the NSEC at %s shows %s is an empty non-terminal", n.Hdr.Name, qname)
			}
			cover = n
			break
		}
	}
	if cover == nil {
		return notProven("no NSEC proves that %s does not exist", qname)
	}
	ce := nsecClosestEncloser(cover, qname)
	wc := wildcardOf(ce)
	if m := d.nsecMatch(wc); m != nil {
		return notProven("NXDOMAIN but the wildcard %s exists", wc)
	}
	if d.nsecCover(wc) == nil {
		return notProven("no NSEC proves that the wildcard %s does not exist", wc)
	}
	return proven
}

func (d denialSet) nsecNODATA(qname string, qtype uint16, delegation bool) proof {
	if m := d.nsecMatch(qname); m != nil {
		return bitmapDenies("NSEC", m.TypeBitMap, qname, qtype, delegation)
	}
	if delegation {
		return notProven("no NSEC at the delegation %s proves it has no DS", qname)
	}
	cover := d.nsecCover(qname)
	if cover != nil && isProperSubdomain(qname, dns.CanonicalName(cover.NextDomain)) {
		return proven // qname is an empty non-terminal (RFC 4035 section 3.1.3.2)
	}
	if cover != nil {
		wc := wildcardOf(nsecClosestEncloser(cover, qname))
		if w := d.nsecMatch(wc); w != nil {
			return bitmapDenies("NSEC", w.TypeBitMap, wc, qtype, false)
		}
	}
	return notProven("no NSEC proves that %s has no %s", qname, typeString(qtype))
}

// bitmapDenies checks the type bitmap of the NSEC or NSEC3 record that
// matches name for a NODATA answer to qtype.
func bitmapDenies(kind string, bitmap []uint16, name string, qtype uint16, delegation bool) proof {
	if hasType(bitmap, qtype) {
		return notProven("NODATA but the %s at %s lists %s", kind, name, typeString(qtype))
	}
	if hasType(bitmap, dns.TypeCNAME) {
		return notProven("NODATA but the %s at %s lists CNAME", kind, name)
	}
	ns, soa := hasType(bitmap, dns.TypeNS), hasType(bitmap, dns.TypeSOA)
	if qtype == dns.TypeDS {
		if soa && name != "." {
			return notProven("the %s at %s is from the child zone's apex and cannot deny its DS", kind, name)
		}
		if delegation && !ns {
			return notProven("the %s at %s lacks the NS bit of a delegation", kind, name)
		}
		return proven
	}
	if ns && !soa {
		return notProven("the %s at %s is the parent side of a delegation and cannot deny %s", kind, name, typeString(qtype))
	}
	return proven
}

func wildcardOf(ce string) string {
	if ce == "." {
		return "*."
	}
	return "*." + ce
}

// ---- NSEC3 (RFC 5155) ----

// nsec3Set is the usable NSEC3 records of a zone.
type nsec3Set struct {
	zone   string
	recs   []*dns.NSEC3
	hashes map[hashKey]string // memo: a proof hashes the same names for every record
}

type hashKey struct {
	name, salt string
	iterations uint16
}

// hash returns the NSEC3 hash of name with n's parameters.
func (s *nsec3Set) hash(name string, n *dns.NSEC3) string {
	k := hashKey{name, n.Salt, n.Iterations}
	if h, ok := s.hashes[k]; ok {
		return h
	}
	if s.hashes == nil {
		s.hashes = map[hashKey]string{}
	}
	h := dns.HashName(name, n.Hash, n.Iterations, n.Salt)
	s.hashes[k] = h
	return h
}

// usableNSEC3 keeps the NSEC3 records this validator can use: SHA-1, owner
// one label below the zone. Iteration counts above MaxNSEC3Iterations make
// the answer insecure (RFC 9276 section 3.2), as does a set of which no
// record uses a known hash (RFC 5155 section 8.1).
func (d denialSet) usableNSEC3() (*nsec3Set, proof) {
	s := &nsec3Set{zone: d.zone}
	for _, n := range d.nsec3s {
		if n.Iterations > MaxNSEC3Iterations {
			return s, insecureProof("NSEC3 at %s uses %d iterations, more than %d (RFC 9276)", n.Hdr.Name, n.Iterations, MaxNSEC3Iterations)
		}
		if n.Hash != dns.SHA1 || !sameName(parentName(dns.CanonicalName(n.Hdr.Name)), d.zone) {
			continue
		}
		s.recs = append(s.recs, n)
	}
	if len(s.recs) == 0 {
		return s, insecureProof("no NSEC3 record of zone %s uses a known hash algorithm", d.zone)
	}
	return s, proven
}

func nsec3Hashes(n *dns.NSEC3) (owner, next string) {
	first := dns.SplitDomainName(n.Hdr.Name)[0]
	return strings.ToUpper(first), strings.ToUpper(n.NextDomain)
}

func (s *nsec3Set) match(name string) *dns.NSEC3 {
	if !isSubdomain(s.zone, name) {
		return nil
	}
	for _, n := range s.recs {
		owner, _ := nsec3Hashes(n)
		if h := s.hash(name, n); h != "" && h == owner {
			return n
		}
	}
	return nil
}

// cover returns an NSEC3 whose hash span strictly contains the hash of name,
// the last record of the chain wrapping round to the first.
func (s *nsec3Set) cover(name string) *dns.NSEC3 {
	if !isSubdomain(s.zone, name) {
		return nil
	}
	for _, n := range s.recs {
		owner, next := nsec3Hashes(n)
		h := s.hash(name, n)
		if h == "" {
			continue
		}
		if owner < next {
			if owner < h && h < next {
				return n
			}
		} else if h > owner || h < next {
			return n
		}
	}
	return nil
}

// closestEncloser runs the closest encloser proof of RFC 5155 section 8.3:
// an NSEC3 matches an ancestor ce of qname and another covers the next
// closer name. When an NSEC3 matches qname itself, ce is qname and the other
// results are empty.
func (s *nsec3Set) closestEncloser(qname string) (ce, nc string, ncCover *dns.NSEC3, failed proof) {
	for name := qname; ; name = parentName(name) {
		if m := s.match(name); m != nil {
			if name == qname {
				return name, "", nil, proven
			}
			if hasType(m.TypeBitMap, dns.TypeDNAME) || (hasType(m.TypeBitMap, dns.TypeNS) && !hasType(m.TypeBitMap, dns.TypeSOA)) {
				return "", "", nil, notProven("the closest encloser %s of %s is a delegation or DNAME", name, qname)
			}
			nc = lastLabels(qname, dns.CountLabel(name)+1)
			cov := s.cover(nc)
			if cov == nil {
				return "", "", nil, notProven("no NSEC3 covers the next closer name %s", nc)
			}
			return name, nc, cov, proven
		}
		if name == s.zone || name == "." {
			break
		}
	}
	return "", "", nil, notProven("no NSEC3 matches a closest encloser of %s", qname)
}

func optOut(n *dns.NSEC3) bool { return n.Flags&1 == 1 }

func (s *nsec3Set) nxdomain(qname string) proof {
	ce, nc, cov, failed := s.closestEncloser(qname)
	if failed.status != Secure {
		return failed
	}
	if ce == qname {
		return notProven("NXDOMAIN but an NSEC3 matches %s: the name exists", qname)
	}
	wc := wildcardOf(ce)
	if s.match(wc) != nil {
		return notProven("NXDOMAIN but the wildcard %s exists", wc)
	}
	if s.cover(wc) == nil {
		return notProven("no NSEC3 proves that the wildcard %s does not exist", wc)
	}
	if optOut(cov) {
		// An unsigned delegation may exist in the opt-out span (RFC 5155
		// section 9.2): the name error cannot be proven secure.
		return insecureProof("the next closer name %s is covered by an opt-out NSEC3", nc)
	}
	return proven
}

func (s *nsec3Set) nodata(qname string, qtype uint16, delegation bool) proof {
	if m := s.match(qname); m != nil {
		return bitmapDenies("NSEC3", m.TypeBitMap, qname, qtype, delegation)
	}
	ce, nc, cov, failed := s.closestEncloser(qname)
	if failed.status != Secure {
		return notProven("no NSEC3 matches %s and %s", qname, failed.reason)
	}
	if qtype == dns.TypeDS {
		if optOut(cov) {
			return insecureProof("no DS: %s is in an opt-out span (NSEC3 %s covers %s)", qname, cov.Hdr.Name, nc)
		}
		return notProven("no NSEC3 matches %s and the NSEC3 covering %s is not opt-out", qname, nc)
	}
	wc := wildcardOf(ce)
	if w := s.match(wc); w != nil {
		p := bitmapDenies("NSEC3", w.TypeBitMap, wc, qtype, false)
		if p.status == Secure && optOut(cov) {
			return insecureProof("wildcard NODATA whose next closer name %s is in an opt-out span", nc)
		}
		return p
	}
	if optOut(cov) {
		// An unsigned delegation may hide in the opt-out span (RFC 5155
		// section 9.2).
		return insecureProof("no NSEC3 matches %s and its next closer name %s is in an opt-out span", qname, nc)
	}
	return notProven("no NSEC3 matches %s or the wildcard %s", qname, wc)
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}
