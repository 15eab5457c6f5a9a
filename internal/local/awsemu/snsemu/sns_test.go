package snsemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var testStart = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

type harness struct {
	clk *clock.Virtual
	svc *Service
	c   *sns.Client
	url string
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	clk := clock.NewVirtual(testStart)
	svc := New(clk, opts...)
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	c := sns.New(sns.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      aws.NopRetryer{},
	})
	return &harness{clk: clk, svc: svc, c: c, url: srv.URL}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestCreateAndListTopics(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		in       sns.CreateTopicInput
		wantARN  string
		wantCode string
	}{
		{name: "new", in: sns.CreateTopicInput{Name: aws.String("dnssec-alerts"), Attributes: map[string]string{"DisplayName": "DNSSEC"}},
			wantARN: "arn:aws:sns:us-east-1:123456789012:dnssec-alerts"},
		{name: "same again is idempotent", in: sns.CreateTopicInput{Name: aws.String("dnssec-alerts"), Attributes: map[string]string{"DisplayName": "DNSSEC"}},
			wantARN: "arn:aws:sns:us-east-1:123456789012:dnssec-alerts"},
		{name: "same without attributes", in: sns.CreateTopicInput{Name: aws.String("dnssec-alerts")},
			wantARN: "arn:aws:sns:us-east-1:123456789012:dnssec-alerts"},
		{name: "with tags", in: sns.CreateTopicInput{Name: aws.String("ops"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("dns")}}},
			wantARN: "arn:aws:sns:us-east-1:123456789012:ops"},
		{name: "different attributes", in: sns.CreateTopicInput{Name: aws.String("dnssec-alerts"), Attributes: map[string]string{"DisplayName": "Other"}}, wantCode: "InvalidParameter"},
		{name: "unknown attribute", in: sns.CreateTopicInput{Name: aws.String("x"), Attributes: map[string]string{"Colour": "red"}}, wantCode: "InvalidParameter"},
		{name: "bad name", in: sns.CreateTopicInput{Name: aws.String("has space")}, wantCode: "InvalidParameter"},
		{name: "empty name", in: sns.CreateTopicInput{Name: aws.String("")}, wantCode: "InvalidParameter"},
		{name: "FIFO", in: sns.CreateTopicInput{Name: aws.String("t.fifo"), Attributes: map[string]string{"FifoTopic": "true"}}, wantCode: "InvalidParameter"},
	}
	for _, tt := range tests {
		out, err := h.c.CreateTopic(ctx, &tt.in)
		if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
			t.Errorf("%s: CreateTopic error = %v, want code %q", tt.name, err, tt.wantCode)
			continue
		}
		if tt.wantCode == "" && aws.ToString(out.TopicArn) != tt.wantARN {
			t.Errorf("%s: TopicArn = %q, want %q", tt.name, aws.ToString(out.TopicArn), tt.wantARN)
		}
	}
	var ip *types.InvalidParameterException
	if _, err := h.c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bad name")}); !errors.As(err, &ip) || httpStatus(err) != http.StatusBadRequest {
		t.Errorf("CreateTopic(bad name) error = %v, want *types.InvalidParameterException, HTTP 400", err)
	}

	// 150 topics list in two pages through the paginator.
	for i := range 148 {
		if _, err := h.svc.CreateTopic(fmt.Sprintf("t%03d", i)); err != nil {
			t.Fatalf("CreateTopic: %v", err)
		}
	}
	var arns []string
	pages := 0
	p := sns.NewListTopicsPaginator(h.c, &sns.ListTopicsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListTopics: %v", err)
		}
		pages++
		for _, tp := range out.Topics {
			arns = append(arns, aws.ToString(tp.TopicArn))
		}
	}
	if pages != 2 || len(arns) != 150 || arns[0] != "arn:aws:sns:us-east-1:123456789012:dnssec-alerts" {
		t.Errorf("ListTopics = %d topics in %d pages starting %v, want 150 in 2 starting with dnssec-alerts", len(arns), pages, arns[:1])
	}
	if _, err := h.c.ListTopics(ctx, &sns.ListTopicsInput{NextToken: aws.String("x")}); errorCode(err) != "InvalidParameter" {
		t.Errorf("ListTopics(bad token) error = %v, want InvalidParameter", err)
	}
	if _, err := h.svc.CreateTopic("bad name"); err == nil {
		t.Errorf("Go CreateTopic(bad name) = nil, want an error")
	}
}

