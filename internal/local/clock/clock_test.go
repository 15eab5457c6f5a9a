package clock

import (
	"testing"
	"time"
)

func TestVirtualAfterFiresOnlyWhenTimeComes(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	v := NewVirtual(start)
	ch := v.After(48 * time.Hour)
	v.Advance(47 * time.Hour)
	select {
	case <-ch:
		t.Fatal("After(48h) fired after 47h")
	default:
	}
	if at, ok := v.NextDeadline(); !ok || !at.Equal(start.Add(48*time.Hour)) {
		t.Errorf("NextDeadline() = %v, %v, want %v, true", at, ok, start.Add(48*time.Hour))
	}
	v.Advance(time.Hour)
	select {
	case got := <-ch:
		if want := start.Add(48 * time.Hour); !got.Equal(want) {
			t.Errorf("After fired with %v, want %v", got, want)
		}
	default:
		t.Fatal("After(48h) did not fire after 48h")
	}
}

func TestVirtualNeverRunsBack(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	v := NewVirtual(start)
	v.Set(start.Add(-time.Hour))
	if got := v.Now(); !got.Equal(start) {
		t.Errorf("Now() after Set(earlier) = %v, want %v", got, start)
	}
}
