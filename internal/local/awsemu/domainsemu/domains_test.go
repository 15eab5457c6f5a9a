package domainsemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var testStart = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// RFC 6605 section 6.1: the P-256 KSK of example.net and its SHA-256 DS.
const (
	rfc6605Key    = "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="
	rfc6605DSID   = "DS:55648-13-2-B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"
	rfc6605Digest = "B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"
	secondKey     = "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
	opDelay       = DefaultSubmittedDelay + DefaultInProgressDelay
	nameserverOne = "ns-1.awsdns-01.test"
)

// rfc6605DS is the DS of RFC 6605 section 6.1, with the TTL the registry
// is given, in miekg/dns presentation.
var rfc6605DS = func() string {
	rr, err := dns.NewRR("example.net. 86400 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17")
	if err != nil {
		panic(err)
	}
	return rr.String()
}()

// fakeRegistry records the DS sets handed to it.
type fakeRegistry struct {
	mu   sync.Mutex
	sets map[string][]*dns.DS
	n    int
	err  error
	sent chan struct{}
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{sets: map[string][]*dns.DS{}, sent: make(chan struct{}, 16)}
}

func (r *fakeRegistry) SetDS(domain string, ds []*dns.DS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.sets[domain] = ds
	r.n++
	select {
	case r.sent <- struct{}{}:
	default:
	}
	return nil
}

func (r *fakeRegistry) get(domain string) ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ds := range r.sets[domain] {
		out = append(out, ds.String())
	}
	return out, r.n
}

type harness struct {
	clk *clock.Virtual
	svc *Service
	reg *fakeRegistry
	c   *route53domains.Client
	url string
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	clk := clock.NewVirtual(testStart)
	reg := newFakeRegistry()
	svc := New(clk, append([]Option{WithRegistry(reg)}, opts...)...)
	for _, d := range []string{"example.net", "example.test."} {
		if err := svc.RegisterDomain(d, []string{nameserverOne, "ns-2.awsdns-02.test."}); err != nil {
			t.Fatalf("RegisterDomain: %v", err)
		}
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return &harness{clk: clk, svc: svc, reg: reg, c: newClient(srv.URL, "us-east-1"), url: srv.URL}
}

func newClient(url, region string) *route53domains.Client {
	return route53domains.New(route53domains.Options{
		Region:       region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func attrs(alg, flags int32, key string) *types.DnssecSigningAttributes {
	return &types.DnssecSigningAttributes{Algorithm: aws.Int32(alg), Flags: aws.Int32(flags), PublicKey: aws.String(key)}
}

func (h *harness) associate(t *testing.T, domain, key string) string {
	t.Helper()
	out, err := h.c.AssociateDelegationSignerToDomain(context.Background(), &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName: aws.String(domain), SigningAttributes: attrs(13, 257, key)})
	if err != nil {
		t.Fatalf("AssociateDelegationSignerToDomain: %v", err)
	}
	return aws.ToString(out.OperationId)
}

func (h *harness) status(t *testing.T, opID string) (types.OperationStatus, string) {
	t.Helper()
	out, err := h.c.GetOperationDetail(context.Background(), &route53domains.GetOperationDetailInput{OperationId: aws.String(opID)})
	if err != nil {
		t.Fatalf("GetOperationDetail: %v", err)
	}
	return out.Status, aws.ToString(out.Message)
}

func TestGetDomainDetail(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tests := []struct {
		domain   string
		wantCode string
	}{
		{domain: "example.net"},
		{domain: "EXAMPLE.test."},
		{domain: "other.net", wantCode: "InvalidInput"},
		{domain: "example.org", wantCode: "UnsupportedTLD"},
		{domain: "not a domain", wantCode: "InvalidInput"},
		{domain: "", wantCode: "InvalidInput"},
	}
	for _, tt := range tests {
		out, err := h.c.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String(tt.domain)})
		if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
			t.Errorf("GetDomainDetail(%q) error = %v, want code %q", tt.domain, err, tt.wantCode)
			continue
		}
		if tt.wantCode != "" {
			continue
		}
		var ns []string
		for _, n := range out.Nameservers {
			ns = append(ns, aws.ToString(n.Name))
		}
		if diff := cmp.Diff([]string{nameserverOne, "ns-2.awsdns-02.test"}, ns); diff != "" {
			t.Errorf("GetDomainDetail(%q) name servers (-want +got):\n%s", tt.domain, diff)
		}
		if len(out.DnssecKeys) != 0 || aws.ToString(out.DnsSec) != "DISABLED" {
			t.Errorf("GetDomainDetail(%q) = %d keys, DnsSec %q, want none, DISABLED", tt.domain, len(out.DnssecKeys), aws.ToString(out.DnsSec))
		}
	}
	var ii *types.InvalidInput
	if _, err := h.c.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String("other.net")}); !errors.As(err, &ii) {
		t.Errorf("GetDomainDetail(unknown) error = %v, want *types.InvalidInput", err)
	}
	if err := h.svc.RegisterDomain("bad..name", nil); err == nil {
		t.Errorf("RegisterDomain(bad..name) = nil, want an error")
	}
}

