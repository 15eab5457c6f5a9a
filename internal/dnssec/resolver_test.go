package dnssec_test

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

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

func TestResolveGood(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	for _, tt := range goodCases {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Resolve(context.Background(), tt.qname, tt.qtype)
			if err != nil {
				t.Fatalf("Resolve(%s, %s): %v", tt.qname, dns.TypeToString[tt.qtype], err)
			}
			if res.Status != tt.status || res.Rcode != tt.rcode {
				t.Fatalf("Resolve(%s, %s) = %v %s (%q), want %v %s", tt.qname, dns.TypeToString[tt.qtype],
					res.Status, dns.RcodeToString[res.Rcode], res.Reason, tt.status, dns.RcodeToString[tt.rcode])
			}
			if tt.status == dnssec.Secure && res.Reason != "" {
				t.Errorf("Resolve(%s) secure with reason %q, want none", tt.qname, res.Reason)
			}
			if !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("Resolve(%s) reason = %q, want it to contain %q", tt.qname, res.Reason, tt.reason)
			}
			if tt.answer != nil {
				if diff := cmp.Diff(tt.answer, answerText(res.Answer), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Resolve(%s) answer mismatch (-want +got):\n%s", tt.qname, diff)
				}
			}
			for _, rr := range res.Answer {
				if rr.Header().Rrtype == dns.TypeRRSIG {
					t.Errorf("Resolve(%s) answer holds an RRSIG; they belong in RRSIGs", tt.qname)
				}
			}
			if tt.status == dnssec.Secure && len(res.Answer) > 0 && len(res.RRSIGs) == 0 {
				t.Errorf("Resolve(%s) secure answer without RRSIGs", tt.qname)
			}
		})
	}
}

func TestResolveChain(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	res, err := r.Resolve(context.Background(), "www.sub.example.test", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Zone != "sub.example.test." || res.Name != "www.sub.example.test." {
		t.Errorf("Resolve() Name, Zone = %s, %s; want www.sub.example.test., sub.example.test.", res.Name, res.Zone)
	}
	var zones []string
	for i, l := range res.Chain {
		zones = append(zones, l.Zone)
		if l.Status != dnssec.Secure || len(l.DS) == 0 || len(l.KeyTags) == 0 || l.Anchor != (i == 0) {
			t.Errorf("Chain[%d] = %+v, want secure, DS and key tags, anchored only at the root", i, l)
		}
		if i == 0 {
			continue
		}
		want := zoneOf(h, l.Zone).DS(dns.SHA256)
		if len(l.DS) != len(want) || !strings.EqualFold(l.DS[0].Digest, want[0].Digest) {
			t.Errorf("Chain[%d].DS = %v, want the DS the parent publishes %v", i, l.DS, want)
		}
	}
	if diff := cmp.Diff([]string{".", "test.", "example.test.", "sub.example.test."}, zones); diff != "" {
		t.Errorf("Chain zones mismatch (-want +got):\n%s", diff)
	}
}

func TestResolveBroken(t *testing.T) {
	for _, c := range brokenCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := startBroken(t, c, signingTime)
			r := newResolver(t, h, dnssec.Config{})
			res, err := r.Resolve(context.Background(), c.qname, c.qtype)
			if err != nil {
				t.Fatalf("Resolve(%s): %v", c.qname, err)
			}
			if res.Status != dnssec.Bogus {
				t.Fatalf("Resolve(%s, %s) = %v (%q), want bogus", c.qname, dns.TypeToString[c.qtype], res.Status, res.Reason)
			}
			if !strings.Contains(res.Reason, c.reason) {
				t.Errorf("Resolve(%s) reason = %q, want it to contain %q", c.qname, res.Reason, c.reason)
			}
			// The other zones of the hierarchy are unaffected, except by a
			// broken test. zone.
			if !strings.HasSuffix(c.qname, ".n3.test.") && c.qname != "www.insecure.test." {
				other, err := r.Resolve(context.Background(), "www.n3.test.", dns.TypeA)
				if err != nil || other.Status != dnssec.Secure {
					t.Errorf("Resolve(www.n3.test.) = %+v, %v; want secure", other, err)
				}
			}
		})
	}
}

