package dnssec

import (
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestCanonicalCompareRFC4034Order(t *testing.T) {
	// RFC 4034 section 6.1: these names are in canonical order.
	names := []string{
		"example.",
		"a.example.",
		"yljkjljk.a.example.",
		"Z.a.example.",
		"zABC.a.EXAMPLE.",
		"z.example.",
		`\001.z.example.`,
		"*.z.example.",
		`\200.z.example.`,
	}
	for i := range names {
		for j := range names {
			got := canonicalCompare(names[i], names[j])
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got != want {
				t.Errorf("canonicalCompare(%q, %q) = %d, want %d", names[i], names[j], got, want)
			}
		}
	}
}

func TestNSECCovers(t *testing.T) {
	tests := []struct {
		owner, next, name string
		want              bool
	}{
		{"a.example.", "d.example.", "b.example.", true},
		{"a.example.", "d.example.", "a.example.", false}, // a match is not a cover
		{"a.example.", "d.example.", "d.example.", false},
		{"a.example.", "d.example.", "x.a.example.", true}, // below the owner, before next
		{"a.example.", "d.example.", "e.example.", false},
		{"z.example.", "example.", "zz.example.", true}, // last NSEC wraps to the apex
		{"z.example.", "example.", "b.example.", false},
	}
	for _, tt := range tests {
		n := nsec(tt.owner, tt.next)
		if got := nsecCovers(n, tt.name); got != tt.want {
			t.Errorf("nsecCovers(%s -> %s, %s) = %v, want %v", tt.owner, tt.next, tt.name, got, tt.want)
		}
	}
}

// The hand-built NSEC chain of zone "example.":
//
//	example. a. c. deleg. host.ent. secure. *.w. z.
var nsecChain = map[string]*dns.NSEC{
	"example.":          nsec("example.", "a.example.", dns.TypeNS, dns.TypeSOA, dns.TypeDNSKEY, dns.TypeRRSIG, dns.TypeNSEC),
	"a.example.":        nsec("a.example.", "c.example.", dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC),
	"c.example.":        nsec("c.example.", "deleg.example.", dns.TypeCNAME, dns.TypeRRSIG, dns.TypeNSEC),
	"deleg.example.":    nsec("deleg.example.", "host.ent.example.", dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC),
	"host.ent.example.": nsec("host.ent.example.", "secure.example.", dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC),
	"secure.example.":   nsec("secure.example.", "*.w.example.", dns.TypeNS, dns.TypeDS, dns.TypeRRSIG, dns.TypeNSEC),
	"*.w.example.":      nsec("*.w.example.", "z.example.", dns.TypeA, dns.TypeTXT, dns.TypeRRSIG, dns.TypeNSEC),
	"z.example.":        nsec("z.example.", "example.", dns.TypeMX, dns.TypeRRSIG, dns.TypeNSEC),
}

func nsec(owner, next string, types ...uint16) *dns.NSEC {
	return &dns.NSEC{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 60}, NextDomain: next, TypeBitMap: types}
}

func nsecSet(owners ...string) denialSet {
	d := denialSet{zone: "example."}
	for _, o := range owners {
		d.nsecs = append(d.nsecs, nsecChain[o])
	}
	return d
}

// checkProof compares a proof with the wanted status and, for a failure, a
// fragment of its reason.
func checkProof(t *testing.T, call string, got proof, want Status, reason string) {
	t.Helper()
	if got.status != want {
		t.Errorf("%s = %v (%q), want %v", call, got.status, got.reason, want)
		return
	}
	if !strings.Contains(got.reason, reason) {
		t.Errorf("%s reason = %q, want it to contain %q", call, got.reason, reason)
	}
}

func TestNSECNXDOMAIN(t *testing.T) {
	tests := []struct {
		name   string
		qname  string
		nsecs  []string
		want   Status
		reason string
	}{
		{"name and wildcard covered", "b.example.", []string{"a.example.", "example."}, Secure, ""},
		{"wildcard proof missing", "b.example.", []string{"a.example."}, Bogus, "wildcard *.example. does not exist"},
		{"name not covered", "b.example.", []string{"example.", "z.example."}, Bogus, "no NSEC proves that b.example. does not exist"},
		{"name exists", "a.example.", []string{"a.example.", "example."}, Bogus, "shows the name exists"},
		{"wildcard exists", "q.w.example.", []string{"*.w.example."}, Bogus, "wildcard *.w.example. exists"},
		{"empty non-terminal", "ent.example.", []string{"deleg.example.", "example."}, Bogus, "empty non-terminal"},
		{"delegation NSEC cannot deny names below it", "x.deleg.example.", []string{"deleg.example.", "example."}, Bogus, "no NSEC proves"},
		{"no NSEC at all", "b.example.", nil, Bogus, "without NSEC or NSEC3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProof(t, "proveNXDOMAIN("+tt.qname+")", nsecSet(tt.nsecs...).proveNXDOMAIN(tt.qname), tt.want, tt.reason)
		})
	}
}

