// Package authserver serves authzone zones on loopback over UDP and TCP,
// like an authoritative name server, with faults a test can switch on at
// run time.
package authserver

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnslisten"
)

// Faults are the misbehaviours of one server. The zero value is a healthy
// server.
type Faults struct {
	Drop     bool          // read queries and never answer: the client times out
	Refuse   bool          // answer every query REFUSED
	ServFail bool          // answer every query SERVFAIL
	Lame     bool          // answer without the AA bit, as a lame server does
	Truncate bool          // answer every UDP query with TC set and no records
	Delay    time.Duration // wait this long before answering
}

// Server is an authoritative DNS server for one or more zones, on one
// address over both UDP and TCP.
type Server struct {
	mu       sync.RWMutex
	zones    map[string]*authzone.Zone // by origin
	answerer Answerer                  // when set, answers in place of zones
	faults   Faults

	queries atomic.Int64

	ln    *dnslisten.Listener
	done  chan struct{}
	close sync.Once
}

// New returns a server for zones; call Start to serve them.
func New(zones ...*authzone.Zone) *Server {
	s := &Server{zones: map[string]*authzone.Zone{}, done: make(chan struct{})}
	for _, z := range zones {
		s.zones[z.Origin()] = z
	}
	return s
}

// Answerer computes answers at query time, for content that is not one
// fixed authzone.Zone: online signing, or a server that applies changes
// after a lag on a clock.
type Answerer interface {
	Answer(req *dns.Msg) *dns.Msg
}

// SetAnswerer makes the server answer every query through a, before faults
// and truncation, in place of its zones; nil goes back to the zones.
func (s *Server) SetAnswerer(a Answerer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answerer = a
}

// SetZone serves z for its origin, replacing the zone this server had for
// that origin (a server that lags behind its siblings, for example).
func (s *Server) SetZone(z *authzone.Zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[z.Origin()] = z
}

// RemoveZone stops serving the zone for origin.
func (s *Server) RemoveZone(origin string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zones, dns.CanonicalName(origin))
}

// Zone returns the zone served for origin, or nil.
func (s *Server) Zone(origin string) *authzone.Zone {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.zones[dns.CanonicalName(origin)]
}

// SetFaults replaces the server's faults; it is safe while serving.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the server's current faults.
func (s *Server) Faults() Faults {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.faults
}

// Queries returns how many queries the server has received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ResetQueries sets the query count back to zero.
func (s *Server) ResetQueries() { s.queries.Store(0) }

// Addr returns the address the server listens on (after Start).
func (s *Server) Addr() netip.AddrPort {
	if s.ln == nil {
		return netip.AddrPort{}
	}
	return s.ln.Addr()
}

// Start listens on addr over UDP and TCP and serves in the background. With
// port 0 it picks a port free for both protocols. It fails when the address
// is in use: the caller picks another.
func (s *Server) Start(addr netip.AddrPort) error {
	ln, err := dnslisten.Start(addr, s)
	if err != nil {
		return fmt.Errorf("authserver: %w", err)
	}
	s.ln = ln
	return nil
}

// Close stops the server and waits for its goroutines to end.
func (s *Server) Close() error {
	var err error
	s.close.Do(func() {
		close(s.done)
		if s.ln != nil {
			err = s.ln.Close()
		}
	})
	return err
}

// ServeDNS answers one query; it implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	f := s.Faults()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
			return
		}
	}
	if f.Drop {
		return
	}
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	resp := s.Answer(req)
	switch {
	case f.Refuse:
		resp = errorReply(req, dns.RcodeRefused)
	case f.ServFail:
		resp = errorReply(req, dns.RcodeServerFailure)
	}
	if f.Lame {
		resp.Authoritative = false
	}
	if udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		if f.Truncate {
			resp.Answer, resp.Ns = nil, nil
			resp.Extra = slices.DeleteFunc(resp.Extra, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeOPT })
			resp.Truncated = true
		} else {
			resp.Truncate(size)
		}
	} else {
		resp.Compress = true
	}
	w.WriteMsg(resp)
}

// Answer returns the server's answer to req, before faults and truncation:
// from its Answerer when one is set; otherwise from the deepest zone it
// serves that holds the question name, except that a DS question for the
// apex of a zone it serves goes to the parent zone when it serves that too
// (RFC 4035 section 3.1.4.1). With no zone for the name it answers REFUSED.
func (s *Server) Answer(req *dns.Msg) *dns.Msg {
	if len(req.Question) != 1 {
		return errorReply(req, dns.RcodeFormatError)
	}
	s.mu.RLock()
	a := s.answerer
	s.mu.RUnlock()
	if a != nil {
		if resp := a.Answer(req); resp != nil {
			return resp
		}
		return errorReply(req, dns.RcodeServerFailure)
	}
	z := s.zoneFor(req.Question[0].Name, req.Question[0].Qtype)
	if z == nil {
		return errorReply(req, dns.RcodeRefused)
	}
	return z.Answer(req)
}

func (s *Server) zoneFor(qname string, qtype uint16) *authzone.Zone {
	name := dns.CanonicalName(qname)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best, parent *authzone.Zone
	for origin, z := range s.zones {
		if !dns.IsSubDomain(origin, name) {
			continue
		}
		if best == nil || dns.CountLabel(origin) > dns.CountLabel(best.Origin()) {
			best, parent = z, best
		} else if parent == nil || dns.CountLabel(origin) > dns.CountLabel(parent.Origin()) {
			parent = z
		}
	}
	if qtype == dns.TypeDS && best != nil && best.Origin() == name && parent != nil {
		return parent
	}
	return best
}

// errorReply is an empty reply with rcode, with an OPT when req has one.
func errorReply(req *dns.Msg, rcode int) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetRcode(req, rcode)
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(authzone.EDNSSize, opt.Do())
	}
	return resp
}
