package steps

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
)

// Input is the JSON input of an execution started from the Step Functions
// console, the CLI or a schedule; the same for every workflow (fields a
// workflow does not use are ignored, and said so in the README). Example:
//
//	{
//	  "hostedZoneId": "Z0123456789ABCDEFGHIJ",
//	  "zoneName": "example.com",
//	  "dsPublisher": {"kind": "route53Domains", "domainName": "example.com"},
//	  "safetyMarginSeconds": 3600,
//	  "dryRun": false
//	}
type Input struct {
	// HostedZoneID is the public hosted zone (required), with or without
	// the "/hostedzone/" prefix.
	HostedZoneID string `json:"hostedZoneId"`
	// ZoneName, when given, must be the hosted zone's name: a guard against
	// a copy-pasted ID.
	ZoneName string `json:"zoneName,omitempty"`
	// DSPublisher chooses how the parent publishes the zone's DS records
	// (required by enable-signing, rotate-ksk and disable-signing).
	DSPublisher *dspublish.Settings `json:"dsPublisher,omitempty"`
	// KMSKeyARN is a customer managed key to back the new KSK; when empty one
	// is created with the documented policy. It must be in us-east-1,
	// ECC_NIST_P256, SIGN_VERIFY, enabled, with a policy for
	// dnssec-route53.amazonaws.com, and back no other KSK.
	KMSKeyARN string `json:"kmsKeyArn,omitempty"`
	// SafetyMarginSeconds is added to every cache wait;
	// rollover.DefaultSafetyMargin when absent.
	SafetyMarginSeconds *int64 `json:"safetyMarginSeconds,omitempty"`
	// NotifyTopicARN receives the run's summary; the deployment's topic
	// when empty.
	NotifyTopicARN string `json:"notifyTopicArn,omitempty"`
	// KMSDeletionWindowDays is the pending-deletion window of a KMS key the
	// workflow retires (rotate-ksk, disable-signing); the deployment's
	// default (DefaultKMSDeletionWindowDays) when absent.
	KMSDeletionWindowDays *int32 `json:"kmsDeletionWindowDays,omitempty"`
	// DryRun computes and reports the plan without changing anything.
	DryRun bool `json:"dryRun,omitempty"`

	// AllowSignedChildren (disable-signing) lets a zone be unsigned while it
	// holds DS records of child zones: their chains of trust end with it, so
	// they become insecure too. Refused (SignedChildrenError) when false.
	AllowSignedChildren bool `json:"allowSignedChildren,omitempty"`
	// DeleteKMSKeys (disable-signing) schedules the deletion of the KMS keys
	// dnssec-autopilot created for the retired KSKs, with the
	// kmsDeletionWindowDays window; keys it did not create are never
	// deleted. Off by default: the key is the one thing that cannot be
	// recreated, and keeping it costs little.
	DeleteKMSKeys bool `json:"deleteKmsKeys,omitempty"`
}

var (
	hostedZoneIDRE = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
	kmsKeyARNRE    = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):kms:([a-z0-9-]+):([0-9]{12}):key/([a-zA-Z0-9-]+)$`)
	topicARNRE     = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):sns:([a-z0-9-]+):([0-9]{12}):[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
)

// NormalizeHostedZoneID strips the "/hostedzone/" prefix.
func NormalizeHostedZoneID(id string) string {
	return strings.TrimPrefix(strings.TrimSpace(id), "/hostedzone/")
}

// Margin returns the safety margin the input asks for.
func (in *Input) Margin() time.Duration {
	if in.SafetyMarginSeconds == nil {
		return DefaultSafetyMargin
	}
	return time.Duration(*in.SafetyMarginSeconds) * time.Second
}

// Validate checks the fields that can be checked without AWS: presence and
// shape. needPublisher says whether the workflow needs dsPublisher.
// The zone's name is needed to check dsPublisher; pass "" before it is known
// (ValidatePublisher checks it later).
func (in *Input) Validate(needPublisher bool) error {
	id := NormalizeHostedZoneID(in.HostedZoneID)
	switch {
	case id == "":
		return &InvalidInputError{Field: "hostedZoneId", Reason: "is required (the ID of the public hosted zone, e.g. Z0123456789ABCDEFGHIJ)"}
	case !hostedZoneIDRE.MatchString(id):
		return &InvalidInputError{Field: "hostedZoneId", Value: in.HostedZoneID, Reason: "is not a hosted zone ID (upper-case letters and digits)"}
	case in.SafetyMarginSeconds != nil && (*in.SafetyMarginSeconds < 0 || *in.SafetyMarginSeconds > int64(MaxSafetyMargin/time.Second)):
		return &InvalidInputError{Field: "safetyMarginSeconds", Value: fmt.Sprint(*in.SafetyMarginSeconds), Reason: fmt.Sprintf("must be between 0 and %d", int64(MaxSafetyMargin/time.Second))}
	case in.KMSDeletionWindowDays != nil && (*in.KMSDeletionWindowDays < 7 || *in.KMSDeletionWindowDays > 30):
		return &InvalidInputError{Field: "kmsDeletionWindowDays", Value: fmt.Sprint(*in.KMSDeletionWindowDays), Reason: "must be between 7 and 30 (the KMS limits)"}
	case in.KMSKeyARN != "" && !kmsKeyARNRE.MatchString(in.KMSKeyARN):
		return &InvalidInputError{Field: "kmsKeyArn", Value: in.KMSKeyARN, Reason: "is not a KMS key ARN (arn:aws:kms:us-east-1:<account>:key/<key-id>; aliases are not accepted)"}
	case in.NotifyTopicARN != "" && !topicARNRE.MatchString(in.NotifyTopicARN):
		return &InvalidInputError{Field: "notifyTopicArn", Value: in.NotifyTopicARN, Reason: "is not an SNS topic ARN"}
	case needPublisher && in.DSPublisher == nil:
		return &InvalidInputError{Field: "dsPublisher", Reason: `is required: {"kind": "parentHostedZone", "parentHostedZoneId": ...}, {"kind": "route53Domains", "domainName": ...} or {"kind": "manual", "topicArn": ...}`}
	}
	if in.ZoneName != "" {
		if _, ok := canonicalZone(in.ZoneName); !ok {
			return &InvalidInputError{Field: "zoneName", Value: in.ZoneName, Reason: "is not a domain name"}
		}
	}
	return nil
}

// ValidatePublisher checks dsPublisher for zone (known once the hosted zone
// has been read).
func (in *Input) ValidatePublisher(zone string) error {
	if in.DSPublisher == nil {
		return nil
	}
	if err := in.DSPublisher.Validate(zone); err != nil {
		return &InvalidInputError{Field: "dsPublisher", Reason: err.Error(), Err: err}
	}
	return nil
}
