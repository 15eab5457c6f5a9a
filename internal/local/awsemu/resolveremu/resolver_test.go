package resolveremu

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var testStart = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

const (
	vpcA = "vpc-0a1b2c3d4e5f60001"
	vpcB = "vpc-0a1b2c3d4e5f60002"
)

type harness struct {
	clk *clock.Virtual
	svc *Service
	c   *route53resolver.Client
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	clk := clock.NewVirtual(testStart)
	svc := New(clk, opts...)
	for _, id := range []string{vpcA, vpcB} {
		if err := svc.AddVPC(id); err != nil {
			t.Fatalf("AddVPC: %v", err)
		}
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	c := route53resolver.New(route53resolver.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
	return &harness{clk: clk, svc: svc, c: c}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (h *harness) get(t *testing.T, vpc string) types.ResolverDNSSECValidationStatus {
	t.Helper()
	out, err := h.c.GetResolverDnssecConfig(context.Background(), &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String(vpc)})
	if err != nil {
		t.Fatalf("GetResolverDnssecConfig: %v", err)
	}
	return out.ResolverDNSSECConfig.ValidationStatus
}

// TestTransitions walks one VPC through enable, disable and the local
// resource setting on the virtual clock.
func TestTransitions(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var events []Event
	h.svc.Subscribe(func(e Event) { events = append(events, e) })
	update := func(v types.Validation) types.ResolverDNSSECValidationStatus {
		out, err := h.c.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpcA), Validation: v})
		if err != nil {
			t.Fatalf("UpdateResolverDnssecConfig(%s): %v", v, err)
		}
		cfg := out.ResolverDNSSECConfig
		if aws.ToString(cfg.ResourceId) != vpcA || aws.ToString(cfg.OwnerId) != DefaultAccount || !strings.HasPrefix(aws.ToString(cfg.Id), "rdsc-") {
			t.Errorf("config = %+v, want %s owned by %s with an rdsc- Id", cfg, vpcA, DefaultAccount)
		}
		return cfg.ValidationStatus
	}
	steps := []struct {
		name       string
		do         func() types.ResolverDNSSECValidationStatus
		want       types.ResolverDNSSECValidationStatus
		validation bool
	}{
		{"initial", func() types.ResolverDNSSECValidationStatus { return h.get(t, vpcA) }, types.ResolverDNSSECValidationStatusDisabled, false},
		{"enable", func() types.ResolverDNSSECValidationStatus { return update(types.ValidationEnable) }, types.ResolverDNSSECValidationStatusEnabling, false},
		{"enable again while enabling", func() types.ResolverDNSSECValidationStatus { return update(types.ValidationEnable) }, types.ResolverDNSSECValidationStatusEnabling, false},
		{"just before the delay", func() types.ResolverDNSSECValidationStatus {
			h.clk.Advance(DefaultTransitionDelay - time.Second)
			return h.get(t, vpcA)
		}, types.ResolverDNSSECValidationStatusEnabling, false},
		{"after the delay", func() types.ResolverDNSSECValidationStatus {
			h.clk.Advance(time.Second)
			return h.get(t, vpcA)
		}, types.ResolverDNSSECValidationStatusEnabled, true},
		{"enable when enabled", func() types.ResolverDNSSECValidationStatus { return update(types.ValidationEnable) }, types.ResolverDNSSECValidationStatusEnabled, true},
		{"disable", func() types.ResolverDNSSECValidationStatus { return update(types.ValidationDisable) }, types.ResolverDNSSECValidationStatusDisabling, true},
		{"disabled", func() types.ResolverDNSSECValidationStatus {
			h.clk.Advance(DefaultTransitionDelay)
			return h.get(t, vpcA)
		}, types.ResolverDNSSECValidationStatusDisabled, false},
		{"use local setting", func() types.ResolverDNSSECValidationStatus { return update(types.ValidationUseLocalResourceSetting) }, types.ResolverDNSSECValidationStatusUpdateToUseLocalResourceSetting, false},
		{"local setting applied", func() types.ResolverDNSSECValidationStatus {
			h.clk.Advance(DefaultTransitionDelay)
			return h.get(t, vpcA)
		}, types.ResolverDNSSECValidationStatusUseLocalResourceSetting, false},
	}
	for _, st := range steps {
		if got := st.do(); got != st.want {
			t.Fatalf("%s: status = %s, want %s", st.name, got, st.want)
		}
		if got := h.svc.Validation(vpcA); got != st.validation {
			t.Errorf("%s: Validation = %v, want %v", st.name, got, st.validation)
		}
		if got := h.svc.Status(vpcA); got != string(st.want) {
			t.Errorf("%s: Status = %q, want %q", st.name, got, st.want)
		}
	}
	if h.get(t, vpcB) != types.ResolverDNSSECValidationStatusDisabled || h.svc.Validation(vpcB) {
		t.Errorf("the other VPC changed")
	}
	if h.svc.Validation("vpc-unknown") || h.svc.Status("vpc-unknown") != "" {
		t.Errorf("unknown VPC validates or has a status")
	}
	want := []Event{
		{vpcA, StatusEnabling, false}, {vpcA, StatusEnabled, true}, {vpcA, StatusDisabling, true},
		{vpcA, StatusDisabled, false}, {vpcA, StatusUpdatingToLocal, false}, {vpcA, StatusUseLocalResource, false},
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func() error
		wantCode string
	}{
		{"update unknown VPC", func() error {
			_, err := h.c.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String("vpc-unknown"), Validation: types.ValidationEnable})
			return err
		}, "ResourceNotFoundException"},
		{"get unknown VPC", func() error {
			_, err := h.c.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String("vpc-unknown")})
			return err
		}, "ResourceNotFoundException"},
		{"empty resource ID", func() error {
			_, err := h.c.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String("")})
			return err
		}, "InvalidParameterException"},
		{"resource ID too long", func() error {
			_, err := h.c.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String("vpc-" + strings.Repeat("0", 61))})
			return err
		}, "InvalidParameterException"},
		{"unknown validation", func() error {
			_, err := h.c.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpcA), Validation: "MAYBE"})
			return err
		}, "InvalidParameterException"},
		{"bad MaxResults", func() error {
			_, err := h.c.ListResolverDnssecConfigs(ctx, &route53resolver.ListResolverDnssecConfigsInput{MaxResults: aws.Int32(101)})
			return err
		}, "InvalidParameterException"},
		{"bad NextToken", func() error {
			_, err := h.c.ListResolverDnssecConfigs(ctx, &route53resolver.ListResolverDnssecConfigsInput{NextToken: aws.String("zz")})
			return err
		}, "InvalidNextTokenException"},
		{"unknown filter", func() error {
			_, err := h.c.ListResolverDnssecConfigs(ctx, &route53resolver.ListResolverDnssecConfigsInput{Filters: []types.Filter{{Name: aws.String("Color"), Values: []string{"red"}}}})
			return err
		}, "InvalidParameterException"},
		{"unknown operation", func() error {
			_, err := h.c.ListResolverEndpoints(ctx, &route53resolver.ListResolverEndpointsInput{})
			return err
		}, "UnknownOperationException"},
	}
	for _, tt := range tests {
		if err := tt.call(); errorCode(err) != tt.wantCode {
			t.Errorf("%s: error = %v, want code %q", tt.name, err, tt.wantCode)
		}
	}
	var nf *types.ResourceNotFoundException
	if _, err := h.c.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String("vpc-unknown")}); !errors.As(err, &nf) || !strings.Contains(aws.ToString(nf.Message), "vpc-unknown") {
		t.Errorf("error = %v, want *types.ResourceNotFoundException naming the VPC", err)
	}
	var ip *types.InvalidParameterException
	if _, err := h.c.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpcA), Validation: "MAYBE"}); !errors.As(err, &ip) || aws.ToString(ip.FieldName) != "Validation" {
		t.Errorf("error = %v, want *types.InvalidParameterException for field Validation", err)
	}
	if err := h.svc.AddVPC("subnet-1"); err == nil {
		t.Errorf("AddVPC(subnet-1) = nil, want an error")
	}
}

