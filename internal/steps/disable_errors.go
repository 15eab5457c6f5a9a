package steps

import (
	"fmt"
	"strings"
)

// Named errors of disable-signing (see errors.go for the conventions).

// NotSignedError says the zone has nothing to disable: Route 53 does not sign
// it, it has no key-signing key, and no parent server serves a DS for it.
type NotSignedError struct {
	Zone   string
	Status string // ServeSignature
}

func (e *NotSignedError) Error() string {
	return fmt.Sprintf("steps: %s is not signed (%s, no key-signing key, no DS at the parent); there is nothing to disable", e.Zone, orDash(e.Status))
}

// SignedChildrenError says the zone holds DS records of child zones: their
// chains of trust go through it, so unsigning it makes them insecure too.
type SignedChildrenError struct {
	Zone     string
	Children []string
}

func (e *SignedChildrenError) Error() string {
	return fmt.Sprintf("steps: %s holds the DS records of the signed child zones %s, which become insecure once %s is unsigned; disable signing on them first, or set \"allowSignedChildren\": true to accept that",
		e.Zone, strings.Join(e.Children, ", "), e.Zone)
}

// DelegationNotInsecureError says that, although no parent server serves a
// DS any more, validation from the root does not show the zone as provably
// insecure (an authenticated denial of its DS, or of a DS above it):
// disabling signing now could leave it bogus for someone.
type DelegationNotInsecureError struct {
	Zone, Status, Reason string
}

func (e *DelegationNotInsecureError) Error() string {
	return fmt.Sprintf("steps: %s is %s from the root, not provably insecure (%s); signing stays enabled: check the DS and its denial at the parent, then re-run", e.Zone, e.Status, e.Reason)
}

// GateNotReadyError says a step was asked to make a transition whose gate
// has not passed, or that the cache-combination invariant refuses: a state
// machine that skipped a Wait, or a DS seen again. Nothing was changed.
type GateNotReadyError struct {
	Zone       string
	Transition string
	Reason     string
}

func (e *GateNotReadyError) Error() string {
	return fmt.Sprintf("steps: %s: %s is not safe yet (%s); nothing was changed, re-run to wait for it", e.Zone, e.Transition, e.Reason)
}
