package r53dns

import (
	"crypto"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
)

var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// toggleSigner is a KSK signer that fails while off, as a KMS-backed one
// does when its key is disabled.
type toggleSigner struct {
	crypto.Signer
	off atomic.Bool
}

func (s *toggleSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.off.Load() {
		return nil, errors.New("kms: key disabled")
	}
	return s.Signer.Sign(r, digest, opts)
}

func mustRRs(t *testing.T, text string) []dns.RR {
	t.Helper()
	var out []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(text), "example.test.", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const zoneText = `$TTL 300
@ 900 SOA ns-1.awsdns-00.test. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400
@ 172800 NS ns-1.awsdns-00.test.
@ 172800 NS ns-40.awsdns-01.test.
www A 192.0.2.1
www AAAA 2001:db8::1
*.wild TXT "wild"
alias CNAME www
chain CNAME alias
out CNAME www.elsewhere.test.
long 31536000 TXT "a year"
host.ent A 192.0.2.9
sub NS ns1.sub
ns1.sub A 192.0.2.53
secure NS ns.elsewhere.test.
secure DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`

// signedSnapshot is example.test. signed with one ACTIVE KSK.
func signedSnapshot(t *testing.T) (route53emu.Snapshot, *toggleSigner) {
	t.Helper()
	k := authzone.MustGenerateKey("example.test.", dns.ECDSAP256SHA256, authzone.KSK)
	ts := &toggleSigner{Signer: k.Signer}
	return route53emu.Snapshot{
		ZoneRef:  route53emu.ZoneRef{ID: "Z1", Name: "example.test."},
		Records:  mustRRs(t, zoneText),
		Signing:  true,
		KSKs:     []route53emu.KSK{{Name: "ksk_a", Status: route53emu.KSKActive, DNSKEY: k.DNSKEY, Signer: ts}},
		ChangeID: "C1",
	}, ts
}

// shape is a section as its record types, e.g. "A RRSIG".
func shape(rrs []dns.RR) string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, dns.TypeToString[rr.Header().Rrtype])
		}
	}
	return strings.Join(out, " ")
}

