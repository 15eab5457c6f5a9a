package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Begin does the checks every workflow's preflight starts with and returns
// the new execution state (the lock not yet taken) with the zone's first
// observation recorded:
//   - the input is well formed (InvalidInputError);
//   - the hosted zone exists (ZoneNotFoundError), is public
//     (PrivateZoneError) and has the name the input gives, if any;
//   - the DS publisher settings fit the zone;
//   - every parent server delegates the zone to exactly the hosted zone's
//     Route 53 name servers (ZoneNotDelegatedError; a server that does not
//     answer is ObservationIncompleteError, retried);
//   - the parent zone validates as secure from the root
//     (ParentNotSecureError): without that a DS builds no chain of trust
//     (not checked for disable-signing, which needs no chain).
func (h *Handler) Begin(ctx context.Context, ev Event, wf rollover.Workflow, needPublisher bool) (*State, *observe.Snapshot, error) {
	in := ev.Input
	if in == nil {
		return nil, nil, &InvalidInputError{Field: "(input)", Reason: "is empty: give at least hostedZoneId"}
	}
	if err := in.Validate(needPublisher); err != nil {
		return nil, nil, err
	}
	start, err := parseStart(ev.Execution.StartTime)
	if err != nil || ev.Execution.ARN == "" {
		return nil, nil, &StateError{Step: "preflight", Reason: fmt.Sprintf("no execution ARN or start time (Parameters must pass $$.Execution.Id and StartTime): %v", err)}
	}
	z, err := h.GetZone(ctx, NormalizeHostedZoneID(in.HostedZoneID))
	if err != nil {
		return nil, nil, err
	}
	if z.Private {
		return nil, nil, &PrivateZoneError{HostedZoneID: z.ID, Zone: z.Name}
	}
	if in.ZoneName != "" {
		if want, _ := canonicalZone(in.ZoneName); want != z.Name {
			return nil, nil, &InvalidInputError{Field: "zoneName", Value: in.ZoneName, Reason: fmt.Sprintf("does not match hosted zone %s, which is %s; check hostedZoneId", z.ID, z.Name)}
		}
	}
	if err := in.ValidatePublisher(z.Name); err != nil {
		return nil, nil, err
	}
	snap, err := h.checkDelegation(ctx, z)
	if err != nil {
		return nil, nil, err
	}
	// disable-signing needs no secure parent: below an insecure parent the
	// zone is insecure already, and refusing would leave a child signed for
	// good once its parent was unsigned (prove-insecure checks the result).
	if wf != rollover.WorkflowDisable {
		if err := h.checkParentSecure(ctx, z.Name, snap.Parent); err != nil {
			return nil, nil, err
		}
	}
	s := &State{
		Workflow:              wf,
		ExecutionARN:          ev.Execution.ARN,
		StartTime:             stamp(start),
		HostedZoneID:          z.ID,
		Zone:                  z.Name,
		Parent:                snap.Parent,
		MarginSeconds:         int64(in.Margin().Seconds()),
		TopicARN:              in.NotifyTopicARN,
		KMSDeletionWindowDays: h.cfg.KMSDeletionWindowDays,
		DryRun:                in.DryRun,
		SuppliedKMSKeyARN:     in.KMSKeyARN,
		History:               rollover.NewHistory(z.Name),
	}
	if in.DSPublisher != nil {
		s.Publisher = *in.DSPublisher
	}
	if s.TopicARN == "" {
		s.TopicARN = h.cfg.DefaultTopicARN
	}
	if in.KMSDeletionWindowDays != nil {
		s.KMSDeletionWindowDays = *in.KMSDeletionWindowDays
	}
	ttl, err := h.maxRecordTTL(ctx, z.ID)
	if err != nil {
		return nil, nil, err
	}
	s.History.ObserveZoneTTL(ttl)
	if err := s.record(HistorySnapshot(snap)); err != nil {
		return nil, nil, fmt.Errorf("steps: recording the first observation: %w", err)
	}
	s.note(h.now(), "%s of %s (hosted zone %s) started by %s; parent %s, largest record TTL %ds", wf, z.Name, z.ID, ev.Execution.Name, snap.Parent, ttl)
	return s, snap, nil
}

