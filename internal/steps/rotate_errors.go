package steps

import (
	"fmt"
	"strings"
)

// Named errors of rotate-ksk (see errors.go for the conventions).

// NoKSKToRotateError says the zone is not signed: there is no key to rotate.
type NoKSKToRotateError struct {
	Zone   string
	Status string // ServeSignature
}

func (e *NoKSKToRotateError) Error() string {
	return fmt.Sprintf("steps: %s is %s, not signed; there is no key-signing key to rotate: run enable-signing first", e.Zone, orDash(e.Status))
}

// RotationInProgressError says the zone's key-signing keys are not in the
// state a rotation starts from: exactly one KSK, ACTIVE. A second KSK means a
// rotation (or a disable) was started and did not finish.
type RotationInProgressError struct {
	Zone string
	KSKs []string // "name (STATUS)"
}

func (e *RotationInProgressError) Error() string {
	return fmt.Sprintf("steps: %s has key-signing keys [%s], want exactly one ACTIVE; a previous rotation did not finish: finish it (or retire the extra key) before starting another",
		e.Zone, strings.Join(e.KSKs, " "))
}

// NewKeyNotServingError says the new KSK cannot carry the zone alone: some
// zone server serves a DNSKEY set that the new KSK's DS alone does not
// validate, some parent server does not serve the new DS, or Route 53 cannot
// sign with the new KSK (ACTION_NEEDED). Removing the old DS would make the
// zone bogus. The rotation rolls back.
type NewKeyNotServingError struct {
	Zone    string
	KSK     string
	DS      string
	Servers []string // "server (reason)", or "Route 53 (KSK status)"
}

func (e *NewKeyNotServingError) Error() string {
	return fmt.Sprintf("steps: %s: the new KSK %s (DS %s) cannot take over: %s; the old DS stays and the rotation is rolled back: check the new KSK and its KMS key",
		e.Zone, e.KSK, e.DS, strings.Join(e.Servers, "; "))
}

// LastActiveKSKError says deactivating a KSK would leave the signed zone
// without an ACTIVE one (Route 53: KeySigningKeyInUse): its DNSKEY set would
// go unsigned and the zone bogus.
type LastActiveKSKError struct {
	Zone, KSK string
}

func (e *LastActiveKSKError) Error() string {
	return fmt.Sprintf("steps: KSK %s is the only ACTIVE key-signing key of %s; deactivating it would leave the zone's DNSKEY set unsigned: activate another KSK first", e.KSK, e.Zone)
}

// KSKStillActiveError says a KSK to delete is still ACTIVE: it must be
// deactivated (after its DS is gone) first.
type KSKStillActiveError struct {
	Zone, KSK, Status string
}

func (e *KSKStillActiveError) Error() string {
	return fmt.Sprintf("steps: KSK %s of %s is %s; deactivate it (once no parent server serves its DS) before deleting it", e.KSK, e.Zone, e.Status)
}
