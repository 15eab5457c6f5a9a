package guard

import (
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
