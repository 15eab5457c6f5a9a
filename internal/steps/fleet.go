package steps

// fleet-rotate (issue 6): one rotate-ksk child execution per zone of a fleet,
// paced so that the whole fleet stays under Route 53's API rate limit.
//
// The state machine (statemachines/fleet-rotate.asl.json) has three steps:
//
//   - plan-fleet checks the input and cuts the fleet into batches: the
//     configured zones, or the range boundaries of the hosted zones carrying
//     a tag (ListHostedZonesByName order), batchSize zones each. Only the
//     boundaries travel in the state, so a fleet of any size fits Step
//     Functions' 256 KiB payload limit.
//   - list-batch (one per batch, a child execution of the DISTRIBUTED Map)
//     lists the batch's zones and gives each its rotate-ksk input and its
//     start time; a zone that cannot be rotated is skipped with its reason.
//   - summarize-fleet compacts the results of a batch, then of the fleet,
//     and notifies.
//
// Pacing: every rotation makes about RotationRoute53Calls Route 53 requests
// over its life, so starts are spaced RotationRoute53Calls /
// route53RequestsPerSecond apart: the fleet's steady demand is then the
// chosen rate, below Route 53's 5 requests per second per account, and a
// burst (the starts of a batch, two rotations' gates falling together) is
// absorbed by the SDK's and the state machine's Throttling retries. Start
// times are absolute (planned once), so a batch that starts late does not
// shift the others.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// WorkflowFleetRotate names fleet-rotate in State.Workflow.
const WorkflowFleetRotate rollover.Workflow = "fleet-rotate"

// Fleet limits and defaults.
const (
	// Route53RateLimit is Route 53's documented limit: five requests per
	// second per AWS account.
	Route53RateLimit = 5.0
	// DefaultFleetRequestsPerSecond is the share of that limit a fleet
	// plans for: room is left for the Throttling retries of bursts and for
	// other Route 53 users of the account.
	DefaultFleetRequestsPerSecond = 3.0
	// RotationRoute53Calls bounds the Route 53 requests of one rotate-ksk
	// execution (its every step, polls included), as measured on the local
	// stack by TestFleetRotateEndToEnd, which fails if a rotation
	// needs more.
	RotationRoute53Calls = 60
	// MaxFleetBatchSize zones per batch (per child execution of the
	// distributed Map): a batch's zones are an inline Map, which Step
	// Functions runs at most 40 iterations of at once; every zone of a
	// batch must be running (waiting for its start time) together.
	MaxFleetBatchSize = 40
	// MaxFleetBatches bounds the distributed Map's items: their summaries
	// come back to the fleet's state, within Step Functions' 256 KiB.
	MaxFleetBatches = 500
	// MaxFleetZones is the largest fleet of one run.
	MaxFleetZones = MaxFleetBatchSize * MaxFleetBatches
	// MaxFleetListed caps the skipped and failed zones a summary lists by
	// name (the counts are always complete; each batch's Map output has
	// every zone).
	MaxFleetListed = 20
	// fleetListBudget is the room the batch summaries' lists of zones may
	// take in the fleet's state (bytes), fleetListEntry a listed zone's
	// size at most (its cause cut to maxFleetCause).
	fleetListBudget = 100 << 10
	fleetListEntry  = 600
	maxFleetCause   = 300
	// MinFleetRequestsPerSecond: slower would space the starts more than
	// a quarter allows for any fleet worth a Map.
	MinFleetRequestsPerSecond = 0.05
	// MaxFleetStartWindow bounds the time from the first start to the
	// last (the state machine's timeout is 90 days; the rotations need
	// days after their start).
	MaxFleetStartWindow = 60 * 24 * time.Hour
	// FleetTagPublisher is the tag of a hosted zone that names its DS
	// publisher: "route53Domains", "parentHostedZone:<parent hosted zone
	// ID>" or "manual:<SNS topic ARN>".
	FleetTagPublisher = "dnssec-autopilot:ds-publisher"
)

// Fleet zone statuses.
const (
	FleetRotated    = "rotated"
	FleetSkipped    = "skipped"
	FleetFailed     = "failed"
	fleetNotRotated = "not-rotated" // the state machine's word: skipped or failed, by error
)

// fleetSkipErrors are rotate-ksk's refusals that leave the zone as it was
// and mean "nothing to rotate here now", not a failure: a zone that is not
// signed, or that another execution is already rotating.
var fleetSkipErrors = []string{"NoKSKToRotateError", "RotationInProgressError", "ConcurrentRunError", "NotSignedError"}

