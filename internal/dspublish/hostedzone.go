package dspublish

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/miekg/dns"
)

// maxListPages bounds the ListResourceRecordSets pages read for the records
// at one name: a name holds a few RRsets, one page of listPageSize is
// enough, and a listing that does not end is not followed for ever.
const (
	maxListPages = 5
	listPageSize = 20
)

// HostedZone publishes a zone's DS records in its parent's Route 53 hosted
// zone: the DS RRset at the zone's name is read, one record added or
// removed, the others kept, and the set written back with one UPSERT (or
// DELETE when it becomes empty), keeping its TTL. Progress follows the
// change until Route 53 reports it INSYNC.
type HostedZone struct {
	api    Route53API
	zone   string // the child zone, canonical
	zoneID string // the parent hosted zone
	dsTTL  uint32 // TTL of a new DS RRset
}

// delegation is what the parent hosted zone holds at the child's name.
type delegation struct {
	parent string                   // the parent hosted zone's name
	ns     bool                     // an NS RRset is there
	rrset  *types.ResourceRecordSet // the DS RRset as listed; nil when none
	ds     []*dns.DS
	ttl    uint32
}

// Add makes the parent hosted zone publish req.DS beside the DS records
// already there.
func (p *HostedZone) Add(ctx context.Context, req Request) (Progress, error) {
	zone, ds, err := req.check()
	if err != nil {
		return Progress{}, err
	}
	if err := forZone(KindParentHostedZone, p.zone, zone); err != nil {
		return Progress{}, err
	}
	d, err := p.read(ctx)
	if err != nil {
		return Progress{}, err
	}
	if !d.ns {
		return Progress{}, &ParentDelegationMissingError{Zone: p.zone, ParentZone: d.parent, ParentZoneID: p.zoneID}
	}
	if indexDS(d.ds, ds) >= 0 {
		return p.follow(ctx, req.Operation, fmt.Sprintf("DS %s for %s is in hosted zone %s", dsShort(ds), p.zone, p.zoneID))
	}
	ttl := d.ttl
	if d.rrset == nil {
		ttl = p.dsTTL
	}
	set := append(d.ds, ds)
	rrs := &types.ResourceRecordSet{Name: aws.String(p.zone), Type: types.RRTypeDs, TTL: aws.Int64(int64(ttl))}
	for _, x := range set {
		rrs.ResourceRecords = append(rrs.ResourceRecords, types.ResourceRecord{Value: aws.String(dsRData(x))})
	}
	what := fmt.Sprintf("adding DS %s for %s to hosted zone %s (%d DS, TTL %d)", dsShort(ds), p.zone, p.zoneID, len(set), ttl)
	return p.change(ctx, req.Operation, types.ChangeActionUpsert, rrs, what)
}

// Remove makes the parent hosted zone stop publishing req.DS, keeping the
// other DS records; the RRset is deleted when req.DS was the last.
func (p *HostedZone) Remove(ctx context.Context, req Request) (Progress, error) {
	zone, ds, err := req.check()
	if err != nil {
		return Progress{}, err
	}
	if err := forZone(KindParentHostedZone, p.zone, zone); err != nil {
		return Progress{}, err
	}
	d, err := p.read(ctx)
	if err != nil {
		return Progress{}, err
	}
	i := indexDS(d.ds, ds)
	if i < 0 {
		return p.follow(ctx, req.Operation, fmt.Sprintf("DS %s for %s is not in hosted zone %s", dsShort(ds), p.zone, p.zoneID))
	}
	var keep []*dns.DS
	for _, x := range d.ds {
		if !sameDS(x, ds) {
			keep = append(keep, x)
		}
	}
	if len(keep) == 0 {
		// DELETE takes the RRset exactly as Route 53 holds it.
		what := fmt.Sprintf("deleting the DS RRset for %s (DS %s, the last) from hosted zone %s", p.zone, dsShort(ds), p.zoneID)
		return p.change(ctx, req.Operation, types.ChangeActionDelete, d.rrset, what)
	}
	rrs := &types.ResourceRecordSet{Name: aws.String(p.zone), Type: types.RRTypeDs, TTL: aws.Int64(int64(d.ttl))}
	for _, x := range keep {
		rrs.ResourceRecords = append(rrs.ResourceRecords, types.ResourceRecord{Value: aws.String(dsRData(x))})
	}
	what := fmt.Sprintf("removing DS %s for %s from hosted zone %s (%d DS left)", dsShort(ds), p.zone, p.zoneID, len(keep))
	return p.change(ctx, req.Operation, types.ChangeActionUpsert, rrs, what)
}

