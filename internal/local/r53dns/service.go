package r53dns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	// bindAttempts bounds the random loopback addresses tried for one name
	// server: tests of many packages bind addresses at once.
	bindAttempts = 50
	// maxHistory bounds the states kept per zone for lagging servers.
	maxHistory = 64
)

// Source is what the servers read of the Route 53 emulator;
// *route53emu.Service satisfies it.
type Source interface {
	Zones() []route53emu.ZoneRef
	Snapshot(zoneID string) (route53emu.Snapshot, error)
	Subscribe(fn func(zoneID string)) (cancel func())
}

// Config describes the name servers to run.
type Config struct {
	Clock  clock.Clock // the real clock when nil
	Source Source
	// Port is the port every server listens on: the local hierarchy's
	// shared port, so that glue needs no port. Required.
	Port uint16
	// Addr, when set, chooses the address of the name server host name
	// for its attempt-th try (0, 1...); by default a random 127.x.y.z.
	Addr func(name string, attempt int) netip.Addr
	// OnServer is called, without locks held, after the server for a name
	// server host starts: the local stack publishes its address in the TLD.
	OnServer func(name string, addr netip.Addr) error
	// Validity and Refresh, when not 0, replace Validity and
	// RefreshInterval (a quarter of Validity, at most, when only Validity
	// is set): a stack on the real clock signs for minutes so that
	// outside validators see a lost key break the zone while they watch.
	Validity, Refresh time.Duration
	// MaxTTL, when not 0, caps every TTL served (DNSKEY and denial
	// records included), for the same reason.
	MaxTTL uint32
}

// Service runs the name servers of every hosted zone of its Source.
type Service struct {
	cfg    Config
	clk    clock.Clock
	policy policy
	cancel func()

	syncMu sync.Mutex // serialises Sync

	mu      sync.Mutex
	zones   map[string]*hostedZone // by zone ID
	created int                    // the Source's ZonesCreated at the last full Sync
	servers map[string]*Server     // by host name
	closed  bool
}

// Server is one Route 53 name server host: one address, every zone whose
// delegation set names it.
type Server struct {
	Name string
	Addr netip.AddrPort

	svc *Service
	srv *authserver.Server

	mu    sync.Mutex
	lag   time.Duration
	zones []*hostedZone
}

// hostedZone is one hosted zone: its signer and the states seen of it.
type hostedZone struct {
	id, name string
	signer   *signer
	servers  []*Server // in delegation set order

	mu      sync.Mutex
	history []observation // ascending in time
}

// observation is a zone's state from the time it was first seen.
type observation struct {
	at   time.Time
	fp   string
	view *view // nil: the zone was deleted
}