// checkDelegation observes the zone and checks that every parent server
// delegates it to exactly the hosted zone's name servers.
func (h *Handler) checkDelegation(ctx context.Context, z *HostedZone) (*observe.Snapshot, error) {
	snap, err := h.observer.Observe(ctx, z.Name)
	var nd *observe.NotDelegatedError
	if errors.As(err, &nd) {
		return nil, &ZoneNotDelegatedError{Zone: z.Name, Parent: nd.Parent, NameServers: z.NameServers, Reason: "the parent answers " + nd.Reason}
	}
	if err != nil {
		return nil, fmt.Errorf("steps: observing %s: %w", z.Name, err)
	}
	want := slices.Sorted(slices.Values(z.NameServers))
	var unknown []string
	for _, r := range snap.ParentServers {
		if r.NS == nil || r.NS.State == observe.Unknown {
			reason := "no answer"
			if r.NS != nil {
				reason = r.NS.Reason
			}
			unknown = append(unknown, fmt.Sprintf("%s (%s)", serverKey(r), reason))
			continue
		}
		var got []string
		for _, rr := range r.NS.Records {
			if ns, ok := rr.(*dns.NS); ok {
				got = append(got, strings.ToLower(dns.Fqdn(ns.Ns)))
			}
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, want) {
			return nil, &ZoneNotDelegatedError{Zone: z.Name, Parent: snap.Parent, NameServers: want, Served: got,
				Reason: fmt.Sprintf("parent server %s delegates to other name servers", serverKey(r))}
		}
	}
	if len(unknown) > 0 {
		return nil, &ObservationIncompleteError{Zone: z.Name, Servers: unknown}
	}
	if len(snap.ParentServers) == 0 {
		return nil, &ZoneNotDelegatedError{Zone: z.Name, Parent: snap.Parent, NameServers: want, Reason: "no parent server found"}
	}
	return snap, nil
}

// checkParentSecure validates the parent zone's SOA from the root.
func (h *Handler) checkParentSecure(ctx context.Context, zone, parent string) error {
	if parent == "" || parent == "." {
		return nil // the root is the trust anchor
	}
	r, err := h.newResolver()
	if err != nil {
		return fmt.Errorf("steps: resolver: %w", err)
	}
	res, err := r.Resolve(ctx, parent, dns.TypeSOA)
	if err != nil {
		return fmt.Errorf("steps: validating %s: %w", parent, err)
	}
	switch res.Status {
	case dnssec.Secure:
		return nil
	case dnssec.Indeterminate:
		return &ObservationIncompleteError{Zone: parent, Servers: []string{"validation of " + parent + " SOA: " + res.Reason}}
	}
	return &ParentNotSecureError{Zone: zone, Parent: parent, Status: res.Status.String(), Reason: orDash(res.Reason)}
}

// PreflightEnable is enable-signing's first step: Begin, then the zone must
// not be signed already (unless this execution signed it: a re-run), and the
// zone's lock is taken (ConcurrentRunError). With dryRun the lock is not
// taken and nothing changes.
func (h *Handler) PreflightEnable(ctx context.Context, ev Event) (State, error) {
	s, _, err := h.Begin(ctx, ev, rollover.WorkflowEnable, true)
	if err != nil {
		return State{}, named("preflight", err)
	}
	start, _ := parseStart(ev.Execution.StartTime)
	name := KSKName(start)
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named("preflight", err)
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return State{}, err
	}
	for _, k := range d.KSKs {
		if k.Name == nil || *k.Name != name {
			return State{}, &AlreadySignedError{Zone: s.Zone, Status: d.ServeSignature, KSKs: d.Names()}
		}
	}
	if d.ServeSignature == ServeSigning && len(d.KSKs) == 0 {
		return State{}, &AlreadySignedError{Zone: s.Zone, Status: d.ServeSignature}
	}
	if s.SuppliedKMSKeyARN != "" {
		// Verified before the lock is taken, so that a bad key changes
		// nothing; prepare-kms-key verifies it again.
		if err := h.VerifyKMSKey(ctx, s, s.SuppliedKMSKeyARN, name); err != nil {
			return State{}, named("preflight", err)
		}
	}
	if s.DryRun {
		s.note(h.now(), "dry run: would create KSK %s and sign %s; the DS waits for the zone's largest TTL %ds (or negative TTL %ds) + margin %ds after every server signs",
			name, s.Zone, s.History.MaxZoneTTL, s.History.MaxNegativeTTL, s.MarginSeconds)
		return *s, nil
	}
	if err := h.AcquireLock(ctx, s.HostedZoneID, s.Zone, ev.Execution); err != nil {
		return State{}, named("preflight", err)
	}
	s.LockHeld = true
	s.note(h.now(), "lock %s taken", LockName(s.Zone))
	return *s, nil
}
