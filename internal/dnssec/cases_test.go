package dnssec_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// goodCase is a question about the default hierarchy with the verdict every
// validator must reach.
type goodCase struct {
	name   string
	qname  string
	qtype  uint16
	status dnssec.Status
	rcode  int
	answer []string // answerText of the answer; nil when not checked
	reason string   // a fragment of the reason, for non-secure verdicts
}

// goodCases covers every kind of answer of hierarchy.DefaultSpec.
var goodCases = []goodCase{
	{"A", "www.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"www.example.test. A 192.0.2.1"}, ""},
	{"AAAA", "www.example.test.", dns.TypeAAAA, dnssec.Secure, dns.RcodeSuccess, []string{"www.example.test. AAAA 2001:db8::1"}, ""},
	{"CNAME", "alias.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"alias.example.test. CNAME www.example.test.", "www.example.test. A 192.0.2.1"}, ""},
	{"CNAME chain", "chain1.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"chain1.example.test. CNAME chain2.example.test.", "chain2.example.test. CNAME www.example.test.", "www.example.test. A 192.0.2.1"}, ""},
	{"CNAME to NXDOMAIN", "dangling.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeNameError, []string{"dangling.example.test. CNAME nowhere.example.test."}, ""},
	{"wildcard", "x.wild.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"x.wild.example.test. A 192.0.2.10"}, ""},
	{"wildcard two labels down", "a.b.wild.example.test.", dns.TypeTXT, dnssec.Secure, dns.RcodeSuccess, []string{`a.b.wild.example.test. TXT "wildcard"`}, ""},
	{"wildcard NODATA", "x.wild.example.test.", dns.TypeMX, dnssec.Secure, dns.RcodeSuccess, []string{}, ""},
	{"NXDOMAIN", "nope.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeNameError, []string{}, ""},
	{"NODATA", "www.example.test.", dns.TypeMX, dnssec.Secure, dns.RcodeSuccess, []string{}, ""},
	{"empty non-terminal", "ent.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{}, ""},
	{"large answer over TCP", "big.example.test.", dns.TypeTXT, dnssec.Secure, dns.RcodeSuccess, nil, ""},
	{"secure child", "www.sub.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"www.sub.example.test. A 192.0.2.20"}, ""},
	{"DS at the parent", "sub.example.test.", dns.TypeDS, dnssec.Secure, dns.RcodeSuccess, nil, ""},
	{"DNSKEY", "example.test.", dns.TypeDNSKEY, dnssec.Secure, dns.RcodeSuccess, nil, ""},
	{"TLD NXDOMAIN", "nope.test.", dns.TypeA, dnssec.Secure, dns.RcodeNameError, []string{}, ""},
	{"insecure delegation", "www.insecure.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, []string{"www.insecure.test. A 192.0.2.30"}, "insecure.test. DS in test.: no DS"},
	{"no DS proven", "insecure.test.", dns.TypeDS, dnssec.Secure, dns.RcodeSuccess, []string{}, ""},
	{"NSEC3 answer", "www.nsec3.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"www.nsec3.test. A 192.0.2.40"}, ""},
	{"NSEC3 NODATA", "www.nsec3.test.", dns.TypeMX, dnssec.Secure, dns.RcodeSuccess, []string{}, ""},
	{"NSEC3 empty non-terminal", "ent.nsec3.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{}, ""},
	{"NSEC3 opt-out NXDOMAIN", "nope.nsec3.test.", dns.TypeA, dnssec.Insecure, dns.RcodeNameError, []string{}, "opt-out"},
	{"NSEC3 opt-out wildcard", "x.wild.nsec3.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, []string{"x.wild.nsec3.test. A 192.0.2.41"}, "opt-out"},
	{"NSEC3 opt-out insecure delegation", "www.unsigned.nsec3.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, []string{"www.unsigned.nsec3.test. A 192.0.2.50"}, "opt-out span"},
	{"NSEC3 NXDOMAIN", "nope.nsec3salt.test.", dns.TypeA, dnssec.Secure, dns.RcodeNameError, []string{}, ""},
	{"NSEC3 wildcard", "x.wild.nsec3salt.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"x.wild.nsec3salt.test. A 192.0.2.41"}, ""},
	{"algorithm 8", "www.rsa.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"www.rsa.test. A 192.0.2.60"}, ""},
	{"algorithm 15", "www.ed25519.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, []string{"www.ed25519.test. A 192.0.2.70"}, ""},
}

// brokenCase is a hierarchy broken in one precise way and a question whose
// answer must then be bogus, with a reason containing the fragment given.
type brokenCase struct {
	name   string
	spec   func(s *hierarchy.Spec)                    // optional change before start
	mutate func(t testing.TB, h *hierarchy.Hierarchy) // optional change after start
	qname  string
	qtype  uint16
	reason string
	// othersAccept, when set, says why unbound and BIND validate this
	// answer although RFC 4035 makes it bogus (see crosscheck_test.go).
	othersAccept string
}

func zoneOf(h *hierarchy.Hierarchy, origin string) *authzone.Zone { return h.Zone(origin).Zone }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// setDS sets the DS mode of a zone of the spec.
func setDS(origin string, mode hierarchy.DSMode) func(*hierarchy.Spec) {
	return func(s *hierarchy.Spec) {
		for i := range s.Zones {
			if s.Zones[i].Origin == origin {
				s.Zones[i].DS = mode
			}
		}
	}
}

// brokenCases run against smallSpec.
var brokenCases = []brokenCase{
	{
		name: "expired RRSIG",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			must(t, zoneOf(h, "example.test.").ResignRRset("www.example.test.", dns.TypeA, h.Now().Add(-48*time.Hour), h.Now().Add(-24*time.Hour)))
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "www.example.test. A in example.test.: RRSIG",
	},
	{
		name: "RRSIG not yet valid",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			must(t, zoneOf(h, "example.test.").ResignRRset("www.example.test.", dns.TypeA, h.Now().Add(24*time.Hour), h.Now().Add(48*time.Hour)))
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "not yet valid",
	},
	{
		name: "signature by a key not in the DNSKEY set",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			k := authzone.MustGenerateKey("example.test.", dns.ECDSAP256SHA256, authzone.ZSK)
			must(t, zoneOf(h, "example.test.").ResignRRset("www.example.test.", dns.TypeA, h.Now().Add(-time.Hour), h.Now().Add(time.Hour), k))
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "made by a key not in the DNSKEY set",
	},
	{
		name:  "DS digest matches no key",
		spec:  setDS("example.test.", hierarchy.DSBogus),
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "example.test. DNSKEY: no DS matches a DNSKEY that signs the set",
	},
	{
		name:  "DS for a key that signs nothing",
		spec:  setDS("example.test.", hierarchy.DSOrphan),
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "signs nothing",
	},
	{
		name: "expired DNSKEY RRSIG",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			must(t, zoneOf(h, "example.test.").ResignRRset("example.test.", dns.TypeDNSKEY, h.Now().Add(-48*time.Hour), h.Now().Add(-24*time.Hour)))
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "example.test. DNSKEY: no DS matches a DNSKEY that signs the set",
	},
	{
		name: "missing RRSIG",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			if zoneOf(h, "example.test.").RemoveRRSIGs("www.example.test.", dns.TypeA) == 0 {
				t.Fatal("no RRSIG removed")
			}
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "www.example.test. A in example.test.: missing RRSIG",
	},
	{
		name: "missing DS RRSIG",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			if zoneOf(h, "test.").RemoveRRSIGs("example.test.", dns.TypeDS) == 0 {
				t.Fatal("no RRSIG removed")
			}
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "example.test. DS in test.: missing RRSIG",
	},
	{
		name: "DNSKEY RRset withheld",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "example.test.").SetAnswerHook(authzone.DropRecords(dns.TypeDNSKEY))
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "no DNSKEY records although the parent has a DS",
	},
	{
		name: "answer signed by the parent zone",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "example.test.").SetAnswerHook(authzone.ForName("www.example.test.", resignBy(t, zoneOf(h, "test."), h.Now())))
		},
		qname: "www.example.test.", qtype: dns.TypeA,
		reason: "signer test. is not the zone example.test.",
		// RFC 4035 section 5.3.1: the signer's name MUST be the zone that
		// holds the RRset. unbound and BIND take the zone from the signer's
		// name and only check that it is an ancestor of the owner.
		othersAccept: "they check only that the signer is an ancestor of the owner",
	},
	{
		name: "NSEC proof missing",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "example.test.").SetAnswerHook(authzone.DropDenial())
		},
		qname: "nope.example.test.", qtype: dns.TypeA,
		reason: "nope.example.test. A in example.test.: NXDOMAIN without NSEC or NSEC3 records",
	},
	{
		name: "NSEC proof not covering",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			z := zoneOf(h, "example.test.")
			z.SetAnswerHook(z.UnrelatedDenial())
		},
		qname: "nope.example.test.", qtype: dns.TypeA,
		reason: "no NSEC proves that nope.example.test. does not exist",
	},
	{
		name: "NSEC3 proof missing",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "n3.test.").SetAnswerHook(authzone.DropDenial())
		},
		qname: "nope.n3.test.", qtype: dns.TypeA,
		reason: "nope.n3.test. A in n3.test.: NXDOMAIN without NSEC or NSEC3 records",
	},
	{
		name: "NSEC3 proof not covering",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			z := zoneOf(h, "n3.test.")
			z.SetAnswerHook(z.UnrelatedDenial())
		},
		qname: "nope.n3.test.", qtype: dns.TypeA,
		reason: "nope.n3.test. A in n3.test.: no NSEC3",
	},
	{
		name: "NODATA without proof",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "example.test.").SetAnswerHook(authzone.DropDenial())
		},
		qname: "www.example.test.", qtype: dns.TypeMX,
		reason: "www.example.test. MX in example.test.: no NSEC or NSEC3 records prove",
	},
	{
		name: "wildcard answer without its proof",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "example.test.").SetAnswerHook(authzone.DropDenial())
		},
		qname: "x.wild.example.test.", qtype: dns.TypeA,
		reason: "x.wild.example.test. A in example.test.: wildcard expansion",
	},
	{
		name: "NSEC3 wildcard answer without its proof",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "n3.test.").SetAnswerHook(authzone.DropDenial())
		},
		qname: "x.wild.n3.test.", qtype: dns.TypeA,
		reason: "x.wild.n3.test. A in n3.test.: wildcard expansion",
	},
	{
		name: "NODATA whose NSEC bitmap lists the type",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			must(t, zoneOf(h, "example.test.").SetNSECBitmap("www.example.test.", dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeRRSIG, dns.TypeNSEC))
		},
		qname: "www.example.test.", qtype: dns.TypeMX,
		reason: "NODATA but the NSEC at www.example.test. lists MX",
	},
	{
		name: "NODATA whose NSEC3 bitmap lists the type",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			must(t, zoneOf(h, "n3.test.").SetNSECBitmap("www.n3.test.", dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeRRSIG))
		},
		qname: "www.n3.test.", qtype: dns.TypeMX,
		reason: "NODATA but the NSEC3 at www.n3.test. lists MX",
	},
	{
		name: "insecure delegation without proof",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			zoneOf(h, "test.").SetAnswerHook(authzone.DropDenial())
		},
		qname: "www.insecure.test.", qtype: dns.TypeA,
		reason: "insecure.test. DS in test.: no NSEC or NSEC3 records prove that insecure.test. has no DS",
	},
	{
		name: "CNAME target bogus",
		mutate: func(t testing.TB, h *hierarchy.Hierarchy) {
			must(t, zoneOf(h, "example.test.").ResignRRset("www.example.test.", dns.TypeA, h.Now().Add(-48*time.Hour), h.Now().Add(-24*time.Hour)))
		},
		qname: "alias.example.test.", qtype: dns.TypeA,
		reason: "www.example.test. A in example.test.: RRSIG",
	},
}

