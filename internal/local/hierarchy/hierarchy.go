// Package hierarchy builds and starts a whole signed DNS tree on loopback:
// a root with its own trust anchor, TLDs and zones below, each zone signed
// and served by its own authoritative servers, every server on its own
// 127.0.0.0/8 address and all of them on one port, so that glue addresses
// are real.
package hierarchy

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
)

// Address choice: a random 127.x.y.0/24 and port per hierarchy, retried on
// a bind failure, because tests of many packages start hierarchies at once.
const (
	bindAttempts = 50
	minPort      = 20000
	maxPort      = 60000
)

// randomNetwork picks a 127.x.y.0/24 network and a high port; tests
// replace it to force collisions.
var randomNetwork = func() (netip.Addr, uint16) {
	base := netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), 0})
	return base, uint16(minPort + rand.IntN(maxPort-minPort))
}

// Hierarchy is a running signed DNS tree.
type Hierarchy struct {
	mu       sync.Mutex // serialises Resign and PublishDS
	spec     Spec
	port     uint16
	zones    []*Zone
	byOrigin map[string]*Zone
	servers  []*NameServer
}

// Zone is one zone of a hierarchy.
type Zone struct {
	Origin  string
	Zone    *authzone.Zone // shared by all the zone's servers; mutate it in tests
	Parent  *Zone          // nil for the root
	Servers []*NameServer
	Spec    ZoneSpec
}

// NameServer is one authoritative server of a hierarchy.
type NameServer struct {
	Name   string // host name, as in NS records
	Addr   netip.AddrPort
	Server *authserver.Server
}

// Start builds, signs and serves the hierarchy of spec.
func Start(spec Spec) (*Hierarchy, error) {
	h, err := build(spec)
	if err != nil {
		return nil, err
	}
	if err := h.listen(); err != nil {
		return nil, err
	}
	return h, nil
}

func build(spec Spec) (*Hierarchy, error) {
	if spec.Validity == 0 {
		spec.Validity = DefaultValidity
	}
	if spec.Now.IsZero() {
		return nil, errors.New("hierarchy: spec has no signing time (Now)")
	}
	h := &Hierarchy{byOrigin: map[string]*Zone{}}
	hosts := map[string]*NameServer{}
	for _, zs := range spec.Zones {
		zs.Origin = dns.CanonicalName(zs.Origin)
		if _, dup := h.byOrigin[zs.Origin]; dup {
			return nil, fmt.Errorf("hierarchy: zone %s twice in spec", zs.Origin)
		}
		if len(zs.NS) == 0 {
			n := zs.Servers
			if n == 0 {
				n = DefaultServers
			}
			for i := range n {
				zs.NS = append(zs.NS, defaultNSName(zs.Origin, i))
			}
		}
		if zs.TTL == 0 {
			zs.TTL = DefaultTTL
		}
		if zs.Algorithm == 0 {
			zs.Algorithm = dns.ECDSAP256SHA256
		}
		z := &Zone{Origin: zs.Origin, Spec: zs}
		for _, name := range zs.NS {
			name = dns.CanonicalName(name)
			ns := hosts[name]
			if ns == nil {
				ns = &NameServer{Name: name}
				hosts[name] = ns
				h.servers = append(h.servers, ns)
			}
			z.Servers = append(z.Servers, ns)
		}
		h.zones = append(h.zones, z)
		h.byOrigin[z.Origin] = z
	}
	if h.byOrigin["."] == nil {
		return nil, errors.New("hierarchy: spec has no root zone")
	}
	if len(h.servers) > 254 {
		return nil, fmt.Errorf("hierarchy: %d name servers do not fit in a /24", len(h.servers))
	}
	for _, z := range h.zones {
		if z.Origin != "." {
			z.Parent = h.enclosing(parentOf(z.Origin))
		}
	}
	for _, ns := range h.servers {
		if h.enclosing(ns.Name) == nil {
			return nil, fmt.Errorf("hierarchy: name server %s is in no zone", ns.Name)
		}
	}
	h.spec = spec
	return h, nil
}

// enclosing returns the deepest zone at or above name.
func (h *Hierarchy) enclosing(name string) *Zone {
	for n := dns.CanonicalName(name); ; n = parentOf(n) {
		if z := h.byOrigin[n]; z != nil {
			return z
		}
		if n == "." {
			return nil
		}
	}
}

func parentOf(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}

func defaultNSName(origin string, i int) string {
	if origin == "." {
		return string(rune('a'+i)) + ".root-servers."
	}
	return fmt.Sprintf("ns%d.%s", i+1, origin)
}

