package authzone

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func caseNamed(t *testing.T, desc string) answerCase {
	t.Helper()
	for _, c := range answerCases {
		if c.desc == desc {
			return c
		}
	}
	t.Fatalf("no answer case %q", desc)
	return answerCase{}
}

// TestMutations checks that each way of breaking a zone is seen by the
// checks a validator makes, and only by the intended one.
func TestMutations(t *testing.T) {
	stray := MustGenerateKey(testOrigin, dns.ECDSAP256SHA256, ZSK)
	tests := []struct {
		desc   string
		query  string // answer case
		brk    func(z *testZone) error
		sigBad bool // signature check must complain
		proof  bool // proof check must complain
	}{
		{desc: "expired RRSIG", query: "positive", sigBad: true, brk: func(z *testZone) error {
			return z.ResignRRset("www.example.test.", dns.TypeA, testNow.Add(-48*time.Hour), testNow.Add(-24*time.Hour))
		}},
		{desc: "RRSIG not yet valid", query: "positive", sigBad: true, brk: func(z *testZone) error {
			return z.ResignRRset("www.example.test.", dns.TypeA, testNow.Add(time.Hour), testNow.Add(48*time.Hour))
		}},
		{desc: "signed by a key not in the DNSKEY RRset", query: "positive", sigBad: true, brk: func(z *testZone) error {
			return z.ResignRRset("www.example.test.", dns.TypeA, testNow.Add(-time.Hour), testNow.Add(time.Hour), stray)
		}},
		{desc: "missing RRSIG", query: "positive", sigBad: true, brk: func(z *testZone) error {
			if n := z.RemoveRRSIGs("www.example.test.", dns.TypeA); n != 1 {
				t.Errorf("RemoveRRSIGs removed %d signatures, want 1", n)
			}
			return nil
		}},
		{desc: "NXDOMAIN without proof", query: "NXDOMAIN", proof: true, brk: func(z *testZone) error {
			z.SetAnswerHook(DropDenial())
			return nil
		}},
		{desc: "NXDOMAIN with a proof that covers nothing", query: "NXDOMAIN", proof: true, brk: func(z *testZone) error {
			z.SetAnswerHook(z.UnrelatedDenial())
			return nil
		}},
		{desc: "NODATA with a proof for another name", query: "NODATA", proof: true, brk: func(z *testZone) error {
			z.SetAnswerHook(z.UnrelatedDenial())
			return nil
		}},
		{desc: "wildcard without proof", query: "wildcard", proof: true, brk: func(z *testZone) error {
			z.SetAnswerHook(DropDenial())
			return nil
		}},
		{desc: "hook for another name does nothing", query: "NXDOMAIN", brk: func(z *testZone) error {
			z.SetAnswerHook(ForName("www.example.test.", DropDenial()))
			return nil
		}},
		{desc: "re-signed RRset is fine", query: "positive", brk: func(z *testZone) error {
			return z.ResignRRset("www.example.test.", dns.TypeA, testNow.Add(-time.Hour), testNow.Add(time.Hour))
		}},
	}
	for _, s := range signings[:2] {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.desc, func(t *testing.T) {
				z := newTestZone(t, &s.opts)
				if err := tt.brk(z); err != nil {
					t.Fatal(err)
				}
				c := caseNamed(t, tt.query)
				resp := z.Answer(query(c.qname, c.qtype, true))
				var sig, prf complaints
				verifySignatures(&sig, resp, z.RRset(testOrigin, dns.TypeDNSKEY))
				checkProof(&prf, resp, c, s.opts)
				if got := len(sig) > 0; got != tt.sigBad {
					t.Errorf("signature complaints = %q, want some: %v", sig, tt.sigBad)
				}
				if got := len(prf) > 0; got != tt.proof {
					t.Errorf("proof complaints = %q, want some: %v", prf, tt.proof)
				}
				if t.Failed() {
					t.Logf("response:\n%v", resp)
				}
			})
		}
	}
}

