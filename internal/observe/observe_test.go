package observe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// testClient answers in microseconds on loopback; a dropped query costs
// Timeout*Attempts.
func testClient() *dnsquery.Client {
	return &dnsquery.Client{Timeout: 150 * time.Millisecond, Attempts: 2}
}

func ds(s string) *dns.DS         { return mustRR(s).(*dns.DS) }
func dnskey(s string) *dns.DNSKEY { return mustRR(s).(*dns.DNSKEY) }

func observe(t *testing.T, o *Observer) *Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := o.Observe(ctx, "Example.Test")
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return snap
}

// rowStates summarises rows as "name addr DS=state(reason)" lines.
func rowStates(rows []ServerResult, pick func(ServerResult) *RRset) []string {
	var out []string
	for _, r := range rows {
		set := pick(r)
		s := "nil"
		if set != nil {
			s = set.State.String()
			if set.Reason != "" {
				s += "(" + set.Reason + ")"
			}
		}
		out = append(out, fmt.Sprintf("%s %s", r.Name, s))
	}
	return out
}

func pickDS(r ServerResult) *RRset     { return r.DS }
func pickDNSKEY(r ServerResult) *RRset { return r.DNSKEY }
func pickSOA(r ServerResult) *RRset    { return r.SOA }

func TestObserveAllAgree(t *testing.T) {
	w := newWorld(t, 3, 4)
	snap := observe(t, w.observer(t))

	if snap.Zone != "example.test." || snap.Parent != "test." {
		t.Errorf("Zone, Parent = %q, %q, want example.test., test.", snap.Zone, snap.Parent)
	}
	if !snap.Time.Equal(testNow) {
		t.Errorf("Time = %v, want the injected clock's %v", snap.Time, testNow)
	}
	wantNS := []string{"ns1.example.test.", "ns2.example.test.", "ns3.example.test.", "ns4.example.test."}
	if diff := cmp.Diff(wantNS, snap.DelegationNS); diff != "" {
		t.Errorf("DelegationNS (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantNS, snap.ApexNS); diff != "" {
		t.Errorf("ApexNS (-want +got):\n%s", diff)
	}
	var gotParents []string
	for _, r := range snap.ParentServers {
		gotParents = append(gotParents, fmt.Sprintf("%s %s %t %t", r.Name, r.Addr, r.Delegation, r.Apex))
	}
	var wantParents []string
	for i := 1; i <= 3; i++ {
		wantParents = append(wantParents, fmt.Sprintf("ns%d.nic.test. 127.0.1.%d:%d true true", i, 10+i, w.net.port))
	}
	if diff := cmp.Diff(wantParents, gotParents); diff != "" {
		t.Errorf("parent rows (-want +got):\n%s", diff)
	}
	if len(snap.ZoneServers) != 4 {
		t.Fatalf("zone rows = %d, want 4", len(snap.ZoneServers))
	}
	for _, r := range snap.ZoneServers {
		if r.DNSKEY.State != OK || len(r.DNSKEY.Records) != 2 || r.SOA.State != OK || r.Serial != 2026112701 || !r.Delegation || !r.Apex {
			t.Errorf("zone row %s = DNSKEY %v (%d records), SOA %v serial %d, delegation %t apex %t; want ok, 2, ok, 2026112701, true, true",
				r.Name, r.DNSKEY.State, len(r.DNSKEY.Records), r.SOA.State, r.Serial, r.Delegation, r.Apex)
		}
	}
	for _, tc := range []struct {
		name string
		got  Coverage
		want Coverage
	}{
		{"DSServed(old)", snap.DSServed([]*dns.DS{ds(dsOld)}), All},
		{"DSServed(old, new)", snap.DSServed([]*dns.DS{ds(dsOld), ds(dsNew)}), None},
		{"DSServed(nil)", snap.DSServed(nil), None},
		{"DSPresent()", snap.DSPresent(), All},
		{"DSPresent(new)", snap.DSPresent(ds(dsNew)), None},
		{"DNSKEYPresent(kskOld)", snap.DNSKEYPresent(dnskey(kskOld)), All},
		{"DNSKEYPresent(kskNew)", snap.DNSKEYPresent(dnskey(kskNew)), None},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if got := snap.ZoneServersAgree(); got != Agree {
		t.Errorf("ZoneServersAgree() = %v, want agree", got)
	}
	if len(snap.Problems) != 0 {
		t.Errorf("Problems = %q, want none", snap.Problems)
	}
	for _, tc := range []struct {
		name string
		f    func() (uint32, bool)
		want uint32
	}{
		{"MaxDSTTL", snap.MaxDSTTL, 3600},
		{"MaxDNSKEYTTL", snap.MaxDNSKEYTTL, 3600},
		{"MaxSOATTL", snap.MaxSOATTL, 900},
		{"MaxNegativeTTL", snap.MaxNegativeTTL, 300},
	} {
		if got, complete := tc.f(); got != tc.want || !complete {
			t.Errorf("%s() = %d, %t, want %d, true", tc.name, got, complete, tc.want)
		}
	}
	if got, ok := snap.EarliestExpiry(); !ok || !got.Equal(testExpiry) {
		t.Errorf("EarliestExpiry() = %v, %t, want %v, true", got, ok, testExpiry)
	}
	if snap.Queries == 0 || int64(snap.Queries) != w.net.queries() {
		t.Errorf("Queries = %d, servers saw %d", snap.Queries, w.net.queries())
	}
}

func TestObserveParentServers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(w *world)
		wantRows   []string
		servedOld  Coverage // DSServed({old})
		servedBoth Coverage // DSServed({old, new})
		presentNew Coverage // DSPresent(new)
		presentAny Coverage // DSPresent()
		noDS       Coverage // DSServed(nil)
		problem    string   // a substring of some problem, when set
	}{
		{
			name: "one server lags with the old DS set",
			setup: func(w *world) {
				for _, p := range w.parents[:2] {
					p.setZone("test.", parentRecords(3, seq(4), dsOld, dsNew))
				}
			},
			wantRows:  []string{"ns1.nic.test. ok", "ns2.nic.test. ok", "ns3.nic.test. ok"},
			servedOld: Some, servedBoth: Some, presentNew: Some, presentAny: All, noDS: None,
			problem: "2 different DS sets",
		},
		{
			name:      "one server drops queries",
			setup:     func(w *world) { w.parents[1].setFault(faultDrop) },
			wantRows:  []string{"ns1.nic.test. ok", "ns2.nic.test. unknown(timeout)", "ns3.nic.test. ok"},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, presentNew: CoverageUnknown, presentAny: CoverageUnknown, noDS: CoverageUnknown,
		},
		{
			name:      "REFUSED",
			setup:     func(w *world) { w.parents[0].setFault(faultRefused) },
			wantRows:  []string{"ns1.nic.test. unknown(REFUSED)", "ns2.nic.test. ok", "ns3.nic.test. ok"},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, presentNew: CoverageUnknown, presentAny: CoverageUnknown, noDS: CoverageUnknown,
		},
		{
			name:      "SERVFAIL",
			setup:     func(w *world) { w.parents[2].setFault(faultServfail) },
			wantRows:  []string{"ns1.nic.test. ok", "ns2.nic.test. ok", "ns3.nic.test. unknown(SERVFAIL)"},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, presentNew: CoverageUnknown, presentAny: CoverageUnknown, noDS: CoverageUnknown,
		},
		{
			name:      "lame",
			setup:     func(w *world) { w.parents[2].setFault(faultLame) },
			wantRows:  []string{"ns1.nic.test. ok", "ns2.nic.test. ok", "ns3.nic.test. unknown(not authoritative)"},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, presentNew: CoverageUnknown, presentAny: CoverageUnknown, noDS: CoverageUnknown,
			problem: "ns3.nic.test (127.0.1.13",
		},
		{
			name: "negative answer without SOA is malformed",
			setup: func(w *world) {
				w.parents[0].setZone("test.", parentRecords(3, seq(4)))
				w.parents[0].setFault(faultNoSOA)
			},
			wantRows:  []string{"ns1.nic.test. unknown(malformed)", "ns2.nic.test. ok", "ns3.nic.test. ok"},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, presentNew: CoverageUnknown, presentAny: CoverageUnknown, noDS: CoverageUnknown,
		},
		{
			name: "DS withdrawn from one server, another drops: some already decided",
			setup: func(w *world) {
				w.parents[0].setZone("test.", parentRecords(3, seq(4)))
				w.parents[1].setFault(faultDrop)
			},
			wantRows:  []string{"ns1.nic.test. absent(NODATA)", "ns2.nic.test. unknown(timeout)", "ns3.nic.test. ok"},
			servedOld: Some, servedBoth: CoverageUnknown, presentNew: CoverageUnknown, presentAny: Some, noDS: Some,
		},
		{
			name: "DS withdrawn everywhere",
			setup: func(w *world) {
				for _, p := range w.parents {
					p.setZone("test.", parentRecords(3, seq(4)))
				}
			},
			wantRows:  []string{"ns1.nic.test. absent(NODATA)", "ns2.nic.test. absent(NODATA)", "ns3.nic.test. absent(NODATA)"},
			servedOld: None, servedBoth: None, presentNew: None, presentAny: None, noDS: All,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 3, 4)
			tc.setup(w)
			snap := observe(t, w.observer(t))
			if diff := cmp.Diff(tc.wantRows, rowStates(snap.ParentServers, pickDS)); diff != "" {
				t.Errorf("DS rows (-want +got):\n%s", diff)
			}
			for _, c := range []struct {
				name      string
				got, want Coverage
			}{
				{"DSServed(old)", snap.DSServed([]*dns.DS{ds(dsOld)}), tc.servedOld},
				{"DSServed(old, new)", snap.DSServed([]*dns.DS{ds(dsNew), ds(dsOld)}), tc.servedBoth},
				{"DSPresent(new)", snap.DSPresent(ds(dsNew)), tc.presentNew},
				{"DSPresent()", snap.DSPresent(), tc.presentAny},
				{"DSServed(nil)", snap.DSServed(nil), tc.noDS},
			} {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if tc.problem != "" && !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Errorf("Problems = %q, want one containing %q", snap.Problems, tc.problem)
			}
		})
	}
}

