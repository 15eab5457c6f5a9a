package observe

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// dsRow is a parent row serving the DS records given (state OK), or the
// state given when rrs is empty.
func dsRow(state State, rrs ...string) ServerResult {
	set := &RRset{State: state}
	for _, s := range rrs {
		rr := mustRR(s)
		set.Records = append(set.Records, rr)
		set.TTL = max(set.TTL, rr.Header().Ttl)
	}
	return ServerResult{Name: "ns.test.", DS: set}
}

func TestCoverage(t *testing.T) {
	lower := strings.Replace(dsOld, "AAAA", "aaaa", 1)
	otherOwner := strings.Replace(dsNew, "example.test.", "EXAMPLE.TEST.", 1)
	for _, tc := range []struct {
		name            string
		rows            []ServerResult
		servedOld       Coverage // DSServed({old})
		servedBoth      Coverage // DSServed({old, new})
		servedNone      Coverage // DSServed(nil)
		presentOld      Coverage // DSPresent(old)
		presentAny      Coverage // DSPresent()
		wantMaxTTL      uint32
		wantTTLComplete bool
	}{
		{
			name:      "no rows is unknown",
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, servedNone: CoverageUnknown, presentOld: CoverageUnknown, presentAny: CoverageUnknown,
		},
		{
			name:      "all serve old",
			rows:      []ServerResult{dsRow(OK, dsOld), dsRow(OK, lower)},
			servedOld: All, servedBoth: None, servedNone: None, presentOld: All, presentAny: All,
			wantMaxTTL: 3600, wantTTLComplete: true,
		},
		{
			name:      "all serve both, in any order and case",
			rows:      []ServerResult{dsRow(OK, dsOld, dsNew), dsRow(OK, otherOwner, lower), dsRow(OK, dsNew, dsOld, dsOld)},
			servedOld: None, servedBoth: All, servedNone: None, presentOld: All, presentAny: All,
			wantMaxTTL: 3600, wantTTLComplete: true,
		},
		{
			name:      "one lags",
			rows:      []ServerResult{dsRow(OK, dsOld, dsNew), dsRow(OK, dsOld)},
			servedOld: Some, servedBoth: Some, servedNone: None, presentOld: All, presentAny: All,
			wantMaxTTL: 3600, wantTTLComplete: true,
		},
		{
			name:      "an unknown row never gives none or all",
			rows:      []ServerResult{dsRow(Absent), dsRow(Unknown)},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, servedNone: CoverageUnknown, presentOld: CoverageUnknown, presentAny: CoverageUnknown,
		},
		{
			name:      "a row without a DS RRset counts as unknown",
			rows:      []ServerResult{dsRow(OK, dsOld), {Name: "ns.test."}},
			servedOld: CoverageUnknown, servedBoth: CoverageUnknown, servedNone: CoverageUnknown, presentOld: CoverageUnknown, presentAny: CoverageUnknown,
			wantMaxTTL: 3600,
		},
		{
			name:      "known rows that differ decide some despite an unknown row",
			rows:      []ServerResult{dsRow(OK, dsOld), dsRow(Absent), dsRow(Unknown)},
			servedOld: Some, servedBoth: CoverageUnknown, servedNone: Some, presentOld: Some, presentAny: Some,
			wantMaxTTL: 3600,
		},
		{
			name:      "all absent",
			rows:      []ServerResult{dsRow(Absent), dsRow(Absent)},
			servedOld: None, servedBoth: None, servedNone: All, presentOld: None, presentAny: None,
			wantTTLComplete: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{ParentServers: tc.rows}
			for _, c := range []struct {
				name      string
				got, want Coverage
			}{
				{"DSServed(old)", s.DSServed([]*dns.DS{ds(dsOld)}), tc.servedOld},
				{"DSServed(old, new)", s.DSServed([]*dns.DS{ds(dsOld), ds(dsNew)}), tc.servedBoth},
				{"DSServed(nil)", s.DSServed(nil), tc.servedNone},
				{"DSPresent(old)", s.DSPresent(ds(dsOld)), tc.presentOld},
				{"DSPresent()", s.DSPresent(), tc.presentAny},
			} {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if ttl, complete := s.MaxDSTTL(); ttl != tc.wantMaxTTL || complete != tc.wantTTLComplete {
				t.Errorf("MaxDSTTL() = %d, %t, want %d, %t", ttl, complete, tc.wantMaxTTL, tc.wantTTLComplete)
			}
		})
	}
}

// zoneRow is a zone row with the DNSKEY state and keys, and SOA serial
// (0: SOA unknown).
func zoneRow(state State, serial uint32, keys ...string) ServerResult {
	r := ServerResult{Name: "ns.example.test.", DNSKEY: &RRset{State: state}, SOA: &RRset{State: Unknown}, Serial: serial}
	for _, k := range keys {
		r.DNSKEY.Records = append(r.DNSKEY.Records, mustRR(k))
	}
	if serial != 0 {
		soa := mustRR("example.test. 900 IN SOA ns1.example.test. h.example.test. 1 7200 900 1209600 300").(*dns.SOA)
		soa.Serial = serial
		r.SOA = &RRset{State: OK, TTL: 900, Records: []dns.RR{soa}}
	}
	return r
}