func TestUnsupportedIsInsecure(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(ds *dns.DS)
		reason string
	}{
		{"unknown algorithm", func(ds *dns.DS) { ds.Algorithm = dns.PRIVATEOID }, "example.test. DS: no DS record uses a supported algorithm and digest"},
		{"SHA-1 digest only", func(ds *dns.DS) { ds.DigestType = dns.SHA1 }, "no DS record uses a supported algorithm and digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHierarchy(t, smallSpec(signingTime))
			var dss []*dns.DS
			for _, ds := range zoneOf(h, "example.test.").DS(dns.SHA256) {
				tt.edit(ds)
				dss = append(dss, ds)
			}
			must(t, h.PublishDS("example.test.", dss...))
			r := newResolver(t, h, dnssec.Config{})
			res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != dnssec.Insecure || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("Resolve() = %v (%q), want insecure with %q", res.Status, res.Reason, tt.reason)
			}
		})
	}
}

func TestNSEC3IterationLimit(t *testing.T) {
	spec := smallSpec(signingTime)
	for i := range spec.Zones {
		if spec.Zones[i].Origin == "n3.test." {
			spec.Zones[i].NSEC3.Iterations = dnssec.MaxNSEC3Iterations + 1
		}
	}
	h := startHierarchy(t, spec)
	r := newResolver(t, h, dnssec.Config{})
	res, err := r.Resolve(context.Background(), "nope.n3.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dnssec.Insecure || !strings.Contains(res.Reason, "151 iterations") {
		t.Errorf("Resolve(nope.n3.test.) = %v (%q), want insecure for 151 iterations", res.Status, res.Reason)
	}
	// A positive answer needs no NSEC3 and stays secure.
	if res, err := r.Resolve(context.Background(), "www.n3.test.", dns.TypeA); err != nil || res.Status != dnssec.Secure {
		t.Errorf("Resolve(www.n3.test.) = %+v, %v; want secure", res, err)
	}
}

func TestUnreachableIsIndeterminate(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	for _, ns := range h.Zone("example.test.").Servers {
		ns.Server.SetFaults(authserver.Faults{Drop: true})
	}
	r := newResolver(t, h, dnssec.Config{Client: &dnsquery.Client{Timeout: 100 * time.Millisecond, Attempts: 1}})
	start := time.Now()
	res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dnssec.Indeterminate || res.Rcode != dns.RcodeServerFailure {
		t.Fatalf("Resolve() = %v %s (%q), want indeterminate SERVFAIL", res.Status, dns.RcodeToString[res.Rcode], res.Reason)
	}
	if !strings.Contains(res.Reason, "example.test.: no server answered") {
		t.Errorf("Resolve() reason = %q, want it to name the zone", res.Reason)
	}
	for _, a := range h.Zone("example.test.").Addrs() {
		if !strings.Contains(res.Reason, a.String()) {
			t.Errorf("Resolve() reason = %q, want it to name server %s", res.Reason, a)
		}
	}
	// Two servers, one 100 ms attempt each, each tried once per run.
	if elapsed > 3*time.Second {
		t.Errorf("Resolve() took %v, want it bounded (< 3s)", elapsed)
	}
}

func TestServerFaultsAreSkipped(t *testing.T) {
	faults := []authserver.Faults{{Refuse: true}, {ServFail: true}, {Lame: true}, {Drop: true}}
	spec := smallSpec(signingTime)
	for i := range spec.Zones {
		if spec.Zones[i].Origin == "example.test." {
			spec.Zones[i].Servers = len(faults) + 1
		}
	}
	h := startHierarchy(t, spec)
	for i, f := range faults {
		h.Zone("example.test.").Servers[i].Server.SetFaults(f)
	}
	r := newResolver(t, h, dnssec.Config{Client: &dnsquery.Client{Timeout: 200 * time.Millisecond, Attempts: 1}})
	for _, q := range []string{"www.example.test.", "nope.example.test."} {
		res, err := r.Resolve(context.Background(), q, dns.TypeA)
		if err != nil || res.Status != dnssec.Secure {
			t.Errorf("Resolve(%s) = %+v, %v; want secure from the one healthy server", q, res, err)
		}
	}
}

func TestQueryBudget(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{MaxQueries: 3})
	res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dnssec.Indeterminate || !strings.Contains(res.Reason, "query budget of 3 exhausted") {
		t.Errorf("Resolve() = %v (%q), want indeterminate: query budget of 3 exhausted", res.Status, res.Reason)
	}
}

