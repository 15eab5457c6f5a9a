package dnssec

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/miekg/dns"
)

// Delegation describes the zone cut above a name, for observers that query
// every parent and authoritative server themselves.
type Delegation struct {
	Zone          string       // the zone containing the name
	Parent        string       // the zone above the cut; "" for the root
	ParentServers []NameServer // the parent's servers (for the root's children: the configured roots)
	ZoneServers   []NameServer // the servers the parent delegates to, with addresses
	DelegationNS  []string     // the NS names in the parent's referral, canonical
}

// ZoneCut finds the zone containing name and its parent zone by iterating
// from the roots. Every server's name is given addresses (NSAddrs, glue or
// a lookup); a name that cannot be resolved keeps an empty Addrs. When the
// zone's own servers do not answer, the delegation is still reported (an
// observer is then most interested in it); other server trouble is an
// error, as there is no verdict to carry it.
func (r *Resolver) ZoneCut(ctx context.Context, name string) (*Delegation, error) {
	cname, err := checkName(name)
	if err != nil {
		return nil, err
	}
	q := r.newRun(0)
	z, fail := q.zoneOf(ctx, cname)
	z, fail = reached(z, fail, cname)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dnssec: zone cut of %s: %w", cname, err)
	}
	if fail != nil {
		return nil, fmt.Errorf("dnssec: zone cut of %s: %s", cname, fail.reason)
	}
	d := &Delegation{Zone: z.name, DelegationNS: slices.Clone(z.nsNames), ZoneServers: q.withAddrs(ctx, z)}
	if z.name != "." {
		p, fail := q.zoneOf(ctx, parentName(z.name))
		p, fail = reached(p, fail, parentName(z.name))
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dnssec: zone cut of %s: %w", cname, err)
		}
		if fail != nil {
			return nil, fmt.Errorf("dnssec: zone cut of %s: parent: %s", cname, fail.reason)
		}
		d.Parent, d.ParentServers = p.name, q.withAddrs(ctx, p)
	}
	return d, nil
}

// reached accepts, when the servers of the zone at name itself failed to
// answer, the zone cut the referral to name gave: its servers are exactly
// what an observer needs to look at. Any other failure stands.
func reached(z *zone, fail *entry, name string) (*zone, *entry) {
	if fail != nil && fail.zone != nil && fail.zone.name == name && hasAddrs(fail.zone.servers) {
		return fail.zone, nil
	}
	return z, fail
}

// zoneOf returns the zone that holds name: the deepest zone cut the
// iteration for name/SOA reaches.
func (q *run) zoneOf(ctx context.Context, name string) (*zone, *entry) {
	z, _, fail := q.iterate(ctx, name, dns.TypeSOA)
	return z, fail
}

// withAddrs copies the zone's servers, looking up the addresses of those
// that have none.
func (q *run) withAddrs(ctx context.Context, z *zone) []NameServer {
	out := make([]NameServer, len(z.servers))
	for i, s := range z.servers {
		out[i] = NameServer{Name: s.Name, Addrs: slices.Clone(s.Addrs)}
		if len(s.Addrs) > 0 || s.Name == "" {
			continue
		}
		addrs, _ := q.nested().lookupAddrs(ctx, s.Name)
		for _, a := range addrs {
			out[i].Addrs = append(out[i].Addrs, netip.AddrPortFrom(a, q.r.port))
		}
	}
	return out
}
