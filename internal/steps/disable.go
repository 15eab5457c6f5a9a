package steps

import (
	"cmp"
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
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// disable-signing (DESIGN.md section 3, the blog's "Disabling DNSSEC
// signing" made safe):
//
//	preflight-disable   input, zone, signing status, signed children, the DS
//	                    records to withdraw, the lock
//	withdraw-ds         every DS through the zone's DS publisher
//	verify-ds           (key "all", goal "withdrawn") until no parent server
//	                    serves any DS; an unknown server never counts as absent
//	observe-zone        gate disable-signing: the DS TTL + margin after the
//	                    last DS was last served (Slack's 2021 outage)
//	prove-insecure      validation from the root shows the zone provably
//	                    insecure: an authenticated denial of its DS
//	disable-signing     DisableHostedZoneDNSSEC, then check-change (INSYNC)
//	observe-zone        target zone-unsigned, gate delete-ksks
//	retire-ksks         deactivate and delete every KSK, then check-change
//	retire-kms-keys     (deleteKmsKeys only) schedule the deletion of the KMS
//	                    keys dnssec-autopilot created for them
//	prove-insecure      the final state: insecure, never bogus
//	notify, release-lock
//
// Which DS records go. Every DS the parent serves goes, not only those of the
// zone's KSKs: a zone is insecure only when its parent proves there is no DS
// at all, and a DS left behind (whatever key it names) makes a validator
// demand a signature by that key, so the unsigned zone would be bogus. The
// order keeps the zone secure while the set shrinks: first the DS records
// that match no KSK of the zone, then those of KSKs that do not sign, last
// those of the signing KSKs, so the DS set never holds only records that
// validate nothing. Records that match no KSK are named in the timeline.
//
// A failure after the DS is withdrawn and before signing is disabled leaves
// the zone signed and insecure, which is safe; a new execution continues from
// there (every step converges). Because that execution has not seen the DS
// withdrawn, its preflight assumes a DS was served until its first look, for
// AssumedDSTTL, when a signing zone shows none: the gate then waits as if it
// had just been withdrawn.
//
// Children. A zone holding DS records of child zones is their parent in the
// chain of trust; unsigning it makes them insecure (not bogus: the DS denial
// for them comes from an insecure zone). That is a loss of security someone
// chose, so it is refused (SignedChildrenError) unless the input says
// "allowSignedChildren": true. The other way round, a zone below an insecure
// parent can always be unsigned (Begin does not ask for a secure parent
// here): prove-insecure then finds the denial of DS above it.
//
// The manual publisher cannot enforce the order: a person is asked to
// withdraw each record, and the run goes on once no parent server serves
// any DS.

// Policy numbers of disable-signing.
const (
	// AssumedDSTTL is the TTL assumed for a DS no observation of this
	// execution saw (a re-run after the DS was withdrawn): the blog's
	// "typically 2 days", the TTL registries such as .com use for DS records.
	AssumedDSTTL = 2 * 24 * 60 * 60
	// DisableRefusedBudget bounds how long Route 53's own "a DS is still at
	// the parent" refusal (KeySigningKeyInParentDSRecord) is waited out once
	// every parent server was observed without one: Route 53 resolves the
	// parent itself, and two hours is longer than a cached negative answer.
	DisableRefusedBudget = 2 * time.Hour
)

// TargetZoneUnsigned: every zone server answers NODATA to DNSKEY (Route 53
// stopped signing everywhere).
const TargetZoneUnsigned = "zone-unsigned"

func init() {
	RegisterTarget(TargetZoneUnsigned, zoneUnsigned)
}

func zoneUnsigned(_ *State, snap *observe.Snapshot) (bool, []string, error) {
	ok, lagging := EveryZoneServer(snap, func(r observe.ServerResult) (bool, string) {
		if r.DNSKEY.State == observe.Absent {
			return true, ""
		}
		return false, fmt.Sprintf("still serves %d DNSKEY records", len(r.DNSKEY.Records))
	})
	return ok, lagging, nil
}

// DisableState is disable-signing's part of the State.
type DisableState struct {
	AllowSignedChildren bool `json:"allowSignedChildren"`
	DeleteKMSKeys       bool `json:"deleteKmsKeys"`
	// SignedChildren are the child zones with a DS in this zone.
	SignedChildren []string `json:"signedChildren,omitempty"`
	// DS are the records to withdraw, in order; Next is the one under way.
	DS   []DSWithdrawal `json:"ds"`
	Next int            `json:"next"`
	// AssumedDS says the first observation showed no DS although the zone
	// signs, so one was assumed served until then (AssumedDSTTL).
	AssumedDS bool `json:"assumedDs,omitempty"`
	// KMSKeys says what became of each KSK's KMS key.
	KMSKeys []string `json:"kmsKeys,omitempty"`
}

// DSWithdrawal is one DS record disable-signing withdraws.
type DSWithdrawal struct {
	DS rollover.DS `json:"ds"`
	// KSK is the zone's KSK the DS is the digest of ("" when none is).
	KSK string `json:"ksk,omitempty"`
	// Signing says that KSK signs the zone's DNSKEY set (ACTIVE, signing on).
	Signing   bool `json:"signing,omitempty"`
	Withdrawn bool `json:"withdrawn"`
}

// rank orders withdrawals: unattributed, then KSKs that do not sign, then
// signing KSKs.
func (w DSWithdrawal) rank() int {
	switch {
	case w.KSK == "":
		return 0
	case !w.Signing:
		return 1
	}
	return 2
}

// PreflightDisable is disable-signing's first step: Begin; the zone must be
// signed (or hold KSKs, or have a DS at its parent: a re-run) else
// *NotSignedError; Route 53 must not report INTERNAL_FAILURE; a zone with DS
// records of child zones is refused (*SignedChildrenError) unless
// allowSignedChildren; then the DS records to withdraw are listed (observed
// at every parent server, held by the publisher, and the KSKs' own), and the
// lock is taken. With dryRun, the plan is noted and nothing changes.
func (h *Handler) PreflightDisable(ctx context.Context, ev Event) (State, error) {
	const step = "preflight"
	s, snap, err := h.Begin(ctx, ev, rollover.WorkflowDisable, true)
	if err != nil {
		return State{}, named(step, err)
	}
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return State{}, err
	}
	s.KSKs = nil
	for _, k := range d.KSKs {
		ref, err := kskRef(s.Zone, k)
		if err != nil {
			return State{}, named(step, err)
		}
		s.KSKs = append(s.KSKs, ref)
	}
	served := servedDS(snap)
	signing := d.ServeSignature == ServeSigning
	if !signing && d.ServeSignature != ServeDeleting && len(s.KSKs) == 0 && len(served) == 0 {
		return State{}, &NotSignedError{Zone: s.Zone, Status: d.ServeSignature}
	}
	ds := &DisableState{AllowSignedChildren: ev.Input.AllowSignedChildren, DeleteKMSKeys: ev.Input.DeleteKMSKeys}
	s.Disable = ds
	if ds.SignedChildren, err = h.childrenWithDS(ctx, s.HostedZoneID, s.Zone); err != nil {
		return State{}, named(step, err)
	}
	if len(ds.SignedChildren) > 0 {
		if !ds.AllowSignedChildren {
			return State{}, &SignedChildrenError{Zone: s.Zone, Children: ds.SignedChildren}
		}
		s.note(h.now(), "allowSignedChildren: %s become insecure with %s", strings.Join(ds.SignedChildren, ", "), s.Zone)
	}
	pub, err := h.publisher(s)
	if err != nil {
		return State{}, named(step, err)
	}
	candidates := slices.Clone(served)
	held, err := pub.Published(ctx, s.Zone)
	if err != nil && !errors.Is(err, dspublish.ErrNoSystemOfRecord) {
		return State{}, named(step, fmt.Errorf("steps: DS records held by the %s publisher: %w", s.Publisher.Kind, err))
	}
	candidates = append(candidates, held...)
	if s.Publisher.Kind != dspublish.KindManual {
		// A DS being added right now may not be served yet; removing one
		// that is not there does nothing. (A person is not asked to remove
		// what nobody observed.)
		for _, k := range s.KSKs {
			candidates = append(candidates, k.DSRR(s.Zone))
		}
	}
	ds.DS = withdrawals(s.Zone, candidates, s.KSKs, signing)
	for _, w := range ds.DS {
		if w.KSK == "" {
			s.note(h.now(), "DS %s at the parent matches no KSK of %s: withdrawn too (a DS left behind would make the unsigned zone bogus)", w.DS, s.Zone)
		}
	}
	if !signing && len(served) > 0 {
		s.note(h.now(), "warning: the parent serves a DS but Route 53 does not sign %s (%s): the zone is bogus until the DS is withdrawn and its TTL has passed", s.Zone, orDash(d.ServeSignature))
	}
	if signing && len(served) == 0 && len(s.KSKs) > 0 {
		if err := assumeDSServed(s, snap); err != nil {
			return State{}, named(step, err)
		}
		ds.AssumedDS = true
		s.note(h.now(), "no parent server serves a DS although %s is signed: assuming one was served until now, with TTL %ds (a re-run after the DS was withdrawn)", s.Zone, AssumedDSTTL)
	}
	if plan, err := rollover.DisableSigningGates(s.History, s.margin(), h.now()); err == nil {
		s.Plan = &plan
	}
	if s.DryRun {
		var list []string
		for _, w := range ds.DS {
			list = append(list, w.DS.String())
		}
		s.note(h.now(), "dry run: would withdraw DS [%s] through the %s publisher, wait until no parent server serves one, then the DS TTL (largest seen %ds) + margin %ds, prove %s insecure, disable signing and delete KSKs %v",
			strings.Join(list, " "), s.Publisher.Kind, s.History.MaxDSTTL, s.MarginSeconds, s.Zone, d.Names())
		return *s, nil
	}
	if err := h.AcquireLock(ctx, s.HostedZoneID, s.Zone, ev.Execution); err != nil {
		return State{}, named(step, err)
	}
	s.LockHeld = true
	s.note(h.now(), "lock %s taken; %d DS to withdraw, KSKs %v, signing %s", LockName(s.Zone), len(ds.DS), d.Names(), orDash(d.ServeSignature))
	return *s, nil
}