// startBroken starts smallSpec broken as c says.
func startBroken(t testing.TB, c brokenCase, now time.Time) *hierarchy.Hierarchy {
	t.Helper()
	spec := smallSpec(now)
	if c.spec != nil {
		c.spec(&spec)
	}
	h := startHierarchy(t, spec)
	if c.mutate != nil {
		c.mutate(t, h)
	}
	return h
}

// resignBy returns an answer hook that replaces the signatures over the
// answer RRsets by ones made by parent's data-signing key with parent as the
// signer name: data of a child zone signed by its parent.
func resignBy(t testing.TB, parent *authzone.Zone, now time.Time) authzone.AnswerHook {
	var key *authzone.Key
	for _, k := range parent.Keys() {
		if key == nil || k.Role != authzone.KSK {
			key = k
		}
	}
	return func(_, resp *dns.Msg) {
		sets := map[uint16][]dns.RR{}
		var kept []dns.RR
		for _, rr := range resp.Answer {
			if _, ok := rr.(*dns.RRSIG); ok {
				continue
			}
			sets[rr.Header().Rrtype] = append(sets[rr.Header().Rrtype], rr)
			kept = append(kept, rr)
		}
		for _, set := range sets {
			h := set[0].Header()
			sig := &dns.RRSIG{
				Hdr:         dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
				TypeCovered: h.Rrtype, Algorithm: key.DNSKEY.Algorithm, Labels: uint8(dns.CountLabel(h.Name)), OrigTtl: h.Ttl,
				Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(time.Hour).Unix()),
				KeyTag: key.Tag(), SignerName: parent.Origin(),
			}
			if err := sig.Sign(key.Signer, set); err != nil {
				t.Errorf("resignBy: %v", err)
				return
			}
			kept = append(kept, sig)
		}
		resp.Answer = kept
	}
}