func TestPublish(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	arn, err := h.svc.CreateTopic("dnssec-alerts")
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	tests := []struct {
		name       string
		in         sns.PublishInput
		wantCode   string
		wantStatus int
	}{
		{name: "message and subject", in: sns.PublishInput{TopicArn: aws.String(arn), Subject: aws.String("KSK rotation stuck"), Message: aws.String("example.test: DS not published"),
			MessageAttributes: map[string]types.MessageAttributeValue{"zone": {DataType: aws.String("String"), StringValue: aws.String("example.test")}}}},
		{name: "target ARN", in: sns.PublishInput{TargetArn: aws.String(arn), Message: aws.String("second")}},
		{name: "JSON structure", in: sns.PublishInput{TopicArn: aws.String(arn), MessageStructure: aws.String("json"), Message: aws.String(`{"default":"third"}`)}},
		{name: "unknown topic", in: sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:nope"), Message: aws.String("m")}, wantCode: "NotFound", wantStatus: 404},
		{name: "topic of another region", in: sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:dnssec-alerts"), Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "malformed ARN", in: sns.PublishInput{TopicArn: aws.String("dnssec-alerts"), Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "no target", in: sns.PublishInput{Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "two targets", in: sns.PublishInput{TopicArn: aws.String(arn), TargetArn: aws.String(arn), Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "phone number", in: sns.PublishInput{PhoneNumber: aws.String("+15555550100"), Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "empty message", in: sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String("")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "message too long", in: sns.PublishInput{TopicArn: aws.String(arn), Message: aws.String(strings.Repeat("m", maxMessage+1))}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "subject too long", in: sns.PublishInput{TopicArn: aws.String(arn), Subject: aws.String(strings.Repeat("s", maxSubject+1)), Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "subject with newline", in: sns.PublishInput{TopicArn: aws.String(arn), Subject: aws.String("a\nb"), Message: aws.String("m")}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "JSON without default", in: sns.PublishInput{TopicArn: aws.String(arn), MessageStructure: aws.String("json"), Message: aws.String(`{"email":"x"}`)}, wantCode: "InvalidParameter", wantStatus: 400},
		{name: "JSON not JSON", in: sns.PublishInput{TopicArn: aws.String(arn), MessageStructure: aws.String("json"), Message: aws.String(`{`)}, wantCode: "InvalidParameter", wantStatus: 400},
	}
	var ids []string
	for _, tt := range tests {
		out, err := h.c.Publish(ctx, &tt.in)
		if got := errorCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
			t.Errorf("%s: Publish error = %v, want code %q", tt.name, err, tt.wantCode)
			continue
		}
		if tt.wantCode != "" {
			if got := httpStatus(err); got != tt.wantStatus {
				t.Errorf("%s: HTTP status = %d, want %d", tt.name, got, tt.wantStatus)
			}
			continue
		}
		if aws.ToString(out.MessageId) == "" {
			t.Errorf("%s: empty MessageId", tt.name)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	var nf *types.NotFoundException
	if _, err := h.c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(arn + "x"), Message: aws.String("m")}); !errors.As(err, &nf) {
		t.Errorf("Publish(unknown topic) error = %v, want *types.NotFoundException", err)
	}
	want := []Message{
		{MessageID: ids[0], TopicARN: arn, Subject: "KSK rotation stuck", Body: "example.test: DS not published", Attributes: map[string]string{"zone": "example.test"}, Published: testStart},
		{MessageID: ids[1], TopicARN: arn, Body: "second", Published: testStart},
		{MessageID: ids[2], TopicARN: arn, Body: `{"default":"third"}`, Published: testStart},
	}
	if diff := cmp.Diff(want, h.svc.Messages(arn)); diff != "" {
		t.Errorf("Messages (-want +got):\n%s", diff)
	}
	if got := h.svc.Messages("arn:aws:sns:us-east-1:123456789012:other"); len(got) != 0 {
		t.Errorf("Messages(other topic) = %v, want none", got)
	}
}

func TestFaultsAndThrottle(t *testing.T) {
	h := newHarness(t, WithThrottle(1, 1))
	ctx := context.Background()
	list := func() error { _, err := h.c.ListTopics(ctx, &sns.ListTopicsInput{}); return err }
	if err := list(); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if err := list(); errorCode(err) != "Throttling" || httpStatus(err) != http.StatusBadRequest {
		t.Errorf("second call: error = %v, want Throttling, HTTP 400", err)
	}
	h.clk.Advance(time.Second)
	if err := list(); err != nil {
		t.Errorf("a second later: %v", err)
	}
	h.svc.SetThrottle(0, 0)

	tests := []struct {
		code   string
		status int
		check  func(error) bool
	}{
		{"InternalError", 500, func(err error) bool { var e *types.InternalErrorException; return errors.As(err, &e) }},
		{"AuthorizationError", 403, func(err error) bool { var e *types.AuthorizationErrorException; return errors.As(err, &e) }},
		{"Throttled", 429, func(err error) bool { var e *types.ThrottledException; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		h.svc.InjectError("ListTopics", tt.code, 1)
		err := list()
		if !tt.check(err) || httpStatus(err) != tt.status {
			t.Errorf("injected %s: error = %v (HTTP %d), want the typed error, HTTP %d", tt.code, err, httpStatus(err), tt.status)
		}
	}
	h.svc.InjectError("ListTopics", "InternalError", 2)
	h.svc.InjectError("ListTopics", "", 0)
	if err := list(); err != nil {
		t.Errorf("after clearing faults: %v", err)
	}
	if _, err := h.c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:x"), Protocol: aws.String("email")}); errorCode(err) != "InvalidAction" || !strings.Contains(err.Error(), "Subscribe") {
		t.Errorf("Subscribe error = %v, want InvalidAction naming Subscribe", err)
	}
}

// TestMalformedRequests sends what no SDK client would.
func TestMalformedRequests(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		form     url.Values
		wantCode string
	}{
		{url.Values{}, "InvalidAction"},
		{url.Values{"Action": {"ListTopics"}, "Version": {"2009-01-01"}}, "InvalidParameterValue"},
	}
	post := func(body string) (*http.Response, error) {
		return http.Post(h.url, "application/x-www-form-urlencoded", strings.NewReader(body))
	}
	resp, err := post("Action=ListTopics&Version=%zz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("undecodable form: status %d, want 400", resp.StatusCode)
	}
	for _, tt := range tests {
		resp, err := post(tt.form.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var body strings.Builder
		_, _ = fmt.Fprint(&body, resp.Status)
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(buf[:n]), "<Code>"+tt.wantCode+"</Code>") {
			t.Errorf("POST %v = %s %s, want 400 with code %s", tt.form, body.String(), buf[:n], tt.wantCode)
		}
	}
}

func TestOtherRegionClient(t *testing.T) {
	h := newHarness(t)
	c := sns.New(sns.Options{Region: "eu-west-1", BaseEndpoint: aws.String(h.url),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Retryer: aws.NopRetryer{}})
	_, err := c.ListTopics(context.Background(), &sns.ListTopicsInput{})
	if errorCode(err) != "InvalidClientTokenId" || httpStatus(err) != http.StatusForbidden {
		t.Errorf("ListTopics from eu-west-1: error = %v, want InvalidClientTokenId, HTTP 403", err)
	}
}

func TestTopicLimit(t *testing.T) {
	h := newHarness(t, WithTopicLimit(1))
	ctx := context.Background()
	if _, err := h.c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("one")}); err != nil {
		t.Fatalf("first topic: %v", err)
	}
	if _, err := h.c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("one")}); err != nil {
		t.Errorf("the same topic again: %v", err)
	}
	var le *types.TopicLimitExceededException
	if _, err := h.c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("two")}); !errors.As(err, &le) || httpStatus(err) != http.StatusForbidden {
		t.Errorf("second topic: error = %v, want *types.TopicLimitExceededException, HTTP 403", err)
	}
}