func TestCNAMELimits(t *testing.T) {
	var b strings.Builder
	for i := range dnssec.MaxCNAMEChain + 1 {
		fmt.Fprintf(&b, "c%d CNAME c%d\n", i, i+1)
	}
	b.WriteString("c13 A 192.0.2.99\nloop1 CNAME loop2\nloop2 CNAME loop1\n")
	spec := smallSpec(signingTime)
	spec.Zones[2].Records += b.String()
	h := startHierarchy(t, spec)
	r := newResolver(t, h, dnssec.Config{})
	tests := []struct {
		qname  string
		status dnssec.Status
		reason string
	}{
		{"c1.example.test.", dnssec.Secure, ""}, // 12 CNAMEs
		{"c0.example.test.", dnssec.Indeterminate, "c12.example.test. CNAME: more than 12 CNAMEs"},
		{"loop1.example.test.", dnssec.Indeterminate, "CNAME loop back to loop1.example.test."},
	}
	for _, tt := range tests {
		res, err := r.Resolve(context.Background(), tt.qname, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != tt.status || !strings.Contains(res.Reason, tt.reason) {
			t.Errorf("Resolve(%s) = %v (%q), want %v with %q", tt.qname, res.Status, res.Reason, tt.status, tt.reason)
		}
	}
}

func TestCacheHonoursTTL(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	clk := clock.NewVirtual(signingTime)
	r := newResolver(t, h, dnssec.Config{Now: clk.Now})
	ctx := context.Background()
	resolve := func(name string) {
		t.Helper()
		res, err := r.Resolve(ctx, name, dns.TypeA)
		if err != nil || res.Status != dnssec.Secure {
			t.Fatalf("Resolve(%s) = %+v, %v; want secure", name, res, err)
		}
	}
	steps := []struct {
		name    string
		advance time.Duration
		qname   string
		queried bool // whether example.test.'s servers must see a query
	}{
		{"cold", 0, "www.example.test.", true},
		{"cached", 0, "www.example.test.", false},
		{"within TTL", (hierarchy.DefaultTTL - 1) * time.Second, "www.example.test.", false},
		{"TTL passed", 2 * time.Second, "www.example.test.", true},
		{"negative cold", 0, "nope.example.test.", true},
		{"negative cached", (hierarchy.DefaultNegativeTTL - 1) * time.Second, "nope.example.test.", false},
		{"negative TTL passed", 2 * time.Second, "nope.example.test.", true},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		before := zoneQueries(h, "example.test.")
		resolve(s.qname)
		if got := zoneQueries(h, "example.test.") > before; got != s.queried {
			t.Errorf("%s: queried example.test. servers = %v, want %v", s.name, got, s.queried)
		}
	}
	r.Flush()
	before := zoneQueries(h, "example.test.")
	resolve("www.example.test.")
	if zoneQueries(h, "example.test.") == before {
		t.Errorf("after Flush: no query to example.test. servers, want one")
	}
}

func TestCacheStopsAtSignatureExpiry(t *testing.T) {
	spec := smallSpec(signingTime)
	spec.Zones[2].TTL = 86400
	h := startHierarchy(t, spec)
	// www's signature expires in 10 minutes, long before its one-day TTL.
	must(t, zoneOf(h, "example.test.").ResignRRset("www.example.test.", dns.TypeA, signingTime.Add(-time.Hour), signingTime.Add(10*time.Minute)))
	clk := clock.NewVirtual(signingTime)
	r := newResolver(t, h, dnssec.Config{Now: clk.Now})
	if res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA); err != nil || res.Status != dnssec.Secure {
		t.Fatalf("Resolve() = %+v, %v; want secure", res, err)
	}
	clk.Advance(11 * time.Minute)
	res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dnssec.Bogus || !strings.Contains(res.Reason, "expired") {
		t.Errorf("Resolve() after the signature expired = %v (%q), want bogus: expired (not a stale secure cache entry)", res.Status, res.Reason)
	}
}