// TestDeny checks the NODATA lie: a type that exists is denied with a
// validly signed bitmap, and the lie survives re-signing.
func TestDeny(t *testing.T) {
	for _, s := range signings[:2] {
		t.Run(s.name, func(t *testing.T) {
			z := newTestZone(t, &s.opts)
			if err := z.Deny("www.example.test.", dns.TypeA); err != nil {
				t.Fatal(err)
			}
			if err := z.Resign(); err != nil {
				t.Fatal(err)
			}
			c := answerCase{qname: "www.example.test.", qtype: dns.TypeA, aa: true, ns: []string{soaString}, proof: nodataProof}
			resp := z.Answer(query(c.qname, c.qtype, true))
			checkAnswer(t, resp, c)
			verifySignatures(t, resp, z.RRset(testOrigin, dns.TypeDNSKEY))
			checkProof(t, resp, c, s.opts)
			if len(z.RRset("www.example.test.", dns.TypeA)) == 0 {
				t.Errorf("RRset(www A) is empty after Deny, want it kept")
			}
			// Other types at the name are still served.
			if r := z.Answer(query("www.example.test.", dns.TypeAAAA, true)); len(r.Answer) == 0 {
				t.Errorf("Answer(www AAAA) after Deny(www A) has no answer")
			}
		})
	}
}

func TestSetNSECBitmap(t *testing.T) {
	for _, s := range signings[:2] {
		t.Run(s.name, func(t *testing.T) {
			z := newTestZone(t, &s.opts)
			if err := z.SetNSECBitmap("www.example.test.", dns.TypeA); err != nil {
				t.Fatal(err)
			}
			resp := z.Answer(query("www.example.test.", dns.TypeMX, true))
			verifySignatures(t, resp, z.RRset(testOrigin, dns.TypeDNSKEY))
			var got []uint16
			for _, rr := range resp.Ns {
				switch rr := rr.(type) {
				case *dns.NSEC:
					got = rr.TypeBitMap
				case *dns.NSEC3:
					got = rr.TypeBitMap
				}
			}
			if want := []uint16{dns.TypeA}; !slices.Equal(got, want) {
				t.Errorf("bitmap after SetNSECBitmap = %v, want %v", got, want)
			}
		})
	}
}

// TestRemoveRRSIGsByKey removes only the signature of one key: a DNSKEY
// RRset signed by the ZSK alone.
func TestRemoveRRSIGsByKey(t *testing.T) {
	z := newTestZone(t, &SignOptions{})
	if err := z.ResignRRset(testOrigin, dns.TypeDNSKEY, testNow.Add(-time.Hour), testNow.Add(time.Hour), z.ksk, z.zsk); err != nil {
		t.Fatal(err)
	}
	if n := z.RemoveRRSIGs(testOrigin, dns.TypeDNSKEY, z.ksk.Tag()); n != 1 {
		t.Errorf("RemoveRRSIGs(KSK tag) = %d, want 1", n)
	}
	sigs := z.RRSIGs(testOrigin, dns.TypeDNSKEY)
	if len(sigs) != 1 || sigs[0].KeyTag != z.zsk.Tag() {
		t.Errorf("RRSIGs(DNSKEY) = %v, want only the ZSK's", sigs)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	z := newTestZone(t, &SignOptions{})
	c := z.Clone()
	if err := z.IncrementSerial(); err != nil {
		t.Fatal(err)
	}
	z.RemoveRRSIGs("www.example.test.", dns.TypeA)
	if got, want := c.SOA().Serial, uint32(1); got != want {
		t.Errorf("clone SOA serial = %d, want %d", got, want)
	}
	if got := len(c.RRSIGs("www.example.test.", dns.TypeA)); got != 1 {
		t.Errorf("clone has %d RRSIGs over www A, want 1", got)
	}
	if got, want := z.SOA().Serial, uint32(2); got != want {
		t.Errorf("SOA serial after IncrementSerial = %d, want %d", got, want)
	}
	resp := z.Answer(query("nope.example.test.", dns.TypeA, true))
	verifySignatures(t, resp, z.RRset(testOrigin, dns.TypeDNSKEY))
}

func TestEDNS(t *testing.T) {
	z := newTestZone(t, &SignOptions{})
	plain := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	if resp := z.Answer(plain); resp.IsEdns0() != nil {
		t.Errorf("Answer(no EDNS) has an OPT, want none")
	}
	for _, do := range []bool{false, true} {
		resp := z.Answer(query("www.example.test.", dns.TypeA, do))
		if opt := resp.IsEdns0(); opt == nil || opt.Do() != do {
			t.Errorf("Answer(DO=%v) OPT = %v, want DO echoed", do, opt)
		}
		if last := resp.Extra[len(resp.Extra)-1]; last.Header().Rrtype != dns.TypeOPT {
			t.Errorf("Answer(DO=%v) last additional record = %v, want the OPT", do, last)
		}
	}
	v1 := query("www.example.test.", dns.TypeA, true)
	v1.IsEdns0().SetVersion(1)
	if resp := z.Answer(v1); resp.Rcode != dns.RcodeBadVers {
		t.Errorf("Answer(EDNS version 1) rcode = %s, want BADVERS", dns.RcodeToString[resp.Rcode])
	}
}

func TestKeys(t *testing.T) {
	for _, alg := range []uint8{dns.RSASHA256, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519} {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			csk := MustGenerateKey(testOrigin, alg, CSK)
			if csk.DNSKEY.Flags != 257 || csk.DNSKEY.Algorithm != alg {
				t.Errorf("CSK DNSKEY = %v, want flags 257 and algorithm %d", csk.DNSKEY, alg)
			}
			z := newTestZone(t, &SignOptions{Keys: []*Key{csk}})
			keys := z.RRset(testOrigin, dns.TypeDNSKEY)
			if len(keys) != 1 {
				t.Fatalf("DNSKEY RRset = %v, want the CSK alone", keys)
			}
			for _, c := range answerCases[:5] {
				verifySignatures(t, z.Answer(query(c.qname, c.qtype, true)), keys)
			}
			ds := z.DS(dns.SHA256)
			if len(ds) != 1 || ds[0].KeyTag != csk.Tag() || ds[0].Digest != csk.DS(dns.SHA256).Digest {
				t.Errorf("DS() = %v, want the CSK's", ds)
			}
		})
	}
	if _, err := GenerateKey(testOrigin, dns.RSASHA1, KSK); err == nil {
		t.Errorf("GenerateKey(RSASHA1) succeeded, want an error")
	}
}

