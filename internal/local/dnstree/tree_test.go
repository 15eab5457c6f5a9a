package dnstree

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/r53dns"
)

const (
	A     = r53types.RRTypeA
	AAAA  = r53types.RRTypeAaaa
	TXT   = r53types.RRTypeTxt
	MX    = r53types.RRTypeMx
	CNAME = r53types.RRTypeCname
	NS    = r53types.RRTypeNs
	DS    = r53types.RRTypeDs
)

// signedSetup is example.test. signed with KSK ksk_a and its DS in the TLD,
// and its child app.example.test. signed with its DS in example.test.
type signedSetup struct {
	*stack
	zoneID, childID string
	keyARN          string
}

func newSignedSetup(t *testing.T, clk clock.Clock) *signedSetup {
	t.Helper()
	s := &signedSetup{stack: newStack(t, clk)}
	s.zoneID = s.createZone(t, "example.test")
	s.childID = s.createZone(t, "app.example.test")
	if err := s.tree.RegisterDomain("example.test", s.r53.NameServers(s.zoneID)); err != nil {
		t.Fatal(err)
	}
	sets := []rrset{
		{"www.example.test", A, 300, []string{"192.0.2.1"}},
		{"www.example.test", AAAA, 300, []string{"2001:db8::1"}},
		{"example.test", TXT, 300, []string{`"v=spf1 -all"`}},
		{"example.test", MX, 300, []string{"10 mail.example.test"}},
		{"mail.example.test", A, 300, []string{"192.0.2.25"}},
		{"*.wild.example.test", A, 300, []string{"192.0.2.7"}},
		{"alias.example.test", CNAME, 300, []string{"www.example.test"}},
		{"host.ent.example.test", A, 300, []string{"192.0.2.9"}},
		{"app.example.test", NS, 3600, s.r53.NameServers(s.childID)},
	}
	s.upsert(t, s.zoneID, sets...)
	s.upsert(t, s.childID, rrset{"www.app.example.test", A, 300, []string{"192.0.2.80"}})

	s.keyARN = s.addKSK(t, s.zoneID, "ksk_a")
	s.enableSigning(t, s.zoneID)
	s.addKSK(t, s.childID, "ksk_c")
	s.enableSigning(t, s.childID)
	s.upsert(t, s.zoneID, rrset{"app.example.test", DS, 3600, []string{aws.ToString(s.ksks(t, s.childID)[0].DSRecord)}})
	s.associateDS(t, "example.test", s.zoneID, "ksk_a")
	return s
}

// TestChainOfTrust builds the whole tree through the APIs (Route 53, KMS,
// Route 53 Domains) and validates from the root: positive answers, black
// lies for names that do not exist, NODATA, a wildcard, a CNAME and a child
// hosted zone whose DS is a record of its parent hosted zone.
func TestChainOfTrust(t *testing.T) {
	s := newStack(t, clock.NewVirtual(t0))
	id := s.createZone(t, "example.test")
	if err := s.tree.RegisterDomain("example.test", s.r53.NameServers(id)); err != nil {
		t.Fatal(err)
	}
	s.upsert(t, id, rrset{"www.example.test", A, 300, []string{"192.0.2.1"}})
	// Unsigned: a plain, insecure delegation with honest NXDOMAIN.
	s.check(t, "www.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeSuccess, 1)
	s.check(t, "nope.example.test.", dns.TypeA, dnssec.Insecure, dns.RcodeNameError, 0)

	// A second stack, signed, for the table.
	ss := newSignedSetup(t, clock.NewVirtual(t0))
	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
	}{
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, 1},
		{"www.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeTXT, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeMX, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeDNSKEY, dns.RcodeSuccess, 2},
		{"nope.example.test.", dns.TypeA, dns.RcodeSuccess, 0},     // black lie
		{"a.b.nope.example.test.", dns.TypeA, dns.RcodeSuccess, 0}, // black lie, deeper
		{"www.example.test.", dns.TypeTXT, dns.RcodeSuccess, 0},    // NODATA
		{"ent.example.test.", dns.TypeA, dns.RcodeSuccess, 0},      // empty non-terminal
		{"x.wild.example.test.", dns.TypeA, dns.RcodeSuccess, 1},   // wildcard
		{"x.wild.example.test.", dns.TypeTXT, dns.RcodeSuccess, 0}, // wildcard NODATA
		{"alias.example.test.", dns.TypeA, dns.RcodeSuccess, 1},    // CNAME to www
		{"www.app.example.test.", dns.TypeA, dns.RcodeSuccess, 1},  // child zone
		{"nope.app.example.test.", dns.TypeA, dns.RcodeSuccess, 0}, // child black lie
		{"app.example.test.", dns.TypeDS, dns.RcodeSuccess, 1},     // DS from the parent hosted zone
		{"example.test.", dns.TypeDS, dns.RcodeSuccess, 1},         // DS from the registry
	}
	for _, tt := range tests {
		ss.check(t, tt.name, tt.qtype, dnssec.Secure, tt.rcode, tt.answers)
	}
}

