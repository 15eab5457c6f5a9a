package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
)

// The ready-made scenario of `dnssecctl local up` and of the tests.
const (
	// ScenarioDomain is registered with Route 53 Domains and delegated
	// from the TLD to its hosted zone.
	ScenarioDomain = "example.test."
	// ScenarioChildZone is a hosted zone delegated from ScenarioDomain's
	// hosted zone (NS records there; its DS goes there too).
	ScenarioChildZone = "app.example.test."
	// ScenarioVPC is the VPC whose resolver the scenario runs.
	ScenarioVPC = "vpc-0a1b2c3d4e5f60718"
	// ScenarioTopic is the name of the SNS topic for notifications.
	ScenarioTopic = "dnssec-autopilot"
	// delegationTTL is the TTL Route 53 gives NS records (two days).
	delegationTTL = 172800
)

// Scenario is what SetupScenario made. The zones start unsigned: the
// workflows sign them.
type Scenario struct {
	ZoneID      string // hosted zone of ScenarioDomain
	ChildZoneID string // hosted zone of ScenarioChildZone
	VPCID       string
	TopicARN    string
}

// scenarioRecords are the records of each hosted zone, one of each kind
// the workflows must keep resolving: address records at the apex and
// below, a wildcard, MX, TXT and a CNAME.
func scenarioRecords(ttl int64) map[string][]r53types.ResourceRecordSet {
	rs := func(name string, typ r53types.RRType, values ...string) r53types.ResourceRecordSet {
		r := r53types.ResourceRecordSet{Name: aws.String(name), Type: typ, TTL: aws.Int64(ttl)}
		for _, v := range values {
			r.ResourceRecords = append(r.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
		}
		return r
	}
	return map[string][]r53types.ResourceRecordSet{
		ScenarioDomain: {
			rs("example.test.", r53types.RRTypeA, "192.0.2.10"),
			rs("www.example.test.", r53types.RRTypeA, "192.0.2.10"),
			rs("www.example.test.", r53types.RRTypeAaaa, "2001:db8::10"),
			rs("mail.example.test.", r53types.RRTypeA, "192.0.2.25"),
			rs("example.test.", r53types.RRTypeMx, "10 mail.example.test."),
			rs("example.test.", r53types.RRTypeTxt, `"v=spf1 mx -all"`),
			rs("*.wild.example.test.", r53types.RRTypeA, "192.0.2.99"),
			rs("alias.example.test.", r53types.RRTypeCname, "www.example.test."),
		},
		ScenarioChildZone: {
			rs("www.app.example.test.", r53types.RRTypeA, "192.0.2.20"),
			rs("app.example.test.", r53types.RRTypeTxt, `"child zone of example.test"`),
		},
	}
}

// SetupScenario creates the scenario through the Route 53 API (the real
// SDK client against the stack's endpoint): the hosted zones of
// ScenarioDomain and ScenarioChildZone with their records and the NS
// delegation of the child in the parent, the registration of
// ScenarioDomain delegated to its hosted zone's name servers, the VPC
// ScenarioVPC with its resolver and the SNS topic. Changes are INSYNC at
// once while it runs; Route 53's throttle and propagation delay are then
// restored.
func (s *Stack) SetupScenario(ctx context.Context) (*Scenario, error) {
	s.mu.Lock()
	if s.scenario != nil {
		sc := *s.scenario
		s.mu.Unlock()
		return &sc, nil
	}
	s.mu.Unlock()
	s.r53.SetThrottle(0, 0)
	s.r53.SetPropagationDelay(0)
	defer func() {
		s.r53.SetThrottle(route53emu.DefaultThrottleRate, route53emu.DefaultThrottleBurst)
		s.r53.SetPropagationDelay(s.timing.PropagationDelay)
	}()
	r53 := route53.NewFromConfig(s.AWSConfig())
	records := scenarioRecords(s.timing.RecordTTL)
	create := func(name string) (string, []string, error) {
		out, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
			Name: aws.String(name), CallerReference: aws.String("local-scenario-" + name),
		})
		if err != nil {
			return "", nil, fmt.Errorf("stack: scenario: create hosted zone %s: %w", name, err)
		}
		return strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/"), out.DelegationSet.NameServers, nil
	}
	upsert := func(zoneID string, sets []r53types.ResourceRecordSet) error {
		var changes []r53types.Change
		for i := range sets {
			changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &sets[i]})
		}
		_, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes, Comment: aws.String("local scenario")},
		})
		if err != nil {
			return fmt.Errorf("stack: scenario: records of %s: %w", zoneID, err)
		}
		return nil
	}
	sc := &Scenario{VPCID: ScenarioVPC}
	var parentNS, childNS []string
	var err error
	if sc.ZoneID, parentNS, err = create(ScenarioDomain); err != nil {
		return nil, err
	}
	if sc.ChildZoneID, childNS, err = create(ScenarioChildZone); err != nil {
		return nil, err
	}
	delegation := r53types.ResourceRecordSet{Name: aws.String(ScenarioChildZone), Type: r53types.RRTypeNs, TTL: aws.Int64(delegationTTL)}
	for _, ns := range childNS {
		delegation.ResourceRecords = append(delegation.ResourceRecords, r53types.ResourceRecord{Value: aws.String(ns)})
	}
	if err := upsert(sc.ZoneID, append(records[ScenarioDomain], delegation)); err != nil {
		return nil, err
	}
	if err := upsert(sc.ChildZoneID, records[ScenarioChildZone]); err != nil {
		return nil, err
	}
	if err := s.RegisterDomain(strings.TrimSuffix(ScenarioDomain, "."), parentNS); err != nil {
		return nil, fmt.Errorf("stack: scenario: %w", err)
	}
	if _, err := s.AddVPC(ScenarioVPC); err != nil {
		return nil, fmt.Errorf("stack: scenario: %w", err)
	}
	if sc.TopicARN, err = s.sns.CreateTopic(ScenarioTopic); err != nil {
		return nil, fmt.Errorf("stack: scenario: topic: %w", err)
	}
	if err := s.tree.Sync(); err != nil {
		return nil, fmt.Errorf("stack: scenario: %w", err)
	}
	s.mu.Lock()
	s.scenario = sc
	s.mu.Unlock()
	c := *sc
	return &c, nil
}