// FleetInput is fleet-rotate's input: the zones, or a tag selecting them.
//
//	{"zones": [{"hostedZoneId": "Z1...", "dsPublisher": {...}}, ...]}
//	{"tag": {"key": "dnssec-autopilot:rotate", "value": "true"},
//	 "defaults": {"dsPublisher": {"kind": "route53Domains"}, "safetyMarginSeconds": 3600}}
type FleetInput struct {
	// Zones are rotate-ksk inputs, one per zone.
	Zones []Input `json:"zones,omitempty"`
	// Tag selects every hosted zone carrying it instead.
	Tag *FleetTag `json:"tag,omitempty"`
	// Defaults are the rotate-ksk settings of tagged zones (hostedZoneId
	// and zoneName come from each zone); a zone's FleetTagPublisher tag
	// overrides dsPublisher.
	Defaults *Input `json:"defaults,omitempty"`
	// MinKeyAgeDays skips zones whose active KSK is younger (a re-run after
	// a partial failure rotates only the rest); 0 rotates every zone.
	MinKeyAgeDays int `json:"minKeyAgeDays,omitempty"`
	// BatchSize is the number of zones per batch (MaxFleetBatchSize when
	// zero).
	BatchSize int `json:"batchSize,omitempty"`
	// Route53RequestsPerSecond is the fleet's planned share of Route 53's
	// limit (DefaultFleetRequestsPerSecond when zero).
	Route53RequestsPerSecond float64 `json:"route53RequestsPerSecond,omitempty"`
	// NotifyTopicARN receives the fleet summary.
	NotifyTopicARN string `json:"notifyTopicArn,omitempty"`
	// DryRun is passed to every rotation (each plans and changes nothing).
	DryRun bool `json:"dryRun,omitempty"`
}

// FleetTag is a hosted zone tag.
type FleetTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// FleetState is fleet-rotate's part of the state.
type FleetState struct {
	// Input is the console input, as given to plan-fleet.
	Input json.RawMessage `json:"input,omitempty"`
	// Plan is what every batch needs to know.
	Plan *FleetPlan `json:"plan,omitempty"`
	// Batches are the Map's items (plan-fleet's output; an empty list,
	// never absent, when nothing is selected).
	Batches []FleetBatch `json:"batches"`
	// Batch is the batch list-batch lists, Items its zones (likewise
	// never absent: the Map reads it).
	Batch *FleetBatch `json:"batch,omitempty"`
	Items []FleetItem `json:"items"`
	// Summary is a batch's or the fleet's summary.
	Summary *FleetSummary `json:"summary,omitempty"`
}

// FleetPlan is the plan of one fleet run.
type FleetPlan struct {
	Selection     string    `json:"selection"`
	Tag           *FleetTag `json:"tag,omitempty"`
	Defaults      *Input    `json:"defaults,omitempty"`
	MinKeyAgeDays int       `json:"minKeyAgeDays,omitempty"`
	// Zones is the number of zones planned.
	Zones int `json:"zones"`
	// StartAt is the start of the first rotation; zone n of the fleet
	// starts SpacingSeconds*n later.
	StartAt        string  `json:"startAt"`
	SpacingSeconds float64 `json:"spacingSeconds"`
	// RequestsPerSecond is the planned Route 53 request rate.
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	TopicARN          string  `json:"topicArn,omitempty"`
	DryRun            bool    `json:"dryRun,omitempty"`
	// Execution is the fleet's execution ARN: the child rotations are
	// named after it, so that a retried start finds the same child.
	Execution string `json:"execution"`
	// ListPerBatch is how many zones not rotated a batch summary lists.
	ListPerBatch int `json:"listPerBatch"`
	// Batches is the number of batches.
	Batches int `json:"batches"`
}

// FleetBatch is one batch: configured zones, or the tagged zones from
// From (inclusive) to To (exclusive; nil: to the end) in
// ListHostedZonesByName order.
type FleetBatch struct {
	Index  int      `json:"index"`
	Offset int      `json:"offset"` // fleet position of its first zone
	Zones  []Input  `json:"zones,omitempty"`
	From   *ZoneKey `json:"from,omitempty"`
	To     *ZoneKey `json:"to,omitempty"`
	// ListAt is when list-batch runs (the batch's first start).
	ListAt string `json:"listAt"`
}

// ZoneKey is a position in ListHostedZonesByName order.
type ZoneKey struct {
	DNSName      string `json:"dnsName"`
	HostedZoneID string `json:"hostedZoneId"`
}

// FleetItem is one zone of a batch: its rotate-ksk input and start time, or
// why it is skipped.
type FleetItem struct {
	HostedZoneID string `json:"hostedZoneId"`
	Zone         string `json:"zone"` // always present: the state machine reads it
	Input        *Input `json:"input,omitempty"`
	StartAt      string `json:"startAt,omitempty"`
	Skip         string `json:"skip,omitempty"`
	// ChildName names the rotate-ksk execution: the same on a retry.
	ChildName string `json:"childName,omitempty"`
}

// FleetZoneResult is one zone's outcome.
type FleetZoneResult struct {
	HostedZoneID string `json:"hostedZoneId"`
	Zone         string `json:"zone,omitempty"`
	Status       string `json:"status"`
	ExecutionARN string `json:"executionArn,omitempty"`
	Reason       string `json:"reason,omitempty"` // skipped
	Error        string `json:"error,omitempty"`  // failed
	Cause        string `json:"cause,omitempty"`
}

// FleetSummary counts a batch's or the fleet's outcomes. Zones lists every
// zone of a batch; a fleet summary lists only skipped and failed zones (at
// most MaxFleetListed, Unlisted counts the rest).
type FleetSummary struct {
	Batches  int               `json:"batches,omitempty"`
	Rotated  int               `json:"rotated"`
	Skipped  int               `json:"skipped"`
	Failed   int               `json:"failed"`
	Zones    []FleetZoneResult `json:"zones,omitempty"`
	Unlisted int               `json:"unlisted,omitempty"`
	// FailedBatches are batches that ended without a summary (their
	// zones are unknown: see their executions).
	FailedBatches []string `json:"failedBatches,omitempty"`
	Headline      string   `json:"headline"`
}