// query asks one server directly, with the DO bit.
func query(t *testing.T, addr netip.AddrPort, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("query %v %s %s: %v", addr, name, dns.TypeToString[qtype], err)
	}
	return r
}

func records(rrs []dns.RR, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// TestBlackLieShape checks the denial records as Route 53 shapes them.
func TestBlackLieShape(t *testing.T) {
	s := newSignedSetup(t, clock.NewVirtual(t0))
	srv := s.tree.Route53().ZoneServers(s.zoneID)[0].Addr
	tests := []struct {
		name   string
		qtype  uint16
		owner  string
		bitmap string
	}{
		{"nope.example.test.", dns.TypeA, "nope.example.test.", "RRSIG NSEC"},
		{"www.example.test.", dns.TypeTXT, "www.example.test.", "A AAAA RRSIG NSEC"},
		{"example.test.", dns.TypeA, "example.test.", "NS SOA MX TXT RRSIG NSEC DNSKEY"},
	}
	for _, tt := range tests {
		r := query(t, srv, tt.name, tt.qtype)
		nsecs := records(r.Ns, dns.TypeNSEC)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(nsecs) != 1 {
			t.Errorf("%s %s: rcode %s, %d answers, %d NSEC; want NOERROR, none, 1", tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], len(r.Answer), len(nsecs))
			continue
		}
		nsec := nsecs[0].(*dns.NSEC)
		var types []string
		for _, ty := range nsec.TypeBitMap {
			types = append(types, dns.TypeToString[ty])
		}
		if nsec.Hdr.Name != tt.owner || nsec.NextDomain != `\000.`+tt.owner || strings.Join(types, " ") != tt.bitmap {
			t.Errorf("%s %s: NSEC %s, want owner %s, next \\000.%s, types %s", tt.name, dns.TypeToString[tt.qtype], nsec, tt.owner, tt.owner, tt.bitmap)
		}
		if len(records(r.Ns, dns.TypeRRSIG)) != 2 {
			t.Errorf("%s %s: authority %v, want the SOA and the NSEC each with an RRSIG", tt.name, dns.TypeToString[tt.qtype], r.Ns)
		}
	}
}