// Start starts the name servers of every hosted zone of cfg.Source and
// follows the Source for new zones and changes.
func Start(cfg Config) (*Service, error) {
	if cfg.Source == nil {
		return nil, errors.New("r53dns: no Source")
	}
	if cfg.Port == 0 {
		return nil, errors.New("r53dns: no port")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	p := defaultPolicy
	if cfg.Validity > 0 {
		p.validity = cfg.Validity
		p.refresh = min(p.refresh, cfg.Validity/4)
	}
	if cfg.Refresh > 0 {
		p.refresh = cfg.Refresh
	}
	p.maxTTL = cfg.MaxTTL
	if p.refresh >= p.validity {
		return nil, fmt.Errorf("r53dns: refresh %v must be shorter than validity %v", p.refresh, p.validity)
	}
	s := &Service{
		cfg:     cfg,
		clk:     cfg.Clock,
		policy:  p,
		zones:   map[string]*hostedZone{},
		servers: map[string]*Server{},
	}
	if err := s.Sync(); err != nil {
		s.Close()
		return nil, err
	}
	s.cancel = cfg.Source.Subscribe(func(id string) { s.SyncZones([]string{id}) })
	return s, nil
}

// Sync starts the servers of hosted zones created since the last Sync and
// records the current state of every zone. It runs on every Source event;
// call it to be sure a new zone's servers run before asking for them.
func (s *Service) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	var errs []error
	for _, ref := range s.cfg.Source.Zones() {
		hz, err := s.zone(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		hz.observe(s.cfg.Source, s.clk.Now())
	}
	s.mu.Lock()
	var gone []*hostedZone
	listed := map[string]bool{}
	for _, ref := range s.cfg.Source.Zones() {
		listed[ref.ID] = true
	}
	for id, hz := range s.zones {
		if !listed[id] {
			gone = append(gone, hz)
		}
	}
	s.mu.Unlock()
	for _, hz := range gone {
		hz.observe(s.cfg.Source, s.clk.Now())
	}
	return errors.Join(errs...)
}

// SyncZones records the current state of the zones ids (a Source event,
// or the changes that became INSYNC by a clock move), and starts the
// servers of zones created since the last Sync: it costs what those zones
// cost, not what every zone does.
func (s *Service) SyncZones(ids []string) error {
	if len(ids) == 0 {
		return s.SyncNew()
	}
	refs, canRef := s.cfg.Source.(interface {
		ZoneRef(string) (route53emu.ZoneRef, bool)
	})
	s.syncMu.Lock()
	var unknown bool
	var errs []error
	now := s.clk.Now()
	for _, id := range ids {
		s.mu.Lock()
		hz := s.zones[id]
		s.mu.Unlock()
		if hz == nil && canRef {
			ref, ok := refs.ZoneRef(id)
			if !ok {
				continue // deleted before it was ever served
			}
			var err error
			if hz, err = s.zone(ref); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if hz == nil {
			unknown = true
			continue
		}
		hz.observe(s.cfg.Source, now)
	}
	s.syncMu.Unlock()
	if unknown {
		return s.Sync()
	}
	return errors.Join(errs...)
}

// SyncNew starts the servers of zones created since the last Sync, when
// the Source counts the zones it created (route53emu does); otherwise it
// is Sync.
func (s *Service) SyncNew() error {
	c, ok := s.cfg.Source.(interface{ ZonesCreated() int })
	if !ok {
		return s.Sync()
	}
	n := c.ZonesCreated()
	s.mu.Lock()
	seen := s.created
	s.mu.Unlock()
	if n == seen {
		return nil
	}
	err := s.Sync()
	s.mu.Lock()
	s.created = max(s.created, n)
	s.mu.Unlock()
	return err
}

// SyncDue records the zones whose changes became INSYNC by now, when the
// Source tells them (route53emu.TakeDue); otherwise it is Sync.
func (s *Service) SyncDue(now time.Time) error {
	d, ok := s.cfg.Source.(interface{ TakeDue(time.Time) []string })
	if !ok {
		return s.Sync()
	}
	if err := s.SyncNew(); err != nil {
		return err
	}
	if ids := d.TakeDue(now); len(ids) > 0 {
		return s.SyncZones(ids)
	}
	return nil
}

// zone returns the hostedZone of ref, starting its servers the first time.
func (s *Service) zone(ref route53emu.ZoneRef) (*hostedZone, error) {
	s.mu.Lock()
	hz := s.zones[ref.ID]
	s.mu.Unlock()
	if hz != nil {
		return hz, nil
	}
	snap, err := s.cfg.Source.Snapshot(ref.ID)
	if err != nil && !errors.Is(err, route53emu.ErrNotPropagated) {
		return nil, fmt.Errorf("r53dns: zone %s: %w", ref.ID, err)
	}
	names := snap.NameServers
	if len(names) == 0 {
		// Still PENDING: the delegation set is known, but Snapshot
		// does not give it yet.
		if ns, ok := s.cfg.Source.(interface{ NameServers(string) []string }); ok {
			names = ns.NameServers(ref.ID)
		}
	}
	sg, err := newSignerPolicy(dns.CanonicalName(ref.Name), s.policy)
	if err != nil {
		return nil, err
	}
	hz = &hostedZone{id: ref.ID, name: dns.CanonicalName(ref.Name), signer: sg}
	for _, name := range names {
		sv, err := s.server(dns.CanonicalName(name))
		if err != nil {
			return nil, err
		}
		hz.servers = append(hz.servers, sv)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("r53dns: closed")
	}
	s.zones[ref.ID] = hz
	s.mu.Unlock()
	for _, sv := range hz.servers {
		sv.mu.Lock()
		sv.zones = append(sv.zones, hz)
		sv.mu.Unlock()
	}
	return hz, nil
}

// server returns the server of a name server host, starting it the first
// time on a free loopback address.
func (s *Service) server(name string) (*Server, error) {
	s.mu.Lock()
	sv := s.servers[name]
	s.mu.Unlock()
	if sv != nil {
		return sv, nil
	}
	sv = &Server{Name: name, svc: s, srv: authserver.New()}
	sv.srv.SetAnswerer(sv)
	var err error
	for attempt := range bindAttempts {
		addr := randomAddr()
		if s.cfg.Addr != nil {
			addr = s.cfg.Addr(name, attempt)
		}
		ap := netip.AddrPortFrom(addr, s.cfg.Port)
		if err = sv.srv.Start(ap); err == nil {
			sv.Addr = ap
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("r53dns: name server %s: %w", name, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sv.srv.Close()
		return nil, errors.New("r53dns: closed")
	}
	s.servers[name] = sv
	s.mu.Unlock()
	if s.cfg.OnServer != nil {
		if err := s.cfg.OnServer(name, sv.Addr.Addr()); err != nil {
			return nil, fmt.Errorf("r53dns: publish name server %s: %w", name, err)
		}
	}
	return sv, nil
}

func randomAddr() netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(253))})
}