// Scenario returns what SetupScenario made, or nil before it ran.
func (s *Stack) Scenario() *Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scenario == nil {
		return nil
	}
	c := *s.scenario
	return &c
}

// scenarioNames are the names the population queries: data of every
// kind, the wildcard, a CNAME, and names that do not exist (whose denial
// must be secure too in a signed zone).
var scenarioNames = []struct {
	zone  string
	name  string
	qtype uint16
}{
	{ScenarioDomain, "www.example.test.", dns.TypeA},
	{ScenarioDomain, "www.example.test.", dns.TypeAAAA},
	{ScenarioDomain, "example.test.", dns.TypeMX},
	{ScenarioDomain, "example.test.", dns.TypeTXT},
	{ScenarioDomain, "host.wild.example.test.", dns.TypeA},
	{ScenarioDomain, "alias.example.test.", dns.TypeA},
	{ScenarioDomain, "nope.example.test.", dns.TypeA},
	{ScenarioChildZone, "www.app.example.test.", dns.TypeA},
	{ScenarioChildZone, "app.example.test.", dns.TypeTXT},
	{ScenarioChildZone, "nope.app.example.test.", dns.TypeA},
}

// ScenarioTargets returns the scenario's names with the verdict each must
// get as the zones are now: secure when the zone is signed and its parent
// (secure itself) publishes a DS for it, insecure otherwise. Call it when
// the zones are in the state the population must see kept (after the
// workflows signed them, for instance).
func (s *Stack) ScenarioTargets() ([]population.Target, error) {
	sc := s.Scenario()
	if sc == nil {
		return nil, errors.New("stack: no scenario")
	}
	parentSecure := s.signed(sc.ZoneID) && len(s.tree.Registry().DS(ScenarioDomain)) > 0
	childSecure := parentSecure && s.signed(sc.ChildZoneID) && s.hasDS(sc.ZoneID, ScenarioChildZone)
	var out []population.Target
	for _, n := range scenarioNames {
		want := dnssec.Insecure
		if (n.zone == ScenarioDomain && parentSecure) || (n.zone == ScenarioChildZone && childSecure) {
			want = dnssec.Secure
		}
		out = append(out, population.Target{Name: n.name, Type: n.qtype, Want: want})
	}
	return out, nil
}

func (s *Stack) signed(zoneID string) bool {
	snap, err := s.r53.Snapshot(zoneID)
	return err == nil && snap.Signing
}

func (s *Stack) hasDS(parentZoneID, child string) bool {
	for _, rr := range s.r53.Records(parentZoneID) {
		if rr.Header().Rrtype == dns.TypeDS && dns.CanonicalName(rr.Header().Name) == child {
			return true
		}
	}
	return false
}
