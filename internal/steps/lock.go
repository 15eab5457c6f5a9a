package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// The per-zone lock.
//
// A zone has at most one workflow at a time (DESIGN.md section 4). The lock is
// a TXT record "_dnssec-autopilot.<zone>" in the zone itself, taken with a
// Route 53 CREATE: Route 53 applies a change batch atomically and refuses to
// CREATE a record set that exists (InvalidChangeBatch), so the CREATE is a
// compare-and-set with no other service to deploy, and it lives and dies with
// the hosted zone. Re-entrant: the record names its holder, and the same
// execution (a retried step, a re-run after a crash) finds itself holding it.
// Released with a DELETE at the end of every path, the failure paths (Catch)
// included; a release never deletes another execution's record.
//
// Trade-offs: the record is public DNS data, so it holds no account ID or ARN,
// only a digest of the execution ARN, the execution's name and the time it was
// taken (enough for a person to find the execution in the console). An
// execution stopped from outside (StopExecution, the top-level timeout) runs no
// Catch and leaves the record; the next run then refuses with
// ConcurrentRunError naming the record, and a person deletes it after checking
// that nothing runs. A DynamoDB conditional put would hide the record, at the
// cost of a table and its permissions in every deployment.

// lockOwner is the digest of an execution ARN the lock record holds.
func lockOwner(executionARN string) string {
	sum := sha256.Sum256([]byte(executionARN))
	return hex.EncodeToString(sum[:12])
}

// lockValue is the TXT record's value.
func lockValue(executionARN, executionName string, now time.Time) string {
	name := executionName
	if len(name) > 80 {
		name = name[:80]
	}
	return fmt.Sprintf(`"owner=%s" "execution=%s" "since=%s"`, lockOwner(executionARN), strings.ReplaceAll(name, `"`, ""), stamp(now))
}

// readLock returns the lock record of zone, or nil.
func (h *Handler) readLock(ctx context.Context, zoneID, zone string) (*r53types.ResourceRecordSet, error) {
	name := LockName(zone)
	out, err := h.clients.Route53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(name), StartRecordType: r53types.RRTypeTxt, MaxItems: aws.Int32(1),
	})
	if err != nil {
		return nil, fmt.Errorf("steps: lock: reading %s: %w", name, err)
	}
	for _, rs := range out.ResourceRecordSets {
		if sameName(aws.ToString(rs.Name), name) && rs.Type == r53types.RRTypeTxt {
			return &rs, nil
		}
	}
	return nil, nil
}

// lockHolder returns the value of a lock record.
func lockHolder(rs *r53types.ResourceRecordSet) string {
	var v []string
	for _, r := range rs.ResourceRecords {
		v = append(v, aws.ToString(r.Value))
	}
	return strings.Join(v, " ")
}

// AcquireLock takes zone's lock for the execution, or finds it holds it
// already; another holder is a *ConcurrentRunError.
func (h *Handler) AcquireLock(ctx context.Context, zoneID, zone string, ex Execution) error {
	name := LockName(zone)
	_, err := h.clients.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch: &r53types.ChangeBatch{
			Comment: aws.String("dnssec-autopilot: lock taken by " + ex.Name),
			Changes: []r53types.Change{{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(name), Type: r53types.RRTypeTxt, TTL: aws.Int64(LockTTL),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(lockValue(ex.ARN, ex.Name, h.now()))}},
			}}},
		},
	})
	if err == nil {
		return nil
	}
	if apiCode(err) != "InvalidChangeBatch" {
		return fmt.Errorf("steps: lock: creating %s: %w", name, err)
	}
	rs, rerr := h.readLock(ctx, zoneID, zone)
	if rerr != nil {
		return rerr
	}
	if rs == nil {
		return fmt.Errorf("steps: lock: creating %s refused, and no such record: %w", name, err)
	}
	holder := lockHolder(rs)
	if strings.Contains(holder, "owner="+lockOwner(ex.ARN)) {
		return nil // re-entrant: this execution took it before
	}
	return &ConcurrentRunError{Zone: zone, Record: name, Holder: holder}
}

// releaseLock deletes zone's lock record if the execution holds it, and
// reports whether it did. A record that is gone, or held by another
// execution, is left alone.
func (h *Handler) releaseLock(ctx context.Context, zoneID, zone string, ex Execution) (bool, error) {
	rs, err := h.readLock(ctx, zoneID, zone)
	if err != nil || rs == nil {
		return false, err
	}
	if !strings.Contains(lockHolder(rs), "owner="+lockOwner(ex.ARN)) {
		return false, nil
	}
	_, err = h.clients.Route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch: &r53types.ChangeBatch{
			Comment: aws.String("dnssec-autopilot: lock released by " + ex.Name),
			Changes: []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: rs}},
		},
	})
	if apiCode(err) == "InvalidChangeBatch" {
		return false, nil // deleted in between: released all the same
	}
	if err != nil {
		return false, fmt.Errorf("steps: lock: deleting %s: %w", LockName(zone), err)
	}
	return true, nil
}

// sameName compares two domain names as Route 53 and DNS spell them.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}
