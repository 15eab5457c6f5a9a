package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Retiring a KSK and its KMS key (rotate-ksk forward: the old key; its
// rollback: the new one). Each step takes the Task parameter "key" ("old" or
// "new") and finds the KSK by name, so a re-run converges.

// RetireNewKSK is the transition of a rollback: the new KSK leaves the
// DNSKEY set and is deleted, the old one stays.
const RetireNewKSK rollover.Transition = "retire-new-ksk"

// DeleteKSKGate is the gate delete-ksk sets while a DS referring to the key
// may be cached.
const DeleteKSKGate rollover.Transition = "delete-ksk"

// KSKInParentDSPollBase is the first wait after Route 53 answered
// KeySigningKeyInParentDSRecord: it checks the parent itself, whose servers
// we have just seen without the DS, so it should agree within minutes.
const KSKInParentDSPollBase = time.Minute

// DeactivateKSK deactivates the selected KSK (Task parameter key), ACTIVE or
// ACTION_NEEDED. Nothing to do when it is INACTIVE, being deleted or gone. Route 53's KeySigningKeyInParentDSRecord
// means "not yet": the step polls (Poll.Done false) within
// ParentPropagationBudget, never forces. Deactivating the zone's last ACTIVE
// KSK is a *LastActiveKSKError. The change is left in State.ChangeID.
func (h *Handler) DeactivateKSK(ctx context.Context, ev Event) (State, error) {
	const step = "deactivate-ksk"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	ref, err := s.keyFor(step, ev.Key)
	if err != nil {
		return State{}, err
	}
	loop := loopKey(step, ev)
	s.ChangeID = ""
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return State{}, err
	}
	k, ok := d.KSK(ref.Name)
	if st := aws.ToString(k.Status); !ok || st == KSKInactive || st == "DELETING" {
		if !ok {
			st = "gone"
		}
		s.Poll.Finish(loop, fmt.Sprintf("KSK %s is %s", ref.Name, st))
		return *s, nil
	}
	others := 0 // other ACTIVE KSKs (an ACTION_NEEDED one is deactivated too)
	for _, o := range d.KSKs {
		if aws.ToString(o.Status) == KSKActive && aws.ToString(o.Name) != ref.Name {
			others++
		}
	}
	if others == 0 && d.ServeSignature == ServeSigning {
		return State{}, &LastActiveKSKError{Zone: s.Zone, KSK: ref.Name}
	}
	out, err := h.clients.Route53.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: aws.String(s.HostedZoneID), Name: aws.String(ref.Name)})
	switch {
	case err == nil:
	case IsKSKInParentDS(err):
		if err := h.continuePoll(s, loop, KSKInParentDSPollBase, 0, ParentPropagationBudget, "Route 53: the parent still serves a DS of KSK "+ref.Name); err != nil {
			return State{}, err
		}
		return *s, nil
	case apiCode(err) == "NoSuchKeySigningKey":
		s.Poll.Finish(loop, "KSK "+ref.Name+" is gone")
		return *s, nil
	case apiCode(err) == "KeySigningKeyInUse":
		return State{}, &LastActiveKSKError{Zone: s.Zone, KSK: ref.Name}
	default:
		return State{}, named(step, fmt.Errorf("steps: DeactivateKeySigningKey %s: %w", ref.Name, err))
	}
	s.ChangeID = aws.ToString(out.ChangeInfo.Id)
	ref.Status = KSKInactive
	s.Poll.Finish(loop, "KSK "+ref.Name+" deactivated")
	s.note(h.now(), "KSK %s (%s) deactivated (change %s)", ref.Name, ref.Key, s.ChangeID)
	return *s, nil
}