// Published returns the DS records the parent hosted zone holds for zone.
func (p *HostedZone) Published(ctx context.Context, zone string) ([]*dns.DS, error) {
	z, err := canonicalZone(zone)
	if err != nil {
		return nil, err
	}
	if err := forZone(KindParentHostedZone, p.zone, z); err != nil {
		return nil, err
	}
	d, err := p.read(ctx)
	if err != nil {
		return nil, err
	}
	return d.ds, nil
}

// read checks that the parent hosted zone is a public zone enclosing the
// child and returns what it holds at the child's name.
func (p *HostedZone) read(ctx context.Context) (*delegation, error) {
	hz, err := p.api.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(p.zoneID)})
	if err != nil {
		if apiCode(err) == "NoSuchHostedZone" {
			return nil, &InvalidPublisherSettingError{Kind: KindParentHostedZone, Setting: "parentHostedZoneId", Value: p.zoneID, Reason: "no such hosted zone in the account"}
		}
		return nil, fmt.Errorf("dspublish: get parent hosted zone %s: %w", p.zoneID, err)
	}
	if hz.HostedZone == nil {
		return nil, fmt.Errorf("dspublish: get parent hosted zone %s: no hosted zone in the answer", p.zoneID)
	}
	parent := dns.CanonicalName(aws.ToString(hz.HostedZone.Name))
	if parent == p.zone || !dns.IsSubDomain(parent, p.zone) {
		return nil, &InvalidPublisherSettingError{Kind: KindParentHostedZone, Setting: "parentHostedZoneId", Value: p.zoneID,
			Reason: fmt.Sprintf("hosted zone %s does not enclose %s", parent, p.zone)}
	}
	if hz.HostedZone.Config != nil && hz.HostedZone.Config.PrivateZone {
		return nil, &InvalidPublisherSettingError{Kind: KindParentHostedZone, Setting: "parentHostedZoneId", Value: p.zoneID,
			Reason: fmt.Sprintf("hosted zone %s is private: the DS must be in the public parent", parent)}
	}
	d := &delegation{parent: parent}
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(p.zoneID), StartRecordName: aws.String(p.zone), MaxItems: aws.Int32(listPageSize)}
	for range maxListPages {
		out, err := p.api.ListResourceRecordSets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dspublish: list records at %s in hosted zone %s: %w", p.zone, p.zoneID, err)
		}
		for i := range out.ResourceRecordSets {
			rrs := &out.ResourceRecordSets[i]
			if dns.CanonicalName(aws.ToString(rrs.Name)) != p.zone {
				return d, nil // past the name: the listing is in name order
			}
			if rrs.SetIdentifier != nil || rrs.AliasTarget != nil {
				continue // routing policies and aliases hold no NS or DS
			}
			switch rrs.Type {
			case types.RRTypeNs:
				d.ns = len(rrs.ResourceRecords) > 0
			case types.RRTypeDs:
				if err := d.parseDS(p.zone, rrs); err != nil {
					return nil, fmt.Errorf("dspublish: hosted zone %s: %w", p.zoneID, err)
				}
			}
		}
		if !out.IsTruncated || out.NextRecordName == nil || dns.CanonicalName(aws.ToString(out.NextRecordName)) != p.zone {
			return d, nil
		}
		in.StartRecordName, in.StartRecordType = out.NextRecordName, out.NextRecordType
		in.StartRecordIdentifier = out.NextRecordIdentifier
	}
	return nil, fmt.Errorf("dspublish: list records at %s in hosted zone %s: more than %d pages at one name", p.zone, p.zoneID, maxListPages)
}

