package registry

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

const base = `$TTL 300
test. SOA ns1.test. hostmaster.test. 10 3600 600 86400 60
test. NS ns1.test.
test. NS ns2.test.
ns1.test. A 127.0.0.1
ns2.test. A 127.0.0.2
`

func newRegistry(t *testing.T) (*Registry, *clock.Virtual, []*authserver.Server) {
	t.Helper()
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(base), "test.", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewVirtual(t0)
	servers := []*authserver.Server{authserver.New(), authserver.New()}
	r, err := New(Config{
		Clock:   clk,
		Origin:  "test",
		Records: rrs,
		Keys: []*authzone.Key{
			authzone.MustGenerateKey("test.", dns.ECDSAP256SHA256, authzone.KSK),
			authzone.MustGenerateKey("test.", dns.ECDSAP256SHA256, authzone.ZSK),
		},
		Servers: servers,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, clk, servers
}

func ask(s *authserver.Server, name string, qtype uint16) *dns.Msg {
	req := new(dns.Msg).SetQuestion(name, qtype)
	req.SetEdns0(1232, true)
	return s.Answer(req)
}

func count(rrs []dns.RR, t uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			n++
		}
	}
	return n
}

func TestDelegationsAndLag(t *testing.T) {
	const lag = 5 * time.Minute
	r, clk, servers := newRegistry(t)
	if err := r.SetLag(1, lag); err != nil {
		t.Fatal(err)
	}
	ds := &dns.DS{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeDS, Class: dns.ClassINET}, KeyTag: 1, Algorithm: 13, DigestType: 2,
		Digest: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	if err := r.SetDS("example.test", []*dns.DS{ds}); !errors.Is(err, ErrNotDelegated) {
		t.Errorf("SetDS before Delegate: %v, want ErrNotDelegated", err)
	}
	if err := r.Delegate("example.test", []string{"ns-1.awsdns-00.test", "ns-40.awsdns-01.test."}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDS("example.test", []*dns.DS{ds}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetHost("ns-1.awsdns-00.test.", netip.MustParseAddr("127.9.9.9")); err != nil {
		t.Fatal(err)
	}
	if got := r.DS("example.test."); len(got) != 1 || got[0].Hdr.Ttl != DSTTL {
		t.Errorf("DS() = %v, want the DS with TTL %d", got, DSTTL)
	}
	tests := []struct {
		after time.Duration
		ns    [2]int // NS records of the referral, per server
		ds    [2]int
	}{
		{0, [2]int{2, 0}, [2]int{1, 0}},
		{lag - time.Second, [2]int{2, 0}, [2]int{1, 0}},
		{lag, [2]int{2, 2}, [2]int{1, 1}},
	}
	start := clk.Now()
	for _, tt := range tests {
		clk.Set(start.Add(tt.after))
		for i, s := range servers {
			ref := ask(s, "www.example.test.", dns.TypeA)
			if got := count(ref.Ns, dns.TypeNS); got != tt.ns[i] {
				t.Errorf("+%v server %d: %d NS in the referral, want %d", tt.after, i, got, tt.ns[i])
			}
			if got := count(ask(s, "example.test.", dns.TypeDS).Answer, dns.TypeDS); got != tt.ds[i] {
				t.Errorf("+%v server %d: %d DS, want %d", tt.after, i, got, tt.ds[i])
			}
			// Host addresses are infrastructure: every server at once.
			if got := count(ask(s, "ns-1.awsdns-00.test.", dns.TypeA).Answer, dns.TypeA); got != 1 {
				t.Errorf("+%v server %d: %d A for the name server host, want 1", tt.after, i, got)
			}
		}
	}
	// Removing the delegation removes its DS too.
	if err := r.Delegate("example.test.", nil); err != nil {
		t.Fatal(err)
	}
	if r := ask(servers[0], "www.example.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("after undelegation: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

func TestBadInput(t *testing.T) {
	r, _, _ := newRegistry(t)
	tests := []struct {
		name string
		err  error
	}{
		{"Delegate outside the origin", r.Delegate("example.com", []string{"ns.example.com."})},
		{"Delegate the origin", r.Delegate("test.", []string{"ns.example.com."})},
		{"SetDS outside the origin", r.SetDS("example.com", nil)},
		{"SetHost outside the origin", r.SetHost("ns.example.com.", netip.MustParseAddr("127.0.0.3"))},
		{"SetLag of no server", r.SetLag(2, time.Second)},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.HasPrefix(tt.err.Error(), "registry: ") {
			t.Errorf("%s: error %v, want one prefixed registry:", tt.name, tt.err)
		}
	}
}

// TestSignatureRefresh checks that the zone is signed again once its
// signatures are a RefreshInterval old, so they never expire.
func TestSignatureRefresh(t *testing.T) {
	r, clk, servers := newRegistry(t)
	inception := func() time.Time {
		for _, rr := range ask(servers[0], "test.", dns.TypeSOA).Answer {
			if sig, ok := rr.(*dns.RRSIG); ok {
				return time.Unix(int64(sig.Inception), 0).UTC()
			}
		}
		t.Fatal("no RRSIG over the SOA")
		return time.Time{}
	}
	tests := []struct {
		after time.Duration
		want  time.Time
	}{
		{0, t0.Add(-InceptionSkew)},
		{RefreshInterval - time.Second, t0.Add(-InceptionSkew)},
		{30 * 24 * time.Hour, t0.Add(30*24*time.Hour - InceptionSkew)},
	}
	for _, tt := range tests {
		clk.Set(t0.Add(tt.after))
		if got := inception(); !got.Equal(tt.want) {
			t.Errorf("+%v: SOA signed with inception %v, want %v", tt.after, got, tt.want)
		}
	}
	z, err := r.Zone(0)
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin() != "test." || !z.Signed() {
		t.Errorf("Zone(0) = %s signed %v, want test. signed", z.Origin(), z.Signed())
	}
	r.Close()
	if got := ask(servers[0], "test.", dns.TypeSOA); got.Rcode != dns.RcodeRefused {
		t.Errorf("after Close, a server with no zone answers %s, want REFUSED", dns.RcodeToString[got.Rcode])
	}
}
