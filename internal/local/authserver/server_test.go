package authserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
)

var testNow = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

var loopback = netip.MustParseAddrPort("127.0.0.1:0")

func signedZone(t *testing.T, origin, text string) *authzone.Zone {
	t.Helper()
	z, err := authzone.Parse(origin, "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n"+text)
	if err != nil {
		t.Fatal(err)
	}
	err = z.Sign(authzone.SignOptions{
		Keys:       []*authzone.Key{authzone.MustGenerateKey(origin, dns.ECDSAP256SHA256, authzone.CSK)},
		Inception:  testNow.Add(-time.Hour),
		Expiration: testNow.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// bigTXT is a TXT RRset of about 2 kB.
func bigTXT() string {
	var b strings.Builder
	for i := range 16 {
		fmt.Fprintf(&b, "big TXT \"%02d %0120d\"\n", i, 0)
	}
	return b.String()
}

func startServer(t *testing.T, zones ...*authzone.Zone) *Server {
	t.Helper()
	s := New(zones...)
	if err := s.Start(loopback); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func exchange(t *testing.T, s *Server, network, name string, qtype uint16, ednsSize uint16) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	if ednsSize > 0 {
		m.SetEdns0(ednsSize, true)
	}
	c := &dns.Client{Net: network, Timeout: 300 * time.Millisecond, UDPSize: ednsSize}
	r, _, err := c.Exchange(m, s.Addr().String())
	return r, err
}

func TestServeUDPAndTCP(t *testing.T) {
	s := startServer(t, signedZone(t, "example.test.", "www A 192.0.2.1\n"))
	for _, network := range []string{"udp", "tcp"} {
		r, err := exchange(t, s, network, "www.example.test.", dns.TypeA, 1232)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 2 {
			t.Errorf("%s: www A = %v, want an authoritative A and its RRSIG", network, r)
		}
	}
	if got, want := s.Queries(), int64(2); got != want {
		t.Errorf("Queries() = %d, want %d", got, want)
	}
	s.ResetQueries()
	if got := s.Queries(); got != 0 {
		t.Errorf("Queries() after ResetQueries = %d, want 0", got)
	}
}

// TestTruncation checks that a UDP answer larger than the requester's
// buffer has TC set and that the same query over TCP gets it all.
func TestTruncation(t *testing.T) {
	s := startServer(t, signedZone(t, "example.test.", bigTXT()))
	tests := []struct {
		network string
		edns    uint16
		tc      bool
	}{
		{"udp", 0, true},    // 512 bytes without EDNS
		{"udp", 1232, true}, // still too small
		{"udp", 4096, false},
		{"tcp", 0, false},
	}
	for _, tt := range tests {
		r, err := exchange(t, s, tt.network, "big.example.test.", dns.TypeTXT, tt.edns)
		if err != nil {
			t.Fatalf("%s/%d: %v", tt.network, tt.edns, err)
		}
		if r.Truncated != tt.tc {
			t.Errorf("%s with EDNS %d: TC = %v, want %v", tt.network, tt.edns, r.Truncated, tt.tc)
		}
		want := 16 // TXT records
		if tt.edns > 0 {
			want++ // and the RRSIG, as the query has DO
		}
		if !tt.tc && len(r.Answer) != want {
			t.Errorf("%s with EDNS %d: %d answer records, want %d", tt.network, tt.edns, len(r.Answer), want)
		}
	}
}

func TestFaults(t *testing.T) {
	z := signedZone(t, "example.test.", "www A 192.0.2.1\n")
	tests := []struct {
		desc    string
		faults  Faults
		network string
		check   func(r *dns.Msg, err error, took time.Duration) error
	}{
		{"drop over UDP", Faults{Drop: true}, "udp", wantTimeout},
		{"drop over TCP", Faults{Drop: true}, "tcp", wantTimeout},
		{"refuse", Faults{Refuse: true}, "udp", wantRcode(dns.RcodeRefused)},
		{"servfail", Faults{ServFail: true}, "tcp", wantRcode(dns.RcodeServerFailure)},
		{"lame", Faults{Lame: true}, "udp", func(r *dns.Msg, err error, _ time.Duration) error {
			if err != nil {
				return err
			}
			if r.Authoritative || len(r.Answer) == 0 {
				return fmt.Errorf("AA = %v with %d answers, want a non-authoritative answer", r.Authoritative, len(r.Answer))
			}
			return nil
		}},
		{"truncate over UDP", Faults{Truncate: true}, "udp", func(r *dns.Msg, err error, _ time.Duration) error {
			if err != nil {
				return err
			}
			if !r.Truncated || len(r.Answer) != 0 {
				return fmt.Errorf("TC = %v with %d answers, want an empty truncated answer", r.Truncated, len(r.Answer))
			}
			return nil
		}},
		{"truncate leaves TCP alone", Faults{Truncate: true}, "tcp", wantRcode(dns.RcodeSuccess)},
		{"delay", Faults{Delay: 100 * time.Millisecond}, "udp", func(r *dns.Msg, err error, took time.Duration) error {
			if err != nil {
				return err
			}
			if took < 100*time.Millisecond {
				return fmt.Errorf("answered after %v, want at least 100ms", took)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := startServer(t, z)
			s.SetFaults(tt.faults)
			if got := s.Faults(); got != tt.faults {
				t.Errorf("Faults() = %+v, want %+v", got, tt.faults)
			}
			start := time.Now()
			r, err := exchange(t, s, tt.network, "www.example.test.", dns.TypeA, 1232)
			if err := tt.check(r, err, time.Since(start)); err != nil {
				t.Errorf("%s: %v", tt.desc, err)
			}
			// Faults go away at run time.
			s.SetFaults(Faults{})
			if r, err := exchange(t, s, tt.network, "www.example.test.", dns.TypeA, 1232); err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				t.Errorf("after clearing faults: %v, %v; want an authoritative answer", r, err)
			}
		})
	}
}

func wantTimeout(r *dns.Msg, err error, _ time.Duration) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("got %v, %v; want a timeout", r, err)
}

func wantRcode(rcode int) func(*dns.Msg, error, time.Duration) error {
	return func(r *dns.Msg, err error, _ time.Duration) error {
		if err != nil {
			return err
		}
		if r.Rcode != rcode {
			return fmt.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
		}
		if r.IsEdns0() == nil {
			return errors.New("no OPT in the answer to an EDNS query")
		}
		return nil
	}
}

// TestZoneChoice checks which hosted zone answers: the deepest, except for
// DS at a hosted child's apex, which the parent answers.
func TestZoneChoice(t *testing.T) {
	parent := signedZone(t, "example.test.", "child NS ns1.child\nns1.child A 127.0.0.1\nchild DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n")
	child := signedZone(t, "child.example.test.", "www A 192.0.2.2\n")
	both := startServer(t, parent, child)
	childOnly := startServer(t, child)
	tests := []struct {
		desc   string
		s      *Server
		name   string
		qtype  uint16
		rcode  int
		answer uint16 // type of the first answer record, 0 for none
		soa    string // owner of the SOA in the authority section
	}{
		{"deepest zone answers", both, "www.child.example.test.", dns.TypeA, dns.RcodeSuccess, dns.TypeA, ""},
		{"DS at a hosted child goes to the parent", both, "child.example.test.", dns.TypeDS, dns.RcodeSuccess, dns.TypeDS, ""},
		{"other types at the child apex stay with the child", both, "child.example.test.", dns.TypeSOA, dns.RcodeSuccess, dns.TypeSOA, ""},
		{"child alone answers NODATA for its DS", childOnly, "child.example.test.", dns.TypeDS, dns.RcodeSuccess, 0, "child.example.test."},
		{"no zone for the name", childOnly, "www.example.org.", dns.TypeA, dns.RcodeRefused, 0, ""},
		{"parent name is not the child's", childOnly, "example.test.", dns.TypeSOA, dns.RcodeRefused, 0, ""},
	}
	for _, tt := range tests {
		r, err := exchange(t, tt.s, "udp", tt.name, tt.qtype, 1232)
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		var first uint16
		if len(r.Answer) > 0 {
			first = r.Answer[0].Header().Rrtype
		}
		var soa string
		for _, rr := range r.Ns {
			if rr.Header().Rrtype == dns.TypeSOA {
				soa = rr.Header().Name
			}
		}
		if r.Rcode != tt.rcode || first != tt.answer || soa != tt.soa {
			t.Errorf("%s: %s %s = %s, first answer %s, SOA %q; want %s, %s, %q", tt.desc, tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[r.Rcode], dns.TypeToString[first], soa, dns.RcodeToString[tt.rcode], dns.TypeToString[tt.answer], tt.soa)
		}
	}
}

// TestSetZone makes one server serve older content than its siblings.
func TestSetZone(t *testing.T) {
	z := signedZone(t, "example.test.", "www A 192.0.2.1\n")
	stale := z.Clone()
	if err := z.IncrementSerial(); err != nil {
		t.Fatal(err)
	}
	fresh, lagging := startServer(t, z), startServer(t, z)
	lagging.SetZone(stale)
	for _, tt := range []struct {
		s    *Server
		want uint32
	}{{fresh, 2}, {lagging, 1}} {
		r, err := exchange(t, tt.s, "udp", "example.test.", dns.TypeSOA, 1232)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Answer[0].(*dns.SOA).Serial; got != tt.want {
			t.Errorf("SOA serial = %d, want %d", got, tt.want)
		}
	}
	if lagging.Zone("example.test.") != stale {
		t.Errorf("Zone() is not the zone set by SetZone")
	}
	lagging.RemoveZone("example.test.")
	if r, err := exchange(t, lagging, "udp", "example.test.", dns.TypeSOA, 1232); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("after RemoveZone: %v, %v; want REFUSED", r, err)
	}
}

func TestStartAddressInUse(t *testing.T) {
	s := startServer(t, signedZone(t, "example.test.", ""))
	other := New()
	if err := other.Start(s.Addr()); err == nil {
		other.Close()
		t.Errorf("Start(%v) on a used address succeeded, want an error", s.Addr())
	}
}

// TestCloseLeaksNothing checks that Close ends every goroutine, even with a
// query waiting on a delay and an open TCP connection.
func TestCloseLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(signedZone(t, "example.test.", "www A 192.0.2.1\n"))
	if err := s.Start(loopback); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s.SetFaults(Faults{Delay: time.Hour})
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	go c.Exchange(new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA), s.Addr().String())
	time.Sleep(50 * time.Millisecond)
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+1 { // +1: the client still waiting
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answerFunc adapts a function to Answerer.
type answerFunc func(req *dns.Msg) *dns.Msg

func (f answerFunc) Answer(req *dns.Msg) *dns.Msg { return f(req) }

// TestSetAnswerer checks that an Answerer replaces the zones, keeps the
// faults, and that removing it brings the zones back.
func TestSetAnswerer(t *testing.T) {
	s := startServer(t, signedZone(t, "example.test.", "www A 192.0.2.1\n"))
	s.SetAnswerer(answerFunc(func(req *dns.Msg) *dns.Msg {
		resp := new(dns.Msg).SetReply(req)
		resp.Authoritative = true
		resp.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(192, 0, 2, 99),
		}}
		return resp
	}))
	tests := []struct {
		name   string
		faults Faults
		rcode  int
		want   string // the A record's address, "" for none
	}{
		{"answerer", Faults{}, dns.RcodeSuccess, "192.0.2.99"},
		{"answerer outside the zones", Faults{}, dns.RcodeSuccess, "192.0.2.99"},
		{"faults still apply", Faults{ServFail: true}, dns.RcodeServerFailure, ""},
	}
	for i, tt := range tests {
		s.SetFaults(tt.faults)
		qname := "www.example.test."
		if i == 1 {
			qname = "www.elsewhere.test."
		}
		r, err := exchange(t, s, "udp", qname, dns.TypeA, 1232)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := ""
		if len(r.Answer) > 0 {
			got = r.Answer[0].(*dns.A).A.String()
		}
		if r.Rcode != tt.rcode || got != tt.want {
			t.Errorf("%s: rcode %s, A %q; want %s, %q", tt.name, dns.RcodeToString[r.Rcode], got, dns.RcodeToString[tt.rcode], tt.want)
		}
	}
	s.SetFaults(Faults{})
	s.SetAnswerer(nil)
	r, err := exchange(t, s, "udp", "www.example.test.", dns.TypeA, 1232)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) == 0 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("after SetAnswerer(nil): %v, want the zone's www A 192.0.2.1", r.Answer)
	}
}
