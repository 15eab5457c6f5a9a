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

// TestVirtualHooks checks that hooks run around every move, Before while
// the clock still reads the old time and After once sleepers are woken.
func TestVirtualHooks(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	v := NewVirtual(start)
	sleeper := v.After(time.Hour)
	var log []string
	remove := v.Hook(Hooks{
		Before: func(from, to time.Time) {
			log = append(log, "before "+from.Format("15:04")+"->"+to.Format("15:04")+" now "+v.Now().Format("15:04"))
		},
		After: func(now time.Time) {
			woken := "sleeping"
			select {
			case <-sleeper:
				woken = "woken"
			default:
			}
			log = append(log, "after "+now.Format("15:04")+" now "+v.Now().Format("15:04")+" "+woken)
		},
	})
	v.Advance(30 * time.Minute)
	v.Set(start.Add(time.Hour))
	v.Set(start) // no move: no hooks
	remove()
	v.Advance(time.Hour)
	want := []string{
		"before 08:00->08:30 now 08:00",
		"after 08:30 now 08:30 sleeping",
		"before 08:30->09:00 now 08:30",
		"after 09:00 now 09:00 woken",
	}
	if len(log) != len(want) {
		t.Fatalf("hook calls = %q, want %q", log, want)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Errorf("hook call %d = %q, want %q", i, log[i], want[i])
		}
	}
}
