package rollover

import (
	"errors"
	"fmt"
	"time"
)

// Seen says when one DS or DNSKEY set was served. Times come from
// observations, so they are bounds: a set is first seen some time after a
// server began serving it, and LastServed is the first observation at which
// no server served it any more, an upper bound on when a resolver could last
// have fetched it.
type Seen struct {
	FirstSeen time.Time `json:"firstSeen"` // first observation in which some server served it
	// AbsentAt is the last observation before FirstSeen in which every
	// server answered and none served it: it was not served before then.
	// Zero when there was no such observation.
	AbsentAt time.Time `json:"absentAt,omitzero"`
	// ServedByAllSince is the first observation of the current run of
	// observations in which every server served it; nil when some server
	// does not (or did not answer).
	ServedByAllSince *time.Time `json:"servedByAllSince,omitempty"`
	// LastServed is nil while some server serves it, or may (a server that
	// did not answer is taken to serve what it served last). A set that
	// reappears (a server rolled back) is served again: LastServed goes back
	// to nil and is set anew when it is gone again.
	LastServed *time.Time `json:"lastServed,omitempty"`
	// MaxTTL is the largest TTL seen on the set's records while it was
	// served (for the unsigned zone, the largest negative TTL of its NODATA
	// answers): a cached copy of the set lives at most that long. A TTL
	// raised later on another set does not lengthen it, a TTL lowered later
	// does not shorten it.
	MaxTTL uint32 `json:"maxTTL"`
}

// DSSeen is the history of one DS set at the parent.
type DSSeen struct {
	ID  string `json:"id"` // Set.ID()
	Set DSSet  `json:"set"`
	Seen
}

// DNSKEYSeen is the history of one DNSKEY set at the zone's servers.
type DNSKEYSeen struct {
	ID  string    `json:"id"` // Set.ID()
	Set DNSKEYSet `json:"set"`
	Seen
}

// History is what was observed over time about one zone: every DS set its
// parent's servers served and every DNSKEY set its own servers served, and
// the largest TTLs seen. It is plain data (JSON) so that workflow steps can
// pass it on; Record folds in each new observation.
type History struct {
	Zone   string       `json:"zone"`
	DS     []DSSeen     `json:"ds"`
	DNSKEY []DNSKEYSeen `json:"dnskey"`

	// The largest TTLs seen on any set, in seconds (for display; the gates
	// use each set's own Seen.MaxTTL).
	MaxDSTTL     uint32 `json:"maxDSTTL"`     // largest DS TTL on any parent server
	MaxDNSKEYTTL uint32 `json:"maxDNSKEYTTL"` // largest DNSKEY TTL on any zone server
	// MaxNegativeTTL is the largest negative-caching TTL of the zone seen:
	// min(SOA TTL, SOA MINIMUM) of the SOA in its NODATA answers (RFC 2308).
	MaxNegativeTTL uint32 `json:"maxNegativeTTL"`
	// MaxZoneTTL is the largest TTL of any record of the zone, from the
	// zone's record list (ObserveZoneTTL); ZoneTTLKnown says it was given.
	MaxZoneTTL   uint32 `json:"maxZoneTTL"`
	ZoneTTLKnown bool   `json:"zoneTTLKnown"`

	LastObserved time.Time `json:"lastObserved"`
	// LastCompleteParent and LastCompleteZone are the last observations in
	// which every parent (zone) server answered.
	LastCompleteParent time.Time `json:"lastCompleteParent,omitzero"`
	LastCompleteZone   time.Time `json:"lastCompleteZone,omitzero"`
	// ParentServers and ZoneServers map each server to the ID of the set it
	// served at its last answer, so that a server that does not answer is
	// never taken to have stopped serving it.
	ParentServers map[string]string `json:"parentServers"`
	ZoneServers   map[string]string `json:"zoneServers"`
}

// NewHistory returns an empty history of zone.
func NewHistory(zone string) *History {
	return &History{Zone: zone, ParentServers: map[string]string{}, ZoneServers: map[string]string{}}
}