// servedDS returns the DS records any parent server serves, without
// duplicates.
func servedDS(snap *observe.Snapshot) []*dns.DS {
	var out []*dns.DS
	for _, r := range snap.ParentServers {
		if r.DS == nil || r.DS.State != observe.OK {
			continue
		}
		for _, rr := range r.DS.Records {
			if d, ok := rr.(*dns.DS); ok {
				out = append(out, d)
			}
		}
	}
	return out
}

// withdrawals lists each distinct DS of candidates once, attributed to the
// KSK it is the digest of, in withdrawal order (see DSWithdrawal.rank).
func withdrawals(zone string, candidates []*dns.DS, ksks []KSKRef, signing bool) []DSWithdrawal {
	var out []DSWithdrawal
	for _, c := range candidates {
		d := rollover.DSFromRR(c)
		if slices.ContainsFunc(out, func(w DSWithdrawal) bool { return w.DS == d }) {
			continue
		}
		w := DSWithdrawal{DS: d}
		rr := d.RR(zone)
		for _, k := range ksks {
			if dnssec.DSMatches(rr, k.DNSKEY(zone)) {
				w.KSK, w.Signing = k.Name, signing && k.Status == KSKActive
				break
			}
		}
		out = append(out, w)
	}
	slices.SortStableFunc(out, func(a, b DSWithdrawal) int {
		if c := cmp.Compare(a.rank(), b.rank()); c != 0 {
			return c
		}
		return cmp.Compare(a.DS.String()+a.DS.Digest, b.DS.String()+b.DS.Digest)
	})
	return out
}

