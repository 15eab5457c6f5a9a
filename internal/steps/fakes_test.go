package steps

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// t0 is the fixed time of the unit tests.
var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

const (
	account = "123456789012"
	zoneID  = "Z0EXAMPLE0000000001"
	zone    = "example.test."
)

var zoneNS = []string{"ns-1.awsdns-01.test.", "ns-2.awsdns-02.test."}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " (injected)"}
}

// fakeRoute53 is one hosted zone in memory.
type fakeRoute53 struct {
	Route53API
	mu      sync.Mutex
	private bool
	records []r53types.ResourceRecordSet
	serve   string
	ksks    []r53types.KeySigningKey
	fail    map[string]error // operation -> error for every call
	changes map[string]int   // successful changes by operation
}

func newFakeRoute53() *fakeRoute53 {
	return &fakeRoute53{serve: ServeNotSigning, fail: map[string]error{}, changes: map[string]int{},
		records: []r53types.ResourceRecordSet{{Name: aws.String(zone), Type: r53types.RRTypeNs, TTL: aws.Int64(172800)}, {Name: aws.String("www." + zone), Type: r53types.RRTypeA, TTL: aws.Int64(300)}}}
}

func (f *fakeRoute53) failing(op string) error {
	return f.fail[op]
}

func (f *fakeRoute53) GetHostedZone(_ context.Context, in *route53.GetHostedZoneInput, _ ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("GetHostedZone"); err != nil {
		return nil, err
	}
	if aws.ToString(in.Id) != zoneID {
		return nil, &r53types.NoSuchHostedZone{Message: aws.String("No hosted zone found with ID: " + aws.ToString(in.Id))}
	}
	return &route53.GetHostedZoneOutput{
		HostedZone:    &r53types.HostedZone{Id: aws.String("/hostedzone/" + zoneID), Name: aws.String(zone), Config: &r53types.HostedZoneConfig{PrivateZone: f.private}},
		DelegationSet: &r53types.DelegationSet{NameServers: []string{"ns-2.awsdns-02.test", "NS-1.awsdns-01.test"}},
	}, nil
}

func (f *fakeRoute53) ListResourceRecordSets(_ context.Context, in *route53.ListResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &route53.ListResourceRecordSetsOutput{}
	for _, rs := range f.records {
		if in.StartRecordName == nil || sameName(aws.ToString(rs.Name), aws.ToString(in.StartRecordName)) && rs.Type == in.StartRecordType {
			out.ResourceRecordSets = append(out.ResourceRecordSets, rs)
		}
	}
	return out, nil
}

func (f *fakeRoute53) ChangeResourceRecordSets(_ context.Context, in *route53.ChangeResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("ChangeResourceRecordSets"); err != nil {
		return nil, err
	}
	for _, ch := range in.ChangeBatch.Changes {
		rs := *ch.ResourceRecordSet
		i := -1
		for j, have := range f.records {
			if sameName(aws.ToString(have.Name), aws.ToString(rs.Name)) && have.Type == rs.Type {
				i = j
			}
		}
		switch ch.Action {
		case r53types.ChangeActionCreate:
			if i >= 0 {
				return nil, &r53types.InvalidChangeBatch{Message: aws.String("Tried to create resource record set but it already exists")}
			}
			f.records = append(f.records, rs)
		case r53types.ChangeActionDelete:
			if i < 0 {
				return nil, &r53types.InvalidChangeBatch{Message: aws.String("Tried to delete resource record set but it was not found")}
			}
			f.records = append(f.records[:i], f.records[i+1:]...)
		}
		f.changes["ChangeResourceRecordSets:"+string(ch.Action)]++
	}
	return &route53.ChangeResourceRecordSetsOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/C1"), Status: r53types.ChangeStatusPending}}, nil
}

func (f *fakeRoute53) GetDNSSEC(_ context.Context, in *route53.GetDNSSECInput, _ ...func(*route53.Options)) (*route53.GetDNSSECOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("GetDNSSEC"); err != nil {
		return nil, err
	}
	return &route53.GetDNSSECOutput{Status: &r53types.DNSSECStatus{ServeSignature: aws.String(f.serve)}, KeySigningKeys: append([]r53types.KeySigningKey{}, f.ksks...)}, nil
}

