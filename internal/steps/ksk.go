package steps

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// CreateKSK creates the state's new KSK, ACTIVE, backed by its KMS key. A KSK
// of that name already there with the same key is this execution's (a re-run):
// it is kept, and activated if INACTIVE; with another key it is a
// *KSKConflictError. The change to follow is left in State.ChangeID ("" when
// nothing changed).
func (h *Handler) CreateKSK(ctx context.Context, ev Event) (State, error) {
	const step = "create-ksk"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	if s.KSK == nil || s.KSK.KMSKeyARN == "" {
		return State{}, &StateError{Step: step, Reason: "no KMS key for the new KSK (run prepare-kms-key first)"}
	}
	s.ChangeID = ""
	k, changeID, err := h.ensureKSK(ctx, s, *s.KSK)
	if err != nil {
		return State{}, named(step, err)
	}
	ref, err := kskRef(s.Zone, k)
	if err != nil {
		return State{}, named(step, err)
	}
	ref.KMSKeyCreated = s.KSK.KMSKeyCreated
	s.KSK = &ref
	s.ChangeID = changeID
	if changeID != "" {
		s.note(h.now(), "KSK %s created ACTIVE: DNSKEY %s, DS %s", ref.Name, ref.Key, ref.DS)
	}
	return *s, nil
}

// ensureKSK makes the KSK want exist and be ACTIVE, and returns it with the
// ID of the change made ("" when none was needed).
func (h *Handler) ensureKSK(ctx context.Context, s *State, want KSKRef) (r53types.KeySigningKey, string, error) {
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return r53types.KeySigningKey{}, "", err
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return r53types.KeySigningKey{}, "", err
	}
	if k, ok := d.KSK(want.Name); ok {
		return h.adoptKSK(ctx, s, want, k)
	}
	out, err := h.clients.Route53.CreateKeySigningKey(ctx, &route53.CreateKeySigningKeyInput{
		CallerReference:         aws.String(lockOwner(s.ExecutionARN) + "-" + want.Name),
		HostedZoneId:            aws.String(s.HostedZoneID),
		KeyManagementServiceArn: aws.String(want.KMSKeyARN),
		Name:                    aws.String(want.Name),
		Status:                  aws.String(KSKActive),
	})
	switch apiCode(err) {
	case "":
		return *out.KeySigningKey, aws.ToString(out.ChangeInfo.Id), nil
	case "KeySigningKeyAlreadyExists":
		// Made by an attempt whose answer was lost, or the key backs
		// another KSK: read again and decide.
		d, rerr := h.GetDNSSEC(ctx, s.HostedZoneID)
		if rerr != nil {
			return r53types.KeySigningKey{}, "", rerr
		}
		if k, ok := d.KSK(want.Name); ok {
			return h.adoptKSK(ctx, s, want, k)
		}
		for _, k := range d.KSKs {
			if aws.ToString(k.KmsArn) == want.KMSKeyARN {
				return r53types.KeySigningKey{}, "", &KMSKeyInUseError{KeyARN: want.KMSKeyARN, Zone: s.Zone, KSK: aws.ToString(k.Name), Reason: "Route 53: KeySigningKeyAlreadyExists"}
			}
		}
		return r53types.KeySigningKey{}, "", fmt.Errorf("steps: CreateKeySigningKey %s: %w", want.Name, err)
	case "InvalidKMSArn":
		return r53types.KeySigningKey{}, "", &KMSKeyPolicyError{KeyARN: want.KMSKeyARN, Reason: "Route 53 refused it: " + err.Error()}
	}
	return r53types.KeySigningKey{}, "", fmt.Errorf("steps: CreateKeySigningKey %s: %w", want.Name, err)
}

// adoptKSK accepts an existing KSK named as want when it uses want's key,
// activating it if needed.
func (h *Handler) adoptKSK(ctx context.Context, s *State, want KSKRef, k r53types.KeySigningKey) (r53types.KeySigningKey, string, error) {
	if got := aws.ToString(k.KmsArn); got != want.KMSKeyARN {
		return k, "", &KSKConflictError{Zone: s.Zone, Name: want.Name, Reason: fmt.Sprintf("uses KMS key %s, not %s", got, want.KMSKeyARN)}
	}
	switch st := aws.ToString(k.Status); st {
	case KSKActive:
		return k, "", nil
	case KSKInactive:
		out, err := h.clients.Route53.ActivateKeySigningKey(ctx, &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(s.HostedZoneID), Name: aws.String(want.Name)})
		if err != nil {
			return k, "", fmt.Errorf("steps: ActivateKeySigningKey %s: %w", want.Name, err)
		}
		k.Status = aws.String(KSKActive)
		return k, aws.ToString(out.ChangeInfo.Id), nil
	default:
		return k, "", &KSKConflictError{Zone: s.Zone, Name: want.Name, Reason: fmt.Sprintf("has status %s (%s)", st, aws.ToString(k.StatusMessage))}
	}
}

// EnableSigning enables DNSSEC signing of the state's zone (nothing to do when
// it is SIGNING already). The change is left in State.ChangeID.
func (h *Handler) EnableSigning(ctx context.Context, ev Event) (State, error) {
	const step = "enable-signing"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	s.ChangeID = ""
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if err := d.internalFailure(s.Zone); err != nil {
		return State{}, err
	}
	if d.ServeSignature == ServeSigning {
		return *s, nil
	}
	out, err := h.clients.Route53.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(s.HostedZoneID)})
	switch apiCode(err) {
	case "":
	case "HostedZonePartiallyDelegated":
		return State{}, &ZoneNotDelegatedError{Zone: s.Zone, Parent: s.Parent, Reason: "Route 53: " + err.Error()}
	case "InvalidKMSArn":
		key := ""
		if s.KSK != nil {
			key = s.KSK.KMSKeyARN
		}
		return State{}, &KMSKeyPolicyError{KeyARN: key, Reason: "Route 53 refused it: " + err.Error()}
	default:
		return State{}, named(step, fmt.Errorf("steps: EnableHostedZoneDNSSEC %s: %w", s.HostedZoneID, err))
	}
	s.ChangeID = aws.ToString(out.ChangeInfo.Id)
	s.note(h.now(), "signing enabled (change %s)", s.ChangeID)
	return *s, nil
}

// CheckChange polls the Route 53 change in State.ChangeID until it is INSYNC
// (Poll.Done; an empty ChangeID is done at once), backing off from
// ChangePollBase, within ChangeSyncBudget.
func (h *Handler) CheckChange(ctx context.Context, ev Event) (State, error) {
	const step = "check-change"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	loop := loopKey(step, ev) + "/" + s.ChangeID
	if s.ChangeID == "" {
		s.Poll.Finish(loop, "no change to follow")
		return *s, nil
	}
	out, err := h.clients.Route53.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(s.ChangeID)})
	if err != nil {
		return State{}, named(step, fmt.Errorf("steps: GetChange %s: %w", s.ChangeID, err))
	}
	if out.ChangeInfo.Status == r53types.ChangeStatusInsync {
		s.Poll.Finish(loop, "change "+s.ChangeID+" INSYNC")
		return *s, nil
	}
	if err := h.continuePoll(s, loop, ChangePollBase, 0, ChangeSyncBudget, "change "+s.ChangeID+" "+string(out.ChangeInfo.Status)); err != nil {
		return State{}, err
	}
	return *s, nil
}