// assumeDSServed rebuilds the state's History as if every parent server had
// served the zone's KSKs' DS set, with TTL AssumedDSTTL, just before the first
// observation, so that the disable-signing gate waits for it.
func assumeDSServed(s *State, snap *observe.Snapshot) error {
	var set []rollover.DS
	for _, k := range s.KSKs {
		set = append(set, k.DS)
	}
	h := rollover.NewHistory(s.Zone)
	if s.History.ZoneTTLKnown {
		h.ObserveZoneTTL(s.History.MaxZoneTTL)
	}
	assumed := rollover.Snapshot{At: snap.Time.Add(-time.Second)}
	for _, r := range snap.ParentServers {
		assumed.Parent = append(assumed.Parent, rollover.DSAnswer{Server: serverKey(r), Set: rollover.NewDSSet(set...), TTL: AssumedDSTTL})
	}
	if err := h.Record(assumed); err != nil {
		return fmt.Errorf("steps: assumed DS: %w", err)
	}
	if err := h.Record(HistorySnapshot(snap)); err != nil {
		return fmt.Errorf("steps: first observation: %w", err)
	}
	s.History = h
	return nil
}

// childrenWithDS lists the names below the zone's apex that hold DS records
// in the hosted zone: child zones whose chain of trust goes through it.
func (h *Handler) childrenWithDS(ctx context.Context, zoneID, zone string) ([]string, error) {
	var out []string
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)}
	for page := 0; page < maxRecordPages; page++ {
		res, err := h.clients.Route53.ListResourceRecordSets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("steps: ListResourceRecordSets %s: %w", zoneID, err)
		}
		for _, rs := range res.ResourceRecordSets {
			if rs.Type == r53types.RRTypeDs && !sameName(aws.ToString(rs.Name), zone) {
				n, _ := canonicalZone(aws.ToString(rs.Name))
				out = append(out, n)
			}
		}
		if !res.IsTruncated {
			return out, nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = res.NextRecordName, res.NextRecordType, res.NextRecordIdentifier
	}
	return nil, fmt.Errorf("steps: ListResourceRecordSets %s: more than %d pages", zoneID, maxRecordPages)
}

