package authzone

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// proof is the negative proof an answer must carry.
type proof int

const (
	noProof         proof = iota
	nxdomainProof         // qname and the wildcard at ce do not exist
	nodataProof           // qname exists without qtype
	entProof              // qname is an empty non-terminal
	noDSProof             // the delegation at qname (or ns) has no DS
	wildcardProof         // no closer match than the wildcard at ce
	wildNodataProof       // no closer match, and the wildcard at ce lacks qtype
)

type answerCase struct {
	desc   string
	qname  string
	qtype  uint16
	rcode  int
	aa     bool
	answer []string // without signatures
	ns     []string // NS, DS and SOA records of the authority section
	extra  []string // without the OPT
	proof  proof
	ce     string // closest encloser for NXDOMAIN and wildcard proofs
	cut    string // delegation whose missing DS the proof shows (noDSProof)
}

const soaString = "example.test. 0 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60"

var answerCases = []answerCase{
	{desc: "positive", qname: "www.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"www.example.test. 0 IN A 192.0.2.1"}},
	{desc: "positive AAAA", qname: "www.example.test.", qtype: dns.TypeAAAA, aa: true,
		answer: []string{"www.example.test. 0 IN AAAA 2001:db8::1"}},
	{desc: "positive at apex, name case ignored", qname: "EXAMPLE.test.", qtype: dns.TypeMX, aa: true,
		answer: []string{"example.test. 0 IN MX 10 mail.example.test."}},
	{desc: "CNAME chased", qname: "alias.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"alias.example.test. 0 IN CNAME www.example.test.", "www.example.test. 0 IN A 192.0.2.1"}},
	{desc: "CNAME chain", qname: "chain1.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"chain1.example.test. 0 IN CNAME chain2.example.test.", "chain2.example.test. 0 IN CNAME www.example.test.", "www.example.test. 0 IN A 192.0.2.1"}},
	{desc: "CNAME query", qname: "alias.example.test.", qtype: dns.TypeCNAME, aa: true,
		answer: []string{"alias.example.test. 0 IN CNAME www.example.test."}},
	{desc: "CNAME out of zone", qname: "out.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"out.example.test. 0 IN CNAME www.elsewhere."}},
	{desc: "CNAME loop ends", qname: "loop1.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"loop1.example.test. 0 IN CNAME loop2.example.test.", "loop2.example.test. 0 IN CNAME loop1.example.test."}},
	{desc: "CNAME to a name that does not exist", qname: "dangling.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true,
		answer: []string{"dangling.example.test. 0 IN CNAME nowhere.example.test."}, ns: []string{soaString},
		proof: nxdomainProof, ce: "example.test."},
	{desc: "NODATA", qname: "www.example.test.", qtype: dns.TypeTXT, aa: true,
		ns: []string{soaString}, proof: nodataProof},
	{desc: "NODATA at empty non-terminal", qname: "ent.example.test.", qtype: dns.TypeA, aa: true,
		ns: []string{soaString}, proof: entProof},
	{desc: "NODATA at empty non-terminal above a delegation", qname: "optout.example.test.", qtype: dns.TypeA, aa: true,
		ns: []string{soaString}, proof: entProof},
	{desc: "NXDOMAIN", qname: "nope.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true,
		ns: []string{soaString}, proof: nxdomainProof, ce: "example.test."},
	{desc: "NXDOMAIN below an existing name", qname: "a.b.www.example.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true,
		ns: []string{soaString}, proof: nxdomainProof, ce: "www.example.test."},
	{desc: "wildcard", qname: "a.wild.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"a.wild.example.test. 0 IN A 192.0.2.10"}, proof: wildcardProof, ce: "wild.example.test."},
	{desc: "wildcard, several labels", qname: "x.y.wild.example.test.", qtype: dns.TypeTXT, aa: true,
		answer: []string{"x.y.wild.example.test. 0 IN TXT \"wildcard\""}, proof: wildcardProof, ce: "wild.example.test."},
	{desc: "wildcard NODATA", qname: "a.wild.example.test.", qtype: dns.TypeMX, aa: true,
		ns: []string{soaString}, proof: wildNodataProof, ce: "wild.example.test."},
	{desc: "wildcard CNAME", qname: "a.cwild.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"a.cwild.example.test. 0 IN CNAME www.example.test.", "www.example.test. 0 IN A 192.0.2.1"},
		proof:  wildcardProof, ce: "cwild.example.test."},
	{desc: "wildcard owner name itself", qname: "*.wild.example.test.", qtype: dns.TypeA, aa: true,
		answer: []string{"*.wild.example.test. 0 IN A 192.0.2.10"}},
	{desc: "referral, secure", qname: "www.secure.example.test.", qtype: dns.TypeA,
		ns:    []string{"secure.example.test. 0 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", "secure.example.test. 0 IN NS ns.secure.example.test."},
		extra: []string{"ns.secure.example.test. 0 IN A 192.0.2.54"}},
	{desc: "referral for glue name", qname: "ns.secure.example.test.", qtype: dns.TypeA,
		ns:    []string{"secure.example.test. 0 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", "secure.example.test. 0 IN NS ns.secure.example.test."},
		extra: []string{"ns.secure.example.test. 0 IN A 192.0.2.54"}},
	{desc: "referral, insecure", qname: "www.insecure.example.test.", qtype: dns.TypeA,
		ns: []string{"insecure.example.test. 0 IN NS ns.insecure.example.test.", "insecure.example.test. 0 IN NS ns1.example.test."},
		extra: []string{"ns.insecure.example.test. 0 IN A 192.0.2.55", "ns.insecure.example.test. 0 IN AAAA 2001:db8::55",
			"ns1.example.test. 0 IN A 192.0.2.53"},
		proof: noDSProof, cut: "insecure.example.test."},
	{desc: "referral, insecure, below an empty non-terminal", qname: "www.deep.optout.example.test.", qtype: dns.TypeA,
		ns:    []string{"deep.optout.example.test. 0 IN NS ns.elsewhere."},
		proof: noDSProof, cut: "deep.optout.example.test."},
	{desc: "DS at delegation, from the parent", qname: "secure.example.test.", qtype: dns.TypeDS, aa: true,
		answer: []string{"secure.example.test. 0 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}},
	{desc: "no DS at insecure delegation", qname: "insecure.example.test.", qtype: dns.TypeDS, aa: true,
		ns: []string{soaString}, proof: noDSProof, cut: "insecure.example.test."},
	{desc: "NS at delegation is a referral", qname: "secure.example.test.", qtype: dns.TypeNS,
		ns:    []string{"secure.example.test. 0 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", "secure.example.test. 0 IN NS ns.secure.example.test."},
		extra: []string{"ns.secure.example.test. 0 IN A 192.0.2.54"}},
	{desc: "DS at the apex: NODATA", qname: "example.test.", qtype: dns.TypeDS, aa: true,
		ns: []string{soaString}, proof: nodataProof},
	{desc: "outside the zone", qname: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	{desc: "parent of the zone", qname: "test.", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
}

var signings = []struct {
	name string
	opts SignOptions
}{
	{"NSEC", SignOptions{Denial: DenialNSEC}},
	{"NSEC3", SignOptions{Denial: DenialNSEC3}},
	{"NSEC3 salt iterations", SignOptions{Denial: DenialNSEC3, NSEC3: NSEC3Params{Iterations: 5, Salt: "abcdef"}}},
	{"NSEC3 opt-out", SignOptions{Denial: DenialNSEC3, NSEC3: NSEC3Params{OptOut: true}}},
}

func TestAnswer(t *testing.T) {
	for _, s := range signings {
		t.Run(s.name, func(t *testing.T) {
			z := newTestZone(t, &s.opts)
			keys := z.RRset(testOrigin, dns.TypeDNSKEY)
			for _, c := range answerCases {
				t.Run(c.desc, func(t *testing.T) {
					req := query(c.qname, c.qtype, true)
					resp := z.Answer(req)
					checkAnswer(t, resp, c)
					if t.Failed() {
						t.Logf("response:\n%v", resp)
						return
					}
					verifySignatures(t, resp, keys)
					checkProof(t, resp, c, s.opts)
					if t.Failed() {
						t.Logf("response:\n%v", resp)
					}
				})
			}
		})
	}
}

// TestAnswerWithoutDO checks that answers carry no DNSSEC records unless
// asked, from a signed and from an unsigned zone.
func TestAnswerWithoutDO(t *testing.T) {
	zones := map[string]*testZone{
		"signed, no DO": newTestZone(t, &SignOptions{}),
		"unsigned":      newTestZone(t, nil),
	}
	for name, z := range zones {
		for _, c := range answerCases {
			t.Run(name+"/"+c.desc, func(t *testing.T) {
				resp := z.Answer(query(c.qname, c.qtype, name == "unsigned"))
				if !c.aa {
					// DS goes with referrals only when DNSSEC records are
					// wanted (RFC 4035 section 3.1.4).
					c.ns = slices.DeleteFunc(slices.Clone(c.ns), func(s string) bool { return strings.Contains(s, " IN DS ") })
					if len(c.ns) == 0 {
						c.ns = nil
					}
				}
				checkAnswer(t, resp, c)
				for _, rr := range append(append(slices.Clone(resp.Answer), resp.Ns...), resp.Extra...) {
					switch rr.Header().Rrtype {
					case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
						t.Errorf("Answer(%s %s) has %v, want no DNSSEC records", c.qname, dns.TypeToString[c.qtype], rr)
					}
				}
			})
		}
	}
}

func checkAnswer(t *testing.T, resp *dns.Msg, c answerCase) {
	t.Helper()
	if resp.Rcode != c.rcode {
		t.Errorf("Answer(%s %s) rcode = %s, want %s", c.qname, dns.TypeToString[c.qtype], dns.RcodeToString[resp.Rcode], dns.RcodeToString[c.rcode])
	}
	if resp.Authoritative != c.aa {
		t.Errorf("Answer(%s %s) AA = %v, want %v", c.qname, dns.TypeToString[c.qtype], resp.Authoritative, c.aa)
	}
	if diff := cmp.Diff(c.answer, rrStrings(resp.Answer)); diff != "" {
		t.Errorf("Answer(%s %s) answer section (-want +got):\n%s", c.qname, dns.TypeToString[c.qtype], diff)
	}
	if diff := cmp.Diff(c.ns, rrStrings(resp.Ns, dns.TypeNS, dns.TypeDS, dns.TypeSOA)); diff != "" {
		t.Errorf("Answer(%s %s) authority section (-want +got):\n%s", c.qname, dns.TypeToString[c.qtype], diff)
	}
	if diff := cmp.Diff(c.extra, rrStrings(resp.Extra)); diff != "" {
		t.Errorf("Answer(%s %s) additional section (-want +got):\n%s", c.qname, dns.TypeToString[c.qtype], diff)
	}
	for _, rr := range resp.Ns {
		if s, ok := rr.(*dns.SOA); ok && s.Hdr.Ttl != 60 {
			t.Errorf("Answer(%s %s) SOA TTL = %d, want the negative TTL 60", c.qname, dns.TypeToString[c.qtype], s.Hdr.Ttl)
		}
	}
	opt := resp.IsEdns0()
	if opt == nil || opt.UDPSize() != EDNSSize {
		t.Errorf("Answer(%s %s) OPT = %v, want one with size %d", c.qname, dns.TypeToString[c.qtype], opt, EDNSSize)
	}
}

// checkProof checks that the authority section proves what c says, as a
// validator would (RFC 4035 section 5.4, RFC 5155 section 8).
func checkProof(t reporter, resp *dns.Msg, c answerCase, opts SignOptions) {
	t.Helper()
	ns := resp.Ns
	qname := c.qname
	if c.desc == "CNAME to a name that does not exist" {
		qname = "nowhere.example.test."
	}
	lacks := func(bitmap []uint16, types ...uint16) bool {
		for _, tp := range types {
			if slices.Contains(bitmap, tp) {
				return false
			}
		}
		return true
	}
	if opts.Denial == DenialNSEC {
		if c.proof == noProof && len(nsecs(ns)) > 0 {
			t.Errorf("unexpected NSEC records")
		}
		switch c.proof {
		case nxdomainProof:
			if nsecCovering(ns, qname) == nil {
				t.Errorf("no NSEC covers %s", qname)
			}
			if nsecCovering(ns, "*."+c.ce) == nil {
				t.Errorf("no NSEC covers *.%s", c.ce)
			}
		case nodataProof:
			n := nsecMatching(ns, qname)
			if n == nil || !lacks(n.TypeBitMap, c.qtype, dns.TypeCNAME) {
				t.Errorf("NSEC matching %s = %v, want one without %s or CNAME", qname, n, dns.TypeToString[c.qtype])
			}
		case entProof:
			n := nsecCovering(ns, qname)
			if n == nil || !dns.IsSubDomain(qname, n.NextDomain) {
				t.Errorf("NSEC covering %s = %v, want one whose next name is below it", qname, n)
			}
		case noDSProof:
			n := nsecMatching(ns, c.cut)
			if n == nil || !slices.Contains(n.TypeBitMap, dns.TypeNS) || !lacks(n.TypeBitMap, dns.TypeDS, dns.TypeSOA) {
				t.Errorf("NSEC matching %s = %v, want one with NS and without DS or SOA", c.cut, n)
			}
		case wildcardProof:
			if nsecCovering(ns, qname) == nil {
				t.Errorf("no NSEC covers %s", qname)
			}
		case wildNodataProof:
			if nsecCovering(ns, qname) == nil {
				t.Errorf("no NSEC covers %s", qname)
			}
			if n := nsecMatching(ns, "*."+c.ce); n == nil || !lacks(n.TypeBitMap, c.qtype, dns.TypeCNAME) {
				t.Errorf("NSEC matching *.%s = %v, want one without %s", c.ce, n, dns.TypeToString[c.qtype])
			}
		}
		return
	}

	if c.proof == noProof && len(nsec3s(ns)) > 0 {
		t.Errorf("unexpected NSEC3 records")
	}
	for _, n := range nsec3s(ns) {
		if n.Iterations != opts.NSEC3.Iterations || !equalFoldHex(n.Salt, opts.NSEC3.Salt) || (n.Flags&1 == 1) != opts.NSEC3.OptOut {
			t.Errorf("NSEC3 %v does not have the zone's parameters %+v", n, opts.NSEC3)
		}
	}
	closestEncloser := func(ce, name string) {
		t.Helper()
		if nsec3Matching(ns, ce) == nil {
			t.Errorf("no NSEC3 matches the closest encloser %s", ce)
		}
		if nc := nextCloser(name, ce); nsec3Covering(ns, nc) == nil {
			t.Errorf("no NSEC3 covers the next closer name %s", nc)
		}
	}
	switch c.proof {
	case nxdomainProof:
		closestEncloser(c.ce, qname)
		if nsec3Covering(ns, "*."+c.ce) == nil {
			t.Errorf("no NSEC3 covers *.%s", c.ce)
		}
	case nodataProof, entProof:
		n := nsec3Matching(ns, qname)
		if n == nil || !lacks(n.TypeBitMap, c.qtype, dns.TypeCNAME) {
			t.Errorf("NSEC3 matching %s = %v, want one without %s or CNAME", qname, n, dns.TypeToString[c.qtype])
		}
	case noDSProof:
		if n := nsec3Matching(ns, c.cut); n != nil {
			if !slices.Contains(n.TypeBitMap, dns.TypeNS) || !lacks(n.TypeBitMap, dns.TypeDS, dns.TypeSOA) {
				t.Errorf("NSEC3 matching %s = %v, want one with NS and without DS or SOA", c.cut, n)
			}
			return
		}
		if !opts.NSEC3.OptOut {
			t.Fatalf("no NSEC3 matches %s", c.cut)
		}
		// Opt-out: closest provable encloser, next closer covered by an
		// opt-out NSEC3 (RFC 5155 section 7.2.4).
		ce := parentName(c.cut)
		for nsec3Matching(ns, ce) == nil && ce != testOrigin {
			ce = parentName(ce)
		}
		closestEncloser(ce, c.cut)
		if n := nsec3Covering(ns, nextCloser(c.cut, ce)); n != nil && n.Flags&1 == 0 {
			t.Errorf("NSEC3 covering %s has no opt-out flag", nextCloser(c.cut, ce))
		}
	case wildcardProof:
		if nc := nextCloser(qname, c.ce); nsec3Covering(ns, nc) == nil {
			t.Errorf("no NSEC3 covers the next closer name %s", nc)
		}
	case wildNodataProof:
		closestEncloser(c.ce, qname)
		if n := nsec3Matching(ns, "*."+c.ce); n == nil || !lacks(n.TypeBitMap, c.qtype, dns.TypeCNAME) {
			t.Errorf("NSEC3 matching *.%s = %v, want one without %s", c.ce, n, dns.TypeToString[c.qtype])
		}
	}
}

func equalFoldHex(a, b string) bool {
	if a == "-" {
		a = ""
	}
	return dns.CanonicalName(a+".") == dns.CanonicalName(b+".")
}