func TestList(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.c.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpcB), Validation: types.ValidationEnable}); err != nil {
		t.Fatalf("UpdateResolverDnssecConfig: %v", err)
	}
	vpcs := func(out *route53resolver.ListResolverDnssecConfigsOutput) []string {
		var ids []string
		for _, c := range out.ResolverDnssecConfigs {
			ids = append(ids, aws.ToString(c.ResourceId))
		}
		return ids
	}
	tests := []struct {
		name string
		in   route53resolver.ListResolverDnssecConfigsInput
		want []string
	}{
		{"all", route53resolver.ListResolverDnssecConfigsInput{}, []string{vpcA, vpcB}},
		{"by status", route53resolver.ListResolverDnssecConfigsInput{Filters: []types.Filter{{Name: aws.String("ValidationStatus"), Values: []string{"ENABLING"}}}}, []string{vpcB}},
		{"by resource", route53resolver.ListResolverDnssecConfigsInput{Filters: []types.Filter{{Name: aws.String("ResourceId"), Values: []string{vpcA}}}}, []string{vpcA}},
	}
	for _, tt := range tests {
		out, err := h.c.ListResolverDnssecConfigs(ctx, &tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, vpcs(out)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	var all []string
	p := route53resolver.NewListResolverDnssecConfigsPaginator(h.c, &route53resolver.ListResolverDnssecConfigsInput{MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		pages++
		all = append(all, vpcs(out)...)
	}
	if diff := cmp.Diff([]string{vpcA, vpcB}, all); diff != "" || pages != 2 {
		t.Errorf("paginated (%d pages) (-want +got):\n%s", pages, diff)
	}
}

func TestFaultsAndThrottle(t *testing.T) {
	h := newHarness(t, WithThrottle(2, 2))
	ctx := context.Background()
	get := func() error {
		_, err := h.c.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String(vpcA)})
		return err
	}
	h.svc.InjectError("GetResolverDnssecConfig", "InternalServiceErrorException", 1)
	var ie *types.InternalServiceErrorException
	if err := get(); !errors.As(err, &ie) {
		t.Errorf("injected: error = %v, want *types.InternalServiceErrorException", err)
	}
	if err := get(); err != nil {
		t.Errorf("second call: %v", err)
	}
	var te *types.ThrottlingException
	if err := get(); !errors.As(err, &te) {
		t.Errorf("third call: error = %v, want *types.ThrottlingException", err)
	}
	h.clk.Advance(time.Second)
	if err := get(); err != nil {
		t.Errorf("after a second: %v", err)
	}
	h.svc.SetThrottle(0, 0)
	h.svc.InjectError("GetResolverDnssecConfig", "AccessDeniedException", 3)
	h.svc.InjectError("GetResolverDnssecConfig", "", 0)
	for range 3 {
		if err := get(); err != nil {
			t.Errorf("throttle off, faults cleared: %v", err)
		}
	}
}