// state returns the state with its disable-signing part.
func (ev Event) disableState(step string) (*State, error) {
	s, err := ev.state(step)
	if err != nil {
		return nil, err
	}
	if s.Disable == nil {
		return nil, &StateError{Step: step, Reason: "no disable-signing state (state.disable: run preflight-disable first)"}
	}
	return s, nil
}

// WithdrawDS asks the zone's DS publisher to withdraw each DS of
// State.Disable.DS in turn, following each change until the publisher's
// system of record no longer holds it (for the manual publisher: until the
// person has been asked), and polls while one is under way. Poll.Done when
// every one is withdrawn there; verify-ds (key "all", goal "withdrawn") then
// observes every parent server.
func (h *Handler) WithdrawDS(ctx context.Context, ev Event) (State, error) {
	const step = "withdraw-ds"
	s, err := ev.disableState(step)
	if err != nil {
		return State{}, err
	}
	pub, err := h.publisher(s)
	if err != nil {
		return State{}, named(step, err)
	}
	loop := loopKey(step, ev)
	if s.Poll.Loop != loop {
		s.DSOperation = ""
	}
	ds := s.Disable
	for ds.Next < len(ds.DS) {
		w := &ds.DS[ds.Next]
		req := dspublish.Request{
			Zone: s.Zone, DS: w.DS.RR(s.Zone), Operation: s.DSOperation,
			RequestID: s.ExecutionARN + "/" + step + "/" + w.DS.String() + "/" + w.DS.Digest[:min(8, len(w.DS.Digest))],
		}
		if i := slices.IndexFunc(s.KSKs, func(k KSKRef) bool { return k.Name == w.KSK }); i >= 0 {
			req.DNSKEY = s.KSKs[i].DNSKEY(s.Zone)
		}
		p, err := pub.Remove(ctx, req)
		if err != nil {
			return State{}, named(step, err)
		}
		s.DSOperation, s.DSDetail = p.Operation, p.Detail
		if !p.Done && s.Publisher.Kind != dspublish.KindManual {
			if err := h.continuePoll(s, loop, p.PollAfter, p.PollAfter, ParentPropagationBudget, fmt.Sprintf("withdrawing DS %s: %s", w.DS, p.Detail)); err != nil {
				return State{}, err
			}
			return *s, nil
		}
		detail := p.Detail
		if !p.Done {
			detail += "; " + ManualNoteWait
		}
		w.Withdrawn = true
		ds.Next++
		s.DSOperation = ""
		s.note(h.now(), "DS %s (%s) withdrawn through the %s publisher: %s", w.DS, orDash(w.KSK), s.Publisher.Kind, detail)
	}
	s.Poll.Finish(loop, fmt.Sprintf("%d DS records withdrawn through the %s publisher", len(ds.DS), s.Publisher.Kind))
	return *s, nil
}

