package steps

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// rotate-ksk (DESIGN.md section 3): the double-DS rotation of the Route 53
// blog with both KSKs signing, gated by rollover.RotateKSKGates. The steps of
// this file are preflight-rotate and prove-new-key, and the observe-zone
// targets of the rotation; rotate_ksk.go holds the KSK and KMS key
// retirement steps and the rollback gate. statemachines/rotate-ksk.asl.json
// chains them with the generic steps:
//
//	preflight-rotate (dryRun: the plan, Succeed) -> prepare-kms-key -> create-ksk
//	-> check-change -> observe both-ksks / publish-new-ds gate -> publish-ds add new
//	-> verify-ds new served -> observe both-ds / remove-old-ds gate -> prove-new-key
//	== point of no return ==
//	-> publish-ds remove old -> verify-ds old withdrawn -> observe / deactivate-old-ksk gate
//	-> deactivate-ksk old -> check-change -> observe old-ksk-gone / delete-old-ksk gate
//	-> delete-ksk old -> check-change -> schedule-key-deletion old -> validate-chain
//	-> notify -> release-lock
//
// Every gate is observe -> Wait TimestampPath (entered even when the gate has
// passed, so that the number of transitions never depends on the TTLs) ->
// observe again (TTLs re-read). A failure before the point of no return rolls
// back: publish-ds remove new -> verify-ds new withdrawn -> rollback-gate ->
// deactivate-ksk new -> delete-ksk new -> schedule-key-deletion new ->
// release-lock -> Fail with the original error. After it, a failure releases
// the lock and fails with the original error and a cause saying the run is
// forward-only (the zone stays secure: both KSKs are still ACTIVE).

// observe-zone targets of rotate-ksk.
const (
	// TargetBothKSKs: every zone server serves a DNSKEY set that the old
	// KSK's DS alone validates and the new KSK's DS alone validates (both
	// keys in it, both signing).
	TargetBothKSKs = "both-ksks"
	// TargetBothDS: every parent server serves both DS records, and every
	// zone server both KSKs.
	TargetBothDS = "both-ds"
	// TargetOldKSKGone: every zone server serves a DNSKEY set without the
	// old KSK that the new KSK's DS validates.
	TargetOldKSKGone = "old-ksk-gone"
)

func init() {
	RegisterTarget(TargetBothKSKs, bothKSKs)
	RegisterTarget(TargetBothDS, bothDS)
	RegisterTarget(TargetOldKSKGone, oldKSKGone)
}

// Projection of a dry run: how long a change is assumed to take to reach
// every server, since a dry run observes no change.
const (
	// ProjectedZonePropagation: Route 53 documents that changes reach its
	// name servers within 60 s; one more minute for the observation.
	ProjectedZonePropagation = 2 * time.Minute
	// ProjectedParentPropagation: registries and parent zones usually
	// publish a DS change within minutes; an hour is a cautious guess, and
	// a real run observes instead.
	ProjectedParentPropagation = time.Hour
)

func rotationKeys(s *State, step string) (*KSKRef, *KSKRef, error) {
	if s.KSK == nil || s.OldKSK == nil || s.KSK.Key.PublicKey == "" || s.OldKSK.Key.PublicKey == "" {
		return nil, nil, &StateError{Step: step, Reason: "rotate-ksk needs state.ksk and state.oldKsk with their DNSKEY"}
	}
	return s.KSK, s.OldKSK, nil
}

func bothKSKs(s *State, snap *observe.Snapshot) (bool, []string, error) {
	newK, oldK, err := rotationKeys(s, "observe-zone")
	if err != nil {
		return false, nil, err
	}
	oldDS, newDS := []dns.RR{oldK.DSRR(s.Zone)}, []dns.RR{newK.DSRR(s.Zone)}
	ok, lagging := EveryZoneServer(snap, func(r observe.ServerResult) (bool, string) {
		if ok, why := DNSKEYValidates(s.Zone, oldDS, r, snap.Time); !ok {
			return false, "old KSK: " + why
		}
		if ok, why := DNSKEYValidates(s.Zone, newDS, r, snap.Time); !ok {
			return false, "new KSK: " + why
		}
		return true, ""
	})
	return ok, lagging, nil
}