// ParseFleetInput decodes and checks fleet-rotate's input.
func ParseFleetInput(raw json.RawMessage) (*FleetInput, error) {
	var in FleetInput
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, &InvalidInputError{Field: "input", Reason: "is not a fleet-rotate input ({\"zones\": [...]} or {\"tag\": {...}, \"defaults\": {...}}): " + err.Error()}
	}
	switch {
	case len(in.Zones) == 0 && in.Tag == nil:
		return nil, &InvalidInputError{Field: "zones", Reason: `is required: a list of rotate-ksk inputs, or "tag": {"key": ..., "value": ...} to select the tagged hosted zones`}
	case len(in.Zones) > 0 && in.Tag != nil:
		return nil, &InvalidInputError{Field: "tag", Reason: "cannot be combined with zones: give one or the other"}
	case in.Tag != nil && (in.Tag.Key == "" || len(in.Tag.Key) > 128 || len(in.Tag.Value) > 256):
		return nil, &InvalidInputError{Field: "tag.key", Value: in.Tag.Key, Reason: "must be 1 to 128 characters (a value up to 256)"}
	case in.Defaults != nil && in.Tag == nil:
		return nil, &InvalidInputError{Field: "defaults", Reason: "applies to tagged zones only: put the settings in each zone"}
	case in.MinKeyAgeDays < 0 || in.MinKeyAgeDays > 3650:
		return nil, &InvalidInputError{Field: "minKeyAgeDays", Value: fmt.Sprint(in.MinKeyAgeDays), Reason: "must be between 0 and 3650"}
	case len(in.Zones) > MaxFleetZones:
		return nil, &InvalidInputError{Field: "zones", Value: fmt.Sprint(len(in.Zones)), Reason: fmt.Sprintf("at most %d zones per run: split the fleet", MaxFleetZones)}
	case in.BatchSize < 0 || in.BatchSize > MaxFleetBatchSize:
		return nil, &InvalidInputError{Field: "batchSize", Value: fmt.Sprint(in.BatchSize), Reason: fmt.Sprintf("must be between 1 and %d", MaxFleetBatchSize)}
	case in.Route53RequestsPerSecond != 0 && !(in.Route53RequestsPerSecond >= MinFleetRequestsPerSecond && in.Route53RequestsPerSecond <= Route53RateLimit):
		return nil, &InvalidInputError{Field: "route53RequestsPerSecond", Value: fmt.Sprint(in.Route53RequestsPerSecond), Reason: fmt.Sprintf("must be between %g and %g (Route 53's limit per account)", MinFleetRequestsPerSecond, Route53RateLimit)}
	case in.NotifyTopicARN != "" && !topicARNRE.MatchString(in.NotifyTopicARN):
		return nil, &InvalidInputError{Field: "notifyTopicArn", Value: in.NotifyTopicARN, Reason: "is not an SNS topic ARN"}
	}
	seen := map[string]int{}
	for i := range in.Zones {
		z := &in.Zones[i]
		if err := z.Validate(true); err != nil {
			var ie *InvalidInputError
			if errors.As(err, &ie) {
				ie.Field = fmt.Sprintf("zones[%d].%s", i, ie.Field)
				return nil, ie
			}
			return nil, err
		}
		id := NormalizeHostedZoneID(z.HostedZoneID)
		if j, dup := seen[id]; dup {
			return nil, &InvalidInputError{Field: fmt.Sprintf("zones[%d].hostedZoneId", i), Value: id, Reason: fmt.Sprintf("is also zones[%d]: two rotations of one zone would refuse each other", j)}
		}
		seen[id] = i
	}
	if in.Defaults != nil {
		d := *in.Defaults
		d.HostedZoneID = "Z" // checked per zone
		if err := d.Validate(false); err != nil {
			var ie *InvalidInputError
			if errors.As(err, &ie) {
				ie.Field = "defaults." + ie.Field
				return nil, ie
			}
			return nil, err
		}
		if in.Defaults.HostedZoneID != "" || in.Defaults.ZoneName != "" {
			return nil, &InvalidInputError{Field: "defaults.hostedZoneId", Reason: "comes from each tagged zone, not from defaults"}
		}
	}
	return &in, nil
}

// spacing is the time between two rotation starts at rps requests/s.
func spacing(rps float64) time.Duration {
	return time.Duration(float64(RotationRoute53Calls) / rps * float64(time.Second))
}

