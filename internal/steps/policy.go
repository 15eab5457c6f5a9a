package steps

import (
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Policy numbers, each with the reason it has this value.
const (
	// DefaultSafetyMargin is added to every cache wait (see
	// rollover.DefaultSafetyMargin for why an hour).
	DefaultSafetyMargin = rollover.DefaultSafetyMargin
	// MaxSafetyMargin bounds safetyMarginSeconds: a week is longer than any
	// sane TTL, and a typo of a few more digits must not park a run for years.
	MaxSafetyMargin = 7 * 24 * time.Hour

	// DefaultKMSDeletionWindowDays is the pending-deletion window of a KMS
	// key a workflow retires: the KMS maximum, the longest time in which a
	// mistaken retirement can still be undone (CancelKeyDeletion).
	DefaultKMSDeletionWindowDays = 30

	// ChangePollBase is the first wait for a Route 53 change to be INSYNC:
	// Route 53 documents that changes reach its name servers within 60 s.
	ChangePollBase = dspublish.ChangePollInterval
	// ObservePollBase is the first wait before observing the servers again
	// when they have not all caught up: a few queries per server, and
	// Route 53's servers usually converge within a minute.
	ObservePollBase = 30 * time.Second
	// ValidatePollBase is the first wait before validating the chain again.
	ValidatePollBase = 30 * time.Second
	// PollBackoffMax caps the doubling of poll waits: beyond half an hour
	// a change is late, and each poll (three state transitions) is cheap.
	PollBackoffMax = 30 * time.Minute

	// ChangeSyncBudget bounds the wait for a Route 53 change to be INSYNC:
	// thirty times the documented minute.
	ChangeSyncBudget = 30 * time.Minute
	// ZonePropagationBudget bounds the wait for every zone server to serve
	// what Route 53 reports INSYNC: two hours, a stuck server.
	ZonePropagationBudget = 2 * time.Hour
	// ParentPropagationBudget bounds the wait for every parent server to
	// serve (or stop serving) a DS submitted through an API: registries
	// publish within hours, three days is a stuck registry operation.
	ParentPropagationBudget = 72 * time.Hour
	// ManualPublishBudget bounds the wait for a person to change the DS at
	// another registrar: two weeks, a forgotten ticket.
	ManualPublishBudget = 14 * 24 * time.Hour
	// ChainValidationBudget bounds the wait for the chain to validate once
	// every parent server serves the DS: only cache-free re-validation is
	// left, so half an hour means something is wrong.
	ChainValidationBudget = 30 * time.Minute

	// LockLabel is the label of the lock record under the zone's apex.
	LockLabel = "_dnssec-autopilot"
	// LockTTL is the lock record's TTL: short, nobody needs to cache it.
	LockTTL = 60
)

// The key the workflows create for a KSK (Route 53 Developer Guide, "Working
// with customer managed keys for DNSSEC").
const (
	KMSKeySpec  = "ECC_NIST_P256"
	KMSKeyUsage = "SIGN_VERIFY"
	// DNSSECRegion is the only region whose KMS keys Route 53 DNSSEC uses.
	DNSSECRegion = "us-east-1"
	// DNSSECServicePrincipal is the principal Route 53 signs as.
	DNSSECServicePrincipal = "dnssec-route53.amazonaws.com"

	// TagZone and TagHostedZoneID tag every key the workflows create.
	TagZone         = "dnssec-autopilot:zone"
	TagHostedZoneID = "dnssec-autopilot:hosted-zone-id"
	// TagExecution names the execution that created the key, so that a key
	// orphaned by a crash between CreateKey and CreateAlias can be found.
	TagExecution = "dnssec-autopilot:execution"
	// AliasPrefix starts every alias the workflows create.
	AliasPrefix = "alias/dnssec-autopilot/"
)