func TestNSECNODATA(t *testing.T) {
	tests := []struct {
		name       string
		qname      string
		qtype      uint16
		delegation bool
		nsecs      []string
		want       Status
		reason     string
	}{
		{"type absent", "a.example.", dns.TypeMX, false, []string{"a.example."}, Secure, ""},
		{"bitmap lists the type", "a.example.", dns.TypeA, false, []string{"a.example."}, Bogus, "lists A"},
		{"bitmap lists CNAME", "c.example.", dns.TypeA, false, []string{"c.example."}, Bogus, "lists CNAME"},
		{"empty non-terminal", "ent.example.", dns.TypeA, false, []string{"deleg.example."}, Secure, ""},
		{"parent side of a delegation", "deleg.example.", dns.TypeA, false, []string{"deleg.example."}, Bogus, "parent side of a delegation"},
		{"insecure delegation", "deleg.example.", dns.TypeDS, true, []string{"deleg.example."}, Secure, ""},
		{"DS in the bitmap", "secure.example.", dns.TypeDS, true, []string{"secure.example."}, Bogus, "lists DS"},
		{"child apex NSEC for DS", "example.", dns.TypeDS, false, []string{"example."}, Bogus, "child zone's apex"},
		{"delegation without NS bit", "a.example.", dns.TypeDS, true, []string{"a.example."}, Bogus, "lacks the NS bit"},
		{"delegation not matched", "b.example.", dns.TypeDS, true, []string{"a.example."}, Bogus, "no NSEC at the delegation"},
		{"wildcard NODATA", "q.w.example.", dns.TypeMX, false, []string{"*.w.example."}, Secure, ""},
		{"wildcard lists the type", "q.w.example.", dns.TypeA, false, []string{"*.w.example."}, Bogus, "lists A"},
		{"unrelated NSEC", "a.example.", dns.TypeMX, false, []string{"z.example."}, Bogus, "no NSEC proves that a.example. has no MX"},
		{"no NSEC at all", "a.example.", dns.TypeMX, false, nil, Bogus, "no NSEC or NSEC3 records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nsecSet(tt.nsecs...).proveNODATA(tt.qname, tt.qtype, tt.delegation)
			checkProof(t, "proveNODATA("+tt.qname+")", got, tt.want, tt.reason)
		})
	}
}

func TestNSECWildcard(t *testing.T) {
	tests := []struct {
		name   string
		qname  string
		labels uint8
		nsecs  []string
		want   Status
		reason string
	}{
		{"next closer denied", "q.w.example.", 2, []string{"*.w.example."}, Secure, ""},
		{"deeper name", "r.q.w.example.", 2, []string{"*.w.example."}, Secure, ""},
		{"wrong source of synthesis", "q.w.example.", 1, []string{"*.w.example."}, Bogus, "closest encloser is w.example."},
		{"proof does not cover", "q.w.example.", 2, []string{"a.example."}, Bogus, "without an NSEC"},
		{"no proof", "q.w.example.", 2, nil, Bogus, "without an NSEC or NSEC3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProof(t, "proveWildcard("+tt.qname+")", nsecSet(tt.nsecs...).proveWildcard(tt.qname, tt.labels), tt.want, tt.reason)
		})
	}
}

// nsec3Zone is a hand-built NSEC3 chain for zone "example.": names and
// their types, hashed, sorted and linked (RFC 5155 section 7.1).
type nsec3Zone struct {
	recs   []*dns.NSEC3 // in hash order
	byName map[string]*dns.NSEC3
}

func buildNSEC3(names map[string][]uint16, iterations uint16, salt string, optOut bool) nsec3Zone {
	type hashed struct {
		hash, name string
	}
	var hs []hashed
	for n := range names {
		hs = append(hs, hashed{dns.HashName(n, dns.SHA1, iterations, salt), n})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].hash < hs[j].hash })
	z := nsec3Zone{byName: map[string]*dns.NSEC3{}}
	for i, h := range hs {
		var flags uint8
		if optOut {
			flags = 1
		}
		r := &dns.NSEC3{
			Hdr:        dns.RR_Header{Name: strings.ToLower(h.hash) + ".example.", Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: 60},
			Hash:       dns.SHA1,
			Flags:      flags,
			Iterations: iterations,
			Salt:       salt,
			SaltLength: uint8(len(salt) / 2),
			NextDomain: hs[(i+1)%len(hs)].hash,
			HashLength: 20,
			TypeBitMap: names[h.name],
		}
		z.recs = append(z.recs, r)
		z.byName[h.name] = r
	}
	return z
}

