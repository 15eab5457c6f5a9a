package awsemu

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/domainsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/resolveremu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/snsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// TestRouterServesEverySDKClientOnOneEndpoint drives each emulator through
// its real SDK client, all configured with the same base endpoint, as
// AWS_ENDPOINT_URL does.
func TestRouterServesEverySDKClientOnOneEndpoint(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
	k := kmsemu.New(clk)
	r53 := route53emu.New(route53emu.Options{Clock: clk, KMS: k})
	t.Cleanup(r53.Close)
	dom := domainsemu.New(clk)
	res := resolveremu.New(clk)
	topics := snsemu.New(clk)
	if err := dom.RegisterDomain("example.test", []string{"ns1.example.test"}); err != nil {
		t.Fatal(err)
	}
	if err := res.AddVPC("vpc-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewRouter(map[string]http.Handler{
		ServiceRoute53: r53, ServiceKMS: k, ServiceDomains: dom, ServiceResolver: res, ServiceSNS: topics,
	}))
	t.Cleanup(srv.Close)

	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
	ctx := context.Background()

	key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil || !strings.HasPrefix(aws.ToString(key.KeyMetadata.Arn), "arn:aws:kms:us-east-1:") {
		t.Errorf("kms CreateKey = %v, %v", key, err)
	}
	zone, err := route53.NewFromConfig(cfg).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.test"), CallerReference: aws.String("router-test")})
	if err != nil || zone.DelegationSet == nil || len(zone.DelegationSet.NameServers) != 4 {
		t.Errorf("route53 CreateHostedZone = %v, %v", zone, err)
	}
	detail, err := route53domains.NewFromConfig(cfg).GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String("example.test")})
	if err != nil || aws.ToString(detail.DomainName) != "example.test" {
		t.Errorf("route53domains GetDomainDetail = %v, %v", detail, err)
	}
	configs, err := route53resolver.NewFromConfig(cfg).ListResolverDnssecConfigs(ctx, &route53resolver.ListResolverDnssecConfigsInput{})
	if err != nil || len(configs.ResolverDnssecConfigs) != 1 {
		t.Errorf("route53resolver ListResolverDnssecConfigs = %v, %v", configs, err)
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("dnssec-autopilot")})
	if err != nil || !strings.HasSuffix(aws.ToString(topic.TopicArn), ":dnssec-autopilot") {
		t.Errorf("sns CreateTopic = %v, %v", topic, err)
	}
}

func TestRouterRefusesUnknownService(t *testing.T) {
	srv := httptest.NewServer(NewRouter(nil))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("{}"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400 for a service the stack does not emulate", resp.StatusCode)
	}
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Type != "UnknownServiceException" || !strings.Contains(body.Message, `"ec2"`) {
		t.Errorf("body = %+v, %v; want a JSON UnknownServiceException naming ec2", body, err)
	}
}
