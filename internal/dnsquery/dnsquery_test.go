package dnsquery

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnslisten"
	"github.com/miekg/dns"
)

// startServer runs h on UDP and TCP on one loopback port.
func startServer(t *testing.T, h dns.HandlerFunc) netip.AddrPort {
	t.Helper()
	l, err := dnslisten.Start(netip.MustParseAddrPort("127.0.0.1:0"), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr()
}

func TestExchange(t *testing.T) {
	var udpQueries, tcpQueries atomic.Int32
	big := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if w.RemoteAddr().Network() == "udp" {
			udpQueries.Add(1)
			m.Truncated = true // as a server does when the answer does not fit
		} else {
			tcpQueries.Add(1)
			for i := 0; i < 100; i++ {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{"0123456789012345678901234567890123456789"}})
			}
		}
		w.WriteMsg(m)
	}
	addr := startServer(t, big)
	c := &Client{Timeout: time.Second}
	resp, err := c.Exchange(context.Background(), addr, "example.test", dns.TypeTXT)
	if err != nil {
		t.Fatalf("Exchange() error = %v", err)
	}
	if got := len(resp.Answer); got != 100 {
		t.Errorf("answer records = %d, want 100 (from the TCP retry)", got)
	}
	if udpQueries.Load() != 1 || tcpQueries.Load() != 1 {
		t.Errorf("queries udp=%d tcp=%d, want 1 and 1", udpQueries.Load(), tcpQueries.Load())
	}
}

func TestExchangeSendsEDNSWithDO(t *testing.T) {
	opts := make(chan *dns.OPT, 1)
	addr := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		opts <- r.IsEdns0()
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})
	if _, err := (&Client{}).Exchange(context.Background(), addr, "example.test", dns.TypeDNSKEY); err != nil {
		t.Fatal(err)
	}
	got := <-opts
	if got == nil || got.UDPSize() != EDNSBufferSize || !got.Do() {
		t.Errorf("query OPT = %v, want EDNS0 buffer %d with DO", got, EDNSBufferSize)
	}
}

func TestExchangeTimeoutIsNoAnswer(t *testing.T) {
	var queries atomic.Int32
	addr := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) { queries.Add(1) }) // never answers
	c := &Client{Timeout: 50 * time.Millisecond, Attempts: 2}
	start := time.Now()
	_, err := c.Exchange(context.Background(), addr, "example.test", dns.TypeA)
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Exchange() error = %v, want ErrNoAnswer", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Exchange() took %v, want it bounded by the attempts", elapsed)
	}
	if got := queries.Load(); got != 2 {
		t.Errorf("server saw %d queries, want 2 attempts", got)
	}
}

func TestExchangeRejectsMismatchedAnswer(t *testing.T) {
	addr := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetQuestion("other.test.", dns.TypeA) // answers a different question
		m.Id = r.Id
		m.Response = true
		w.WriteMsg(m)
	})
	c := &Client{Timeout: 100 * time.Millisecond, Attempts: 1}
	if _, err := c.Exchange(context.Background(), addr, "example.test", dns.TypeA); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("Exchange() error = %v, want ErrNoAnswer for an answer to another question", err)
	}
}

func TestExchangeHonoursContext(t *testing.T) {
	addr := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Client{}).Exchange(ctx, addr, "example.test", dns.TypeA); !errors.Is(err, context.Canceled) {
		t.Errorf("Exchange(cancelled) error = %v, want context.Canceled", err)
	}
}