// covering finds, by a plain scan of the sorted chain, the record whose span
// holds the hash of name.
func (z nsec3Zone) covering(name string) *dns.NSEC3 {
	h := dns.HashName(name, dns.SHA1, z.recs[0].Iterations, z.recs[0].Salt)
	last := z.recs[len(z.recs)-1]
	for _, r := range z.recs {
		if strings.ToUpper(strings.SplitN(r.Hdr.Name, ".", 2)[0]) > h {
			return last
		}
		last = r
	}
	return last
}

// pick returns the records matching ("=name"), covering ("~name") or not
// covering ("!name") names.
func (z nsec3Zone) pick(specs ...string) denialSet {
	d := denialSet{zone: "example."}
	for _, s := range specs {
		if name, ok := strings.CutPrefix(s, "="); ok {
			d.nsec3s = append(d.nsec3s, z.byName[name])
		} else if name, ok := strings.CutPrefix(s, "!"); ok {
			for _, r := range z.recs {
				if r != z.covering(name) {
					d.nsec3s = append(d.nsec3s, r)
					break
				}
			}
		} else {
			d.nsec3s = append(d.nsec3s, z.covering(strings.TrimPrefix(s, "~")))
		}
	}
	return d
}

var nsec3Names = map[string][]uint16{
	"example.":          {dns.TypeNS, dns.TypeSOA, dns.TypeDNSKEY, dns.TypeNSEC3PARAM, dns.TypeRRSIG},
	"a.example.":        {dns.TypeA, dns.TypeRRSIG},
	"c.example.":        {dns.TypeCNAME, dns.TypeRRSIG},
	"deleg.example.":    {dns.TypeNS},
	"secure.example.":   {dns.TypeNS, dns.TypeDS, dns.TypeRRSIG},
	"ent.example.":      nil,
	"host.ent.example.": {dns.TypeA, dns.TypeRRSIG},
	"w.example.":        nil,
	"*.w.example.":      {dns.TypeA, dns.TypeTXT, dns.TypeRRSIG},
}

// optOutNames is the same zone signed with opt-out: the insecure delegation
// has no NSEC3 record.
func optOutNames() map[string][]uint16 {
	m := map[string][]uint16{}
	for k, v := range nsec3Names {
		if k != "deleg.example." {
			m[k] = v
		}
	}
	return m
}

