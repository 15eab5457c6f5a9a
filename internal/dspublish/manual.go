package dspublish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/miekg/dns"
)

// maxSubject is SNS's limit on a message subject (printable ASCII).
const maxSubject = 100

// Manual asks a person to change the DS at another registrar (or at the
// operator of the parent zone): Add and Remove publish one SNS message
// saying exactly what to do, and then only report that the change is
// awaited. Its Progress is never Done: the workflow goes on when every
// parent server is observed serving the DS (or none serving it any more).
// With a task token the message also asks the person to answer it once the
// change is made (or to fail it when it cannot be); the answer ends the
// wait for the person, never the observation.
//
// A message is published once per request: the Progress.Operation of a
// call is the message's deduplication key, derived from the request (its
// RequestID, action, zone and DS), and a call that is given it back does
// not publish again. A crash between Publish and the step's answer can
// still send a second message with the same key (a FIFO topic drops it).
type Manual struct {
	api      SNSAPI
	zone     string
	topicARN string
}

// Add asks a person to publish req.DS beside the DS records already there.
func (p *Manual) Add(ctx context.Context, req Request) (Progress, error) {
	return p.notify(ctx, req, true)
}

// Remove asks a person to withdraw req.DS, keeping the other DS records.
func (p *Manual) Remove(ctx context.Context, req Request) (Progress, error) {
	return p.notify(ctx, req, false)
}

// Published returns ErrNoSystemOfRecord: what another registrar holds can
// only be observed.
func (p *Manual) Published(ctx context.Context, zone string) ([]*dns.DS, error) {
	return nil, ErrNoSystemOfRecord
}

func (p *Manual) notify(ctx context.Context, req Request, add bool) (Progress, error) {
	zone, ds, err := req.check()
	if err != nil {
		return Progress{}, err
	}
	if err := forZone(KindManual, p.zone, zone); err != nil {
		return Progress{}, err
	}
	action, verb := "REMOVE_DS", "remove"
	if add {
		action, verb = "ADD_DS", "add"
	}
	key := dedupeKey(action, zone, ds, req.RequestID, req.TaskToken)
	awaited := fmt.Sprintf("waiting for every parent server of %s to serve DS %s", zone, dsShort(ds))
	if !add {
		awaited = fmt.Sprintf("waiting for no parent server of %s to serve DS %s", zone, dsShort(ds))
	}
	if req.TaskToken != "" {
		awaited = "waiting for the person to answer the task token; then " + awaited
	}
	if req.Operation == key {
		return Progress{Operation: key, PollAfter: ManualPollInterval, Detail: "asked a person to " + verb + " the DS at the registrar; " + awaited}, nil
	}
	subject, body := message(zone, ds, req, add, key)
	in := &sns.PublishInput{
		TopicArn: aws.String(p.topicARN),
		Subject:  aws.String(subject),
		Message:  aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"zone":      {DataType: aws.String("String"), StringValue: aws.String(zone)},
			"action":    {DataType: aws.String("String"), StringValue: aws.String(action)},
			"ds":        {DataType: aws.String("String"), StringValue: aws.String(dsRData(ds))},
			"dedupeKey": {DataType: aws.String("String"), StringValue: aws.String(key)},
		},
	}
	if req.RequestID != "" {
		in.MessageAttributes["requestId"] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(req.RequestID)}
	}
	if strings.HasSuffix(p.topicARN, ".fifo") {
		// A FIFO topic drops a second message with the same key within
		// its five-minute deduplication window.
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(truncate(zone, 128)), aws.String(key)
	}
	if _, err := p.api.Publish(ctx, in); err != nil {
		if busy(err) {
			return Progress{Operation: req.Operation, PollAfter: BusyPollInterval, Detail: fmt.Sprintf("sns is busy (%s): publishing the request to %s the DS again", apiCode(err), verb)}, nil
		}
		return Progress{}, fmt.Errorf("dspublish: publish the request to %s DS %s for %s to %s: %w", verb, dsShort(ds), zone, p.topicARN, err)
	}
	return Progress{Operation: key, PollAfter: ManualPollInterval, Detail: "asked a person to " + verb + " the DS at the registrar; " + awaited}, nil
}

