package steps

// alarm-response's report (alarm.go has the workflow's overview).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// alarmNotify sends the report: what was found, what was done, what a
// person must do. On the failure path (Event.Failure) the state may lack the
// diagnosis, or not exist (diagnose failed): the report then says so.
func (h *Handler) alarmNotify(ctx context.Context, ev Event) (State, error) {
	const step = "remediate"
	s := ev.State
	if s == nil {
		s = &State{}
	}
	if s.Alarm == nil {
		s.Alarm = &AlarmState{}
	}
	if s.Workflow == "" {
		s.Workflow = WorkflowAlarmResponse
	}
	if s.ExecutionARN == "" {
		s.ExecutionARN = ev.Execution.ARN
	}
	if s.TopicARN == "" {
		s.TopicARN = h.cfg.DefaultTopicARN
	}
	a := s.Alarm
	if s.Zone == "" && len(a.Input) > 0 {
		// diagnose failed: name the zone from the input if it has one (the
		// Catch put the error beside the input).
		var m map[string]json.RawMessage
		if json.Unmarshal(a.Input, &m) == nil {
			delete(m, "error")
			raw, _ := json.Marshal(m)
			if in, tr, err := ParseAlarmInput(raw); err == nil {
				s.HostedZoneID, a.Trigger = in.HostedZoneID, tr
			}
		}
	}
	a.Input = nil
	if ev.Failure != nil {
		a.Outcome = AlarmFailed
		a.Verify = false
		s.note(h.now(), "failed: %s: %s", ev.Failure.Error, ev.Failure.Cause)
	}
	if a.Outcome == AlarmNeedsPerson {
		a.Cause = (&AlarmNotRemediableError{Zone: s.Zone, Left: a.Left, Urgent: a.Urgent, TimeLeft: time.Duration(a.TimeLeftSeconds) * time.Second}).Error()
	}
	s.note(h.now(), "%s", orDash(a.Outcome))
	if s.TopicARN == "" || h.clients.SNS == nil {
		return *s, nil
	}
	subject, body := AlarmSummary(s, ev.Failure)
	if _, err := h.clients.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(s.TopicARN), Subject: aws.String(subject), Message: aws.String(body)}); err != nil {
		return State{}, named(step, fmt.Errorf("steps: SNS Publish to %s: %w", s.TopicARN, err))
	}
	return *s, nil
}

// AlarmSummary is the text of alarm-response's notification. When the
// signatures expire before a withdrawn DS could leave caches and the
// problem is not repaired, that comes first.
func AlarmSummary(s *State, failure *Failure) (subject, body string) {
	a := s.Alarm
	zone := strings.TrimSuffix(orDash(s.Zone), ".")
	if s.Zone == "" && s.HostedZoneID != "" {
		zone = "hosted zone " + s.HostedZoneID
	}
	outcome := map[string]string{
		AlarmRepaired:        "repaired",
		AlarmNothingToRepair: "nothing to repair",
		AlarmNeedsPerson:     "needs a person",
		AlarmFailed:          "failed",
	}[a.Outcome]
	if outcome == "" {
		outcome = "ended"
	}
	urgent := a.Urgent && a.Outcome != AlarmRepaired && a.Outcome != AlarmNothingToRepair
	subject = fmt.Sprintf("dnssec-autopilot: alarm-response of %s %s", zone, outcome)
	if urgent {
		subject = "URGENT " + subject
	}
	if len(subject) > 100 { // SNS subjects are at most 100 characters
		subject = subject[:100]
	}
	var b strings.Builder
	if urgent {
		left := time.Duration(a.TimeLeftSeconds) * time.Second
		fmt.Fprintf(&b, "URGENT: the signatures of %s expire at %s (in %s), before a DS withdrawn now could leave resolver caches (DS TTL %ds + margin %ds), and the problem was not repaired: validating resolvers will fail to resolve %s from %s unless the KSK signs again before then. Withdrawing the DS is no longer a way out; repair the key now.\n\n",
			s.Zone, a.EarliestExpiry, formatDuration(left), a.DSTTL, s.MarginSeconds, s.Zone, a.EarliestExpiry)
	}
	fmt.Fprintf(&b, "alarm-response of %s (hosted zone %s): %s\n", orDash(s.Zone), orDash(s.HostedZoneID), outcome)
	switch a.Trigger.Source {
	case "alarm":
		fmt.Fprintf(&b, "started by alarm %s (%s) at %s: %s\n", a.Trigger.AlarmName, a.Trigger.Metric, a.Trigger.Time, a.Trigger.Reason)
	case "console":
		b.WriteString("started from the console\n")
	}
	fmt.Fprintf(&b, "execution: %s\n", s.ExecutionARN)
	if failure != nil {
		fmt.Fprintf(&b, "\nThe run failed: %s: %s\n", failure.Error, failure.Cause)
	}
	b.WriteString("\nWhat was found:\n")
	if len(a.Findings) == 0 {
		b.WriteString("  - (no diagnosis)\n")
	}
	for _, f := range a.Findings {
		b.WriteString("  - " + f + "\n")
	}
	b.WriteString("\nWhat was done:\n")
	if len(a.Actions) == 0 {
		b.WriteString("  - nothing was changed\n")
	}
	for _, x := range a.Actions {
		b.WriteString("  - " + x + "\n")
	}
	if a.Verified != "" {
		b.WriteString("  - verified: " + a.Verified + "\n")
	}
	switch {
	case s.ChainStatus != "":
		fmt.Fprintf(&b, "  - chain of trust from the root: %s\n", s.ChainStatus)
	case a.Verified != "" && !a.DSPublished:
		b.WriteString("  - chain of trust not validated: the parent serves no DS for the zone\n")
	}
	b.WriteString("\nWhat a person must do:\n")
	switch {
	case len(a.Left) > 0:
		for i, l := range a.Left {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, l)
		}
		if a.EarliestExpiry != "" {
			fmt.Fprintf(&b, "  Do it before %s, when the first signatures expire.\n", a.EarliestExpiry)
		}
	case failure != nil:
		fmt.Fprintf(&b, "  1. Read the error above and the execution's history; check GetDNSSEC of hosted zone %s and the KMS keys of its KSKs.\n", orDash(s.HostedZoneID))
		fmt.Fprintf(&b, "  2. Start alarm-response again from the console ({\"hostedZoneId\": %q}) once the cause is fixed.\n", orDash(s.HostedZoneID))
	default:
		b.WriteString("  nothing\n")
	}
	b.WriteString("\ntimeline:\n")
	for _, l := range s.Timeline {
		b.WriteString("  " + l + "\n")
	}
	return subject, b.String()
}
