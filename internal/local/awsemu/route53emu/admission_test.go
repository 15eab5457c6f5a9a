package route53emu

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard/guardtest"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// TestAdmission checks what stands in front of every operation: Route 53's
// 5 requests per second from New on, the throttle before the injected
// faults, and InjectError, where n <= 0 injects nothing and clears nothing.
func TestAdmission(t *testing.T) {
	clk := clock.NewVirtual(t0)
	svc := New(Options{Clock: clk})
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		srv.Close()
		svc.Close()
	})
	client := newClient(srv.URL)
	ctx := context.Background()
	call := func() string {
		_, err := client.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
		return errCode(err)
	}

	var got []string
	for range DefaultThrottleBurst + 1 {
		got = append(got, call())
	}
	want := []string{"", "", "", "", "", CodeThrottling}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("default throttle: call %d of one instant: code %q, want %q", i+1, got[i], want[i])
		}
	}

	guardtest.CheckThrottleBeforeFaults(t, svc, clk, "ListHostedZones", call, CodeThrottling, CodePriorRequestNotComplete)

	// Route 53's injections count calls; n <= 0 neither adds nor clears.
	clk.Advance(time.Second)
	svc.InjectError("ListHostedZones", CodeConcurrentModification, 1)
	svc.InjectError("ListHostedZones", CodeInvalidInput, 0)
	if got := call(); got != CodeConcurrentModification {
		t.Errorf("after InjectError(n=1) and InjectError(n=0): code %q, want %q", got, CodeConcurrentModification)
	}
	clk.Advance(time.Second)
	if got := call(); got != "" {
		t.Errorf("faults used up: code %q, want none", got)
	}
}