// listen gives every server an address and starts it, choosing another
// network and port when one is taken; then it builds and signs the zones,
// which need the addresses for their glue.
func (h *Hierarchy) listen() error {
	var err error
	for range bindAttempts {
		base, port := randomNetwork()
		if h.spec.Base.IsValid() {
			base = h.spec.Base
		}
		if h.spec.Port != 0 {
			port = h.spec.Port
		}
		if err = h.bind(base, port); err == nil {
			break
		}
		if h.spec.Base.IsValid() && h.spec.Port != 0 {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("hierarchy: no free address after %d attempts: %w", bindAttempts, err)
	}
	if err := h.buildZones(); err != nil {
		h.Close()
		return err
	}
	return nil
}

// bind starts every server on base+i:port, or none.
func (h *Hierarchy) bind(base netip.Addr, port uint16) error {
	b := base.As4()
	for i, ns := range h.servers {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[0], b[1], b[2], byte(i + 1)}), port)
		ns.Server = authserver.New()
		if err := ns.Server.Start(addr); err != nil {
			for _, started := range h.servers[:i] {
				started.Server.Close()
			}
			return err
		}
		ns.Addr = addr
	}
	h.port = port
	return nil
}

// buildZones makes every zone's content, signs the zones from the deepest
// up (a parent needs its children's DS) and hands them to their servers.
func (h *Hierarchy) buildZones() error {
	for _, z := range h.zones {
		az, err := authzone.Parse(z.Origin, h.zoneText(z))
		if err != nil {
			return fmt.Errorf("hierarchy: zone %s: %w", z.Origin, err)
		}
		z.Zone = az
	}
	order := slices.Clone(h.zones)
	slices.SortStableFunc(order, func(a, b *Zone) int { return dns.CountLabel(b.Origin) - dns.CountLabel(a.Origin) })
	for _, z := range order {
		for _, child := range h.children(z) {
			if err := z.Zone.Add(child.dsRecords()...); err != nil {
				return fmt.Errorf("hierarchy: DS of %s in %s: %w", child.Origin, z.Origin, err)
			}
		}
		if err := h.sign(z); err != nil {
			return err
		}
	}
	for _, z := range h.zones {
		for _, ns := range z.Servers {
			ns.Server.SetZone(z.Zone)
		}
	}
	return nil
}

func (h *Hierarchy) children(z *Zone) []*Zone {
	var out []*Zone
	for _, c := range h.zones {
		if c.Parent == z {
			out = append(out, c)
		}
	}
	return out
}

// zoneText is the zone file of z: SOA, apex NS, the spec's records, the
// delegations to its children with in-bailiwick glue, and the address
// records of the name servers whose names it holds.
func (h *Hierarchy) zoneText(z *Zone) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$TTL %d\n", z.Spec.TTL)
	fmt.Fprintf(&b, "%s SOA %s hostmaster.%s 1 3600 600 86400 %d\n", z.Origin, z.Servers[0].Name, strings.TrimPrefix(z.Origin, "."), DefaultNegativeTTL)
	for _, ns := range z.Servers {
		fmt.Fprintf(&b, "%s NS %s\n", z.Origin, ns.Name)
	}
	b.WriteString(z.Spec.Records)
	b.WriteString("\n")
	for _, c := range h.children(z) {
		for _, ns := range c.Servers {
			fmt.Fprintf(&b, "%s NS %s\n", c.Origin, ns.Name)
			if dns.IsSubDomain(c.Origin, ns.Name) {
				fmt.Fprintf(&b, "%s A %s\n", ns.Name, ns.Addr.Addr())
			}
		}
	}
	for _, ns := range h.servers {
		if h.enclosing(ns.Name) == z {
			fmt.Fprintf(&b, "%s A %s\n", ns.Name, ns.Addr.Addr())
		}
	}
	return b.String()
}

// sign signs z as its spec says, generating its keys the first time.
func (h *Hierarchy) sign(z *Zone) error {
	if z.Spec.Unsigned {
		return nil
	}
	if len(z.Spec.Keys) == 0 {
		roles := []authzone.Role{authzone.KSK, authzone.ZSK}
		if z.Spec.CSK {
			roles = []authzone.Role{authzone.CSK}
		}
		for _, r := range roles {
			k, err := authzone.GenerateKey(z.Origin, z.Spec.Algorithm, r)
			if err != nil {
				return fmt.Errorf("hierarchy: %w", err)
			}
			z.Spec.Keys = append(z.Spec.Keys, k)
		}
	}
	if z.Spec.DS == DSOrphan && len(z.Spec.Publish) == 0 {
		k, err := authzone.GenerateKey(z.Origin, z.Spec.Algorithm, authzone.KSK)
		if err != nil {
			return fmt.Errorf("hierarchy: %w", err)
		}
		z.Spec.Publish = append(z.Spec.Publish, k.DNSKEY)
	}
	err := z.Zone.Sign(authzone.SignOptions{
		Keys:       z.Spec.Keys,
		Publish:    z.Spec.Publish,
		Inception:  h.spec.Now.Add(-InceptionSkew),
		Expiration: h.spec.Now.Add(h.spec.Validity),
		Denial:     z.Spec.Denial,
		NSEC3:      z.Spec.NSEC3,
	})
	if err != nil {
		return fmt.Errorf("hierarchy: %w", err)
	}
	return nil
}

