package rollover

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignoreTTL = cmpopts.IgnoreFields(Seen{}, "MaxTTL")

func TestRecordSeen(t *testing.T) {
	a, b := ksk(t), ksk(t)
	setA, setB := signed(a), signed(b)
	s := newScene(t)
	at := func(h float64) *time.Time { v := hours(h); return &v }
	steps := []struct {
		name  string
		at    time.Time
		serve serving
		wantA Seen
		wantB *Seen
	}{
		{"A everywhere", hours(0), serving{keys: &setA}, Seen{FirstSeen: hours(0), ServedByAllSince: at(0)}, nil},
		{"B on one server", hours(1), serving{keysBy: map[int]DNSKEYSet{0: setB, 1: setA}},
			Seen{FirstSeen: hours(0)}, &Seen{FirstSeen: hours(1), AbsentAt: hours(0)}},
		{"B everywhere", hours(2), serving{keys: &setB},
			Seen{FirstSeen: hours(0), LastServed: at(2)}, &Seen{FirstSeen: hours(1), AbsentAt: hours(0), ServedByAllSince: at(2)}},
		// A server rolled back: A is served again, so "last served" resets.
		{"A reappears", hours(3), serving{keysBy: map[int]DNSKEYSet{0: setB, 1: setA}},
			Seen{FirstSeen: hours(0)}, &Seen{FirstSeen: hours(1), AbsentAt: hours(0)}},
		{"A gone again", hours(4), serving{keys: &setB},
			Seen{FirstSeen: hours(0), LastServed: at(4)}, &Seen{FirstSeen: hours(1), AbsentAt: hours(0), ServedByAllSince: at(4)}},
		// A server that does not answer is not "every server", but still
		// serves what it served last.
		{"server unknown", hours(5), serving{keys: &setB, unknown: map[string]bool{s.zone[1]: true}},
			Seen{FirstSeen: hours(0), LastServed: at(4)}, &Seen{FirstSeen: hours(1), AbsentAt: hours(0)}},
		{"answers again", hours(6), serving{keys: &setB},
			Seen{FirstSeen: hours(0), LastServed: at(4)}, &Seen{FirstSeen: hours(1), AbsentAt: hours(0), ServedByAllSince: at(6)}},
	}
	for _, st := range steps {
		s.record(st.at, st.serve)
		gotA := s.h.DNSKEY[s.h.findDNSKEY(setA.ID())].Seen
		if diff := cmp.Diff(st.wantA, gotA, ignoreTTL); diff != "" {
			t.Errorf("%s: set A (-want +got):\n%s", st.name, diff)
		}
		if st.wantB == nil {
			continue
		}
		i := s.h.findDNSKEY(setB.ID())
		if i < 0 {
			t.Fatalf("%s: set B not recorded", st.name)
		}
		if diff := cmp.Diff(*st.wantB, s.h.DNSKEY[i].Seen, ignoreTTL); diff != "" {
			t.Errorf("%s: set B (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestRecordUnknownNeverAbsent(t *testing.T) {
	// The only server that served the old DS set stops answering: the set
	// is not gone, since that server may still serve it.
	a, b := ksk(t), ksk(t)
	dsA, dsB := NewDSSet(dsOf(t, a)), NewDSSet(dsOf(t, b))
	s := newScene(t)
	s.record(hours(0), serving{dsBy: map[int]DSSet{0: dsB, 1: dsA}})
	s.record(hours(1), serving{dsBy: map[int]DSSet{0: dsB, 1: dsB}, unknown: map[string]bool{s.parent[1]: true}})
	if got := s.h.DS[s.h.findDS(dsA.ID())].LastServed; got != nil {
		t.Errorf("LastServed = %s, want nil while the server that served it does not answer", stamp(*got))
	}
	s.record(hours(2), serving{ds: &dsB})
	if got := s.h.DS[s.h.findDS(dsA.ID())].LastServed; got == nil || !got.Equal(hours(2)) {
		t.Errorf("LastServed = %v, want %s", got, stamp(hours(2)))
	}
}

func TestRecordTTLs(t *testing.T) {
	a := ksk(t)
	ds := NewDSSet(dsOf(t, a))
	s := newScene(t)
	steps := []struct {
		dsTTL, keyTTL, negTTL  uint32
		unsigned               bool
		wantDS, wantKey, wantN uint32
	}{
		{3600, 300, 900, true, 3600, 0, 900},
		{86400, 7200, 0, false, 86400, 7200, 900},
		{300, 60, 60, true, 86400, 7200, 900}, // lowered TTLs: the largest seen wins
		{300, 172800, 3600, false, 86400, 172800, 900},
	}
	for i, st := range steps {
		s.dsTTL, s.keyTTL, s.negTTL = st.dsTTL, st.keyTTL, st.negTTL
		keys := signed(a)
		if st.unsigned {
			keys = DNSKEYSet{}
		}
		s.record(hours(float64(i)), all(ds, keys))
		if s.h.MaxDSTTL != st.wantDS || s.h.MaxDNSKEYTTL != st.wantKey || s.h.MaxNegativeTTL != st.wantN {
			t.Errorf("step %d: TTLs DS %d DNSKEY %d negative %d, want %d %d %d", i,
				s.h.MaxDSTTL, s.h.MaxDNSKEYTTL, s.h.MaxNegativeTTL, st.wantDS, st.wantKey, st.wantN)
		}
	}
	s.h.ObserveZoneTTL(3600)
	s.h.ObserveZoneTTL(600)
	if !s.h.ZoneTTLKnown || s.h.MaxZoneTTL != 3600 {
		t.Errorf("zone TTL = %d known %v, want 3600 true", s.h.MaxZoneTTL, s.h.ZoneTTLKnown)
	}
}

func TestRecordErrors(t *testing.T) {
	h := NewHistory(zone)
	if err := h.Record(Snapshot{At: hours(2)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []Snapshot{{At: hours(1)}, {}} {
		if err := h.Record(s); err == nil || !strings.HasPrefix(err.Error(), "rollover: ") {
			t.Errorf("Record(%v) = %v, want a rollover error", s.At, err)
		}
	}
}

func TestHistoryJSON(t *testing.T) {
	a, b := ksk(t), ksk(t)
	s := newScene(t)
	s.h.ObserveZoneTTL(300)
	s.record(hours(0), all(NewDSSet(dsOf(t, a)), signed(a)))
	s.record(hours(1), serving{dsBy: map[int]DSSet{0: NewDSSet(dsOf(t, b))}, keys: ptr(signed(a, b)), unknown: map[string]bool{s.zone[0]: true}})
	data, err := json.Marshal(s.h)
	if err != nil {
		t.Fatal(err)
	}
	var back History
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*s.h, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	// The gates from the restored history are the same.
	p1, err := RotateKSKGates(s.h, a, b, time.Hour, hours(1))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := RotateKSKGates(&back, a, b, time.Hour, hours(1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p1, p2); diff != "" {
		t.Errorf("plans differ after JSON (-want +got):\n%s", diff)
	}
}
