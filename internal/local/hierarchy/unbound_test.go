package hierarchy

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/unboundtest"
)

// startUnbound runs unbound in front of h and returns its address; it is
// stopped when the test ends. It listens on the hierarchy's port at .254 of
// its network (.253 without validation).
func startUnbound(t *testing.T, h *Hierarchy, validate bool) netip.AddrPort {
	t.Helper()
	unboundtest.Binary(t) // skips the test without unbound
	root := h.RootServers()[0].Addr().As4()
	last := byte(254)
	if !validate {
		last = 253
	}
	listen := netip.AddrPortFrom(netip.AddrFrom4([4]byte{root[0], root[1], root[2], last}), h.Port())
	dir := t.TempDir()
	conf, err := h.WriteUnboundConfig(UnboundConfig{Listen: listen, Dir: dir, NoValidation: !validate})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unbound-checkconf", conf).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v\n%s", err, out)
	}
	unboundtest.Start(t, conf, listen)
	return listen
}

func resolve(t *testing.T, resolver netip.AddrPort, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, resolver.String())
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// TestUnboundValidates checks the signed hierarchy with an independent
// validator: secure names are validated (AD), insecure ones resolve
// without AD, and a broken signature makes unbound answer SERVFAIL.
func TestUnboundValidates(t *testing.T) {
	h, err := Start(DefaultSpec(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bogus := h.Zone("rsa.test.")
	// An RRSIG that expired yesterday.
	past := time.Now().Add(-48 * time.Hour)
	if err := bogus.Zone.ResignRRset("www.rsa.test.", dns.TypeA, past.Add(-time.Hour), past); err != nil {
		t.Fatal(err)
	}
	resolver := startUnbound(t, h, true)

	tests := []struct {
		name  string
		qtype uint16
		rcode int
		ad    bool
	}{
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"www.example.test.", dns.TypeAAAA, dns.RcodeSuccess, true},
		{"alias.example.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"chain1.example.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"dangling.example.test.", dns.TypeA, dns.RcodeNameError, true},
		{"a.b.wild.example.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"a.wild.example.test.", dns.TypeMX, dns.RcodeSuccess, true},
		{"nope.example.test.", dns.TypeA, dns.RcodeNameError, true},
		{"ent.example.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"www.example.test.", dns.TypeMX, dns.RcodeSuccess, true},
		{"big.example.test.", dns.TypeTXT, dns.RcodeSuccess, true},
		{"www.sub.example.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"nope.sub.example.test.", dns.TypeA, dns.RcodeNameError, true},
		{"www.nsec3.test.", dns.TypeA, dns.RcodeSuccess, true},
		// Opt-out NSEC3 covers these: insecure (RFC 5155 section 9.2).
		{"nope.nsec3.test.", dns.TypeA, dns.RcodeNameError, false},
		{"x.wild.nsec3.test.", dns.TypeA, dns.RcodeSuccess, false},
		{"x.wild.nsec3.test.", dns.TypeTXT, dns.RcodeSuccess, false},
		{"www.nsec3salt.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"nope.nsec3salt.test.", dns.TypeA, dns.RcodeNameError, true},
		{"x.y.wild.nsec3salt.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"x.wild.nsec3salt.test.", dns.TypeTXT, dns.RcodeSuccess, true},
		{"ent.nsec3salt.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"www.nsec3salt.test.", dns.TypeTXT, dns.RcodeSuccess, true},
		{"ent.nsec3.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"www.nsec3.test.", dns.TypeTXT, dns.RcodeSuccess, true},
		{"www.unsigned.nsec3.test.", dns.TypeA, dns.RcodeSuccess, false},
		{"www.ed25519.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"www.oob.test.", dns.TypeA, dns.RcodeSuccess, true},
		{"www.insecure.test.", dns.TypeA, dns.RcodeSuccess, false},
		{"nope.insecure.test.", dns.TypeA, dns.RcodeNameError, false},
		{"www.rsa.test.", dns.TypeA, dns.RcodeServerFailure, false},
		{"nope.rsa.test.", dns.TypeA, dns.RcodeNameError, true},
	}
	for _, tt := range tests {
		r := resolve(t, resolver, tt.name, tt.qtype)
		if r.Rcode != tt.rcode || r.AuthenticatedData != tt.ad {
			t.Errorf("unbound: %s %s = %s AD=%v, want %s AD=%v\n%v", tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[tt.rcode], tt.ad, r)
		}
	}
}

// TestUnboundBrokenZones checks every test mutation against unbound: each
// broken zone must fail validation (SERVFAIL), except the NODATA lie, which
// is validly signed and so validates.
func TestUnboundBrokenZones(t *testing.T) {
	now := time.Now()
	const records = "www A 192.0.2.1\n*.wild A 192.0.2.2\nhost.ent A 192.0.2.3\n"
	spec := Spec{Now: now, Zones: []ZoneSpec{{Origin: "."}, {Origin: "test."}}}
	type breakFunc func(t *testing.T, h *Hierarchy, z *Zone)
	tests := []struct {
		zone  ZoneSpec
		brk   breakFunc
		qname string
		qtype uint16
		rcode int
		ad    bool
	}{
		{zone: ZoneSpec{Origin: "good.test."}, qname: "www", rcode: dns.RcodeSuccess, ad: true},
		{zone: ZoneSpec{Origin: "good3.test.", Denial: authzone.DenialNSEC3}, qname: "nope", rcode: dns.RcodeNameError, ad: true},
		{zone: ZoneSpec{Origin: "expired.test."}, qname: "www", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) {
				mustDo(t, z.Zone.ResignRRset("www."+z.Origin, dns.TypeA, now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
			}},
		{zone: ZoneSpec{Origin: "future.test."}, qname: "www", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) {
				mustDo(t, z.Zone.ResignRRset("www."+z.Origin, dns.TypeA, now.Add(24*time.Hour), now.Add(48*time.Hour)))
			}},
		{zone: ZoneSpec{Origin: "stray.test."}, qname: "www", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) {
				stray := authzone.MustGenerateKey(z.Origin, dns.ECDSAP256SHA256, authzone.ZSK)
				mustDo(t, z.Zone.ResignRRset("www."+z.Origin, dns.TypeA, now.Add(-time.Hour), now.Add(time.Hour), stray))
			}},
		{zone: ZoneSpec{Origin: "bogusds.test.", DS: DSBogus}, qname: "www", rcode: dns.RcodeServerFailure},
		{zone: ZoneSpec{Origin: "orphands.test.", DS: DSOrphan}, qname: "www", rcode: dns.RcodeServerFailure},
		{zone: ZoneSpec{Origin: "nosig.test."}, qname: "www", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) {
				if n := z.Zone.RemoveRRSIGs("www."+z.Origin, dns.TypeA); n == 0 {
					t.Fatal("RemoveRRSIGs removed nothing")
				}
			}},
		{zone: ZoneSpec{Origin: "noproof.test."}, qname: "nope", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(authzone.DropDenial()) }},
		{zone: ZoneSpec{Origin: "noproof3.test.", Denial: authzone.DenialNSEC3}, qname: "nope", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(authzone.DropDenial()) }},
		{zone: ZoneSpec{Origin: "unrelated.test."}, qname: "nope", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(z.Zone.UnrelatedDenial()) }},
		{zone: ZoneSpec{Origin: "unrelated3.test.", Denial: authzone.DenialNSEC3}, qname: "nope", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(z.Zone.UnrelatedDenial()) }},
		{zone: ZoneSpec{Origin: "nodatanoproof.test."}, qname: "www", qtype: dns.TypeTXT, rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(authzone.DropDenial()) }},
		{zone: ZoneSpec{Origin: "wildnoproof.test."}, qname: "a.wild", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(authzone.DropDenial()) }},
		{zone: ZoneSpec{Origin: "wildnoproof3.test.", Denial: authzone.DenialNSEC3}, qname: "a.wild", rcode: dns.RcodeServerFailure,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { z.Zone.SetAnswerHook(authzone.DropDenial()) }},
		// A validly signed lie cannot be detected: NODATA, secure.
		{zone: ZoneSpec{Origin: "lie.test."}, qname: "www", rcode: dns.RcodeSuccess, ad: true,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { mustDo(t, z.Zone.Deny("www."+z.Origin, dns.TypeA)) }},
		{zone: ZoneSpec{Origin: "lie3.test.", Denial: authzone.DenialNSEC3}, qname: "www", rcode: dns.RcodeSuccess, ad: true,
			brk: func(t *testing.T, h *Hierarchy, z *Zone) { mustDo(t, z.Zone.Deny("www."+z.Origin, dns.TypeA)) }},
	}
	for _, tt := range tests {
		zs := tt.zone
		zs.Records = records
		spec.Zones = append(spec.Zones, zs)
	}
	h, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, tt := range tests {
		if tt.brk != nil {
			tt.brk(t, h, h.Zone(tt.zone.Origin))
		}
	}
	resolver := startUnbound(t, h, true)
	for _, tt := range tests {
		qtype := tt.qtype
		if qtype == 0 {
			qtype = dns.TypeA
		}
		name := tt.qname + "." + tt.zone.Origin
		r := resolve(t, resolver, name, qtype)
		if r.Rcode != tt.rcode || r.AuthenticatedData != tt.ad {
			t.Errorf("unbound: %s %s = %s AD=%v, want %s AD=%v\n%v", name, dns.TypeToString[qtype],
				dns.RcodeToString[r.Rcode], r.AuthenticatedData, dns.RcodeToString[tt.rcode], tt.ad, r)
		}
		if tt.zone.Origin == "lie.test." && len(r.Answer) != 0 {
			t.Errorf("unbound: %s A has %d answers, want NODATA", name, len(r.Answer))
		}
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDelvValidates checks the delv trust-anchor file: delv, validating
// itself behind a non-validating unbound, fully validates a secure name,
// sees an insecure one as unsigned and refuses a bogus one.
func TestDelvValidates(t *testing.T) {
	bin, err := exec.LookPath("delv")
	if err != nil {
		t.Skip("delv (bind9-dnsutils) is not installed")
	}
	h, err := Start(DefaultSpec(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	past := time.Now().Add(-48 * time.Hour)
	if err := h.Zone("rsa.test.").Zone.ResignRRset("www.rsa.test.", dns.TypeA, past.Add(-time.Hour), past); err != nil {
		t.Fatal(err)
	}
	resolver := startUnbound(t, h, false)
	anchors := filepath.Join(t.TempDir(), "anchors.conf")
	if err := writeFile(anchors, h.WriteDelvAnchors); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
	}{
		{"www.example.test.", "; fully validated"},
		{"www.nsec3salt.test.", "; fully validated"},
		{"www.insecure.test.", "; unsigned answer"},
		{"www.rsa.test.", "resolution failed"},
	}
	for _, tt := range tests {
		out, _ := exec.Command(bin, "@"+resolver.Addr().String(), "-p", strconv.Itoa(int(resolver.Port())),
			"-a", anchors, "+root=.", tt.name, "A").CombinedOutput()
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("delv %s A:\n%s\nwant %q", tt.name, out, tt.want)
		}
	}
}
