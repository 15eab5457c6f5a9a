package dspublish

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/miekg/dns"
)

const (
	// maxOperationPages bounds the ListOperations pages read for the
	// operations not yet complete: an account has a handful at a time.
	maxOperationPages = 10
	operationPageSize = 100
)

// Registrar publishes the DS records of a domain registered with Route 53
// Domains. Add associates the key-signing key (Route 53 Domains takes the
// public key, flags and algorithm and has the registry publish its DS),
// Remove disassociates the key whose DS matches; keys are matched by DS
// data (key tag, algorithm, digest type, digest), since GetDomainDetail may
// list them without their public key. While any DS operation on the domain
// is not complete, nothing is submitted: its outcome changes what there is
// to do, and a withdrawal must not pass an association still in flight.
type Registrar struct {
	api    DomainsAPI
	domain string // without the final dot, as Route 53 Domains names it
}

// Add makes Route 53 Domains publish req.DS, from req.DNSKEY, beside the DS
// records already there.
func (p *Registrar) Add(ctx context.Context, req Request) (Progress, error) {
	zone, ds, err := req.check()
	if err != nil {
		return Progress{}, err
	}
	if err := forZone(KindRoute53Domains, dns.Fqdn(p.domain), zone); err != nil {
		return Progress{}, err
	}
	if req.DNSKEY == nil {
		return Progress{}, &InvalidRequestError{Zone: zone, Field: "dnskey", Reason: "route 53 domains takes the public key: give the DNSKEY the DS is made from"}
	}
	key := ownedKey(zone, req.DNSKEY)
	if key.Flags != 257 {
		return Progress{}, &InvalidRequestError{Zone: zone, Field: "dnskey", Reason: fmt.Sprintf("flags %d: only a key-signing key (flags 257) is published in the parent", key.Flags)}
	}
	if pr, err := p.follow(ctx, req.Operation, types.OperationTypeAddDnssec); err != nil || pr != nil {
		return deref(pr), err
	}
	if pr, err := p.waitPending(ctx, "adding"); err != nil || pr != nil {
		return deref(pr), err
	}
	keys, err := p.keys(ctx)
	if err != nil {
		return Progress{}, err
	}
	if k := matchKey(keys, zone, ds, key); k != nil {
		return Progress{Done: true, Detail: fmt.Sprintf("DS %s for %s is associated with the domain (key %s)", dsShort(ds), p.domain, aws.ToString(k.Id))}, nil
	}
	out, err := p.api.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName: aws.String(p.domain),
		SigningAttributes: &types.DnssecSigningAttributes{
			Algorithm: aws.Int32(int32(key.Algorithm)),
			Flags:     aws.Int32(int32(key.Flags)),
			PublicKey: aws.String(key.PublicKey),
		},
	})
	what := fmt.Sprintf("associating key %d (DS %s) with %s", key.KeyTag(), dsShort(ds), p.domain)
	var id *string
	if out != nil {
		id = out.OperationId
	}
	return p.submitted(id, err, "AssociateDelegationSignerToDomain", what)
}

// Remove makes Route 53 Domains stop publishing req.DS, keeping the other
// DS records.
func (p *Registrar) Remove(ctx context.Context, req Request) (Progress, error) {
	zone, ds, err := req.check()
	if err != nil {
		return Progress{}, err
	}
	if err := forZone(KindRoute53Domains, dns.Fqdn(p.domain), zone); err != nil {
		return Progress{}, err
	}
	var key *dns.DNSKEY
	if req.DNSKEY != nil {
		key = ownedKey(zone, req.DNSKEY)
	}
	if pr, err := p.follow(ctx, req.Operation, types.OperationTypeRemoveDnssec); err != nil || pr != nil {
		return deref(pr), err
	}
	if pr, err := p.waitPending(ctx, "removing"); err != nil || pr != nil {
		return deref(pr), err
	}
	keys, err := p.keys(ctx)
	if err != nil {
		return Progress{}, err
	}
	k := matchKey(keys, zone, ds, key)
	if k == nil {
		return Progress{Done: true, Detail: fmt.Sprintf("DS %s for %s is not associated with the domain", dsShort(ds), p.domain)}, nil
	}
	out, err := p.api.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
		DomainName: aws.String(p.domain),
		Id:         k.Id,
	})
	what := fmt.Sprintf("disassociating key %s (DS %s) from %s", aws.ToString(k.Id), dsShort(ds), p.domain)
	var id *string
	if out != nil {
		id = out.OperationId
	}
	return p.submitted(id, err, "DisassociateDelegationSignerFromDomain", what)
}

