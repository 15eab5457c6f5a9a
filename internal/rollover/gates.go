package rollover

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Policy. No cap on TTLs is assumed: resolvers' caps differ (unbound's
// cache-max-ttl is 1 day, BIND's max-cache-ttl 1 week) and some have none, so
// the largest TTL observed is used as it is.
const (
	// DefaultSafetyMargin is added to every cache wait: it absorbs clock
	// skew between us, the servers and resolvers, resolvers that answer
	// from an entry in its last second, and the time between a step's
	// decision and its effect; it is small against the usual 1-day DS TTL.
	DefaultSafetyMargin = time.Hour
	// DSDigest is the digest type of the DS records we publish: SHA-256, the
	// one Route 53 shows and every validator must support (RFC 4509).
	DSDigest = dns.SHA256
)

// Workflow names a life-cycle workflow.
type Workflow string

// The workflows with gates.
const (
	WorkflowEnable  Workflow = "enable-signing"
	WorkflowRotate  Workflow = "rotate-ksk"
	WorkflowDisable Workflow = "disable-signing"
)

// Transition names one change of what the parent or the zone serves (or an
// action that must wait as if it were one).
type Transition string

// The transitions, in workflow order.
const (
	EnableSigning Transition = "enable-signing" // create the KSK and enable signing
	PublishDS     Transition = "publish-ds"     // add the KSK's DS at the parent
	ConfirmDS     Transition = "confirm-ds"     // chain complete: every parent server serves the DS

	AddKSK           Transition = "add-ksk"            // create the new KSK, ACTIVE: both KSKs sign
	PublishNewDS     Transition = "publish-new-ds"     // add the new DS beside the old
	RemoveOldDS      Transition = "remove-old-ds"      // remove the old DS
	DeactivateOldKSK Transition = "deactivate-old-ksk" // the old KSK stops signing and leaves the DNSKEY set
	DeleteOldKSK     Transition = "delete-old-ksk"     // delete it (and schedule its KMS key's deletion): no way back

	WithdrawDS     Transition = "withdraw-ds"     // remove every DS at the parent
	DisableSigning Transition = "disable-signing" // Route 53 stops signing
	DeleteKSKs     Transition = "delete-ksks"     // deactivate and delete the KSKs
)

// Term is one constraint of a gate: a set that a cache may hold and that the
// state after the transition would not validate with, and when the last copy
// of it expires: Since + TTL + margin.
type Term struct {
	Kind          string    `json:"kind"`  // "ds" or "dnskey": the kind of set that constrains
	SetID         string    `json:"setID"` // its DSSet.ID or DNSKEYSet.ID
	Event         string    `json:"event"` // e.g. "DNSKEY {KSK 20326/13 signing} last served by a zone server"
	Since         time.Time `json:"since"`
	TTLName       string    `json:"ttlName"` // e.g. "DNSKEY TTL"
	TTL           uint32    `json:"ttlSeconds"`
	MarginSeconds int64     `json:"marginSeconds"`
	At            time.Time `json:"at"`
}

// String writes the formula with its numbers, e.g. "DS {…} last served by a
// parent server 2026-11-27T10:00:00Z + DS TTL 86400s + margin 3600s =
// 2026-11-28T11:00:00Z".
func (t Term) String() string {
	return fmt.Sprintf("%s %s + %s %ds + margin %ds = %s", t.Event, stamp(t.Since), t.TTLName, t.TTL, t.MarginSeconds, stamp(t.At))
}

// Gate is the earliest safe time of one transition. Earliest is the latest
// Term (or the time the plan was made when nothing constrains it). Pending
// lists what has not been observed yet and keeps the gate from being
// determined: Earliest is then only a lower bound.
type Gate struct {
	Transition  Transition `json:"transition"`
	Description string     `json:"description"`
	After       Published  `json:"after"` // what is served once the transition is done
	Terms       []Term     `json:"terms,omitempty"`
	Pending     []string   `json:"pending,omitempty"`
	Earliest    time.Time  `json:"earliest"`
	Ready       bool       `json:"ready"` // determined and Earliest has passed
}

// Determined reports whether nothing is pending.
func (g Gate) Determined() bool { return len(g.Pending) == 0 }

// Status is "ready", "waiting" (determined, not yet reached) or "pending".
func (g Gate) Status() string {
	switch {
	case !g.Determined():
		return "pending"
	case g.Ready:
		return "ready"
	default:
		return "waiting"
	}
}

func (g Gate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): ", g.Transition, g.Description)
	if g.Determined() {
		fmt.Fprintf(&b, "%s at %s", g.Status(), stamp(g.Earliest))
	} else {
		fmt.Fprintf(&b, "pending, not before %s", stamp(g.Earliest))
	}
	if len(g.Terms) == 0 {
		b.WriteString("\n    no cache wait")
	}
	for _, t := range g.Terms {
		b.WriteString("\n    " + t.String())
	}
	for _, p := range g.Pending {
		b.WriteString("\n    pending: " + p)
	}
	return b.String()
}

// Plan is the gates of one workflow for one zone, computed at one time.
type Plan struct {
	Zone          string    `json:"zone"`
	Workflow      Workflow  `json:"workflow"`
	At            time.Time `json:"at"`
	MarginSeconds int64     `json:"marginSeconds"`
	Gates         []Gate    `json:"gates"`
}

// Gate returns the gate of transition t.
func (p Plan) Gate(t Transition) (Gate, bool) {
	i := slices.IndexFunc(p.Gates, func(g Gate) bool { return g.Transition == t })
	if i < 0 {
		return Gate{}, false
	}
	return p.Gates[i], true
}