// DeleteKSK deletes the selected KSK (Task parameter key) once it is
// INACTIVE; nothing to do when it is gone or being deleted. An ACTIVE key is
// a *KSKStillActiveError. No key that a DS some cache may still hold refers
// to is deleted (DESIGN.md section 3): while a DS set holding the key's DS
// may be cached (History: its last service + its TTL + the margin), the step
// changes nothing and sets State.Gate (transition delete-ksk, not Ready, At
// the expiry) for a Wait on $.state.gate.at; a parent server still serving
// the DS is a *GateNotReadyError. The rollover gates let the old KSK leave
// the DNSKEY set as soon as the cached DS sets trust the new key; this keeps
// the deletion, the step with no way back, until the old DS is forgotten
// too. The change is left in State.ChangeID.
func (h *Handler) DeleteKSK(ctx context.Context, ev Event) (State, error) {
	const step = "delete-ksk"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	ref, err := s.keyFor(step, ev.Key)
	if err != nil {
		return State{}, err
	}
	s.ChangeID = ""
	now := h.now()
	s.Gate = GateState{Transition: DeleteKSKGate, At: stamp(now), Ready: true}
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	k, ok := d.KSK(ref.Name)
	if !ok || aws.ToString(k.Status) == "DELETING" {
		return *s, nil
	}
	if st := aws.ToString(k.Status); st != KSKInactive {
		return State{}, &KSKStillActiveError{Zone: s.Zone, KSK: ref.Name, Status: st}
	}
	if ref.DS.Digest != "" {
		until, served := DSCachedUntil(s.History, ref.DS, s.margin())
		if served {
			return State{}, &GateNotReadyError{Zone: s.Zone, Transition: "delete KSK " + ref.Name, Reason: "a parent server still serves its DS " + ref.DS.String()}
		}
		if until.After(now) {
			s.Gate = GateState{Transition: DeleteKSKGate, At: stamp(until), Ready: false,
				Terms: []string{fmt.Sprintf("DS sets holding %s last served + their DS TTL + margin %ds = %s", ref.DS, s.MarginSeconds, stamp(until))}}
			s.note(now, "KSK %s kept until %s: a cached DS may still refer to it", ref.Name, stamp(until))
			return *s, nil
		}
	}
	out, err := h.clients.Route53.DeleteKeySigningKey(ctx, &route53.DeleteKeySigningKeyInput{HostedZoneId: aws.String(s.HostedZoneID), Name: aws.String(ref.Name)})
	switch apiCode(err) {
	case "":
	case "NoSuchKeySigningKey":
		return *s, nil
	default:
		return State{}, named(step, fmt.Errorf("steps: DeleteKeySigningKey %s: %w", ref.Name, err))
	}
	s.ChangeID = aws.ToString(out.ChangeInfo.Id)
	ref.Status = "DELETING"
	s.note(h.now(), "KSK %s (%s) deleted (change %s)", ref.Name, ref.Key, s.ChangeID)
	return *s, nil
}

// DSCachedUntil returns when the last cached copy of ds expires: the latest
// LastServed + MaxTTL + margin of every DS set observed holding it; served
// reports that some parent server still serves (or may serve) such a set.
func DSCachedUntil(h *rollover.History, ds rollover.DS, margin time.Duration) (until time.Time, served bool) {
	if h == nil {
		return time.Time{}, false
	}
	for _, seen := range h.DS {
		if !slices.Contains(seen.Set, ds) {
			continue
		}
		if seen.LastServed == nil {
			return time.Time{}, true
		}
		if t := seen.LastServed.Add(time.Duration(seen.MaxTTL)*time.Second + margin); t.After(until) {
			until = t
		}
	}
	return until, false
}