// DSAnswer is one parent server's answer to a DS query.
type DSAnswer struct {
	Server string `json:"server"` // address, e.g. "192.0.2.1:53"
	// Unknown marks a timeout, SERVFAIL, lame or non-authoritative answer:
	// neither present nor absent.
	Unknown bool   `json:"unknown,omitempty"`
	Set     DSSet  `json:"set"` // empty: NODATA (no DS)
	TTL     uint32 `json:"ttl"`
}

// DNSKEYAnswer is one zone server's answer to a DNSKEY query.
type DNSKEYAnswer struct {
	Server  string    `json:"server"`
	Unknown bool      `json:"unknown,omitempty"`
	Set     DNSKEYSet `json:"set"` // empty: the unsigned zone (NODATA)
	TTL     uint32    `json:"ttl"`
	// NegativeTTL is min(SOA TTL, SOA MINIMUM) of the SOA in the answer's
	// authority section when the server answered NODATA (0 otherwise).
	NegativeTTL uint32 `json:"negativeTTL,omitempty"`
}

// Snapshot is one round of queries to every parent and zone server. Either
// side may be empty when it was not observed in that round.
type Snapshot struct {
	At     time.Time      `json:"at"`
	Parent []DSAnswer     `json:"parent"`
	Zone   []DNSKEYAnswer `json:"zone"`
}

// ObserveZoneTTL records the largest TTL of the zone's records (read from
// its record list); the largest value ever given is kept.
func (h *History) ObserveZoneTTL(ttl uint32) {
	h.MaxZoneTTL = max(h.MaxZoneTTL, ttl)
	h.ZoneTTLKnown = true
}

// Record folds snapshot s into h. Snapshots must come in time order.
func (h *History) Record(s Snapshot) error {
	if s.At.IsZero() {
		return errors.New("rollover: snapshot without time")
	}
	if s.At.Before(h.LastObserved) {
		return fmt.Errorf("rollover: snapshot at %s is older than the last one at %s", stamp(s.At), stamp(h.LastObserved))
	}
	if h.ParentServers == nil {
		h.ParentServers = map[string]string{}
	}
	if h.ZoneServers == nil {
		h.ZoneServers = map[string]string{}
	}
	h.LastObserved = s.At

	if len(s.Parent) > 0 {
		answers := make([]answer, len(s.Parent))
		for i, a := range s.Parent {
			answers[i] = answer{server: a.Server, unknown: a.Unknown}
			if a.Unknown {
				continue
			}
			set := NewDSSet(a.Set...)
			answers[i].id = set.ID()
			h.MaxDSTTL = max(h.MaxDSTTL, a.TTL)
			j := h.findDS(answers[i].id)
			if j < 0 {
				h.DS = append(h.DS, DSSeen{ID: answers[i].id, Set: set, Seen: Seen{FirstSeen: s.At, AbsentAt: h.LastCompleteParent}})
				j = len(h.DS) - 1
			}
			h.DS[j].MaxTTL = max(h.DS[j].MaxTTL, a.TTL)
		}
		seen := make([]*Seen, len(h.DS))
		ids := make([]string, len(h.DS))
		for i := range h.DS {
			seen[i], ids[i] = &h.DS[i].Seen, h.DS[i].ID
		}
		update(s.At, answers, h.ParentServers, ids, seen)
		if complete(answers) {
			h.LastCompleteParent = s.At
		}
	}

	if len(s.Zone) > 0 {
		answers := make([]answer, len(s.Zone))
		for i, a := range s.Zone {
			answers[i] = answer{server: a.Server, unknown: a.Unknown}
			if a.Unknown {
				continue
			}
			set := canonicalDNSKEYs(a.Set.Keys)
			answers[i].id = set.ID()
			h.MaxDNSKEYTTL = max(h.MaxDNSKEYTTL, a.TTL)
			h.MaxNegativeTTL = max(h.MaxNegativeTTL, a.NegativeTTL)
			j := h.findDNSKEY(answers[i].id)
			if j < 0 {
				h.DNSKEY = append(h.DNSKEY, DNSKEYSeen{ID: answers[i].id, Set: set, Seen: Seen{FirstSeen: s.At, AbsentAt: h.LastCompleteZone}})
				j = len(h.DNSKEY) - 1
			}
			ttl := a.TTL
			if set.Unsigned() {
				ttl = a.NegativeTTL
			}
			h.DNSKEY[j].MaxTTL = max(h.DNSKEY[j].MaxTTL, ttl)
		}
		seen := make([]*Seen, len(h.DNSKEY))
		ids := make([]string, len(h.DNSKEY))
		for i := range h.DNSKEY {
			seen[i], ids[i] = &h.DNSKEY[i].Seen, h.DNSKEY[i].ID
		}
		update(s.At, answers, h.ZoneServers, ids, seen)
		if complete(answers) {
			h.LastCompleteZone = s.At
		}
	}
	return nil
}