func bothDS(s *State, snap *observe.Snapshot) (bool, []string, error) {
	ok, lagging, err := bothKSKs(s, snap)
	if err != nil {
		return false, nil, err
	}
	want := []rollover.DS{s.OldKSK.DS, s.KSK.DS}
	pok, plagging := everyParentServer(snap, func(set rollover.DSSet) (bool, string) {
		for _, d := range want {
			if !slices.Contains(set, d) {
				return false, "serves " + set.String() + ", without " + d.String()
			}
		}
		return true, ""
	})
	return ok && pok, append(lagging, plagging...), nil
}

func oldKSKGone(s *State, snap *observe.Snapshot) (bool, []string, error) {
	newK, oldK, err := rotationKeys(s, "observe-zone")
	if err != nil {
		return false, nil, err
	}
	newDS := []dns.RR{newK.DSRR(s.Zone)}
	ok, lagging := EveryZoneServer(snap, func(r observe.ServerResult) (bool, string) {
		for _, rr := range r.DNSKEY.Records {
			if k, ok := rr.(*dns.DNSKEY); ok && rollover.KeyFromRR(k) == oldK.Key {
				return false, "still serves the old KSK " + oldK.Key.String()
			}
		}
		return DNSKEYValidates(s.Zone, newDS, r, snap.Time)
	})
	return ok, lagging, nil
}

// everyParentServer applies ok to the DS set of every parent server row and
// returns whether all pass, and the rows that do not (Unknown rows included).
func everyParentServer(snap *observe.Snapshot, ok func(rollover.DSSet) (bool, string)) (bool, []string) {
	var lagging []string
	for _, r := range snap.ParentServers {
		if r.DS == nil || r.DS.State == observe.Unknown {
			reason := "no answer"
			if r.DS != nil {
				reason = r.DS.Reason
			}
			lagging = append(lagging, fmt.Sprintf("parent %s (unknown: %s)", serverKey(r), reason))
			continue
		}
		var set rollover.DSSet
		if r.DS.State == observe.OK {
			set, _ = rollover.DSSetFromRRs(r.DS.Records)
		}
		if good, why := ok(set); !good {
			lagging = append(lagging, fmt.Sprintf("parent %s (%s)", serverKey(r), why))
		}
	}
	return len(lagging) == 0 && len(snap.ParentServers) > 0, lagging
}