// ScheduleKeyDeletion schedules the deletion of the selected KSK's KMS key
// with the state's window (KMSDeletionWindowDays, 7 to 30), once no KSK of
// the zone uses it: the KSK was deleted after the gates, so no cached DS
// refers to it. Only keys the workflows created for this hosted zone are
// scheduled (KMSKeyCreated, or tagged with the hosted zone); a key a person
// supplied is left alone and said so. A key already pending deletion is done.
// While Route 53 is still deleting the KSK (DELETING) the step polls
// (Poll.Done false); Poll.Done once the key is dealt with.
func (h *Handler) ScheduleKeyDeletion(ctx context.Context, ev Event) (State, error) {
	const step = "schedule-key-deletion"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	ref, err := s.keyFor(step, ev.Key)
	if err != nil {
		return State{}, err
	}
	if ref.KMSKeyARN == "" {
		s.Poll.Finish(loopKey(step, ev), "no KMS key")
		return *s, nil
	}
	days := s.KMSDeletionWindowDays
	if days == 0 {
		days = h.cfg.KMSDeletionWindowDays
	}
	if days < 7 || days > 30 {
		return State{}, &InvalidInputError{Field: "kmsDeletionWindowDays", Value: fmt.Sprint(days), Reason: "must be between 7 and 30 (the KMS limits)"}
	}
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	loop := loopKey(step, ev)
	for _, k := range d.KSKs {
		if aws.ToString(k.KmsArn) != ref.KMSKeyARN {
			continue
		}
		if aws.ToString(k.Status) != "DELETING" {
			return State{}, &KMSKeyInUseError{KeyARN: ref.KMSKeyARN, Zone: s.Zone, KSK: aws.ToString(k.Name), Reason: "its deletion waits until no KSK uses it"}
		}
		// Route 53 is still deleting the KSK: wait until it is gone.
		if err := h.continuePoll(s, loop, ChangePollBase, 0, ChangeSyncBudget, "KSK "+aws.ToString(k.Name)+" is being deleted"); err != nil {
			return State{}, err
		}
		return *s, nil
	}
	s.Poll.Finish(loop, "KMS key of KSK "+ref.Name+" retired")
	out, err := h.clients.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref.KMSKeyARN)})
	if err != nil {
		if apiCode(err) == "NotFoundException" {
			s.note(h.now(), "KMS key %s of KSK %s is gone", ref.KMSKeyARN, ref.Name)
			return *s, nil
		}
		return State{}, named(step, fmt.Errorf("steps: DescribeKey %s: %w", ref.KMSKeyARN, err))
	}
	if st := out.KeyMetadata.KeyState; st == kmstypes.KeyStatePendingDeletion {
		return *s, nil
	}
	ours, err := h.ourKey(ctx, s, ref)
	if err != nil {
		return State{}, named(step, err)
	}
	if !ours {
		s.note(h.now(), "KMS key %s of KSK %s was supplied, not created by dnssec-autopilot: left alone, schedule its deletion yourself once nothing uses it", ref.KMSKeyARN, ref.Name)
		return *s, nil
	}
	sk, err := h.clients.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(ref.KMSKeyARN), PendingWindowInDays: aws.Int32(days)})
	if err != nil {
		if apiCode(err) == "KMSInvalidStateException" { // pending deletion in between
			return *s, nil
		}
		return State{}, named(step, fmt.Errorf("steps: ScheduleKeyDeletion %s: %w", ref.KMSKeyARN, err))
	}
	when := ""
	if sk.DeletionDate != nil {
		when = " on " + stamp(*sk.DeletionDate)
	}
	s.note(h.now(), "KMS key %s of KSK %s scheduled for deletion in %d days%s (kms cancel-key-deletion undoes it until then)", ref.KMSKeyARN, ref.Name, days, when)
	return *s, nil
}

// ourKey reports whether the workflows created ref's KMS key for this hosted
// zone.
func (h *Handler) ourKey(ctx context.Context, s *State, ref *KSKRef) (bool, error) {
	if ref.KMSKeyCreated {
		return true, nil
	}
	tags, err := h.clients.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(ref.KMSKeyARN)})
	if err != nil {
		return false, fmt.Errorf("steps: ListResourceTags %s: %w", ref.KMSKeyARN, err)
	}
	for _, t := range tags.Tags {
		if aws.ToString(t.TagKey) == TagHostedZoneID && aws.ToString(t.TagValue) == s.HostedZoneID {
			return true, nil
		}
	}
	return false, nil
}