// TestSignRoles checks who signs what with a KSK and a ZSK.
func TestSignRoles(t *testing.T) {
	z := newTestZone(t, &SignOptions{})
	for _, tt := range []struct {
		name  string
		rtype uint16
		tag   uint16
	}{
		{testOrigin, dns.TypeDNSKEY, z.ksk.Tag()},
		{testOrigin, dns.TypeSOA, z.zsk.Tag()},
		{"www.example.test.", dns.TypeA, z.zsk.Tag()},
		{"secure.example.test.", dns.TypeDS, z.zsk.Tag()},
		{"www.example.test.", dns.TypeNSEC, z.zsk.Tag()},
	} {
		sigs := z.RRSIGs(tt.name, tt.rtype)
		if len(sigs) != 1 || sigs[0].KeyTag != tt.tag {
			t.Errorf("RRSIGs(%s %s) = %v, want one by key %d", tt.name, dns.TypeToString[tt.rtype], sigs, tt.tag)
		}
	}
	for _, unsigned := range []struct {
		name  string
		rtype uint16
	}{
		{"secure.example.test.", dns.TypeNS},
		{"ns.secure.example.test.", dns.TypeA},
		{"insecure.example.test.", dns.TypeNS},
	} {
		if sigs := z.RRSIGs(unsigned.name, unsigned.rtype); len(sigs) != 0 {
			t.Errorf("RRSIGs(%s %s) = %v, want none (delegation or glue)", unsigned.name, dns.TypeToString[unsigned.rtype], sigs)
		}
	}
}

