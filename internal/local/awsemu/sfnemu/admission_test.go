package sfnemu

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard/guardtest"
)

// TestThrottleBeforeInjectedFaults checks the order of the checks in front
// of every operation (see guardtest.CheckThrottleBeforeFaults).
func TestThrottleBeforeInjectedFaults(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	call := func() string {
		_, err := st.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}
	guardtest.CheckThrottleBeforeFaults(t, st.svc, st.clock, "ListStateMachines", call, "ThrottlingException", "ServiceUnavailable")
}
