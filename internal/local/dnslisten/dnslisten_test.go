package dnslisten

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestServesUDPAndTCPOnOnePort(t *testing.T) {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		w.WriteMsg(m)
	})
	l, err := Start(netip.MustParseAddrPort("127.0.0.1:0"), h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Addr().Port() == 0 {
		t.Fatalf("Addr() = %v, want the port picked", l.Addr())
	}
	for _, network := range []string{"udp", "tcp"} {
		q := new(dns.Msg)
		q.SetQuestion("example.test.", dns.TypeA)
		c := &dns.Client{Net: network, Timeout: time.Second}
		resp, _, err := c.Exchange(q, l.Addr().String())
		if err != nil || !resp.Authoritative {
			t.Errorf("%s exchange = %v, %v; want an authoritative answer", network, resp, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestAddressInUse(t *testing.T) {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {})
	l, err := Start(netip.MustParseAddrPort("127.0.0.1:0"), h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l2, err := Start(l.Addr(), h); err == nil {
		l2.Close()
		t.Errorf("Start(%v) twice succeeded, want address in use", l.Addr())
	}
}