func TestZoneServersAgree(t *testing.T) {
	// The same key with its base64 split by white space, as a zone file may hold it.
	spaced := strings.Replace(kskOld, "mdsswUyr3DPW", "mdss wUyr3DPW", 1)
	for _, tc := range []struct {
		name string
		rows []ServerResult
		want Agreement
	}{
		{"no rows", nil, AgreementUnknown},
		{"same keys and serial", []ServerResult{zoneRow(OK, 7, kskOld, zsk), zoneRow(OK, 7, zsk, spaced)}, Agree},
		{"all unsigned", []ServerResult{zoneRow(Absent, 7), zoneRow(Absent, 7)}, Agree},
		{"different keys", []ServerResult{zoneRow(OK, 7, kskOld, zsk), zoneRow(OK, 7, kskNew, zsk)}, Disagree},
		{"signed and unsigned", []ServerResult{zoneRow(OK, 7, kskOld, zsk), zoneRow(Absent, 7)}, Disagree},
		{"different serials", []ServerResult{zoneRow(OK, 7, kskOld), zoneRow(OK, 8, kskOld)}, Disagree},
		{"an unknown DNSKEY", []ServerResult{zoneRow(OK, 7, kskOld), zoneRow(Unknown, 7)}, AgreementUnknown},
		{"an unknown SOA", []ServerResult{zoneRow(OK, 7, kskOld), zoneRow(OK, 0, kskOld)}, AgreementUnknown},
		{"disagreement despite an unknown", []ServerResult{zoneRow(OK, 7, kskOld), zoneRow(OK, 7, kskNew), zoneRow(Unknown, 0)}, Disagree},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{ZoneServers: tc.rows}
			if got := s.ZoneServersAgree(); got != tc.want {
				t.Errorf("ZoneServersAgree() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNegativeTTL(t *testing.T) {
	row := func(ttl, minimum uint32) ServerResult {
		soa := mustRR("example.test. 900 IN SOA ns1.example.test. h.example.test. 1 7200 900 1209600 300").(*dns.SOA)
		soa.Hdr.Ttl, soa.Minttl = ttl, minimum
		return ServerResult{SOA: &RRset{State: OK, TTL: ttl, Records: []dns.RR{soa}}}
	}
	for _, tc := range []struct {
		name         string
		rows         []ServerResult
		want         uint32
		wantComplete bool
	}{
		{"MINIMUM below TTL", []ServerResult{row(900, 300)}, 300, true},
		{"TTL below MINIMUM", []ServerResult{row(60, 300)}, 60, true},
		{"largest over servers", []ServerResult{row(900, 300), row(3600, 600)}, 600, true},
		{"an unknown server", []ServerResult{row(900, 300), {SOA: &RRset{State: Unknown}}}, 300, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{ZoneServers: tc.rows}
			if got, complete := s.MaxNegativeTTL(); got != tc.want || complete != tc.wantComplete {
				t.Errorf("MaxNegativeTTL() = %d, %t, want %d, %t", got, complete, tc.want, tc.wantComplete)
			}
		})
	}
}

func TestSnapshotJSON(t *testing.T) {
	exp := testNow.Add(time.Hour)
	in := &Snapshot{
		Zone: "example.test.", Parent: "test.", Time: testNow,
		DelegationNS: []string{"ns1.example.test."}, ApexNS: []string{"ns1.example.test."},
		ParentServers: []ServerResult{
			{Name: "ns1.nic.test.", Addr: netip.MustParseAddrPort("127.0.1.11:5353"), Delegation: true, Apex: true,
				DS: &RRset{State: OK, TTL: 3600, Records: mustRRs(dsOld), Sigs: []*dns.RRSIG{mustRR(sigLine("example.test.", "DS", 3600, exp, "test.")).(*dns.RRSIG)}, Expiry: exp}},
			{Name: "ns2.nic.test.", DS: &RRset{State: Unknown, Reason: ReasonNoAddress, Detail: "lookup failed"}},
		},
		ZoneServers: []ServerResult{
			{Name: "ns1.example.test.", Addr: netip.MustParseAddrPort("[2001:db8::1]:53"), Apex: true,
				DNSKEY: &RRset{State: Absent, Reason: ReasonNoData, TTL: 300}, Serial: 9},
		},
		Problems: []string{"something"},
		Queries:  12,
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	for _, want := range []string{
		`"state":"ok"`, `"state":"unknown"`, `"state":"absent"`, `"reason":"no address"`,
		`"addr":"127.0.1.11:5353"`, `"addr":""`, `"records":["example.test.\t3600\tIN\tDS\t11111 13 2`,
		`"rrsigs":["example.test.\t3600\tIN\tRRSIG\tDS 13 2 3600`, `"expiry":"2026-11-27T09:00:00Z"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var out Snapshot
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	rrCmp := cmp.Comparer(func(a, b dns.RR) bool { return dns.IsDuplicate(a, b) && a.Header().Ttl == b.Header().Ttl })
	addrCmp := cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })
	if diff := cmp.Diff(in, &out, rrCmp, addrCmp); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	if got := out.DSServed([]*dns.DS{ds(dsOld)}); got != CoverageUnknown {
		t.Errorf("DSServed(old) after the round trip = %v, want unknown", got)
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		v    interface{ MarshalText() ([]byte, error) }
		want string
	}{
		{Unknown, "unknown"}, {OK, "ok"}, {Absent, "absent"},
		{CoverageUnknown, "unknown"}, {None, "none"}, {Some, "some"}, {All, "all"},
		{AgreementUnknown, "unknown"}, {Agree, "agree"}, {Disagree, "disagree"},
	} {
		b, _ := tc.v.MarshalText()
		if string(b) != tc.want {
			t.Errorf("MarshalText(%#v) = %s, want %s", tc.v, b, tc.want)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("maybe")); err == nil {
		t.Errorf("UnmarshalText(maybe) error = nil, want an error")
	}
}