// PlanFleet is plan-fleet: it checks the input and cuts the fleet into
// batches. Bad input is InvalidInputError before any call.
func (h *Handler) PlanFleet(ctx context.Context, ev Event) (State, error) {
	const step = "plan-fleet"
	if ev.State == nil || ev.State.Fleet == nil {
		return State{}, &InvalidInputError{Field: "state.fleet.input", Reason: "is missing (the state machine passes the input there)"}
	}
	in, err := ParseFleetInput(ev.State.Fleet.Input)
	if err != nil {
		return State{}, err
	}
	now := h.now()
	rps := in.Route53RequestsPerSecond
	if rps == 0 {
		rps = DefaultFleetRequestsPerSecond
	}
	size := in.BatchSize
	if size == 0 {
		size = MaxFleetBatchSize
	}
	topic := in.NotifyTopicARN
	if topic == "" {
		topic = h.cfg.DefaultTopicARN
	}
	plan := &FleetPlan{
		Tag: in.Tag, Defaults: in.Defaults, MinKeyAgeDays: in.MinKeyAgeDays,
		StartAt: stamp(now), RequestsPerSecond: rps, TopicARN: topic, DryRun: in.DryRun,
		Execution: ev.Execution.ARN,
	}
	plan.SpacingSeconds = spacing(rps).Seconds()
	var batches []FleetBatch
	if in.Tag == nil {
		plan.Selection = fmt.Sprintf("%d configured zones", len(in.Zones))
		plan.Zones = len(in.Zones)
		for off := 0; off < len(in.Zones); off += size {
			batches = append(batches, FleetBatch{Index: len(batches), Offset: off, Zones: in.Zones[off:min(off+size, len(in.Zones))]})
		}
	} else {
		plan.Selection = fmt.Sprintf("hosted zones tagged %s=%s", in.Tag.Key, in.Tag.Value)
		keys, err := h.taggedZones(ctx, *in.Tag, nil, nil)
		if err != nil {
			return State{}, named(step, err)
		}
		plan.Zones = len(keys)
		for off := 0; off < len(keys); off += size {
			b := FleetBatch{Index: len(batches), Offset: off, From: &keys[off].key}
			if off+size < len(keys) {
				b.To = &keys[off+size].key
			}
			batches = append(batches, b)
		}
	}
	if len(batches) > MaxFleetBatches {
		return State{}, &InvalidInputError{Field: "tag", Value: fmt.Sprint(plan.Zones), Reason: fmt.Sprintf("selects %d zones, more than the %d of one run: split the fleet with another tag value", plan.Zones, MaxFleetZones)}
	}
	if window := plan.offset(plan.Zones - 1); window > MaxFleetStartWindow {
		return State{}, &InvalidInputError{Field: "route53RequestsPerSecond", Value: fmt.Sprint(rps), Reason: fmt.Sprintf("spaces the %d starts over %s, more than %s: raise it or split the fleet", plan.Zones, window.Round(time.Hour), MaxFleetStartWindow)}
	}
	plan.ListPerBatch = min(MaxFleetListed, fleetListBudget/fleetListEntry/max(len(batches), 1))
	plan.Batches = len(batches)
	if batches == nil {
		batches = []FleetBatch{}
	}
	start := now
	for i := range batches {
		batches[i].ListAt = stamp(start.Add(plan.offset(batches[i].Offset)))
	}
	s := State{
		Workflow: WorkflowFleetRotate, ExecutionARN: ev.Execution.ARN, StartTime: ev.Execution.StartTime,
		TopicARN: topic, DryRun: in.DryRun,
		Fleet: &FleetState{Plan: plan, Batches: batches},
	}
	last := start.Add(plan.offset(plan.Zones - 1))
	s.note(now, "fleet: %s in %d batches; one start every %.0fs (%.1f Route 53 requests/s of %g), the last at %s",
		plan.Selection, len(batches), plan.SpacingSeconds, rps, Route53RateLimit, stamp(last))
	return s, nil
}

// offset is when the fleet's zone n starts, after the first.
func (p *FleetPlan) offset(n int) time.Duration {
	return time.Duration(float64(max(n, 0)) * p.SpacingSeconds * float64(time.Second))
}

// taggedZone is a hosted zone selected by tag.
type taggedZone struct {
	key  ZoneKey
	zone string // canonical
	tags map[string]string
}

