package steps

import (
	"errors"
	"fmt"
	"strings"
)

// Named errors. A handler returns one of these types unwrapped: the Lambda Go
// runtime reports the type's name as the error that a state machine's Retry
// and Catch match (ErrorEquals), and its message as the Cause a person reads.
// Every message says what to do next.

// InvalidInputError says a field of a console input is missing or malformed.
type InvalidInputError struct {
	Field  string // JSON name, e.g. "hostedZoneId" or "dsPublisher.parentHostedZoneId"
	Value  string
	Reason string
	Err    error // the underlying error, if any
}

func (e *InvalidInputError) Error() string {
	v := ""
	if e.Value != "" {
		v = fmt.Sprintf(" %q", e.Value)
	}
	return fmt.Sprintf("steps: input field %s%s: %s; correct the input and start a new execution", e.Field, v, e.Reason)
}

func (e *InvalidInputError) Unwrap() error { return e.Err }

// ZoneNotFoundError says no hosted zone has the ID given.
type ZoneNotFoundError struct {
	HostedZoneID string
}

func (e *ZoneNotFoundError) Error() string {
	return fmt.Sprintf("steps: hosted zone %s does not exist in this account; check hostedZoneId (aws route53 list-hosted-zones)", e.HostedZoneID)
}

// PrivateZoneError says the hosted zone is private: DNSSEC signing is for
// public zones only.
type PrivateZoneError struct {
	HostedZoneID string
	Zone         string
}

func (e *PrivateZoneError) Error() string {
	return fmt.Sprintf("steps: hosted zone %s (%s) is private; Route 53 signs public hosted zones only, give the ID of the public zone", e.HostedZoneID, e.Zone)
}

// ZoneNotDelegatedError says the parent does not delegate the zone to exactly
// the hosted zone's Route 53 name servers on every parent server: signing it,
// or publishing a DS for it, would not secure what resolvers reach.
type ZoneNotDelegatedError struct {
	Zone        string
	Parent      string
	NameServers []string // the hosted zone's delegation set
	Served      []string // what the parent servers delegate to (union)
	Reason      string
}

func (e *ZoneNotDelegatedError) Error() string {
	return fmt.Sprintf("steps: %s is not delegated to its Route 53 name servers by every server of %s (%s; hosted zone: %s; parent: %s); fix the NS records at the parent (registrar or parent zone) and wait for them to propagate",
		e.Zone, orDash(e.Parent), e.Reason, strings.Join(e.NameServers, " "), orDash(strings.Join(e.Served, " ")))
}

// ParentNotSecureError says the zone's parent does not validate as secure
// from the root: a DS published there would not build a chain of trust.
type ParentNotSecureError struct {
	Zone   string
	Parent string
	Status string // the validation verdict of the parent
	Reason string
}

func (e *ParentNotSecureError) Error() string {
	return fmt.Sprintf("steps: the parent %s of %s is %s, not secure (%s); enable signing on the parent and establish its chain of trust first", e.Parent, e.Zone, e.Status, e.Reason)
}

// AlreadySignedError says the zone is already signed, or has key-signing keys
// that this execution did not create.
type AlreadySignedError struct {
	Zone   string
	Status string // ServeSignature
	KSKs   []string
}

func (e *AlreadySignedError) Error() string {
	return fmt.Sprintf("steps: %s is already %s with key-signing keys [%s]; use rotate-ksk to replace a key, or disable-signing first", e.Zone, e.Status, strings.Join(e.KSKs, " "))
}

// SigningInternalFailureError says Route 53 reports INTERNAL_FAILURE for the
// zone's signing or a KSK: the run stops, a person must look.
type SigningInternalFailureError struct {
	Zone    string
	Subject string // "signing" or "KSK <name>"
	Message string
}

func (e *SigningInternalFailureError) Error() string {
	return fmt.Sprintf("steps: Route 53 reports INTERNAL_FAILURE for %s of %s (%s); check the KMS key and the Route 53 console, then re-run", e.Subject, e.Zone, e.Message)
}

// ConcurrentRunError says another execution holds the zone's lock.
type ConcurrentRunError struct {
	Zone   string
	Record string // the lock record's name
	Holder string // what the record says about its holder
}

func (e *ConcurrentRunError) Error() string {
	return fmt.Sprintf("steps: another workflow holds the lock of %s (%s: %s); wait for it to end, or, if no execution is running, delete the TXT record %s", e.Zone, e.Record, e.Holder, e.Record)
}

// KSKConflictError says a key-signing key with the name this execution uses
// exists with different parameters.
type KSKConflictError struct {
	Zone, Name string
	Reason     string
}

func (e *KSKConflictError) Error() string {
	return fmt.Sprintf("steps: key-signing key %s of %s exists but %s; it was not made by this execution: delete it or start a new execution", e.Name, e.Zone, e.Reason)
}

// KMS key errors: one type per problem so that a state machine or an alarm can
// tell them apart. Each names the key and what to change.

// KMSKeyRegionError: the key is not in us-east-1, the only region whose keys
// Route 53 uses for DNSSEC.
type KMSKeyRegionError struct{ KeyARN, Region, Want string }

func (e *KMSKeyRegionError) Error() string {
	return fmt.Sprintf("steps: KMS key %s is in %s; Route 53 DNSSEC uses keys in %s only: create the key there", e.KeyARN, e.Region, e.Want)
}

// KMSKeyNotFoundError: the key does not exist or cannot be seen.
type KMSKeyNotFoundError struct{ KeyARN, Reason string }

func (e *KMSKeyNotFoundError) Error() string {
	return fmt.Sprintf("steps: KMS key %s not found (%s); check kmsKeyArn, or leave it out to have a key created", e.KeyARN, e.Reason)
}

