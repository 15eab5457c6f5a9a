// Package vpcresolver runs the local stack's VPC resolvers: one recursive DNS
// server per VPC on a loopback address, over UDP and TCP, that iterates from
// the stack's root servers with the validating resolver of package dnssec.
//
// Like the Route 53 VPC resolver (AmazonProvidedDNS), it validates only when
// the VPC's Route 53 Resolver DNSSEC configuration says so, answers SERVFAIL
// for bogus data when it does, and never sets the AD bit. Without validation
// it serves whatever the authoritative servers gave, bogus or not, as a
// non-validating resolver does.
package vpcresolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnslisten"
)

// Policy numbers, each with the reason it has this value.
const (
	// QueryTimeout bounds the work done for one client query: a cold chain of
	// the local hierarchy resolves in milliseconds, while dnsquery's retries
	// against dead servers take a few seconds; stub resolvers give up after
	// about five seconds anyway.
	QueryTimeout = 10 * time.Second
	// UDPSize is the EDNS buffer size advertised (DNS flag day 2020): it
	// avoids IP fragmentation.
	UDPSize = 1232
)

// Config configures one VPC resolver.
type Config struct {
	// VPCID names the VPC, in errors and logs.
	VPCID string
	// Listen is the loopback address to serve on, over UDP and TCP; port 0
	// picks a port free for both.
	Listen netip.AddrPort
	// Resolver configures the iterative resolver: the stack's root servers,
	// its trust anchor and its clock (Now), which also ages the cache.
	Resolver dnssec.Config
	// Validation reports whether the VPC validates DNSSEC now, e.g.
	// func() bool { return svc.Validation(vpcID) } with a
	// *resolveremu.Service. Nil means the resolver always validates.
	Validation func() bool
}

// Server is a running VPC resolver. It is safe for concurrent use.
type Server struct {
	vpcID      string
	resolver   *dnssec.Resolver
	now        func() time.Time
	validation func() bool
	ages       *ages

	mu        sync.Mutex // guards validated, seen
	validated bool       // the setting the cache was filled under
	seen      bool       // validated has been read once

	queries atomic.Int64
	flushes atomic.Int64

	ln     *dnslisten.Listener
	ctx    context.Context // ends at Close, cancelling queries in flight
	cancel context.CancelFunc
	close  sync.Once
}