// dsRecords are the DS records the parent publishes for z, per its DSMode.
func (z *Zone) dsRecords() []dns.RR {
	if z.Spec.Unsigned || z.Spec.DS == DSNone {
		return nil
	}
	var out []dns.RR
	if z.Spec.DS == DSOrphan {
		ds := z.Spec.Publish[0].ToDS(dns.SHA256)
		ds.Hdr.Ttl = z.Spec.TTL
		return []dns.RR{ds}
	}
	for _, ds := range z.Zone.DS(dns.SHA256) {
		ds.Hdr.Ttl = z.Spec.TTL
		if z.Spec.DS == DSBogus {
			ds.Digest = strings.Repeat("0", len(ds.Digest)-1) + "1"
		}
		out = append(out, ds)
	}
	return out
}

// Close stops every server.
func (h *Hierarchy) Close() error {
	var errs []error
	for _, ns := range h.servers {
		if ns.Server != nil && ns.Addr.IsValid() {
			errs = append(errs, ns.Server.Close())
		}
	}
	return errors.Join(errs...)
}

// Port returns the port every server of the hierarchy listens on.
func (h *Hierarchy) Port() uint16 { return h.port }

// Now returns the signing time that Resign and PublishDS use.
func (h *Hierarchy) Now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.spec.Now
}

// SetNow changes the signing time of later Resign and PublishDS calls, for
// tests that move a clock forward.
func (h *Hierarchy) SetNow(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.spec.Now = now
}

// RootServers returns the addresses of the root's servers.
func (h *Hierarchy) RootServers() []netip.AddrPort { return h.byOrigin["."].Addrs() }

// Zone returns the zone for origin, or nil.
func (h *Hierarchy) Zone(origin string) *Zone { return h.byOrigin[dns.CanonicalName(origin)] }

// Zones returns every zone, in spec order.
func (h *Hierarchy) Zones() []*Zone { return slices.Clone(h.zones) }

// Servers returns every name server.
func (h *Hierarchy) Servers() []*NameServer { return slices.Clone(h.servers) }

// Addrs returns the addresses of the zone's servers.
func (z *Zone) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(z.Servers))
	for i, ns := range z.Servers {
		out[i] = ns.Addr
	}
	return out
}

// NS maps the zone's name server host names to their addresses.
func (z *Zone) NS() map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	for _, ns := range z.Servers {
		out[ns.Name] = ns.Addr
	}
	return out
}

// TrustAnchorDS returns the DS records of the root's key-signing keys.
func (h *Hierarchy) TrustAnchorDS() []*dns.DS { return h.byOrigin["."].Zone.DS(dns.SHA256) }

// TrustAnchorKeys returns the root's key-signing keys (flags 257).
func (h *Hierarchy) TrustAnchorKeys() []*dns.DNSKEY {
	var out []*dns.DNSKEY
	for _, rr := range h.byOrigin["."].Zone.RRset(".", dns.TypeDNSKEY) {
		if k := rr.(*dns.DNSKEY); k.Flags&dns.SEP != 0 {
			out = append(out, k)
		}
	}
	return out
}

// WriteTrustAnchor writes the root's DS and key-signing DNSKEY records in
// zone-file presentation format, as unbound's trust-anchor-file reads.
func (h *Hierarchy) WriteTrustAnchor(w io.Writer) error {
	for _, ds := range h.TrustAnchorDS() {
		if _, err := fmt.Fprintln(w, ds); err != nil {
			return err
		}
	}
	for _, k := range h.TrustAnchorKeys() {
		if _, err := fmt.Fprintln(w, k); err != nil {
			return err
		}
	}
	return nil
}

// Resign signs the zone for origin again after a change to its content or
// keys (with the spec's signing time), and publishes its current DS in
// the parent per its DSMode, re-signing the parent. Both SOA serials go up.
func (h *Hierarchy) Resign(origin string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	z := h.Zone(origin)
	if z == nil {
		return fmt.Errorf("hierarchy: no zone %s", origin)
	}
	if err := z.Zone.IncrementSerial(); err != nil {
		return fmt.Errorf("hierarchy: %w", err)
	}
	if err := h.sign(z); err != nil {
		return err
	}
	if z.Parent == nil {
		return nil
	}
	return h.publishDS(z, z.dsRecords())
}

// PublishDS replaces the DS RRset for origin in its parent by ds (none: an
// insecure delegation) and re-signs the parent.
func (h *Hierarchy) PublishDS(origin string, ds ...*dns.DS) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	z := h.Zone(origin)
	if z == nil || z.Parent == nil {
		return fmt.Errorf("hierarchy: no delegated zone %s", origin)
	}
	rrs := make([]dns.RR, len(ds))
	for i, d := range ds {
		rrs[i] = d
	}
	return h.publishDS(z, rrs)
}

func (h *Hierarchy) publishDS(z *Zone, ds []dns.RR) error {
	p := z.Parent
	if err := p.Zone.SetRRset(z.Origin, dns.TypeDS, ds...); err != nil {
		return fmt.Errorf("hierarchy: %w", err)
	}
	if err := p.Zone.IncrementSerial(); err != nil {
		return fmt.Errorf("hierarchy: %w", err)
	}
	return h.sign(p)
}
