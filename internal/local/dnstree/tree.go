// Package dnstree starts the local stack's DNS tree on loopback: a signed
// root with its own trust anchor, the TLD "test." run by a registry whose
// servers apply delegation and DS changes after a configurable lag, and the
// Route 53-style name servers of every hosted zone of the Route 53
// emulator, signing online through the KMS emulator. Every server has its
// own 127.x.y.z address and all share one port, so glue is real and
// validators (internal/dnssec, unbound, delv) can iterate from the root.
//
// Time comes from one clock: with a virtual clock a two-day wait passes in
// milliseconds, and TTLs, signature validity and API delays all follow it.
package dnstree

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/domainsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/r53dns"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/registry"
)

// TLD is the top-level domain of the local stack: the registry's zone and
// the domain of the Route 53 name servers (route53emu's default).
const TLD = "test."

// DefaultTLDServers is the number of name servers of the TLD.
const DefaultTLDServers = 2

// Config describes a tree.
type Config struct {
	Clock clock.Clock // the real clock when nil
	// Route53 is the Route 53 emulator whose hosted zones the tree serves
	// (*route53emu.Service satisfies r53dns.Source). Required.
	Route53 r53dns.Source
	// Registrar, when set, gets the TLD registry as its Registry and hears
	// of the domains registered through RegisterDomain.
	Registrar Registrar
	// TLDServers is the number of the TLD's name servers (ns1.test., ...);
	// 0 means DefaultTLDServers.
	TLDServers int
	// Parent, when set, is bound to the tree: give the same one to
	// route53emu.New (Options.Parent) so that its parent guards ask the
	// tree's servers.
	Parent *Parent
	// Base and Port optionally fix the addresses (see hierarchy.Spec).
	Base netip.Addr
	Port uint16
	// Validity, Refresh and MaxTTL, when not 0, replace the signature
	// validity, the refresh interval and cap the TTLs of every zone of the
	// tree (see registry.Config and r53dns.Config): a tree on the real
	// clock uses minutes, so that outside tools can watch changes.
	Validity, Refresh time.Duration
	MaxTTL            uint32
}

// Registrar is what the tree needs of the Route 53 Domains emulator;
// *domainsemu.Service satisfies it. Start makes the TLD registry its
// Registry, so that successful DS operations reach the TLD servers.
type Registrar interface {
	RegisterDomain(name string, nameservers []string) error
	SetRegistry(r domainsemu.Registry)
}

// Tree is a running DNS tree.
type Tree struct {
	cfg       Config
	clk       clock.Clock
	h         *hierarchy.Hierarchy
	root      *registry.Registry
	tld       *registry.Registry
	r53       *r53dns.Service
	registrar Registrar
}

