package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// PrepareKMSKey makes sure the state's new KSK has a KMS key: the supplied
// one, verified (VerifyKMSKey), or one created with the documented key
// policy, key spec and usage, aliased KeyAlias(zone, ksk) and tagged with the
// zone. The alias makes it idempotent: a re-run finds the key it created.
// A crash between CreateKey and CreateAlias leaves an unaliased key tagged
// with the execution (TagExecution), which is not reused.
func (h *Handler) PrepareKMSKey(ctx context.Context, ev Event) (State, error) {
	const step = "prepare-kms-key"
	s, err := ev.state(step)
	if err != nil {
		return State{}, err
	}
	start, err := parseStart(s.StartTime)
	if err != nil {
		return State{}, &StateError{Step: step, Reason: err.Error()}
	}
	name := KSKName(start)
	ref := &KSKRef{Name: name}
	if s.SuppliedKMSKeyARN != "" {
		ref.KMSKeyARN = s.SuppliedKMSKeyARN
	} else {
		arn, created, err := h.ensureKey(ctx, s, name, ev.Execution)
		if err != nil {
			return State{}, named(step, err)
		}
		ref.KMSKeyARN, ref.KMSKeyCreated = arn, true
		if created {
			s.note(h.now(), "KMS key %s created (%s)", arn, KeyAlias(s.Zone, name))
		}
	}
	if err := h.VerifyKMSKey(ctx, s, ref.KMSKeyARN, name); err != nil {
		return State{}, named(step, err)
	}
	if s.KSK == nil || s.KSK.Name != name || s.KSK.KMSKeyARN != ref.KMSKeyARN {
		s.KSK = ref
	}
	return *s, nil
}

// ensureKey returns the key aliased for the KSK, creating it if needed.
func (h *Handler) ensureKey(ctx context.Context, s *State, ksk string, ex Execution) (arn string, created bool, err error) {
	alias := KeyAlias(s.Zone, ksk)
	out, err := h.clients.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err == nil {
		return aws.ToString(out.KeyMetadata.Arn), false, nil
	}
	if apiCode(err) != "NotFoundException" {
		return "", false, fmt.Errorf("steps: DescribeKey %s: %w", alias, err)
	}
	ck, err := h.clients.KMS.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     kmstypes.KeySpecEccNistP256,
		KeyUsage:    kmstypes.KeyUsageTypeSignVerify,
		Policy:      aws.String(KeyPolicy(h.cfg.AccountID, s.HostedZoneID).String()),
		Description: aws.String(fmt.Sprintf("DNSSEC key-signing key %s of %s (hosted zone %s), by dnssec-autopilot", ksk, s.Zone, s.HostedZoneID)),
		Tags: []kmstypes.Tag{
			{TagKey: aws.String(TagZone), TagValue: aws.String(strings.TrimSuffix(s.Zone, "."))},
			{TagKey: aws.String(TagHostedZoneID), TagValue: aws.String(s.HostedZoneID)},
			{TagKey: aws.String(TagExecution), TagValue: aws.String(ex.Name)},
		},
	})
	if err != nil {
		return "", false, fmt.Errorf("steps: CreateKey for %s: %w", alias, err)
	}
	arn = aws.ToString(ck.KeyMetadata.Arn)
	_, err = h.clients.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)})
	if apiCode(err) == "AlreadyExistsException" {
		// Another attempt won the race: use its key, leave this one unaliased.
		out, derr := h.clients.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
		if derr != nil {
			return "", false, fmt.Errorf("steps: DescribeKey %s: %w", alias, derr)
		}
		return aws.ToString(out.KeyMetadata.Arn), false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("steps: CreateAlias %s: %w", alias, err)
	}
	return arn, true, nil
}

// VerifyKMSKey checks that keyARN can back KSK ksk of the state's zone:
// region, existence, key spec, usage, state, policy, and that no other KSK
// uses it (none of the zone's KSKs but ksk, and no tag naming another hosted
// zone). Each failure is its own named error.
func (h *Handler) VerifyKMSKey(ctx context.Context, s *State, keyARN, ksk string) error {
	m := kmsKeyARNRE.FindStringSubmatch(keyARN)
	if m == nil {
		return &KMSKeyNotFoundError{KeyARN: keyARN, Reason: "not a KMS key ARN"}
	}
	if m[2] != h.cfg.Region {
		return &KMSKeyRegionError{KeyARN: keyARN, Region: m[2], Want: h.cfg.Region}
	}
	if m[3] != h.cfg.AccountID {
		return &KMSKeyNotFoundError{KeyARN: keyARN, Reason: fmt.Sprintf("the key belongs to account %s, not %s", m[3], h.cfg.AccountID)}
	}
	out, err := h.clients.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyARN)})
	if err != nil {
		if apiCode(err) == "NotFoundException" {
			return &KMSKeyNotFoundError{KeyARN: keyARN, Reason: "KMS: NotFoundException"}
		}
		return fmt.Errorf("steps: DescribeKey %s: %w", keyARN, err)
	}
	md := out.KeyMetadata
	switch {
	case md.KeySpec != kmstypes.KeySpecEccNistP256:
		return &KMSKeySpecError{KeyARN: keyARN, Spec: string(md.KeySpec)}
	case md.KeyUsage != kmstypes.KeyUsageTypeSignVerify:
		return &KMSKeyUsageError{KeyARN: keyARN, Usage: string(md.KeyUsage)}
	case md.KeyState != kmstypes.KeyStateEnabled:
		return &KMSKeyStateError{KeyARN: keyARN, State: string(md.KeyState)}
	}
	pol, err := h.clients.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default")})
	if err != nil {
		return fmt.Errorf("steps: GetKeyPolicy %s: %w", keyARN, err)
	}
	if reason := CheckKeyPolicy(aws.ToString(pol.Policy), h.cfg.AccountID, s.HostedZoneID); reason != "" {
		return &KMSKeyPolicyError{KeyARN: keyARN, Reason: reason}
	}
	d, err := h.GetDNSSEC(ctx, s.HostedZoneID)
	if err != nil {
		return err
	}
	for _, k := range d.KSKs {
		if aws.ToString(k.KmsArn) == keyARN && aws.ToString(k.Name) != ksk {
			return &KMSKeyInUseError{KeyARN: keyARN, Zone: s.Zone, KSK: aws.ToString(k.Name), Reason: "a KSK of this zone uses it"}
		}
	}
	tags, err := h.clients.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(keyARN)})
	if err != nil {
		return fmt.Errorf("steps: ListResourceTags %s: %w", keyARN, err)
	}
	for _, t := range tags.Tags {
		if aws.ToString(t.TagKey) == TagHostedZoneID && aws.ToString(t.TagValue) != s.HostedZoneID {
			return &KMSKeyInUseError{KeyARN: keyARN, Zone: "hosted zone " + aws.ToString(t.TagValue), KSK: "(tagged " + TagHostedZoneID + ")", Reason: "the key was created for another hosted zone"}
		}
	}
	return nil
}
