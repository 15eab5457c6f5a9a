package route53emu

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
)

// KSK statuses (KeySigningKey.Status).
const (
	KSKActive          = "ACTIVE"
	KSKInactive        = "INACTIVE"
	KSKDeleting        = "DELETING"
	KSKActionNeeded    = "ACTION_NEEDED"
	KSKInternalFailure = "INTERNAL_FAILURE"
)

// Zone signing statuses (DNSSECStatus.ServeSignature).
const (
	Signing         = "SIGNING"
	NotSigning      = "NOT_SIGNING"
	SigningDeleting = "DELETING"
	ActionNeeded    = "ACTION_NEEDED"
	InternalFailure = "INTERNAL_FAILURE"
)

const (
	// maxKSKs is Route 53's limit of key-signing keys per hosted zone.
	maxKSKs = 2
	// DNSKEYTTL is the TTL of the DNSKEY RRset Route 53 serves.
	DNSKEYTTL = 3600
	// dnssecPrincipal is the service principal Route 53 DNSSEC uses with KMS.
	dnssecPrincipal = "dnssec-route53.amazonaws.com"
	// kmsKeySpec and kmsKeyUsage are what Route 53 requires of a KSK's key.
	kmsKeySpec  = kmsemu.SpecECCNISTP256
	kmsKeyUsage = kmsemu.UsageSignVerify
)

// kmsActions are the actions the key policy must allow Route 53.
var kmsActions = []string{"kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"}