// PreflightRotate is rotate-ksk's first step: Begin (input, zone, delegation,
// parent secure), then
//   - no other workflow holds the zone's lock (ConcurrentRunError);
//   - the zone is SIGNING (NotSignedError) with exactly one KSK, ACTIVE,
//     besides the one this execution creates (RotationInProgressError);
//   - a supplied kmsKeyArn is not the current KSK's key (KMSKeyInUseError);
//   - the chain is secure: every parent server serves the current KSK's DS,
//     every zone server's DNSKEY set validates with it, and the zone's
//     DNSKEY validates secure from the root (ChainNotSecureError).
//
// With dryRun it computes the projected plan (State.Plan: every gate with
// the TTLs observed now and its projected earliest time) and changes
// nothing, the lock included; otherwise it takes the lock.
func (h *Handler) PreflightRotate(ctx context.Context, ev Event) (State, error) {
	const step = "preflight-rotate"
	s, snap, err := h.Begin(ctx, ev, rollover.WorkflowRotate, true)
	if err != nil {
		return State{}, named(step, err)
	}
	rs, err := h.readLock(ctx, s.HostedZoneID, s.Zone)
	if err != nil {
		return State{}, named(step, err)
	}
	if rs != nil && !strings.Contains(lockHolder(rs), "owner="+lockOwner(ev.Execution.ARN)) {
		return State{}, &ConcurrentRunError{Zone: s.Zone, Record: LockName(s.Zone), Holder: lockHolder(rs)}
	}
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return State{}, err
	}
	if d.ServeSignature != ServeSigning {
		return State{}, &NoKSKToRotateError{Zone: s.Zone, Status: d.ServeSignature}
	}
	start, _ := parseStart(ev.Execution.StartTime)
	old, err := currentKSK(s.Zone, d, KSKName(start))
	if err != nil {
		return State{}, err
	}
	ref, err := kskRef(s.Zone, old)
	if err != nil {
		return State{}, named(step, err)
	}
	s.OldKSK = &ref
	if s.SuppliedKMSKeyARN != "" && s.SuppliedKMSKeyARN == ref.KMSKeyARN {
		return State{}, &KMSKeyInUseError{KeyARN: ref.KMSKeyARN, Zone: s.Zone, KSK: ref.Name, Reason: "it is the key of the KSK being rotated; a rotation needs a new key"}
	}
	if err := h.checkRotationChain(ctx, s, snap); err != nil {
		return State{}, named(step, err)
	}
	s.note(h.now(), "current KSK %s (%s, DS %s, KMS key %s); TTLs observed: DS %ds, DNSKEY %ds",
		ref.Name, ref.Key, ref.DS, ref.KMSKeyARN, s.History.MaxDSTTL, s.History.MaxDNSKEYTTL)
	if s.DryRun {
		plan, err := ProjectRotation(s.History, ref.Key, s.margin(), h.now())
		if err != nil {
			return State{}, named(step, err)
		}
		s.Plan = &plan
		for _, g := range plan.Gates {
			s.note(h.now(), "dry run: %s not before %s (%s)", g.Transition, stamp(g.Earliest), g.Description)
		}
		return *s, nil
	}
	if err := h.AcquireLock(ctx, s.HostedZoneID, s.Zone, ev.Execution); err != nil {
		return State{}, named(step, err)
	}
	s.LockHeld = true
	s.note(h.now(), "lock %s taken", LockName(s.Zone))
	return *s, nil
}

// currentKSK returns the zone's one ACTIVE KSK, ignoring the KSK named mine
// (this execution's new key, on a re-run).
func currentKSK(zone string, d *DNSSEC, mine string) (r53types.KeySigningKey, error) {
	var cur []r53types.KeySigningKey
	others := 0
	for _, k := range d.KSKs {
		switch {
		case aws.ToString(k.Name) == mine:
		case aws.ToString(k.Status) == KSKActive:
			cur = append(cur, k)
		default:
			others++
		}
	}
	if len(cur) != 1 || others > 0 {
		return r53types.KeySigningKey{}, &RotationInProgressError{Zone: zone, KSKs: d.Names()}
	}
	return cur[0], nil
}