func TestObserveZoneServers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(w *world)
		wantDNSKEY []string
		wantSOA    []string
		agree      Agreement
		newKSK     Coverage // DNSKEYPresent(kskNew)
		problem    string
	}{
		{
			name:       "one server drops",
			setup:      func(w *world) { w.zone[3].setFault(faultDrop) },
			wantDNSKEY: []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. unknown(timeout)"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. unknown(timeout)"},
			agree:      AgreementUnknown, newKSK: CoverageUnknown,
		},
		{
			name:       "lame server",
			setup:      func(w *world) { w.zone[0].setFault(faultLame) },
			wantDNSKEY: []string{"ns1.example.test. unknown(not authoritative)", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. unknown(not authoritative)", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			agree:      AgreementUnknown, newKSK: CoverageUnknown,
			problem: "name server ns1.example.test (127.0.1.21",
		},
		{
			name:       "server refers upwards",
			setup:      func(w *world) { w.zone[0].setFault(faultUpReferral) },
			wantDNSKEY: []string{"ns1.example.test. unknown(not authoritative)", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. unknown(not authoritative)", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			agree:      AgreementUnknown, newKSK: CoverageUnknown,
		},
		{
			name:       "REFUSED and SERVFAIL",
			setup:      func(w *world) { w.zone[1].setFault(faultRefused); w.zone[2].setFault(faultServfail) },
			wantDNSKEY: []string{"ns1.example.test. ok", "ns2.example.test. unknown(REFUSED)", "ns3.example.test. unknown(SERVFAIL)", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. unknown(REFUSED)", "ns3.example.test. unknown(SERVFAIL)", "ns4.example.test. ok"},
			agree:      AgreementUnknown, newKSK: CoverageUnknown,
		},
		{
			name: "one server still has the old DNSKEY set",
			setup: func(w *world) {
				for _, z := range w.zone[1:] {
					z.setZone("example.test.", zoneRecords(2026112702, seq(4), testExpiry, kskOld, kskNew, zsk))
				}
			},
			wantDNSKEY: []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			agree:      Disagree, newKSK: Some,
			problem: "2 different DNSKEY sets",
		},
		{
			name: "serials differ, keys agree",
			setup: func(w *world) {
				w.zone[2].setZone("example.test.", zoneRecords(2026112702, seq(4), testExpiry, kskOld, zsk))
			},
			wantDNSKEY: []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			agree:      Disagree, newKSK: None,
			problem: "2 different SOA serials",
		},
		{
			name: "disagreement decided despite an unknown server",
			setup: func(w *world) {
				w.zone[0].setZone("example.test.", zoneRecords(2026112702, seq(4), testExpiry, kskNew, zsk))
				w.zone[3].setFault(faultDrop)
			},
			wantDNSKEY: []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. unknown(timeout)"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. unknown(timeout)"},
			agree:      Disagree, newKSK: Some,
		},
		{
			name:       "unsigned server: DNSKEY absent",
			setup:      func(w *world) { w.zone[0].setZone("example.test.", zoneRecords(2026112701, seq(4), testExpiry)) },
			wantDNSKEY: []string{"ns1.example.test. absent(NODATA)", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			agree:      Disagree, newKSK: None,
		},
		{
			name:       "TCP fallback when every UDP answer is truncated",
			setup:      func(w *world) { w.zone[2].setFault(faultTruncate) },
			wantDNSKEY: []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			wantSOA:    []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns3.example.test. ok", "ns4.example.test. ok"},
			agree:      Agree, newKSK: None,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 2, 4)
			tc.setup(w)
			snap := observe(t, w.observer(t))
			if diff := cmp.Diff(tc.wantDNSKEY, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
				t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSOA, rowStates(snap.ZoneServers, pickSOA)); diff != "" {
				t.Errorf("SOA rows (-want +got):\n%s", diff)
			}
			if got := snap.ZoneServersAgree(); got != tc.agree {
				t.Errorf("ZoneServersAgree() = %v, want %v", got, tc.agree)
			}
			if got := snap.DNSKEYPresent(dnskey(kskNew)); got != tc.newKSK {
				t.Errorf("DNSKEYPresent(kskNew) = %v, want %v", got, tc.newKSK)
			}
			if tc.problem != "" && !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Errorf("Problems = %q, want one containing %q", snap.Problems, tc.problem)
			}
		})
	}
}

