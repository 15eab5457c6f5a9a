package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Target is what observe-zone waits for: it reports whether the observation
// shows it reached, and otherwise which servers lag (or did not answer).
type Target func(s *State, snap *observe.Snapshot) (reached bool, lagging []string, err error)

// targets are observe-zone's targets by name (the Task parameter "target").
// Each workflow registers its own in an init function of its file.
var targets = map[string]Target{
	TargetZoneSigned: zoneSigned,
	TargetNone:       func(*State, *observe.Snapshot) (bool, []string, error) { return true, nil, nil },
}

// Targets of enable-signing, and the target that only records and gates.
const (
	// TargetZoneSigned: every zone server serves a DNSKEY set that the new
	// KSK's DS validates (the KSK is in it and signs it).
	TargetZoneSigned = "zone-signed"
	// TargetNone: observe, record and compute the gate only.
	TargetNone = "none"
)

// RegisterTarget adds an observe-zone target; for init functions.
func RegisterTarget(name string, t Target) {
	if _, dup := targets[name]; dup {
		panic("steps: target " + name + " registered twice")
	}
	targets[name] = t
}

// EveryZoneServer applies ok to every zone server row and returns whether all
// pass, and the rows that do not (with the reason), Unknown rows included.
func EveryZoneServer(snap *observe.Snapshot, ok func(r observe.ServerResult) (bool, string)) (bool, []string) {
	var lagging []string
	for _, r := range snap.ZoneServers {
		if r.DNSKEY == nil || r.DNSKEY.State == observe.Unknown {
			reason := "no answer"
			if r.DNSKEY != nil {
				reason = r.DNSKEY.Reason
			}
			lagging = append(lagging, fmt.Sprintf("%s (unknown: %s)", serverKey(r), reason))
			continue
		}
		if good, why := ok(r); !good {
			lagging = append(lagging, fmt.Sprintf("%s (%s)", serverKey(r), why))
		}
	}
	return len(lagging) == 0 && len(snap.ZoneServers) > 0, lagging
}

// zoneSigned: every zone server's DNSKEY set validates with the new KSK's DS.
func zoneSigned(s *State, snap *observe.Snapshot) (bool, []string, error) {
	if s.KSK == nil {
		return false, nil, &StateError{Step: "observe-zone", Reason: "target zone-signed needs state.ksk"}
	}
	ds := []dns.RR{s.KSK.DSRR(s.Zone)}
	ok, lagging := EveryZoneServer(snap, func(r observe.ServerResult) (bool, string) {
		return DNSKEYValidates(s.Zone, ds, r, snap.Time)
	})
	return ok, lagging, nil
}

