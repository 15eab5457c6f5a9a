package route53emu

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Errors of the Go API, matched with errors.Is.
var (
	// ErrNoSuchZone: no hosted zone has that ID (never created, or deleted).
	ErrNoSuchZone = errors.New("route53emu: no such hosted zone")
	// ErrNotPropagated: the zone exists but its creation is still PENDING,
	// so Route 53's name servers do not serve it yet.
	ErrNotPropagated = errors.New("route53emu: hosted zone not yet on the name servers")
)

// ZoneRef names one hosted zone.
type ZoneRef struct {
	ID   string // without the "/hostedzone/" prefix
	Name string // fully qualified, lowercase, miekg/dns presentation
}

// Snapshot is a hosted zone as Route 53's name servers serve it: the state
// after its latest INSYNC change.
type Snapshot struct {
	ZoneRef
	// NameServers are the zone's delegation set, fully qualified.
	NameServers []string
	// Records are the zone's RRsets (apex SOA and NS included; no DNSKEY,
	// RRSIG or NSEC: a signing server adds those), in Route 53's order.
	Records []dns.RR
	// Signing reports whether DNSSEC signing is enabled.
	Signing bool
	// KSKs are the zone's key-signing keys in any status but DELETING. A
	// server publishes and signs the DNSKEY RRset with the ACTIVE ones
	// (INACTIVE keys are neither published nor used); an ACTION_NEEDED
	// key's Signer fails as its KMS key does, so a server keeps serving the
	// signatures it made while they remain valid, as Route 53 does until
	// they expire.
	KSKs []KSK
	// ChangeID is the change this snapshot reflects.
	ChangeID string
}

// KSK is a key-signing key as the name servers use it.
type KSK struct {
	Name   string
	KMSARN string
	Status string
	// DNSKEY is the key's record (flags 257, algorithm 13, TTL DNSKEYTTL).
	DNSKEY *dns.DNSKEY
	// Signer signs through KMS: every Sign asks the KMS key, which refuses
	// when it is disabled, pending deletion or deleted.
	Signer crypto.Signer
}