func TestObserveTCPFallbackUsesTCP(t *testing.T) {
	w := newWorld(t, 2, 2)
	w.zone[0].setFault(faultTruncate)
	snap := observe(t, w.observer(t))
	if got := w.zone[0].tcp.Load(); got < 3 {
		t.Errorf("TCP queries at the truncating server = %d, want at least 3 (DNSKEY, SOA, NS)", got)
	}
	if got := w.zone[1].tcp.Load(); got != 0 {
		t.Errorf("TCP queries at the normal server = %d, want 0", got)
	}
	if r := snap.ZoneServers[0]; r.DNSKEY.State != OK || len(r.DNSKEY.Sigs) != 1 {
		t.Errorf("truncating server's DNSKEY = %v with %d RRSIGs, want ok with 1", r.DNSKEY.State, len(r.DNSKEY.Sigs))
	}
}

func TestObserveTTLAndExpiry(t *testing.T) {
	w := newWorld(t, 2, 3)
	early := testNow.Add(36 * time.Hour)
	// ns2 serves the DNSKEY with a record TTL lowered below the RRSIG's
	// original TTL, and signatures that expire earlier.
	rrs := zoneRecords(2026112701, seq(3), early, strings.Replace(kskOld, " 3600 ", " 60 ", 1), strings.Replace(zsk, " 3600 ", " 60 ", 1))
	w.zone[1].setZone("example.test.", rrs)
	// ns3 serves an unsigned DNSKEY set with a longer record TTL.
	w.zone[2].setZone("example.test.", append(zoneRecords(2026112701, seq(3), testExpiry),
		mustRRs(strings.Replace(kskOld, " 3600 ", " 7200 ", 1), strings.Replace(zsk, " 3600 ", " 7200 ", 1))...))
	snap := observe(t, w.observer(t))

	var got []string
	for _, r := range snap.ZoneServers {
		got = append(got, fmt.Sprintf("%s ttl=%d sigs=%d expiry=%s", r.Name, r.DNSKEY.TTL, len(r.DNSKEY.Sigs), r.DNSKEY.Expiry.Format(time.RFC3339)))
	}
	want := []string{
		"ns1.example.test. ttl=3600 sigs=1 expiry=" + testExpiry.Format(time.RFC3339),
		"ns2.example.test. ttl=3600 sigs=1 expiry=" + early.Format(time.RFC3339), // the RRSIG original TTL
		"ns3.example.test. ttl=7200 sigs=0 expiry=0001-01-01T00:00:00Z",          // the record TTL
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DNSKEY TTL and expiry per server (-want +got):\n%s", diff)
	}
	if ttl, complete := snap.MaxDNSKEYTTL(); ttl != 7200 || !complete {
		t.Errorf("MaxDNSKEYTTL() = %d, %t, want 7200, true", ttl, complete)
	}
	if exp, ok := snap.EarliestExpiry(); !ok || !exp.Equal(early) {
		t.Errorf("EarliestExpiry() = %v, %t, want %v, true", exp, ok, early)
	}
}

