package snsemu

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard/guardtest"
)

// TestThrottleBeforeInjectedFaults checks the order of the checks in front
// of every operation (see guardtest.CheckThrottleBeforeFaults).
func TestThrottleBeforeInjectedFaults(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	call := func() string {
		_, err := h.c.ListTopics(ctx, &sns.ListTopicsInput{})
		return errorCode(err)
	}
	guardtest.CheckThrottleBeforeFaults(t, h.svc, h.clk, "ListTopics", call, "Throttling", "InternalError")
}