// ProveInsecure validates the zone's DNSKEY and SOA from the root with a
// fresh resolver and requires both provably insecure (ProvenInsecure): an
// authenticated denial of the zone's DS, or of a DS above it, at a secure
// parent. Run before disabling signing, it is the evidence that no validator
// that follows the chain can find the zone bogus; run at the end, it checks
// the final state. Poll.Done when proven; otherwise the back-off, and a
// *DelegationNotInsecureError once ChainValidationBudget has passed.
func (h *Handler) ProveInsecure(ctx context.Context, ev Event) (State, error) {
	const step = "prove-insecure"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	r, err := h.newResolver()
	if err != nil {
		return State{}, named(step, err)
	}
	status, proven, reason := dnssec.Insecure, true, ""
	for _, qt := range []uint16{dns.TypeDNSKEY, dns.TypeSOA} {
		res, err := r.Resolve(ctx, s.Zone, qt)
		if err != nil {
			return State{}, named(step, fmt.Errorf("steps: validating %s %s: %w", s.Zone, dns.TypeToString[qt], err))
		}
		ok, why := ProvenInsecure(s.Zone, res)
		reason = fmt.Sprintf("%s %s: %s", s.Zone, dns.TypeToString[qt], why)
		if !ok {
			status, proven = res.Status, false
			break
		}
	}
	s.ChainStatus = status.String()
	loop := loopKey(step, ev)
	if proven {
		s.Poll.Finish(loop, reason)
		s.note(h.now(), "%s is provably insecure from the root (%s)", s.Zone, reason)
		return *s, nil
	}
	if err := h.continuePoll(s, loop, ValidatePollBase, 0, ChainValidationBudget, reason); err != nil {
		return State{}, &DelegationNotInsecureError{Zone: s.Zone, Status: status.String(), Reason: reason}
	}
	return *s, nil
}

// ProvenInsecure reports whether res shows zone provably insecure, and why
// (or why not): Insecure, and the first zone cut of the chain that is not
// secure is insecure by an authenticated denial of DS (no DS at it, no trust
// anchor), at zone or above it. Insecure for any other reason (a DS of an
// algorithm the validator lacks at the zone itself) does not count:
// the zone's own DS must be gone.
func ProvenInsecure(zone string, res *dnssec.Result) (bool, string) {
	if res.Status != dnssec.Insecure {
		return false, fmt.Sprintf("%s, not insecure: %s", res.Status, orDash(res.Reason))
	}
	for _, l := range res.Chain {
		if l.Status == dnssec.Secure {
			continue
		}
		switch {
		case l.Status != dnssec.Insecure:
			return false, fmt.Sprintf("zone cut %s is %s: %s", l.Zone, l.Status, orDash(l.Reason))
		case l.Anchor || len(l.DS) > 0:
			return false, fmt.Sprintf("zone cut %s is insecure with %d DS records or a trust anchor, not by a denial of DS: %s", l.Zone, len(l.DS), orDash(l.Reason))
		}
		return true, fmt.Sprintf("insecure at %s: %s", l.Zone, orDash(l.Reason))
	}
	return false, "insecure, but the validation chain shows no insecure zone cut: " + orDash(res.Reason)
}