// RollbackGate is the gate of a rotation's rollback, after the new DS was
// withdrawn: it observes every server, records the observation and computes
// when the new KSK may leave (State.Gate, transition retire-new-ksk):
// rollover.GateTo for the state "old DS only, DNSKEY set without the new
// KSK", and, since no key that a cached DS refers to is ever deleted, the
// expiry of every DS set holding the new DS (its last service + its TTL +
// the margin). Poll.Done once determined (no parent server serves the new
// DS, every server answered); otherwise the back-off.
func (h *Handler) RollbackGate(ctx context.Context, ev Event) (State, error) {
	const step = "rollback-gate"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	if s.KSK == nil {
		return State{}, &StateError{Step: step, Reason: "no new KSK in the state (state.ksk)"}
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
	now := h.now()
	g, err := rollbackGate(s, now)
	if err != nil {
		return State{}, named(step, err)
	}
	s.Gate = gateState(g)
	loop := loopKey(step, ev)
	if g.Determined() {
		s.Poll.Finish(loop, "rollback gate determined")
		s.note(now, "gate %s: %s at %s", RetireNewKSK, gateWord(g.Ready), s.Gate.At)
		return *s, nil
	}
	if err := h.continuePoll(s, loop, ObservePollBase, 0, ParentPropagationBudget, "rollback gate pending: "+strings.Join(g.Pending, "; ")); err != nil {
		return State{}, err
	}
	return *s, nil
}

// rollbackGate computes the gate of retiring the new KSK.
func rollbackGate(s *State, now time.Time) (rollover.Gate, error) {
	newKey := s.KSK.Key
	var pending []string
	ds, ok := s.History.CurrentDS()
	if !ok {
		pending = append(pending, "the parent servers do not all serve one DS set")
	}
	var kept rollover.DSSet
	for _, d := range ds {
		if d != s.KSK.DS {
			kept = append(kept, d)
		}
	}
	var keys, signers []rollover.Key
	cur, ok := s.History.CurrentDNSKEY()
	if !ok {
		pending = append(pending, "the zone servers do not all serve one DNSKEY set")
	}
	for _, k := range cur.Keys {
		if newKey.PublicKey != "" && k.Key == newKey {
			continue
		}
		keys = append(keys, k.Key)
		if k.Signs {
			signers = append(signers, k.Key)
		}
	}
	after := rollover.Published{DS: rollover.NewDSSet(kept...), DNSKEY: rollover.NewDNSKEYSet(keys, signers...)}
	g, err := rollover.GateTo(s.History, RetireNewKSK, "the new KSK leaves the DNSKEY set and is deleted; the old KSK and its DS stay", after, s.margin(), now)
	if err != nil {
		return rollover.Gate{}, fmt.Errorf("steps: rollback gate: %w", err)
	}
	g.Pending = append(g.Pending, pending...)
	holdForCachedDS(&g, s.History, "KSK "+s.KSK.Name, s.KSK.DS, s.margin(), now)
	return g, nil
}

// holdForCachedDS moves gate g, a transition that deletes ref, until every
// DS set holding ref's DS has expired from caches (its last service + its
// largest TTL + the margin), and keeps it pending while a parent server
// serves such a set: no key that a cached DS refers to is deleted (DESIGN.md
// section 3), even when the cached set also trusts another key.
func holdForCachedDS(g *rollover.Gate, h *rollover.History, ksk string, ds rollover.DS, margin time.Duration, now time.Time) {
	if h == nil || ds.Digest == "" {
		return
	}
	for _, seen := range h.DS {
		if !slices.Contains(seen.Set, ds) {
			continue
		}
		if seen.LastServed == nil {
			g.Pending = append(g.Pending, fmt.Sprintf("a parent server still serves %s, holding the DS %s of %s", seen.Set, ds, ksk))
			continue
		}
		at := seen.LastServed.Add(time.Duration(seen.MaxTTL)*time.Second + margin)
		g.Terms = append(g.Terms, rollover.Term{Kind: "ds", SetID: seen.ID,
			Event: seen.Set.String() + " (holding the DS of " + ksk + ", which is deleted) last served by a parent server",
			Since: *seen.LastServed, TTLName: "DS TTL", TTL: seen.MaxTTL, MarginSeconds: int64(margin / time.Second), At: at})
		if at.After(g.Earliest) {
			g.Earliest = at
		}
	}
	g.Ready = len(g.Pending) == 0 && !now.Before(g.Earliest)
}
