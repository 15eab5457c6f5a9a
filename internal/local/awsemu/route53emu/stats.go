package route53emu

import (
	"maps"
	"sync"
	"time"
)

// Stats count the requests the emulator admitted and throttled, on its
// clock: what a fleet benchmark reports as the achieved API rate.
type Stats struct {
	Admitted  int            // requests past the throttle
	Throttled int            // requests refused with Throttling
	ByOp      map[string]int // admitted, by operation
	First     time.Time      // the first admitted request
	Last      time.Time      // the last admitted request
	// PeakSecond is the most requests admitted within one clock second.
	PeakSecond int
	// PerMinute counts admitted requests by clock minute (Unix seconds
	// / 60).
	PerMinute map[int64]int
}

// Between counts the admitted requests of the clock minutes from from to
// to (whole minutes).
func (s Stats) Between(from, to time.Time) int {
	n := 0
	for m := from.Unix() / 60; m <= to.Unix()/60; m++ {
		n += s.PerMinute[m]
	}
	return n
}

type stats struct {
	mu       sync.Mutex
	s        Stats
	second   time.Time
	inSecond int
}

func (st *stats) record(op string, now time.Time, admitted bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !admitted {
		st.s.Throttled++
		return
	}
	if st.s.ByOp == nil {
		st.s.ByOp, st.s.PerMinute = map[string]int{}, map[int64]int{}
	}
	st.s.PerMinute[now.Unix()/60]++
	st.s.Admitted++
	st.s.ByOp[op]++
	if st.s.First.IsZero() {
		st.s.First = now
	}
	st.s.Last = now
	if sec := now.Truncate(time.Second); sec.Equal(st.second) {
		st.inSecond++
	} else {
		st.second, st.inSecond = sec, 1
	}
	st.s.PeakSecond = max(st.s.PeakSecond, st.inSecond)
}

// Stats returns the counts since the emulator started or ResetStats.
func (s *Service) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := s.stats.s
	out.ByOp, out.PerMinute = maps.Clone(out.ByOp), maps.Clone(out.PerMinute)
	return out
}

// ResetStats starts counting afresh.
func (s *Service) ResetStats() {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	s.stats.s, s.stats.second, s.stats.inSecond = Stats{}, time.Time{}, 0
}