// kskNameRE is what CreateKeySigningKey accepts as a name: letters,
// digits and underscores, 3 to 128 of them.
var kskNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{3,128}$`)

// ksk is one key-signing key of a zone.
type ksk struct {
	name, kmsARN    string
	status, message string
	dnskey          *dns.DNSKEY
	ds              *dns.DS
	created         time.Time
	modified        time.Time
	deleteChange    *change
}

// kskView is a KSK as one version of the zone serves it.
type kskView struct {
	name, kmsARN, status string
	dnskey               *dns.DNSKEY
}

func (z *zone) kskViews() []kskView {
	var out []kskView
	for _, k := range z.ksks {
		if k.status == KSKDeleting {
			continue // the name servers stop serving it with this change
		}
		out = append(out, kskView{name: k.name, kmsARN: k.kmsARN, status: k.status, dnskey: dns.Copy(k.dnskey).(*dns.DNSKEY)})
	}
	return out
}

func (z *zone) findKSK(name string) *ksk {
	for _, k := range z.ksks {
		if k.name == name {
			return k
		}
	}
	return nil
}

// setKSKStatus changes a KSK's status now, in the live state and in every
// version the name servers may serve (a key that KMS refuses cannot sign
// whatever change is propagating).
func setKSKStatus(z *zone, k *ksk, status, message string, now time.Time) {
	k.status, k.message, k.modified = status, message, now
	for _, v := range z.versions {
		for i := range v.ksks {
			if v.ksks[i].name == k.name {
				v.ksks[i].status = status
			}
		}
	}
}

func (k *ksk) wire() wireKSK {
	return wireKSK{
		Name:                     k.name,
		KmsArn:                   k.kmsARN,
		Flag:                     int(k.dnskey.Flags),
		SigningAlgorithmMnemonic: "ECDSAP256SHA256",
		SigningAlgorithmType:     int(k.dnskey.Algorithm),
		DigestAlgorithmMnemonic:  "SHA-256",
		DigestAlgorithmType:      int(k.ds.DigestType),
		KeyTag:                   int(k.ds.KeyTag),
		DigestValue:              strings.ToUpper(k.ds.Digest),
		PublicKey:                k.dnskey.PublicKey,
		DSRecord:                 fmt.Sprintf("%d %d %d %s", k.ds.KeyTag, k.ds.Algorithm, k.ds.DigestType, strings.ToUpper(k.ds.Digest)),
		DNSKEYRecord:             fmt.Sprintf("%d %d %d %s", k.dnskey.Flags, k.dnskey.Protocol, k.dnskey.Algorithm, k.dnskey.PublicKey),
		Status:                   k.status,
		StatusMessage:            k.message,
		CreatedDate:              apiTime(k.created),
		LastModifiedDate:         apiTime(k.modified),
	}
}

// serveSignature is the zone's DNSSECStatus.
func (z *zone) serveSignature() (string, string) {
	switch {
	case z.failure != "":
		return z.failure, z.failureMessage
	case z.signing:
		for _, k := range z.ksks {
			if k.status == KSKActionNeeded {
				return ActionNeeded, fmt.Sprintf("Key-signing key %s needs action: %s", k.name, k.message)
			}
		}
		return Signing, ""
	case z.disableChange != nil:
		return SigningDeleting, ""
	}
	return NotSigning, ""
}

// kmsProblem checks that a KMS key can back a KSK of the zone and returns
// what is wrong with it, or "". Callers hold s.mu (KMS never calls back
// into this package synchronously under that lock: see onKeyEvent).
func (s *Service) kmsProblem(zoneID, arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" || !strings.HasPrefix(parts[5], "key/") {
		return fmt.Sprintf("%s is not the ARN of a customer managed key (arn:aws:kms:%s:%s:key/KEY_ID)", arn, Region, AccountID)
	}
	if parts[3] != Region {
		return fmt.Sprintf("the customer managed key %s is in region %s; DNSSEC signing uses keys in %s only", arn, parts[3], Region)
	}
	if s.kms == nil {
		return fmt.Sprintf("the customer managed key %s was not found", arn)
	}
	info, err := s.kms.LookupKey(arn)
	if err != nil {
		return fmt.Sprintf("the customer managed key %s was not found or Route 53 has no access to it", arn)
	}
	switch {
	case info.KeySpec != kmsKeySpec:
		return fmt.Sprintf("the customer managed key %s has key spec %s; DNSSEC signing requires %s", arn, info.KeySpec, kmsKeySpec)
	case info.KeyUsage != kmsKeyUsage:
		return fmt.Sprintf("the customer managed key %s has key usage %s; DNSSEC signing requires %s", arn, info.KeyUsage, kmsKeyUsage)
	case info.State == kmsemu.StatePendingDeletion:
		return fmt.Sprintf("the customer managed key %s is pending deletion; cancel the deletion and enable the key", arn)
	case info.State != kmsemu.StateEnabled:
		return fmt.Sprintf("the customer managed key %s is %s; enable the key", arn, info.State)
	}
	ctx := map[string]string{
		"aws:SourceAccount": AccountID,
		"aws:SourceArn":     "arn:aws:route53:::hostedzone/" + zoneID,
	}
	for _, action := range kmsActions {
		ok, err := s.kms.Allows(info.ARN, dnssecPrincipal, action, ctx)
		if err != nil || !ok {
			return fmt.Sprintf("the key policy of %s does not allow %s to %s for hosted zone %s", arn, dnssecPrincipal, action, zoneID)
		}
	}
	return ""
}

// reevaluate marks ACTION_NEEDED every ACTIVE KSK of z whose KMS key can no
// longer sign for it, and reports whether anything changed. Callers hold
// s.mu.
func (s *Service) reevaluate(z *zone, only string) bool {
	changed := false
	now := s.clock.Now()
	for _, k := range z.ksks {
		if k.status != KSKActive || only != "" && k.kmsARN != only {
			continue
		}
		if p := s.kmsProblem(z.id, k.kmsARN); p != "" {
			setKSKStatus(z, k, KSKActionNeeded, p, now)
			changed = true
		}
	}
	return changed
}

// onKeyEvent is the KMS subscription. kmsemu may publish while this
// package holds s.mu (a KMS call under the lock can notice a key whose
// deletion window ended), so the event is queued and handled on another
// goroutine.
func (s *Service) onKeyEvent(ev kmsemu.KeyEvent) {
	s.evMu.Lock()
	s.keyEvs = append(s.keyEvs, ev)
	start := !s.draining
	s.draining = true
	s.evMu.Unlock()
	if start {
		go s.drainKeyEvents()
	}
}

func (s *Service) drainKeyEvents() {
	for {
		s.evMu.Lock()
		evs := s.keyEvs
		s.keyEvs = nil
		if len(evs) == 0 {
			s.draining = false
			s.evMu.Unlock()
			return
		}
		s.evMu.Unlock()
		var touched []string
		s.mu.Lock()
		for _, ev := range evs {
			for _, z := range s.zones {
				if s.reevaluate(z, ev.ARN) && !slices.Contains(touched, z.id) {
					touched = append(touched, z.id)
				}
			}
		}
		s.mu.Unlock()
		for _, id := range touched {
			s.notify(id)
		}
	}
}

// newKSK builds a KSK from its KMS key's public half.
func (s *Service) newKSK(z *zone, name, arn, status string, now time.Time) (*ksk, error) {
	pub, err := s.kms.PublicKey(arn)
	if err != nil {
		return nil, err
	}
	raw, err := p256Bytes(pub)
	if err != nil {
		return nil, err
	}
	key := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: z.name, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: DNSKEYTTL},
		Flags:     dns.ZONE | dns.SEP,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
		PublicKey: base64.StdEncoding.EncodeToString(raw),
	}
	return &ksk{
		name: name, kmsARN: arn, status: status,
		dnskey: key, ds: key.ToDS(dns.SHA256),
		created: now, modified: now,
	}, nil
}

// p256Bytes is the RFC 6605 section 4 public key: X then Y, 32 bytes each.
func p256Bytes(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	if len(raw) != 65 {
		return nil, errors.New("not a P-256 key")
	}
	return raw[1:], nil
}

// zoneForKSK finds the zone of a KSK operation. Those operations have no
// NoSuchHostedZone in their model; an unknown zone has no such KSK.
func (s *Service) zoneForKSK(zoneID, name string) (*zone, *ksk, *apiError) {
	z := s.zones[cleanID(zoneID)]
	if z == nil {
		return nil, nil, errorf(CodeNoSuchKeySigningKey, "No key-signing key %s exists: no hosted zone found with ID %s", name, cleanID(zoneID))
	}
	s.settle(z, s.clock.Now())
	k := z.findKSK(name)
	if k == nil {
		return z, nil, errorf(CodeNoSuchKeySigningKey, "The key-signing key %s does not exist in hosted zone %s", name, z.id)
	}
	return z, k, nil
}

// internalFailureKSK returns a KSK of z other than except that has status
// INTERNAL_FAILURE.
// zoneInternalFailure is Route 53's refusal of a KSK change while the zone's
// signing is in INTERNAL_FAILURE.
func zoneInternalFailure(z *zone) *apiError {
	return errorf(CodeInvalidSigningStatus, "DNSSEC signing of hosted zone %s is in status INTERNAL_FAILURE; enable or disable DNSSEC signing first", z.id)
}

// internalFailure refuses a KSK change while the zone, or one of its KSKs
// other than except, is in INTERNAL_FAILURE.
func internalFailure(z *zone, except *ksk) *apiError {
	if z.failure == InternalFailure {
		return zoneInternalFailure(z)
	}
	if f := z.internalFailureKSK(except); f != nil {
		return errorf(CodeInvalidKeySigningKeyStatus, "The key-signing key %s has status INTERNAL_FAILURE; activate or deactivate it first", f.name)
	}
	return nil
}

// changeableKSK holds the guards ActivateKeySigningKey and
// DeactivateKeySigningKey share, in Route 53's order.
func changeableKSK(z *zone, k *ksk) *apiError {
	if z.failure == InternalFailure {
		return zoneInternalFailure(z)
	}
	if k.status == KSKDeleting {
		return errorf(CodeInvalidKeySigningKeyStatus, "The key-signing key %s is being deleted", k.name)
	}
	return internalFailure(z, k)
}

func (z *zone) internalFailureKSK(except *ksk) *ksk {
	for _, k := range z.ksks {
		if k != except && k.status == KSKInternalFailure {
			return k
		}
	}
	return nil
}

func (s *Service) createKSK(r *http.Request, _ []string) (reply, *apiError) {
	var req createKeySigningKeyRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return reply{}, aerr
	}
	for field, v := range map[string]*string{
		"CallerReference": req.CallerReference, "HostedZoneId": req.HostedZoneID,
		"KeyManagementServiceArn": req.KeyManagementServiceArn, "Name": req.Name, "Status": req.Status,
	} {
		if v == nil || *v == "" {
			return reply{}, errorf(CodeInvalidInput, "Invalid request: missing required element %s", field)
		}
	}
	if len(*req.CallerReference) > 128 {
		return reply{}, errorf(CodeInvalidInput, "1 validation error detected: Value at 'callerReference' failed to satisfy constraint: Member must have length less than or equal to 128")
	}
	name, arn, status := *req.Name, *req.KeyManagementServiceArn, *req.Status

	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.lookupZone(*req.HostedZoneID)
	if aerr != nil {
		return reply{}, aerr
	}
	switch {
	case !kskNameRE.MatchString(name):
		return reply{}, errorf(CodeInvalidKeySigningKeyName,
			"The key-signing key name %q is not valid: use 3 to 128 letters, digits and underscores", name)
	case status != KSKActive && status != KSKInactive:
		return reply{}, errorf(CodeInvalidKeySigningKeyStatus, "The initial status of a key-signing key must be ACTIVE or INACTIVE, not %q", status)
	}
	if aerr := internalFailure(z, nil); aerr != nil {
		return reply{}, aerr
	}
	for _, k := range z.ksks {
		if k.name == name {
			return reply{}, errorf(CodeKeySigningKeyAlreadyExists, "A key-signing key named %s already exists in hosted zone %s", name, z.id)
		}
		if k.kmsARN == arn {
			return reply{}, errorf(CodeKeySigningKeyAlreadyExists, "The key-signing key %s of hosted zone %s already uses the customer managed key %s", k.name, z.id, arn)
		}
	}
	if len(z.ksks) >= maxKSKs {
		return reply{}, errorf(CodeTooManyKeySigningKeys, "Hosted zone %s already has %d key-signing keys, the limit; delete one first", z.id, maxKSKs)
	}
	if p := s.kmsProblem(z.id, arn); p != "" {
		return reply{}, errorf(CodeInvalidKMSArn, "The KeyManagementServiceArn is not valid for DNSSEC signing: %s", p)
	}
	now := s.clock.Now()
	k, err := s.newKSK(z, name, arn, status, now)
	if err != nil {
		return reply{}, errorf(CodeInvalidKMSArn, "The KeyManagementServiceArn is not valid for DNSSEC signing: reading the public key of %s: %v", arn, err)
	}
	z.ksks = append(z.ksks, k)
	c := s.commit(z, "")
	return reply{
		status:   http.StatusCreated,
		location: "https://route53.amazonaws.com/2013-04-01/keysigningkey/" + z.id + "/" + name,
		body:     createKeySigningKeyResponse{Xmlns: xmlns, ChangeInfo: c.wire(now), KeySigningKey: k.wire()},
	}, nil
}

func (s *Service) activateKSK(_ *http.Request, args []string) (reply, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, k, aerr := s.zoneForKSK(args[0], args[1])
	if aerr != nil {
		return reply{}, aerr
	}
	if aerr := changeableKSK(z, k); aerr != nil {
		return reply{}, aerr
	}
	if p := s.kmsProblem(z.id, k.kmsARN); p != "" {
		return reply{}, errorf(CodeInvalidKMSArn, "The key-signing key %s cannot be activated: %s", k.name, p)
	}
	now := s.clock.Now()
	setKSKStatus(z, k, KSKActive, "", now)
	c := s.commit(z, "")
	return reply{status: http.StatusOK, body: changeResponse("ActivateKeySigningKeyResponse", c, now)}, nil
}

// parentDS asks the parent which DS records it serves for zone.
func (s *Service) parentDS(ctx context.Context, zoneName string) ([]*dns.DS, error) {
	if s.parent == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ParentQueryTimeout)
	defer cancel()
	return s.parent.DSServed(ctx, zoneName)
}

// zoneName returns the name of a zone, "" when unknown.
func (s *Service) zoneName(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[cleanID(id)]; z != nil {
		return z.name
	}
	return ""
}

// parentServes reports whether a DS in ds refers to k.
func parentServes(ds []*dns.DS, k *ksk) bool {
	for _, d := range ds {
		if d != nil && dnssec.DSMatches(d, k.dnskey) {
			return true
		}
	}
	return false
}

func (s *Service) deactivateKSK(r *http.Request, args []string) (reply, *apiError) {
	// Ask the parent before taking the lock: it is a network question.
	var (
		ds    []*dns.DS
		dsErr error
	)
	if name := s.zoneName(args[0]); name != "" {
		ds, dsErr = s.parentDS(r.Context(), name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, k, aerr := s.zoneForKSK(args[0], args[1])
	if aerr != nil {
		return reply{}, aerr
	}
	if aerr := changeableKSK(z, k); aerr != nil {
		return reply{}, aerr
	}
	if z.signing && k.status != KSKInactive {
		others := 0
		for _, o := range z.ksks {
			if o != k && o.status == KSKActive {
				others++
			}
		}
		if others == 0 {
			return reply{}, errorf(CodeKeySigningKeyInUse,
				"The key-signing key %s is the only active key-signing key of hosted zone %s, which is signed; disable DNSSEC signing, or add or activate another key-signing key", k.name, z.id)
		}
		switch {
		case dsErr != nil:
			return reply{}, errorf(CodeKeySigningKeyInParentDSRecord,
				"Could not confirm that the parent zone serves no DS record for the key-signing key %s: %v", k.name, dsErr)
		case parentServes(ds, k):
			return reply{}, errorf(CodeKeySigningKeyInParentDSRecord,
				"The key-signing key %s is specified in a DS record of the parent zone; remove that DS record and wait for its TTL first", k.name)
		}
	}
	now := s.clock.Now()
	setKSKStatus(z, k, KSKInactive, "", now)
	c := s.commit(z, "")
	return reply{status: http.StatusOK, body: changeResponse("DeactivateKeySigningKeyResponse", c, now)}, nil
}

func (s *Service) deleteKSK(_ *http.Request, args []string) (reply, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, k, aerr := s.zoneForKSK(args[0], args[1])
	if aerr != nil {
		return reply{}, aerr
	}
	switch {
	case z.failure == InternalFailure:
		return reply{}, zoneInternalFailure(z)
	case k.status != KSKInactive:
		return reply{}, errorf(CodeInvalidKeySigningKeyStatus, "The key-signing key %s has status %s; deactivate it before deleting it", k.name, k.status)
	}
	now := s.clock.Now()
	setKSKStatus(z, k, KSKDeleting, "", now)
	c := s.commit(z, "")
	k.deleteChange = c
	return reply{status: http.StatusOK, body: changeResponse("DeleteKeySigningKeyResponse", c, now)}, nil
}

// parentNS asks the parent which name servers it delegates zone to.
func (s *Service) parentNS(ctx context.Context, zoneName string) ([]string, error) {
	if s.parent == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, ParentQueryTimeout)
	defer cancel()
	return s.parent.NSServed(ctx, zoneName)
}

// sameNameServers compares two name server sets, ignoring case, order
// and final dots.
func sameNameServers(a, b []string) bool {
	norm := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, n := range in {
			n = strings.ToLower(dns.Fqdn(n))
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

func (s *Service) enableDNSSEC(r *http.Request, args []string) (reply, *apiError) {
	var (
		ns    []string
		nsErr error
	)
	if name := s.zoneName(args[0]); name != "" {
		ns, nsErr = s.parentNS(r.Context(), name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		return reply{}, aerr
	}
	if len(z.ksks) == 0 {
		return reply{}, errorf(CodeDNSSECNotFound, "Hosted zone %s has no DNSSEC resources: create a key-signing key first", z.id)
	}
	if f := z.internalFailureKSK(nil); f != nil {
		return reply{}, errorf(CodeInvalidKeySigningKeyStatus, "The key-signing key %s has status INTERNAL_FAILURE; activate or deactivate it first", f.name)
	}
	s.reevaluate(z, "")
	var active []*ksk
	for _, k := range z.ksks {
		if k.status == KSKActive {
			active = append(active, k)
		}
	}
	if len(active) == 0 {
		for _, k := range z.ksks {
			if k.status == KSKActionNeeded {
				return reply{}, errorf(CodeInvalidKMSArn, "The key-signing key %s cannot sign: %s", k.name, k.message)
			}
		}
		return reply{}, errorf(CodeKeySigningKeyWithActiveStatusNotFound, "Hosted zone %s has no key-signing key with status ACTIVE", z.id)
	}
	switch {
	case nsErr != nil:
		return reply{}, errorf(CodeHostedZonePartiallyDelegated, "Could not confirm the delegation of %s in its parent zone: %v", apiName(z.name), nsErr)
	case len(ns) > 0 && !sameNameServers(ns, z.nameServers):
		return reply{}, errorf(CodeHostedZonePartiallyDelegated,
			"The hosted zone name servers (%s) don't match the parent name servers (%s). The hosted zone and parent must have the same name servers.",
			strings.Join(z.nameServers, ", "), strings.Join(ns, ", "))
	}
	z.signing = true
	z.failure, z.failureMessage = "", ""
	z.disableChange = nil
	c := s.commit(z, "")
	return reply{status: http.StatusOK, body: changeResponse("EnableHostedZoneDNSSECResponse", c, s.clock.Now())}, nil
}

func (s *Service) disableDNSSEC(r *http.Request, args []string) (reply, *apiError) {
	var (
		ds    []*dns.DS
		dsErr error
	)
	if name := s.zoneName(args[0]); name != "" {
		ds, dsErr = s.parentDS(r.Context(), name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		return reply{}, aerr
	}
	if !z.signing && z.failure == "" && len(z.ksks) == 0 {
		return reply{}, errorf(CodeDNSSECNotFound, "Hosted zone %s has no DNSSEC resources", z.id)
	}
	if f := z.internalFailureKSK(nil); f != nil {
		return reply{}, errorf(CodeInvalidKeySigningKeyStatus, "The key-signing key %s has status INTERNAL_FAILURE; activate or deactivate it first", f.name)
	}
	if z.signing {
		if dsErr != nil {
			return reply{}, errorf(CodeKeySigningKeyInParentDSRecord,
				"Could not confirm that the parent zone serves no DS record for hosted zone %s: %v", z.id, dsErr)
		}
		for _, k := range z.ksks {
			if parentServes(ds, k) {
				return reply{}, errorf(CodeKeySigningKeyInParentDSRecord,
					"The key-signing key %s is specified in a DS record of the parent zone; remove the DS records and wait for their TTL before disabling DNSSEC signing", k.name)
			}
		}
	}
	wasSigning := z.signing || z.failure != ""
	z.signing = false
	z.failure, z.failureMessage = "", ""
	c := s.commit(z, "")
	if wasSigning {
		z.disableChange = c // DELETING until INSYNC
	}
	return reply{status: http.StatusOK, body: changeResponse("DisableHostedZoneDNSSECResponse", c, s.clock.Now())}, nil
}

func (s *Service) getDNSSEC(_ *http.Request, args []string) (reply, *apiError) {
	s.mu.Lock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		s.mu.Unlock()
		return reply{}, aerr
	}
	changed := s.reevaluate(z, "")
	var resp getDNSSECResponse
	resp.Xmlns = xmlns
	resp.Status.ServeSignature, resp.Status.StatusMessage = z.serveSignature()
	for _, k := range z.ksks {
		resp.KeySigningKeys = append(resp.KeySigningKeys, k.wire())
	}
	s.mu.Unlock()
	if changed {
		s.notify(z.id)
	}
	return reply{status: http.StatusOK, body: resp}, nil
}

// publicKeyOf decodes an algorithm 13 DNSKEY's public key; nil when it is
// not one.
func publicKeyOf(k *dns.DNSKEY) *ecdsa.PublicKey {
	raw, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(raw) != 64 {
		return nil
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, raw...))
	if err != nil {
		return nil
	}
	return pub
}