func TestObserveNSMismatch(t *testing.T) {
	w := newWorld(t, 2, 4)
	// The delegation names ns1-ns4; the apex names ns1-ns3 and ns5 (which has
	// no glue: its address comes from a look-up that follows referrals).
	ns5 := w.net.start("ns5.example.test.", "127.0.1.25")
	for _, z := range append([]*testServer{ns5}, w.zone...) {
		z.setZone("example.test.", zoneRecords(2026112701, []int{1, 2, 3, 5}, testExpiry, kskOld, zsk))
	}
	snap := observe(t, w.observer(t))

	if diff := cmp.Diff([]string{"ns1.example.test.", "ns2.example.test.", "ns3.example.test.", "ns4.example.test."}, snap.DelegationNS); diff != "" {
		t.Errorf("DelegationNS (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ns1.example.test.", "ns2.example.test.", "ns3.example.test.", "ns5.example.test."}, snap.ApexNS); diff != "" {
		t.Errorf("ApexNS (-want +got):\n%s", diff)
	}
	var rows []string
	for _, r := range snap.ZoneServers {
		rows = append(rows, fmt.Sprintf("%s %s delegation=%t apex=%t dnskey=%v", r.Name, r.Addr, r.Delegation, r.Apex, r.DNSKEY.State))
	}
	p := w.net.port
	wantRows := []string{
		fmt.Sprintf("ns1.example.test. 127.0.1.21:%d delegation=true apex=true dnskey=ok", p),
		fmt.Sprintf("ns2.example.test. 127.0.1.22:%d delegation=true apex=true dnskey=ok", p),
		fmt.Sprintf("ns3.example.test. 127.0.1.23:%d delegation=true apex=true dnskey=ok", p),
		fmt.Sprintf("ns4.example.test. 127.0.1.24:%d delegation=true apex=false dnskey=ok", p),
		fmt.Sprintf("ns5.example.test. 127.0.1.25:%d delegation=false apex=true dnskey=ok", p),
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("zone rows (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"NS in the delegation but not in the apex NS set: ns4.example.test.",
		"NS in the apex NS set but not in the delegation: ns5.example.test.",
	} {
		if !slices.Contains(snap.Problems, want) {
			t.Errorf("Problems = %q, want %q", snap.Problems, want)
		}
	}
}

func TestObserveNSAddrsOverride(t *testing.T) {
	w := newWorld(t, 2, 2)
	// ns2.example.test. really listens elsewhere, on its own port.
	moved := w.net.startAt("ns2.example.test.", netip.MustParseAddrPort("127.0.0.1:0"))
	moved.setZone("example.test.", zoneRecords(2026112799, seq(2), testExpiry, kskOld, zsk))
	w.zone[1].setFault(faultDrop)
	o := w.observer(t, func(c *Config) {
		c.NSAddrs = map[string][]netip.AddrPort{"NS2.example.test": {moved.addr}}
	})
	snap := observe(t, o)
	var got []string
	for _, r := range snap.ZoneServers {
		got = append(got, fmt.Sprintf("%s %s serial=%d", r.Name, r.Addr, r.Serial))
	}
	want := []string{
		fmt.Sprintf("ns1.example.test. 127.0.1.21:%d serial=2026112701", w.net.port),
		fmt.Sprintf("ns2.example.test. %s serial=2026112799", moved.addr),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zone rows (-want +got):\n%s", diff)
	}
}

// lookupFunc is an AddrResolver for tests.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

func (f lookupFunc) LookupAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	return f(ctx, host)
}