// TestRun checks that a transition is applied and published when it falls
// due on the clock, without any API call.
func TestRun(t *testing.T) {
	h := newHarness(t, WithTransitionDelay(time.Minute))
	var (
		mu  sync.Mutex
		got []Event
	)
	enabled := make(chan struct{})
	h.svc.Subscribe(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		if e.Status == StatusEnabled {
			close(enabled)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	if _, err := h.c.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{ResourceId: aws.String(vpcA), Validation: types.ValidationEnable}); err != nil {
		t.Fatalf("UpdateResolverDnssecConfig: %v", err)
	}
	deadline := time.After(10 * time.Second)
wait:
	for {
		if next, ok := h.clk.NextDeadline(); ok {
			h.clk.Set(next)
		}
		select {
		case <-enabled:
			break wait
		case <-deadline:
			t.Fatal("no ENABLED event within 10s")
		case <-time.After(time.Millisecond):
		}
	}
	if now := h.clk.Now(); !now.Equal(testStart.Add(time.Minute)) {
		t.Errorf("enabled at %v, want %v", now, testStart.Add(time.Minute))
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]Event{{vpcA, StatusEnabling, false}, {vpcA, StatusEnabled, true}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestOtherRegionClient(t *testing.T) {
	svc := New(clock.NewVirtual(testStart))
	if err := svc.AddVPC(vpcA); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	c := route53resolver.New(route53resolver.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}})
	_, err := c.GetResolverDnssecConfig(context.Background(), &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String(vpcA)})
	if errorCode(err) != "UnrecognizedClientException" {
		t.Errorf("GetResolverDnssecConfig from eu-west-1: error = %v, want UnrecognizedClientException", err)
	}
}

// TestMalformedBody sends what no SDK client would.
func TestMalformedBody(t *testing.T) {
	svc := New(clock.NewVirtual(testStart))
	srv := httptest.NewServer(svc)
	defer srv.Close()
	tests := []struct {
		method, target, body, wantType string
	}{
		{"POST", targetPrefix + "GetResolverDnssecConfig", "{not json", "InvalidRequestException"},
		{"POST", targetPrefix + "UpdateResolverDnssecConfig", `{"ResourceId": 7}`, "InvalidRequestException"},
		{"GET", targetPrefix + "GetResolverDnssecConfig", "", "UnknownOperationException"},
		{"POST", "Route53Domains_v20140515.GetDomainDetail", "{}", "UnknownOperationException"},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, srv.URL, strings.NewReader(tt.body))
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
