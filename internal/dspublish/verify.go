package dspublish

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// Observer observes a zone's parent and zone servers; *observe.Observer
// satisfies it.
type Observer interface {
	Observe(ctx context.Context, zone string) (*observe.Snapshot, error)
}

// Goal is what a verification asks of every parent server.
type Goal int

// The two goals.
const (
	// Served: every parent server serves a DS set that includes every
	// wanted record.
	Served Goal = iota
	// Withdrawn: no parent server serves any of the records (with none
	// given, no parent server serves any DS at all).
	Withdrawn
)

func (g Goal) String() string {
	if g == Withdrawn {
		return "withdrawn"
	}
	return "served"
}

// ServerCheck is one parent server address's answer, judged against the
// goal.
type ServerCheck struct {
	Name string
	Addr netip.AddrPort
	// State is what the server said about the DS RRset: OK, Absent (an
	// authoritative "no DS") or Unknown (no usable answer).
	State observe.State
	// Reason explains an Unknown or Absent state (timeout, REFUSED...).
	Reason string
	// Met reports that this server meets the goal; never true for Unknown.
	Met bool
	// DS are the records it serves.
	DS []*dns.DS
	// TTL is the DS TTL it serves, or its negative TTL for Absent.
	TTL uint32
}

func (c ServerCheck) String() string {
	who := c.Name
	if c.Addr.IsValid() {
		who += " (" + c.Addr.String() + ")"
	}
	switch c.State {
	case observe.OK:
		return who + " serves " + dsList(c.DS)
	case observe.Absent:
		return who + " serves no DS (" + c.Reason + ")"
	default:
		return who + " is unknown (" + c.Reason + ")"
	}
}

// Verdict is the outcome of one verification.
type Verdict struct {
	Zone   string
	Parent string
	Time   time.Time // when the observation started
	Goal   Goal
	DS     []*dns.DS // the records the goal is about
	// Verified reports that every parent server address answered and
	// meets the goal. A server that did not answer is never counted as
	// serving or as not serving.
	Verified bool
	// Coverage is how many parent server addresses meet the goal: All
	// when Verified, CoverageUnknown when an Unknown row leaves it open.
	Coverage observe.Coverage
	Servers  []ServerCheck
	// MaxDSTTL is the largest DS TTL any parent server address serves
	// (including records the goal is not about), MaxNegativeTTL the
	// largest negative TTL of a "no DS" answer: the cache lifetimes a gate
	// after this verification waits for.
	MaxDSTTL       uint32
	MaxNegativeTTL uint32
}

// Lagging returns the servers that answered but do not meet the goal yet.
func (v Verdict) Lagging() []ServerCheck {
	var out []ServerCheck
	for _, c := range v.Servers {
		if !c.Met && c.State != observe.Unknown {
			out = append(out, c)
		}
	}
	return out
}

// Unknown returns the servers that gave no usable answer.
func (v Verdict) Unknown() []ServerCheck {
	var out []ServerCheck
	for _, c := range v.Servers {
		if c.State == observe.Unknown {
			out = append(out, c)
		}
	}
	return out
}

// String says, for a person, whether the goal is met and which servers
// lag or are unknown.
func (v Verdict) String() string {
	met := 0
	for _, c := range v.Servers {
		if c.Met {
			met++
		}
	}
	what := dsList(v.DS)
	if v.Goal == Withdrawn && len(v.DS) == 0 {
		what = "any DS"
	}
	var b strings.Builder
	if v.Goal == Served {
		fmt.Fprintf(&b, "%s for %s served by %d of %d parent server addresses of %s", what, v.Zone, met, len(v.Servers), v.Parent)
	} else {
		fmt.Fprintf(&b, "%s for %s withdrawn from %d of %d parent server addresses of %s", what, v.Zone, met, len(v.Servers), v.Parent)
	}
	if v.Verified {
		return b.String()
	}
	if l := v.Lagging(); len(l) > 0 {
		b.WriteString("; lagging: ")
		b.WriteString(joinChecks(l))
	}
	if u := v.Unknown(); len(u) > 0 {
		b.WriteString("; unknown: ")
		b.WriteString(joinChecks(u))
	}
	return b.String()
}