// KMSKeySpecError: the key is not ECC_NIST_P256.
type KMSKeySpecError struct{ KeyARN, Spec string }

func (e *KMSKeySpecError) Error() string {
	return fmt.Sprintf("steps: KMS key %s has key spec %s; Route 53 DNSSEC needs ECC_NIST_P256", e.KeyARN, e.Spec)
}

// KMSKeyUsageError: the key is not SIGN_VERIFY.
type KMSKeyUsageError struct{ KeyARN, Usage string }

func (e *KMSKeyUsageError) Error() string {
	return fmt.Sprintf("steps: KMS key %s has key usage %s; Route 53 DNSSEC needs SIGN_VERIFY", e.KeyARN, e.Usage)
}

// KMSKeyStateError: the key is not Enabled.
type KMSKeyStateError struct{ KeyARN, State string }

func (e *KMSKeyStateError) Error() string {
	return fmt.Sprintf("steps: KMS key %s is %s; enable it (cancel a pending deletion first) or use another key", e.KeyARN, e.State)
}

// KMSKeyPolicyError: the key policy does not give Route 53's DNSSEC service
// what it needs for this hosted zone.
type KMSKeyPolicyError struct{ KeyARN, Reason string }

func (e *KMSKeyPolicyError) Error() string {
	return fmt.Sprintf("steps: the key policy of KMS key %s does not allow Route 53 DNSSEC signing: %s; add the statements of the Route 53 Developer Guide (Working with customer managed keys for DNSSEC)", e.KeyARN, e.Reason)
}

// KMSKeyInUseError: the key already backs another key-signing key (or is the
// current key of a rotation).
type KMSKeyInUseError struct{ KeyARN, Zone, KSK, Reason string }

func (e *KMSKeyInUseError) Error() string {
	return fmt.Sprintf("steps: KMS key %s already backs key-signing key %s of %s (%s); use a new key for each KSK", e.KeyARN, e.KSK, e.Zone, e.Reason)
}

// ServiceBusyError says an AWS API kept answering "busy" (Throttling,
// ConcurrentModification, PriorRequestNotComplete...) after the SDK's own
// retries. State machines retry it with back-off.
type ServiceBusyError struct {
	Service, Operation, Code, Message string
}

func (e *ServiceBusyError) Error() string {
	return fmt.Sprintf("steps: %s %s is busy (%s: %s); retried with back-off", e.Service, e.Operation, e.Code, e.Message)
}

// AccessDeniedError says AWS refused a call for want of permission: the
// function's IAM role (cdk deploy scopes it to the hosted zones, keys and
// topics of the configuration) or a resource policy does not allow it.
// Retrying cannot help; a person must widen the configuration or the policy.
type AccessDeniedError struct {
	Step, Service, Operation, Code, Message string
}

func (e *AccessDeniedError) Error() string {
	return fmt.Sprintf("steps: %s: %s %s was refused (%s: %s): the function's IAM role or the resource's policy does not allow it"+
		" (cdk deploy lets the functions act only on the hosted zones of config/zones.json and their own KMS keys and topics);"+
		" add the resource to the configuration and deploy, or fix the policy, then start the run again", e.Step, e.Service, e.Operation, e.Code, e.Message)
}

// ObservationIncompleteError says some parent or zone server gave no usable
// answer where a refusal would need every one: the step is retried.
type ObservationIncompleteError struct {
	Zone    string
	Servers []string
}

func (e *ObservationIncompleteError) Error() string {
	return fmt.Sprintf("steps: %s: no usable answer from %s; retried, check those servers if it persists", e.Zone, strings.Join(e.Servers, ", "))
}

// PropagationTimeoutError says a bounded wait for a change to reach every
// server ran out.
type PropagationTimeoutError struct {
	Zone    string
	What    string // what was awaited
	Waited  string // how long, e.g. "2h0m0s"
	Lagging []string
}

func (e *PropagationTimeoutError) Error() string {
	return fmt.Sprintf("steps: %s: %s not reached after %s (lagging: %s); check those servers and the change, then re-run", e.Zone, e.What, e.Waited, orDash(strings.Join(e.Lagging, ", ")))
}

// ChainNotSecureError says the zone does not validate as secure from the root
// after the chain was built.
type ChainNotSecureError struct {
	Zone, Status, Reason string
}

func (e *ChainNotSecureError) Error() string {
	return fmt.Sprintf("steps: %s is %s from the root, not secure (%s); check the DS at the parent against the zone's DNSKEY set", e.Zone, e.Status, e.Reason)
}

// StateError says the execution state handed to a step is not what it needs:
// a bug in a state machine definition, never a person's input.
type StateError struct {
	Step, Reason string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("steps: %s: bad execution state: %s", e.Step, e.Reason)
}

// UnexpectedError carries any other failure, with the step that met it.
type UnexpectedError struct {
	Step   string
	Reason string
}

func (e *UnexpectedError) Error() string {
	return fmt.Sprintf("steps: %s: %s", e.Step, e.Reason)
}

// named returns err as a named error for a state machine: our own types and
// dspublish's pass through (unwrapped, so their names reach ErrorEquals),
// busy AWS answers become ServiceBusyError, anything else UnexpectedError.
func named(step string, err error) error {
	if err == nil {
		return nil
	}
	if n := asNamed(err); n != nil {
		return n
	}
	if b := asBusy(err); b != nil {
		return b
	}
	if d := asAccessDenied(step, err); d != nil {
		return d
	}
	return &UnexpectedError{Step: step, Reason: err.Error()}
}

// asNamed finds the outermost named error in err's chain.
func asNamed(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if isNamedType(e) {
			return e
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
