package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// ValidateChain validates the zone's DNSKEY and SOA from the root with a
// fresh validating resolver (no cache older than this step). Poll.Done when
// both are secure; otherwise the back-off, and a *ChainNotSecureError once
// ChainValidationBudget has passed.
func (h *Handler) ValidateChain(ctx context.Context, ev Event) (State, error) {
	const step = "validate-chain"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	r, err := h.newResolver()
	if err != nil {
		return State{}, named(step, err)
	}
	status, reason := dnssec.Secure, ""
	for _, qt := range []uint16{dns.TypeDNSKEY, dns.TypeSOA} {
		res, err := r.Resolve(ctx, s.Zone, qt)
		if err != nil {
			return State{}, named(step, fmt.Errorf("steps: validating %s %s: %w", s.Zone, dns.TypeToString[qt], err))
		}
		if res.Status != dnssec.Secure {
			status, reason = res.Status, fmt.Sprintf("%s %s: %s", s.Zone, dns.TypeToString[qt], res.Reason)
			break
		}
	}
	s.ChainStatus = status.String()
	loop := loopKey(step, ev)
	if status == dnssec.Secure {
		s.Poll.Finish(loop, s.Zone+" secure from the root")
		s.note(h.now(), "%s validates secure from the root (DNSKEY and SOA)", s.Zone)
		return *s, nil
	}
	if err := h.continuePoll(s, loop, ValidatePollBase, 0, ChainValidationBudget, reason); err != nil {
		return State{}, &ChainNotSecureError{Zone: s.Zone, Status: status.String(), Reason: reason}
	}
	return *s, nil
}

// Summary is the text of a run's notification.
func Summary(s *State, outcome string) (subject, body string) {
	subject = fmt.Sprintf("dnssec-autopilot: %s of %s %s", s.Workflow, strings.TrimSuffix(s.Zone, "."), outcome)
	if len(subject) > 100 { // SNS subjects are at most 100 characters
		subject = subject[:100]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s (hosted zone %s): %s\n", s.Workflow, s.Zone, s.HostedZoneID, outcome)
	fmt.Fprintf(&b, "execution: %s\n", s.ExecutionARN)
	if s.KSK != nil {
		fmt.Fprintf(&b, "KSK: %s (%s), KMS key %s\n", s.KSK.Name, s.KSK.Key, s.KSK.KMSKeyARN)
		fmt.Fprintf(&b, "DS: %s IN DS %s\n", s.Zone, strings.TrimPrefix(s.KSK.DSRR(s.Zone).String(), s.KSK.DSRR(s.Zone).Hdr.String()))
	}
	if s.OldKSK != nil {
		fmt.Fprintf(&b, "old KSK: %s (%s), KMS key %s\n", s.OldKSK.Name, s.OldKSK.Key, s.OldKSK.KMSKeyARN)
	}
	if s.History != nil {
		fmt.Fprintf(&b, "TTLs observed: DS %ds, DNSKEY %ds, negative %ds, largest record %ds; safety margin %ds\n",
			s.History.MaxDSTTL, s.History.MaxDNSKEYTTL, s.History.MaxNegativeTTL, s.History.MaxZoneTTL, s.MarginSeconds)
	}
	if s.ChainStatus != "" {
		fmt.Fprintf(&b, "chain of trust: %s\n", s.ChainStatus)
	}
	b.WriteString("timeline:\n")
	for _, l := range s.Timeline {
		b.WriteString("  " + l + "\n")
	}
	return subject, b.String()
}

// Notify publishes the run's summary to the state's topic (nothing when no
// topic is configured). A retried Notify may send the summary twice.
func (h *Handler) Notify(ctx context.Context, ev Event) (State, error) {
	const step = "notify"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	outcome := "succeeded"
	if s.DryRun {
		outcome = "planned (dry run)"
	}
	s.note(h.now(), "%s", outcome)
	if s.TopicARN == "" || h.clients.SNS == nil {
		return *s, nil
	}
	subject, body := Summary(s, outcome)
	if _, err := h.clients.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(s.TopicARN), Subject: aws.String(subject), Message: aws.String(body)}); err != nil {
		return State{}, named(step, fmt.Errorf("steps: SNS Publish to %s: %w", s.TopicARN, err))
	}
	return *s, nil
}

// ReleaseLock releases the zone's lock if this execution holds it. It runs at
// the end of every path, failures included (Catch), so it accepts an event
// without a state (a failure before the state existed) and does nothing then.
func (h *Handler) ReleaseLock(ctx context.Context, ev Event) (State, error) {
	const step = "release-lock"
	if ev.State == nil || ev.State.HostedZoneID == "" || ev.State.Zone == "" {
		return State{}, nil
	}
	s := ev.State
	ex := ev.Execution
	if ex.ARN == "" {
		ex.ARN = s.ExecutionARN
	}
	released, err := h.releaseLock(ctx, s.HostedZoneID, s.Zone, ex)
	if err != nil {
		return State{}, named(step, err)
	}
	if released {
		s.note(h.now(), "lock %s released", LockName(s.Zone))
	}
	s.LockHeld = false
	return *s, nil
}
