package resolveremu

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard/guardtest"
)

// TestThrottleBeforeInjectedFaults checks the order of the checks in front
// of every operation (see guardtest.CheckThrottleBeforeFaults).
func TestThrottleBeforeInjectedFaults(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	call := func() string {
		_, err := h.c.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String(vpcA)})
		return errorCode(err)
	}
	guardtest.CheckThrottleBeforeFaults(t, h.svc, h.clk, "GetResolverDnssecConfig", call, "ThrottlingException", "InternalServiceErrorException")
}
