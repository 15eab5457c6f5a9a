package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnstree"
)

// Faults of the DNS servers. Parent servers are the TLD's (the registry of
// "test.", in TLDServers order); zone servers are the Route 53 name
// servers of a hosted zone, in delegation set order. A dead server is one
// with authserver.Faults{Drop: true}.

// SetParentLag makes TLD server i apply every DS and delegation change
// only lag after it was made.
func (s *Stack) SetParentLag(i int, lag time.Duration) error {
	if err := s.tree.Registry().SetLag(i, lag); err != nil {
		return fmt.Errorf("stack: parent server %d: %w", i, err)
	}
	return nil
}

// SetParentFaults replaces the faults of TLD server i.
func (s *Stack) SetParentFaults(i int, f authserver.Faults) error {
	servers := s.tree.Hierarchy().Zone(dnstree.TLD).Servers
	if i < 0 || i >= len(servers) {
		return fmt.Errorf("stack: no parent server %d (the TLD has %d)", i, len(servers))
	}
	servers[i].Server.SetFaults(f)
	return nil
}

// SetZoneServerLag makes name server i of hosted zone zoneID serve every
// zone as it was lag ago.
func (s *Stack) SetZoneServerLag(zoneID string, i int, lag time.Duration) error {
	servers := s.tree.Route53().ZoneServers(zoneID)
	if i < 0 || i >= len(servers) {
		return fmt.Errorf("stack: hosted zone %s has no name server %d", zoneID, i)
	}
	servers[i].SetLag(lag)
	return nil
}

// SetZoneServerFaults replaces the faults of name server i of hosted zone
// zoneID (a server shared with other zones fails for them too, as it
// would in Route 53).
func (s *Stack) SetZoneServerFaults(zoneID string, i int, f authserver.Faults) error {
	servers := s.tree.Route53().ZoneServers(zoneID)
	if i < 0 || i >= len(servers) {
		return fmt.Errorf("stack: hosted zone %s has no name server %d", zoneID, i)
	}
	servers[i].SetFaults(f)
	return nil
}

// SetTruncateUDP makes every authoritative server of the stack (root,
// TLD, Route 53, the bogus zone) answer every UDP query truncated, or
// stop doing so, leaving their other faults as they are: every resolver
// must then retry over TCP.
func (s *Stack) SetTruncateUDP(on bool) {
	for _, ns := range s.tree.Hierarchy().Servers() {
		f := ns.Server.Faults()
		f.Truncate = on
		ns.Server.SetFaults(f)
	}
	for _, sv := range s.tree.Route53().Servers() {
		f := sv.Faults()
		f.Truncate = on
		sv.SetFaults(f)
	}
	f := s.bogus.srv.Faults()
	f.Truncate = on
	s.bogus.srv.SetFaults(f)
}

// InjectAPIError makes the next n calls of operation of service (one of
// the awsemu.Service* names) fail with the error code, as the service's
// own InjectError does.
func (s *Stack) InjectAPIError(service, operation, code string, n int) error {
	switch service {
	case awsemu.ServiceRoute53:
		s.r53.InjectError(operation, code, n)
	case awsemu.ServiceKMS:
		s.kms.InjectError(operation, code, n)
	case awsemu.ServiceDomains:
		s.dom.InjectError(operation, code, n)
	case awsemu.ServiceResolver:
		s.res.InjectError(operation, code, n)
	case awsemu.ServiceSNS:
		s.sns.InjectError(operation, code, n)
	default:
		return fmt.Errorf("stack: no service %q", service)
	}
	return nil
}