// taggedZones lists the public hosted zones carrying tag, in
// ListHostedZonesByName order, from from (inclusive) to to (exclusive).
func (h *Handler) taggedZones(ctx context.Context, tag FleetTag, from, to *ZoneKey) ([]taggedZone, error) {
	var page []taggedZone
	var out []taggedZone
	flush := func() error {
		for len(page) > 0 {
			n := min(len(page), 10) // ListTagsForResources takes 10 IDs
			ids := make([]string, n)
			for i := range n {
				ids[i] = page[i].key.HostedZoneID
			}
			sets, err := h.zoneTags(ctx, ids)
			if err != nil {
				return err
			}
			tags := map[string]map[string]string{}
			for _, set := range sets {
				m := map[string]string{}
				for _, t := range set.Tags {
					m[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				tags[NormalizeHostedZoneID(aws.ToString(set.ResourceId))] = m
			}
			for _, z := range page[:n] {
				if v, ok := tags[z.key.HostedZoneID][tag.Key]; ok && v == tag.Value {
					z.tags = tags[z.key.HostedZoneID]
					out = append(out, z)
				}
			}
			page = page[n:]
		}
		return nil
	}
	in := &route53.ListHostedZonesByNameInput{MaxItems: aws.Int32(100)}
	if from != nil {
		in.DNSName, in.HostedZoneId = aws.String(from.DNSName), aws.String(from.HostedZoneID)
	}
	for {
		res, err := h.clients.Route53.ListHostedZonesByName(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("steps: ListHostedZonesByName: %w", err)
		}
		for _, hz := range res.HostedZones {
			key := ZoneKey{DNSName: aws.ToString(hz.Name), HostedZoneID: NormalizeHostedZoneID(aws.ToString(hz.Id))}
			if to != nil && !key.Before(*to) {
				// The next batch's first zone, or the first after it
				// when that one was deleted meanwhile.
				err := flush()
				return out, err
			}
			if hz.Config != nil && hz.Config.PrivateZone {
				continue
			}
			zone, _ := canonicalZone(key.DNSName)
			page = append(page, taggedZone{key: key, zone: zone})
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if !res.IsTruncated {
			return out, nil
		}
		in.DNSName, in.HostedZoneId = res.NextDNSName, res.NextHostedZoneId
	}
}

// Before reports whether k sorts before o in ListHostedZonesByName order:
// by name with its labels reversed (com.example.www.), then by ID.
func (k ZoneKey) Before(o ZoneKey) bool {
	a, b := zoneOrder(k.DNSName), zoneOrder(o.DNSName)
	if a != b {
		return a < b
	}
	return k.HostedZoneID < o.HostedZoneID
}

// zoneOrder is the key Route 53 sorts hosted zone names by.
func zoneOrder(name string) string {
	labels := dns.SplitDomainName(strings.ToLower(name))
	slices.Reverse(labels)
	return strings.Join(labels, ".") + "."
}

// zoneTags lists the tags of ids (at most 10). A zone deleted since it was
// listed makes ListTagsForResources refuse them all: then each is asked
// alone and the deleted ones are left out.
func (h *Handler) zoneTags(ctx context.Context, ids []string) ([]r53types.ResourceTagSet, error) {
	res, err := h.clients.Route53.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceType: r53types.TagResourceTypeHostedzone, ResourceIds: ids})
	var gone *r53types.NoSuchHostedZone
	switch {
	case err == nil:
		return res.ResourceTagSets, nil
	case errors.As(err, &gone) && len(ids) == 1:
		return nil, nil
	case !errors.As(err, &gone):
		return nil, fmt.Errorf("steps: ListTagsForResources: %w", err)
	}
	var out []r53types.ResourceTagSet
	for _, id := range ids {
		sets, err := h.zoneTags(ctx, []string{id})
		if err != nil {
			return nil, err
		}
		out = append(out, sets...)
	}
	return out, nil
}

// ListBatch is list-batch: the zones of one batch with their rotate-ksk
// inputs and start times.
func (h *Handler) ListBatch(ctx context.Context, ev Event) (State, error) {
	const step = "list-batch"
	if ev.State == nil || ev.State.Fleet == nil || ev.State.Fleet.Plan == nil || ev.State.Fleet.Batch == nil {
		return State{}, &InvalidInputError{Field: "state.fleet", Reason: "needs plan and batch (list-batch runs inside fleet-rotate's Map)"}
	}
	f := ev.State.Fleet
	plan, b := f.Plan, f.Batch
	start, err := time.Parse(time.RFC3339, plan.StartAt)
	if err != nil {
		return State{}, &InvalidInputError{Field: "state.fleet.plan.startAt", Value: plan.StartAt, Reason: "is not an RFC 3339 time"}
	}
	items := []FleetItem{}
	if plan.Tag == nil {
		for _, z := range b.Zones {
			in := z
			in.HostedZoneID = NormalizeHostedZoneID(in.HostedZoneID)
			in.DryRun = in.DryRun || plan.DryRun
			items = append(items, FleetItem{HostedZoneID: in.HostedZoneID, Zone: in.ZoneName, Input: &in})
		}
	} else {
		zones, err := h.taggedZones(ctx, *plan.Tag, b.From, b.To)
		if err != nil {
			return State{}, named(step, err)
		}
		for _, z := range zones {
			items = append(items, taggedItem(z, plan))
		}
	}
	now := h.now()
	for i := range items {
		it := &items[i]
		if it.Skip == "" && plan.MinKeyAgeDays > 0 {
			if it.Skip, err = h.notDue(ctx, it.HostedZoneID, now, plan.MinKeyAgeDays); err != nil {
				return State{}, named(step, err)
			}
		}
		if it.Skip == "" {
			it.StartAt = stamp(start.Add(plan.offset(b.Offset + i)))
			it.ChildName = childName(plan.Execution, it.HostedZoneID)
		} else {
			it.Input = nil
		}
	}
	s := State{Workflow: WorkflowFleetRotate, ExecutionARN: ev.Execution.ARN, StartTime: ev.Execution.StartTime,
		TopicARN: plan.TopicARN, DryRun: plan.DryRun,
		Fleet: &FleetState{Plan: plan, Batch: &FleetBatch{Index: b.Index, Offset: b.Offset, From: b.From, To: b.To, ListAt: b.ListAt}, Items: items}}
	s.note(now, "fleet batch %d: %d zones", b.Index, len(items))
	return s, nil
}

// childName names the rotation of zoneID in the fleet run fleetARN: at most
// 80 characters of [A-Za-z0-9-_], the same for a retried start.
func childName(fleetARN, zoneID string) string {
	sum := sha256.Sum256([]byte(fleetARN))
	return "fleet-" + hex.EncodeToString(sum[:8]) + "-" + zoneID
}

// taggedItem builds the rotate-ksk input of a tagged zone from the plan's
// defaults and the zone's publisher tag.
func taggedItem(z taggedZone, plan *FleetPlan) FleetItem {
	it := FleetItem{HostedZoneID: z.key.HostedZoneID, Zone: z.zone}
	in := Input{}
	if plan.Defaults != nil {
		in = *plan.Defaults
	}
	in.HostedZoneID, in.ZoneName = z.key.HostedZoneID, z.zone
	in.DryRun = in.DryRun || plan.DryRun
	if v, ok := z.tags[FleetTagPublisher]; ok {
		p, err := publisherFromTag(v, z.zone)
		if err != nil {
			it.Skip = fmt.Sprintf("tag %s=%q: %v", FleetTagPublisher, v, err)
			return it
		}
		in.DSPublisher = p
	} else if in.DSPublisher != nil {
		p := *in.DSPublisher
		if p.Kind == dspublish.KindRoute53Domains && p.DomainName == "" {
			p.DomainName = z.zone // the registered domain is the zone itself
		}
		in.DSPublisher = &p
	}
	if in.DSPublisher == nil {
		it.Skip = fmt.Sprintf("no DS publisher: tag the zone %s or give defaults.dsPublisher", FleetTagPublisher)
		return it
	}
	if err := in.ValidatePublisher(z.zone); err != nil {
		it.Skip = err.Error()
		return it
	}
	it.Input = &in
	return it
}

// publisherFromTag reads a FleetTagPublisher value.
func publisherFromTag(v, zone string) (*dspublish.Settings, error) {
	kind, arg, _ := strings.Cut(v, ":")
	switch dspublish.Kind(kind) {
	case dspublish.KindRoute53Domains:
		return &dspublish.Settings{Kind: dspublish.KindRoute53Domains, DomainName: zone}, nil
	case dspublish.KindParentHostedZone:
		return &dspublish.Settings{Kind: dspublish.KindParentHostedZone, ParentHostedZoneID: arg}, nil
	case dspublish.KindManual:
		return &dspublish.Settings{Kind: dspublish.KindManual, TopicARN: arg}, nil
	}
	return nil, errors.New(`want "route53Domains", "parentHostedZone:<hosted zone ID>" or "manual:<SNS topic ARN>"`)
}

// notDue says why a zone whose active KSK is younger than days is skipped
// ("" when it is due).
func (h *Handler) notDue(ctx context.Context, zoneID string, now time.Time, days int) (string, error) {
	out, err := h.clients.Route53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		var nf *r53types.NoSuchHostedZone
		if errors.As(err, &nf) {
			return "the hosted zone does not exist any more", nil
		}
		return "", fmt.Errorf("steps: GetDNSSEC %s: %w", zoneID, err)
	}
	for _, k := range out.KeySigningKeys {
		if aws.ToString(k.Status) != KSKActive || k.CreatedDate == nil {
			continue
		}
		if age := now.Sub(*k.CreatedDate); age < time.Duration(days)*24*time.Hour {
			return fmt.Sprintf("its active KSK %s is %.1f days old, younger than minKeyAgeDays %d", aws.ToString(k.Name), age.Hours()/24, days), nil
		}
	}
	return "", nil
}

