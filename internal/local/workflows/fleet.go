package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// FleetRotate is the fleet-rotate state machine.
const FleetRotate = "fleet-rotate"

// FleetTag selects the zones SetupFleet makes.
var FleetTag = steps.FleetTag{Key: "dnssec-autopilot:fleet", Value: "local"}

// FleetPerParent zones share a parent zone: p<NNN>.example.test., signed
// and delegated with its DS in example.test.; one change of the parent
// hosted zone delegates them all (5 records each, far below Route 53's
// 1,000 records per change batch).
const FleetPerParent = 100

// FleetZone is one zone SetupFleet made.
type FleetZone struct {
	Name, ID string
	// ParentID is the parent hosted zone (the zone's DS publisher).
	ParentID string
}

// SetupFleet signs the scenario's zone (example.test., with the
// enable-signing workflow, unless it is signed already) and creates n
// signed zones fleet-NNNNN.pNNN.example.test., FleetPerParent under each
// of the signed parents pNNN.example.test., every one delegated with its DS
// in its parent hosted zone and tagged with FleetTag and a DS publisher tag
// (parentHostedZone): the fleet a fleet-rotate over FleetTag rotates. The
// zones are made directly through the API (no workflow, the Route 53
// throttle off meanwhile) so that thousands take seconds; the clock then
// moves past the propagation of every change.
func SetupFleet(ctx context.Context, w *Workflows, n int) ([]FleetZone, error) {
	st := w.st
	sc := st.Scenario()
	r53 := route53.NewFromConfig(st.AWSConfig())
	k := kms.NewFromConfig(st.AWSConfig())
	if err := w.ensureSigned(ctx, r53, sc); err != nil {
		return nil, err
	}
	st.Route53().SetThrottle(0, 0)
	defer st.Route53().SetThrottle(w.throttle.RatePerSecond, w.throttle.Burst)

	change := func(zoneID string, changes []r53types.Change) error {
		if len(changes) == 0 {
			return nil
		}
		_, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes, Comment: aws.String("local fleet delegations")},
		})
		if err != nil {
			return fmt.Errorf("workflows: fleet: delegations in %s: %w", zoneID, err)
		}
		return nil
	}
	settle := func() error {
		if err := st.Tree().Sync(); err != nil {
			return fmt.Errorf("workflows: fleet: %w", err)
		}
		if v := st.Virtual(); v != nil {
			v.Advance(st.Timing().PropagationDelay + time.Minute)
		}
		return nil
	}
	// Route 53 enables signing only once the parent delegates the zone:
	// first every zone and its NS delegation, then signing and the DS.
	type group struct {
		parent   *fleetZone
		children []*fleetZone
	}
	var groups []group
	zones := make([]FleetZone, 0, n)
	var parentNS []r53types.Change
	for p := 0; p*FleetPerParent < n; p++ {
		pname := fmt.Sprintf("p%03d.%s", p, stack.ScenarioDomain)
		parent, err := newFleetZone(ctx, r53, k, pname, "", nil)
		if err != nil {
			return nil, err
		}
		g := group{parent: parent}
		parentNS = append(parentNS, parent.ns)
		var ns []r53types.Change
		for i := p * FleetPerParent; i < min(n, (p+1)*FleetPerParent); i++ {
			name := fmt.Sprintf("fleet-%05d.%s", i, pname)
			z, err := newFleetZone(ctx, r53, k, name, parent.id, &FleetTag)
			if err != nil {
				return nil, err
			}
			zones = append(zones, FleetZone{Name: name, ID: z.id, ParentID: parent.id})
			g.children = append(g.children, z)
			ns = append(ns, z.ns)
		}
		if err := change(parent.id, ns); err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	if err := change(sc.ZoneID, parentNS); err != nil {
		return nil, err
	}
	if err := settle(); err != nil {
		return nil, err
	}
	var parentDS []r53types.Change
	for _, g := range groups {
		if err := g.parent.sign(ctx, r53); err != nil {
			return nil, err
		}
		parentDS = append(parentDS, g.parent.ds)
		var ds []r53types.Change
		for _, c := range g.children {
			if err := c.sign(ctx, r53); err != nil {
				return nil, err
			}
			ds = append(ds, c.ds)
		}
		if err := change(g.parent.id, ds); err != nil {
			return nil, err
		}
	}
	if err := change(sc.ZoneID, parentDS); err != nil {
		return nil, err
	}
	return zones, settle()
}