// SetAPIThrottle sets the account's token bucket of service:
// ratePerSecond requests per second on the stack's clock, up to burst at
// once; a rate <= 0 turns throttling off. Route 53 starts at its real 5
// requests per second, the others unthrottled.
func (s *Stack) SetAPIThrottle(service string, ratePerSecond float64, burst int) error {
	switch service {
	case awsemu.ServiceRoute53:
		s.r53.SetThrottle(ratePerSecond, burst)
	case awsemu.ServiceKMS:
		s.kms.SetThrottle(ratePerSecond, burst)
	case awsemu.ServiceDomains:
		s.dom.SetThrottle(ratePerSecond, burst)
	case awsemu.ServiceResolver:
		s.res.SetThrottle(ratePerSecond, burst)
	case awsemu.ServiceSNS:
		s.sns.SetThrottle(ratePerSecond, burst)
	default:
		return fmt.Errorf("stack: no service %q", service)
	}
	return nil
}

// FailRegistrarOperations makes the next n Route 53 Domains DS operations
// end with status ("ERROR" or "FAILED") and message, leaving the TLD
// unchanged.
func (s *Stack) FailRegistrarOperations(status, message string, n int) {
	s.dom.FailNextOperations(status, message, n)
}

// The KMS faults go through the KMS API, as an operator's mistake would:
// Route 53 hears of them as it does in AWS (the KSK becomes ACTION_NEEDED,
// signatures stop being refreshed and finally expire).

// DisableKMSKey disables the KMS key keyID (an ID or ARN).
func (s *Stack) DisableKMSKey(ctx context.Context, keyID string) error {
	if _, err := s.kmsClient().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		return fmt.Errorf("stack: disable KMS key %s: %w", keyID, err)
	}
	return nil
}

// ScheduleKMSKeyDeletion schedules the deletion of keyID after days (7 to
// 30, as KMS requires).
func (s *Stack) ScheduleKMSKeyDeletion(ctx context.Context, keyID string, days int32) error {
	_, err := s.kmsClient().ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(days)})
	if err != nil {
		return fmt.Errorf("stack: schedule deletion of KMS key %s: %w", keyID, err)
	}
	return nil
}

// SetKMSKeyPolicy replaces the key policy of keyID.
func (s *Stack) SetKMSKeyPolicy(ctx context.Context, keyID, policy string) error {
	_, err := s.kmsClient().PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{
		KeyId: aws.String(keyID), Policy: aws.String(policy), PolicyName: aws.String("default"),
	})
	if err != nil {
		return fmt.Errorf("stack: put policy of KMS key %s: %w", keyID, err)
	}
	return nil
}

// RemoveRoute53FromKeyPolicy rewrites the policy of keyID without the
// statements that name the Route 53 DNSSEC service principal
// (dnssec-route53.amazonaws.com): the mistake that makes a KSK
// ACTION_NEEDED although its key is enabled.
func (s *Stack) RemoveRoute53FromKeyPolicy(ctx context.Context, keyID string) error {
	out, err := s.kmsClient().GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(keyID), PolicyName: aws.String("default")})
	if err != nil {
		return fmt.Errorf("stack: get policy of KMS key %s: %w", keyID, err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
		return fmt.Errorf("stack: policy of KMS key %s: %w", keyID, err)
	}
	var kept []any
	stmts, _ := doc["Statement"].([]any)
	if st, ok := doc["Statement"].(map[string]any); ok {
		stmts = []any{st}
	}
	for _, st := range stmts {
		b, _ := json.Marshal(st)
		var p struct {
			Principal struct {
				Service any `json:"Service"`
			} `json:"Principal"`
		}
		json.Unmarshal(b, &p)
		if names(p.Principal.Service, "dnssec-route53.amazonaws.com") {
			continue
		}
		kept = append(kept, st)
	}
	doc["Statement"] = kept
	policy, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("stack: policy of KMS key %s: %w", keyID, err)
	}
	return s.SetKMSKeyPolicy(ctx, keyID, string(policy))
}

// names reports whether a policy principal value (a string or a list)
// names principal.
func names(v any, principal string) bool {
	switch p := v.(type) {
	case string:
		return p == principal
	case []any:
		for _, x := range p {
			if x == principal {
				return true
			}
		}
	}
	return false
}

func (s *Stack) kmsClient() *kms.Client { return kms.NewFromConfig(s.AWSConfig()) }