// Published returns the DS records of the keys associated with the domain.
func (p *Registrar) Published(ctx context.Context, zone string) ([]*dns.DS, error) {
	z, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	if err := forZone(KindRoute53Domains, dns.Fqdn(p.domain), z); err != nil {
		return nil, err
	}
	keys, err := p.keys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*dns.DS
	for i := range keys {
		if ds := keyDS(z, &keys[i]); ds != nil {
			out = append(out, ds)
		}
	}
	return out, nil
}

// follow reports on the operation prev of type typ submitted by an earlier
// call: a Progress while it runs, an error when it failed, nil when there
// is none or it succeeded (the caller then checks the keys).
func (p *Registrar) follow(ctx context.Context, prev string, typ types.OperationType) (*Progress, error) {
	if prev == "" {
		return nil, nil
	}
	out, err := p.api.GetOperationDetail(ctx, &route53domains.GetOperationDetailInput{OperationId: aws.String(prev)})
	switch {
	case err != nil && apiCode(err) == "InvalidInput":
		return nil, nil // not an operation Route 53 Domains knows (any more): decide afresh
	case err != nil && busy(err):
		return &Progress{Operation: prev, PollAfter: BusyPollInterval, Detail: fmt.Sprintf("route 53 domains is busy (%s): asking about operation %s again", apiCode(err), prev)}, nil
	case err != nil:
		return nil, fmt.Errorf("dspublish: get operation %s for %s: %w", prev, p.domain, err)
	}
	if !strings.EqualFold(strings.TrimSuffix(aws.ToString(out.DomainName), "."), p.domain) || out.Type != typ {
		return nil, nil // not this request's operation
	}
	switch out.Status {
	case types.OperationStatusSubmitted, types.OperationStatusInProgress:
		return &Progress{Operation: prev, PollAfter: OperationPollInterval,
			Detail: fmt.Sprintf("route 53 domains operation %s (%s) for %s is %s", prev, typ, p.domain, out.Status)}, nil
	case types.OperationStatusSuccessful:
		return nil, nil
	default: // ERROR, FAILED
		return nil, &RegistrarOperationFailedError{Domain: p.domain, OperationID: prev, Type: string(typ), Status: string(out.Status), Message: aws.ToString(out.Message)}
	}
}

// waitPending returns a Progress when a DS operation on the domain is not
// yet complete.
func (p *Registrar) waitPending(ctx context.Context, doing string) (*Progress, error) {
	in := &route53domains.ListOperationsInput{
		Status:   []types.OperationStatus{types.OperationStatusSubmitted, types.OperationStatusInProgress},
		Type:     []types.OperationType{types.OperationTypeAddDnssec, types.OperationTypeRemoveDnssec},
		MaxItems: aws.Int32(operationPageSize),
	}
	for range maxOperationPages {
		out, err := p.api.ListOperations(ctx, in)
		if err != nil {
			if busy(err) {
				return &Progress{PollAfter: BusyPollInterval, Detail: fmt.Sprintf("route 53 domains is busy (%s): listing operations again", apiCode(err))}, nil
			}
			return nil, fmt.Errorf("dspublish: list operations for %s: %w", p.domain, err)
		}
		for _, op := range out.Operations {
			if !strings.EqualFold(strings.TrimSuffix(aws.ToString(op.DomainName), "."), p.domain) {
				continue
			}
			if op.Status != types.OperationStatusSubmitted && op.Status != types.OperationStatusInProgress {
				continue // the filter is a request; check it
			}
			if op.Type != types.OperationTypeAddDnssec && op.Type != types.OperationTypeRemoveDnssec {
				continue
			}
			return &Progress{PollAfter: OperationPollInterval,
				Detail: fmt.Sprintf("route 53 domains operation %s (%s) for %s is %s: %s the DS waits until it completes",
					aws.ToString(op.OperationId), op.Type, p.domain, op.Status, doing)}, nil
		}
		if out.NextPageMarker == nil || *out.NextPageMarker == "" {
			return nil, nil
		}
		in.Marker = out.NextPageMarker
	}
	return nil, fmt.Errorf("dspublish: list operations for %s: more than %d pages of operations in progress", p.domain, maxOperationPages)
}