// SummarizeFleet is summarize-fleet. With Action "batch" it turns the
// per-zone results of a batch (Event.FleetResults: the Map's outputs) into
// the batch's summary; with "fleet" it adds up the batches' summaries and
// notifies.
func (h *Handler) SummarizeFleet(ctx context.Context, ev Event) (State, error) {
	const step = "summarize-fleet"
	if ev.State == nil || ev.State.Fleet == nil || ev.State.Fleet.Plan == nil && ev.Action != "zone" {
		return State{}, &InvalidInputError{Field: "state.fleet.plan", Reason: "is missing (summarize-fleet runs inside fleet-rotate)"}
	}
	s := *ev.State
	f := *s.Fleet
	s.Fleet = &f
	switch ev.Action {
	case "zone":
		// One zone that was not rotated: its result made small (the
		// child's own error read out of the cause, the cause cut).
		r := FleetZoneResult{Status: FleetFailed, Error: "UnexpectedResult"}
		if len(ev.FleetResults) == 1 {
			r = zoneResult(ev.FleetResults[0])
		}
		f.Summary = &FleetSummary{Zones: []FleetZoneResult{r}}
		f.Items = nil
		return s, nil
	case "batch":
		var unlisted []FleetZoneResult
		f.Summary, unlisted = summarizeBatch(ev.FleetResults, f.Plan.ListPerBatch, f.Plan.DryRun)
		f.Items = nil
		// The fleet's state has room for few names per batch in a big
		// fleet: a failed zone left out is named here, by the batch.
		if len(unlisted) == 0 || f.Plan.TopicARN == "" || h.clients.SNS == nil {
			return s, nil
		}
		subject, body := batchMessage(&s, unlisted)
		if _, err := h.clients.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(f.Plan.TopicARN), Subject: aws.String(subject), Message: aws.String(body)}); err != nil {
			return State{}, named(step, fmt.Errorf("steps: SNS Publish to %s: %w", f.Plan.TopicARN, err))
		}
		return s, nil
	case "fleet":
	default:
		return State{}, &InvalidInputError{Field: "action", Value: ev.Action, Reason: `must be "zone", "batch" or "fleet"`}
	}
	f.Summary = summarizeFleet(ev.FleetResults, f.Plan.Batches, f.Plan.DryRun)
	f.Batches = nil
	s.Workflow, s.TopicARN, s.DryRun = WorkflowFleetRotate, f.Plan.TopicARN, f.Plan.DryRun
	s.note(h.now(), "fleet: %s", f.Summary.Headline)
	if s.TopicARN == "" || h.clients.SNS == nil {
		return s, nil
	}
	subject, body := FleetMessage(&s, h.now())
	if _, err := h.clients.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(s.TopicARN), Subject: aws.String(subject), Message: aws.String(body)}); err != nil {
		return State{}, named(step, fmt.Errorf("steps: SNS Publish to %s: %w", s.TopicARN, err))
	}
	return s, nil
}

