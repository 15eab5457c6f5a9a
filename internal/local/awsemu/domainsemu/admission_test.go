package domainsemu

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard/guardtest"
)

// TestThrottleBeforeInjectedFaults checks the order of the checks in front
// of every operation (see guardtest.CheckThrottleBeforeFaults).
func TestThrottleBeforeInjectedFaults(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	call := func() string {
		_, err := h.c.GetDomainDetail(ctx, &route53domains.GetDomainDetailInput{DomainName: aws.String("example.net")})
		return errorCode(err)
	}
	guardtest.CheckThrottleBeforeFaults(t, h.svc, h.clk, "GetDomainDetail", call, "ThrottlingException", "InvalidInput")
}