// TestDSLifecycle associates two keys, re-associates one, and removes one,
// following every operation through its states on the virtual clock and
// checking the DS set the registry receives each time.
func TestDSLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	wantDS := func(t *testing.T, want ...string) {
		t.Helper()
		got, _ := h.reg.get("example.net")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("registry DS set (-want +got):\n%s", diff)
		}
	}

	op1 := h.associate(t, "example.net", rfc6605Key)
	if st, _ := h.status(t, op1); st != types.OperationStatusSubmitted {
		t.Fatalf("status right after submit = %s, want SUBMITTED", st)
	}
	h.clk.Advance(DefaultSubmittedDelay)
	if st, _ := h.status(t, op1); st != types.OperationStatusInProgress {
		t.Fatalf("status after %v = %s, want IN_PROGRESS", DefaultSubmittedDelay, st)
	}
	wantDS(t)
	h.clk.Advance(DefaultInProgressDelay - time.Second)
	if st, _ := h.status(t, op1); st != types.OperationStatusInProgress {
		t.Fatalf("status a second before completion = %s, want IN_PROGRESS", st)
	}
	h.clk.Advance(time.Second)
	if st, msg := h.status(t, op1); st != types.OperationStatusSuccessful {
		t.Fatalf("status at completion = %s (%s), want SUCCESSFUL", st, msg)
	}
	wantDS(t, rfc6605DS)

	detail, err := h.c.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String("example.net")})
	if err != nil {
		t.Fatalf("GetDomainDetail: %v", err)
	}
	// By default the registry answers with DS data only: no Flags, no
	// PublicKey.
	wantKeys := []types.DnssecKey{{
		Algorithm: aws.Int32(13), DigestType: aws.Int32(2), Digest: aws.String(rfc6605Digest), KeyTag: aws.Int32(55648), Id: aws.String(rfc6605DSID),
	}}
	if diff := cmp.Diff(wantKeys, detail.DnssecKeys, cmp.AllowUnexported(types.DnssecKey{})); diff != "" {
		t.Errorf("DnssecKeys (-want +got):\n%s", diff)
	}
	if aws.ToString(detail.DnsSec) != "ENABLED" {
		t.Errorf("DnsSec = %q, want ENABLED", aws.ToString(detail.DnsSec))
	}

	// A second key: the registry gets both DS records.
	op2 := h.associate(t, "example.net", secondKey)
	h.clk.Advance(opDelay)
	if st, _ := h.status(t, op2); st != types.OperationStatusSuccessful {
		t.Fatalf("second key status = %s, want SUCCESSFUL", st)
	}
	got, _ := h.reg.get("example.net")
	if len(got) != 2 || got[0] != rfc6605DS {
		t.Fatalf("registry DS set = %v, want the RFC 6605 DS and a second one", got)
	}
	second := got[1]

	// The same key again is accepted, then refused by the registry.
	op3 := h.associate(t, "example.net", rfc6605Key)
	h.clk.Advance(opDelay)
	if st, msg := h.status(t, op3); st != types.OperationStatusFailed || msg != invalidParameters {
		t.Errorf("re-association = %s %q, want FAILED %q", st, msg, invalidParameters)
	}
	wantDS(t, rfc6605DS, second)

	// Removing the first key leaves the second.
	rm, err := h.c.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
		DomainName: aws.String("example.net"), Id: aws.String(rfc6605DSID)})
	if err != nil {
		t.Fatalf("DisassociateDelegationSignerFromDomain: %v", err)
	}
	_, err = h.c.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
		DomainName: aws.String("example.net"), Id: aws.String(rfc6605DSID)})
	if errorCode(err) != "DuplicateRequest" {
		t.Errorf("second removal while the first is in progress: error = %v, want DuplicateRequest", err)
	}
	wantDS(t, rfc6605DS, second)
	h.clk.Advance(opDelay)
	if st, _ := h.status(t, aws.ToString(rm.OperationId)); st != types.OperationStatusSuccessful {
		t.Fatalf("removal status = %s, want SUCCESSFUL", st)
	}
	wantDS(t, second)
	if got := h.svc.DS("example.net."); len(got) != 1 || got[0].String() != second {
		t.Errorf("DS() = %v, want [%s]", got, second)
	}

	// ListOperations shows the history, with filters and pages.
	list, err := h.c.ListOperations(ctx, &route53domains.ListOperationsInput{Type: []types.OperationType{types.OperationTypeAddDnssec}})
	if err != nil {
		t.Fatalf("ListOperations: %v", err)
	}
	var ids []string
	for _, o := range list.Operations {
		ids = append(ids, aws.ToString(o.OperationId))
	}
	if diff := cmp.Diff([]string{op1, op2, op3}, ids); diff != "" {
		t.Errorf("ADD_DNSSEC operations (-want +got):\n%s", diff)
	}
	page, err := h.c.ListOperations(ctx, &route53domains.ListOperationsInput{MaxItems: aws.Int32(1), SortOrder: types.SortOrderDesc,
		Status: []types.OperationStatus{types.OperationStatusSuccessful}})
	if err != nil {
		t.Fatalf("ListOperations: %v", err)
	}
	if len(page.Operations) != 1 || aws.ToString(page.Operations[0].OperationId) != aws.ToString(rm.OperationId) || page.NextPageMarker == nil {
		t.Errorf("newest successful operation page = %+v, want the removal and a next page", page)
	}
	var all []string
	p := route53domains.NewListOperationsPaginator(h.c, &route53domains.ListOperationsInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListOperations page: %v", err)
		}
		for _, o := range out.Operations {
			all = append(all, aws.ToString(o.OperationId))
		}
	}
	if diff := cmp.Diff([]string{op1, op2, op3, aws.ToString(rm.OperationId)}, all); diff != "" {
		t.Errorf("paginated operations (-want +got):\n%s", diff)
	}
}

func TestAssociateErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		opts     []Option
		setup    func(t *testing.T, h *harness)
		domain   string
		attrs    *types.DnssecSigningAttributes
		wantCode string
	}{
		{name: "unknown domain", domain: "nobody.net", attrs: attrs(13, 257, rfc6605Key), wantCode: "InvalidInput"},
		{name: "unsupported TLD", domain: "example.invalid", attrs: attrs(13, 257, rfc6605Key), wantCode: "UnsupportedTLD"},
		{name: "no algorithm", domain: "example.net", attrs: &types.DnssecSigningAttributes{Flags: aws.Int32(257), PublicKey: aws.String(rfc6605Key)}, wantCode: "InvalidInput"},
		{name: "unknown algorithm", domain: "example.net", attrs: attrs(99, 257, rfc6605Key), wantCode: "InvalidInput"},
		{name: "negative algorithm", domain: "example.net", attrs: attrs(-243, 257, rfc6605Key), wantCode: "InvalidInput"},
		{name: "bad flags", domain: "example.net", attrs: attrs(13, 1, rfc6605Key), wantCode: "InvalidInput"},
		{name: "key not base64", domain: "example.net", attrs: attrs(13, 257, "not*base64"), wantCode: "InvalidInput"},
		{name: "empty key", domain: "example.net", attrs: attrs(13, 257, ""), wantCode: "InvalidInput"},
		{name: "TLD without DNSSEC", setup: func(t *testing.T, h *harness) { h.svc.SetTLDAllowsDNSSEC("test", false) }, domain: "example.test", attrs: attrs(13, 257, rfc6605Key), wantCode: "TLDRulesViolation"},
		{name: "same key in progress", setup: func(t *testing.T, h *harness) { h.associate(t, "example.net", rfc6605Key) }, domain: "example.net", attrs: attrs(13, 257, rfc6605Key), wantCode: "DuplicateRequest"},
		{name: "other key while one is in progress", setup: func(t *testing.T, h *harness) { h.associate(t, "example.net", secondKey) }, domain: "example.net", attrs: attrs(13, 257, rfc6605Key)},
		{name: "DS limit", opts: []Option{WithMaxDSRecords(1)}, setup: func(t *testing.T, h *harness) {
			h.associate(t, "example.net", secondKey)
			h.clk.Advance(opDelay)
		}, domain: "example.net", attrs: attrs(13, 257, rfc6605Key), wantCode: "DnssecLimitExceeded"},
		{name: "DS limit counts pending additions", opts: []Option{WithMaxDSRecords(1)}, setup: func(t *testing.T, h *harness) { h.associate(t, "example.net", secondKey) },
			domain: "example.net", attrs: attrs(13, 257, rfc6605Key), wantCode: "DnssecLimitExceeded"},
		{name: "operation limit", opts: []Option{WithMaxPendingOperations(1)}, setup: func(t *testing.T, h *harness) { h.associate(t, "example.test", secondKey) },
			domain: "example.net", attrs: attrs(13, 257, rfc6605Key), wantCode: "OperationLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts...)
			if tt.setup != nil {
				tt.setup(t, h)
			}
			_, err := h.c.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
				DomainName: aws.String(tt.domain), SigningAttributes: tt.attrs})
			if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Errorf("AssociateDelegationSignerToDomain error = %v, want code %q", err, tt.wantCode)
			}
		})
	}
	h := newHarness(t, WithMaxDSRecords(0))
	var le *types.DnssecLimitExceeded
	_, err := h.c.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName: aws.String("example.net"), SigningAttributes: attrs(13, 257, rfc6605Key)})
	if !errors.As(err, &le) {
		t.Errorf("error = %v, want *types.DnssecLimitExceeded", err)
	}
}