// zoneResult reads one zone's result: the Map's outputs are
// {"hostedZoneId", "zone", "status": rotated|skipped|not-rotated,
// "executionArn" | "reason" | "error", "cause"}.
func zoneResult(raw json.RawMessage) FleetZoneResult {
	var r FleetZoneResult
	if err := json.Unmarshal(raw, &r); err != nil || r.HostedZoneID == "" {
		return FleetZoneResult{Status: FleetFailed, Error: "UnexpectedResult", Cause: truncate(string(raw), maxFleetCause)}
	}
	if r.Status == fleetNotRotated {
		r = classifyFailure(r)
	}
	if r.Status != FleetRotated && r.Status != FleetSkipped {
		r.Status = FleetFailed
	}
	return r
}

// summarizeBatch counts a batch's results and lists at most list of the
// zones not rotated, failed ones first; it also returns the failed zones it
// could not list.
func summarizeBatch(results []json.RawMessage, list int, dryRun bool) (*FleetSummary, []FleetZoneResult) {
	sum := &FleetSummary{}
	var nr notRotated
	for _, raw := range results {
		r := zoneResult(raw)
		if r.Status == FleetRotated {
			sum.Rotated++
		}
		nr.add(r)
	}
	sum.Skipped, sum.Failed = len(nr.skipped), len(nr.failed)
	sum.Zones, sum.Unlisted = nr.list(list)
	sum.Headline = sum.headline(dryRun)
	return sum, nr.failed[min(len(sum.Zones), len(nr.failed)):]
}

// notRotated gathers the zones not rotated, failed ones apart from skipped
// ones.
type notRotated struct{ failed, skipped []FleetZoneResult }

func (n *notRotated) add(z FleetZoneResult) {
	switch z.Status {
	case FleetRotated:
	case FleetSkipped:
		n.skipped = append(n.skipped, z)
	default:
		n.failed = append(n.failed, z)
	}
}

// list returns at most limit of the zones, failed ones first (they are what a
// person must act on), and how many it leaves out.
func (n *notRotated) list(limit int) ([]FleetZoneResult, int) {
	all := slices.Concat(n.failed, n.skipped)
	k := min(limit, len(all))
	return all[:k], len(all) - k
}

// classifyFailure reads the child's own error out of the Cause of
// States.TaskFailed (the DescribeExecution document of the failed child)
// and calls refusals that changed nothing "skipped".
func classifyFailure(r FleetZoneResult) FleetZoneResult {
	var child struct {
		ExecutionARN string `json:"ExecutionArn"`
		Error        string `json:"Error"`
		Cause        string `json:"Cause"`
	}
	if r.Error == "States.TaskFailed" && json.Unmarshal([]byte(r.Cause), &child) == nil && child.Error != "" {
		r.Error, r.Cause, r.ExecutionARN = child.Error, child.Cause, child.ExecutionARN
	}
	// A Lambda error's cause is the runtime's JSON; its message reads better.
	var lambdaErr struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(r.Cause), &lambdaErr) == nil && lambdaErr.Message != "" {
		r.Cause = lambdaErr.Message
	}
	r.Cause = truncate(r.Cause, maxFleetCause)
	if slices.Contains(fleetSkipErrors, r.Error) {
		return FleetZoneResult{HostedZoneID: r.HostedZoneID, Zone: r.Zone, Status: FleetSkipped, ExecutionARN: r.ExecutionARN, Reason: r.Error + ": " + r.Cause}
	}
	r.Status = FleetFailed
	return r
}

