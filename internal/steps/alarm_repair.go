package steps

// alarm-response's repairs and their verification (alarm.go has the
// workflow's overview).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// Remediate is the remediate step: with no Action it repairs what the
// switches allow; Action "verify" polls until the repair shows, Action
// "notify" sends the report (and carries a caught error, Event.Failure).
func (h *Handler) Remediate(ctx context.Context, ev Event) (State, error) {
	const step = "remediate"
	if ev.Action == AlarmActionNotify {
		return h.alarmNotify(ctx, ev)
	}
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	if s.Alarm == nil {
		return State{}, &StateError{Step: step, Reason: "no state.alarm (diagnose makes it)"}
	}
	switch ev.Action {
	case "":
		return h.remediate(ctx, s)
	case AlarmActionVerify:
		return h.verifyRepair(ctx, s, loopKey(step, ev))
	}
	return State{}, &StateError{Step: step, Reason: fmt.Sprintf("action %q: want \"\", %q or %q", ev.Action, AlarmActionVerify, AlarmActionNotify)}
}

// remediate makes the repairs. It re-reads GetDNSSEC and each key first, so
// a repeated call does only what is still missing.
func (h *Handler) remediate(ctx context.Context, s *State) (State, error) {
	const step = "remediate"
	a := s.Alarm
	a.Left, a.Outcome, a.Verify = nil, "", false
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if d.ServeSignature == ServeNotSigning || d.ServeSignature == ServeDeleting {
		a.Left = append(a.Left, fmt.Sprintf("DNSSEC signing of %s is %s: alarm-response repairs a signed zone only; if the zone should be signed, run enable-signing", s.Zone, d.ServeSignature))
		return h.decide(s), nil
	}
	// The zone's own INTERNAL_FAILURE first: Route 53 refuses every KSK
	// change until signing is enabled (or disabled) again.
	if d.ServeSignature == ServeInternalFailure {
		if err := h.retryZone(ctx, s, d); err != nil {
			return State{}, named(step, err)
		}
		if d, err = h.GetDNSSEC(ctx, s.HostedZoneID); err != nil {
			return State{}, named(step, err)
		}
	}
	for _, k := range d.KSKs {
		if err := h.repairKSK(ctx, s, k); err != nil {
			return State{}, named(step, err)
		}
	}
	if !slices.ContainsFunc(d.KSKs, func(k r53types.KeySigningKey) bool {
		st := aws.ToString(k.Status)
		return st == KSKActive || st == KSKActionNeeded || st == KSKInternalFailure
	}) {
		a.Left = append(a.Left, fmt.Sprintf("%s has no KSK that signs or could sign again (%s): add one with rotate-ksk or the console; alarm-response never creates a KSK", s.Zone, orDash(strings.Join(d.Names(), ", "))))
	}
	return h.decide(s), nil
}

// decide sets the outcome once the repairs are made.
func (h *Handler) decide(s *State) State {
	a := s.Alarm
	a.Verify = len(a.Left) == 0
	switch {
	case len(a.Left) > 0:
		a.Outcome = AlarmNeedsPerson
	case len(a.Actions) > 0:
		a.Outcome = AlarmRepaired
	default:
		a.Outcome = AlarmNothingToRepair
	}
	if len(a.Actions) == 0 {
		s.note(h.now(), "nothing repaired")
	}
	return *s
}

// act records a repair.
func (h *Handler) act(s *State, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	s.Alarm.Actions = append(s.Alarm.Actions, line)
	s.note(h.now(), "%s", line)
}

// retried reports whether subject's INTERNAL_FAILURE call was repeated
// already, and marks it.
func (a *AlarmState) retried(subject string) bool {
	if slices.Contains(a.Retried, subject) {
		return true
	}
	a.Retried = append(a.Retried, subject)
	return false
}

