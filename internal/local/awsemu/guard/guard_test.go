package guard

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var th Throttle
	if !th.Allow(start) {
		t.Fatal("zero Throttle refused a call")
	}
	th.Set(5, 5, start)
	for i := range 5 {
		if !th.Allow(start) {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	if th.Allow(start) {
		t.Error("sixth call in the same instant allowed, want throttled")
	}
	if !th.Allow(start.Add(200 * time.Millisecond)) {
		t.Error("call after 1/rate seconds refused, want one token back")
	}
	if th.Allow(start.Add(200 * time.Millisecond)) {
		t.Error("second call after 1/rate seconds allowed")
	}
	th.Set(0, 0, start)
	if !th.Allow(start) {
		t.Error("Set(0) did not turn throttling off")
	}
}

func TestFaults(t *testing.T) {
	var f Faults
	if got := f.Take("Sign"); got != "" {
		t.Fatalf("empty Faults.Take() = %q", got)
	}
	f.Inject("Sign", "KMSInternalException", 2)
	f.Inject("Sign", "ThrottlingException", 1)
	var got []string
	for range 4 {
		got = append(got, f.Take("Sign"))
	}
	want := []string{"KMSInternalException", "KMSInternalException", "ThrottlingException", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Take() #%d = %q, want %q", i+1, got[i], want[i])
		}
	}
	f.Inject("Sign", "X", 3)
	f.Inject("Sign", "", 0)
	if got := f.Take("Sign"); got != "" {
		t.Errorf("Take() after clearing = %q, want none", got)
	}
}

func TestThrottleRefill(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	type call struct {
		at   time.Duration // after start
		want bool
	}
	tests := []struct {
		name  string
		rate  float64
		burst int
		calls []call
	}{
		{"burst below one is one", 1, 0, []call{{0, true}, {0, false}, {time.Second, true}}},
		{"refill stops at burst", 10, 2, []call{{0, true}, {0, true}, {0, false}, {time.Hour, true}, {time.Hour, true}, {time.Hour, false}}},
		{"fractional tokens add up", 2, 1, []call{{0, true}, {250 * time.Millisecond, false}, {500 * time.Millisecond, true}}},
		{"clock going back refills nothing", 1, 1, []call{{time.Second, true}, {0, false}, {time.Second, false}, {2 * time.Second, true}}},
		{"negative rate is off", -1, 1, []call{{0, true}, {0, true}, {0, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var th Throttle
			th.Set(tt.rate, tt.burst, start)
			for i, c := range tt.calls {
				if got := th.Allow(start.Add(c.at)); got != c.want {
					t.Errorf("call %d: Allow(start+%v) = %v, want %v", i+1, c.at, got, c.want)
				}
			}
		})
	}
}

func TestThrottleSetRefills(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var th Throttle
	th.Set(1, 1, start)
	if !th.Allow(start) || th.Allow(start) {
		t.Fatal("Set(1, 1): want one call allowed, then throttled")
	}
	th.Set(1, 1, start)
	if !th.Allow(start) {
		t.Error("Allow() after a second Set refused, want a full bucket")
	}
}

func TestFaultsPerOperation(t *testing.T) {
	var f Faults
	f.Inject("Sign", "KMSInternalException", 1)
	f.Inject("DescribeKey", "NotFoundException", 1)
	f.Inject("Sign", "X", -1) // clears Sign only
	if got := f.Take("Sign"); got != "" {
		t.Errorf("Take(Sign) after clearing = %q, want none", got)
	}
	if got := f.Take("DescribeKey"); got != "NotFoundException" {
		t.Errorf("Take(DescribeKey) = %q, want NotFoundException", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	var th Throttle
	var f Faults
	th.Set(1, 50, start)
	f.Inject("Op", "E", 50)
	var allowed, faulted atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if th.Allow(start) {
				allowed.Add(1)
			}
			if f.Take("Op") != "" {
				faulted.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 50 {
		t.Errorf("concurrent Allow() let %d calls through, want 50", got)
	}
	if got := faulted.Load(); got != 50 {
		t.Errorf("concurrent Take() returned %d faults, want 50", got)
	}
}