// Zones lists every hosted zone, by name then ID.
func (s *Service) Zones() []ZoneRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ZoneRef, 0, len(s.zones))
	for _, z := range s.zones {
		out = append(out, ZoneRef{ID: z.id, Name: z.name})
	}
	slices.SortFunc(out, func(a, b ZoneRef) int {
		if c := strings.Compare(sortKey(a.Name), sortKey(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ZonesByName returns the IDs of the hosted zones named name (Route 53
// allows several zones of one name, each with its own name servers).
func (s *Service) ZonesByName(name string) []string {
	n, err := normalizeAPIName(name)
	if err != nil {
		return nil
	}
	var out []string
	for _, z := range s.Zones() {
		if z.Name == n {
			out = append(out, z.ID)
		}
	}
	return out
}

// Snapshot returns zone zoneID as its name servers serve it now.
func (s *Service) Snapshot(zoneID string) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[cleanID(zoneID)]
	if z == nil {
		return Snapshot{}, fmt.Errorf("%w: %s", ErrNoSuchZone, zoneID)
	}
	now := s.clock.Now()
	s.settle(z, now)
	v := z.visible(now)
	if v == nil {
		return Snapshot{}, fmt.Errorf("%w: %s", ErrNotPropagated, zoneID)
	}
	snap := Snapshot{
		ZoneRef:     ZoneRef{ID: z.id, Name: z.name},
		NameServers: slices.Clone(z.nameServers),
		Signing:     v.signing,
		ChangeID:    v.change.id,
	}
	for _, rr := range v.records {
		snap.Records = append(snap.Records, dns.Copy(rr))
	}
	for _, k := range v.ksks {
		snap.KSKs = append(snap.KSKs, KSK{
			Name:   k.name,
			KMSARN: k.kmsARN,
			Status: k.status,
			DNSKEY: dns.Copy(k.dnskey).(*dns.DNSKEY),
			Signer: &kmsSigner{s: s, arn: k.kmsARN, pub: k.dnskey},
		})
	}
	return snap, nil
}

// Records returns the RRsets zoneID's name servers serve now; nil for an
// unknown or not yet propagated zone.
func (s *Service) Records(zoneID string) []dns.RR {
	snap, err := s.Snapshot(zoneID)
	if err != nil {
		return nil
	}
	return snap.Records
}

// NameServers returns the delegation set of zoneID, fully qualified.
func (s *Service) NameServers(zoneID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[cleanID(zoneID)]; z != nil {
		return slices.Clone(z.nameServers)
	}
	return nil
}

// SigningStatus returns the zone's ServeSignature and StatusMessage as
// GetDNSSEC reports them; "" for an unknown zone.
func (s *Service) SigningStatus(zoneID string) (status, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[cleanID(zoneID)]
	if z == nil {
		return "", ""
	}
	s.settle(z, s.clock.Now())
	return z.serveSignature()
}

// CheckKMSKeys checks now, as GetDNSSEC does, whether the KMS key of every
// ACTIVE KSK of zoneID can still sign for it, and marks ACTION_NEEDED those
// that cannot. KMS key events reach the zones on another goroutine (see
// onKeyEvent); a reader that must see a KMS change made just before (the
// stack's alarm evaluation, like Route 53's metric) calls this first.
func (s *Service) CheckKMSKeys(zoneID string) {
	s.mu.Lock()
	z := s.zones[cleanID(zoneID)]
	changed := z != nil && s.reevaluate(z, "")
	s.mu.Unlock()
	if changed {
		s.notify(z.id)
	}
}

// ActiveKSKs returns the ACTIVE key-signing keys zoneID's name servers
// sign with now (none when signing is not enabled there).
func (s *Service) ActiveKSKs(zoneID string) []KSK {
	snap, err := s.Snapshot(zoneID)
	if err != nil || !snap.Signing {
		return nil
	}
	var out []KSK
	for _, k := range snap.KSKs {
		if k.Status == KSKActive {
			out = append(out, k)
		}
	}
	return out
}

// Subscribe registers fn to be called with a zone's ID whenever what its
// name servers serve may have changed: a change became INSYNC, the zone was
// deleted, or a KSK changed status (KMS key events, test helpers). fn runs
// on its own goroutine, without locks held; it may call the Go API. The
// returned function cancels the subscription.
func (s *Service) Subscribe(fn func(zoneID string)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs, id)
	}
}

func (s *Service) notify(zoneID string) {
	s.subMu.Lock()
	fns := make([]func(string), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn(zoneID)
	}
}

// kmsSigner signs with a KSK's KMS key, asking KMS at every signature.
type kmsSigner struct {
	s   *Service
	arn string
	pub *dns.DNSKEY
}

func (k *kmsSigner) Public() crypto.PublicKey {
	return publicKeyOf(k.pub)
}

func (k *kmsSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if k.s.kms == nil {
		return nil, fmt.Errorf("route53emu: sign with %s: no KMS", k.arn)
	}
	sg, err := k.s.kms.Signer(k.arn)
	if err != nil {
		return nil, fmt.Errorf("route53emu: sign with %s: %w", k.arn, err)
	}
	sig, err := sg.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("route53emu: sign with %s: %w", k.arn, err)
	}
	return sig, nil
}

// Test helpers.

// SetKSKStatus sets a KSK's status and message at once, as Route 53 does
// on its own (INTERNAL_FAILURE, ACTION_NEEDED), for tests.
func (s *Service) SetKSKStatus(zoneID, name, status, message string) error {
	s.mu.Lock()
	z := s.zones[cleanID(zoneID)]
	if z == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNoSuchZone, zoneID)
	}
	k := z.findKSK(name)
	if k == nil {
		s.mu.Unlock()
		return fmt.Errorf("route53emu: set KSK status: no KSK %s in zone %s", name, zoneID)
	}
	setKSKStatus(z, k, status, message, s.clock.Now())
	s.mu.Unlock()
	s.notify(z.id)
	return nil
}

// SetSigningStatus overrides the zone's ServeSignature (INTERNAL_FAILURE or
// ACTION_NEEDED with a message), for tests; EnableHostedZoneDNSSEC and
// DisableHostedZoneDNSSEC clear it, as they do in Route 53. An empty status
// clears it.
func (s *Service) SetSigningStatus(zoneID, status, message string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[cleanID(zoneID)]
	if z == nil {
		return fmt.Errorf("%w: %s", ErrNoSuchZone, zoneID)
	}
	z.failure, z.failureMessage = status, message
	return nil
}
