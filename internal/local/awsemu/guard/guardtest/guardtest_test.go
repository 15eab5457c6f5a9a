package guardtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// fakeService admits a call with a guard, checking the faults first when
// faultsFirst is set (the order the check must catch).
type fakeService struct {
	clk         *clock.Virtual
	throttle    guard.Throttle
	faults      guard.Faults
	faultsFirst bool
}

func (s *fakeService) SetThrottle(rate float64, burst int) { s.throttle.Set(rate, burst, s.clk.Now()) }
func (s *fakeService) InjectError(op, code string, n int)  { s.faults.Inject(op, code, n) }

func (s *fakeService) call() string {
	if s.faultsFirst {
		if code := s.faults.Take("Op"); code != "" {
			return code
		}
	}
	if !s.throttle.Allow(s.clk.Now()) {
		return "Throttled"
	}
	return s.faults.Take("Op")
}

// recorder counts the failures a check reports instead of failing the test.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func TestCheckThrottleBeforeFaults(t *testing.T) {
	tests := []struct {
		name        string
		faultsFirst bool
		wantFail    bool
	}{
		{"throttle first", false, false},
		{"faults first", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{clk: clock.NewVirtual(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)), faultsFirst: tt.faultsFirst}
			rec := &recorder{TB: t}
			CheckThrottleBeforeFaults(rec, svc, svc.clk, "Op", svc.call, "Throttled", "Internal")
			if got := len(rec.failures) > 0; got != tt.wantFail {
				t.Errorf("CheckThrottleBeforeFaults reported %q, want failure %v", rec.failures, tt.wantFail)
			}
		})
	}
}