// checkRotationChain checks that the chain of trust stands on the current
// KSK: every parent server serves its DS, every zone server's DNSKEY set
// validates with it, and the zone's DNSKEY validates secure from the root.
func (h *Handler) checkRotationChain(ctx context.Context, s *State, snap *observe.Snapshot) error {
	old := s.OldKSK
	var unknown []string
	for _, r := range snap.ParentServers {
		if r.DS == nil || r.DS.State == observe.Unknown {
			unknown = append(unknown, "parent "+serverKey(r))
		}
	}
	for _, r := range snap.ZoneServers {
		if r.DNSKEY == nil || r.DNSKEY.State == observe.Unknown {
			unknown = append(unknown, serverKey(r))
		}
	}
	if len(unknown) > 0 {
		return &ObservationIncompleteError{Zone: s.Zone, Servers: unknown}
	}
	pok, plag := everyParentServer(snap, func(set rollover.DSSet) (bool, string) {
		if !slices.Contains(set, old.DS) {
			return false, "serves " + set.String() + ", without " + old.DS.String()
		}
		return true, ""
	})
	if !pok {
		return &ChainNotSecureError{Zone: s.Zone, Status: "not anchored", Reason: "the DS of the current KSK " + old.Name + " is not on every parent server: " + strings.Join(plag, "; ")}
	}
	ds := []dns.RR{old.DSRR(s.Zone)}
	zok, zlag := EveryZoneServer(snap, func(r observe.ServerResult) (bool, string) { return DNSKEYValidates(s.Zone, ds, r, snap.Time) })
	if !zok {
		return &ChainNotSecureError{Zone: s.Zone, Status: "not anchored", Reason: "the DNSKEY set of some zone server does not validate with the current DS: " + strings.Join(zlag, "; ")}
	}
	r, err := h.newResolver()
	if err != nil {
		return fmt.Errorf("steps: resolver: %w", err)
	}
	res, err := r.Resolve(ctx, s.Zone, dns.TypeDNSKEY)
	if err != nil {
		return fmt.Errorf("steps: validating %s DNSKEY: %w", s.Zone, err)
	}
	switch res.Status {
	case dnssec.Secure:
		s.ChainStatus = res.Status.String()
		return nil
	case dnssec.Indeterminate:
		return &ObservationIncompleteError{Zone: s.Zone, Servers: []string{"validation of " + s.Zone + " DNSKEY: " + res.Reason}}
	}
	return &ChainNotSecureError{Zone: s.Zone, Status: res.Status.String(), Reason: orDash(res.Reason)}
}

// ProjectedNewKey stands for the new KSK in a dry run's projection: no key is
// created, so a placeholder public key (derived from the zone, so that plans
// are reproducible) takes its place in the modelled DNSKEY and DS sets.
func ProjectedNewKey(zone string) rollover.Key {
	sum := sha512.Sum512([]byte("dnssec-autopilot projected new KSK of " + zone))
	return rollover.Key{Flags: 257, Algorithm: dns.ECDSAP256SHA256, PublicKey: base64.StdEncoding.EncodeToString(sum[:])}
}