// TestKMSKeyDisabled disables the KSK's KMS key: the zone keeps validating
// on the last DNSKEY signatures until they expire, then is bogus.
func TestKMSKeyDisabled(t *testing.T) {
	s := newSignedSetup(t, clock.NewVirtual(t0))
	// A validator fetches the DNSKEY RRset now: its signature is made now.
	s.check(t, "www.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, 1)
	signed := s.clk.Now()
	if _, err := s.kmsc.DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(s.keyARN)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for aws.ToString(s.ksks(t, s.zoneID)[0].Status) != "ACTION_NEEDED" {
		if time.Now().After(deadline) {
			t.Fatalf("KSK status = %s, want ACTION_NEEDED", aws.ToString(s.ksks(t, s.zoneID)[0].Status))
		}
		time.Sleep(10 * time.Millisecond)
	}
	tests := []struct {
		at     time.Duration // after the last good signature
		status dnssec.Status
	}{
		{time.Hour, dnssec.Secure},
		{2 * 24 * time.Hour, dnssec.Secure}, // past the daily refresh: the old signature is kept
		{r53dns.Validity - time.Hour, dnssec.Secure},
		{r53dns.Validity + time.Minute, dnssec.Bogus},
	}
	for _, tt := range tests {
		s.clk.(*clock.Virtual).Set(signed.Add(tt.at))
		res := s.check(t, "www.example.test.", dns.TypeA, tt.status, dns.RcodeSuccess, 1)
		if tt.status == dnssec.Bogus && !strings.Contains(res.Reason, "example.test. DNSKEY") {
			t.Errorf("at +%v: reason %q, want it to name the DNSKEY RRset", tt.at, res.Reason)
		}
	}
	// The records are still served; only their chain broke.
	zs := s.tree.Route53().ZoneServers(s.zoneID)[0].Addr
	r := query(t, zs, "example.test.", dns.TypeDNSKEY)
	if got := len(records(r.Answer, dns.TypeRRSIG)); got != 0 {
		t.Errorf("DNSKEY RRSIGs after expiry = %d, want 0 (the KSK cannot sign)", got)
	}
	// Enabling the key and re-activating the KSK repairs the zone, weeks
	// after the root and the TLD were first signed.
	ctx := context.Background()
	if _, err := s.kmsc.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(s.keyARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.r53c.ActivateKeySigningKey(ctx, &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(s.zoneID), Name: aws.String("ksk_a")}); err != nil {
		t.Fatalf("ActivateKeySigningKey: %v", err)
	}
	s.settle()
	s.check(t, "www.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, 1)
}

// TestRegistryLag checks that a lagging TLD server applies a DS change
// only after its lag.
func TestRegistryLag(t *testing.T) {
	const lag = 10 * time.Minute
	s := newStack(t, clock.NewVirtual(t0))
	id := s.createZone(t, "example.test")
	if err := s.tree.RegisterDomain("example.test", s.r53.NameServers(id)); err != nil {
		t.Fatal(err)
	}
	s.addKSK(t, id, "ksk_a")
	s.enableSigning(t, id)
	if err := s.tree.Registry().SetLag(1, lag); err != nil {
		t.Fatal(err)
	}
	s.associateDS(t, "example.test", id, "ksk_a")
	servers := s.tree.TLDServers()
	tests := []struct {
		after time.Duration
		want  []int // DS records served by server 0 and 1
	}{
		{0, []int{1, 0}},
		{lag - time.Second, []int{1, 0}},
		{lag, []int{1, 1}},
	}
	start := s.clk.Now()
	for _, tt := range tests {
		s.clk.(*clock.Virtual).Set(start.Add(tt.after))
		for i, srv := range servers {
			r := query(t, srv, "example.test.", dns.TypeDS)
			if got := len(records(r.Answer, dns.TypeDS)); got != tt.want[i] {
				t.Errorf("+%v: TLD server %d serves %d DS, want %d", tt.after, i, got, tt.want[i])
			}
		}
	}
}

// TestKSKRollover checks the DNSKEY RRset with two ACTIVE KSKs: both keys
// and the ZSK, signed by both KSKs; the zone validates with either DS.
func TestKSKRollover(t *testing.T) {
	s := newSignedSetup(t, clock.NewVirtual(t0))
	s.addKSK(t, s.zoneID, "ksk_b")
	zs := s.tree.Route53().ZoneServers(s.zoneID)
	if len(zs) != 4 {
		t.Fatalf("%d servers for the zone, want 4", len(zs))
	}
	var tags []uint16
	for _, k := range s.ksks(t, s.zoneID) {
		tags = append(tags, uint16(k.KeyTag))
	}
	for _, sv := range zs {
		r := query(t, sv.Addr, "example.test.", dns.TypeDNSKEY)
		keys := records(r.Answer, dns.TypeDNSKEY)
		sigs := records(r.Answer, dns.TypeRRSIG)
		var sep, zsk int
		for _, k := range keys {
			if k.(*dns.DNSKEY).Flags == 257 {
				sep++
			} else {
				zsk++
			}
		}
		signers := map[uint16]bool{}
		for _, sig := range sigs {
			signers[sig.(*dns.RRSIG).KeyTag] = true
		}
		if sep != 2 || zsk != 1 || len(sigs) != 2 || !signers[tags[0]] || !signers[tags[1]] {
			t.Errorf("server %s: %d KSKs, %d ZSKs, signatures by %v; want 2, 1, by %v", sv.Name, sep, zsk, signers, tags)
		}
	}
	// Publish the new DS in place of the old: still secure.
	s.associateDS(t, "example.test", s.zoneID, "ksk_b")
	s.check(t, "www.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, 1)
}

// TestRoute53ServerLagAndFaults checks that a lagging zone server serves
// the state before an INSYNC change until its lag has passed, and that the
// zone stays secure with a dead server and one that truncates UDP.
func TestRoute53ServerLagAndFaults(t *testing.T) {
	const lag = 5 * time.Minute
	s := newSignedSetup(t, clock.NewVirtual(t0))
	zs := s.tree.Route53().ZoneServers(s.zoneID)
	zs[1].SetLag(lag)
	s.upsert(t, s.zoneID, rrset{"www.example.test", A, 300, []string{"192.0.2.2"}})
	addrOf := func(sv *r53dns.Server) string {
		r := query(t, sv.Addr, "www.example.test.", dns.TypeA)
		if a := records(r.Answer, dns.TypeA); len(a) == 1 {
			return a[0].(*dns.A).A.String()
		}
		return "none"
	}
	if got0, got1 := addrOf(zs[0]), addrOf(zs[1]); got0 != "192.0.2.2" || got1 != "192.0.2.1" {
		t.Errorf("right after INSYNC: servers serve %s and %s, want 192.0.2.2 and the lagging one 192.0.2.1", got0, got1)
	}
	s.advance(lag)
	if got := addrOf(zs[1]); got != "192.0.2.2" {
		t.Errorf("after the lag: lagging server serves %s, want 192.0.2.2", got)
	}
	zs[2].SetFaults(authserver.Faults{Drop: true})
	zs[3].SetFaults(authserver.Faults{Truncate: true})
	m := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	m.SetEdns0(1232, true)
	c := &dns.Client{Timeout: 300 * time.Millisecond}
	if r, _, err := c.Exchange(m, zs[3].Addr.String()); err != nil || !r.Truncated {
		t.Errorf("UDP query to the truncating server: %v, %v; want TC set", r, err)
	}
	if _, _, err := c.Exchange(m, zs[2].Addr.String()); err == nil {
		t.Errorf("UDP query to the dead server was answered")
	}
	s.check(t, "www.example.test.", dns.TypeA, dnssec.Secure, dns.RcodeSuccess, 1)
}

// TestSigningDisabled checks that an unsigned hosted zone serves no DNSSEC
// record even to a DO query, and NXDOMAIN for names that do not exist.
func TestSigningDisabled(t *testing.T) {
	s := newStack(t, clock.NewVirtual(t0))
	id := s.createZone(t, "plain.test")
	s.upsert(t, id, rrset{"www.plain.test", A, 300, []string{"192.0.2.1"}})
	srv := s.tree.Route53().ZoneServers(id)[0].Addr
	tests := []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"www.plain.test.", dns.TypeA, dns.RcodeSuccess},
		{"nope.plain.test.", dns.TypeA, dns.RcodeNameError},
		{"plain.test.", dns.TypeDNSKEY, dns.RcodeSuccess},
	}
	for _, tt := range tests {
		r := query(t, srv, tt.name, tt.qtype)
		var dnssecRRs int
		for _, rr := range append(append(r.Answer, r.Ns...), r.Extra...) {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY:
				dnssecRRs++
			}
		}
		if r.Rcode != tt.rcode || dnssecRRs != 0 || !r.Authoritative {
			t.Errorf("%s %s: rcode %s, %d DNSSEC records, AA %v; want %s, 0, true", tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], dnssecRRs, r.Authoritative, dns.RcodeToString[tt.rcode])
		}
	}
}

