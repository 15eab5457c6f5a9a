package steps

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// Route53API lists the Route 53 calls the steps make; *route53.Client
// satisfies it. It includes dspublish.Route53API.
type Route53API interface {
	GetHostedZone(ctx context.Context, in *route53.GetHostedZoneInput, opts ...func(*route53.Options)) (*route53.GetHostedZoneOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, opts ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, in *route53.GetChangeInput, opts ...func(*route53.Options)) (*route53.GetChangeOutput, error)
	GetDNSSEC(ctx context.Context, in *route53.GetDNSSECInput, opts ...func(*route53.Options)) (*route53.GetDNSSECOutput, error)
	CreateKeySigningKey(ctx context.Context, in *route53.CreateKeySigningKeyInput, opts ...func(*route53.Options)) (*route53.CreateKeySigningKeyOutput, error)
	ActivateKeySigningKey(ctx context.Context, in *route53.ActivateKeySigningKeyInput, opts ...func(*route53.Options)) (*route53.ActivateKeySigningKeyOutput, error)
	DeactivateKeySigningKey(ctx context.Context, in *route53.DeactivateKeySigningKeyInput, opts ...func(*route53.Options)) (*route53.DeactivateKeySigningKeyOutput, error)
	DeleteKeySigningKey(ctx context.Context, in *route53.DeleteKeySigningKeyInput, opts ...func(*route53.Options)) (*route53.DeleteKeySigningKeyOutput, error)
	EnableHostedZoneDNSSEC(ctx context.Context, in *route53.EnableHostedZoneDNSSECInput, opts ...func(*route53.Options)) (*route53.EnableHostedZoneDNSSECOutput, error)
	DisableHostedZoneDNSSEC(ctx context.Context, in *route53.DisableHostedZoneDNSSECInput, opts ...func(*route53.Options)) (*route53.DisableHostedZoneDNSSECOutput, error)
	// fleet-rotate's selection of tagged zones
	ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, opts ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	ListTagsForResources(ctx context.Context, in *route53.ListTagsForResourcesInput, opts ...func(*route53.Options)) (*route53.ListTagsForResourcesOutput, error)
}

