package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// Task parameter values of publish-ds and verify-ds.
const (
	ActionAdd      = "add"
	ActionRemove   = "remove"
	GoalServed     = "served"
	GoalWithdrawn  = "withdrawn"
	KeyNew         = "new"
	KeyOld         = "old"
	KeyAll         = "all" // verify-ds, goal withdrawn: no DS at all (disable-signing)
	ManualNoteWait = "the DS change is awaited from a person; every parent server is observed until it is there"
)

// PublishDS asks the zone's DS publisher to add (Task parameter action "add")
// or remove ("remove") the DS of the new (key "new") or old ("old") KSK, and
// polls the publisher's progress: Poll.Done once its system of record holds
// the change (for the manual publisher, once the person has been notified:
// verify-ds then observes the parent). Calling it again continues the same
// operation (State.DSOperation); adding a DS already there does nothing.
// Publisher errors keep their dspublish names (RegistrarOperationFailedError,
// RegistrarRefusedError, ParentDelegationMissingError...).
//
// With a task token (manual publisher only, waitForCallback: a
// waitForTaskToken Task that discards the answer and waits for the
// person's callback), the message carries the token and how to answer it;
// a message that could not be sent (SNS busy) is a ServiceBusyError, retried
// by the state machine, since nobody would otherwise ever answer. The
// callback opens no gate: verify-ds follows it.
func (h *Handler) PublishDS(ctx context.Context, ev Event) (State, error) {
	const step = "publish-ds"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	k, err := s.keyFor(step, ev.Key)
	if err != nil {
		return State{}, err
	}
	if ev.TaskToken != "" && s.Publisher.Kind != dspublish.KindManual {
		return State{}, &StateError{Step: step, Reason: fmt.Sprintf("a task token is answered by a person: the %s publisher takes none", s.Publisher.Kind)}
	}
	pub, err := h.publisher(s)
	if err != nil {
		return State{}, named(step, err)
	}
	loop := loopKey(step, ev)
	if s.Poll.Loop != loop {
		s.DSOperation = "" // a new DS change: do not follow the previous one
	}
	req := dspublish.Request{
		Zone: s.Zone, DS: k.DSRR(s.Zone), DNSKEY: k.DNSKEY(s.Zone), Operation: s.DSOperation,
		RequestID: s.ExecutionARN + "/" + step + "/" + ev.Action + "/" + k.Name,
		TaskToken: ev.TaskToken,
	}
	var p dspublish.Progress
	switch ev.Action {
	case ActionAdd:
		p, err = pub.Add(ctx, req)
	case ActionRemove:
		p, err = pub.Remove(ctx, req)
	default:
		return State{}, &StateError{Step: step, Reason: fmt.Sprintf("action %q: want add or remove", ev.Action)}
	}
	if err != nil {
		return State{}, named(step, err)
	}
	if ev.TaskToken != "" && p.Operation == "" {
		return State{}, &ServiceBusyError{Service: "sns", Operation: "Publish", Code: "Busy", Message: p.Detail}
	}
	s.DSOperation, s.DSDetail = p.Operation, p.Detail
	if p.Done || s.Publisher.Kind == dspublish.KindManual {
		detail := p.Detail
		if !p.Done {
			detail += "; " + ManualNoteWait
		}
		s.Poll.Finish(loop, detail)
		verb := map[string]string{ActionAdd: "published", ActionRemove: "withdrawn"}[ev.Action]
		s.note(h.now(), "DS %s %s by the %s publisher: %s", k.DS, verb, s.Publisher.Kind, detail)
		return *s, nil
	}
	if err := h.continuePoll(s, loop, p.PollAfter, p.PollAfter, ParentPropagationBudget, p.Detail); err != nil {
		return State{}, err
	}
	return *s, nil
}

// VerifyDS observes every parent server until each serves the DS of the
// selected KSK (goal "served") or none does (goal "withdrawn"), recording the
// answers in the History. Poll.Done when verified; otherwise the back-off,
// within ParentPropagationBudget (ManualPublishBudget for the manual
// publisher, whose polls start at dspublish.ManualPollInterval). A timeout
// names the lagging servers.
func (h *Handler) VerifyDS(ctx context.Context, ev Event) (State, error) {
	const step = "verify-ds"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	// want is the DS the goal is about; none with key "all" (goal
	// withdrawn only): no parent server may serve any DS (disable-signing).
	var want []*dns.DS
	what := "every DS"
	if ev.Key == KeyAll {
		if ev.Goal != GoalWithdrawn {
			return State{}, &StateError{Step: step, Reason: `key "all" goes with goal "withdrawn" only`}
		}
	} else {
		k, err := s.keyFor(step, ev.Key)
		if err != nil {
			return State{}, err
		}
		want = []*dns.DS{k.DSRR(s.Zone)}
		what = "DS " + k.DS.String()
	}
	var v dspublish.Verdict
	switch ev.Goal {
	case "", GoalServed:
		v, err = dspublish.Verify(ctx, h.observer, s.Zone, want)
	case GoalWithdrawn:
		v, err = dspublish.VerifyWithdrawn(ctx, h.observer, s.Zone, want)
	default:
		return State{}, &StateError{Step: step, Reason: fmt.Sprintf("goal %q: want served or withdrawn", ev.Goal)}
	}
	if err != nil {
		var nd *observe.NotDelegatedError
		if errors.As(err, &nd) {
			return State{}, &ZoneNotDelegatedError{Zone: s.Zone, Parent: nd.Parent, Reason: "the parent answers " + nd.Reason}
		}
		return State{}, named(step, err)
	}
	if err := s.record(verdictSnapshot(v)); err != nil {
		return State{}, named(step, err)
	}
	loop := loopKey(step, ev)
	if v.Verified {
		s.Poll.Finish(loop, v.String())
		s.note(h.now(), "%s %s on every parent server (%d addresses, DS TTL %ds)", what, orGoal(ev.Goal), len(v.Servers), v.MaxDSTTL)
		return *s, nil
	}
	base, budget := ObservePollBase, ParentPropagationBudget
	if s.Publisher.Kind == dspublish.KindManual {
		base, budget = dspublish.ManualPollInterval, ManualPublishBudget
	}
	if err := h.continuePoll(s, loop, base, 0, budget, v.String()); err != nil {
		if pe, ok := err.(*PropagationTimeoutError); ok {
			pe.What = fmt.Sprintf("%s %s on every parent server", what, orGoal(ev.Goal))
			pe.Lagging = nil
			for _, c := range append(v.Lagging(), v.Unknown()...) {
				pe.Lagging = append(pe.Lagging, c.String())
			}
		}
		return State{}, err
	}
	return *s, nil
}

func orGoal(g string) string {
	if g == "" {
		return GoalServed
	}
	return g
}
