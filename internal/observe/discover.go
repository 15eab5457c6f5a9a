package observe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// ask sends name/qtype to addrs one after the other, starting the next when
// the previous fails, answers unusably, or is slower than staggerDelay, and
// returns the first answer usable approves.
func (r *run) ask(ctx context.Context, addrs []netip.AddrPort, name string, qtype uint16, usable func(*dns.Msg) bool) (*dns.Msg, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("observe: %s %s: no server address to ask", name, dns.TypeToString[qtype])
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		resp *dns.Msg
		err  error
	}
	results := make(chan result, len(addrs))
	start := func(a netip.AddrPort) {
		go func() {
			resp, err := r.exchange(ctx, a, name, qtype)
			if err == nil && !usable(resp) {
				err = fmt.Errorf("observe: %s %s @%s: unusable answer (%s, AA=%t)", name, dns.TypeToString[qtype], a, dns.RcodeToString[resp.Rcode], resp.Authoritative)
			}
			results <- result{resp, err}
		}()
	}
	next, pending := 1, 1
	start(addrs[0])
	timer := time.NewTimer(staggerDelay)
	defer timer.Stop()
	var errs []error
	for pending > 0 {
		select {
		case res := <-results:
			pending--
			if res.err == nil {
				return res.resp, nil
			}
			errs = append(errs, res.err)
			if next < len(addrs) {
				start(addrs[next])
				next++
				pending++
			}
		case <-timer.C:
			if next < len(addrs) {
				start(addrs[next])
				next++
				pending++
				timer.Reset(staggerDelay)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("observe: %s %s: %w", name, dns.TypeToString[qtype], ctx.Err())
		}
	}
	return nil, errors.Join(errs...)
}

// childCut returns the zone that a non-authoritative answer refers to, if
// it is a proper referral from zone cut from towards qname.
func childCut(resp *dns.Msg, from, qname string) (string, bool) {
	if resp.Authoritative || (resp.Rcode != dns.RcodeSuccess) || len(resp.Answer) > 0 {
		return "", false
	}
	for _, rr := range resp.Ns {
		if rr.Header().Rrtype != dns.TypeNS {
			continue
		}
		child := dns.CanonicalName(rr.Header().Name)
		if child != dns.CanonicalName(from) && dns.IsSubDomain(from, child) && dns.IsSubDomain(child, dns.CanonicalName(qname)) {
			return child, true
		}
	}
	return "", false
}

// usableFrom approves answers of servers of zone cut from to qname: a
// well-formed RCODE and either the AA bit or a downward referral.
func usableFrom(from, qname string) func(*dns.Msg) bool {
	return func(m *dns.Msg) bool {
		if m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
			return false
		}
		if m.Authoritative {
			return true
		}
		_, ok := childCut(m, from, qname)
		return ok
	}
}

// closest returns the deepest known zone cut that encloses name.
func (r *run) closest(name string) *cut {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := dns.CanonicalName(name); ; {
		if c, ok := r.cuts[n]; ok {
			return c
		}
		i, end := dns.NextLabel(n, 0)
		if end {
			return r.cuts["."]
		}
		n = n[i:]
	}
}

// enter follows a referral into zone cut child: it learns the NS names and
// glue and finds addresses to ask (overrides and glue first; looking up
// glue-less names only when nothing else is known).
func (r *run) enter(ctx context.Context, from string, resp *dns.Msg, child string, depth int) (*cut, error) {
	var ns []dns.RR
	for _, rr := range resp.Ns {
		if n, ok := rr.(*dns.NS); ok && dns.CanonicalName(n.Hdr.Name) == child {
			ns = append(ns, n)
		}
	}
	c := &cut{name: child, ns: nsNames(&RRset{State: OK, Records: ns}), glue: glueFor(resp, from, ns)}
	for _, name := range c.ns {
		if a, ok := r.o.nsAddrs[name]; ok {
			c.addrs = append(c.addrs, a...)
			continue
		}
		c.addrs = append(c.addrs, r.withPort(c.glue[name])...)
	}
	var errs []error
	for _, name := range c.ns {
		if len(c.addrs) > 0 {
			break
		}
		ips, err := r.lookup(ctx, name, depth+1)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.addrs = append(c.addrs, r.learned(ips)...)
	}
	if len(c.addrs) == 0 {
		return nil, fmt.Errorf("observe: no address for any name server of %s: %w", child, errors.Join(errs...))
	}
	r.mu.Lock()
	r.cuts[child] = c
	r.mu.Unlock()
	return c, nil
}

// withPort returns the addresses of glue records; see learned.
func (r *run) withPort(rrs []dns.RR) []netip.AddrPort {
	var ips []netip.Addr
	for _, rr := range rrs {
		var ip netip.Addr
		switch a := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(a.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(a.AAAA.To16())
		}
		if ip.IsValid() {
			ips = append(ips, ip)
		}
	}
	return r.learned(ips)
}

// learned gives addresses learned from glue or look-ups the configured port,
// leaving out IPv6 addresses when IPv4Only is set.
func (r *run) learned(ips []netip.Addr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, ip := range ips {
		if r.o.ipv4Only && !ip.Unmap().Is4() {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip.Unmap(), r.o.port))
	}
	return out
}

// lookup returns the addresses of a name server name: through the
// configured Resolver, or by following referrals from the roots.
func (r *run) lookup(ctx context.Context, host string, depth int) ([]netip.Addr, error) {
	if r.o.resolver != nil {
		ips, err := r.o.resolver.LookupAddrs(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("observe: addresses of %s: %w", host, err)
		}
		return ips, nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("observe: addresses of %s: glue-less name servers nested too deep", host)
	}
	var ips []netip.Addr
	var errs []error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := r.resolve(ctx, host, t, depth)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
					ips = append(ips, ip)
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(a.AAAA.To16()); ok {
					ips = append(ips, ip)
				}
			}
		}
	}
	if len(errs) == 2 {
		return nil, fmt.Errorf("observe: addresses of %s: %w", host, errors.Join(errs...))
	}
	return ips, nil
}

