package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Route 53 DNSSEC statuses the steps act on.
const (
	ServeSigning         = "SIGNING"
	ServeNotSigning      = "NOT_SIGNING"
	ServeDeleting        = "DELETING"
	ServeActionNeeded    = "ACTION_NEEDED"
	ServeInternalFailure = "INTERNAL_FAILURE"

	KSKActive          = "ACTIVE"
	KSKInactive        = "INACTIVE"
	KSKActionNeeded    = "ACTION_NEEDED"
	KSKInternalFailure = "INTERNAL_FAILURE"
)

// HostedZone is what the steps need of a hosted zone.
type HostedZone struct {
	ID          string
	Name        string // fully qualified, lower case
	Private     bool
	NameServers []string // fully qualified, lower case
}

// GetZone reads a hosted zone; NoSuchHostedZone (and a malformed ID) is a
// *ZoneNotFoundError.
func (h *Handler) GetZone(ctx context.Context, id string) (*HostedZone, error) {
	out, err := h.clients.Route53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(id)})
	switch apiCode(err) {
	case "":
	case "NoSuchHostedZone", "InvalidInput":
		return nil, &ZoneNotFoundError{HostedZoneID: id}
	default:
		return nil, fmt.Errorf("steps: GetHostedZone %s: %w", id, err)
	}
	z := &HostedZone{ID: NormalizeHostedZoneID(aws.ToString(out.HostedZone.Id))}
	z.Name, _ = canonicalZone(aws.ToString(out.HostedZone.Name)) // miekg/dns reads Route 53's \DDD escapes
	if out.HostedZone.Config != nil {
		z.Private = out.HostedZone.Config.PrivateZone
	}
	if out.DelegationSet != nil {
		for _, ns := range out.DelegationSet.NameServers {
			z.NameServers = append(z.NameServers, dns.Fqdn(strings.ToLower(ns)))
		}
	}
	return z, nil
}

// DNSSEC is a zone's signing status and KSKs as GetDNSSEC reports them.
type DNSSEC struct {
	ServeSignature string
	StatusMessage  string
	KSKs           []r53types.KeySigningKey
}

// GetDNSSEC reads a zone's DNSSEC status.
func (h *Handler) GetDNSSEC(ctx context.Context, zoneID string) (*DNSSEC, error) {
	out, err := h.clients.Route53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		if apiCode(err) == "NoSuchHostedZone" {
			return nil, &ZoneNotFoundError{HostedZoneID: zoneID}
		}
		return nil, fmt.Errorf("steps: GetDNSSEC %s: %w", zoneID, err)
	}
	d := &DNSSEC{KSKs: out.KeySigningKeys}
	if out.Status != nil {
		d.ServeSignature = aws.ToString(out.Status.ServeSignature)
		d.StatusMessage = aws.ToString(out.Status.StatusMessage)
	}
	return d, nil
}

// KSK returns the zone's KSK named name.
func (d *DNSSEC) KSK(name string) (r53types.KeySigningKey, bool) {
	for _, k := range d.KSKs {
		if aws.ToString(k.Name) == name {
			return k, true
		}
	}
	return r53types.KeySigningKey{}, false
}

// Names lists the zone's KSKs as "name (STATUS)".
func (d *DNSSEC) Names() []string {
	var out []string
	for _, k := range d.KSKs {
		out = append(out, fmt.Sprintf("%s (%s)", aws.ToString(k.Name), aws.ToString(k.Status)))
	}
	return out
}

// internalFailure returns a *SigningInternalFailureError when Route 53 reports
// INTERNAL_FAILURE for the zone's signing or any KSK: the run stops.
func (d *DNSSEC) internalFailure(zone string) error {
	if d.ServeSignature == ServeInternalFailure {
		return &SigningInternalFailureError{Zone: zone, Subject: "signing", Message: d.StatusMessage}
	}
	for _, k := range d.KSKs {
		if aws.ToString(k.Status) == KSKInternalFailure {
			return &SigningInternalFailureError{Zone: zone, Subject: "KSK " + aws.ToString(k.Name), Message: aws.ToString(k.StatusMessage)}
		}
	}
	return nil
}

// kskRef converts a KSK as Route 53 reports it.
func kskRef(zone string, k r53types.KeySigningKey) (KSKRef, error) {
	ref := KSKRef{Name: aws.ToString(k.Name), KMSKeyARN: aws.ToString(k.KmsArn), Status: aws.ToString(k.Status)}
	key := rollover.Key{Flags: uint16(k.Flag), Algorithm: uint8(k.SigningAlgorithmType), PublicKey: aws.ToString(k.PublicKey)}
	if key.Flags == 0 {
		key.Flags = 257
	}
	if key.PublicKey == "" {
		rr, err := dns.NewRR(zone + " IN DNSKEY " + aws.ToString(k.DNSKEYRecord))
		if err != nil {
			return ref, fmt.Errorf("steps: KSK %s: DNSKEY record %q: %w", ref.Name, aws.ToString(k.DNSKEYRecord), err)
		}
		key = rollover.KeyFromRR(rr.(*dns.DNSKEY))
	}
	ds, err := key.DS(zone, rollover.DSDigest)
	if err != nil {
		return ref, fmt.Errorf("steps: KSK %s: DS: %w", ref.Name, err)
	}
	ref.Key, ref.DS = key, ds
	if k.DSRecord != nil { // cross-check Route 53's own DS
		rr, err := dns.NewRR(zone + " IN DS " + aws.ToString(k.DSRecord))
		if err == nil {
			if got := rollover.DSFromRR(rr.(*dns.DS)); got != ds {
				return ref, fmt.Errorf("steps: KSK %s: Route 53 shows DS %s, the key gives %s", ref.Name, got, ds)
			}
		}
	}
	return ref, nil
}

// maxRecordTTL returns the largest TTL of the zone's record sets (alias
// records have none of their own and are skipped).
func (h *Handler) maxRecordTTL(ctx context.Context, zoneID string) (uint32, error) {
	var maxTTL int64
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)}
	for page := 0; page < maxRecordPages; page++ {
		out, err := h.clients.Route53.ListResourceRecordSets(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("steps: ListResourceRecordSets %s: %w", zoneID, err)
		}
		for _, rs := range out.ResourceRecordSets {
			maxTTL = max(maxTTL, aws.ToInt64(rs.TTL))
		}
		if !out.IsTruncated {
			return uint32(min(maxTTL, 1<<31-1)), nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
	return 0, fmt.Errorf("steps: ListResourceRecordSets %s: more than %d pages", zoneID, maxRecordPages)
}

// maxRecordPages bounds the record listing: 300 records a page, Route 53's
// default quota is 10,000 records a zone.
const maxRecordPages = 100