// retryZone repeats EnableHostedZoneDNSSEC once after the zone's
// INTERNAL_FAILURE (the API reference: correct it by enabling or disabling
// signing; enabling is the call that keeps the zone signed).
func (h *Handler) retryZone(ctx context.Context, s *State, d *DNSSEC) error {
	a := s.Alarm
	manual := fmt.Sprintf("DNSSEC signing of %s is INTERNAL_FAILURE (%s): in the Route 53 console enable DNSSEC signing again (aws route53 enable-hosted-zone-dnssec --hosted-zone-id %s); if it fails again, open an AWS Support case before the signatures expire",
		s.Zone, orDash(d.StatusMessage), s.HostedZoneID)
	switch {
	case !a.Repairs.RetryInternalFailure:
		a.Left = append(a.Left, manual+" (retryInternalFailure is off)")
		return nil
	case a.retried("signing"):
		a.Left = append(a.Left, manual+" (enabling it once more did not help)")
		return nil
	}
	_, err := h.clients.Route53.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(s.HostedZoneID)})
	if err != nil {
		if asBusy(err) != nil {
			return fmt.Errorf("steps: EnableHostedZoneDNSSEC %s: %w", s.HostedZoneID, err)
		}
		a.Left = append(a.Left, manual+" (Route 53 refused to enable it again: "+err.Error()+")")
		return nil
	}
	h.act(s, "enabled DNSSEC signing of %s again after INTERNAL_FAILURE (EnableHostedZoneDNSSEC)", s.Zone)
	return nil
}

// repairKSK repairs one KSK: its KMS key first, then its status.
func (h *Handler) repairKSK(ctx context.Context, s *State, k r53types.KeySigningKey) error {
	a := s.Alarm
	name, status := aws.ToString(k.Name), aws.ToString(k.Status)
	switch status {
	case KSKActionNeeded, KSKInternalFailure, KSKActive:
	default:
		return nil // INACTIVE (maybe retired on purpose) or DELETING: not ours
	}
	kd, err := h.diagnoseKSK(ctx, s, k)
	if err != nil {
		return err
	}
	usable, err := h.repairKey(ctx, s, &kd)
	if err != nil {
		return err
	}
	switch {
	case status == KSKActive:
		return nil // Route 53 has not noticed (or the key was fine): nothing to activate
	case !usable:
		if status == KSKInternalFailure {
			a.Left = append(a.Left, fmt.Sprintf("KSK %s is INTERNAL_FAILURE and its KMS key is not usable: repair the key, then activate the KSK (aws route53 activate-key-signing-key --hosted-zone-id %s --name %s)", name, s.HostedZoneID, name))
		}
		return nil // the key's problems are in Left already
	}
	activate := fmt.Sprintf("aws route53 activate-key-signing-key --hosted-zone-id %s --name %s", s.HostedZoneID, name)
	if status == KSKInternalFailure {
		manual := fmt.Sprintf("KSK %s is INTERNAL_FAILURE (%s): activate it again (%s); if it fails again, open an AWS Support case before the signatures expire", name, orDash(aws.ToString(k.StatusMessage)), activate)
		switch {
		case !a.Repairs.RetryInternalFailure:
			a.Left = append(a.Left, manual+" (retryInternalFailure is off)")
			return nil
		case a.retried("KSK " + name):
			a.Left = append(a.Left, manual+" (activating it once more did not help)")
			return nil
		}
	} else if !a.Repairs.ReactivateKSK {
		a.Left = append(a.Left, fmt.Sprintf("KSK %s is ACTION_NEEDED although its KMS key is usable now: activate it (%s) (reactivateKsk is off)", name, activate))
		return nil
	}
	_, err = h.clients.Route53.ActivateKeySigningKey(ctx, &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(s.HostedZoneID), Name: aws.String(name)})
	if err != nil {
		if asBusy(err) != nil {
			return fmt.Errorf("steps: ActivateKeySigningKey %s: %w", name, err)
		}
		a.Left = append(a.Left, fmt.Sprintf("Route 53 refused to activate KSK %s (%s): check its KMS key %s, then %s", name, err.Error(), kd.KMSKeyARN, activate))
		return nil
	}
	h.act(s, "activated KSK %s again (was %s), as the Route 53 troubleshooting guide says", name, status)
	return nil
}