// resolve follows referrals from the closest known zone cut to an
// authoritative answer for name/qtype and returns its records of type qtype
// (following CNAMEs); an authoritative negative answer is no records.
func (r *run) resolve(ctx context.Context, name string, qtype uint16, depth int) ([]dns.RR, error) {
	name = dns.CanonicalName(name)
	c := r.closest(name)
	for range maxReferrals {
		resp, err := r.ask(ctx, c.addrs, name, qtype, usableFrom(c.name, name))
		if err != nil {
			return nil, fmt.Errorf("observe: %s %s: servers of %s: %w", name, dns.TypeToString[qtype], c.name, err)
		}
		if resp.Authoritative {
			target := name
			for range maxReferrals { // a CNAME chain inside this answer
				out, next := answerFor(resp, target, qtype)
				if len(out) > 0 {
					return out, nil
				}
				if next == "" {
					break
				}
				target = next
			}
			if target == name {
				return nil, nil // an authoritative negative answer
			}
			if depth >= maxDepth {
				return nil, fmt.Errorf("observe: %s %s: CNAME chain too long", name, dns.TypeToString[qtype])
			}
			return r.resolve(ctx, target, qtype, depth+1)
		}
		child, _ := childCut(resp, c.name, name)
		if c, err = r.enter(ctx, c.name, resp, child, depth); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("observe: %s %s: more than %d referrals", name, dns.TypeToString[qtype], maxReferrals)
}

// answerFor returns the records of type qtype owned by name in the answer
// section, or the target of a CNAME owned by name.
func answerFor(resp *dns.Msg, name string, qtype uint16) (out []dns.RR, cname string) {
	for _, rr := range resp.Answer {
		h := rr.Header()
		if dns.CanonicalName(h.Name) != name {
			continue
		}
		if h.Rrtype == qtype {
			out = append(out, rr)
		} else if cn, ok := rr.(*dns.CNAME); ok {
			cname = dns.CanonicalName(cn.Target)
		}
	}
	return out, cname
}

// discovery is what the walk down to a zone found.
type discovery struct {
	parent    *cut     // the parent zone and the referral into it
	parentNS  []string // the parent's own apex NS names
	apexGlue  map[string][]dns.RR
	zoneNS    []string // the delegation NS names of the first referral to the zone
	zoneGlue  map[string][]dns.RR
	problems  []string
	rootHints bool // the parent is the root and its servers are only known by address
}

// discover follows referrals from the roots to the referral to zone; the
// servers that give it are the parent's.
func (r *run) discover(ctx context.Context, zone string) (*discovery, error) {
	c := r.closest(".")
	d := &discovery{}
	for range maxReferrals {
		resp, err := r.ask(ctx, c.addrs, zone, dns.TypeNS, usableFrom(c.name, zone))
		if err != nil {
			return nil, fmt.Errorf("observe: %s: no server of %s gave a usable answer: %w", zone, c.name, err)
		}
		if resp.Authoritative {
			neg := authAnswer(resp, nil, c.name, zone, dns.TypeNS)
			if neg.State == Absent {
				return nil, &NotDelegatedError{Zone: zone, Parent: c.name, Reason: neg.Reason}
			}
			set := authAnswer(resp, nil, zone, zone, dns.TypeNS)
			if set.State != OK {
				return nil, fmt.Errorf("observe: %s: servers of %s answer authoritatively but neither with a referral nor the NS set (%s: %s)", zone, c.name, set.Reason, set.Detail)
			}
			// A server of c also serves zone and answers from it: its apex NS set
			// stands in for the delegation there; the other parent servers'
			// referrals are still read in observe.
			d.problems = append(d.problems, fmt.Sprintf("a server of %s also serves %s and answers from it instead of referring: its delegation NS set cannot be seen there", c.name, zone))
			d.zoneNS = nsNames(set)
			d.zoneGlue = glueFor(resp, c.name, set.Records)
			d.parent = c
			break
		}
		child, _ := childCut(resp, c.name, zone)
		if child == zone {
			set, glue := referral(resp, nil, c.name, zone)
			d.parent, d.zoneNS, d.zoneGlue = c, nsNames(set), glue
			break
		}
		if c, err = r.enter(ctx, c.name, resp, child, 0); err != nil {
			return nil, err
		}
	}
	if d.parent == nil {
		return nil, fmt.Errorf("observe: %s: more than %d referrals", zone, maxReferrals)
	}
	// The parent's own apex NS set (and, for the root, the only names known).
	resp, err := r.ask(ctx, d.parent.addrs, d.parent.name, dns.TypeNS, func(m *dns.Msg) bool {
		return authAnswer(m, nil, d.parent.name, d.parent.name, dns.TypeNS).State == OK
	})
	if err != nil {
		if len(d.parent.ns) == 0 {
			d.rootHints = true
			d.problems = append(d.problems, fmt.Sprintf("no server of %s served its NS set: querying its servers by address only", d.parent.name))
		} else {
			d.problems = append(d.problems, fmt.Sprintf("no server of %s served its NS set: querying the servers of its delegation only", d.parent.name))
		}
		return d, nil
	}
	set := authAnswer(resp, nil, d.parent.name, d.parent.name, dns.TypeNS)
	d.parentNS = nsNames(set)
	d.apexGlue = glueFor(resp, d.parent.name, set.Records)
	return d, nil
}