// DisableSigning disables DNSSEC signing of the zone, once its gate has
// passed (checked again here with the cache-combination invariant: a
// *GateNotReadyError changes nothing). Nothing to do when Route 53 does not
// sign it; DELETING (a disable under way) is polled. Route 53's own guard,
// KeySigningKeyInParentDSRecord, means "not yet": polled within
// DisableRefusedBudget, never forced. The change is left in State.ChangeID.
func (h *Handler) DisableSigning(ctx context.Context, ev Event) (State, error) {
	const step = "disable-signing"
	s, err := ev.disableState(step)
	if err != nil {
		return State{}, err
	}
	s.ChangeID = ""
	loop := loopKey(step, ev)
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	switch d.ServeSignature {
	case ServeNotSigning:
		s.Poll.Finish(loop, "Route 53 does not sign "+s.Zone)
		return *s, nil
	case ServeDeleting:
		if err := h.continuePoll(s, loop, ChangePollBase, 0, ChangeSyncBudget, "signing of "+s.Zone+" is being disabled (DELETING)"); err != nil {
			return State{}, err
		}
		return *s, nil
	}
	g, err := h.gate(s, rollover.DisableSigning)
	if err != nil {
		return State{}, named(step, err)
	}
	if !g.Ready {
		return State{}, &GateNotReadyError{Zone: s.Zone, Transition: string(rollover.DisableSigning), Reason: g.String()}
	}
	if err := s.History.CheckGate(g, h.now()); err != nil {
		return State{}, &GateNotReadyError{Zone: s.Zone, Transition: string(rollover.DisableSigning), Reason: err.Error()}
	}
	out, err := h.clients.Route53.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: aws.String(s.HostedZoneID)})
	switch apiCode(err) {
	case "":
		s.ChangeID = aws.ToString(out.ChangeInfo.Id)
		s.Poll.Finish(loop, "signing disabled")
		s.note(h.now(), "signing disabled (change %s); gate %s", s.ChangeID, g)
		return *s, nil
	case "DNSSECNotFound":
		s.Poll.Finish(loop, "no DNSSEC resources left")
		return *s, nil
	case "KeySigningKeyInParentDSRecord":
		if err := h.continuePoll(s, loop, ObservePollBase, 0, DisableRefusedBudget, "Route 53 sees a DS at the parent: "+err.Error()); err != nil {
			return State{}, err
		}
		return *s, nil
	}
	return State{}, named(step, fmt.Errorf("steps: DisableHostedZoneDNSSEC %s: %w", s.HostedZoneID, err))
}

// KSK status Route 53 shows while a key is being deleted, and the one the
// steps note once it is gone.
const (
	kskDeleting = "DELETING"
	kskDeleted  = "DELETED"
)

// RetireKSKs deactivates and deletes every KSK of State.KSKs, once Route 53
// no longer signs the zone (else *GateNotReadyError). A KSK already INACTIVE
// is only deleted; one gone counts as done, one DELETING that this call did
// not delete is polled until gone. KeySigningKeyInParentDSRecord is polled. The last change is left in
// State.ChangeID: Route 53 applies a zone's changes in order, so it being
// INSYNC means every one is.
func (h *Handler) RetireKSKs(ctx context.Context, ev Event) (State, error) {
	const step = "retire-ksks"
	s, err := ev.disableState(step)
	if err != nil {
		return State{}, err
	}
	s.ChangeID = ""
	loop := loopKey(step, ev)
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if d.ServeSignature == ServeSigning {
		return State{}, &GateNotReadyError{Zone: s.Zone, Transition: string(rollover.DeleteKSKs), Reason: "Route 53 still signs the zone"}
	}
	id := aws.String(s.HostedZoneID)
	waiting, deleting := "", ""
	for i := range s.KSKs {
		ref := &s.KSKs[i]
		k, ok := d.KSK(ref.Name)
		if !ok {
			ref.Status = kskDeleted
			continue
		}
		ref.Status = aws.ToString(k.Status)
		if ref.Status == kskDeleting {
			// Deleted by an earlier attempt whose change this one does
			// not know: wait until Route 53 has finished.
			deleting = fmt.Sprintf("KSK %s is still DELETING", ref.Name)
			continue
		}
		if ref.Status != KSKInactive {
			out, err := h.clients.Route53.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: id, Name: aws.String(ref.Name)})
			switch apiCode(err) {
			case "":
				s.ChangeID = aws.ToString(out.ChangeInfo.Id)
				s.note(h.now(), "KSK %s deactivated (change %s)", ref.Name, s.ChangeID)
			case "NoSuchKeySigningKey":
				ref.Status = kskDeleted
				continue
			case "KeySigningKeyInParentDSRecord":
				waiting = fmt.Sprintf("Route 53 sees the DS of KSK %s at the parent: %v", ref.Name, err)
				continue
			default:
				return State{}, named(step, fmt.Errorf("steps: DeactivateKeySigningKey %s: %w", ref.Name, err))
			}
		}
		out, err := h.clients.Route53.DeleteKeySigningKey(ctx, &route53.DeleteKeySigningKeyInput{HostedZoneId: id, Name: aws.String(ref.Name)})
		switch apiCode(err) {
		case "":
			s.ChangeID = aws.ToString(out.ChangeInfo.Id)
			ref.Status = kskDeleting
			s.note(h.now(), "KSK %s deleted (change %s)", ref.Name, s.ChangeID)
		case "NoSuchKeySigningKey":
			ref.Status = kskDeleted
		default:
			return State{}, named(step, fmt.Errorf("steps: DeleteKeySigningKey %s: %w", ref.Name, err))
		}
	}
	if waiting == "" && s.ChangeID == "" {
		waiting = deleting // else the change followed covers it
	}
	if waiting != "" {
		if err := h.continuePoll(s, loop, ObservePollBase, 0, DisableRefusedBudget, waiting); err != nil {
			return State{}, err
		}
		return *s, nil
	}
	s.Poll.Finish(loop, fmt.Sprintf("%d KSKs deactivated and deleted", len(s.KSKs)))
	return *s, nil
}

