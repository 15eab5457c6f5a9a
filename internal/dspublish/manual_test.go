package dspublish

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/snsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// recordingSNS keeps the Publish inputs it is given.
type recordingSNS struct {
	mu  sync.Mutex
	ins []*sns.PublishInput
	err error
}

func (r *recordingSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	r.ins = append(r.ins, in)
	return &sns.PublishOutput{}, nil
}

// Tests of the manual publisher through the real SNS client against the
// SNS emulator.

type snsEnv struct {
	svc   *snsemu.Service
	api   *sns.Client
	topic string
}

func newSNS(t *testing.T) *snsEnv {
	t.Helper()
	svc := snsemu.New(clock.NewVirtual(t0))
	topic, err := svc.CreateTopic("dnssec-ops")
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	api := sns.New(sns.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		Retryer:      aws.NopRetryer{},
	})
	return &snsEnv{svc: svc, api: api, topic: topic}
}

func (e *snsEnv) publisher(t *testing.T, zone string) Publisher {
	t.Helper()
	p, err := New(zone, Settings{Kind: KindManual, TopicARN: e.topic}, Clients{SNS: e.api})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestManualMessages(t *testing.T) {
	const execution = "arn:aws:states:us-east-1:123456789012:execution:rotate-ksk:example-net-20261127"
	for _, tc := range []struct {
		name      string
		remove    bool
		req       Request
		wantSubj  string
		wantParts []string
		notParts  []string
		wantAttrs map[string]string
	}{
		{
			name:     "add, with the key and a task token",
			req:      Request{Zone: "Example.NET", DS: rfcDS(), DNSKEY: rfcKey(), RequestID: execution + "/publish-new-ds", TaskToken: "AQB8token=="},
			wantSubj: "DNSSEC action needed: add DS 55648 for example.net. at its registrar",
			wantParts: []string{
				"ADD a DS record for example.net.",
				"example.net. IN DS 55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17",
				"Key tag:      55648", "Algorithm:    13 (ECDSAP256SHA256)", "Digest type:  2 (SHA256)",
				"example.net. IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
				"Keep every DS record already there",
				"goes on only when every one of them serves this DS record",
				"send-task-success --task-token 'AQB8token=='",
				"Request: " + execution + "/publish-new-ds",
			},
			wantAttrs: map[string]string{"zone": "example.net.", "action": "ADD_DS", "requestId": execution + "/publish-new-ds",
				"ds": "55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"},
		},
		{
			name:     "remove, DS only, no task token",
			remove:   true,
			req:      Request{Zone: "example.net.", DS: rfcDS(), RequestID: execution + "/remove-old-ds"},
			wantSubj: "DNSSEC action needed: remove DS 55648 for example.net. at its registrar",
			wantParts: []string{
				"REMOVE a DS record for example.net.",
				"example.net. IN DS 55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17",
				"and only that one: keep every other DS record",
				"goes on only when none of them serves this DS record any more.",
			},
			notParts:  []string{"DNSKEY", "task-token"},
			wantAttrs: map[string]string{"zone": "example.net.", "action": "REMOVE_DS"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSNS(t)
			p := e.publisher(t, "example.net")
			ctx := testCtx(t)
			call := p.Add
			if tc.remove {
				call = p.Remove
			}
			got, err := call(ctx, tc.req)
			if err != nil {
				t.Fatalf("call = %v", err)
			}
			if got.Done || got.PollAfter != ManualPollInterval || !strings.HasPrefix(got.Operation, "manual-") {
				t.Errorf("Progress = %+v, want never done, poll after %v, a manual- key", got, ManualPollInterval)
			}
			// Polling with the key publishes nothing more.
			for range 3 {
				r := tc.req
				r.Operation = got.Operation
				again, err := call(ctx, r)
				if err != nil || again != got {
					t.Errorf("call again = %+v, %v, want %+v", again, err, got)
				}
			}
			msgs := e.svc.Messages(e.topic)
			if len(msgs) != 1 {
				t.Fatalf("%d messages published, want 1", len(msgs))
			}
			m := msgs[0]
			if m.Subject != tc.wantSubj {
				t.Errorf("Subject = %q, want %q", m.Subject, tc.wantSubj)
			}
			for _, part := range tc.wantParts {
				if !strings.Contains(m.Body, part) {
					t.Errorf("Body lacks %q:\n%s", part, m.Body)
				}
			}
			for _, part := range tc.notParts {
				if strings.Contains(m.Body, part) {
					t.Errorf("Body has %q:\n%s", part, m.Body)
				}
			}
			if m.Attributes["dedupeKey"] != got.Operation || !strings.Contains(m.Body, got.Operation) {
				t.Errorf("dedupeKey attribute = %q, want the Progress.Operation %q, also in the body", m.Attributes["dedupeKey"], got.Operation)
			}
			for k, v := range tc.wantAttrs {
				if m.Attributes[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
				}
			}
		})
	}
}

func TestManualDedupeKey(t *testing.T) {
	e := newSNS(t)
	p := e.publisher(t, "example.net")
	ctx := testCtx(t)
	base := Request{Zone: "example.net.", DS: rfcDS(), RequestID: "exec-1"}
	first, err := p.Add(ctx, base)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	for _, tc := range []struct {
		name    string
		call    func(context.Context, Request) (Progress, error)
		req     Request
		wantNew bool
	}{
		{name: "same request, key lost (a retry): same key", call: p.Add, req: base},
		{name: "same request, digest in lower case: same key", call: p.Add,
			req: Request{Zone: "example.net", DS: mustRR(strings.ToLower(rfc6605DS)).(*dns.DS), RequestID: "exec-1"}},
		{name: "another execution: another key", call: p.Add, req: Request{Zone: "example.net.", DS: rfcDS(), RequestID: "exec-2"}, wantNew: true},
		{name: "removal: another key", call: p.Remove, req: base, wantNew: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call(ctx, tc.req)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if (got.Operation != first.Operation) != tc.wantNew {
				t.Errorf("key %q vs first %q: want a new key %t", got.Operation, first.Operation, tc.wantNew)
			}
		})
	}
}

