package dnstree

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	domtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/domainsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// t0 is the start of every test's virtual clock.
var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// stack is the local stack under test: the emulators behind httptest
// servers with the real SDK clients, and the DNS tree.
type stack struct {
	clk  clock.Clock // *clock.Virtual, or clock.Real with no API delays
	kms  *kmsemu.Service
	r53  *route53emu.Service
	dom  *domainsemu.Service
	tree *Tree

	r53c *route53.Client
	kmsc *kms.Client
	domc *route53domains.Client
}

var refs atomic.Int64

func newStack(t *testing.T, clk clock.Clock) *stack {
	t.Helper()
	s := &stack{clk: clk, kms: kmsemu.New(clk)}
	parent := &Parent{}
	s.r53 = route53emu.New(route53emu.Options{Clock: clk, KMS: s.kms, Parent: parent})
	s.r53.SetThrottle(0, 0)
	var opts []domainsemu.Option
	if _, virtual := clk.(*clock.Virtual); !virtual {
		s.r53.SetPropagationDelay(0)
		opts = append(opts, domainsemu.WithOperationDelays(0, 0))
	}
	s.dom = domainsemu.New(clk, opts...)
	var err error
	s.tree, err = Start(Config{Clock: clk, Route53: s.r53, Registrar: s.dom, Parent: parent})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		s.tree.Close()
		s.r53.Close()
	})
	creds := credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", "")
	cfg := aws.Config{Region: "us-east-1", Credentials: creds, Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	r53srv := httptest.NewServer(s.r53)
	kmssrv := httptest.NewServer(s.kms)
	domsrv := httptest.NewServer(s.dom)
	t.Cleanup(func() {
		r53srv.Close()
		kmssrv.Close()
		domsrv.Close()
	})
	s.r53c = route53.NewFromConfig(cfg, func(o *route53.Options) { o.BaseEndpoint = aws.String(r53srv.URL) })
	s.kmsc = kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(kmssrv.URL) })
	s.domc = route53domains.NewFromConfig(cfg, func(o *route53domains.Options) { o.BaseEndpoint = aws.String(domsrv.URL) })
	return s
}

// keyPolicy is the key policy of the Route 53 Developer Guide for DNSSEC
// signing.
const keyPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Allow Route 53 DNSSEC Service","Effect":"Allow",
  "Principal":{"Service":"dnssec-route53.amazonaws.com"},
  "Action":["kms:DescribeKey","kms:GetPublicKey","kms:Sign"],"Resource":"*",
  "Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:route53:::hostedzone/*"}}},
 {"Sid":"Enable IAM User Permissions","Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`

// advance moves a virtual clock forward by d.
func (s *stack) advance(d time.Duration) {
	if v, ok := s.clk.(*clock.Virtual); ok {
		v.Advance(d)
	}
}

// settle moves the clock past Route 53's propagation delay.
func (s *stack) settle() { s.advance(route53emu.DefaultPropagationDelay + time.Second) }

func (s *stack) createZone(t *testing.T, name string) string {
	t.Helper()
	out, err := s.r53c.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String(fmt.Sprintf("ref-%d", refs.Add(1))),
	})
	if err != nil {
		t.Fatalf("CreateHostedZone(%s): %v", name, err)
	}
	s.settle()
	return strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
}

// rrset is one record set to UPSERT: name, type, TTL, values.
type rrset struct {
	name   string
	typ    r53types.RRType
	ttl    int64
	values []string
}

func (s *stack) upsert(t *testing.T, zoneID string, sets ...rrset) {
	t.Helper()
	var changes []r53types.Change
	for _, rs := range sets {
		r := &r53types.ResourceRecordSet{Name: aws.String(rs.name), Type: rs.typ, TTL: aws.Int64(rs.ttl)}
		for _, v := range rs.values {
			r.ResourceRecords = append(r.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
		}
		changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: r})
	}
	_, err := s.r53c.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes},
	})
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	s.settle()
}