func (f *fakeRoute53) CreateKeySigningKey(_ context.Context, in *route53.CreateKeySigningKeyInput, _ ...func(*route53.Options)) (*route53.CreateKeySigningKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.ksks {
		if aws.ToString(k.Name) == aws.ToString(in.Name) || aws.ToString(k.KmsArn) == aws.ToString(in.KeyManagementServiceArn) {
			return nil, &r53types.KeySigningKeyAlreadyExists{Message: aws.String("exists")}
		}
	}
	k := newRoute53KSK(aws.ToString(in.Name), aws.ToString(in.KeyManagementServiceArn), aws.ToString(in.Status))
	f.ksks = append(f.ksks, k)
	f.changes["CreateKeySigningKey"]++
	return &route53.CreateKeySigningKeyOutput{KeySigningKey: &k, ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CKSK"), Status: r53types.ChangeStatusPending}}, nil
}

func (f *fakeRoute53) ActivateKeySigningKey(_ context.Context, in *route53.ActivateKeySigningKeyInput, _ ...func(*route53.Options)) (*route53.ActivateKeySigningKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.ksks {
		if aws.ToString(k.Name) == aws.ToString(in.Name) {
			f.ksks[i].Status = aws.String(KSKActive)
			f.changes["ActivateKeySigningKey"]++
			return &route53.ActivateKeySigningKeyOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CACT")}}, nil
		}
	}
	return nil, &r53types.NoSuchKeySigningKey{}
}

func (f *fakeRoute53) EnableHostedZoneDNSSEC(_ context.Context, in *route53.EnableHostedZoneDNSSECInput, _ ...func(*route53.Options)) (*route53.EnableHostedZoneDNSSECOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("EnableHostedZoneDNSSEC"); err != nil {
		return nil, err
	}
	f.serve = ServeSigning
	f.changes["EnableHostedZoneDNSSEC"]++
	return &route53.EnableHostedZoneDNSSECOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CENA")}}, nil
}

func (f *fakeRoute53) GetChange(_ context.Context, in *route53.GetChangeInput, _ ...func(*route53.Options)) (*route53.GetChangeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := r53types.ChangeStatusInsync
	if err := f.failing("GetChange"); err != nil {
		st = r53types.ChangeStatusPending
	}
	return &route53.GetChangeOutput{ChangeInfo: &r53types.ChangeInfo{Id: in.Id, Status: st}}, nil
}

// newRoute53KSK makes a KSK as GetDNSSEC reports it, with a fresh P-256 key.
func newRoute53KSK(name, kmsARN, status string) r53types.KeySigningKey {
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := key.Generate(256); err != nil {
		panic(err)
	}
	ds := key.ToDS(dns.SHA256)
	return r53types.KeySigningKey{
		Name: aws.String(name), KmsArn: aws.String(kmsARN), Status: aws.String(status), Flag: 257,
		SigningAlgorithmType: 13, PublicKey: aws.String(key.PublicKey), KeyTag: int32(key.KeyTag()),
		DSRecord: aws.String(fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest)),
	}
}

// fakeKMS holds keys in memory.
type fakeKMS struct {
	KMSAPI
	mu      sync.Mutex
	keys    map[string]*fakeKey // ARN -> key
	aliases map[string]string   // alias -> ARN
	n       int
	created int
}

type fakeKey struct {
	md     kmstypes.KeyMetadata
	policy string
	tags   []kmstypes.Tag
}

func newFakeKMS() *fakeKMS {
	return &fakeKMS{keys: map[string]*fakeKey{}, aliases: map[string]string{}}
}

// add puts a key in, as a person would have made it.
func (f *fakeKMS) add(spec kmstypes.KeySpec, usage kmstypes.KeyUsageType, state kmstypes.KeyState, policy string, tags ...kmstypes.Tag) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	arn := fmt.Sprintf("arn:aws:kms:us-east-1:%s:key/0000000%d-0000-0000-0000-000000000000", account, f.n)
	f.keys[arn] = &fakeKey{md: kmstypes.KeyMetadata{Arn: aws.String(arn), KeySpec: spec, KeyUsage: usage, KeyState: state}, policy: policy, tags: tags}
	return arn
}

func (f *fakeKMS) lookup(id string) (*fakeKey, error) {
	if arn, ok := f.aliases[id]; ok {
		id = arn
	}
	k, ok := f.keys[id]
	if !ok {
		return nil, &kmstypes.NotFoundException{Message: aws.String("Key '" + id + "' does not exist")}
	}
	return k, nil
}

func (f *fakeKMS) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, err := f.lookup(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	md := k.md
	return &kms.DescribeKeyOutput{KeyMetadata: &md}, nil
}

