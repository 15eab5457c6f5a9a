package route53emu

import (
	"container/heap"
	"time"
)

// Changes becoming INSYNC, in time order: the local DNS servers learn of
// them from a subscription, on a goroutine; a clock hook that must see them
// applied before the clock's move returns takes them with TakeDue instead
// of re-reading every zone.

type dueChange struct {
	at     time.Time
	zoneID string
}

type dueHeap []dueChange

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueChange)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// addDue records that zoneID changes at at. Callers hold s.mu.
func (s *Service) addDue(zoneID string, at time.Time) {
	heap.Push(&s.due, dueChange{at: at, zoneID: zoneID})
}

// TakeDue returns, once each, the zones with a change that became INSYNC at
// or before now since the last call (in time order, a zone once).
func (s *Service) TakeDue(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		c := heap.Pop(&s.due).(dueChange)
		if !seen[c.zoneID] {
			seen[c.zoneID] = true
			out = append(out, c.zoneID)
		}
	}
	return out
}

// ZonesCreated counts the hosted zones ever created (deleted ones too): a
// reader that has seen that many has seen every zone.
func (s *Service) ZonesCreated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// ZoneRef returns the reference of the zone zoneID, if it exists.
func (s *Service) ZoneRef(zoneID string) (ZoneRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[cleanID(zoneID)]
	if z == nil {
		return ZoneRef{}, false
	}
	return ZoneRef{ID: z.id, Name: z.name}, true
}