// KMSAPI lists the KMS calls the steps make; *kms.Client satisfies it.
type KMSAPI interface {
	CreateKey(ctx context.Context, in *kms.CreateKeyInput, opts ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(ctx context.Context, in *kms.GetKeyPolicyInput, opts ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
	CreateAlias(ctx context.Context, in *kms.CreateAliasInput, opts ...func(*kms.Options)) (*kms.CreateAliasOutput, error)
	ListResourceTags(ctx context.Context, in *kms.ListResourceTagsInput, opts ...func(*kms.Options)) (*kms.ListResourceTagsOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, opts ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
	// alarm-response's repairs
	EnableKey(ctx context.Context, in *kms.EnableKeyInput, opts ...func(*kms.Options)) (*kms.EnableKeyOutput, error)
	CancelKeyDeletion(ctx context.Context, in *kms.CancelKeyDeletionInput, opts ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error)
	PutKeyPolicy(ctx context.Context, in *kms.PutKeyPolicyInput, opts ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error)
}

// SNSAPI lists the SNS call the steps make; *sns.Client satisfies it.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Observer observes every parent and zone server of a zone;
// *observe.Observer satisfies it.
type Observer interface {
	Observe(ctx context.Context, zone string) (*observe.Snapshot, error)
}

// Resolver validates from the root; *dnssec.Resolver satisfies it.
type Resolver interface {
	Resolve(ctx context.Context, name string, qtype uint16) (*dnssec.Result, error)
}

// Clients are the AWS API clients of the steps.
type Clients struct {
	Route53 Route53API
	KMS     KMSAPI
	Domains dspublish.DomainsAPI // only for the route53Domains publisher
	SNS     SNSAPI
	// Resolver is Route 53 Resolver (enable-validation only).
	Resolver ResolverAPI
}

// Config is the deployment's configuration of the steps.
type Config struct {
	// AccountID is the AWS account (the key policy's aws:SourceAccount and
	// root principal).
	AccountID string
	// Region is the region of the KMS keys (us-east-1 for Route 53 DNSSEC).
	Region string
	// DefaultTopicARN receives summaries when the input names no topic.
	DefaultTopicARN string
	// KMSDeletionWindowDays is the default pending-deletion window of a
	// retired KMS key; DefaultKMSDeletionWindowDays when zero.
	KMSDeletionWindowDays int32

	// DNS: where observation and validation start. Empty Roots and Anchors
	// mean the real root (IANA hints) and the IANA trust anchors.
	Roots   []netip.AddrPort
	Port    uint16
	NSAddrs map[string][]netip.AddrPort
	Anchors []dns.RR
	// DNSClient sends the queries; a zero dnsquery.Client when nil.
	DNSClient *dnsquery.Client
	// IPv4Only leaves out IPv6 server addresses (Lambda functions outside a
	// VPC have no IPv6 route).
	IPv4Only bool
	// VPCResolver is the resolver probe-vpc queries: the VPC's Route 53
	// Resolver (DefaultVPCResolver inside a VPC).
	VPCResolver netip.AddrPort
	// AlarmRepairsOff turns off alarm-response repairs by their input names
	// (AlarmRepairs: "enableKey", "restorePolicy"...) unless an execution's
	// input turns them on.
	AlarmRepairsOff []string
}

// Handler holds the dependencies of every step; each step is a method with
// the signature lambda.Start takes: func(context.Context, Event) (State, error).
// It is safe for concurrent use.
type Handler struct {
	cfg         Config
	clients     Clients
	observer    Observer
	newResolver func() (Resolver, error)
	now         func() time.Time
}

// Deps are the injectable parts of a Handler (tests, the local stack).
type Deps struct {
	Clients Clients
	// Observer observes zones; built from Config when nil.
	Observer Observer
	// NewResolver returns a validating resolver with an empty cache (one
	// per validation, so that a verdict is never an old cache entry);
	// built from Config when nil.
	NewResolver func() (Resolver, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// New returns a Handler for cfg with deps.
func New(cfg Config, deps Deps) (*Handler, error) {
	if cfg.AccountID == "" {
		return nil, errors.New("steps: config: no account ID")
	}
	if cfg.Region == "" {
		cfg.Region = DNSSECRegion
	}
	if cfg.KMSDeletionWindowDays == 0 {
		cfg.KMSDeletionWindowDays = DefaultKMSDeletionWindowDays
	}
	if deps.Clients.Route53 == nil || deps.Clients.KMS == nil {
		return nil, errors.New("steps: config: the Route 53 and KMS clients are required")
	}
	h := &Handler{cfg: cfg, clients: deps.Clients, observer: deps.Observer, newResolver: deps.NewResolver, now: deps.Now}
	if h.now == nil {
		h.now = time.Now
	}
	if h.observer == nil {
		o, err := observe.New(observe.Config{Roots: cfg.Roots, Port: cfg.Port, NSAddrs: cfg.NSAddrs, Client: cfg.DNSClient, Now: h.now, IPv4Only: cfg.IPv4Only})
		if err != nil {
			return nil, fmt.Errorf("steps: observer: %w", err)
		}
		h.observer = o
	}
	if h.newResolver == nil {
		rc := dnssec.Config{Roots: cfg.Roots, Port: cfg.Port, NSAddrs: cfg.NSAddrs, Anchors: cfg.Anchors, Now: h.now, Client: cfg.DNSClient}
		if _, err := dnssec.NewResolver(rc); err != nil {
			return nil, fmt.Errorf("steps: resolver: %w", err)
		}
		h.newResolver = func() (Resolver, error) { return dnssec.NewResolver(rc) }
	}
	return h, nil
}

// publisher returns the DS publisher of the state's zone.
func (h *Handler) publisher(s *State) (dspublish.Publisher, error) {
	return dspublish.New(s.Zone, s.Publisher, dspublish.Clients{Route53: h.clients.Route53, Domains: h.clients.Domains, SNS: h.clients.SNS})
}