func TestDisassociateErrors(t *testing.T) {
	h := newHarness(t, WithMaxPendingOperations(1))
	ctx := context.Background()
	tests := []struct {
		name, domain, id string
		wantCode         string
	}{
		{name: "unknown Id", domain: "example.net", id: rfc6605DSID, wantCode: "InvalidInput"},
		{name: "empty Id", domain: "example.net", id: "", wantCode: "InvalidInput"},
		{name: "unknown domain", domain: "nobody.net", id: rfc6605DSID, wantCode: "InvalidInput"},
		{name: "unsupported TLD", domain: "example.invalid", id: rfc6605DSID, wantCode: "UnsupportedTLD"},
	}
	for _, tt := range tests {
		_, err := h.c.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
			DomainName: aws.String(tt.domain), Id: aws.String(tt.id)})
		if got := errorCode(err); got != tt.wantCode {
			t.Errorf("%s: error = %v, want code %q", tt.name, err, tt.wantCode)
		}
	}
	// A key whose addition is still pending may be removed, unless the
	// account's operation limit is reached.
	h.associate(t, "example.net", rfc6605Key)
	_, err := h.c.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
		DomainName: aws.String("example.net"), Id: aws.String(rfc6605DSID)})
	if errorCode(err) != "OperationLimitExceeded" {
		t.Errorf("removal at the operation limit: error = %v, want OperationLimitExceeded", err)
	}
	h.clk.Advance(opDelay)
	if _, err := h.c.DisassociateDelegationSignerFromDomain(ctx, &route53domains.DisassociateDelegationSignerFromDomainInput{
		DomainName: aws.String("example.net"), Id: aws.String(rfc6605DSID)}); err != nil {
		t.Errorf("removal after the addition completed: %v", err)
	}
}