// ensureSigned runs enable-signing on the scenario zone unless it signs.
func (w *Workflows) ensureSigned(ctx context.Context, r53 *route53.Client, sc *stack.Scenario) error {
	out, err := r53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(sc.ZoneID)})
	if err != nil {
		return fmt.Errorf("workflows: fleet: %w", err)
	}
	if aws.ToString(out.Status.ServeSignature) == steps.ServeSigning {
		return nil
	}
	ex, err := w.Start(ctx, EnableSigning, "fleet-parent", map[string]any{
		"hostedZoneId": sc.ZoneID, "zoneName": stack.ScenarioDomain,
		"dsPublisher": map[string]any{"kind": "route53Domains", "domainName": strings.TrimSuffix(stack.ScenarioDomain, ".")},
	})
	if err != nil {
		return err
	}
	select {
	case <-ex.Done():
	case <-ctx.Done():
		return fmt.Errorf("workflows: fleet: enable-signing of %s: %w", stack.ScenarioDomain, ctx.Err())
	}
	if res := ex.Wait(); res.Status != asl.StatusSucceeded {
		return fmt.Errorf("workflows: fleet: enable-signing of %s: %s %s: %s", stack.ScenarioDomain, res.Status, res.Error, res.Cause)
	}
	return nil
}

// fleetZone is a zone SetupFleet makes: ns and ds are the changes of its
// parent hosted zone that delegate it.
type fleetZone struct {
	id, name string
	ns, ds   r53types.Change
}

// newFleetZone creates a hosted zone with a KMS key and an ACTIVE KSK,
// tagged with tag (and its DS publisher, parentID) when tag is not nil.
func newFleetZone(ctx context.Context, r53 *route53.Client, k *kms.Client, name, parentID string, tag *steps.FleetTag) (*fleetZone, error) {
	fail := func(what string, err error) (*fleetZone, error) {
		return nil, fmt.Errorf("workflows: fleet: %s %s: %w", what, name, err)
	}
	hz, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String("local-fleet-" + name)})
	if err != nil {
		return fail("create hosted zone", err)
	}
	id := steps.NormalizeHostedZoneID(aws.ToString(hz.HostedZone.Id))
	policy, err := json.Marshal(steps.KeyPolicy(stack.AccountID, id))
	if err != nil {
		return fail("key policy", err)
	}
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify, Policy: aws.String(string(policy)),
		Tags: []kmstypes.Tag{{TagKey: aws.String(steps.TagZone), TagValue: aws.String(name)}},
	})
	if err != nil {
		return fail("create KMS key", err)
	}
	if _, err := r53.CreateKeySigningKey(ctx, &route53.CreateKeySigningKeyInput{
		HostedZoneId: aws.String(id), KeyManagementServiceArn: key.KeyMetadata.Arn, Name: aws.String("fleet_setup"),
		Status: aws.String(steps.KSKActive), CallerReference: aws.String("local-fleet-ksk-" + name),
	}); err != nil {
		return fail("create KSK", err)
	}
	if tag != nil {
		if _, err := r53.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{
			ResourceType: r53types.TagResourceTypeHostedzone, ResourceId: aws.String(id),
			AddTags: []r53types.Tag{
				{Key: aws.String(tag.Key), Value: aws.String(tag.Value)},
				{Key: aws.String(steps.FleetTagPublisher), Value: aws.String("parentHostedZone:" + parentID)},
			},
		}); err != nil {
			return fail("tag", err)
		}
	}
	ns := &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeNs, TTL: aws.Int64(3600)}
	for _, s := range hz.DelegationSet.NameServers {
		ns.ResourceRecords = append(ns.ResourceRecords, r53types.ResourceRecord{Value: aws.String(s)})
	}
	return &fleetZone{id: id, name: name, ns: r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: ns}}, nil
}

// sign enables signing of a delegated zone and sets its DS change.
func (z *fleetZone) sign(ctx context.Context, r53 *route53.Client) error {
	if _, err := r53.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(z.id)}); err != nil {
		return fmt.Errorf("workflows: fleet: enable signing %s: %w", z.name, err)
	}
	d, err := r53.GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(z.id)})
	if err != nil || len(d.KeySigningKeys) != 1 {
		return fmt.Errorf("workflows: fleet: the KSK of %s: %d KSKs: %v", z.name, len(d.KeySigningKeys), err)
	}
	ds := &r53types.ResourceRecordSet{Name: aws.String(z.name), Type: r53types.RRTypeDs, TTL: aws.Int64(3600),
		ResourceRecords: []r53types.ResourceRecord{{Value: d.KeySigningKeys[0].DSRecord}}}
	z.ds = r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: ds}
	return nil
}
