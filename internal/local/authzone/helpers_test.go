package authzone

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testNow is the fixed signing and validation time of the tests.
var testNow = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

const testZoneText = `$TTL 300
@          SOA   ns1 hostmaster 1 3600 600 86400 60
@          NS    ns1
@          MX    10 mail
ns1        A     192.0.2.53
mail       A     192.0.2.25
www        A     192.0.2.1
www        AAAA  2001:db8::1
alias      CNAME www
chain1     CNAME chain2
chain2     CNAME www
out        CNAME www.elsewhere.
dangling   CNAME nowhere
loop1      CNAME loop2
loop2      CNAME loop1
*.wild     A     192.0.2.10
*.wild     TXT   "wildcard"
*.cwild    CNAME www
host.ent   A     192.0.2.3
secure     NS    ns.secure
secure     DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure  A     192.0.2.54
insecure   NS    ns.insecure
insecure   NS    ns1
ns.insecure A    192.0.2.55
ns.insecure AAAA 2001:db8::55
deep.optout NS   ns.elsewhere.
`

const testOrigin = "example.test."

type testZone struct {
	*Zone
	ksk, zsk *Key
}

// newTestZone builds and signs the test zone (or leaves it unsigned when
// opts is nil).
func newTestZone(t testing.TB, opts *SignOptions) *testZone {
	t.Helper()
	z, err := Parse(testOrigin, testZoneText)
	if err != nil {
		t.Fatal(err)
	}
	tz := &testZone{Zone: z}
	if opts == nil {
		return tz
	}
	tz.ksk = MustGenerateKey(testOrigin, dns.ECDSAP256SHA256, KSK)
	tz.zsk = MustGenerateKey(testOrigin, dns.ECDSAP256SHA256, ZSK)
	o := *opts
	if o.Keys == nil {
		o.Keys = []*Key{tz.ksk, tz.zsk}
	}
	if o.Inception.IsZero() {
		o.Inception, o.Expiration = testNow.Add(-time.Hour), testNow.Add(24*time.Hour)
	}
	if err := z.Sign(o); err != nil {
		t.Fatal(err)
	}
	return tz
}

func query(name string, qtype uint16, do bool) *dns.Msg {
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(4096, do)
	return m
}

// rrsetKey identifies an RRset within one section.
type rrsetKey struct {
	name  string
	rtype uint16
}

// groupSection splits a section into RRsets and their signatures.
func groupSection(section []dns.RR) (map[rrsetKey][]dns.RR, map[rrsetKey][]*dns.RRSIG) {
	sets := map[rrsetKey][]dns.RR{}
	sigs := map[rrsetKey][]*dns.RRSIG{}
	for _, rr := range section {
		name := dns.CanonicalName(rr.Header().Name)
		if s, ok := rr.(*dns.RRSIG); ok {
			k := rrsetKey{name, s.TypeCovered}
			sigs[k] = append(sigs[k], s)
			continue
		}
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		k := rrsetKey{name, rr.Header().Rrtype}
		sets[k] = append(sets[k], rr)
	}
	return sets, sigs
}

// verifySignatures checks that every RRset of the answer and authority
// sections, except delegation NS, carries a signature that
// verifies with one of keys at testNow, and that no signature is left over.
func verifySignatures(t reporter, resp *dns.Msg, keys []dns.RR) {
	t.Helper()
	for _, section := range [][]dns.RR{resp.Answer, resp.Ns} {
		sets, sigs := groupSection(section)
		for k, set := range sets {
			if k.rtype == dns.TypeNS && k.name != testOrigin {
				continue // delegation NS: unsigned
			}
			if len(sigs[k]) == 0 {
				t.Errorf("%s %s: no RRSIG in response\n%v", k.name, dns.TypeToString[k.rtype], resp)
				continue
			}
			for _, sig := range sigs[k] {
				if err := verifyWith(sig, set, keys); err != nil {
					t.Errorf("%s %s: RRSIG by %d: %v", k.name, dns.TypeToString[k.rtype], sig.KeyTag, err)
				}
			}
		}
		for k := range sigs {
			if _, ok := sets[k]; !ok {
				t.Errorf("RRSIG over %s %s without the RRset", k.name, dns.TypeToString[k.rtype])
			}
		}
	}
}

func verifyWith(sig *dns.RRSIG, set []dns.RR, keys []dns.RR) error {
	for _, rr := range keys {
		k := rr.(*dns.DNSKEY)
		if k.KeyTag() != sig.KeyTag || k.Algorithm != sig.Algorithm {
			continue
		}
		if err := sig.Verify(k, set); err != nil {
			return err
		}
		if !sig.ValidityPeriod(testNow) {
			return fmt.Errorf("not valid at %v", testNow)
		}
		return nil
	}
	return fmt.Errorf("no DNSKEY with tag %d", sig.KeyTag)
}

func nsecs(section []dns.RR) []*dns.NSEC {
	var out []*dns.NSEC
	for _, rr := range section {
		if n, ok := rr.(*dns.NSEC); ok {
			out = append(out, n)
		}
	}
	return out
}

func nsec3s(section []dns.RR) []*dns.NSEC3 {
	var out []*dns.NSEC3
	for _, rr := range section {
		if n, ok := rr.(*dns.NSEC3); ok {
			out = append(out, n)
		}
	}
	return out
}

// nsecCovering returns the NSEC of the section that covers name.
func nsecCovering(section []dns.RR, name string) *dns.NSEC {
	for _, n := range nsecs(section) {
		if nsecCovers(dns.CanonicalName(n.Hdr.Name), dns.CanonicalName(n.NextDomain), dns.CanonicalName(name)) {
			return n
		}
	}
	return nil
}

func nsecMatching(section []dns.RR, name string) *dns.NSEC {
	for _, n := range nsecs(section) {
		if dns.CanonicalName(n.Hdr.Name) == dns.CanonicalName(name) {
			return n
		}
	}
	return nil
}

func nsec3Covering(section []dns.RR, name string) *dns.NSEC3 {
	for _, n := range nsec3s(section) {
		if n.Cover(name) {
			return n
		}
	}
	return nil
}

func nsec3Matching(section []dns.RR, name string) *dns.NSEC3 {
	for _, n := range nsec3s(section) {
		if n.Match(name) {
			return n
		}
	}
	return nil
}

// rrStrings renders records without TTLs and signatures, sorted, for
// comparison.
func rrStrings(section []dns.RR, types ...uint16) []string {
	var out []string
	for _, rr := range section {
		t := rr.Header().Rrtype
		if t == dns.TypeRRSIG || t == dns.TypeOPT || (len(types) > 0 && !slices.Contains(types, t)) {
			continue
		}
		c := dns.Copy(rr)
		c.Header().Ttl = 0
		out = append(out, strings.ReplaceAll(c.String(), "\t", " "))
	}
	slices.Sort(out)
	return out
}

// reporter is the part of testing.T that the checks use, so that a test
// can also collect their complaints about a response it broke on purpose.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// complaints collects what the checks report.
type complaints []string

func (c *complaints) Helper() {}

func (c *complaints) Errorf(format string, args ...any) {
	*c = append(*c, fmt.Sprintf(format, args...))
}

func (c *complaints) Fatalf(format string, args ...any) { c.Errorf(format, args...) }