func TestFailedOperations(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, h *harness)
		wantStatus  types.OperationStatus
		wantMessage string
	}{
		{name: "injected ERROR", setup: func(t *testing.T, h *harness) { h.svc.FailNextOperations(StatusError, "registry timeout", 1) },
			wantStatus: types.OperationStatusError, wantMessage: "registry timeout"},
		{name: "injected FAILED", setup: func(t *testing.T, h *harness) { h.svc.FailNextOperations(StatusFailed, "rejected", 1) },
			wantStatus: types.OperationStatusFailed, wantMessage: "rejected"},
		{name: "registry error", setup: func(t *testing.T, h *harness) { h.reg.err = errors.New("tld down") },
			wantStatus: types.OperationStatusError, wantMessage: "registry refused the DS set: tld down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(t, h)
			op := h.associate(t, "example.net", rfc6605Key)
			h.clk.Advance(opDelay)
			st, msg := h.status(t, op)
			if st != tt.wantStatus || msg != tt.wantMessage {
				t.Errorf("status = %s %q, want %s %q", st, msg, tt.wantStatus, tt.wantMessage)
			}
			if got, n := h.reg.get("example.net"); len(got) != 0 || (h.reg.err == nil && n != 0) {
				t.Errorf("registry got %v (%d calls), want nothing", got, n)
			}
			if ds := h.svc.DS("example.net"); len(ds) != 0 {
				t.Errorf("DS() = %v, want none", ds)
			}
			// The next operation succeeds again.
			h.reg.err = nil
			op = h.associate(t, "example.net", rfc6605Key)
			h.clk.Advance(opDelay)
			if st, _ := h.status(t, op); st != types.OperationStatusSuccessful {
				t.Errorf("next operation status = %s, want SUCCESSFUL", st)
			}
		})
	}
}

func TestFullKeyDetails(t *testing.T) {
	h := newHarness(t, WithFullKeyDetails())
	later := newFakeRegistry()
	h.svc.SetRegistry(later)
	h.associate(t, "example.net", rfc6605Key)
	h.clk.Advance(opDelay)
	out, err := h.c.GetDomainDetail(context.Background(), &route53domains.GetDomainDetailInput{DomainName: aws.String("example.net")})
	if err != nil {
		t.Fatalf("GetDomainDetail: %v", err)
	}
	if got, _ := later.get("example.net"); len(got) != 1 || got[0] != rfc6605DS {
		t.Errorf("registry set with SetRegistry got %v, want [%s]", got, rfc6605DS)
	}
	if _, n := h.reg.get("example.net"); n != 0 {
		t.Errorf("the replaced registry got %d calls, want 0", n)
	}
	want := []types.DnssecKey{{
		Algorithm: aws.Int32(13), Flags: aws.Int32(257), PublicKey: aws.String(rfc6605Key), DigestType: aws.Int32(2),
		Digest: aws.String(rfc6605Digest), KeyTag: aws.Int32(55648), Id: aws.String(rfc6605DSID),
	}}
	if diff := cmp.Diff(want, out.DnssecKeys, cmp.AllowUnexported(types.DnssecKey{})); diff != "" {
		t.Errorf("DnssecKeys (-want +got):\n%s", diff)
	}
}

