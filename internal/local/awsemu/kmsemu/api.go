package kmsemu

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Errors of the Go API, matched with errors.Is.
var (
	// ErrKeyNotFound: no such key in this account and region (unknown,
	// deleted, or an ARN of another region or account).
	ErrKeyNotFound = errors.New("kmsemu: key not found")
	// ErrKeyDisabled: the key is Disabled.
	ErrKeyDisabled = errors.New("kmsemu: key is disabled")
	// ErrKeyPendingDeletion: the key is scheduled for deletion.
	ErrKeyPendingDeletion = errors.New("kmsemu: key is pending deletion")
	// ErrKeyUsage: the key cannot do what was asked (symmetric, not
	// SIGN_VERIFY, or not an ECC key where one is needed).
	ErrKeyUsage = errors.New("kmsemu: key usage or spec not valid for this use")
)

// Event kinds published to subscribers.
const (
	EventCreated          = "Created"
	EventEnabled          = "Enabled"
	EventDisabled         = "Disabled"
	EventPendingDeletion  = "PendingDeletion"
	EventDeletionCanceled = "DeletionCanceled" // the key is Disabled again
	EventDeleted          = "Deleted"
	EventPolicyChanged    = "PolicyChanged"
)

// KeyEvent tells a subscriber that a key changed.
type KeyEvent struct {
	ARN  string
	Kind string // one of the Event* constants
}

// KeyInfo is a snapshot of a key for the other emulators.
type KeyInfo struct {
	ARN, KeyID, Region, Account, KeySpec, KeyUsage string
	// State is Enabled, Disabled or PendingDeletion.
	State string
	// Policy is the key policy document as stored.
	Policy string
}

// Subscribe registers f to be called after every key state or policy
// change, synchronously, outside the service's lock (f may call back into
// the Service). Deletion at the end of the waiting period is published
// when the service next notices it: at any API call, Go API call or Sweep.
// Events of concurrent changes may arrive out of order: a subscriber that
// needs the current state re-reads it with LookupKey.
func (s *Service) Subscribe(f func(KeyEvent)) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.subs = append(s.subs, f)
}

func (s *Service) publish(evs []KeyEvent) {
	if len(evs) == 0 {
		return
	}
	s.subMu.Lock()
	subs := slices.Clone(s.subs)
	s.subMu.Unlock()
	for _, e := range evs {
		for _, f := range subs {
			f(e)
		}
	}
}

// locked runs f under the service lock after deleting the keys whose
// window has ended, then publishes the sweep's events and f's.
func (s *Service) locked(f func() []KeyEvent) {
	s.mu.Lock()
	evs := s.sweepLocked(s.clk.Now())
	evs = append(evs, f()...)
	s.mu.Unlock()
	s.publish(evs)
}

// Sweep deletes every key whose pending-deletion window has ended on the
// clock and publishes EventDeleted for each.
func (s *Service) Sweep() { s.locked(func() []KeyEvent { return nil }) }

// lookup resolves a key ID, key ARN, alias name or alias ARN for the Go
// API, translating API errors to the package's sentinel errors.
func (s *Service) lookupLocked(ref string) (*key, error) {
	k, aerr := s.resolveLocked(ref, true)
	if aerr != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrKeyNotFound, ref, aerr.Message)
	}
	return k, nil
}

// LookupKey describes the key named by a key ID, key ARN, alias name or
// alias ARN. It fails with ErrKeyNotFound for an unknown or deleted key
// and for an ARN of another region or account.
func (s *Service) LookupKey(arnOrID string) (KeyInfo, error) {
	var (
		info KeyInfo
		err  error
	)
	s.locked(func() []KeyEvent {
		var k *key
		if k, err = s.lookupLocked(arnOrID); err != nil {
			return nil
		}
		info = KeyInfo{
			ARN: k.arn, KeyID: k.id, Region: s.region, Account: s.account,
			KeySpec: k.spec, KeyUsage: k.usage, State: k.state, Policy: k.policyDoc,
		}
		return nil
	})
	return info, err
}