func TestObserveAddrResolver(t *testing.T) {
	w := newWorld(t, 2, 2)
	// The zone's servers are out of bailiwick (no glue); the resolver knows
	// one of them and fails for the other.
	ext := w.net.start("ns.provider.example.", "127.0.1.40")
	ext.setZone("example.test.", mustRRs(
		"example.test. 900 IN SOA ns.provider.example. hostmaster.example.test. 7 7200 900 1209600 300",
		"example.test. 3600 IN NS ns.provider.example.",
		"example.test. 3600 IN NS ns.broken.example.",
		kskOld,
	))
	for _, p := range w.parents {
		p.setZone("test.", mustRRs(
			"test. 86400 IN SOA ns1.nic.test. hostmaster.nic.test. 1 7200 3600 1209600 900",
			"test. 86400 IN NS ns1.nic.test.", "ns1.nic.test. 86400 IN A 127.0.1.11",
			"test. 86400 IN NS ns2.nic.test.", "ns2.nic.test. 86400 IN A 127.0.1.12",
			"example.test. 3600 IN NS ns.provider.example.",
			"example.test. 3600 IN NS ns.broken.example.",
		))
	}
	var mu sync.Mutex
	var asked []string
	o := w.observer(t, func(c *Config) {
		c.Resolver = lookupFunc(func(_ context.Context, host string) ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, host)
			if host == "ns.provider.example." {
				return []netip.Addr{netip.MustParseAddr("127.0.1.40")}, nil
			}
			return nil, errors.New("lookup failed")
		})
	})
	snap := observe(t, o)
	slices.Sort(asked)
	if diff := cmp.Diff([]string{"ns.broken.example.", "ns.provider.example."}, asked); diff != "" {
		t.Errorf("names looked up (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ns.broken.example. unknown(no address)", "ns.provider.example. ok"}, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
		t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
	}
	if got := snap.DNSKEYPresent(dnskey(kskOld)); got != CoverageUnknown {
		t.Errorf("DNSKEYPresent(kskOld) = %v, want unknown (a name server has no address)", got)
	}
	if !slices.ContainsFunc(snap.Problems, func(p string) bool { return strings.HasPrefix(p, "name server ns.broken.example has no address") }) {
		t.Errorf("Problems = %q, want one about ns.broken.example's address", snap.Problems)
	}
}

func TestObserveUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(w *world)
		wantErr bool
	}{
		{"every zone server drops", func(w *world) {
			for _, z := range w.zone {
				z.setFault(faultDrop)
			}
		}, false},
		{"every parent server drops", func(w *world) {
			for _, p := range w.parents {
				p.setFault(faultDrop)
			}
		}, true},
		{"the root drops", func(w *world) { w.root.setFault(faultDrop) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, 2, 3)
			tc.setup(w)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			snap, err := w.observer(t).Observe(ctx, "example.test.")
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("Observe took %v, want well under its 5 s context", elapsed)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Observe() = %+v, nil, want an error", snap)
				}
				return
			}
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			for _, r := range snap.ZoneServers {
				if r.DNSKEY.State != Unknown || r.SOA.State != Unknown || r.NS.State != Unknown {
					t.Errorf("zone row %s = %v/%v/%v, want unknown everywhere", r.Name, r.DNSKEY.State, r.SOA.State, r.NS.State)
				}
			}
			if got := snap.ZoneServersAgree(); got != AgreementUnknown {
				t.Errorf("ZoneServersAgree() = %v, want unknown", got)
			}
			if got := snap.DNSKEYPresent(); got != CoverageUnknown {
				t.Errorf("DNSKEYPresent() = %v, want unknown", got)
			}
			if _, complete := snap.MaxDNSKEYTTL(); complete {
				t.Errorf("MaxDNSKEYTTL() complete = true, want false")
			}
		})
	}
}

func TestObserveContextBoundsEverything(t *testing.T) {
	w := newWorld(t, 2, 2)
	for _, z := range w.zone {
		z.setFault(faultDrop)
	}
	o := w.observer(t, func(c *Config) { c.Client = &dnsquery.Client{Timeout: 5 * time.Second, Attempts: 3} })
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	snap, err := o.Observe(ctx, "example.test.")
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Observe took %v with a 400 ms context", elapsed)
	}
	if err != nil {
		t.Fatalf("Observe: %v (discovery does not need the dropping zone servers)", err)
	}
	if diff := cmp.Diff([]string{"ns1.example.test. unknown(timeout)", "ns2.example.test. unknown(timeout)"}, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
		t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
	}
	if got := snap.ZoneServersAgree(); got != AgreementUnknown {
		t.Errorf("ZoneServersAgree() = %v after the context expired, want unknown", got)
	}
}