func (f *fakeKMS) GetKeyPolicy(_ context.Context, in *kms.GetKeyPolicyInput, _ ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, err := f.lookup(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	return &kms.GetKeyPolicyOutput{Policy: aws.String(k.policy)}, nil
}

func (f *fakeKMS) ListResourceTags(_ context.Context, in *kms.ListResourceTagsInput, _ ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, err := f.lookup(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	return &kms.ListResourceTagsOutput{Tags: k.tags}, nil
}

func (f *fakeKMS) CreateKey(_ context.Context, in *kms.CreateKeyInput, _ ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	arn := f.add(in.KeySpec, in.KeyUsage, kmstypes.KeyStateEnabled, aws.ToString(in.Policy), in.Tags...)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created++
	md := f.keys[arn].md
	return &kms.CreateKeyOutput{KeyMetadata: &md}, nil
}

func (f *fakeKMS) CreateAlias(_ context.Context, in *kms.CreateAliasInput, _ ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.aliases[aws.ToString(in.AliasName)]; ok {
		return nil, &kmstypes.AlreadyExistsException{Message: aws.String("exists")}
	}
	f.aliases[aws.ToString(in.AliasName)] = aws.ToString(in.TargetKeyId)
	return &kms.CreateAliasOutput{}, nil
}

// fakeObserver returns a snapshot made by a function of the zone.
type fakeObserver struct {
	snap func(zone string) (*observe.Snapshot, error)
}

func (f fakeObserver) Observe(_ context.Context, zone string) (*observe.Snapshot, error) {
	return f.snap(zone)
}

// delegated is a snapshot in which every parent server (two addresses)
// delegates zone to ns, and the zone servers serve nothing signed.
func delegated(ns ...string) func(string) (*observe.Snapshot, error) {
	return func(z string) (*observe.Snapshot, error) {
		s := &observe.Snapshot{Zone: z, Parent: "test.", Time: t0}
		for i := range 2 {
			var rrs []dns.RR
			for _, n := range ns {
				rrs = append(rrs, &dns.NS{Hdr: dns.RR_Header{Name: z, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 172800}, Ns: n})
			}
			s.ParentServers = append(s.ParentServers, observe.ServerResult{
				Name: fmt.Sprintf("ns%d.test.", i+1), Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:53", i+1)), Delegation: true,
				NS: &observe.RRset{State: observe.OK, Records: rrs, TTL: 172800},
				DS: &observe.RRset{State: observe.Absent, Reason: observe.ReasonNoData, TTL: 3600},
			})
		}
		for i, n := range ns {
			s.ZoneServers = append(s.ZoneServers, observe.ServerResult{
				Name: n, Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.1.%d:53", i+1)), Apex: true,
				DNSKEY: &observe.RRset{State: observe.Absent, Reason: observe.ReasonNoData, TTL: 900},
			})
		}
		return s, nil
	}
}

// fakeResolver answers every name with one status.
type fakeResolver struct {
	status map[string]dnssec.Status // name -> status; Secure when absent
}

func (f fakeResolver) Resolve(_ context.Context, name string, qtype uint16) (*dnssec.Result, error) {
	st, ok := f.status[strings.ToLower(name)]
	if !ok {
		st = dnssec.Secure
	}
	return &dnssec.Result{Name: name, Type: qtype, Status: st, Reason: "fake: " + st.String()}, nil
}

// fixture is a Handler over the fakes.
type fixture struct {
	h   *Handler
	r53 *fakeRoute53
	kms *fakeKMS
	obs *fakeObserver
	res *fakeResolver
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{r53: newFakeRoute53(), kms: newFakeKMS(), obs: &fakeObserver{snap: delegated(zoneNS...)}, res: &fakeResolver{status: map[string]dnssec.Status{}}}
	h, err := New(Config{AccountID: account}, Deps{
		Clients:     Clients{Route53: f.r53, KMS: f.kms},
		Observer:    f.obs,
		NewResolver: func() (Resolver, error) { return f.res, nil },
		Now:         func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// execution is the execution of the unit tests.
var execution = Execution{ARN: "arn:aws:states:us-east-1:123456789012:execution:enable-signing:run1", Name: "run1", StartTime: "2026-11-27T06:30:00.000Z"}

func enableInput() *Input {
	return &Input{HostedZoneID: zoneID, DSPublisher: publisherSettings()}
}