// RetireKMSKeys schedules the deletion, with State.KMSDeletionWindowDays,
// of the KMS key of each retired KSK that dnssec-autopilot created for this
// hosted zone (tag TagHostedZoneID); keys it did not create are kept and
// named in the timeline. Nothing happens unless the input set deleteKmsKeys.
// A key already pending deletion, or gone, counts as done.
func (h *Handler) RetireKMSKeys(ctx context.Context, ev Event) (State, error) {
	const step = "retire-kms-keys"
	s, err := ev.disableState(step)
	if err != nil {
		return State{}, err
	}
	s.Disable.KMSKeys = nil
	seen := map[string]bool{}
	for _, k := range s.KSKs {
		arn := k.KMSKeyARN
		if arn == "" || seen[arn] {
			continue
		}
		seen[arn] = true
		what, err := h.retireKMSKey(ctx, s, arn)
		if err != nil {
			return State{}, named(step, err)
		}
		s.Disable.KMSKeys = append(s.Disable.KMSKeys, arn+": "+what)
		s.note(h.now(), "KMS key %s of KSK %s: %s", arn, k.Name, what)
	}
	return *s, nil
}

// retireKMSKey schedules the deletion of one key if the state allows it, and
// says what became of it.
func (h *Handler) retireKMSKey(ctx context.Context, s *State, arn string) (string, error) {
	if !s.Disable.DeleteKMSKeys {
		return "kept (deleteKmsKeys is not set)", nil
	}
	out, err := h.clients.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	switch {
	case apiCode(err) == "NotFoundException":
		return "already deleted", nil
	case err != nil:
		return "", fmt.Errorf("steps: DescribeKey %s: %w", arn, err)
	case out.KeyMetadata.KeyState == kmstypes.KeyStatePendingDeletion:
		return "already pending deletion", nil
	}
	tags, err := h.clients.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("steps: ListResourceTags %s: %w", arn, err)
	}
	ours := slices.ContainsFunc(tags.Tags, func(t kmstypes.Tag) bool {
		return aws.ToString(t.TagKey) == TagHostedZoneID && aws.ToString(t.TagValue) == s.HostedZoneID
	})
	if !ours {
		return "kept (not created by dnssec-autopilot for this hosted zone)", nil
	}
	days := s.KMSDeletionWindowDays
	if days == 0 {
		days = DefaultKMSDeletionWindowDays
	}
	del, err := h.clients.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(arn), PendingWindowInDays: aws.Int32(days)})
	switch apiCode(err) {
	case "":
		return fmt.Sprintf("deletion scheduled for %s (%d-day window; CancelKeyDeletion undoes it)", stamp(aws.ToTime(del.DeletionDate)), days), nil
	case "NotFoundException":
		return "already deleted", nil
	case "KMSInvalidStateException":
		return "already pending deletion", nil
	}
	return "", fmt.Errorf("steps: ScheduleKeyDeletion %s: %w", arn, err)
}