func TestObserveNotDelegated(t *testing.T) {
	for _, tc := range []struct {
		zone       string
		wantReason string
	}{
		{"nosuch.test.", ReasonNXDomain},
		{"ns1.nic.test.", ReasonNoData},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			w := newWorld(t, 2, 2)
			_, err := w.observer(t).Observe(context.Background(), tc.zone)
			var nd *NotDelegatedError
			if !errors.As(err, &nd) {
				t.Fatalf("Observe(%s) error = %v, want *NotDelegatedError", tc.zone, err)
			}
			if nd.Parent != "test." || nd.Reason != tc.wantReason {
				t.Errorf("NotDelegatedError = %+v, want parent test. and reason %s", nd, tc.wantReason)
			}
		})
	}
}

func TestObserveDiscoverySkipsDeadParent(t *testing.T) {
	w := newWorld(t, 3, 2)
	w.parents[0].setFault(faultDrop) // the first server discovery asks
	snap := observe(t, w.observer(t))
	if got := snap.DSPresent(ds(dsOld)); got != CoverageUnknown {
		t.Errorf("DSPresent(old) = %v, want unknown (ns1.nic.test. drops)", got)
	}
	if diff := cmp.Diff([]string{"ns1.example.test. ok", "ns2.example.test. ok"}, rowStates(snap.ZoneServers, pickDNSKEY)); diff != "" {
		t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
	}
}

func TestObserveParentIsRoot(t *testing.T) {
	w := newWorld(t, 2, 2)
	snap := observe2(t, w.observer(t), "test.")
	if snap.Parent != "." {
		t.Errorf("Parent = %q, want .", snap.Parent)
	}
	if diff := cmp.Diff([]string{"a.root.test. absent(NODATA)"}, rowStates(snap.ParentServers, pickDS)); diff != "" {
		t.Errorf("root rows (-want +got):\n%s", diff)
	}
	if got := snap.DSServed(nil); got != All {
		t.Errorf("DSServed(nil) = %v, want all (the root holds no DS for test.)", got)
	}
}

func observe2(t *testing.T, o *Observer, zone string) *Snapshot {
	t.Helper()
	snap, err := o.Observe(context.Background(), zone)
	if err != nil {
		t.Fatalf("Observe(%s): %v", zone, err)
	}
	return snap
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero value", Config{}, false},
		{"root without port", Config{Roots: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)}}, true},
		{"bad NSAddrs name", Config{NSAddrs: map[string][]netip.AddrPort{"a..b": nil}}, true},
		{"NSAddrs without port", Config{NSAddrs: map[string][]netip.AddrPort{"ns.test": {{}}}}, true},
		{"negative concurrency", Config{Concurrency: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Errorf("New(%+v) error = %v, want error %t", tc.cfg, err, tc.wantErr)
			}
		})
	}
	o, _ := New(Config{})
	if _, err := o.Observe(context.Background(), "."); err == nil {
		t.Errorf("Observe(.) error = nil, want an error (the root has no parent)")
	}
	if _, err := o.Observe(context.Background(), "bad..name"); err == nil {
		t.Errorf("Observe(bad..name) error = nil, want an error")
	}
}

func TestObserveIPv4Only(t *testing.T) {
	for _, tc := range []struct {
		ipv4Only bool
		want     []string
	}{
		{false, []string{"ns1.example.test. ok", "ns2.example.test. ok", "ns2.example.test. unknown(timeout)"}},
		{true, []string{"ns1.example.test. ok", "ns2.example.test. ok"}},
	} {
		t.Run(fmt.Sprint("IPv4Only=", tc.ipv4Only), func(t *testing.T) {
			w := newWorld(t, 1, 2)
			// ns2 also has an IPv6 address where nothing listens.
			w.parents[0].setZone("test.", append(parentRecords(1, seq(2), dsOld), mustRR("ns2.example.test. 3600 IN AAAA ::1")))
			snap := observe(t, w.observer(t, func(c *Config) { c.IPv4Only = tc.ipv4Only }))
			got := rowStates(snap.ZoneServers, pickDNSKEY)
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DNSKEY rows (-want +got):\n%s", diff)
			}
		})
	}
}
