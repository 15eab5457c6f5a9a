// Package dspublish makes the parent of a zone publish or withdraw DS
// records, through one of three publishers chosen per zone: the parent's
// Route 53 hosted zone, Route 53 Domains (the zone is a domain registered
// with it), or a person at another registrar notified over SNS.
//
// Publishers run inside Lambda steps that Step Functions repeats: each call
// does one bounded piece of work and returns a Progress, and calling again
// with the same Request (carrying the previous Progress.Operation) is how a
// state machine polls. Every call converges: adding a DS already published,
// or withdrawing one that is not, does nothing, and a change already under
// way is found and followed rather than submitted twice.
//
// A publisher's own answer is never the evidence that the parent serves a
// DS: Verify and VerifyWithdrawn observe every parent server, and only they
// decide whether a workflow may go on.
package dspublish

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Policy numbers, each with the reason it has this value.
const (
	// DefaultDSTTL is the TTL of a DS RRset the parent hosted zone publisher
	// creates (an existing set keeps its TTL). Route 53's DNSSEC guide
	// recommends lowering a zone's TTLs to one hour so that a problem can be
	// rolled back within the hour; a DS TTL of one hour bounds how long a
	// withdrawn or replaced DS may stay in caches the same way.
	DefaultDSTTL = 3600
	// ChangePollInterval is how long to wait before asking Route 53 again
	// about a change: Route 53 documents that changes reach all its name
	// servers within 60 seconds, so three polls usually cover one.
	ChangePollInterval = 20 * time.Second
	// OperationPollInterval is how long to wait before asking Route 53
	// Domains again about an operation: registries take minutes to hours to
	// publish a DS change, and each poll is a state transition that costs.
	OperationPollInterval = time.Minute
	// BusyPollInterval is how long to wait after an API said it is busy
	// (throttled, a prior change or operation not complete) once the SDK's
	// own retries are spent, before trying the same call again.
	BusyPollInterval = 10 * time.Second
	// ManualPollInterval is how long to wait between observations while a
	// person changes the DS at another registrar: minutes of human work, and
	// an observation is a handful of queries.
	ManualPollInterval = 5 * time.Minute
)

// Publisher makes a zone's parent publish or withdraw DS records. Add and
// Remove are idempotent and are also how to poll: call again with the same
// Request, its Operation set to the previous Progress.Operation, after
// Progress.PollAfter, until Progress.Done. Done means the publisher's system
// of record holds the change; the caller then waits until every parent
// server serves it (Verify, VerifyWithdrawn).
type Publisher interface {
	// Add makes the parent publish req.DS beside any DS already there.
	Add(ctx context.Context, req Request) (Progress, error)
	// Remove makes the parent stop publishing req.DS, keeping the others.
	Remove(ctx context.Context, req Request) (Progress, error)
	// Published reports the DS records the publisher's system of record
	// holds for zone, for diagnostics only: gates use observation.
	Published(ctx context.Context, zone string) ([]*dns.DS, error)
}

// Request is one DS change asked of a Publisher.
type Request struct {
	// Zone is the child zone whose DS changes.
	Zone string
	// DS is the record to add or remove; its owner and TTL are ignored.
	DS *dns.DS
	// DNSKEY is the key-signing key DS is the digest of. Route 53 Domains
	// takes the public key rather than the DS, so Add needs it there; the
	// other publishers check it against DS when it is given.
	DNSKEY *dns.DNSKEY
	// Operation is the Progress.Operation of the previous call for this
	// request; empty on the first call.
	Operation string
	// RequestID identifies the request across retries and re-runs of one
	// execution, e.g. the execution ARN and the state name. The manual
	// publisher derives its message deduplication key from it.
	RequestID string
	// TaskToken, for the manual publisher, is a Step Functions task token
	// the person may answer (SendTaskSuccess) once the change is made.
	TaskToken string
}

// Progress is where a DS change stands after one call.
type Progress struct {
	// Done reports that the publisher's system of record holds the change
	// (never true for the manual publisher, whose completion is observed).
	Done bool
	// Operation identifies the change under way (a Route 53 change ID, a
	// Route 53 Domains operation ID, a manual message's deduplication key);
	// pass it back in Request.Operation on the next call.
	Operation string
	// PollAfter is how long to wait before the next call when not Done.
	PollAfter time.Duration
	// Detail says, for a person, what happened and what is awaited.
	Detail string
}

// check validates req for zone and returns the canonical zone name and a
// copy of the DS owned by it.
func (req Request) check() (string, *dns.DS, error) {
	zone, err := canonicalZone(req.Zone)
	if err != nil {
		return "", nil, err
	}
	if req.DS == nil {
		return "", nil, &InvalidRequestError{Zone: zone, Field: "ds", Reason: "no DS record given"}
	}
	ds := ownedDS(zone, req.DS)
	if ds.Digest == "" {
		return "", nil, &InvalidRequestError{Zone: zone, Field: "ds", Reason: "the DS record has no digest"}
	}
	if req.DNSKEY != nil {
		key := ownedKey(zone, req.DNSKEY)
		if d := key.ToDS(ds.DigestType); d == nil || !sameDS(d, ds) {
			return "", nil, &InvalidRequestError{Zone: zone, Field: "dnskey",
				Reason: fmt.Sprintf("DS %s is not the digest of DNSKEY %d (flags %d, algorithm %d)", dsShort(ds), key.KeyTag(), key.Flags, key.Algorithm)}
		}
	}
	return zone, ds, nil
}

// canonicalZone lowercases and fully qualifies a zone name, refusing the
// root and malformed names.
func canonicalZone(name string) (string, error) {
	z := strings.TrimSpace(name)
	if _, ok := dns.IsDomainName(z); !ok || z == "" || z == "." {
		return "", &InvalidRequestError{Zone: name, Field: "zone", Reason: "not a domain name below the root"}
	}
	return dns.CanonicalName(z), nil
}
