package steps

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Event is the payload of every Task of every workflow. The state machines
// build it with Parameters:
//
//	"Parameters": {
//	  "execution": {"arn.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "startTime.$": "$$.Execution.StartTime"},
//	  "state.$": "$.state",
//	  "target": "zone-signed", "gate": "publish-ds"      (step parameters, per Task)
//	},
//	"ResultPath": "$.state"
//
// A first step (preflight) gets "input.$": "$" instead of "state.$", and
// every step returns the whole State, which ResultPath puts back at $.state.
type Event struct {
	Execution Execution `json:"execution"`
	Input     *Input    `json:"input,omitempty"`
	State     *State    `json:"state,omitempty"`

	// Step parameters, fixed in the state machine per Task.

	// Target is what observe-zone waits for (see Targets).
	Target string `json:"target,omitempty"`
	// Gate is the transition whose gate observe-zone computes.
	Gate rollover.Transition `json:"gate,omitempty"`
	// Action is "add" or "remove" for publish-ds.
	Action string `json:"action,omitempty"`
	// Key selects the KSK a DS step is about: "new" (State.KSK, the
	// default) or "old" (State.OldKSK).
	Key string `json:"key,omitempty"`
	// Goal is "served" (default) or "withdrawn" for verify-ds.
	Goal string `json:"goal,omitempty"`
	// TaskToken ($$.Task.Token) is given to publish-ds by the
	// waitForTaskToken Task of the manual publisher with waitForCallback:
	// the message asks the person to answer it once the DS is changed.
	TaskToken string `json:"taskToken,omitempty"`
	// VPCID is the VPC of one enable-validation Map iteration
	// ($$.Map.Item.Value).
	VPCID string `json:"vpcId,omitempty"`
	// VPCResults are the states of enable-validation's Map iterations, for
	// its summary.
	VPCResults []State `json:"vpcResults,omitempty"`
	// FleetResults are the outputs of fleet-rotate's Map iterations (per
	// zone in a batch, per batch in the fleet), for summarize-fleet.
	FleetResults []json.RawMessage `json:"fleetResults,omitempty"`
	// Failure is the error a Catch caught ($.error), for a step that
	// reports it (alarm-response's notify).
	Failure *Failure `json:"failure,omitempty"`
}

// Execution identifies the running execution ($$.Execution).
type Execution struct {
	ARN       string `json:"arn"`
	Name      string `json:"name"`
	StartTime string `json:"startTime"` // RFC 3339, as Step Functions gives it
}