// summarizeFleet adds up the batch summaries (the distributed Map's
// outputs; anything else is a batch that failed as a whole).
func summarizeFleet(results []json.RawMessage, batches int, dryRun bool) *FleetSummary {
	sum := &FleetSummary{Batches: batches}
	var nr notRotated
	for i, raw := range results {
		var b FleetSummary
		if err := json.Unmarshal(raw, &b); err != nil || b.Headline == "" {
			sum.FailedBatches = append(sum.FailedBatches, fmt.Sprintf("batch %d: %s", i, truncate(string(raw), maxFleetCause)))
			continue
		}
		sum.Rotated += b.Rotated
		sum.Skipped += b.Skipped
		sum.Failed += b.Failed
		sum.Unlisted += b.Unlisted
		for _, z := range b.Zones {
			nr.add(z)
		}
	}
	var unlisted int
	sum.Zones, unlisted = nr.list(MaxFleetListed)
	sum.Unlisted += unlisted
	if len(results) < batches {
		sum.FailedBatches = append(sum.FailedBatches, fmt.Sprintf("%d of %d batches returned no result", batches-len(results), batches))
	}
	sum.Headline = sum.headline(dryRun)
	return sum
}

// headline counts the outcomes in words. The zones of a dry run were
// planned, not rotated: its headline (an SNS subject) must not say rotated.
func (s *FleetSummary) headline(dryRun bool) string {
	verb := "rotated"
	if dryRun {
		verb = "would rotate (dry run)"
	}
	h := fmt.Sprintf("%d %s, %d skipped, %d failed", s.Rotated, verb, s.Skipped, s.Failed)
	if len(s.FailedBatches) > 0 {
		h += fmt.Sprintf(", %d batches failed", len(s.FailedBatches))
	}
	return h
}

// batchMessage names the failed zones of a batch that its summary has no
// room to list.
func batchMessage(s *State, failed []FleetZoneResult) (subject, body string) {
	f := s.Fleet
	index := 0
	if f.Batch != nil {
		index = f.Batch.Index
	}
	subject = fmt.Sprintf("dnssec-autopilot: fleet-rotate batch %d: failed zones: %d", index, len(failed))
	var b strings.Builder
	fmt.Fprintf(&b, "fleet-rotate batch %d of %d: %s\nexecution: %s\nfleet: %s\n\nzones that failed (the fleet's summary counts them but has no room to name them):\n",
		index, f.Plan.Batches, f.Summary.Headline, s.ExecutionARN, f.Plan.Execution)
	writeZones(&b, failed)
	return subject, b.String()
}

// writeZones writes one entry per zone not rotated.
func writeZones(b *strings.Builder, zones []FleetZoneResult) {
	for _, z := range zones {
		name := z.HostedZoneID
		if z.Zone != "" {
			name = z.Zone + " (" + z.HostedZoneID + ")"
		}
		switch z.Status {
		case FleetSkipped:
			fmt.Fprintf(b, "  %s: skipped: %s\n", name, z.Reason)
		default:
			fmt.Fprintf(b, "  %s: FAILED %s: %s\n", name, z.Error, z.Cause)
		}
		if z.ExecutionARN != "" {
			fmt.Fprintf(b, "    execution: %s\n", z.ExecutionARN)
		}
	}
}

// FleetIncomplete says whether the fleet run must end failed: a zone failed
// or a batch ended without a summary.
func (s *FleetSummary) FleetIncomplete() bool { return s.Failed > 0 || len(s.FailedBatches) > 0 }

// FleetMessage is the text of fleet-rotate's notification at now.
func FleetMessage(s *State, now time.Time) (subject, body string) {
	f := s.Fleet
	sum := f.Summary
	outcome := "succeeded"
	if sum.FleetIncomplete() {
		outcome = "needs attention"
	}
	subject = fmt.Sprintf("dnssec-autopilot: fleet-rotate %s: %s", outcome, sum.Headline)
	var b strings.Builder
	fmt.Fprintf(&b, "fleet-rotate %s: %s\nexecution: %s\nzones: %s (%d), one start every %.0fs (%.1f Route 53 requests/s planned)\n",
		outcome, sum.Headline, s.ExecutionARN, f.Plan.Selection, f.Plan.Zones, f.Plan.SpacingSeconds, f.Plan.RequestsPerSecond)
	if f.Plan.DryRun {
		b.WriteString("dry run: every rotation planned and changed nothing\n")
	}
	if len(sum.FailedBatches) > 0 {
		b.WriteString("\nbatches that failed as a whole (their zones are unaccounted for; see the Map Run in the console):\n")
		for _, l := range sum.FailedBatches {
			b.WriteString("  " + l + "\n")
		}
	}
	if len(sum.Zones) > 0 {
		b.WriteString("\nzones not rotated:\n")
		writeZones(&b, sum.Zones)
	}
	if sum.Unlisted > 0 {
		fmt.Fprintf(&b, "  ... and %d more not listed here: each batch's own message names its failed zones, and the Zones Map of each batch's execution, in the fleet's Map Run, has every zone\n", sum.Unlisted)
	}
	if sum.Failed > 0 {
		days := 1
		if start, err := time.Parse(time.RFC3339, f.Plan.StartAt); err == nil && now.After(start) {
			days = int(now.Sub(start).Hours()/24) + 1
		}
		fmt.Fprintf(&b, "\nA failed rotation rolled back or stopped where it was safe (its own message says which);"+
			" the zone still validates. Fix the cause named above, then start fleet-rotate again with"+
			" \"minKeyAgeDays\": %d so that the zones rotated by this run are skipped.\n", days)
	}
	return subject, b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
