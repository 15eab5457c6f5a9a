package dspublish

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Kind names a publisher.
type Kind string

// The three publishers.
const (
	// KindParentHostedZone: the parent zone is a Route 53 hosted zone in
	// the account (a child zone such as sub.example.com).
	KindParentHostedZone Kind = "parentHostedZone"
	// KindRoute53Domains: the zone is a domain registered with Route 53
	// Domains in the account.
	KindRoute53Domains Kind = "route53Domains"
	// KindManual: the parent is run by someone else (another registrar);
	// a person is notified over SNS.
	KindManual Kind = "manual"
)

// Settings choose and configure the publisher of one zone; JSON names are
// those of the zone list and the workflow inputs.
type Settings struct {
	Kind Kind `json:"kind"`
	// ParentHostedZoneID is the parent's hosted zone (KindParentHostedZone),
	// with or without the "/hostedzone/" prefix.
	ParentHostedZoneID string `json:"parentHostedZoneId,omitempty"`
	// DSTTL is the TTL of a new DS RRset in the parent hosted zone;
	// DefaultDSTTL when zero.
	DSTTL uint32 `json:"dsTtl,omitempty"`
	// DomainName is the registered domain (KindRoute53Domains); it must be
	// the zone itself.
	DomainName string `json:"domainName,omitempty"`
	// TopicARN is the SNS topic a person watches (KindManual).
	TopicARN string `json:"topicArn,omitempty"`
	// WaitForCallback (KindManual) makes the workflow wait for the person
	// to answer the task token the message carries (send-task-success once
	// the DS is changed) instead of polling the parent meanwhile; every
	// parent server is still observed before the workflow goes on.
	WaitForCallback bool `json:"waitForCallback,omitempty"`
}

var (
	hostedZoneIDPattern = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
	topicARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
)

// maxDSTTL is Route 53's largest TTL (2^31 - 1, RFC 2181 section 8).
const maxDSTTL = 1<<31 - 1

// Validate checks s for zone: the kind is known, its settings are present
// and well formed, settings of other kinds are absent, and a registered
// domain is the zone itself.
func (s Settings) Validate(zone string) error {
	z, err := canonicalZone(zone)
	if err != nil {
		return err
	}
	other := func(setting, value string) error {
		if value == "" {
			return nil
		}
		return &InvalidPublisherSettingError{Kind: s.Kind, Setting: setting, Value: value, Reason: "not a setting of this publisher kind"}
	}
	if s.WaitForCallback && s.Kind != KindManual && s.Kind != "" {
		return &InvalidPublisherSettingError{Kind: s.Kind, Setting: "waitForCallback", Value: "true", Reason: "not a setting of this publisher kind (only a person answers a task token)"}
	}
	switch s.Kind {
	case "":
		return &MissingPublisherSettingError{Setting: "kind"}
	case KindParentHostedZone:
		if s.ParentHostedZoneID == "" {
			return &MissingPublisherSettingError{Kind: s.Kind, Setting: "parentHostedZoneId"}
		}
		if !hostedZoneIDPattern.MatchString(trimZoneID(s.ParentHostedZoneID)) {
			return &InvalidPublisherSettingError{Kind: s.Kind, Setting: "parentHostedZoneId", Value: s.ParentHostedZoneID, Reason: "not a hosted zone ID"}
		}
		if s.DSTTL > maxDSTTL {
			return &InvalidPublisherSettingError{Kind: s.Kind, Setting: "dsTtl", Value: fmt.Sprint(s.DSTTL), Reason: "larger than 2147483647"}
		}
		if err := other("domainName", s.DomainName); err != nil {
			return err
		}
		return other("topicArn", s.TopicARN)
	case KindRoute53Domains:
		if s.DomainName == "" {
			return &MissingPublisherSettingError{Kind: s.Kind, Setting: "domainName"}
		}
		d, err := canonicalZone(s.DomainName)
		if err != nil {
			return &InvalidPublisherSettingError{Kind: s.Kind, Setting: "domainName", Value: s.DomainName, Reason: "not a domain name"}
		}
		if d != z {
			return &InvalidPublisherSettingError{Kind: s.Kind, Setting: "domainName", Value: s.DomainName,
				Reason: fmt.Sprintf("zone %s is not the registered domain: a zone below a registered domain needs the parentHostedZone or manual publisher", z)}
		}
		if err := other("parentHostedZoneId", s.ParentHostedZoneID); err != nil {
			return err
		}
		if s.DSTTL != 0 {
			return other("dsTtl", fmt.Sprint(s.DSTTL))
		}
		return other("topicArn", s.TopicARN)
	case KindManual:
		if s.TopicARN == "" {
			return &MissingPublisherSettingError{Kind: s.Kind, Setting: "topicArn"}
		}
		if !topicARNPattern.MatchString(s.TopicARN) {
			return &InvalidPublisherSettingError{Kind: s.Kind, Setting: "topicArn", Value: s.TopicARN, Reason: "not an SNS topic ARN"}
		}
		if err := other("parentHostedZoneId", s.ParentHostedZoneID); err != nil {
			return err
		}
		if s.DSTTL != 0 {
			return other("dsTtl", fmt.Sprint(s.DSTTL))
		}
		return other("domainName", s.DomainName)
	default:
		return &UnknownPublisherKindError{Kind: s.Kind}
	}
}