// ProjectRotation computes the plan of a rotation of oldKSK from what h
// observed up to now: each transition's gate is computed by
// rollover.RotateKSKGates on a copy of h extended with the observations the
// rotation is projected to make (zone changes on every server
// ProjectedZonePropagation after they are made, DS changes on every parent
// server ProjectedParentPropagation after), with the TTLs observed so far.
// Each gate's Earliest is the projected time of its transition: the later of
// its gate and of the observation that allows it.
func ProjectRotation(h *rollover.History, oldKSK rollover.Key, margin time.Duration, now time.Time) (rollover.Plan, error) {
	var p rollover.History
	b, err := json.Marshal(h)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		return rollover.Plan{}, fmt.Errorf("steps: plan: copying the history: %w", err)
	}
	curDS, okDS := p.CurrentDS()
	curKeys, okKeys := p.CurrentDNSKEY()
	if !okDS || !okKeys {
		return rollover.Plan{}, &ObservationIncompleteError{Zone: p.Zone, Servers: []string{"servers disagree or did not answer: no current DS or DNSKEY set to plan from"}}
	}
	newKSK := ProjectedNewKey(p.Zone)
	newDS, err := newKSK.DS(p.Zone, rollover.DSDigest)
	if err != nil {
		return rollover.Plan{}, fmt.Errorf("steps: plan: %w", err)
	}
	oldDS, err := oldKSK.DS(p.Zone, rollover.DSDigest)
	if err != nil {
		return rollover.Plan{}, fmt.Errorf("steps: plan: %w", err)
	}
	var keys, signers, keysNoOld, signersNoOld []rollover.Key
	for _, k := range curKeys.Keys {
		keys = append(keys, k.Key)
		if k.Signs {
			signers = append(signers, k.Key)
		}
		if k.Key != oldKSK {
			keysNoOld = append(keysNoOld, k.Key)
			if k.Signs {
				signersNoOld = append(signersNoOld, k.Key)
			}
		}
	}
	both := rollover.NewDNSKEYSet(append(keys, newKSK), append(signers, newKSK)...)
	after := rollover.NewDNSKEYSet(append(keysNoOld, newKSK), append(signersNoOld, newKSK)...)
	var dsBoth, dsNew rollover.DSSet
	dsBoth = rollover.NewDSSet(append(append([]rollover.DS{}, curDS...), newDS)...)
	for _, d := range curDS {
		if d != oldDS {
			dsNew = append(dsNew, d)
		}
	}
	dsNew = rollover.NewDSSet(append(dsNew, newDS)...)

	dsTTL, keyTTL := p.MaxDSTTL, p.MaxDNSKEYTTL
	snapshot := func(at time.Time, ds rollover.DSSet, k rollover.DNSKEYSet) rollover.Snapshot {
		s := rollover.Snapshot{At: at}
		for _, srv := range slices.Sorted(mapKeys(p.ParentServers)) {
			s.Parent = append(s.Parent, rollover.DSAnswer{Server: srv, Set: ds, TTL: dsTTL})
		}
		for _, srv := range slices.Sorted(mapKeys(p.ZoneServers)) {
			s.Zone = append(s.Zone, rollover.DNSKEYAnswer{Server: srv, Set: k, TTL: keyTTL})
		}
		return s
	}
	plan := rollover.Plan{Zone: p.Zone, Workflow: rollover.WorkflowRotate, At: now, MarginSeconds: int64(margin / time.Second)}
	gateAt := func(t rollover.Transition, at time.Time, assumed string) (time.Time, error) {
		pl, err := rollover.RotateKSKGates(&p, oldKSK, newKSK, margin, at)
		if err != nil {
			return time.Time{}, fmt.Errorf("steps: plan: %w", err)
		}
		g, ok := pl.Gate(t)
		if !ok {
			return time.Time{}, fmt.Errorf("steps: plan: no gate %s", t)
		}
		if t == rollover.DeleteOldKSK {
			holdForCachedDS(&g, &p, oldKSK.String(), oldDS, margin, at) // as observe-zone does
		}
		if g.Earliest.Before(at) {
			g.Earliest = at
		}
		if assumed != "" {
			g.Ready = false // a projection, not an observation
			g.Description += " (projected: " + assumed + ")"
		} else {
			g.Description += " (in a dry run the new key is a placeholder: no key is created)"
		}
		plan.Gates = append(plan.Gates, g)
		return g.Earliest, nil
	}
	zoneProp, parentProp := ProjectedZonePropagation, ProjectedParentPropagation
	t := now
	if p.LastObserved.After(t) {
		t = p.LastObserved
	}
	if _, err := gateAt(rollover.AddKSK, t, ""); err != nil {
		return rollover.Plan{}, err
	}
	phases := []struct {
		delay  time.Duration
		ds     rollover.DSSet
		keys   rollover.DNSKEYSet
		next   rollover.Transition
		assume string
	}{
		{zoneProp, curDS, both, rollover.PublishNewDS, fmt.Sprintf("every zone server serves the new KSK %s after the KSK is created", zoneProp)},
		{parentProp, dsBoth, both, rollover.RemoveOldDS, fmt.Sprintf("every parent server serves the new DS %s after it is submitted", parentProp)},
		{parentProp, dsNew, both, rollover.DeactivateOldKSK, fmt.Sprintf("no parent server serves the old DS %s after its removal is submitted", parentProp)},
		{zoneProp, dsNew, after, rollover.DeleteOldKSK, fmt.Sprintf("no zone server serves the old KSK %s after its deactivation", zoneProp)},
	}
	for _, st := range phases {
		t = t.Add(st.delay)
		if err := p.Record(snapshot(t, st.ds, st.keys)); err != nil {
			return rollover.Plan{}, fmt.Errorf("steps: plan: %w", err)
		}
		if t, err = gateAt(st.next, t, st.assume); err != nil {
			return rollover.Plan{}, err
		}
	}
	return plan, nil
}