// Allows evaluates the key policy of keyARN for a request by the service
// principal servicePrincipal (e.g. "dnssec-route53.amazonaws.com") to
// perform action (e.g. "kms:Sign") with the condition keys in ctx (e.g.
// "aws:SourceAccount", "aws:SourceArn"). An explicit Deny wins over any
// Allow; no matching Allow denies. It does not look at the key state.
func (s *Service) Allows(keyARN, servicePrincipal, action string, ctx map[string]string) (bool, error) {
	var (
		ok  bool
		err error
	)
	s.locked(func() []KeyEvent {
		var k *key
		if k, err = s.lookupLocked(keyARN); err != nil {
			return nil
		}
		ok = k.policy.evaluate(request{
			PrincipalService: servicePrincipal,
			Action:           action,
			Resource:         k.arn,
			Context:          ctx,
		}) == allowed
		return nil
	})
	return ok, err
}

// PublicKey returns the public key of an ECC key whatever its state
// (callers that must refuse disabled keys check LookupKey's State).
func (s *Service) PublicKey(keyARN string) (*ecdsa.PublicKey, error) {
	var (
		pub *ecdsa.PublicKey
		err error
	)
	s.locked(func() []KeyEvent {
		var k *key
		if k, err = s.lookupLocked(keyARN); err != nil {
			return nil
		}
		p, ok := publicOf(k).(*ecdsa.PublicKey)
		if !ok {
			err = fmt.Errorf("%w: %s is a %s key, not an ECC key", ErrKeyUsage, k.arn, k.spec)
			return nil
		}
		pub = p
		return nil
	})
	return pub, err
}

func publicOf(k *key) crypto.PublicKey {
	if k.private == nil {
		return nil
	}
	return k.private.Public()
}

// Signer returns a crypto.Signer backed by the asymmetric SIGN_VERIFY key
// keyARN. Signer itself does not look at the key state; every Sign call
// does: it fails with ErrKeyDisabled, ErrKeyPendingDeletion or
// ErrKeyNotFound (deleted) as the KMS Sign operation would, so signing
// stops the moment a key is disabled. For an ECC key, Sign returns an
// ASN.1 DER ECDSA signature of the digest, like KMS's Sign with
// MessageType DIGEST.
func (s *Service) Signer(keyARN string) (crypto.Signer, error) {
	var (
		sg  *signer
		err error
	)
	s.locked(func() []KeyEvent {
		var k *key
		if k, err = s.lookupLocked(keyARN); err != nil {
			return nil
		}
		if k.private == nil || k.usage != UsageSignVerify {
			err = fmt.Errorf("%w: %s is a %s %s key, not an asymmetric SIGN_VERIFY key", ErrKeyUsage, k.arn, k.spec, k.usage)
			return nil
		}
		sg = &signer{s: s, id: k.id, arn: k.arn, pub: k.private.Public()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sg, nil
}

type signer struct {
	s   *Service
	id  string
	arn string
	pub crypto.PublicKey
}

func (g *signer) Public() crypto.PublicKey { return g.pub }

func (g *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	var (
		sig []byte
		err error
	)
	g.s.locked(func() []KeyEvent {
		k := g.s.keys[g.id]
		switch {
		case k == nil:
			err = fmt.Errorf("%w: %s was deleted", ErrKeyNotFound, g.arn)
		case k.state == StateDisabled:
			err = fmt.Errorf("%w: %s", ErrKeyDisabled, g.arn)
		case k.state == StatePendingDeletion:
			err = fmt.Errorf("%w: %s", ErrKeyPendingDeletion, g.arn)
		default:
			sig, err = k.private.Sign(rand, digest, opts)
			if err != nil {
				err = fmt.Errorf("kmsemu: signing with %s: %w", g.arn, err)
			}
		}
		return nil
	})
	return sig, err
}