type answer struct {
	server  string
	unknown bool
	id      string // set ID when known
}

func complete(answers []answer) bool {
	for _, a := range answers {
		if a.unknown {
			return false
		}
	}
	return true
}

// update applies one round of answers to the sets' Seen records and to the
// map of what each server served last.
func update(at time.Time, answers []answer, last map[string]string, ids []string, seen []*Seen) {
	served := map[string]bool{}
	byAll := map[string]int{}
	blind := false // a server that never answered may serve any set
	for _, a := range answers {
		if a.unknown {
			// Unknown is never absent: the server may still serve what
			// it served at its last answer.
			if id, ok := last[a.server]; ok {
				served[id] = true
			} else {
				blind = true
			}
			continue
		}
		served[a.id] = true
		byAll[a.id]++
		last[a.server] = a.id
	}
	for i, id := range ids {
		s := seen[i]
		if served[id] {
			s.LastServed = nil
		} else if s.LastServed == nil && !blind {
			s.LastServed = &at
		}
		if byAll[id] == len(answers) {
			if s.ServedByAllSince == nil {
				s.ServedByAllSince = &at
			}
		} else {
			s.ServedByAllSince = nil
		}
	}
}

func (h *History) findDS(id string) int {
	for i, d := range h.DS {
		if d.ID == id {
			return i
		}
	}
	return -1
}

func (h *History) findDNSKEY(id string) int {
	for i, d := range h.DNSKEY {
		if d.ID == id {
			return i
		}
	}
	return -1
}

// CurrentDS returns the DS set every parent server serves now, if there is
// one.
func (h *History) CurrentDS() (DSSet, bool) {
	for _, d := range h.DS {
		if d.ServedByAllSince != nil {
			return d.Set, true
		}
	}
	return nil, false
}

// CurrentDNSKEY returns the DNSKEY set every zone server serves now, if
// there is one.
func (h *History) CurrentDNSKEY() (DNSKEYSet, bool) {
	for _, d := range h.DNSKEY {
		if d.ServedByAllSince != nil {
			return d.Set, true
		}
	}
	return DNSKEYSet{}, false
}

// latestDS returns the DS set every parent server serves or, failing that,
// the one most recently first seen among those still served: the best
// guess of what the parent publishes. ok is false when nothing was observed.
func (h *History) latestDS() (DSSet, bool) {
	if s, ok := h.CurrentDS(); ok {
		return s, true
	}
	for i := len(h.DS) - 1; i >= 0; i-- {
		if h.DS[i].LastServed == nil {
			return h.DS[i].Set, true
		}
	}
	return nil, false
}

// latestDNSKEY is latestDS for the zone's DNSKEY set.
func (h *History) latestDNSKEY() (DNSKEYSet, bool) {
	if s, ok := h.CurrentDNSKEY(); ok {
		return s, true
	}
	for i := len(h.DNSKEY) - 1; i >= 0; i-- {
		if h.DNSKEY[i].LastServed == nil {
			return h.DNSKEY[i].Set, true
		}
	}
	return DNSKEYSet{}, false
}

// dnskeyCacheTTL is how long a cache may hold what it fetched while k was
// served: TTLkey for a signed set; for the unsigned zone, any of its unsigned
// answers or negative answers, so the largest of the zone's TTLs and its
// negative TTL.
func (h *History) dnskeyCacheTTL(k DNSKEYSeen) (uint32, string) {
	if k.Set.Unsigned() {
		return max(h.MaxZoneTTL, k.MaxTTL), "zone max TTL/negative TTL"
	}
	return k.MaxTTL, "DNSKEY TTL"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