// repairKey makes the KSK's KMS key usable by Route 53 when the switches
// and the key's tags allow, and reports whether it is usable; what it may
// not or cannot do goes into the runbook.
func (h *Handler) repairKey(ctx context.Context, s *State, kd *KSKDiagnosis) (bool, error) {
	a := s.Alarm
	problems := kd.keyProblems()
	if len(problems) == 0 {
		return true, nil
	}
	arn := kd.KMSKeyARN
	if kd.Other != "" {
		a.Left = append(a.Left, fmt.Sprintf("the KMS key %s of KSK %s cannot be repaired (%s): add a new KSK with a new key (rotate-ksk), and withdraw the DS of %s before its signatures expire", arn, kd.Name, kd.Other, kd.Name))
		return false, nil
	}
	if !kd.Workflow {
		a.Left = append(a.Left, fmt.Sprintf("the KMS key %s of KSK %s is %s; it was not created by dnssec-autopilot (no %s tag), so it is not repaired automatically: %s",
			arn, kd.Name, strings.Join(problems, ", "), TagZone, keyRunbook(kd)))
		return false, nil
	}
	if kd.KeyState == string(kmstypes.KeyStatePendingDeletion) {
		if !a.Repairs.CancelKeyDeletion {
			a.Left = append(a.Left, fmt.Sprintf("the KMS key %s of KSK %s is pending deletion: %s (cancelKeyDeletion is off)", arn, kd.Name, keyRunbook(kd)))
			return false, nil
		}
		if _, err := h.clients.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(arn)}); err != nil {
			if asBusy(err) != nil {
				return false, fmt.Errorf("steps: CancelKeyDeletion %s: %w", arn, err)
			}
			a.Left = append(a.Left, fmt.Sprintf("KMS refused to cancel the deletion of %s (%s): %s", arn, err.Error(), keyRunbook(kd)))
			return false, nil
		}
		h.act(s, "cancelled the pending deletion of KMS key %s (KSK %s)", arn, kd.Name)
		kd.KeyState = string(kmstypes.KeyStateDisabled) // KMS leaves a cancelled key disabled
		pol, err := h.clients.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(arn), PolicyName: aws.String("default")})
		if err != nil {
			return false, fmt.Errorf("steps: GetKeyPolicy %s: %w", arn, err)
		}
		kd.PolicyProblem = CheckKeyPolicy(aws.ToString(pol.Policy), h.cfg.AccountID, s.HostedZoneID)
	}
	usable := true
	if kd.KeyState == string(kmstypes.KeyStateDisabled) {
		switch {
		case !a.Repairs.EnableKey:
			a.Left = append(a.Left, fmt.Sprintf("the KMS key %s of KSK %s is disabled: enable it (aws kms enable-key --key-id %s), then activate the KSK (enableKey is off)", arn, kd.Name, arn))
			usable = false
		default:
			if _, err := h.clients.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(arn)}); err != nil {
				if asBusy(err) != nil {
					return false, fmt.Errorf("steps: EnableKey %s: %w", arn, err)
				}
				a.Left = append(a.Left, fmt.Sprintf("KMS refused to enable %s (%s): %s", arn, err.Error(), keyRunbook(kd)))
				usable = false
			} else {
				h.act(s, "enabled KMS key %s (KSK %s)", arn, kd.Name)
				kd.KeyState = string(kmstypes.KeyStateEnabled)
			}
		}
	} else if kd.KeyState != string(kmstypes.KeyStateEnabled) {
		a.Left = append(a.Left, fmt.Sprintf("the KMS key %s of KSK %s is %s, a state no repair changes: %s", arn, kd.Name, kd.KeyState, keyRunbook(kd)))
		usable = false
	}
	if kd.PolicyProblem != "" {
		ok, err := h.restorePolicy(ctx, s, kd)
		if err != nil {
			return false, err
		}
		usable = usable && ok
	}
	return usable, nil
}