func TestConcurrentResolve(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, c := range goodCases {
				if (i+j)%2 == 0 {
					r.Flush()
				}
				res, err := r.Resolve(context.Background(), c.qname, c.qtype)
				if err != nil {
					errs <- err
					return
				}
				if res.Status != c.status {
					errs <- fmt.Errorf("Resolve(%s) = %v (%q), want %v", c.qname, res.Status, res.Reason, c.status)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestGluelessDelegation(t *testing.T) {
	spec := hierarchy.Spec{
		Now: signingTime,
		Zones: []hierarchy.ZoneSpec{
			{Origin: "."},
			{Origin: "test."},
			{Origin: "other."},
			{Origin: "example.test.", NS: []string{"ns1.other.", "ns2.other."}, Records: "www A 192.0.2.1\n"},
		},
	}
	h := startHierarchy(t, spec)
	tests := []struct {
		name         string
		nsAddrs      map[string][]netip.AddrPort
		otherQueried bool
	}{
		{"looked up", nil, true},
		{"NSAddrs override", map[string][]netip.AddrPort{
			"ns1.other.": {h.Zone("example.test.").NS()["ns1.other."]},
			"ns2.other.": {h.Zone("example.test.").NS()["ns2.other."]},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// ns*.other. serve both other. and example.test.: count the
			// queries for other. through the root's referrals instead.
			before := zoneQueries(h, ".")
			r := newResolver(t, h, dnssec.Config{NSAddrs: tt.nsAddrs})
			res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
			if err != nil || res.Status != dnssec.Secure {
				t.Fatalf("Resolve() = %+v, %v; want secure", res, err)
			}
			// Cold: the root is asked about test. (referral, DS) and, for the
			// lookup of ns1.other., about other.
			rootQueries := zoneQueries(h, ".") - before
			if looked := rootQueries > 2; looked != tt.otherQueried {
				t.Errorf("root queries = %d: name-server lookup = %v, want %v", rootQueries, looked, tt.otherQueried)
			}
		})
	}
}

func TestTrustAnchorBelowRoot(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	var keys []dns.RR
	for _, rr := range zoneOf(h, "example.test.").RRset("example.test.", dns.TypeDNSKEY) {
		if rr.(*dns.DNSKEY).Flags&dns.SEP != 0 {
			keys = append(keys, rr)
		}
	}
	r := newResolver(t, h, dnssec.Config{Anchors: keys})
	tests := []struct {
		qname  string
		status dnssec.Status
		chain  []string
	}{
		{"www.example.test.", dnssec.Secure, []string{"example.test."}},
		{"www.n3.test.", dnssec.Indeterminate, []string{".", "test.", "n3.test."}},
	}
	for _, tt := range tests {
		res, err := r.Resolve(context.Background(), tt.qname, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		var zones []string
		for _, l := range res.Chain {
			zones = append(zones, l.Zone)
		}
		if res.Status != tt.status || !slices.Equal(zones, tt.chain) {
			t.Errorf("Resolve(%s) = %v (%q) chain %v, want %v chain %v", tt.qname, res.Status, res.Reason, zones, tt.status, tt.chain)
		}
	}
}

func TestAnchorFile(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	var b strings.Builder
	must(t, h.WriteTrustAnchor(&b))
	as, err := dnssec.ParseAnchors(strings.NewReader(b.String()), "hierarchy")
	if err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, h, dnssec.Config{Anchors: as})
	if res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA); err != nil || res.Status != dnssec.Secure {
		t.Errorf("Resolve() = %+v, %v; want secure", res, err)
	}
	// A foreign anchor: the real root's keys do not sign this root.
	r = newResolver(t, h, dnssec.Config{Anchors: dnssec.RootAnchors()})
	res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
	if err != nil || res.Status != dnssec.Bogus || !strings.HasPrefix(res.Reason, ". DNSKEY: no DS matches") {
		t.Errorf("Resolve() with the IANA anchors = %+v, %v; want bogus at . DNSKEY", res, err)
	}
}

func TestZoneCut(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	servers := func(origin string) []dnssec.NameServer {
		var out []dnssec.NameServer
		for _, ns := range h.Zone(origin).Servers {
			out = append(out, dnssec.NameServer{Name: ns.Name, Addrs: []netip.AddrPort{ns.Addr}})
		}
		return out
	}
	names := func(origin string) []string {
		var out []string
		for _, ns := range h.Zone(origin).Servers {
			out = append(out, ns.Name)
		}
		return out
	}
	sortNS := cmpopts.SortSlices(func(a, b dnssec.NameServer) bool { return a.Name < b.Name })
	sortNames := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	tests := []struct {
		name string
		want *dnssec.Delegation
	}{
		{"www.sub.example.test.", &dnssec.Delegation{Zone: "sub.example.test.", Parent: "example.test.", ParentServers: servers("example.test."), ZoneServers: servers("sub.example.test."), DelegationNS: names("sub.example.test.")}},
		{"sub.example.test.", &dnssec.Delegation{Zone: "sub.example.test.", Parent: "example.test.", ParentServers: servers("example.test."), ZoneServers: servers("sub.example.test."), DelegationNS: names("sub.example.test.")}},
		{"nope.example.test.", &dnssec.Delegation{Zone: "example.test.", Parent: "test.", ParentServers: servers("test."), ZoneServers: servers("example.test."), DelegationNS: names("example.test.")}},
		{"www.insecure.test.", &dnssec.Delegation{Zone: "insecure.test.", Parent: "test.", ParentServers: servers("test."), ZoneServers: servers("insecure.test."), DelegationNS: names("insecure.test.")}},
	}
	for _, tt := range tests {
		got, err := r.ZoneCut(context.Background(), tt.name)
		if err != nil {
			t.Fatalf("ZoneCut(%s): %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got, sortNS, sortNames, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("ZoneCut(%s) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	root, err := r.ZoneCut(context.Background(), ".")
	if err != nil || root.Zone != "." || root.Parent != "" || len(root.ZoneServers) != 1 || !slices.Equal(root.ZoneServers[0].Addrs, h.RootServers()) {
		t.Errorf("ZoneCut(.) = %+v, %v; want the root with the configured root addresses", root, err)
	}
}

func TestLookupAddrs(t *testing.T) {
	h := startHierarchy(t, hierarchy.DefaultSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	tests := []struct {
		host    string
		want    []netip.Addr
		wantErr string
	}{
		{"www.example.test.", []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}, ""},
		{"alias.example.test", []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}, ""},
		{"www.insecure.test.", []netip.Addr{netip.MustParseAddr("192.0.2.30")}, ""},
		{"nope.example.test.", nil, "dnssec: lookup nope.example.test.: no address (A: NXDOMAIN; AAAA: NXDOMAIN)"},
	}
	for _, tt := range tests {
		got, err := r.LookupAddrs(context.Background(), tt.host)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("LookupAddrs(%s) error = %v, want %q", tt.host, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("LookupAddrs(%s) = %v, %v; want %v", tt.host, got, err, tt.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	tests := []struct {
		name  string
		qtype uint16
	}{
		{"", dns.TypeA},
		{"bad..name.", dns.TypeA},
		{"www.example.test.", dns.TypeANY},
		{"www.example.test.", dns.TypeAXFR},
		{"www.example.test.", 0},
	}
	for _, tt := range tests {
		if _, err := r.Resolve(context.Background(), tt.name, tt.qtype); !errors.Is(err, dnssec.ErrBadQuery) {
			t.Errorf("Resolve(%q, %d) error = %v, want ErrBadQuery", tt.name, tt.qtype, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Resolve(ctx, "www.example.test.", dns.TypeA); !errors.Is(err, context.Canceled) {
		t.Errorf("Resolve(cancelled) error = %v, want context.Canceled", err)
	}
	_, err := dnssec.NewResolver(dnssec.Config{Anchors: []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeA}}}})
	if err == nil {
		t.Errorf("NewResolver(A record as anchor) = nil error, want one")
	}
}

func TestPortDefault(t *testing.T) {
	// Config.Port 0: the shared port of the roots; mixed ports: 53. Observed
	// through ZoneCut, whose addresses come from glue.
	h := startHierarchy(t, smallSpec(signingTime))
	r := newResolver(t, h, dnssec.Config{})
	d, err := r.ZoneCut(context.Background(), "example.test.")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.ZoneServers {
		for _, a := range s.Addrs {
			if a.Port() != h.Port() {
				t.Errorf("ZoneCut() server %s address %s, want port %d", s.Name, a, h.Port())
			}
		}
	}
}

// Ensure the NSEC3 zone used by the broken cases really is NSEC3.
func TestSmallSpecDenial(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	if got := zoneOf(h, "n3.test.").Options().Denial; got != authzone.DenialNSEC3 {
		t.Fatalf("n3.test. denial = %v, want NSEC3", got)
	}
}

func TestGluelessCycleIsBounded(t *testing.T) {
	// a.test. is served by ns.b.test. and b.test. by ns.a.test.: neither
	// referral carries glue, so each lookup needs the other.
	spec := hierarchy.Spec{
		Now: signingTime,
		Zones: []hierarchy.ZoneSpec{
			{Origin: "."},
			{Origin: "test."},
			{Origin: "a.test.", NS: []string{"ns.b.test."}, Records: "www A 192.0.2.1\n"},
			{Origin: "b.test.", NS: []string{"ns.a.test."}, Records: "www A 192.0.2.2\n"},
		},
	}
	h := startHierarchy(t, spec)
	r := newResolver(t, h, dnssec.Config{})
	start := time.Now()
	res, err := r.Resolve(context.Background(), "www.a.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != dnssec.Indeterminate || !strings.Contains(res.Reason, "no address for any name server") {
		t.Errorf("Resolve(www.a.test.) = %v (%q), want indeterminate: no address for any name server", res.Status, res.Reason)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Resolve(www.a.test.) took %v, want it bounded", elapsed)
	}
}

func TestZoneCutServersDown(t *testing.T) {
	h := startHierarchy(t, smallSpec(signingTime))
	for _, ns := range h.Zone("example.test.").Servers {
		ns.Server.SetFaults(authserver.Faults{Refuse: true})
	}
	r := newResolver(t, h, dnssec.Config{})
	d, err := r.ZoneCut(context.Background(), "example.test.")
	if err != nil {
		t.Fatalf("ZoneCut(example.test.) with its servers refusing: %v", err)
	}
	if d.Zone != "example.test." || d.Parent != "test." || len(d.ZoneServers) != len(h.Zone("example.test.").Servers) {
		t.Errorf("ZoneCut(example.test.) = %+v, want the delegation from test.", d)
	}
	if _, err := r.ZoneCut(context.Background(), "www.example.test."); err == nil || !strings.Contains(err.Error(), "example.test.: no server answered") {
		t.Errorf("ZoneCut(www.example.test.) error = %v, want example.test.: no server answered", err)
	}
}

// dnameHook answers names below old.example.test. as a DNAME-aware server
// does: the signed DNAME RRset and an unsigned CNAME synthesized from it
// (to target, normally the substituted name).
func dnameHook(z *authzone.Zone, target func(qname string) string) authzone.AnswerHook {
	return func(req, resp *dns.Msg) {
		qname := dns.CanonicalName(req.Question[0].Name)
		if !dns.IsSubDomain("old.example.test.", qname) || qname == "old.example.test." {
			return
		}
		resp.Rcode, resp.Ns = dns.RcodeSuccess, nil
		resp.Answer = z.RRset("old.example.test.", dns.TypeDNAME)
		for _, s := range z.RRSIGs("old.example.test.", dns.TypeDNAME) {
			resp.Answer = append(resp.Answer, s)
		}
		resp.Answer = append(resp.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 300},
			Target: target(qname),
		})
	}
}

func TestDNAME(t *testing.T) {
	substitute := func(q string) string { return strings.TrimSuffix(q, "old.example.test.") + "new.example.test." }
	tests := []struct {
		name   string
		target func(string) string
		status dnssec.Status
		answer []string
		reason string
	}{
		{"synthesized CNAME", substitute, dnssec.Secure, []string{
			"x.old.example.test. CNAME x.new.example.test.",
			"old.example.test. DNAME new.example.test.",
			"x.new.example.test. A 192.0.2.77",
		}, ""},
		{"CNAME that is not the substitution", func(string) string { return "www.example.test." }, dnssec.Bogus, nil,
			"x.old.example.test. CNAME in example.test.: missing RRSIG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := smallSpec(signingTime)
			spec.Zones[2].Records += "old DNAME new.example.test.\nx.new A 192.0.2.77\n"
			h := startHierarchy(t, spec)
			z := zoneOf(h, "example.test.")
			z.SetAnswerHook(dnameHook(z, tt.target))
			r := newResolver(t, h, dnssec.Config{})
			res, err := r.Resolve(context.Background(), "x.old.example.test.", dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("Resolve() = %v (%q), want %v with %q", res.Status, res.Reason, tt.status, tt.reason)
			}
			if tt.answer != nil {
				if diff := cmp.Diff(tt.answer, answerText(res.Answer)); diff != "" {
					t.Errorf("Resolve() answer mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}
