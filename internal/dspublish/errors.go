package dspublish

import (
	"errors"
	"fmt"
)

// Named errors, so that a state machine can Catch them by type name. Each
// message says what to do next.

// ErrNoSystemOfRecord is returned by the manual publisher's Published: the
// DS records at another registrar can only be observed.
var ErrNoSystemOfRecord = errors.New("dspublish: a manual publisher has no system of record: observe the parent servers instead")

// MissingPublisherSettingError says a setting the publisher kind needs is
// absent.
type MissingPublisherSettingError struct {
	Kind    Kind
	Setting string // the JSON name, e.g. "parentHostedZoneId"
}

func (e *MissingPublisherSettingError) Error() string {
	if e.Setting == "kind" {
		return fmt.Sprintf("dspublish: no publisher kind: set kind to %s, %s or %s", KindParentHostedZone, KindRoute53Domains, KindManual)
	}
	return fmt.Sprintf("dspublish: publisher %s needs %s: add it to the zone's publisher settings", e.Kind, e.Setting)
}

// InvalidPublisherSettingError says a setting is malformed, does not fit the
// zone, or does not belong to the publisher kind.
type InvalidPublisherSettingError struct {
	Kind    Kind
	Setting string
	Value   string
	Reason  string
}

func (e *InvalidPublisherSettingError) Error() string {
	return fmt.Sprintf("dspublish: publisher %s setting %s %q: %s: correct the zone's publisher settings", e.Kind, e.Setting, e.Value, e.Reason)
}

// UnknownPublisherKindError says the kind names no publisher.
type UnknownPublisherKindError struct {
	Kind Kind
}

func (e *UnknownPublisherKindError) Error() string {
	return fmt.Sprintf("dspublish: unknown publisher kind %q: use %s, %s or %s", string(e.Kind), KindParentHostedZone, KindRoute53Domains, KindManual)
}

// InvalidRequestError says a Request cannot be acted on: no DS, a DS that is
// not the digest of the DNSKEY given, a DNSKEY that is not a key-signing key,
// or no DNSKEY where the publisher needs one.
type InvalidRequestError struct {
	Zone   string
	Field  string // zone, ds or dnskey
	Reason string
}

func (e *InvalidRequestError) Error() string {
	return fmt.Sprintf("dspublish: request for zone %s: %s: %s: fix the step input", e.Zone, e.Field, e.Reason)
}

// ParentDelegationMissingError says the parent hosted zone has no NS records
// at the zone's name, so it cannot hold a DS there (and the zone is not
// delegated from it).
type ParentDelegationMissingError struct {
	Zone         string
	ParentZone   string
	ParentZoneID string
}

func (e *ParentDelegationMissingError) Error() string {
	return fmt.Sprintf("dspublish: parent hosted zone %s (%s) has no NS delegation for %s: delegate the zone from its parent first, or choose the right parentHostedZoneId",
		e.ParentZone, e.ParentZoneID, e.Zone)
}

// RegistrarOperationFailedError says a Route 53 Domains operation ended in
// ERROR or FAILED.
type RegistrarOperationFailedError struct {
	Domain      string
	OperationID string
	Type        string // ADD_DNSSEC or REMOVE_DNSSEC
	Status      string // ERROR or FAILED
	Message     string
}

func (e *RegistrarOperationFailedError) Error() string {
	return fmt.Sprintf("dspublish: route 53 domains operation %s (%s) for %s ended %s: %q: check the domain's DNSSEC keys in the Route 53 Domains console and run the workflow again",
		e.OperationID, e.Type, e.Domain, e.Status, e.Message)
}

// RegistrarRefusedError says Route 53 Domains refused to start an operation
// for a reason waiting will not fix (the TLD does not allow DNSSEC, too
// many DS records, the domain is not in the account...).
type RegistrarRefusedError struct {
	Domain    string
	Operation string // the API operation, e.g. AssociateDelegationSignerToDomain
	Code      string
	Message   string
}

func (e *RegistrarRefusedError) Error() string {
	return fmt.Sprintf("dspublish: route 53 domains refused %s for %s: %s: %s: fix the domain or choose another publisher",
		e.Operation, e.Domain, e.Code, e.Message)
}