// DNSKEYValidates reports whether the DNSKEY set one zone server serves
// validates with the DS records ds at now, and why not.
func DNSKEYValidates(zone string, ds []dns.RR, r observe.ServerResult, now time.Time) (bool, string) {
	if r.DNSKEY == nil || r.DNSKEY.State != observe.OK {
		return false, "no DNSKEY set"
	}
	var keys []*dns.DNSKEY
	for _, rr := range r.DNSKEY.Records {
		if k, ok := rr.(*dns.DNSKEY); ok {
			keys = append(keys, k)
		}
	}
	if _, err := dnssec.VerifyDNSKEYs(zone, ds, keys, r.DNSKEY.Sigs, now); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// ObserveZone observes every parent and zone server of the state's zone,
// records the observation in the History, checks the Task's target, and,
// when the Task names a gate, computes it (State.Gate, for a Wait on
// $.state.gate.at and a Choice on $.state.gate.ready). Poll.Done says the
// target is reached and the gate determined; otherwise Poll.DelaySeconds is
// the back-off before observing again, within ZonePropagationBudget.
func (h *Handler) ObserveZone(ctx context.Context, ev Event) (State, error) {
	const step = "observe-zone"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	target, ok := targets[ev.Target]
	if !ok {
		return State{}, &StateError{Step: step, Reason: fmt.Sprintf("unknown target %q", ev.Target)}
	}
	snap, err := h.observer.Observe(ctx, s.Zone)
	var nd *observe.NotDelegatedError
	if errors.As(err, &nd) {
		return State{}, &ZoneNotDelegatedError{Zone: s.Zone, Parent: nd.Parent, Reason: "the parent answers " + nd.Reason}
	}
	if err != nil {
		return State{}, named(step, fmt.Errorf("steps: observing %s: %w", s.Zone, err))
	}
	if err := s.record(HistorySnapshot(snap)); err != nil {
		return State{}, named(step, err)
	}
	reached, lagging, err := target(s, snap)
	if err != nil {
		return State{}, err
	}
	if ev.Gate != "" {
		g, err := h.gate(s, ev.Gate)
		if err != nil {
			return State{}, named(step, err)
		}
		s.Gate = gateState(g)
		if !g.Determined() {
			reached = false
			lagging = append(lagging, g.Pending...)
		}
	} else {
		s.Gate = GateState{}
	}
	loop := loopKey(step, ev)
	if reached {
		s.Poll.Finish(loop, fmt.Sprintf("%s reached on %d zone servers", ev.Target, len(snap.ZoneServers)))
		if ev.Gate != "" {
			s.note(h.now(), "gate %s: %s at %s", ev.Gate, gateWord(s.Gate.Ready), s.Gate.At)
		}
		return *s, nil
	}
	sort.Strings(lagging)
	if err := h.continuePoll(s, loop, ObservePollBase, 0, ZonePropagationBudget, ev.Target+" not reached: "+strings.Join(lagging, "; ")); err != nil {
		return State{}, err
	}
	return *s, nil
}

func gateWord(ready bool) string {
	if ready {
		return "ready"
	}
	return "waiting"
}

// gate computes the gate of transition t in the state's workflow.
func (h *Handler) gate(s *State, t rollover.Transition) (rollover.Gate, error) {
	now := h.now()
	var plan rollover.Plan
	var err error
	switch s.Workflow {
	case rollover.WorkflowEnable:
		if s.KSK == nil {
			return rollover.Gate{}, &StateError{Step: "observe-zone", Reason: "enable-signing gates need state.ksk"}
		}
		plan, err = rollover.EnableSigningGates(s.History, s.KSK.Key, s.margin(), now)
	case rollover.WorkflowRotate:
		if s.KSK == nil || s.OldKSK == nil {
			return rollover.Gate{}, &StateError{Step: "observe-zone", Reason: "rotate-ksk gates need state.ksk and state.oldKsk"}
		}
		plan, err = rollover.RotateKSKGates(s.History, s.OldKSK.Key, s.KSK.Key, s.margin(), now)
	case rollover.WorkflowDisable:
		plan, err = rollover.DisableSigningGates(s.History, s.margin(), now)
	default:
		return rollover.Gate{}, &StateError{Step: "observe-zone", Reason: fmt.Sprintf("no gates for workflow %q", s.Workflow)}
	}
	if err != nil {
		return rollover.Gate{}, fmt.Errorf("steps: gates of %s: %w", s.Workflow, err)
	}
	g, ok := plan.Gate(t)
	if !ok {
		return rollover.Gate{}, &StateError{Step: "observe-zone", Reason: fmt.Sprintf("workflow %s has no gate %q", s.Workflow, t)}
	}
	if s.Workflow == rollover.WorkflowRotate && t == rollover.DeleteOldKSK {
		holdForCachedDS(&g, s.History, "KSK "+s.OldKSK.Name, s.OldKSK.DS, s.margin(), now) // rotate_ksk.go
	}
	return g, nil
}

// gateState converts a gate for the state machine.
func gateState(g rollover.Gate) GateState {
	gs := GateState{Transition: g.Transition, At: stamp(g.Earliest), Ready: g.Ready, Pending: g.Pending}
	for _, t := range g.Terms {
		gs.Terms = append(gs.Terms, t.String())
	}
	return gs
}