// State is the one object a workflow carries from step to step at $.state:
// everything a step needs to act and to act again idempotently. It is plain
// JSON (Step Functions keeps it; 256 KiB is far away: History holds one entry
// per distinct DS or DNSKEY set, not per observation).
type State struct {
	Workflow     rollover.Workflow  `json:"workflow"`
	ExecutionARN string             `json:"executionArn"`
	StartTime    string             `json:"startTime"`
	HostedZoneID string             `json:"hostedZoneId"`
	Zone         string             `json:"zone"`   // fully qualified, lower case
	Parent       string             `json:"parent"` // the parent zone, as observed
	Publisher    dspublish.Settings `json:"dsPublisher"`
	// MarginSeconds is the safety margin of every gate.
	MarginSeconds int64 `json:"marginSeconds"`
	// TopicARN receives the summary ("" when none is configured).
	TopicARN              string `json:"topicArn,omitempty"`
	KMSDeletionWindowDays int32  `json:"kmsDeletionWindowDays"`
	DryRun                bool   `json:"dryRun"`

	// LockHeld says this execution holds the zone's lock record.
	LockHeld bool `json:"lockHeld"`

	// SuppliedKMSKeyARN is the input's kmsKeyArn ("" when a key is created).
	SuppliedKMSKeyARN string `json:"suppliedKmsKeyArn,omitempty"`
	// KSK is the key this workflow creates (enable-signing, and the new key
	// of rotate-ksk); OldKSK the key rotate-ksk retires; KSKs every KSK
	// disable-signing retires.
	KSK    *KSKRef  `json:"ksk,omitempty"`
	OldKSK *KSKRef  `json:"oldKsk,omitempty"`
	KSKs   []KSKRef `json:"ksks,omitempty"`

	// ChangeID is the last Route 53 change a step made, for check-change;
	// empty when the step had nothing to change.
	ChangeID string `json:"changeId,omitempty"`
	// DSOperation is the DS publisher's Progress.Operation of the DS change
	// under way; DSDetail its Progress.Detail.
	DSOperation string `json:"dsOperation,omitempty"`
	DSDetail    string `json:"dsDetail,omitempty"`

	// History is every observation of the parent and zone servers.
	History *rollover.History `json:"history"`
	// Gate is the last gate observe-zone computed.
	Gate GateState `json:"gate"`
	// Poll drives the current propagation loop.
	Poll Poll `json:"poll"`
	// Timeline is what happened, one line per step, for the summary.
	Timeline []string `json:"timeline,omitempty"`
	// Verdicts are the last verification of each kind, for the summary.
	ChainStatus string `json:"chainStatus,omitempty"`

	// Plan is the projected plan of a dry run (rotate-ksk): each gate with
	// the TTLs observed now and its projected earliest time.
	Plan *rollover.Plan `json:"plan,omitempty"`

	// Disable is disable-signing's own part of the state (disable.go).
	Disable *DisableState `json:"disable,omitempty"`

	// Validation is enable-validation's own part of the state
	// (validation.go).
	Validation *ValidationState `json:"validation,omitempty"`

	// Alarm is alarm-response's own part of the state (alarm.go).
	Alarm *AlarmState `json:"alarm,omitempty"`

	// Fleet is fleet-rotate's own part of the state (fleet.go).
	Fleet *FleetState `json:"fleet,omitempty"`
}

// KSKRef is one key-signing key as the workflows track it.
type KSKRef struct {
	Name      string       `json:"name"`
	KMSKeyARN string       `json:"kmsKeyArn"`
	Status    string       `json:"status,omitempty"`
	Key       rollover.Key `json:"dnskey"` // flags 257, algorithm 13, public key
	DS        rollover.DS  `json:"ds"`     // SHA-256
	// KMSKeyCreated says the workflow created the KMS key (and may
	// schedule its deletion when the key is retired).
	KMSKeyCreated bool `json:"kmsKeyCreated,omitempty"`
}

// DNSKEY returns the key as a record of zone.
func (k KSKRef) DNSKEY(zone string) *dns.DNSKEY { return k.Key.RR(zone) }

// DSRR returns the DS as a record of zone.
func (k KSKRef) DSRR(zone string) *dns.DS { return k.DS.RR(zone) }

// GateState is a gate as a state machine uses it: At feeds a Wait state's
// TimestampPath ($.state.gate.at), Ready a Choice.
type GateState struct {
	Transition rollover.Transition `json:"transition,omitempty"`
	// At is the gate's earliest time, RFC 3339 (UTC, seconds).
	At string `json:"at,omitempty"`
	// Ready says the gate is determined and At has passed.
	Ready bool `json:"ready"`
	// Terms explain At, one formula each, for the timeline.
	Terms   []string `json:"terms,omitempty"`
	Pending []string `json:"pending,omitempty"`
}

// Poll drives one bounded propagation loop: the step sets Done, or sets
// DelaySeconds for the Wait state (SecondsPath $.state.poll.delaySeconds)
// before the state machine calls it again. A step starting a loop that is not
// its own (Loop differs) starts counting afresh.
type Poll struct {
	Loop         string `json:"loop,omitempty"`
	Count        int    `json:"count"`
	Since        string `json:"since,omitempty"` // RFC 3339: the first poll of the loop
	Done         bool   `json:"done"`
	DelaySeconds int64  `json:"delaySeconds"`
	Detail       string `json:"detail,omitempty"`
}

