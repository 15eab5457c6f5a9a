package dnssec

import (
	"fmt"
	"testing"
	"time"
)

func TestCacheExpiryAndBound(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	c := newCache()
	c.put("a.test.", 1, &entry{expires: now.Add(time.Minute)}, now)
	c.put("gone.test.", 1, &entry{expires: now}, now) // already expired: not stored
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"a.test.", now, true},
		{"a.test.", now.Add(59 * time.Second), true},
		{"a.test.", now.Add(time.Minute), false},
		{"gone.test.", now, false},
	}
	for _, tt := range tests {
		if got := c.get(tt.name, 1, tt.at) != nil; got != tt.want {
			t.Errorf("get(%s) at +%v = %v, want %v", tt.name, tt.at.Sub(now), got, tt.want)
		}
	}

	for i := range MaxCacheEntries + 1 {
		c.put(fmt.Sprintf("n%d.test.", i), 1, &entry{expires: now.Add(time.Hour)}, now)
	}
	if n := len(c.rrsets); n > MaxCacheEntries {
		t.Errorf("cache holds %d entries, want at most %d", n, MaxCacheEntries)
	}
	c.flush()
	if n := len(c.rrsets); n != 0 {
		t.Errorf("after flush: %d entries, want 0", n)
	}
}