func (d *delegation) parseDS(zone string, rrs *types.ResourceRecordSet) error {
	d.rrset, d.ttl = rrs, uint32(aws.ToInt64(rrs.TTL))
	for _, r := range rrs.ResourceRecords {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN DS %s", zone, d.ttl, aws.ToString(r.Value)))
		if err != nil {
			return fmt.Errorf("DS value %q at %s: %w", aws.ToString(r.Value), zone, err)
		}
		ds, ok := rr.(*dns.DS)
		if !ok {
			return fmt.Errorf("DS value %q at %s is not a DS record", aws.ToString(r.Value), zone)
		}
		d.ds = append(d.ds, ownedDS(zone, ds))
	}
	return nil
}

// change submits one change of the DS RRset and reports its progress.
func (p *HostedZone) change(ctx context.Context, prev string, action types.ChangeAction, rrs *types.ResourceRecordSet, what string) (Progress, error) {
	out, err := p.api.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(p.zoneID),
		ChangeBatch: &types.ChangeBatch{
			Comment: aws.String(truncate("dnssec-autopilot: "+what, 256)),
			Changes: []types.Change{{Action: action, ResourceRecordSet: rrs}},
		},
	})
	if err != nil {
		if busy(err) {
			return Progress{Operation: prev, PollAfter: BusyPollInterval, Detail: fmt.Sprintf("route 53 is busy (%s) %s: trying again", apiCode(err), what)}, nil
		}
		return Progress{}, fmt.Errorf("dspublish: %s: %w", what, err)
	}
	if out.ChangeInfo == nil {
		return Progress{}, fmt.Errorf("dspublish: %s: no change info in the answer", what)
	}
	return changeProgress(out.ChangeInfo, what), nil
}

// follow reports the progress of the change prev that made the hosted zone
// hold what it should: done when there is none to follow, or it is INSYNC.
func (p *HostedZone) follow(ctx context.Context, prev, state string) (Progress, error) {
	if prev == "" {
		return Progress{Done: true, Detail: state}, nil
	}
	out, err := p.api.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(prev)})
	switch {
	case err != nil && apiCode(err) == "NoSuchChange":
		return Progress{Done: true, Detail: state + " (change " + prev + " no longer listed)"}, nil
	case err != nil && busy(err):
		return Progress{Operation: prev, PollAfter: BusyPollInterval, Detail: fmt.Sprintf("%s; route 53 is busy (%s): asking about change %s again", state, apiCode(err), prev)}, nil
	case err != nil:
		return Progress{}, fmt.Errorf("dspublish: get change %s: %w", prev, err)
	case out.ChangeInfo == nil:
		return Progress{}, fmt.Errorf("dspublish: get change %s: no change info in the answer", prev)
	}
	return changeProgress(out.ChangeInfo, state), nil
}

func changeProgress(ci *types.ChangeInfo, what string) Progress {
	id := strings.TrimPrefix(aws.ToString(ci.Id), "/change/")
	detail := fmt.Sprintf("%s: change %s %s", what, id, ci.Status)
	if ci.Status == types.ChangeStatusInsync {
		return Progress{Done: true, Operation: id, Detail: detail}
	}
	return Progress{Operation: id, PollAfter: ChangePollInterval, Detail: detail}
}

// apiCode returns the error code of an AWS API error, "" for another error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// busy reports an API error that asking again later cures: throttling,
// and Route 53 and Route 53 Domains saying a prior request is still being
// processed. The SDK's retryer has already retried these within the call.
func busy(err error) bool {
	switch apiCode(err) {
	case "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
		"PriorRequestNotComplete", "ConcurrentModification", // Route 53
		"DuplicateRequest", "OperationLimitExceeded": // Route 53 Domains
		return true
	}
	return false
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
