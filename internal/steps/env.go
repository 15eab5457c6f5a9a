package steps

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// Environment variables of the step functions (set by the CDK stack; the
// local stack sets AWS_ENDPOINT_URL and the DNS ones).
const (
	EnvAccountID          = "ACCOUNT_ID"               // required: the account's ID
	EnvNotifyTopicARN     = "NOTIFY_TOPIC_ARN"         // the deployment's topic
	EnvKMSDeletionWindow  = "KMS_DELETION_WINDOW_DAYS" // default pending-deletion window (7-30)
	EnvDNSRoots           = "DNS_ROOTS"                // comma-separated addr:port; the IANA root hints when empty
	EnvDNSPort            = "DNS_PORT"                 // port of glue addresses; 53 when empty
	EnvTrustAnchorFile    = "DNS_TRUST_ANCHOR_FILE"    // DS/DNSKEY file; the IANA anchors when empty
	EnvDNSIPv6            = "DNS_IPV6"                 // "true" to query IPv6 server addresses too
	EnvMaxAttempts        = "AWS_SDK_MAX_ATTEMPTS"     // SDK attempts per call; DefaultSDKMaxAttempts when empty
	EnvVPCResolver        = "VPC_RESOLVER"             // probe-vpc: addr[:port] of the VPC resolver; DefaultVPCResolver when empty
	EnvAlarmRepairsOff    = "ALARM_REPAIRS_OFF"        // alarm-response: comma-separated repairs off unless an input turns them on
	DefaultSDKMaxAttempts = 6
)

// ConfigFromEnv reads a Config from the environment.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		AccountID:       os.Getenv(EnvAccountID),
		Region:          DNSSECRegion,
		DefaultTopicARN: os.Getenv(EnvNotifyTopicARN),
		IPv4Only:        os.Getenv(EnvDNSIPv6) != "true",
	}
	if cfg.AccountID == "" {
		return cfg, fmt.Errorf("steps: %s is not set", EnvAccountID)
	}
	if v := os.Getenv(EnvKMSDeletionWindow); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 7 || n > 30 {
			return cfg, fmt.Errorf("steps: %s=%q: want 7 to 30", EnvKMSDeletionWindow, v)
		}
		cfg.KMSDeletionWindowDays = int32(n)
	}
	if v := os.Getenv(EnvDNSRoots); v != "" {
		for _, s := range strings.Split(v, ",") {
			ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
			if err != nil {
				return cfg, fmt.Errorf("steps: %s: %w", EnvDNSRoots, err)
			}
			cfg.Roots = append(cfg.Roots, ap)
		}
	}
	if v := os.Getenv(EnvDNSPort); v != "" {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return cfg, fmt.Errorf("steps: %s=%q: %w", EnvDNSPort, v, err)
		}
		cfg.Port = uint16(p)
	}
	cfg.VPCResolver = DefaultVPCResolver
	if v := os.Getenv(EnvVPCResolver); v != "" {
		ap, err := parseResolverAddr(v)
		if err != nil {
			return cfg, fmt.Errorf("steps: %s: %w", EnvVPCResolver, err)
		}
		cfg.VPCResolver = ap
	}
	if v := os.Getenv(EnvAlarmRepairsOff); v != "" {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(alarmRepairSwitches, name) {
				return cfg, fmt.Errorf("steps: %s: unknown repair %q (want some of %s)", EnvAlarmRepairsOff, name, strings.Join(alarmRepairSwitches, ", "))
			}
			cfg.AlarmRepairsOff = append(cfg.AlarmRepairsOff, name)
		}
	}
	if v := os.Getenv(EnvTrustAnchorFile); v != "" {
		a, err := dnssec.LoadAnchorFile(v)
		if err != nil {
			return cfg, fmt.Errorf("steps: %s: %w", EnvTrustAnchorFile, err)
		}
		cfg.Anchors = a
	}
	return cfg, nil
}

// NewFromEnv builds a Handler for a Lambda function: the configuration from
// the environment and the real SDK clients (AWS_ENDPOINT_URL points them at
// the local stack). The SDK retryer also retries Route 53's
// ConcurrentModification; what it gives up on becomes ServiceBusyError.
func NewFromEnv(ctx context.Context) (*Handler, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	attempts := DefaultSDKMaxAttempts
	if v := os.Getenv(EnvMaxAttempts); v != "" {
		if attempts, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("steps: %s=%q: %w", EnvMaxAttempts, v, err)
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(DNSSECRegion), config.WithRetryer(func() aws.Retryer {
		return NewRetryer(attempts)
	}))
	if err != nil {
		return nil, fmt.Errorf("steps: AWS config: %w", err)
	}
	return New(cfg, Deps{Clients: Clients{
		Route53:  route53.NewFromConfig(awsCfg),
		KMS:      kms.NewFromConfig(awsCfg),
		Domains:  route53domains.NewFromConfig(awsCfg),
		SNS:      sns.NewFromConfig(awsCfg),
		Resolver: route53resolver.NewFromConfig(awsCfg),
	}})
}

// NewRetryer is the SDK retryer of the steps: the standard one (exponential
// back-off with full jitter up to 20 s, Throttling and 5xx retried) with
// attempts attempts, Route 53's ConcurrentModification retried too, and no
// client-side retry quota: a Lambda instance serves one invocation at a
// time, and under a fleet's Throttling the quota would fail calls that a
// back-off lets through.
func NewRetryer(attempts int) aws.RetryerV2 {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.RateLimiter = ratelimit.None
		o.Retryables = append(slices.Clone(o.Retryables), retry.RetryableErrorCode{Codes: map[string]struct{}{"ConcurrentModification": {}}})
	})
}