// observe records zone hz's current state when it differs from the last.
func (hz *hostedZone) observe(src Source, now time.Time) {
	snap, err := src.Snapshot(hz.id)
	var fp string
	var v *view
	switch {
	case errors.Is(err, route53emu.ErrNotPropagated):
		return
	case err != nil:
		fp = "deleted"
	default:
		fp = fingerprint(snap)
		hz.mu.Lock()
		same := len(hz.history) > 0 && hz.history[len(hz.history)-1].fp == fp
		hz.mu.Unlock()
		if same {
			return // building the view is the costly part
		}
		v = newViewPolicy(snap, hz.signer.policy)
	}
	hz.mu.Lock()
	defer hz.mu.Unlock()
	if n := len(hz.history); n > 0 && hz.history[n-1].fp == fp {
		return
	}
	if n := len(hz.history); n == 0 && v == nil {
		return
	}
	hz.history = append(hz.history, observation{at: now, fp: fp, view: v})
	if len(hz.history) > maxHistory {
		hz.history = slices.Delete(hz.history, 0, len(hz.history)-maxHistory)
	}
}

// viewAt returns the state a server with lag serves at now: the newest
// seen at or before now-lag, or nil when there is none yet or the zone
// was deleted.
func (hz *hostedZone) viewAt(now time.Time, lag time.Duration) *view {
	cut := now.Add(-lag)
	hz.mu.Lock()
	defer hz.mu.Unlock()
	for i := len(hz.history) - 1; i >= 0; i-- {
		if !hz.history[i].at.After(cut) {
			return hz.history[i].view
		}
	}
	return nil
}

// fingerprint identifies what a snapshot makes the servers serve.
func fingerprint(snap route53emu.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v", snap.ChangeID, snap.Signing)
	for _, k := range snap.KSKs {
		fmt.Fprintf(&b, " %s=%s", k.Name, k.Status)
	}
	return b.String()
}

// Answer answers req as this Route 53 name server does now: from the
// deepest zone it serves that holds the question name, as of the zone's
// state lag ago; REFUSED for a name in no zone it serves. It implements
// authserver.Answerer.
func (sv *Server) Answer(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	qname := dns.CanonicalName(q.Name)
	now := sv.svc.clk.Now()
	sv.mu.Lock()
	lag, zones := sv.lag, slices.Clone(sv.zones)
	sv.mu.Unlock()
	var best, parentZone *hostedZone
	var bestView, parentView *view
	for _, hz := range zones {
		if !dns.IsSubDomain(hz.name, qname) {
			continue
		}
		hz.observe(sv.svc.cfg.Source, now)
		v := hz.viewAt(now, lag)
		if v == nil {
			continue
		}
		if best == nil || dns.CountLabel(hz.name) > dns.CountLabel(best.name) {
			best, bestView, parentZone, parentView = hz, v, best, bestView
		} else if parentZone == nil || dns.CountLabel(hz.name) > dns.CountLabel(parentZone.name) {
			parentZone, parentView = hz, v
		}
	}
	if best == nil {
		resp := new(dns.Msg).SetRcode(req, dns.RcodeRefused)
		if opt := req.IsEdns0(); opt != nil {
			resp.SetEdns0(1232, opt.Do())
		}
		return resp
	}
	// A DS question for the apex of a zone goes to the parent zone when
	// this server serves that too (RFC 4035 section 3.1.4.1).
	if q.Qtype == dns.TypeDS && best.name == qname && parentZone != nil {
		best, bestView = parentZone, parentView
	}
	return answer(bestView, best.signer, req, now)
}

