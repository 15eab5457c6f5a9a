package route53emu

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
)

func TestThrottling(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	e.svc.SetThrottle(DefaultThrottleRate, DefaultThrottleBurst)
	get := func() error {
		_, err := e.client.GetHostedZone(context.Background(), &route53.GetHostedZoneInput{Id: aws.String(id)})
		return err
	}
	for i := range 5 {
		if err := get(); err != nil {
			t.Fatalf("request %d of 5 in one second: %v", i+1, err)
		}
	}
	err := get()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" || ae.ErrorMessage() != "Rate exceeded" {
		t.Fatalf("6th request in one second: err = %v, want Throttling: Rate exceeded", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("throttled HTTP status = %v, want 400", err)
	}
	// One token comes back every 200 ms of the clock.
	e.clk.Advance(200 * time.Millisecond)
	if err := get(); err != nil {
		t.Errorf("after 200 ms: %v", err)
	}
	if err := get(); errCode(err) != "Throttling" {
		t.Errorf("second request after 200 ms: err = %v, want Throttling", err)
	}
	e.clk.Advance(time.Second)
	for i := range 5 {
		if err := get(); err != nil {
			t.Fatalf("request %d after a quiet second: %v", i+1, err)
		}
	}
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	ctx := context.Background()
	bodies := []struct {
		name, body string
	}{
		{"not XML", "this is not xml"},
		{"truncated", `<?xml version="1.0"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch>`},
		{"wrong root", `<?xml version="1.0"?><Nonsense/>`},
		{"empty", ""},
		{"binary", "\x00\x01\x02\xff"},
	}
	ops := []struct {
		name string
		call func(opt func(*route53.Options)) error
	}{
		{"CreateHostedZone", func(opt func(*route53.Options)) error {
			_, err := e.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("x.test"), CallerReference: aws.String("x")}, opt)
			return err
		}},
		{"ChangeResourceRecordSets", func(opt func(*route53.Options)) error {
			_, err := e.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
				HostedZoneId: aws.String(id),
				ChangeBatch:  &types.ChangeBatch{Changes: []types.Change{rrChange(types.ChangeActionCreate, "a.example.test", types.RRTypeA, 300, "192.0.2.1")}},
			}, opt)
			return err
		}},
		{"CreateKeySigningKey", func(opt func(*route53.Options)) error {
			_, err := e.client.CreateKeySigningKey(ctx, &route53.CreateKeySigningKeyInput{
				CallerReference: aws.String("c"), HostedZoneId: aws.String(id), KeyManagementServiceArn: aws.String("arn"),
				Name: aws.String("ksk_a"), Status: aws.String("ACTIVE")}, opt)
			return err
		}},
	}
	for _, op := range ops {
		for _, b := range bodies {
			t.Run(op.name+"/"+b.name, func(t *testing.T) {
				err := op.call(withBody(b.body))
				var inv *types.InvalidInput
				if !errors.As(err, &inv) {
					t.Errorf("err = %v, want InvalidInput", err)
				}
			})
		}
	}
	// Required members missing from a well-formed document.
	missing := []struct {
		name string
		call func() error
	}{
		{"zone without CallerReference", func() error {
			return ops[0].call(withBody(`<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Name>y.test</Name></CreateHostedZoneRequest>`))
		}},
		{"KSK without Status", func() error {
			return ops[2].call(withBody(`<CreateKeySigningKeyRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><CallerReference>c</CallerReference><HostedZoneId>` + id + `</HostedZoneId><KeyManagementServiceArn>a</KeyManagementServiceArn><Name>ksk_a</Name></CreateKeySigningKeyRequest>`))
		}},
		{"change without ResourceRecordSet", func() error {
			return ops[1].call(withBody(`<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>CREATE</Action></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`))
		}},
		{"batch without changes", func() error {
			return ops[1].call(withBody(`<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`))
		}},
	}
	for _, m := range missing {
		t.Run(m.name, func(t *testing.T) {
			var inv *types.InvalidInput
			if err := m.call(); !errors.As(err, &inv) {
				t.Errorf("err = %v, want InvalidInput", err)
			}
		})
	}
	if got := len(listAll(t, e, id)); got != 2 {
		t.Errorf("the zone has %d RRsets after malformed requests, want 2", got)
	}
	_, err := e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), StartRecordName: aws.String("a..b")})
	var inv *types.InvalidInput
	if !errors.As(err, &inv) {
		t.Errorf("StartRecordName a..b: err = %v, want InvalidInput", err)
	}
}

func TestUnknownOperation(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.GetHostedZoneCount(context.Background(), &route53.GetHostedZoneCountInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != CodeInvalidAction {
		t.Fatalf("GetHostedZoneCount: err = %v, want %s", err, CodeInvalidAction)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Errorf("HTTP status = %v, want 400", err)
	}
	if want := "/2013-04-01/hostedzonecount"; !strings.Contains(ae.ErrorMessage(), want) {
		t.Errorf("message %q does not name %s", ae.ErrorMessage(), want)
	}
}