// TestParentGuards checks that the Route 53 emulator's guards see the
// tree's parents: the TLD for a registered domain, the parent hosted zone
// for a child zone.
func TestParentGuards(t *testing.T) {
	s := newSignedSetup(t, clock.NewVirtual(t0))
	ctx := context.Background()
	tests := []struct {
		name, zoneID string
	}{
		{"example.test. (DS in the TLD)", s.zoneID},
		{"app.example.test. (DS in example.test.)", s.childID},
	}
	for _, tt := range tests {
		_, err := s.r53c.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: aws.String(tt.zoneID)})
		var inDS *r53types.KeySigningKeyInParentDSRecord
		if !errors.As(err, &inDS) {
			t.Errorf("DisableHostedZoneDNSSEC(%s): %v, want KeySigningKeyInParentDSRecord", tt.name, err)
		}
	}
	// A zone whose parent delegates it to other name servers.
	other := s.createZone(t, "other.test")
	if err := s.tree.RegisterDomain("other.test", []string{"ns1.elsewhere.example.", "ns2.elsewhere.example."}); err != nil {
		t.Fatal(err)
	}
	s.addKSK(t, other, "ksk_o")
	_, err := s.r53c.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(other)})
	var partial *r53types.HostedZonePartiallyDelegated
	if !errors.As(err, &partial) {
		t.Errorf("EnableHostedZoneDNSSEC of a zone delegated elsewhere: %v, want HostedZonePartiallyDelegated", err)
	}
	// And the guards let through what the parents allow: a zone delegated
	// to its own name servers, with no DS, is signed and unsigned again.
	free := s.createZone(t, "free.test")
	if err := s.tree.RegisterDomain("free.test", s.r53.NameServers(free)); err != nil {
		t.Fatal(err)
	}
	s.addKSK(t, free, "ksk_f")
	if _, err := s.r53c.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(free)}); err != nil {
		t.Errorf("EnableHostedZoneDNSSEC of a zone delegated to its name servers: %v", err)
	}
	s.settle()
	if _, err := s.r53c.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: aws.String(free)}); err != nil {
		t.Errorf("DisableHostedZoneDNSSEC with no DS in the parent: %v", err)
	}
}
