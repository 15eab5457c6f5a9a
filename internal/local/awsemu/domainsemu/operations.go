package domainsemu

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
)

// Operation statuses and types, as Route 53 Domains names them.
const (
	StatusSubmitted  = "SUBMITTED"
	StatusInProgress = "IN_PROGRESS"
	StatusSuccessful = "SUCCESSFUL"
	StatusError      = "ERROR"
	StatusFailed     = "FAILED"

	TypeAddDNSSEC    = "ADD_DNSSEC"
	TypeRemoveDNSSEC = "REMOVE_DNSSEC"

	// invalidParameters is the message Route 53 Domains gives an operation
	// the registry refused, e.g. a DS that is already published.
	invalidParameters = "Parameters in request are not valid"
)

// registrarAlgorithms are the DNSSEC algorithms the emulated registrar
// accepts (RSASHA1 onward; 13 is what Route 53 signs with).
var registrarAlgorithms = []uint8{
	dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512,
	dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519, dns.ED448,
}

type operation struct {
	id          string
	domain      string
	typ         string
	status      string
	message     string
	submitted   time.Time
	lastUpdated time.Time
	key         *dsKey // ADD_DNSSEC: the key to associate
	keyID       string // REMOVE_DNSSEC: the Id to remove
	end         *outcome
}

func (o *operation) final() bool {
	return o.status != StatusSubmitted && o.status != StatusInProgress
}

func newOperationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// dsID is the Id Route 53 Domains (Amazon Registrar) gives a DS record.
func dsID(ds *dns.DS) string {
	return fmt.Sprintf("DS:%d-%d-%d-%s", ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
}

// progressLocked applies every transition due by now, in submission order.
func (s *Service) progressLocked(now time.Time) {
	for _, op := range s.ops {
		if op.final() {
			continue
		}
		started := op.submitted.Add(s.submittedDelay)
		if op.status == StatusSubmitted && !now.Before(started) {
			op.status, op.lastUpdated = StatusInProgress, started
		}
		done := started.Add(s.inProgressDelay)
		if op.status == StatusInProgress && !now.Before(done) {
			s.completeLocked(op, done)
		}
	}
}

// nextDueLocked reports the earliest pending transition.
func (s *Service) nextDueLocked() (time.Time, bool) {
	var (
		next time.Time
		ok   bool
	)
	for _, op := range s.ops {
		if op.final() {
			continue
		}
		t := op.submitted.Add(s.submittedDelay)
		if op.status == StatusInProgress {
			t = t.Add(s.inProgressDelay)
		}
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	return next, ok
}

func (s *Service) completeLocked(op *operation, at time.Time) {
	op.lastUpdated = at
	if op.end != nil {
		op.status, op.message = op.end.status, op.end.message
		return
	}
	d := s.domains[op.domain]
	keys := slices.Clone(d.keys)
	switch op.typ {
	case TypeAddDNSSEC:
		if slices.ContainsFunc(keys, func(k *dsKey) bool { return k.id == op.key.id }) {
			op.status, op.message = StatusFailed, invalidParameters
			return
		}
		if len(keys) >= s.maxDS {
			op.status, op.message = StatusFailed, fmt.Sprintf("domain %s already has %d DS records", d.name, len(keys))
			return
		}
		keys = append(keys, op.key)
	case TypeRemoveDNSSEC:
		i := slices.IndexFunc(keys, func(k *dsKey) bool { return k.id == op.keyID })
		if i < 0 {
			op.status, op.message = StatusFailed, invalidParameters
			return
		}
		keys = slices.Delete(keys, i, i+1)
	}
	if s.registry != nil {
		ds := make([]*dns.DS, 0, len(keys))
		for _, k := range keys {
			ds = append(ds, dns.Copy(k.ds).(*dns.DS))
		}
		if err := s.registry.SetDS(d.name, ds); err != nil {
			op.status, op.message = StatusError, fmt.Sprintf("registry refused the DS set: %v", err)
			return
		}
	}
	d.keys = keys
	op.status = StatusSuccessful
}

// findDomainLocked resolves a DomainName parameter.
func (s *Service) findDomainLocked(name string) (*domain, *apiError) {
	n := canonical(name)
	if n == "" {
		return nil, errorf("InvalidInput", "Domain name is required")
	}
	if len(n) > 255 || !domainPattern.MatchString(n) {
		return nil, errorf("InvalidInput", "Domain name %s is not valid", name)
	}
	if d := s.domains[n]; d != nil {
		return d, nil
	}
	tld := tldOf(n)
	for other := range s.domains {
		if tldOf(other) == tld {
			return nil, errorf("InvalidInput", "Domain %s not found in account", n)
		}
	}
	return nil, errorf("UnsupportedTLD", "TLD .%s is not supported", tld)
}

type dnssecKeyJSON struct {
	Algorithm  *int    `json:",omitempty"`
	Flags      *int    `json:",omitempty"`
	PublicKey  *string `json:",omitempty"`
	DigestType int
	Digest     string
	KeyTag     int
	Id         string
}

func (s *Service) getDomainDetail(body []byte) (any, *apiError) {
	var in struct{ DomainName string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, e := s.findDomainLocked(in.DomainName)
	if e != nil {
		return nil, e
	}
	type nameserver struct{ Name string }
	out := struct {
		DomainName        string
		Nameservers       []nameserver
		AutoRenew         bool
		AdminPrivacy      bool
		RegistrantPrivacy bool
		TechPrivacy       bool
		RegistrarName     string
		WhoIsServer       string
		RegistrarUrl      string
		CreationDate      float64
		UpdatedDate       float64
		ExpirationDate    float64
		DnsSec            string
		StatusList        []string
		DnssecKeys        []dnssecKeyJSON
	}{
		DomainName: d.name, AutoRenew: true, AdminPrivacy: true, RegistrantPrivacy: true, TechPrivacy: true,
		RegistrarName: "Amazon Registrar, Inc.", WhoIsServer: "whois.registrar.amazon", RegistrarUrl: "https://registrar.amazon.com",
		CreationDate: awsjson.Timestamp(d.created), UpdatedDate: awsjson.Timestamp(d.created), ExpirationDate: awsjson.Timestamp(d.created.AddDate(1, 0, 0)),
		DnsSec: "DISABLED", StatusList: []string{"clientTransferProhibited"}, DnssecKeys: []dnssecKeyJSON{},
	}
	for _, ns := range d.nameservers {
		out.Nameservers = append(out.Nameservers, nameserver{ns})
	}
	for _, k := range d.keys {
		alg := int(k.algorithm)
		j := dnssecKeyJSON{Algorithm: &alg, DigestType: int(k.ds.DigestType), Digest: strings.ToUpper(k.ds.Digest), KeyTag: int(k.ds.KeyTag), Id: k.id}
		if s.fullKeys {
			flags, pub := int(k.flags), k.publicKey
			j.Flags, j.PublicKey = &flags, &pub
		}
		out.DnssecKeys = append(out.DnssecKeys, j)
		out.DnsSec = "ENABLED"
	}
	return out, nil
}

func (s *Service) pendingLocked() int {
	n := 0
	for _, op := range s.ops {
		if !op.final() {
			n++
		}
	}
	return n
}

func (s *Service) submitLocked(d *domain, typ string, key *dsKey, keyID string) any {
	now := s.clk.Now()
	op := &operation{
		id: newOperationID(), domain: d.name, typ: typ, status: StatusSubmitted,
		submitted: now, lastUpdated: now, key: key, keyID: keyID,
	}
	if len(s.failures) > 0 {
		end := s.failures[0]
		op.end = &end
		s.failures = s.failures[1:]
	}
	s.ops = append(s.ops, op)
	s.wake()
	return struct{ OperationId string }{op.id}
}

func (s *Service) associate(body []byte) (any, *apiError) {
	var in struct {
		DomainName        string
		SigningAttributes *struct {
			Algorithm *int
			Flags     *int
			PublicKey string
		}
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, e := s.findDomainLocked(in.DomainName)
	if e != nil {
		return nil, e
	}
	attrs := in.SigningAttributes
	switch {
	case attrs == nil:
		return nil, errorf("InvalidInput", "SigningAttributes is required")
	case attrs.Algorithm == nil || *attrs.Algorithm < 0 || *attrs.Algorithm > 255 || !slices.Contains(registrarAlgorithms, uint8(*attrs.Algorithm)):
		return nil, errorf("InvalidInput", "SigningAttributes.Algorithm must be one of %v", registrarAlgorithms)
	case attrs.Flags == nil || (*attrs.Flags != 256 && *attrs.Flags != 257):
		return nil, errorf("InvalidInput", "SigningAttributes.Flags must be 257 (KSK) or 256 (ZSK)")
	}
	raw, err := base64.StdEncoding.DecodeString(attrs.PublicKey)
	if err != nil || len(raw) == 0 || len(attrs.PublicKey) > 32768 {
		return nil, errorf("InvalidInput", "SigningAttributes.PublicKey must be a base64-encoded public key")
	}
	if s.noDNSSEC[tldOf(d.name)] {
		return nil, errorf("TLDRulesViolation", "The registry of .%s does not support DNSSEC", tldOf(d.name))
	}
	dnskey := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.Fqdn(d.name), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: DSTTL},
		Flags:     uint16(*attrs.Flags),
		Protocol:  3,
		Algorithm: uint8(*attrs.Algorithm),
		PublicKey: base64.StdEncoding.EncodeToString(raw),
	}
	ds := dnskey.ToDS(dns.SHA256)
	if ds == nil {
		return nil, errorf("InvalidInput", "SigningAttributes do not form a valid DNSKEY")
	}
	ds.Hdr.Ttl = DSTTL
	key := &dsKey{id: dsID(ds), algorithm: dnskey.Algorithm, flags: dnskey.Flags, publicKey: dnskey.PublicKey, ds: ds}
	count := len(d.keys)
	for _, op := range s.ops {
		if op.final() || op.domain != d.name {
			continue
		}
		if op.typ == TypeAddDNSSEC {
			if op.key.id == key.id {
				return nil, errorf("DuplicateRequest", "An operation adding this key to %s is already in progress (%s)", d.name, op.id)
			}
			count++
		}
	}
	if count >= s.maxDS {
		return nil, errorf("DnssecLimitExceeded", "Domain %s has reached the limit of %d DS records", d.name, s.maxDS)
	}
	if s.maxPending > 0 && s.pendingLocked() >= s.maxPending {
		return nil, errorf("OperationLimitExceeded", "More than %d operations are in progress for the account", s.maxPending)
	}
	return s.submitLocked(d, TypeAddDNSSEC, key, ""), nil
}

func (s *Service) disassociate(body []byte) (any, *apiError) {
	var in struct {
		DomainName string
		Id         string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, e := s.findDomainLocked(in.DomainName)
	if e != nil {
		return nil, e
	}
	if in.Id == "" {
		return nil, errorf("InvalidInput", "Id is required")
	}
	known := slices.ContainsFunc(d.keys, func(k *dsKey) bool { return k.id == in.Id })
	for _, op := range s.ops {
		if op.final() || op.domain != d.name {
			continue
		}
		if op.typ == TypeRemoveDNSSEC && op.keyID == in.Id {
			return nil, errorf("DuplicateRequest", "An operation removing %s from %s is already in progress (%s)", in.Id, d.name, op.id)
		}
		if op.typ == TypeAddDNSSEC && op.key.id == in.Id {
			known = true
		}
	}
	if !known {
		return nil, errorf("InvalidInput", "No DNSSEC key with Id %s for domain %s", in.Id, d.name)
	}
	if s.maxPending > 0 && s.pendingLocked() >= s.maxPending {
		return nil, errorf("OperationLimitExceeded", "More than %d operations are in progress for the account", s.maxPending)
	}
	return s.submitLocked(d, TypeRemoveDNSSEC, nil, in.Id), nil
}

type operationJSON struct {
	OperationId     string
	Status          string
	Message         string `json:",omitempty"`
	DomainName      string
	Type            string
	SubmittedDate   float64
	LastUpdatedDate float64
}

func toJSON(op *operation) operationJSON {
	return operationJSON{op.id, op.status, op.message, op.domain, op.typ, awsjson.Timestamp(op.submitted), awsjson.Timestamp(op.lastUpdated)}
}

func (s *Service) getOperationDetail(body []byte) (any, *apiError) {
	var in struct{ OperationId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.OperationId == "" {
		return nil, errorf("InvalidInput", "OperationId is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range s.ops {
		if op.id == in.OperationId {
			return toJSON(op), nil
		}
	}
	return nil, errorf("InvalidInput", "No operation found with ID %s", in.OperationId)
}

func (s *Service) listOperations(body []byte) (any, *apiError) {
	var in struct {
		SubmittedSince *float64
		Marker         string
		MaxItems       *int
		Status         []string
		Type           []string
		SortBy         string
		SortOrder      string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	limit := 20
	if in.MaxItems != nil {
		if *in.MaxItems < 1 || *in.MaxItems > 100 {
			return nil, errorf("InvalidInput", "MaxItems must be between 1 and 100")
		}
		limit = *in.MaxItems
	}
	if in.SortBy != "" && in.SortBy != "SubmittedDate" {
		return nil, errorf("InvalidInput", "SortBy must be SubmittedDate")
	}
	if in.SortOrder != "" && in.SortOrder != "ASC" && in.SortOrder != "DESC" {
		return nil, errorf("InvalidInput", "SortOrder must be ASC or DESC")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var sel []operationJSON
	for _, op := range s.ops {
		if in.SubmittedSince != nil && awsjson.Timestamp(op.submitted) < *in.SubmittedSince {
			continue
		}
		if len(in.Status) > 0 && !slices.Contains(in.Status, op.status) {
			continue
		}
		if len(in.Type) > 0 && !slices.Contains(in.Type, op.typ) {
			continue
		}
		sel = append(sel, toJSON(op))
	}
	if in.SortOrder == "DESC" {
		slices.Reverse(sel)
	}
	start := 0
	if in.Marker != "" {
		i, err := strconv.Atoi(in.Marker)
		if err != nil || i < 0 || i > len(sel) {
			return nil, errorf("InvalidInput", "Invalid Marker %s", in.Marker)
		}
		start = i
	}
	end := min(len(sel), start+limit)
	out := struct {
		Operations     []operationJSON
		NextPageMarker string `json:",omitempty"`
	}{Operations: append([]operationJSON{}, sel[start:end]...)}
	if end < len(sel) {
		out.NextPageMarker = strconv.Itoa(end)
	}
	return out, nil
}