// keys returns the DNSSEC keys associated with the domain.
func (p *Registrar) keys(ctx context.Context) ([]types.DnssecKey, error) {
	out, err := p.api.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String(p.domain)})
	if err != nil {
		switch code := apiCode(err); code {
		case "InvalidInput", "UnsupportedTLD":
			return nil, &RegistrarRefusedError{Domain: p.domain, Operation: "GetDomainDetail", Code: code, Message: err.Error()}
		}
		return nil, fmt.Errorf("dspublish: get domain detail of %s: %w", p.domain, err)
	}
	return out.DnssecKeys, nil
}

// submitted turns the answer to an Associate or Disassociate call into a
// Progress.
func (p *Registrar) submitted(id *string, err error, operation, what string) (Progress, error) {
	if err != nil {
		if busy(err) {
			return Progress{PollAfter: BusyPollInterval, Detail: fmt.Sprintf("route 53 domains is busy (%s) %s: trying again", apiCode(err), what)}, nil
		}
		if code := apiCode(err); code != "" && code != "InternalFailure" && code != "ServiceUnavailable" {
			return Progress{}, &RegistrarRefusedError{Domain: p.domain, Operation: operation, Code: code, Message: err.Error()}
		}
		return Progress{}, fmt.Errorf("dspublish: %s: %w", what, err)
	}
	if aws.ToString(id) == "" {
		return Progress{}, fmt.Errorf("dspublish: %s: no operation ID in the answer", what)
	}
	return Progress{Operation: *id, PollAfter: OperationPollInterval, Detail: fmt.Sprintf("%s: operation %s submitted", what, *id)}, nil
}

// matchKey returns the associated key whose DS is ds (or, when key is
// given, whose DS of another digest type is key's); nil when none is.
// Route 53 Domains may list a key with its DS data only (no flags, no
// public key), or, for older associations, with its public key only.
func matchKey(keys []types.DnssecKey, zone string, ds *dns.DS, key *dns.DNSKEY) *types.DnssecKey {
	for i := range keys {
		k := &keys[i]
		got := keyDS(zone, k)
		if got == nil {
			continue
		}
		if got.DigestType == ds.DigestType {
			if dsDataMatch(k, got, ds) {
				return k
			}
			continue
		}
		if key != nil {
			if alt := key.ToDS(got.DigestType); alt != nil && dsDataMatch(k, got, alt) {
				return k
			}
		}
	}
	return nil
}

// dsDataMatch compares the DS of listed key k with want: digest type and
// digest always, key tag and algorithm when k lists them.
func dsDataMatch(k *types.DnssecKey, got, want *dns.DS) bool {
	if got.DigestType != want.DigestType || canonicalDigest(got.Digest) != canonicalDigest(want.Digest) {
		return false
	}
	if k.KeyTag != nil && got.KeyTag != want.KeyTag {
		return false
	}
	return k.Algorithm == nil || got.Algorithm == want.Algorithm
}

// keyDS is the DS record of an associated key: its DS data when listed
// (key tag and algorithm 0 when absent), else computed with SHA-256 from
// its public key; nil when neither is usable.
func keyDS(zone string, k *types.DnssecKey) *dns.DS {
	if k.Digest != nil && k.DigestType != nil && canonicalDigest(*k.Digest) != "" {
		return &dns.DS{
			Hdr:        dns.RR_Header{Name: zone, Rrtype: dns.TypeDS, Class: dns.ClassINET},
			KeyTag:     uint16(aws.ToInt32(k.KeyTag)),
			Algorithm:  uint8(aws.ToInt32(k.Algorithm)),
			DigestType: uint8(*k.DigestType),
			Digest:     canonicalDigest(*k.Digest),
		}
	}
	if k.PublicKey == nil || k.Flags == nil || k.Algorithm == nil {
		return nil
	}
	if _, err := base64.StdEncoding.DecodeString(*k.PublicKey); err != nil {
		return nil
	}
	dnskey := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
		Flags:     uint16(*k.Flags),
		Protocol:  3,
		Algorithm: uint8(*k.Algorithm),
		PublicKey: *k.PublicKey,
	}
	ds := dnskey.ToDS(dns.SHA256)
	if ds == nil {
		return nil
	}
	ds.Digest = canonicalDigest(ds.Digest)
	return ds
}

func deref(p *Progress) Progress {
	if p == nil {
		return Progress{}
	}
	return *p
}