func TestManualFIFOAndErrors(t *testing.T) {
	ctx := testCtx(t)
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + ".example."
	for _, tc := range []struct {
		name    string
		topic   string
		zone    string
		err     error
		wantErr bool
		check   func(t *testing.T, in *sns.PublishInput, got Progress)
	}{
		{
			name: "FIFO topic: deduplication ID and group", topic: "arn:aws:sns:us-east-1:123456789012:ops.fifo", zone: "example.net.",
			check: func(t *testing.T, in *sns.PublishInput, got Progress) {
				if aws.ToString(in.MessageDeduplicationId) != got.Operation || aws.ToString(in.MessageGroupId) != "example.net." {
					t.Errorf("dedup ID, group = %q, %q, want %q, example.net.", aws.ToString(in.MessageDeduplicationId), aws.ToString(in.MessageGroupId), got.Operation)
				}
			},
		},
		{
			name: "standard topic: none", topic: "arn:aws:sns:us-east-1:123456789012:ops", zone: "example.net.",
			check: func(t *testing.T, in *sns.PublishInput, got Progress) {
				if in.MessageDeduplicationId != nil || in.MessageGroupId != nil {
					t.Errorf("dedup ID, group = %v, %v, want none on a standard topic", in.MessageDeduplicationId, in.MessageGroupId)
				}
			},
		},
		{
			name: "long zone: subject within SNS's 100 characters", topic: "arn:aws:sns:us-east-1:123456789012:ops", zone: long,
			check: func(t *testing.T, in *sns.PublishInput, got Progress) {
				if s := aws.ToString(in.Subject); len(s) > 100 || !strings.HasPrefix(s, "DNSSEC action needed: add DS") {
					t.Errorf("Subject = %q (%d), want at most 100 characters", s, len(s))
				}
			},
		},
		{name: "authorization error", topic: "arn:aws:sns:us-east-1:123456789012:ops", zone: "example.net.",
			err: &smithy.GenericAPIError{Code: "AuthorizationError", Message: "not allowed"}, wantErr: true},
		{name: "throttled: try again", topic: "arn:aws:sns:us-east-1:123456789012:ops", zone: "example.net.",
			err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"},
			check: func(t *testing.T, in *sns.PublishInput, got Progress) {
				if got.PollAfter != BusyPollInterval || got.Operation != "" {
					t.Errorf("Progress = %+v, want a retry after %v with no key", got, BusyPollInterval)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingSNS{err: tc.err}
			p, err := New(tc.zone, Settings{Kind: KindManual, TopicARN: tc.topic}, Clients{SNS: rec})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			k := newKSK(dns.CanonicalName(tc.zone))
			got, err := p.Add(ctx, Request{Zone: tc.zone, DS: k.ds, DNSKEY: k.key, RequestID: "exec"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Add = %+v, %v, want error %t", got, err, tc.wantErr)
			}
			if tc.check == nil {
				return
			}
			var in *sns.PublishInput
			if len(rec.ins) > 0 {
				in = rec.ins[0]
			}
			if in == nil && tc.err == nil {
				t.Fatalf("nothing published")
			}
			tc.check(t, in, got)
		})
	}
}

func TestManualPublished(t *testing.T) {
	p, err := New("example.net", Settings{Kind: KindManual, TopicARN: "arn:aws:sns:us-east-1:123456789012:ops"}, Clients{SNS: &recordingSNS{}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if ds, err := p.Published(testCtx(t), "example.net"); ds != nil || !errors.Is(err, ErrNoSystemOfRecord) {
		t.Errorf("Published = %v, %v, want ErrNoSystemOfRecord", ds, err)
	}
}