func mapKeys(m map[string]string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ProveNewKey is the last check before the old DS is removed: Route 53 must
// report both KSKs ACTIVE (a KSK whose KMS key was disabled is ACTION_NEEDED
// while its last signatures still validate), every zone server must serve a
// DNSKEY set that the new KSK's DS alone validates, and every parent server
// the new DS (*NewKeyNotServingError otherwise: the state machine rolls
// back); a server without a usable answer is
// *ObservationIncompleteError (retried). It also recomputes the remove-old-ds
// gate on this observation (State.Gate; not Ready when a larger TTL moved it,
// and the state machine waits again) and, once it is ready, checks the
// cache-combination invariant of the removal as a second opinion.
func (h *Handler) ProveNewKey(ctx context.Context, ev Event) (State, error) {
	const step = "prove-new-key"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	newK, _, err := rotationKeys(s, step)
	if err != nil {
		return State{}, err
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
	newDS := []dns.RR{newK.DSRR(s.Zone)}
	var bad, unknown []string
	// Route 53 must still be able to sign with both keys: a KSK whose KMS
	// key was disabled is ACTION_NEEDED while its last signatures still
	// validate, and the zone would go bogus when they expire.
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return State{}, err
	}
	for _, ref := range []*KSKRef{s.KSK, s.OldKSK} {
		k, ok := d.KSK(ref.Name)
		if st := aws.ToString(k.Status); !ok || st != KSKActive {
			if !ok {
				st = "missing"
			}
			bad = append(bad, fmt.Sprintf("Route 53 reports KSK %s %s (%s)", ref.Name, st, orDash(aws.ToString(k.StatusMessage))))
		}
	}
	for _, r := range snap.ZoneServers {
		if r.DNSKEY == nil || r.DNSKEY.State == observe.Unknown {
			unknown = append(unknown, serverKey(r))
			continue
		}
		if ok, why := DNSKEYValidates(s.Zone, newDS, r, snap.Time); !ok {
			bad = append(bad, fmt.Sprintf("%s (%s)", serverKey(r), why))
		}
	}
	for _, r := range snap.ParentServers {
		if r.DS == nil || r.DS.State == observe.Unknown {
			unknown = append(unknown, "parent "+serverKey(r))
			continue
		}
		var set rollover.DSSet
		if r.DS.State == observe.OK {
			set, _ = rollover.DSSetFromRRs(r.DS.Records)
		}
		if !slices.Contains(set, newK.DS) {
			bad = append(bad, fmt.Sprintf("parent %s (serves %s)", serverKey(r), set))
		}
	}
	if len(bad) > 0 {
		return State{}, &NewKeyNotServingError{Zone: s.Zone, KSK: newK.Name, DS: newK.DS.String(), Servers: bad}
	}
	if len(unknown) > 0 || len(snap.ZoneServers) == 0 || len(snap.ParentServers) == 0 {
		return State{}, &ObservationIncompleteError{Zone: s.Zone, Servers: unknown}
	}
	g, err := h.gate(s, rollover.RemoveOldDS)
	if err != nil {
		return State{}, named(step, err)
	}
	s.Gate = gateState(g)
	if g.Ready {
		if err := s.History.CheckGate(g, h.now()); err != nil {
			return State{}, named(step, fmt.Errorf("steps: the remove-old-ds gate passed but the invariant refuses it: %w", err))
		}
		s.note(h.now(), "new KSK %s proven: every zone server's DNSKEY set validates with DS %s alone, every parent server serves it", newK.Name, newK.DS)
	}
	return *s, nil
}