func TestAnswer(t *testing.T) {
	snap, _ := signedSnapshot(t)
	v := newView(snap)
	s, err := newSigner(v.origin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname  string
		qtype  uint16
		do     bool
		rcode  int
		aa     bool
		answer string
		ns     string
		extra  string
	}{
		{"www.example.test.", dns.TypeA, true, dns.RcodeSuccess, true, "A RRSIG", "", ""},
		{"www.example.test.", dns.TypeA, false, dns.RcodeSuccess, true, "A", "", ""},
		{"WWW.Example.TEST.", dns.TypeAAAA, true, dns.RcodeSuccess, true, "AAAA RRSIG", "", ""},
		{"chain.example.test.", dns.TypeA, true, dns.RcodeSuccess, true, "CNAME RRSIG CNAME RRSIG A RRSIG", "", ""},
		{"out.example.test.", dns.TypeA, true, dns.RcodeSuccess, true, "CNAME RRSIG", "", ""},
		{"x.wild.example.test.", dns.TypeTXT, true, dns.RcodeSuccess, true, "TXT RRSIG", "", ""},
		{"x.wild.example.test.", dns.TypeA, true, dns.RcodeSuccess, true, "", "SOA RRSIG NSEC RRSIG", ""},
		{"nope.example.test.", dns.TypeA, true, dns.RcodeSuccess, true, "", "SOA RRSIG NSEC RRSIG", ""},
		{"nope.example.test.", dns.TypeA, false, dns.RcodeNameError, true, "", "SOA", ""},
		{"ent.example.test.", dns.TypeA, true, dns.RcodeSuccess, true, "", "SOA RRSIG NSEC RRSIG", ""},
		{"www.example.test.", dns.TypeTXT, true, dns.RcodeSuccess, true, "", "SOA RRSIG NSEC RRSIG", ""},
		{"host.sub.example.test.", dns.TypeA, true, dns.RcodeSuccess, false, "", "NS NSEC RRSIG", "A"},
		{"sub.example.test.", dns.TypeNS, false, dns.RcodeSuccess, false, "", "NS", "A"},
		{"host.secure.example.test.", dns.TypeA, true, dns.RcodeSuccess, false, "", "NS DS RRSIG", ""},
		{"secure.example.test.", dns.TypeDS, true, dns.RcodeSuccess, true, "DS RRSIG", "", ""},
		{"sub.example.test.", dns.TypeDS, true, dns.RcodeSuccess, true, "", "SOA RRSIG NSEC RRSIG", ""},
		{"example.test.", dns.TypeDNSKEY, true, dns.RcodeSuccess, true, "DNSKEY DNSKEY RRSIG", "", ""},
		{"example.test.", dns.TypeDNSKEY, false, dns.RcodeSuccess, true, "DNSKEY DNSKEY", "", ""},
		{"example.test.", dns.TypeDS, true, dns.RcodeSuccess, true, "", "SOA RRSIG NSEC RRSIG", ""},
	}
	for _, tt := range tests {
		req := new(dns.Msg).SetQuestion(tt.qname, tt.qtype)
		req.SetEdns0(1232, tt.do)
		r := answer(v, s, req, t0)
		if r.Rcode != tt.rcode || r.Authoritative != tt.aa || shape(r.Answer) != tt.answer || shape(r.Ns) != tt.ns || shape(r.Extra) != tt.extra {
			t.Errorf("answer(%s %s, DO %v) = %s AA %v [%s] [%s] [%s]; want %s AA %v [%s] [%s] [%s]",
				tt.qname, dns.TypeToString[tt.qtype], tt.do,
				dns.RcodeToString[r.Rcode], r.Authoritative, shape(r.Answer), shape(r.Ns), shape(r.Extra),
				dns.RcodeToString[tt.rcode], tt.aa, tt.answer, tt.ns, tt.extra)
		}
		if r.IsEdns0() == nil {
			t.Errorf("answer(%s %s): no OPT in the reply to an EDNS query", tt.qname, dns.TypeToString[tt.qtype])
		}
	}
}

// TestAnswerRecords checks record details: a wildcard answer signed at the
// query name, the TTL cap of signed zones, the black lie's NSEC and the
// signatures' validity window.
func TestAnswerRecords(t *testing.T) {
	snap, _ := signedSnapshot(t)
	v := newView(snap)
	s, err := newSigner(v.origin)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string, qtype uint16) *dns.Msg {
		req := new(dns.Msg).SetQuestion(name, qtype)
		req.SetEdns0(1232, true)
		return answer(v, s, req, t0)
	}
	r := ask("x.wild.example.test.", dns.TypeTXT)
	sig := r.Answer[1].(*dns.RRSIG)
	if r.Answer[0].Header().Name != "x.wild.example.test." || sig.Labels != 4 {
		t.Errorf("wildcard answer %v, want owner x.wild.example.test. signed with 4 labels", r.Answer)
	}
	if err := sig.Verify(s.zsk, r.Answer[:1]); err != nil {
		t.Errorf("wildcard signature does not verify with the ZSK: %v", err)
	}
	if got, want := sig.Inception, uint32(t0.Add(-InceptionSkew).Unix()); got != want {
		t.Errorf("inception = %d, want %d (an hour back)", got, want)
	}
	if got, want := sig.Expiration, uint32(t0.Add(Validity).Unix()); got != want {
		t.Errorf("expiration = %d, want %d (two weeks on)", got, want)
	}
	if got := ask("long.example.test.", dns.TypeTXT).Answer[0].Header().Ttl; got != maxSignedTTL {
		t.Errorf("TTL of a one-year record in a signed zone = %d, want %d", got, maxSignedTTL)
	}
	r = ask("nope.example.test.", dns.TypeA)
	nsec := r.Ns[2].(*dns.NSEC)
	if nsec.NextDomain != `\000.nope.example.test.` || nsec.Hdr.Ttl != 900 || r.Ns[0].Header().Ttl != 900 {
		t.Errorf("black lie %v, want NSEC to \\000.nope.example.test. and SOA, both with the negative TTL 900", r.Ns)
	}
	if err := r.Ns[3].(*dns.RRSIG).Verify(s.zsk, r.Ns[2:3]); err != nil {
		t.Errorf("NSEC signature does not verify: %v", err)
	}
}