func joinChecks(cs []ServerCheck) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}

// Verify observes every parent server address of zone and reports whether
// each serves a DS set that includes every record of want (other records
// may be there too). It fails only when the observation does: no parent
// server could be found, or the zone is not delegated.
func Verify(ctx context.Context, obs Observer, zone string, want []*dns.DS) (Verdict, error) {
	if len(want) == 0 {
		return Verdict{}, &InvalidRequestError{Zone: zone, Field: "ds", Reason: "no DS record to verify"}
	}
	return verify(ctx, obs, zone, want, Served)
}

// VerifyWithdrawn observes every parent server address of zone and reports
// whether none serves any record of gone; with gone empty, whether none
// serves any DS at all (every one answers authoritatively that there is
// none).
func VerifyWithdrawn(ctx context.Context, obs Observer, zone string, gone []*dns.DS) (Verdict, error) {
	return verify(ctx, obs, zone, gone, Withdrawn)
}

func verify(ctx context.Context, obs Observer, zone string, set []*dns.DS, goal Goal) (Verdict, error) {
	z, err := canonicalZone(zone)
	if err != nil {
		return Verdict{}, err
	}
	for _, ds := range set {
		if ds == nil {
			return Verdict{}, &InvalidRequestError{Zone: z, Field: "ds", Reason: "nil DS record"}
		}
	}
	snap, err := obs.Observe(ctx, z)
	if err != nil {
		return Verdict{}, fmt.Errorf("dspublish: verify DS %s for %s: %w", goal, z, err)
	}
	v := Verdict{Zone: z, Parent: snap.Parent, Time: snap.Time, Goal: goal}
	for _, ds := range set {
		v.DS = append(v.DS, ownedDS(z, ds))
	}
	met, lagging, unknown := 0, 0, 0
	for _, row := range snap.ParentServers {
		c := check(row, v.DS, goal)
		switch {
		case c.Met:
			met++
		case c.State == observe.Unknown:
			unknown++
		default:
			lagging++
		}
		switch c.State {
		case observe.OK:
			v.MaxDSTTL = max(v.MaxDSTTL, c.TTL)
		case observe.Absent:
			v.MaxNegativeTTL = max(v.MaxNegativeTTL, c.TTL)
		}
		v.Servers = append(v.Servers, c)
	}
	switch {
	case len(v.Servers) == 0:
		v.Coverage = observe.CoverageUnknown
	case unknown == 0 && lagging == 0:
		v.Coverage, v.Verified = observe.All, true
	case met > 0 && lagging > 0:
		v.Coverage = observe.Some
	case unknown == 0:
		v.Coverage = observe.None
	default:
		v.Coverage = observe.CoverageUnknown
	}
	return v, nil
}

// check judges one parent server row against the goal.
func check(row observe.ServerResult, set []*dns.DS, goal Goal) ServerCheck {
	c := ServerCheck{Name: row.Name, Addr: row.Addr, State: observe.Unknown, Reason: observe.ReasonNoAddress}
	if row.DS == nil {
		return c
	}
	c.State, c.Reason, c.TTL = row.DS.State, row.DS.Reason, row.DS.TTL
	if c.Reason == "" && row.DS.Detail != "" {
		c.Reason = row.DS.Detail
	}
	for _, rr := range row.DS.Records {
		if ds, ok := rr.(*dns.DS); ok {
			c.DS = append(c.DS, ds)
		}
	}
	switch c.State {
	case observe.OK:
		if goal == Served {
			c.Met = true
			for _, ds := range set {
				if indexDS(c.DS, ds) < 0 {
					c.Met = false
				}
			}
			return c
		}
		if len(set) == 0 {
			return c // some DS is served
		}
		c.Met = true
		for _, ds := range set {
			if indexDS(c.DS, ds) >= 0 {
				c.Met = false
			}
		}
	case observe.Absent:
		c.Met = goal == Withdrawn
	}
	return c
}