// keyRunbook says in plain words how a person makes a key usable again.
func keyRunbook(kd *KSKDiagnosis) string {
	var steps []string
	if kd.KeyState == string(kmstypes.KeyStatePendingDeletion) {
		steps = append(steps, fmt.Sprintf("cancel its deletion (aws kms cancel-key-deletion --key-id %s)", kd.KMSKeyARN))
	}
	if kd.KeyState == string(kmstypes.KeyStatePendingDeletion) || kd.KeyState == string(kmstypes.KeyStateDisabled) {
		steps = append(steps, fmt.Sprintf("enable it (aws kms enable-key --key-id %s)", kd.KMSKeyARN))
	}
	if kd.PolicyProblem != "" {
		steps = append(steps, "add the key policy statements for "+DNSSECServicePrincipal+" (Route 53 Developer Guide, \"Working with customer managed keys for DNSSEC\")")
	}
	steps = append(steps, "then activate the KSK (aws route53 activate-key-signing-key)")
	return strings.Join(steps, ", ")
}

// restorePolicy adds back the statements of KeyPolicy that allow Route 53
// DNSSEC (by Sid: a statement of that Sid is replaced, every other
// statement is kept). A Deny naming the service is a person's decision.
func (h *Handler) restorePolicy(ctx context.Context, s *State, kd *KSKDiagnosis) (bool, error) {
	a := s.Alarm
	arn := kd.KMSKeyARN
	if !a.Repairs.RestorePolicy {
		a.Left = append(a.Left, fmt.Sprintf("the key policy of %s (KSK %s) does not allow Route 53 DNSSEC (%s): %s (restorePolicy is off)", arn, kd.Name, kd.PolicyProblem, keyRunbook(kd)))
		return false, nil
	}
	if strings.Contains(kd.PolicyProblem, "denies") {
		a.Left = append(a.Left, fmt.Sprintf("the key policy of %s (KSK %s) denies Route 53 DNSSEC (%s): someone denied it on purpose; remove that statement if signing should go on, then activate the KSK", arn, kd.Name, kd.PolicyProblem))
		return false, nil
	}
	out, err := h.clients.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(arn), PolicyName: aws.String("default")})
	if err != nil {
		return false, fmt.Errorf("steps: GetKeyPolicy %s: %w", arn, err)
	}
	restored, err := RestoreKeyPolicy(aws.ToString(out.Policy), h.cfg.AccountID, s.HostedZoneID)
	if err != nil {
		a.Left = append(a.Left, fmt.Sprintf("the key policy of %s (KSK %s) cannot be read (%v): %s", arn, kd.Name, err, keyRunbook(kd)))
		return false, nil
	}
	if reason := CheckKeyPolicy(restored, h.cfg.AccountID, s.HostedZoneID); reason != "" {
		a.Left = append(a.Left, fmt.Sprintf("the key policy of %s (KSK %s) would still not allow Route 53 DNSSEC with the documented statements added (%s): fix it by hand", arn, kd.Name, reason))
		return false, nil
	}
	_, err = h.clients.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), PolicyName: aws.String("default"), Policy: aws.String(restored)})
	if err != nil {
		if asBusy(err) != nil {
			return false, fmt.Errorf("steps: PutKeyPolicy %s: %w", arn, err)
		}
		a.Left = append(a.Left, fmt.Sprintf("KMS refused the restored policy of %s (%s): %s", arn, err.Error(), keyRunbook(kd)))
		return false, nil
	}
	h.act(s, "restored the key policy statements for %s on KMS key %s (KSK %s)", DNSSECServicePrincipal, arn, kd.Name)
	kd.PolicyProblem = ""
	return true, nil
}