// TestDNSKEYSignatures follows the DNSKEY RRset's signatures when the KSK's
// signer fails: the last good one until it expires, then none.
func TestDNSKEYSignatures(t *testing.T) {
	snap, kms := signedSnapshot(t)
	s, err := newSigner("example.test.")
	if err != nil {
		t.Fatal(err)
	}
	v := newView(snap)
	rrset, sigs := s.dnskeyRRset(v, t0)
	if len(rrset) != 2 || len(sigs) != 1 {
		t.Fatalf("DNSKEY RRset %d keys, %d signatures; want 2 and 1", len(rrset), len(sigs))
	}
	if err := sigs[0].(*dns.RRSIG).Verify(snap.KSKs[0].DNSKEY, rrset); err != nil {
		t.Fatalf("DNSKEY signature does not verify with the KSK: %v", err)
	}
	first := sigs[0].(*dns.RRSIG)
	kms.off.Store(true)
	tests := []struct {
		at   time.Duration
		want int
	}{
		{time.Hour, 1},
		{3 * 24 * time.Hour, 1},
		{Validity - time.Minute, 1},
		{Validity + time.Second, 0},
	}
	for _, tt := range tests {
		_, sigs := s.dnskeyRRset(v, t0.Add(tt.at))
		if len(sigs) != tt.want {
			t.Errorf("at +%v with the KMS key off: %d signatures, want %d", tt.at, len(sigs), tt.want)
		}
		if len(sigs) == 1 && sigs[0].(*dns.RRSIG).Inception != first.Inception {
			t.Errorf("at +%v: a new signature appeared although the signer fails", tt.at)
		}
	}
	// Back on: a fresh signature.
	kms.off.Store(false)
	at := t0.Add(Validity + time.Hour)
	if _, sigs := s.dnskeyRRset(v, at); len(sigs) != 1 || !sigs[0].(*dns.RRSIG).ValidityPeriod(at) {
		t.Errorf("with the KMS key back: %v, want one valid signature", sigs)
	}
	// Publication follows the KSK status: INACTIVE keys are gone,
	// ACTION_NEEDED keys stay (and sign no more).
	for _, tt := range []struct {
		status string
		keys   int
	}{
		{route53emu.KSKInactive, 1},
		{route53emu.KSKActionNeeded, 2},
	} {
		snap.KSKs[0].Status = tt.status
		rrset, _ := s.dnskeyRRset(newView(snap), t0)
		if len(rrset) != tt.keys {
			t.Errorf("KSK %s: %d DNSKEYs published, want %d", tt.status, len(rrset), tt.keys)
		}
	}
}

// TestUnsignedView checks that a zone with signing disabled has no DNSSEC
// records, whatever the query asks.
func TestUnsignedView(t *testing.T) {
	snap, _ := signedSnapshot(t)
	snap.Signing = false
	v := newView(snap)
	s, err := newSigner(v.origin)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.example.test.", dns.TypeA}, {"nope.example.test.", dns.TypeA}, {"example.test.", dns.TypeDNSKEY}, {"long.example.test.", dns.TypeTXT}} {
		req := new(dns.Msg).SetQuestion(q.name, q.qtype)
		req.SetEdns0(1232, true)
		r := answer(v, s, req, t0)
		for _, rr := range append(r.Answer, r.Ns...) {
			switch rr.Header().Rrtype {
			case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY:
				t.Errorf("%s %s: %v in an unsigned zone", q.name, dns.TypeToString[q.qtype], rr)
			}
			if rr.Header().Ttl == maxSignedTTL {
				t.Errorf("%s: TTL capped in an unsigned zone", rr.Header().Name)
			}
		}
	}
}