// TestBitmaps checks the type bitmaps of the chains (RFC 4035 section 2.3,
// RFC 5155 section 7.1).
func TestBitmaps(t *testing.T) {
	bitmap := func(z *testZone, name string) []uint16 {
		t.Helper()
		if z.Options().Denial == DenialNSEC {
			rrs := z.RRset(name, dns.TypeNSEC)
			if len(rrs) != 1 {
				t.Fatalf("no NSEC at %s", name)
			}
			return rrs[0].(*dns.NSEC).TypeBitMap
		}
		for _, rr := range z.Records() {
			if n, ok := rr.(*dns.NSEC3); ok && n.Match(name) {
				return n.TypeBitMap
			}
		}
		return nil
	}
	types := func(s string) []uint16 {
		var out []uint16
		for _, f := range strings.Fields(s) {
			out = append(out, dns.StringToType[f])
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name       string
		nsec       string
		nsec3      string
		nsec3inOpt bool // present in the opt-out chain
	}{
		{testOrigin, "NS SOA MX RRSIG NSEC DNSKEY", "NS SOA MX RRSIG DNSKEY NSEC3PARAM", true},
		{"www.example.test.", "A AAAA RRSIG NSEC", "A AAAA RRSIG", true},
		{"secure.example.test.", "NS DS RRSIG NSEC", "NS DS RRSIG", true},
		{"insecure.example.test.", "NS RRSIG NSEC", "NS", false},
		{"*.wild.example.test.", "A TXT RRSIG NSEC", "A TXT RRSIG", true},
		{"ent.example.test.", "", "", true},
	}
	for _, s := range signings {
		z := newTestZone(t, &s.opts)
		for _, tt := range tests {
			want := types(tt.nsec3)
			if s.opts.Denial == DenialNSEC {
				if tt.nsec == "" {
					continue // no NSEC at an empty non-terminal
				}
				want = types(tt.nsec)
			}
			if s.opts.NSEC3.OptOut && !tt.nsec3inOpt {
				want = nil
			}
			if got := bitmap(z, tt.name); !slices.Equal(got, want) {
				t.Errorf("%s: bitmap of %s = %v, want %v", s.name, tt.name, got, want)
			}
		}
		// The chain is closed and in order.
		if s.opts.Denial == DenialNSEC {
			var owners, nexts []string
			for _, rr := range z.Records() {
				if n, ok := rr.(*dns.NSEC); ok {
					owners = append(owners, n.Hdr.Name)
					nexts = append(nexts, n.NextDomain)
				}
			}
			if !slices.Equal(append(owners[1:], owners[0]), nexts) {
				t.Errorf("%s: NSEC chain owners %v, next names %v: not a closed chain", s.name, owners, nexts)
			}
		}
	}
}

func TestCanonicalOrder(t *testing.T) {
	// RFC 4034 section 6.1.
	want := []string{
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
		"z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`,
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortStableFunc(got, canonicalCompare)
	if !slices.Equal(got, want) {
		t.Errorf("canonical order = %v, want %v", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		desc, text string
	}{
		{"no SOA", "@ NS ns1\n"},
		{"two SOAs", "@ SOA ns1 h 1 1 1 1 1\n@ SOA ns2 h 2 1 1 1 1\n"},
		{"SOA below origin", "@ SOA ns1 h 1 1 1 1 1\nsub SOA ns1 h 1 1 1 1 1\n"},
		{"outside the zone", "@ SOA ns1 h 1 1 1 1 1\nwww.example.org. A 192.0.2.1\n"},
		{"DNSSEC record", "@ SOA ns1 h 1 1 1 1 1\nwww NSEC @ A\n"},
		{"DS at origin", "@ SOA ns1 h 1 1 1 1 1\n@ DS 1 13 2 00\n"},
		{"syntax", "@ SOA ns1\n"},
	}
	for _, tt := range tests {
		if _, err := Parse(testOrigin, tt.text); err == nil {
			t.Errorf("Parse(%s) succeeded, want an error", tt.desc)
		}
	}
}

func TestSignErrors(t *testing.T) {
	z := newTestZone(t, nil)
	k := MustGenerateKey(testOrigin, dns.ECDSAP256SHA256, CSK)
	tests := []struct {
		desc string
		opts SignOptions
	}{
		{"no keys", SignOptions{Inception: testNow, Expiration: testNow.Add(time.Hour)}},
		{"expiration before inception", SignOptions{Keys: []*Key{k}, Inception: testNow, Expiration: testNow.Add(-time.Hour)}},
		{"bad salt", SignOptions{Keys: []*Key{k}, Inception: testNow, Expiration: testNow.Add(time.Hour), Denial: DenialNSEC3, NSEC3: NSEC3Params{Salt: "xyz"}}},
	}
	for _, tt := range tests {
		if err := z.Sign(tt.opts); err == nil {
			t.Errorf("Sign(%s) succeeded, want an error", tt.desc)
		}
	}
	if err := z.Resign(); err == nil {
		t.Errorf("Resign() of a zone never signed succeeded, want an error")
	}
}
