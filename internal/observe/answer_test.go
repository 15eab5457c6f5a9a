package observe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// msg builds an answer to qname/qtype with the given flags and sections.
func msg(qname string, qtype uint16, rcode int, aa bool, answer, ns, extra []dns.RR) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	m := new(dns.Msg)
	m.SetRcode(q, rcode)
	m.Authoritative = aa
	m.Answer, m.Ns, m.Extra = answer, ns, extra
	return m
}

func TestAuthAnswer(t *testing.T) {
	parentSOA := mustRRs("test. 900 IN SOA ns1.nic.test. h.nic.test. 1 7200 3600 1209600 300")
	zoneSOA := mustRRs("example.test. 900 IN SOA ns1.example.test. h.example.test. 5 7200 900 1209600 600")
	exp := testNow.Add(48 * time.Hour)
	dsSet := mustRRs(dsOld, dsNew, sigLine("example.test.", "DS", 7200, exp, "test."), sigLine("example.test.", "DS", 3600, testExpiry, "test."))
	for _, tc := range []struct {
		name        string
		resp        *dns.Msg
		err         error
		zone, qname string
		qtype       uint16
		want        string // state(reason) ttl=N records=N sigs=N expiry
	}{
		{
			name: "DS with two RRSIGs: the larger original TTL, the earliest expiry",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, dsSet, nil, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "ok ttl=7200 records=2 sigs=2 expiry=" + exp.Format(time.RFC3339),
		},
		{
			name: "unsigned DS: the record TTL",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, mustRRs(dsOld), nil, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "ok ttl=3600 records=1 sigs=0",
		},
		{
			name: "owner case does not matter",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, mustRRs("EXAMPLE.test. 3600 IN DS 1 13 2 AB"), nil, nil),
			zone: "test.", qname: "Example.Test.", qtype: dns.TypeDS,
			want: "ok ttl=3600 records=1 sigs=0",
		},
		{
			name: "NODATA with the parent's SOA: absent, negative TTL min(TTL, MINIMUM)",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, nil, parentSOA, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "absent(NODATA) ttl=300 records=0 sigs=0",
		},
		{
			name: "NXDOMAIN with the parent's SOA: absent",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeNameError, true, nil, parentSOA, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "absent(NXDOMAIN) ttl=300 records=0 sigs=0",
		},
		{
			name: "NODATA with the child's SOA: answered from the wrong side of the cut",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, nil, zoneSOA, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "NODATA without SOA",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, nil, nil, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "NODATA without the AA bit",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, false, nil, parentSOA, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(not authoritative) ttl=0 records=0 sigs=0",
		},
		{
			name: "DS without the AA bit",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeSuccess, false, mustRRs(dsOld), nil, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(not authoritative) ttl=0 records=0 sigs=0",
		},
		{
			name: "REFUSED",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeRefused, false, nil, nil, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(REFUSED) ttl=0 records=0 sigs=0",
		},
		{
			name: "SERVFAIL even with AA",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeServerFailure, true, nil, parentSOA, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(SERVFAIL) ttl=0 records=0 sigs=0",
		},
		{
			name: "FORMERR",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeFormatError, false, nil, nil, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(FORMERR) ttl=0 records=0 sigs=0",
		},
		{
			name: "no answer at all",
			err:  fmt.Errorf("dnsquery: x: %w: i/o timeout", dnsquery.ErrNoAnswer),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(timeout) ttl=0 records=0 sigs=0",
		},
		{
			name: "context deadline",
			err:  fmt.Errorf("observe: x: %w", context.DeadlineExceeded),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(timeout) ttl=0 records=0 sigs=0",
		},
		{
			name: "truncated even over TCP",
			resp: func() *dns.Msg {
				m := msg("example.test.", dns.TypeDS, dns.RcodeSuccess, true, nil, nil, nil)
				m.Truncated = true
				return m
			}(),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "answer of another type only (CNAME)",
			resp: msg("example.test.", dns.TypeDNSKEY, dns.RcodeSuccess, true, mustRRs("example.test. 300 IN CNAME other.test."), nil, nil),
			zone: "example.test.", qname: "example.test.", qtype: dns.TypeDNSKEY,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "NXDOMAIN with records",
			resp: msg("example.test.", dns.TypeDS, dns.RcodeNameError, true, mustRRs(dsOld), parentSOA, nil),
			zone: "test.", qname: "example.test.", qtype: dns.TypeDS,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "DNSKEY NODATA at the apex: unsigned",
			resp: msg("example.test.", dns.TypeDNSKEY, dns.RcodeSuccess, true, nil, zoneSOA, nil),
			zone: "example.test.", qname: "example.test.", qtype: dns.TypeDNSKEY,
			want: "absent(NODATA) ttl=600 records=0 sigs=0",
		},
		{
			name: "NXDOMAIN at the apex",
			resp: msg("example.test.", dns.TypeDNSKEY, dns.RcodeNameError, true, nil, zoneSOA, nil),
			zone: "example.test.", qname: "example.test.", qtype: dns.TypeDNSKEY,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "SOA NODATA at the apex",
			resp: msg("example.test.", dns.TypeSOA, dns.RcodeSuccess, true, nil, zoneSOA, nil),
			zone: "example.test.", qname: "example.test.", qtype: dns.TypeSOA,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
		{
			name: "NS NODATA at the apex",
			resp: msg("example.test.", dns.TypeNS, dns.RcodeSuccess, true, nil, zoneSOA, nil),
			zone: "example.test.", qname: "example.test.", qtype: dns.TypeNS,
			want: "unknown(malformed) ttl=0 records=0 sigs=0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := authAnswer(tc.resp, tc.err, tc.zone, tc.qname, tc.qtype)
			got := fmt.Sprintf("%s ttl=%d records=%d sigs=%d", set.State, set.TTL, len(set.Records), len(set.Sigs))
			if set.Reason != "" {
				got = fmt.Sprintf("%s(%s) ttl=%d records=%d sigs=%d", set.State, set.Reason, set.TTL, len(set.Records), len(set.Sigs))
			}
			if !set.Expiry.IsZero() {
				got += " expiry=" + set.Expiry.Format(time.RFC3339)
			}
			if got != tc.want {
				t.Errorf("authAnswer() = %s, want %s (detail %q)", got, tc.want, set.Detail)
			}
		})
	}
}