// Loop keys of the generic steps.
func loopKey(step string, ev Event) string {
	k := step
	for _, p := range []string{ev.Target, string(ev.Gate), ev.Action, ev.Key, ev.Goal} {
		if p != "" {
			k += "/" + p
		}
	}
	return k
}

// Continue records one more poll of loop at now that has not reached its goal:
// the next wait doubles from base up to PollBackoffMax (or is after, when a
// publisher or API said how long), and the loop fails once budget has passed
// since its first poll.
func (p *Poll) Continue(loop string, now time.Time, base, after, budget time.Duration, detail string) error {
	if p.Loop != loop || p.Done {
		*p = Poll{Loop: loop, Since: stamp(now)}
	}
	since, err := time.Parse(time.RFC3339, p.Since)
	if err != nil {
		since = now
		p.Since = stamp(now)
	}
	p.Detail = detail
	if now.Sub(since) >= budget {
		return &PropagationTimeoutError{What: loop, Waited: now.Sub(since).String(), Lagging: []string{detail}}
	}
	d := base << min(p.Count, 16)
	if d <= 0 || d > PollBackoffMax {
		d = PollBackoffMax
	}
	if after > 0 {
		d = after
	}
	if rest := budget - now.Sub(since); d > rest {
		d = rest // the last poll falls on the budget's end
	}
	p.Count++
	p.DelaySeconds = max(int64(d/time.Second), 1)
	return nil
}

// Finish records that loop reached its goal.
func (p *Poll) Finish(loop, detail string) {
	if p.Loop != loop {
		*p = Poll{Loop: loop}
	}
	p.Done, p.DelaySeconds, p.Detail = true, 0, detail
}

// stamp formats t for a TimestampPath: RFC 3339, UTC, whole seconds rounded
// up so that a Wait never ends before t.
func stamp(t time.Time) string {
	u := t.UTC()
	if u.Truncate(time.Second) != u {
		u = u.Truncate(time.Second).Add(time.Second)
	}
	return u.Format(time.RFC3339)
}

// note appends a line to the timeline.
func (s *State) note(now time.Time, format string, args ...any) {
	s.Timeline = append(s.Timeline, stamp(now)+" "+fmt.Sprintf(format, args...))
}

// margin returns the state's safety margin.
func (s *State) margin() time.Duration { return time.Duration(s.MarginSeconds) * time.Second }

// keyFor returns the KSK a DS step is about.
func (s *State) keyFor(step, which string) (*KSKRef, error) {
	switch which {
	case "", "new":
		if s.KSK == nil {
			return nil, &StateError{Step: step, Reason: "no KSK in the state (state.ksk)"}
		}
		return s.KSK, nil
	case "old":
		if s.OldKSK == nil {
			return nil, &StateError{Step: step, Reason: "no old KSK in the state (state.oldKsk)"}
		}
		return s.OldKSK, nil
	}
	return nil, &StateError{Step: step, Reason: fmt.Sprintf("key %q: want \"new\" or \"old\"", which)}
}

// check verifies that ev carries a state.
func (ev Event) state(step string) (*State, error) {
	if ev.State == nil || ev.State.HostedZoneID == "" || ev.State.Zone == "" {
		return nil, &StateError{Step: step, Reason: "no state (Parameters must pass \"state.$\": \"$.state\")"}
	}
	if ev.State.History == nil {
		ev.State.History = rollover.NewHistory(ev.State.Zone)
	}
	return ev.State, nil
}

// continuePoll is Poll.Continue at the handler's clock, with the zone named in
// a timeout.
func (h *Handler) continuePoll(s *State, loop string, base, after, budget time.Duration, detail string) error {
	err := s.Poll.Continue(loop, h.now(), base, after, budget, detail)
	if pe, ok := err.(*PropagationTimeoutError); ok {
		pe.Zone = s.Zone
	}
	return err
}