// trimZoneID drops the "/hostedzone/" prefix Route 53 puts on IDs.
func trimZoneID(id string) string {
	return strings.TrimPrefix(strings.TrimSpace(id), "/hostedzone/")
}

// Route53API lists the Route 53 calls of the parent hosted zone publisher;
// *route53.Client satisfies it.
type Route53API interface {
	GetHostedZone(ctx context.Context, in *route53.GetHostedZoneInput, opts ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, opts ...func(*route53.Options)) (*route53.GetChangeOutput, error)
}

// DomainsAPI lists the Route 53 Domains calls of the registrar publisher;
// *route53domains.Client (configured for us-east-1, the only region Route
// 53 Domains is served from) satisfies it.
type DomainsAPI interface {
	GetDomainDetail(ctx context.Context, in *route53domains.GetDomainDetailInput, opts ...func(*route53domains.Options)) (*route53domains.GetDomainDetailOutput, error)
	AssociateDelegationSignerToDomain(ctx context.Context, in *route53domains.AssociateDelegationSignerToDomainInput, opts ...func(*route53domains.Options)) (*route53domains.AssociateDelegationSignerToDomainOutput, error)
	DisassociateDelegationSignerFromDomain(ctx context.Context, in *route53domains.DisassociateDelegationSignerFromDomainInput, opts ...func(*route53domains.Options)) (*route53domains.DisassociateDelegationSignerFromDomainOutput, error)
	GetOperationDetail(ctx context.Context, in *route53domains.GetOperationDetailInput, opts ...func(*route53domains.Options)) (*route53domains.GetOperationDetailOutput, error)
	ListOperations(ctx context.Context, in *route53domains.ListOperationsInput, opts ...func(*route53domains.Options)) (*route53domains.ListOperationsOutput, error)
}

// SNSAPI lists the SNS call of the manual publisher; *sns.Client satisfies
// it.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Clients are the API clients publishers use; only the one the kind needs
// must be set.
type Clients struct {
	Route53 Route53API
	Domains DomainsAPI
	SNS     SNSAPI
}

// New returns the publisher s chooses for zone, after Validate.
func New(zone string, s Settings, c Clients) (Publisher, error) {
	if err := s.Validate(zone); err != nil {
		return nil, err
	}
	z, _ := canonicalZone(zone)
	switch s.Kind {
	case KindParentHostedZone:
		if c.Route53 == nil {
			return nil, fmt.Errorf("dspublish: publisher %s for %s: no route 53 client", s.Kind, z)
		}
		ttl := s.DSTTL
		if ttl == 0 {
			ttl = DefaultDSTTL
		}
		return &HostedZone{api: c.Route53, zone: z, zoneID: trimZoneID(s.ParentHostedZoneID), dsTTL: ttl}, nil
	case KindRoute53Domains:
		if c.Domains == nil {
			return nil, fmt.Errorf("dspublish: publisher %s for %s: no route 53 domains client", s.Kind, z)
		}
		return &Registrar{api: c.Domains, domain: strings.TrimSuffix(z, ".")}, nil
	default: // KindManual, as Validate allows no other
		if c.SNS == nil {
			return nil, fmt.Errorf("dspublish: publisher %s for %s: no sns client", s.Kind, z)
		}
		return &Manual{api: c.SNS, zone: z, topicARN: s.TopicARN}, nil
	}
}

// forZone refuses a request for another zone than the publisher's.
func forZone(kind Kind, want, got string) error {
	if got != want {
		return &InvalidRequestError{Zone: got, Field: "zone", Reason: fmt.Sprintf("this %s publisher serves %s", kind, want)}
	}
	return nil
}