// dedupeKey is the deterministic key of one manual request: the same
// action on the same DS of the same zone in the same request (and with the
// same task token, when there is one) gets the same key. A new token (a
// retried Task state gets one) gets a new key, so that the person is given
// the token the workflow now waits for.
func dedupeKey(action, zone string, ds *dns.DS, requestID, taskToken string) string {
	parts := []string{"dspublish-manual", action, zone, dsRData(ds), requestID}
	if taskToken != "" {
		parts = append(parts, taskToken)
	}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "manual-" + hex.EncodeToString(h[:16])
}

// message writes the subject and body a person acts on.
func message(zone string, ds *dns.DS, req Request, add bool, key string) (subject, body string) {
	var b strings.Builder
	var goal string // what every parent server must show
	line := fmt.Sprintf("%s IN DS %s", zone, dsRData(ds))
	if add {
		subject = fmt.Sprintf("DNSSEC action needed: add DS %d for %s at its registrar", ds.KeyTag, zone)
		fmt.Fprintf(&b, "Action needed: ADD a DS record for %s at its registrar (or at the operator of its parent zone).\n\n", zone)
	} else {
		subject = fmt.Sprintf("DNSSEC action needed: remove DS %d for %s at its registrar", ds.KeyTag, zone)
		fmt.Fprintf(&b, "Action needed: REMOVE a DS record for %s at its registrar (or at the operator of its parent zone).\n\n", zone)
	}
	fmt.Fprintf(&b, "DS record:\n    %s\n\n", line)
	fmt.Fprintf(&b, "    Key tag:      %d\n", ds.KeyTag)
	fmt.Fprintf(&b, "    Algorithm:    %d (%s)\n", ds.Algorithm, dns.AlgorithmToString[ds.Algorithm])
	fmt.Fprintf(&b, "    Digest type:  %d (%s)\n", ds.DigestType, digestName(ds.DigestType))
	fmt.Fprintf(&b, "    Digest:       %s\n\n", canonicalDigest(ds.Digest))
	if req.DNSKEY != nil {
		key := ownedKey(zone, req.DNSKEY)
		fmt.Fprintf(&b, "If the registrar asks for the key rather than the digest, this is it:\n")
		fmt.Fprintf(&b, "    %s IN DNSKEY %d %d %d %s\n", zone, key.Flags, key.Protocol, key.Algorithm, key.PublicKey)
		fmt.Fprintf(&b, "    Flags %d, protocol %d, algorithm %d, public key %s\n\n", key.Flags, key.Protocol, key.Algorithm, key.PublicKey)
	}
	if add {
		fmt.Fprintf(&b, "What to do: in the DNSSEC (DS record) settings of %s at its registrar, add a DS record with exactly these values. "+
			"Keep every DS record already there: do not replace or remove any.\n\n", zone)
		goal = "every one of them serves this DS record"
	} else {
		fmt.Fprintf(&b, "What to do: in the DNSSEC (DS record) settings of %s at its registrar, delete the DS record with exactly these values, and only that one: "+
			"keep every other DS record. Removing another one can make the zone fail to resolve for validating resolvers.\n\n", zone)
		goal = "none of them serves this DS record any more"
	}
	if req.TaskToken == "" {
		fmt.Fprintf(&b, "The workflow waits. It queries every name server of the parent zone every %v and goes on only when %s.\n\n", ManualPollInterval, goal)
	} else {
		fmt.Fprintf(&b, "The workflow waits for your answer. Once the change is made at the registrar, confirm it by answering the task token:\n\n")
		fmt.Fprintf(&b, "    dnssecctl task success --token '%s'\n", req.TaskToken)
		fmt.Fprintf(&b, "    (or: aws stepfunctions send-task-success --task-token '%s' --task-output '{}')\n\n", req.TaskToken)
		fmt.Fprintf(&b, "Your confirmation does not replace the check: the workflow then still observes every parent server and goes on only when %s. "+
			"If the change cannot be made, stop the workflow (it then fails with your error) with:\n\n", goal)
		fmt.Fprintf(&b, "    dnssecctl task failure --token '%s' --error RegistrarRejectedDS --cause 'why'\n\n", req.TaskToken)
	}
	if req.RequestID != "" {
		fmt.Fprintf(&b, "Request: %s\n", req.RequestID)
	}
	fmt.Fprintf(&b, "Message key: %s (a repeated message with the same key asks for the same change)\n", key)
	return truncate(asciiSubject(subject), maxSubject), b.String()
}

func digestName(t uint8) string {
	if n, ok := dns.HashToString[t]; ok {
		return n
	}
	return "unknown"
}

// asciiSubject replaces what SNS refuses in a subject (control and
// non-ASCII characters) with '?'.
func asciiSubject(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
