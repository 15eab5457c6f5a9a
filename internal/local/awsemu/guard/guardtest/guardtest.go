// Package guardtest checks, through an emulator's own API and wire, that it
// puts its guard.Throttle and guard.Faults in front of its operations in
// the order every emulated AWS API keeps.
package guardtest

import (
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// Service is the part of an emulator that configures its guard.
type Service interface {
	SetThrottle(ratePerSecond float64, burst int)
	InjectError(operation, code string, n int)
}

// CheckThrottleBeforeFaults sets svc's throttle to one request per second,
// injects two faults with faultCode into operation and checks, moving clk,
// that call (one request of operation, returning the error code of the
// answer, "" for success) is answered: first fault, throttleCode (a
// throttled call is refused before the faults are looked at and leaves them
// queued), second fault, success.
func CheckThrottleBeforeFaults(t testing.TB, svc Service, clk *clock.Virtual, operation string, call func() string, throttleCode, faultCode string) {
	t.Helper()
	svc.SetThrottle(1, 1)
	svc.InjectError(operation, faultCode, 2)
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{0, faultCode},           // a token, then the first fault
		{0, throttleCode},        // no token: throttled, the second fault stays queued
		{time.Second, faultCode}, // a token again: the second fault
		{time.Second, ""},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if got := call(); got != st.want {
			t.Errorf("%s call %d: error code %q, want %q", operation, i+1, got, st.want)
		}
	}
}