// createKey creates a KMS key meeting Route 53's DNSSEC requirements.
func (s *stack) createKey(t *testing.T) string {
	t.Helper()
	out, err := s.kmsc.CreateKey(context.Background(), &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify, Policy: aws.String(keyPolicy),
	})
	if err != nil {
		t.Fatalf("kms CreateKey: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// addKSK creates an ACTIVE KSK for zoneID backed by a new KMS key and
// returns the key's ARN.
func (s *stack) addKSK(t *testing.T, zoneID, name string) string {
	t.Helper()
	arn := s.createKey(t)
	_, err := s.r53c.CreateKeySigningKey(context.Background(), &route53.CreateKeySigningKeyInput{
		CallerReference: aws.String(fmt.Sprintf("ksk-%d", refs.Add(1))), HostedZoneId: aws.String(zoneID),
		KeyManagementServiceArn: aws.String(arn), Name: aws.String(name), Status: aws.String("ACTIVE"),
	})
	if err != nil {
		t.Fatalf("CreateKeySigningKey: %v", err)
	}
	s.settle()
	return arn
}

func (s *stack) enableSigning(t *testing.T, zoneID string) {
	t.Helper()
	if _, err := s.r53c.EnableHostedZoneDNSSEC(context.Background(), &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(zoneID)}); err != nil {
		t.Fatalf("EnableHostedZoneDNSSEC: %v", err)
	}
	s.settle()
}

// ksks returns the zone's KSKs as GetDNSSEC reports them.
func (s *stack) ksks(t *testing.T, zoneID string) []r53types.KeySigningKey {
	t.Helper()
	out, err := s.r53c.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("GetDNSSEC: %v", err)
	}
	return out.KeySigningKeys
}

// associateDS publishes the DS of the zone's KSK named ksk through Route 53
// Domains and waits until the operation is SUCCESSFUL.
func (s *stack) associateDS(t *testing.T, domain, zoneID, ksk string) {
	t.Helper()
	ctx := context.Background()
	var key *r53types.KeySigningKey
	for _, k := range s.ksks(t, zoneID) {
		if aws.ToString(k.Name) == ksk {
			key = &k
		}
	}
	if key == nil {
		t.Fatalf("no KSK %s in zone %s", ksk, zoneID)
	}
	out, err := s.domc.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName: aws.String(domain),
		SigningAttributes: &domtypes.DnssecSigningAttributes{
			Algorithm: aws.Int32(13), Flags: aws.Int32(257), PublicKey: key.PublicKey,
		},
	})
	if err != nil {
		t.Fatalf("AssociateDelegationSignerToDomain: %v", err)
	}
	s.advance(domainsemu.DefaultSubmittedDelay + domainsemu.DefaultInProgressDelay + time.Second)
	op, err := s.domc.GetOperationDetail(ctx, &route53domains.GetOperationDetailInput{OperationId: out.OperationId})
	if err != nil {
		t.Fatalf("GetOperationDetail: %v", err)
	}
	if op.Status != domtypes.OperationStatusSuccessful {
		t.Fatalf("DS operation %s: %s (%s), want SUCCESSFUL", aws.ToString(out.OperationId), op.Status, aws.ToString(op.Message))
	}
}

// resolver returns a validating resolver from the tree's root, on the
// virtual clock. Every call gets an empty cache.
func (s *stack) resolver(t *testing.T) *dnssec.Resolver {
	t.Helper()
	r, err := dnssec.NewResolver(dnssec.Config{Roots: s.tree.RootServers(), Anchors: s.tree.TrustAnchors(), Now: s.clk.Now})
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	return r
}

// check resolves name/qtype with a fresh resolver and compares the
// status, the rcode and the number of answer records of type qtype.
func (s *stack) check(t *testing.T, name string, qtype uint16, status dnssec.Status, rcode, answers int) *dnssec.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.resolver(t).Resolve(ctx, name, qtype)
	if err != nil {
		t.Fatalf("Resolve(%s %s): %v", name, dns.TypeToString[qtype], err)
	}
	n := 0
	for _, rr := range res.Answer {
		if rr.Header().Rrtype == qtype {
			n++
		}
	}
	if res.Status != status || res.Rcode != rcode || n != answers {
		t.Errorf("Resolve(%s %s) = %v, %s, %d answers (%s); want %v, %s, %d",
			name, dns.TypeToString[qtype], res.Status, dns.RcodeToString[res.Rcode], n, res.Reason,
			status, dns.RcodeToString[rcode], answers)
	}
	return res
}
