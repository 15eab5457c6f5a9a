package dnstree

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
)

// Parent answers the Route 53 emulator's questions about what a zone's
// parent serves (route53emu.Parent) by asking every server of the parent
// zone over DNS: the Route 53 servers of a parent hosted zone, the TLD's
// servers, or the root's. A record any server serves counts; a server that
// does not answer makes the answer unknown (an error), so that the guards
// asking refuse rather than guess.
//
// route53emu.New takes its Parent before the tree runs: pass a Parent to
// both, and Start binds it to the tree.
type Parent struct {
	Client dnsquery.Client

	mu   sync.Mutex
	tree *Tree
}

func (p *Parent) bind(t *Tree) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tree = t
}

// DSServed returns the DS records any server of zone's parent serves.
func (p *Parent) DSServed(ctx context.Context, zone string) ([]*dns.DS, error) {
	rrs, err := p.ask(ctx, zone, dns.TypeDS)
	var out []*dns.DS
	for _, rr := range rrs {
		out = append(out, rr.(*dns.DS))
	}
	return out, err
}

// NSServed returns the name servers any server of zone's parent delegates
// zone to.
func (p *Parent) NSServed(ctx context.Context, zone string) ([]string, error) {
	rrs, err := p.ask(ctx, zone, dns.TypeNS)
	var out []string
	for _, rr := range rrs {
		out = append(out, dns.CanonicalName(rr.(*dns.NS).Ns))
	}
	return out, err
}

func (p *Parent) ask(ctx context.Context, zone string, qtype uint16) ([]dns.RR, error) {
	p.mu.Lock()
	t := p.tree
	p.mu.Unlock()
	if t == nil {
		return nil, errors.New("dnstree: parent: the tree is not started")
	}
	zone = dns.CanonicalName(zone)
	servers := t.parentServers(zone)
	if len(servers) == 0 {
		return nil, fmt.Errorf("dnstree: parent of %s: no servers", zone)
	}
	var out []dns.RR
	for _, s := range servers {
		r, err := p.Client.Exchange(ctx, s, zone, qtype)
		if err != nil {
			return nil, fmt.Errorf("dnstree: parent of %s: server %v: %w", zone, s, err)
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			return nil, fmt.Errorf("dnstree: parent of %s: server %v answered %s", zone, s, dns.RcodeToString[r.Rcode])
		}
		for _, rr := range append(r.Answer, r.Ns...) {
			if rr.Header().Rrtype == qtype && dns.CanonicalName(rr.Header().Name) == zone &&
				!slices.ContainsFunc(out, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
				out = append(out, rr)
			}
		}
	}
	return out, nil
}

// parentServers returns the addresses of the servers of the zone closest
// above zone: a hosted zone of that name (the first, when Route 53 holds
// several), the TLD or the root.
func (t *Tree) parentServers(zone string) []netip.AddrPort {
	// Each change already reached the servers when it was made or became
	// INSYNC; only what fell due since the clock last moved is left, and
	// a full Sync would cost every zone per question (a 10,000-zone
	// fleet's set-up spent most of its time here).
	t.r53.SyncDue(t.clk.Now())
	for n := parentName(zone); ; n = parentName(n) {
		switch n {
		case TLD:
			return t.TLDServers()
		case ".":
			return t.RootServers()
		}
		if zones := t.r53.ZonesNamed(n); len(zones) > 0 {
			var out []netip.AddrPort
			for _, sv := range zones[0].Servers {
				out = append(out, sv.Addr)
			}
			return out
		}
	}
}

func parentName(name string) string {
	i, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[i:]
}