func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s at %s (safety margin %ds)", p.Workflow, p.Zone, stamp(p.At), p.MarginSeconds)
	for _, g := range p.Gates {
		b.WriteString("\n  " + strings.ReplaceAll(g.String(), "\n", "\n  "))
	}
	return b.String()
}

// gate builds one Gate from the history.
type gate struct {
	h      *History
	margin time.Duration
	g      Gate
}

func (h *History) gate(t Transition, desc string, after Published, margin time.Duration) *gate {
	return &gate{h: h, margin: margin, g: Gate{Transition: t, Description: desc, After: after}}
}

func (b *gate) pending(format string, args ...any) {
	b.g.Pending = append(b.g.Pending, fmt.Sprintf(format, args...))
}

func (b *gate) term(kind, setID, event string, since time.Time, ttlName string, ttl uint32) {
	b.g.Terms = append(b.g.Terms, Term{
		Kind: kind, SetID: setID, Event: event, Since: since, TTLName: ttlName, TTL: ttl,
		MarginSeconds: int64(b.margin / time.Second),
		At:            since.Add(time.Duration(ttl)*time.Second + b.margin),
	})
}

// constrain adds the terms of the transition to b.g.After = (D*, K*). Caches
// may hold any DS set and any DNSKEY set that was served less than its TTL
// ago, and will fetch D* and K*, so:
//
// D* must trust every DNSKEY set K a cache may hold; each K it does not
// trust must have expired:
//
//	T >= last served(K) + TTL(K) + margin
//
// This is RFC 7583's IpubC = DprpC + TTLkey counted from Tpub of the new
// DNSKEY set, with Tpub + DprpC observed as the time the last zone server
// stopped serving K.
//
// Every DS set D a cache may hold must trust K*; each D that does not must
// have expired:
//
//	T >= last served(D) + TTLds + margin
//
// This is RFC 7583's Iret = DprpP + TTLds counted from Tret(N), the time the
// parent stopped publishing D, with Tret + Dreg + DprpP observed as the time
// the last parent server stopped serving D.
//
// A transition changes one side only; the terms of the other side are those
// of the earlier transitions, normally past, and keep a gate from ever being
// earlier than the gates before it.
func (b *gate) constrain() {
	zone := b.h.Zone
	after := b.g.After
	for _, k := range b.h.DNSKEY {
		if trusts(zone, after.DS, k.Set) {
			continue
		}
		ttl, name := b.h.dnskeyCacheTTL(k)
		switch {
		case k.Set.Unsigned() && !b.h.ZoneTTLKnown:
			b.pending("the zone's largest TTL is not known: record it before leaving the unsigned state")
		case k.LastServed == nil:
			b.pending("%s is still served by a zone server and %s would not trust it; then + %s %ds + margin", k.Set, after.DS, name, ttl)
		default:
			b.term("dnskey", k.ID, k.Set.String()+" last served by a zone server", *k.LastServed, name, ttl)
		}
	}
	for _, d := range b.h.DS {
		if trusts(zone, d.Set, after.DNSKEY) {
			continue
		}
		if d.LastServed == nil {
			b.pending("%s is still served by a parent server and would not trust %s; then + DS TTL %ds + margin", d.Set, after.DNSKEY, d.MaxTTL)
			continue
		}
		b.term("ds", d.ID, d.Set.String()+" last served by a parent server", *d.LastServed, "DS TTL", d.MaxTTL)
	}
	if !trusts(zone, after.DS, after.DNSKEY) {
		b.pending("after the transition %s would not trust %s", after.DS, after.DNSKEY)
	}
}

func (b *gate) done(now time.Time) Gate {
	g := b.g
	slices.SortStableFunc(g.Terms, func(x, y Term) int { return y.At.Compare(x.At) })
	g.Earliest = now
	if len(g.Terms) > 0 {
		g.Earliest = g.Terms[0].At
	}
	g.Ready = g.Determined() && !now.Before(g.Earliest)
	return g
}

func (h *History) plan(w Workflow, margin time.Duration, now time.Time) (Plan, error) {
	if h == nil {
		return Plan{}, errors.New("rollover: no history")
	}
	if margin < 0 {
		return Plan{}, fmt.Errorf("rollover: negative safety margin %s", margin)
	}
	return Plan{Zone: h.Zone, Workflow: w, At: now, MarginSeconds: int64(margin / time.Second)}, nil
}

// observed adds a pending entry when one side of the zone was never observed.
func (b *gate) observed() {
	if len(b.h.DS) == 0 {
		b.pending("the parent's servers have not been observed yet")
	}
	if len(b.h.DNSKEY) == 0 {
		b.pending("the zone's servers have not been observed yet")
	}
}

func checkKSK(role string, k Key) error {
	if k.PublicKey == "" {
		return fmt.Errorf("rollover: %s KSK has no public key", role)
	}
	if k.Flags != dns.ZONE|dns.SEP {
		return fmt.Errorf("rollover: %s KSK %s has flags %d, want 257", role, k, k.Flags)
	}
	return nil
}

// GateTo computes the gate of any transition to the state after, for steps
// outside the three workflows (a rollback, for example: withdrawing a new
// DS, then retiring the new KSK). Only cache terms are computed; the caller
// adds its own preconditions.
func GateTo(h *History, t Transition, desc string, after Published, margin time.Duration, now time.Time) (Gate, error) {
	if _, err := h.plan("", margin, now); err != nil {
		return Gate{}, err
	}
	b := h.gate(t, desc, after, margin)
	b.observed()
	b.constrain()
	return b.done(now), nil
}