func TestNSEC3Proofs(t *testing.T) {
	plain := buildNSEC3(nsec3Names, 0, "", false)
	salted := buildNSEC3(nsec3Names, 5, "cafe", false)
	optout := buildNSEC3(optOutNames(), 0, "", true)
	optoutUnflagged := buildNSEC3(optOutNames(), 0, "", false)
	heavy := buildNSEC3(nsec3Names, 200, "", false)

	type kind int
	const (
		nxdomain kind = iota
		nodata
		delegationDS
		wildcard
	)
	tests := []struct {
		name   string
		zone   nsec3Zone
		kind   kind
		qname  string
		qtype  uint16
		labels uint8
		recs   []string
		want   Status
		reason string
	}{
		{"NXDOMAIN proven", plain, nxdomain, "b.example.", 0, 0, []string{"=example.", "~b.example.", "~*.example."}, Secure, ""},
		{"NXDOMAIN with salt and iterations", salted, nxdomain, "b.example.", 0, 0, []string{"=example.", "~b.example.", "~*.example."}, Secure, ""},
		{"NXDOMAIN deeper name", plain, nxdomain, "x.b.example.", 0, 0, []string{"=example.", "~b.example.", "~*.example."}, Secure, ""},
		{"NXDOMAIN wildcard not denied", plain, nxdomain, "b.example.", 0, 0, []string{"=example.", "~b.example."}, Bogus, "wildcard *.example. does not exist"},
		{"NXDOMAIN next closer not covered", plain, nxdomain, "b.example.", 0, 0, []string{"=example.", "~*.example."}, Bogus, "no NSEC3 covers the next closer name b.example."},
		{"NXDOMAIN no closest encloser", plain, nxdomain, "b.example.", 0, 0, []string{"~b.example.", "~*.example."}, Bogus, "no NSEC3 matches a closest encloser"},
		{"NXDOMAIN but the name exists", plain, nxdomain, "a.example.", 0, 0, []string{"=a.example."}, Bogus, "the name exists"},
		{"NXDOMAIN but the wildcard exists", plain, nxdomain, "q.w.example.", 0, 0, []string{"=w.example.", "~q.w.example.", "=*.w.example."}, Bogus, "wildcard *.w.example. exists"},
		{"NXDOMAIN in an opt-out span", optout, nxdomain, "b.example.", 0, 0, []string{"=example.", "~b.example.", "~*.example."}, Insecure, "opt-out"},
		{"too many iterations", heavy, nxdomain, "b.example.", 0, 0, []string{"=example.", "~b.example.", "~*.example."}, Insecure, "200 iterations"},

		{"NODATA type absent", plain, nodata, "a.example.", dns.TypeMX, 0, []string{"=a.example."}, Secure, ""},
		{"NODATA bitmap lists the type", plain, nodata, "a.example.", dns.TypeA, 0, []string{"=a.example."}, Bogus, "lists A"},
		{"NODATA bitmap lists CNAME", plain, nodata, "c.example.", dns.TypeA, 0, []string{"=c.example."}, Bogus, "lists CNAME"},
		{"NODATA empty non-terminal", plain, nodata, "ent.example.", dns.TypeA, 0, []string{"=ent.example."}, Secure, ""},
		{"NODATA at a delegation", plain, nodata, "deleg.example.", dns.TypeA, 0, []string{"=deleg.example."}, Bogus, "parent side of a delegation"},
		{"NODATA wildcard", plain, nodata, "q.w.example.", dns.TypeMX, 0, []string{"=w.example.", "~q.w.example.", "=*.w.example."}, Secure, ""},
		{"NODATA wildcard lists the type", plain, nodata, "q.w.example.", dns.TypeTXT, 0, []string{"=w.example.", "~q.w.example.", "=*.w.example."}, Bogus, "lists TXT"},
		{"NODATA no matching record", plain, nodata, "b.example.", dns.TypeA, 0, []string{"=example.", "~b.example."}, Bogus, "no NSEC3 matches b.example."},

		{"insecure delegation", plain, delegationDS, "deleg.example.", dns.TypeDS, 0, []string{"=deleg.example."}, Secure, ""},
		{"DS in the bitmap", plain, delegationDS, "secure.example.", dns.TypeDS, 0, []string{"=secure.example."}, Bogus, "lists DS"},
		{"opt-out delegation", optout, delegationDS, "deleg.example.", dns.TypeDS, 0, []string{"=example.", "~deleg.example."}, Insecure, "opt-out span"},
		{"covered without opt-out", optoutUnflagged, delegationDS, "deleg.example.", dns.TypeDS, 0, []string{"=example.", "~deleg.example."}, Bogus, "not opt-out"},
		{"opt-out cover missing", optout, delegationDS, "deleg.example.", dns.TypeDS, 0, []string{"=example."}, Bogus, "next closer"},

		{"wildcard answer proven", plain, wildcard, "q.w.example.", dns.TypeA, 2, []string{"~q.w.example."}, Secure, ""},
		{"wildcard answer deeper name", plain, wildcard, "r.q.w.example.", dns.TypeA, 2, []string{"~q.w.example."}, Secure, ""},
		{"wildcard answer without proof", plain, wildcard, "q.w.example.", dns.TypeA, 2, []string{"!q.w.example."}, Bogus, "next closer name q.w.example."},
		{"wildcard answer in opt-out span", optout, wildcard, "q.w.example.", dns.TypeA, 2, []string{"~q.w.example."}, Insecure, "opt-out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.zone.pick(tt.recs...)
			var got proof
			switch tt.kind {
			case nxdomain:
				got = d.proveNXDOMAIN(tt.qname)
			case nodata:
				got = d.proveNODATA(tt.qname, tt.qtype, false)
			case delegationDS:
				got = d.proveNODATA(tt.qname, tt.qtype, true)
			case wildcard:
				got = d.proveWildcard(tt.qname, tt.labels)
			}
			checkProof(t, tt.name, got, tt.want, tt.reason)
		})
	}
}

func TestNSEC3CoverIsStrict(t *testing.T) {
	z := buildNSEC3(nsec3Names, 0, "", false)
	s := &nsec3Set{zone: "example.", recs: z.recs}
	for name := range nsec3Names {
		if got := s.cover(name); got != nil {
			t.Errorf("cover(%s) = %s, want nil: an existing name is matched, never covered", name, got.Hdr.Name)
		}
		if got := s.match(name); got != z.byName[name] {
			t.Errorf("match(%s) = %v, want %s", name, got, z.byName[name].Hdr.Name)
		}
	}
	if got := s.cover("b.example."); got != z.covering("b.example.") {
		t.Errorf("cover(b.example.) = %v, want %v", got, z.covering("b.example."))
	}
	if got := s.cover("b.other."); got != nil {
		t.Errorf("cover(b.other.) = %v, want nil: out of zone", got)
	}
}