// SetLag makes the server serve every zone as it was lag ago (0: current).
func (sv *Server) SetLag(lag time.Duration) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.lag = lag
}

// Lag returns the server's lag.
func (sv *Server) Lag() time.Duration {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.lag
}

// SetFaults replaces the server's faults (drop, REFUSED, SERVFAIL, lame,
// truncated UDP, delay).
func (sv *Server) SetFaults(f authserver.Faults) { sv.srv.SetFaults(f) }

// Faults returns the server's faults.
func (sv *Server) Faults() authserver.Faults { return sv.srv.Faults() }

// Queries returns how many queries the server has received.
func (sv *Server) Queries() int64 { return sv.srv.Queries() }

// Servers returns every name server, by name.
func (s *Service) Servers() []*Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Server, 0, len(s.servers))
	for _, sv := range s.servers {
		out = append(out, sv)
	}
	slices.SortFunc(out, func(a, b *Server) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Server returns the server of a name server host name, or nil.
func (s *Service) Server(name string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.servers[dns.CanonicalName(name)]
}

// Zone is a hosted zone as the name servers serve it.
type Zone struct {
	ID      string
	Name    string    // fully qualified
	Servers []*Server // in delegation set order
}

// Zones returns every hosted zone the servers know, by name then ID.
func (s *Service) Zones() []Zone {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Zone, 0, len(s.zones))
	for _, hz := range s.zones {
		out = append(out, Zone{ID: hz.id, Name: hz.name, Servers: slices.Clone(hz.servers)})
	}
	slices.SortFunc(out, func(a, b Zone) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ZonesNamed returns the hosted zones named name (fully qualified) by ID:
// Zones' answer for one name without sorting every zone.
func (s *Service) ZonesNamed(name string) []Zone {
	s.mu.Lock()
	var out []Zone
	for _, hz := range s.zones {
		if hz.name == name {
			out = append(out, Zone{ID: hz.id, Name: hz.name, Servers: slices.Clone(hz.servers)})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Zone) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ZoneServers returns the servers of a hosted zone, in delegation set
// order (syncing first when the zone is new); none for an unknown zone.
func (s *Service) ZoneServers(zoneID string) []*Server {
	if hz := s.lookup(zoneID); hz != nil {
		return slices.Clone(hz.servers)
	}
	return nil
}

// lookup returns the hostedZone of zoneID, syncing once when it is not
// known yet.
func (s *Service) lookup(zoneID string) *hostedZone {
	zoneID = strings.TrimPrefix(zoneID, "/hostedzone/")
	for range 2 {
		s.mu.Lock()
		hz := s.zones[zoneID]
		s.mu.Unlock()
		if hz != nil {
			return hz
		}
		s.Sync()
	}
	return nil
}

// ZSK returns the managed zone-signing key of a hosted zone, or nil for an
// unknown zone.
func (s *Service) ZSK(zoneID string) *dns.DNSKEY {
	if hz := s.lookup(zoneID); hz != nil {
		return dns.Copy(hz.signer.zsk).(*dns.DNSKEY)
	}
	return nil
}

// Close stops following the Source and stops every server.
func (s *Service) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Lock()
	s.closed = true
	servers := make([]*Server, 0, len(s.servers))
	for _, sv := range s.servers {
		servers = append(servers, sv)
	}
	s.mu.Unlock()
	var errs []error
	for _, sv := range servers {
		errs = append(errs, sv.srv.Close())
	}
	return errors.Join(errs...)
}