// TestRun checks that the registry gets the DS when the operation falls
// due on the clock, without any API call.
func TestRun(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	h.associate(t, "example.net", rfc6605Key)
	deadline := time.After(10 * time.Second)
	for {
		// Advance only once Run sleeps on the operation's next deadline.
		if next, ok := h.clk.NextDeadline(); ok {
			h.clk.Set(next)
		}
		select {
		case <-h.reg.sent:
			got, _ := h.reg.get("example.net")
			if diff := cmp.Diff([]string{rfc6605DS}, got); diff != "" {
				t.Errorf("registry DS set (-want +got):\n%s", diff)
			}
			if now := h.clk.Now(); !now.Equal(testStart.Add(opDelay)) {
				t.Errorf("DS published at %v, want %v", now, testStart.Add(opDelay))
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v, want context.Canceled", err)
			}
			return
		case <-deadline:
			t.Fatal("registry not told within 10s")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	t.Run("unknown operation", func(t *testing.T) {
		_, err := h.c.ListDomains(ctx, &route53domains.ListDomainsInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" || !strings.Contains(ae.ErrorMessage(), "ListDomains") {
			t.Errorf("ListDomains error = %v, want UnknownOperationException naming ListDomains", err)
		}
	})
	t.Run("other region", func(t *testing.T) {
		c := newClient(h.url, "eu-west-1")
		_, err := c.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String("example.net")})
		if errorCode(err) != "UnrecognizedClientException" {
			t.Errorf("GetDomainDetail from eu-west-1: error = %v, want UnrecognizedClientException", err)
		}
	})
	t.Run("unknown operation ID", func(t *testing.T) {
		_, err := h.c.GetOperationDetail(ctx, &route53domains.GetOperationDetailInput{OperationId: aws.String("00000000-0000-4000-8000-000000000000")})
		if errorCode(err) != "InvalidInput" {
			t.Errorf("GetOperationDetail(unknown) error = %v, want InvalidInput", err)
		}
		_, err = h.c.GetOperationDetail(ctx, &route53domains.GetOperationDetailInput{OperationId: aws.String("")})
		if errorCode(err) != "InvalidInput" {
			t.Errorf("GetOperationDetail(\"\") error = %v, want InvalidInput", err)
		}
	})
	t.Run("bad list parameters", func(t *testing.T) {
		for _, in := range []*route53domains.ListOperationsInput{
			{MaxItems: aws.Int32(101)},
			{Marker: aws.String("x")},
			{SortOrder: "SIDEWAYS"},
			{SortBy: "Name"},
		} {
			if _, err := h.c.ListOperations(ctx, in); errorCode(err) != "InvalidInput" {
				t.Errorf("ListOperations(%+v) error = %v, want InvalidInput", in, err)
			}
		}
	})
	t.Run("injected errors and throttling", func(t *testing.T) {
		h.svc.InjectError("GetDomainDetail", "InvalidInput", 1)
		get := func() error {
			_, err := h.c.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String("example.net")})
			return err
		}
		if err := get(); errorCode(err) != "InvalidInput" {
			t.Errorf("injected: error = %v, want InvalidInput", err)
		}
		if err := get(); err != nil {
			t.Errorf("after the injected fault: %v", err)
		}
		h.svc.SetThrottle(1, 1)
		defer h.svc.SetThrottle(0, 0)
		codes := make([]string, 3)
		for i := range codes {
			codes[i] = errorCode(get())
		}
		if diff := cmp.Diff([]string{"", "ThrottlingException", "ThrottlingException"}, codes); diff != "" {
			t.Errorf("throttled calls (-want +got):\n%s", diff)
		}
		h.clk.Advance(time.Second)
		if err := get(); err != nil {
			t.Errorf("a second later: %v", err)
		}
	})
}

// ExampleService_RegisterDomain shows the Go set-up of a domain.
func ExampleService_RegisterDomain() {
	svc := New(clock.NewVirtual(testStart))
	if err := svc.RegisterDomain("example.test.", []string{"ns1.example.test"}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(len(svc.DS("example.test")))
	// Output: 0
}

// TestMalformedBody sends what no SDK client would.
func TestMalformedBody(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		method, target, body, wantType string
	}{
		{"POST", targetPrefix + "GetDomainDetail", "{not json", "InvalidInput"},
		{"POST", targetPrefix + "AssociateDelegationSignerToDomain", `{"DomainName":"example.net","SigningAttributes":{"Algorithm":"13"}}`, "InvalidInput"},
		{"POST", targetPrefix + "AssociateDelegationSignerToDomain", `{"DomainName":"example.net"}`, "InvalidInput"},
		{"GET", targetPrefix + "GetDomainDetail", "", "UnknownOperationException"},
		{"POST", "TrentService.Sign", "{}", "UnknownOperationException"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, h.url, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", tt.target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType {
			t.Errorf("%s %s %s = %d %s, want 400 %s", tt.method, tt.target, tt.body, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tt.wantType)
		}
	}
}