// RestoreKeyPolicy returns doc with the statements of KeyPolicy that allow
// the Route 53 DNSSEC service principal: a statement with the same Sid is
// replaced, a missing one appended, every other statement kept as it was
// (the account's own statements, a person's additions).
func RestoreKeyPolicy(doc, accountID, hostedZoneID string) (string, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return "", fmt.Errorf("steps: key policy: %w", err)
	}
	var stmts []any
	switch st := p["Statement"].(type) {
	case []any:
		stmts = st
	case map[string]any:
		stmts = []any{st}
	case nil:
	default:
		return "", errors.New("steps: key policy: Statement is neither a list nor an object")
	}
	for _, want := range KeyPolicy(accountID, hostedZoneID).Statement {
		if !principalMatches(want.Principal, DNSSECServicePrincipal) {
			continue
		}
		b, _ := json.Marshal(want)
		var generic map[string]any
		_ = json.Unmarshal(b, &generic)
		i := slices.IndexFunc(stmts, func(x any) bool {
			m, ok := x.(map[string]any)
			return ok && m["Sid"] == want.Sid
		})
		if i >= 0 {
			stmts[i] = generic
		} else {
			stmts = append(stmts, generic)
		}
	}
	p["Statement"] = stmts
	if _, ok := p["Version"]; !ok {
		p["Version"] = "2012-10-17"
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("steps: key policy: %w", err)
	}
	return string(b), nil
}

// verifyRepair polls until Route 53 reports SIGNING with no KSK in
// ACTION_NEEDED or INTERNAL_FAILURE and at least one ACTIVE, and every zone
// server serves a DNSKEY set that validates with the ACTIVE KSKs' DS and
// signatures that outlive DS TTL + margin (freshly made: the key signs
// again).
func (h *Handler) verifyRepair(ctx context.Context, s *State, loop string) (State, error) {
	const step = "remediate"
	a := s.Alarm
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	var lagging []string
	var ds []dns.RR
	if d.ServeSignature != ServeSigning {
		lagging = append(lagging, "Route 53 signing is "+d.ServeSignature)
	}
	for _, k := range d.KSKs {
		switch st := aws.ToString(k.Status); st {
		case KSKActive:
			ref, err := kskRef(s.Zone, k)
			if err != nil {
				return State{}, named(step, err)
			}
			ds = append(ds, ref.DSRR(s.Zone))
		case KSKActionNeeded, KSKInternalFailure:
			lagging = append(lagging, "KSK "+aws.ToString(k.Name)+" is "+st)
		}
	}
	if len(ds) == 0 {
		lagging = append(lagging, "no KSK is ACTIVE")
	}
	if len(lagging) == 0 {
		snap, err := h.observer.Observe(ctx, s.Zone)
		if err != nil {
			return State{}, named(step, fmt.Errorf("steps: observing %s: %w", s.Zone, err))
		}
		if err := s.record(HistorySnapshot(snap)); err != nil {
			return State{}, named(step, err)
		}
		fresh := snap.Time.Add(time.Duration(a.DSTTL)*time.Second + s.margin())
		_, bad := EveryZoneServer(snap, func(r observe.ServerResult) (bool, string) {
			if ok, why := DNSKEYValidates(s.Zone, ds, r, snap.Time); !ok {
				return false, why
			}
			if r.DNSKEY.Expiry.Before(fresh) {
				return false, "DNSKEY signatures expire at " + stamp(r.DNSKEY.Expiry) + ", not yet re-signed"
			}
			return true, ""
		})
		lagging = append(lagging, bad...)
		if len(lagging) == 0 {
			expiry, _, answered, _ := earliestExpiry(snap)
			a.Verified = fmt.Sprintf("Route 53 signing SIGNING with %s; every zone server (%d) serves a DNSKEY set that validates, signatures valid until %s or later",
				strings.Join(d.Names(), ", "), answered, stamp(expiry))
			s.Poll.Finish(loop, "repair verified on every zone server")
			s.note(h.now(), "verified: %s", a.Verified)
			return *s, nil
		}
	}
	slices.Sort(lagging)
	if err := h.continuePoll(s, loop, ObservePollBase, 0, AlarmVerifyBudget, "repair not yet visible: "+strings.Join(lagging, "; ")); err != nil {
		return State{}, err
	}
	return *s, nil
}