// New returns a VPC resolver that is not yet listening: Answer works, Start
// serves it on the network.
func New(cfg Config) (*Server, error) {
	r, err := dnssec.NewResolver(cfg.Resolver)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin(cfg.VPCID), err)
	}
	s := &Server{
		vpcID:      cfg.VPCID,
		resolver:   r,
		now:        cfg.Resolver.Now,
		validation: cfg.Validation,
		ages:       newAges(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.validation == nil {
		s.validation = func() bool { return true }
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// origin prefixes errors: the package and the VPC.
func origin(vpcID string) string {
	if vpcID == "" {
		return "vpcresolver"
	}
	return "vpcresolver " + vpcID
}

// Start builds a VPC resolver and serves it on cfg.Listen.
func Start(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.listen(cfg.Listen); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr netip.AddrPort) error {
	ln, err := dnslisten.Start(addr, s)
	if err != nil {
		return fmt.Errorf("%s: %w", origin(s.vpcID), err)
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server listens on (after Start).
func (s *Server) Addr() netip.AddrPort {
	if s.ln == nil {
		return netip.AddrPort{}
	}
	return s.ln.Addr()
}

// VPCID returns the VPC the server resolves for.
func (s *Server) VPCID() string { return s.vpcID }

// Queries returns how many client queries the server has answered.
func (s *Server) Queries() int64 { return s.queries.Load() }

// Flushes returns how many times the cache was emptied because the VPC's
// validation setting changed.
func (s *Server) Flushes() int64 { return s.flushes.Load() }

// Flush empties the cache.
func (s *Server) Flush() {
	s.resolver.Flush()
	s.ages.flush()
}

// Close stops serving, cancels the queries in flight and waits for the
// server's goroutines to end.
func (s *Server) Close() error {
	var errs []error
	s.close.Do(func() {
		s.cancel()
		if s.ln != nil {
			errs = append(errs, s.ln.Close())
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close: %w", origin(s.vpcID), err)
	}
	return nil
}

// ServeDNS answers one query; it implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	ctx, cancel := context.WithTimeout(s.ctx, QueryTimeout)
	defer cancel()
	resp := s.Answer(ctx, req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		resp.Truncate(size)
	} else {
		resp.Compress = true
	}
	w.WriteMsg(resp)
}

// validating reads the VPC's setting and empties the cache when it changed
// since the last query, as the Route 53 Resolver does when its DNSSEC
// configuration changes.
func (s *Server) validating() bool {
	v := s.validation()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen && v != s.validated {
		s.Flush()
		s.flushes.Add(1)
	}
	s.validated, s.seen = v, true
	return v
}

// Answer resolves req and returns the response, before truncation. With
// validation on and the CD bit clear, bogus and indeterminate answers are
// SERVFAIL with an Extended DNS Error (RFC 8914: 6 "DNSSEC Bogus", 5
// "DNSSEC Indeterminate", 22 "No Reachable Authority") whose text is the
// reason; secure and insecure answers are served. With validation off, or
// the CD bit set (RFC 4035 section 3.2.2), the data is served whatever its
// verdict. The AD bit is never set. RRSIGs are included when the query has
// the DO bit (RFC 4035 section 3.2.1); negative answers carry the zone's SOA
// (RFC 2308 section 3) but no NSEC or NSEC3 proofs.
func (s *Server) Answer(ctx context.Context, req *dns.Msg) *dns.Msg {
	s.queries.Add(1)
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	if opt != nil {
		resp.SetEdns0(UDPSize, do)
		if opt.Version() != 0 {
			resp.Rcode = dns.RcodeBadVers
			return resp
		}
	}
	switch {
	case req.Response || req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	case len(req.Question) != 1:
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	switch {
	case q.Qclass != dns.ClassINET:
		resp.Rcode = dns.RcodeRefused
		return resp
	case isMetaType(q.Qtype):
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	}
	validate := s.validating()
	res, err := s.resolver.Resolve(ctx, q.Name, q.Qtype)
	if err != nil {
		resp.Rcode = dns.RcodeServerFailure
		if errors.Is(err, dnssec.ErrBadQuery) {
			resp.Rcode = dns.RcodeFormatError
		}
		return resp
	}
	checking := validate && !req.CheckingDisabled
	if fail, code := failure(res, checking); fail {
		resp.Rcode = dns.RcodeServerFailure
		if opt != nil {
			addEDE(resp, code, res.Reason)
		}
		return resp
	}
	now := s.now()
	resp.Rcode = res.Rcode
	resp.Answer = s.records(res.Answer, res.RRSIGs, do, now)
	if negative(res) && res.Zone != "" {
		resp.Ns = s.negativeSOA(ctx, res.Zone, checking, do, now)
	}
	return resp
}

// failure decides whether res is answered SERVFAIL, and with which Extended
// DNS Error code.
func failure(res *dnssec.Result, checking bool) (bool, uint16) {
	switch {
	case checking && res.Status == dnssec.Bogus:
		return true, dns.ExtendedErrorCodeDNSBogus
	case res.Rcode == dns.RcodeServerFailure:
		return true, dns.ExtendedErrorCodeNoReachableAuthority
	case checking && res.Status == dnssec.Indeterminate:
		return true, dns.ExtendedErrorCodeDNSSECIndeterminate
	}
	return false, 0
}

// addEDE adds an Extended DNS Error option (RFC 8914) to resp's OPT record.
func addEDE(resp *dns.Msg, code uint16, text string) {
	opt := resp.IsEdns0()
	if opt == nil {
		return
	}
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: code, ExtraText: text})
}

// isMetaType reports whether t is a query-only or meta type that a
// recursive resolver does not look up (RFC 6895 section 3.1).
func isMetaType(t uint16) bool {
	switch t {
	case 0, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeMAILA, dns.TypeMAILB, dns.TypeTSIG, dns.TypeTKEY:
		return true
	}
	return false
}

// negative reports whether res is NXDOMAIN or NODATA: no RRset of the type
// asked at the end of the CNAME chain.
func negative(res *dnssec.Result) bool {
	switch res.Rcode {
	case dns.RcodeNameError:
		return true
	case dns.RcodeSuccess:
		return !slices.ContainsFunc(res.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == res.Type })
	}
	return false
}

// records returns the answer RRsets with their TTLs counted down on the
// clock, each followed by its RRSIGs when do is set.
func (s *Server) records(answer []dns.RR, sigs []*dns.RRSIG, do bool, now time.Time) []dns.RR {
	var out []dns.RR
	for _, set := range rrsets(answer) {
		h := set[0].Header()
		ttl := s.ages.remaining(set, now)
		for _, rr := range set {
			rr = dns.Copy(rr)
			rr.Header().Ttl = ttl
			out = append(out, rr)
		}
		if !do {
			continue
		}
		for _, sig := range sigs {
			if sig.TypeCovered == h.Rrtype && dns.CanonicalName(sig.Hdr.Name) == dns.CanonicalName(h.Name) {
				c := dns.Copy(sig)
				c.Header().Ttl = ttl
				out = append(out, c)
			}
		}
	}
	return out
}

// negativeSOA returns the SOA of zone (and its RRSIGs when do is set) for the
// authority section of a negative answer, with the negative TTL:
// min(SOA TTL, SOA MINIMUM) (RFC 2308 section 3). It returns nil when the SOA
// cannot be had with a verdict the policy accepts.
func (s *Server) negativeSOA(ctx context.Context, zone string, checking, do bool, now time.Time) []dns.RR {
	res, err := s.resolver.Resolve(ctx, zone, dns.TypeSOA)
	if err != nil || res.Rcode != dns.RcodeSuccess {
		return nil
	}
	if fail, _ := failure(res, checking); fail {
		return nil
	}
	var soa []dns.RR
	for _, rr := range res.Answer {
		if rr.Header().Rrtype == dns.TypeSOA && dns.CanonicalName(rr.Header().Name) == dns.CanonicalName(zone) {
			soa = append(soa, rr)
		}
	}
	if len(soa) == 0 {
		return nil
	}
	out := s.records(soa, res.RRSIGs, do, now)
	for _, rr := range out {
		if neg := soa[0].(*dns.SOA).Minttl; rr.Header().Ttl > neg {
			rr.Header().Ttl = neg
		}
	}
	return out
}

// rrsets splits records into RRsets (same owner and type), in order of first
// appearance.
func rrsets(rrs []dns.RR) [][]dns.RR {
	var out [][]dns.RR
	index := map[string]int{}
	for _, rr := range rrs {
		h := rr.Header()
		k := dns.CanonicalName(h.Name) + "/" + dns.TypeToString[h.Rrtype]
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], rr)
	}
	return out
}
