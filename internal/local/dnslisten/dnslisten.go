// Package dnslisten serves a DNS handler on UDP and TCP on one loopback
// address and port, the way every server of the local stack listens.
package dnslisten

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// attempts bounds the retries with port 0: the UDP port the kernel picks may
// be taken for TCP.
const attempts = 10

// Listener is a handler served on UDP and TCP at one address.
type Listener struct {
	addr     netip.AddrPort
	udp, tcp *dns.Server
	serving  sync.WaitGroup
	close    sync.Once
}

// Start listens on addr over UDP and TCP and serves h in the background.
// With port 0 it picks a port free for both protocols. It fails when the
// address is in use: the caller picks another.
func Start(addr netip.AddrPort, h dns.Handler) (*Listener, error) {
	var err error
	for range attempts {
		var pc net.PacketConn
		var l net.Listener
		if pc, l, err = listen(addr); err == nil {
			return serve(pc, l, h), nil
		}
		if addr.Port() != 0 {
			break
		}
	}
	return nil, fmt.Errorf("listen %v: %w", addr, err)
}

func listen(addr netip.AddrPort) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, nil, err
	}
	port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr.Addr(), port)))
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

func serve(pc net.PacketConn, l net.Listener, h dns.Handler) *Listener {
	s := &Listener{
		addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		udp:  &dns.Server{PacketConn: pc, Handler: h},
		tcp:  &dns.Server{Listener: l, Handler: h},
	}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			srv.ActivateAndServe()
		}()
		<-started
	}
	return s
}

// Addr returns the address served.
func (s *Listener) Addr() netip.AddrPort { return s.addr }

// Close stops both servers and waits for their goroutines to end. It is
// safe to call more than once.
func (s *Listener) Close() error {
	var errs []error
	s.close.Do(func() {
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			errs = append(errs, srv.Shutdown())
		}
		s.serving.Wait()
	})
	return errors.Join(errs...)
}
