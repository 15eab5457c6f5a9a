package r53dns

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// fakeSource serves snapshots a test sets.
type fakeSource struct {
	mu    sync.Mutex
	snaps map[string]route53emu.Snapshot
	subs  []func(string)
}

func (f *fakeSource) Zones() []route53emu.ZoneRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []route53emu.ZoneRef
	for _, s := range f.snaps {
		out = append(out, s.ZoneRef)
	}
	return out
}

func (f *fakeSource) Snapshot(id string) (route53emu.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.snaps[id]
	if !ok {
		return route53emu.Snapshot{}, route53emu.ErrNoSuchZone
	}
	return s, nil
}

func (f *fakeSource) Subscribe(fn func(string)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
	return func() {}
}

func (f *fakeSource) set(s route53emu.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snaps[s.ID] = s
}

func (f *fakeSource) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.snaps, id)
}

func withA(t *testing.T, snap route53emu.Snapshot, changeID, addr string) route53emu.Snapshot {
	t.Helper()
	snap.ChangeID = changeID
	snap.Records = append(mustRRs(t, zoneText), mustRRs(t, "now 300 A "+addr)...)
	return snap
}

func TestServiceLagAndLifecycle(t *testing.T) {
	clk := clock.NewVirtual(t0)
	snap, _ := signedSnapshot(t)
	snap.NameServers = []string{"ns-1.awsdns-00.test.", "ns-40.awsdns-01.test.", "ns-900.awsdns-28.test.", "ns-2000.awsdns-62.test."}
	src := &fakeSource{snaps: map[string]route53emu.Snapshot{}}
	src.set(withA(t, snap, "C1", "192.0.2.1"))
	published := map[string]netip.Addr{}
	var pmu sync.Mutex
	s, err := Start(Config{Clock: clk, Source: src, Port: 20053 + uint16(time.Now().UnixNano()%1000),
		OnServer: func(name string, addr netip.Addr) error {
			pmu.Lock()
			defer pmu.Unlock()
			published[name] = addr
			return nil
		}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Close()
	zs := s.ZoneServers("/hostedzone/Z1")
	if len(zs) != 4 || len(published) != 4 {
		t.Fatalf("%d servers, %d published; want 4 and 4", len(zs), len(published))
	}
	for _, sv := range zs {
		if published[sv.Name] != sv.Addr.Addr() {
			t.Errorf("server %s at %v published as %v", sv.Name, sv.Addr, published[sv.Name])
		}
	}
	if k := s.ZSK("Z1"); k == nil || k.Flags != dns.ZONE || k.Algorithm != dns.ECDSAP256SHA256 {
		t.Errorf("ZSK = %v, want a zone key (flags 256) of algorithm 13", k)
	}

	const lag = 2 * time.Minute
	zs[1].SetLag(lag)
	// A lagging server serves a new zone only once the lag has passed.
	if r := zs[1].Answer(new(dns.Msg).SetQuestion("now.example.test.", dns.TypeA)); r.Rcode != dns.RcodeRefused {
		t.Errorf("lagging server right after the zone appeared: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	clk.Advance(10 * time.Minute)
	src.set(withA(t, snap, "C2", "192.0.2.2"))
	s.Sync()
	ask := func(sv *Server, name string) *dns.Msg {
		req := new(dns.Msg).SetQuestion(name, dns.TypeA)
		req.SetEdns0(1232, true)
		return sv.Answer(req)
	}
	addr := func(sv *Server) string {
		r := ask(sv, "now.example.test.")
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				return a.A.String()
			}
		}
		return dns.RcodeToString[r.Rcode]
	}
	tests := []struct {
		after time.Duration
		want  [2]string // server 0, lagging server 1
	}{
		{0, [2]string{"192.0.2.2", "192.0.2.1"}},
		{lag - time.Second, [2]string{"192.0.2.2", "192.0.2.1"}},
		{lag, [2]string{"192.0.2.2", "192.0.2.2"}},
	}
	start := clk.Now()
	for _, tt := range tests {
		clk.Set(start.Add(tt.after))
		if got := [2]string{addr(zs[0]), addr(zs[1])}; got != tt.want {
			t.Errorf("+%v: servers answer %v, want %v", tt.after, got, tt.want)
		}
	}
	if r := ask(zs[0], "www.elsewhere.test."); r.Rcode != dns.RcodeRefused {
		t.Errorf("a name in no hosted zone: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	// A deleted zone is REFUSED, by the lagging server only after its lag.
	src.remove("Z1")
	s.Sync()
	if got := [2]string{addr(zs[0]), addr(zs[1])}; got != [2]string{"REFUSED", "192.0.2.2"} {
		t.Errorf("right after deletion: %v, want [REFUSED 192.0.2.2]", got)
	}
	clk.Advance(lag)
	if got := addr(zs[1]); got != "REFUSED" {
		t.Errorf("after the lag: %s, want REFUSED", got)
	}
}

// TestZonesNamed: the zones of one name, by ID, as Zones lists them.
func TestZonesNamed(t *testing.T) {
	src := &fakeSource{snaps: map[string]route53emu.Snapshot{}}
	for i, ref := range []route53emu.ZoneRef{{ID: "Z2", Name: "example.test."}, {ID: "Z1", Name: "example.test."}, {ID: "Z3", Name: "other.test."}} {
		src.set(route53emu.Snapshot{ZoneRef: ref, NameServers: []string{fmt.Sprintf("ns-%d.awsdns-00.test.", i)}})
	}
	s, err := Start(Config{Clock: clock.NewVirtual(t0), Source: src, Port: 21053 + uint16(time.Now().UnixNano()%1000)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"example.test.", []string{"Z1", "Z2"}},
		{"other.test.", []string{"Z3"}},
		{"test.", nil},
	} {
		var ids []string
		for _, z := range s.ZonesNamed(tc.name) {
			if z.Name != tc.name || len(z.Servers) != 1 {
				t.Errorf("ZonesNamed(%s) gave %s with %d servers", tc.name, z.Name, len(z.Servers))
			}
			ids = append(ids, z.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ZonesNamed(%s) = %v, want %v", tc.name, ids, tc.want)
		}
	}
}