// Start starts the root, the TLD and the Route 53 name servers.
func Start(cfg Config) (*Tree, error) {
	if cfg.Route53 == nil {
		return nil, errors.New("dnstree: no Route 53 source")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.TLDServers == 0 {
		cfg.TLDServers = DefaultTLDServers
	}
	h, err := hierarchy.Start(hierarchy.Spec{
		Now:   cfg.Clock.Now(),
		Zones: []hierarchy.ZoneSpec{{Origin: "."}, {Origin: TLD, Servers: cfg.TLDServers}},
		Base:  cfg.Base,
		Port:  cfg.Port,
	})
	if err != nil {
		return nil, fmt.Errorf("dnstree: %w", err)
	}
	t := &Tree{clk: cfg.Clock, h: h, registrar: cfg.Registrar, cfg: cfg}
	var r53 atomic.Pointer[r53dns.Service]
	t.root, err = t.registryFor(h.Zone("."), nil)
	if err == nil {
		t.tld, err = t.registryFor(h.Zone(TLD), func() {
			// New hosted zones get their servers before anyone asks
			// the TLD for their addresses.
			if s := r53.Load(); s != nil {
				s.SyncNew()
			}
		})
	}
	if err == nil {
		t.r53, err = r53dns.Start(r53dns.Config{
			Clock:  cfg.Clock,
			Source: cfg.Route53,
			Port:   h.Port(),
			OnServer: func(name string, addr netip.Addr) error {
				return t.tld.SetHost(name, addr)
			},
			Validity: cfg.Validity,
			Refresh:  cfg.Refresh,
			MaxTTL:   cfg.MaxTTL,
		})
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("dnstree: %w", err)
	}
	r53.Store(t.r53)
	if cfg.Registrar != nil {
		cfg.Registrar.SetRegistry(t.tld)
	}
	if cfg.Parent != nil {
		cfg.Parent.bind(t)
	}
	return t, nil
}

func (t *Tree) registryFor(z *hierarchy.Zone, before func()) (*registry.Registry, error) {
	servers := make([]*authserver.Server, len(z.Servers))
	for i, ns := range z.Servers {
		servers[i] = ns.Server
	}
	return registry.New(registry.Config{
		Clock:        t.clk,
		Origin:       z.Origin,
		Records:      z.Zone.Records(),
		Keys:         z.Spec.Keys,
		Servers:      servers,
		BeforeAnswer: before,
		Validity:     t.cfg.Validity,
		Refresh:      t.cfg.Refresh,
		MaxTTL:       t.cfg.MaxTTL,
	})
}

// RegisterDomain registers name (e.g. "example.test") with the Registrar,
// when there is one, and delegates it in the TLD to nameservers (subject to
// the TLD servers' lag).
func (t *Tree) RegisterDomain(name string, nameservers []string) error {
	if t.registrar != nil {
		if err := t.registrar.RegisterDomain(name, nameservers); err != nil {
			return fmt.Errorf("dnstree: register %s: %w", name, err)
		}
	}
	if err := t.tld.Delegate(name, nameservers); err != nil {
		return fmt.Errorf("dnstree: %w", err)
	}
	return nil
}

// Sync starts the name servers of hosted zones created since the last
// event of the Route 53 emulator (see r53dns.Service.Sync).
func (t *Tree) Sync() error { return t.r53.Sync() }

// SyncDue records the hosted zones whose changes became INSYNC by now (see
// r53dns.Service.SyncDue): what a clock move needs, at the cost of those
// zones only.
func (t *Tree) SyncDue(now time.Time) error { return t.r53.SyncDue(now) }

// Port returns the port every server listens on.
func (t *Tree) Port() uint16 { return t.h.Port() }

// RootServers returns the addresses of the root's servers.
func (t *Tree) RootServers() []netip.AddrPort { return t.h.RootServers() }

// TLDServers returns the addresses of the TLD's servers, in registry
// server order (see Registry.SetLag).
func (t *Tree) TLDServers() []netip.AddrPort { return t.h.Zone(TLD).Addrs() }

// TrustAnchors returns the root's trust anchor as DS records, the form
// dnssec.Config.Anchors takes.
func (t *Tree) TrustAnchors() []dns.RR {
	var out []dns.RR
	for _, ds := range t.h.TrustAnchorDS() {
		out = append(out, ds)
	}
	return out
}

// WriteTrustAnchor writes the root's trust anchor as unbound reads it.
func (t *Tree) WriteTrustAnchor(w io.Writer) error { return t.h.WriteTrustAnchor(w) }

// WriteDelvAnchors writes the root's trust anchor as delv -a reads it.
func (t *Tree) WriteDelvAnchors(w io.Writer) error { return t.h.WriteDelvAnchors(w) }

// WriteUnboundConfig writes the trust anchor and an unbound.conf into c.Dir
// and returns the configuration's path (see hierarchy.WriteUnboundConfig).
// Besides the root and the TLD, every hosted zone known now gets a stub
// zone listing its Route 53 servers, because unbound would send queries to
// glue addresses on port 53; write it again after creating hosted zones.
func (t *Tree) WriteUnboundConfig(c hierarchy.UnboundConfig) (string, error) {
	conf, err := t.h.WriteUnboundConfig(c)
	if err != nil {
		return "", fmt.Errorf("dnstree: %w", err)
	}
	t.r53.Sync()
	var b strings.Builder
	for _, z := range t.r53.Zones() {
		fmt.Fprintf(&b, "\nstub-zone:\n\tname: %q\n", z.Name)
		for _, sv := range z.Servers {
			fmt.Fprintf(&b, "\tstub-addr: %s@%d\n", sv.Addr.Addr(), sv.Addr.Port())
		}
	}
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", fmt.Errorf("dnstree: unbound config: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return "", fmt.Errorf("dnstree: unbound config: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("dnstree: unbound config: %w", err)
	}
	return conf, nil
}

// Root returns the root zone's registry (its servers, lag, signing).
func (t *Tree) Root() *registry.Registry { return t.root }

// Registry returns the TLD's registry: SetDS, Delegate, SetLag per server.
func (t *Tree) Registry() *registry.Registry { return t.tld }

// Route53 returns the Route 53 name servers: per-zone servers, lag, faults.
func (t *Tree) Route53() *r53dns.Service { return t.r53 }

// Hierarchy returns the hierarchy that holds the root and TLD servers, for
// their faults (NameServer.Server.SetFaults).
func (t *Tree) Hierarchy() *hierarchy.Hierarchy { return t.h }

// Close stops every server.
func (t *Tree) Close() error {
	var errs []error
	if t.r53 != nil {
		errs = append(errs, t.r53.Close())
	}
	errs = append(errs, t.h.Close())
	return errors.Join(errs...)
}