func TestReferral(t *testing.T) {
	ns := mustRRs("example.test. 3600 IN NS ns1.example.test.", "example.test. 3600 IN NS ns.other.test.", "example.test. 3600 IN NS ns.elsewhere.")
	glue := mustRRs(
		"ns1.example.test. 3600 IN A 192.0.2.1",
		"ns1.example.test. 3600 IN AAAA 2001:db8::1",
		"ns.other.test. 3600 IN A 192.0.2.2",
		"ns.elsewhere. 3600 IN A 192.0.2.3",   // out of bailiwick: ignored
		"unrelated.test. 3600 IN A 192.0.2.4", // not an NS name: ignored
	)
	parentSOA := mustRRs("test. 900 IN SOA ns1.nic.test. h.nic.test. 1 7200 3600 1209600 300")
	for _, tc := range []struct {
		name     string
		resp     *dns.Msg
		want     string
		wantGlue []string
	}{
		{
			name:     "referral",
			resp:     msg("example.test.", dns.TypeNS, dns.RcodeSuccess, false, nil, ns, glue),
			want:     "ok ns=[ns.elsewhere. ns.other.test. ns1.example.test.]",
			wantGlue: []string{"ns.other.test.=192.0.2.2", "ns1.example.test.=192.0.2.1", "ns1.example.test.=2001:db8::1"},
		},
		{
			name: "authoritative answer from a server that also serves the zone",
			resp: msg("example.test.", dns.TypeNS, dns.RcodeSuccess, true, ns, nil, nil),
			want: "ok ns=[ns.elsewhere. ns.other.test. ns1.example.test.]",
		},
		{
			name: "no delegation: NXDOMAIN from the parent",
			resp: msg("example.test.", dns.TypeNS, dns.RcodeNameError, true, nil, parentSOA, nil),
			want: "absent(NXDOMAIN) ns=[]",
		},
		{
			name: "no delegation: NODATA from the parent",
			resp: msg("example.test.", dns.TypeNS, dns.RcodeSuccess, true, nil, parentSOA, nil),
			want: "absent(NODATA) ns=[]",
		},
		{
			name: "upward referral",
			resp: msg("example.test.", dns.TypeNS, dns.RcodeSuccess, false, nil, mustRRs(". 3600 IN NS a.root.test."), nil),
			want: "unknown(not authoritative) ns=[]",
		},
		{
			name: "SERVFAIL",
			resp: msg("example.test.", dns.TypeNS, dns.RcodeServerFailure, false, nil, nil, nil),
			want: "unknown(SERVFAIL) ns=[]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, g := referral(tc.resp, nil, "test.", "example.test.")
			state := set.State.String()
			if set.Reason != "" {
				state += "(" + set.Reason + ")"
			}
			if got := fmt.Sprintf("%s ns=%v", state, nsNames(set)); got != tc.want {
				t.Errorf("referral() = %s, want %s", got, tc.want)
			}
			var gotGlue []string
			for name, rrs := range g {
				for _, rr := range rrs {
					switch a := rr.(type) {
					case *dns.A:
						gotGlue = append(gotGlue, name+"="+a.A.String())
					case *dns.AAAA:
						gotGlue = append(gotGlue, name+"="+a.AAAA.String())
					}
				}
			}
			if diff := cmp.Diff(tc.wantGlue, uniq(gotGlue), cmpEmpty); diff != "" {
				t.Errorf("glue (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())
