package route53emu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

const testDS = "12345 13 2 " + "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

func TestChangeResourceRecordSetsValidation(t *testing.T) {
	const (
		create = types.ChangeActionCreate
		del    = types.ChangeActionDelete
		upsert = types.ChangeActionUpsert
	)
	// Every case starts from a zone holding www A, alias CNAME and the
	// delegation sub NS.
	setup := []types.Change{
		rrChange(create, "www.example.test", types.RRTypeA, 300, "192.0.2.1", "192.0.2.2"),
		rrChange(create, "alias.example.test", types.RRTypeCname, 300, "www.example.test"),
		rrChange(create, "sub.example.test", types.RRTypeNs, 3600, "ns1.sub.example.test.", "ns2.sub.example.test."),
	}
	tests := []struct {
		name    string
		changes []types.Change
		// wantMsg is the start of the InvalidChangeBatch message; "" means
		// the batch succeeds.
		wantMsg string
	}{
		{"create new", []types.Change{rrChange(create, "new.example.test", types.RRTypeTxt, 60, `"hello world"`)}, ""},
		{"create existing", []types.Change{rrChange(create, "www.example.test", types.RRTypeA, 300, "192.0.2.9")},
			"[Tried to create resource record set [name='www.example.test.', type='A'] but it already exists]"},
		{"delete missing", []types.Change{rrChange(del, "nope.example.test", types.RRTypeA, 300, "192.0.2.9")},
			"[Tried to delete resource record set [name='nope.example.test.', type='A'] but it was not found]"},
		{"delete other values", []types.Change{rrChange(del, "www.example.test", types.RRTypeA, 300, "192.0.2.1")},
			"[Tried to delete resource record set [name='www.example.test.', type='A'] but the values provided do not match the current values]"},
		{"delete other TTL", []types.Change{rrChange(del, "www.example.test", types.RRTypeA, 60, "192.0.2.1", "192.0.2.2")},
			"[Tried to delete resource record set [name='www.example.test.', type='A'] but the values provided do not match the current values]"},
		{"delete exact, any order", []types.Change{rrChange(del, "www.example.test", types.RRTypeA, 300, "192.0.2.2", "192.0.2.1")}, ""},
		{"upsert replaces", []types.Change{rrChange(upsert, "www.example.test", types.RRTypeA, 60, "192.0.2.7")}, ""},
		{"delete then create in one batch", []types.Change{
			rrChange(del, "alias.example.test", types.RRTypeCname, 300, "www.example.test."),
			rrChange(create, "alias.example.test", types.RRTypeA, 300, "192.0.2.3"),
		}, ""},
		{"CNAME at apex", []types.Change{rrChange(create, "example.test", types.RRTypeCname, 300, "www.example.test")},
			"[RRSet of type CNAME with DNS name example.test. is not permitted at apex in zone example.test.]"},
		{"CNAME beside A", []types.Change{rrChange(create, "www.example.test", types.RRTypeCname, 300, "x.example.test")},
			"[RRSet of type CNAME with DNS name www.example.test. is not permitted as it conflicts with other records with the same DNS name in zone example.test.]"},
		{"TXT beside CNAME", []types.Change{rrChange(create, "alias.example.test", types.RRTypeTxt, 300, `"x"`)},
			"[RRSet of type TXT with DNS name alias.example.test. is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone example.test.]"},
		{"DS at delegation", []types.Change{rrChange(create, "sub.example.test", types.RRTypeDs, 3600, testDS)}, ""},
		{"DS with its NS in the same batch", []types.Change{
			rrChange(create, "new.example.test", types.RRTypeNs, 3600, "ns1.new.example.test."),
			rrChange(create, "new.example.test", types.RRTypeDs, 3600, testDS),
		}, ""},
		{"DS at apex", []types.Change{rrChange(create, "example.test", types.RRTypeDs, 3600, testDS)},
			"[RRSet of type DS with DNS name example.test. is not permitted at apex in zone example.test.]"},
		{"DS without NS", []types.Change{rrChange(create, "www.example.test", types.RRTypeDs, 3600, testDS)},
			"[RRSet of type DS with DNS name www.example.test. is not permitted because no RRSet of type NS with the same DNS name exists in zone example.test.]"},
		{"DS with a short digest", []types.Change{rrChange(create, "sub.example.test", types.RRTypeDs, 3600, "12345 13 2 ABCD")},
			"[Invalid Resource Record: 'FATAL problem: DSDigestMismatch"},
		{"delete apex NS", []types.Change{rrChange(del, "example.test", types.RRTypeNs, 172800)}, "x"}, // filled below
		{"out of zone", []types.Change{rrChange(create, "www.example.net", types.RRTypeA, 300, "192.0.2.1")},
			"[RRSet with DNS name www.example.net. is not permitted in zone example.test.]"},
		{"bad IPv4", []types.Change{rrChange(create, "bad.example.test", types.RRTypeA, 300, "1.2.3")},
			"[Invalid Resource Record: 'FATAL problem: InvalidRData"},
		{"duplicate value", []types.Change{rrChange(create, "dup.example.test", types.RRTypeA, 300, "192.0.2.1", "192.0.2.1")},
			"[Duplicate Resource Record: '192.0.2.1']"},
		{"two values for a CNAME", []types.Change{rrChange(create, "two.example.test", types.RRTypeCname, 300, "a.example.test", "b.example.test")},
			"[RRSet of type CNAME with DNS name two.example.test. has more than one value"},
		{"same delete twice", []types.Change{
			rrChange(del, "www.example.test", types.RRTypeA, 300, "192.0.2.1", "192.0.2.2"),
			rrChange(del, "www.example.test", types.RRTypeA, 300, "192.0.2.1", "192.0.2.2"),
		}, "[The request contains an invalid set of changes for a resource record set 'A www.example.test.']"},
		{"two errors, one message each", []types.Change{
			rrChange(create, "www.example.test", types.RRTypeA, 300, "192.0.2.9"),
			rrChange(del, "nope.example.test", types.RRTypeA, 300, "192.0.2.9"),
		}, "[Tried to create resource record set [name='www.example.test.', type='A'] but it already exists, Tried to delete resource record set [name='nope.example.test.', type='A'] but it was not found]"},
		{"wildcard", []types.Change{rrChange(create, "*.example.test", types.RRTypeA, 300, "192.0.2.5")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			id := e.createZone(t, "example.test")
			if _, err := e.change(ctx, id, setup...); err != nil {
				t.Fatalf("setup: %v", err)
			}
			changes, wantMsg := tt.changes, tt.wantMsg
			if tt.name == "delete apex NS" {
				changes = []types.Change{rrChange(del, "example.test", types.RRTypeNs, 172800, e.svc.NameServers(id)...)}
				wantMsg = "[A HostedZone must contain at least one NS record for the zone itself.]"
			}
			before := listAll(t, e, id)
			_, err := e.change(ctx, id, changes...)
			if wantMsg == "" {
				if err != nil {
					t.Fatalf("ChangeResourceRecordSets: %v", err)
				}
				return
			}
			var icb *types.InvalidChangeBatch
			if !errors.As(err, &icb) {
				t.Fatalf("ChangeResourceRecordSets: err = %v, want InvalidChangeBatch", err)
			}
			if !strings.HasPrefix(aws.ToString(icb.Message), wantMsg) {
				t.Errorf("message = %q, want it to start with %q", aws.ToString(icb.Message), wantMsg)
			}
			if diff := cmp.Diff(before, listAll(t, e, id)); diff != "" {
				t.Errorf("a refused batch changed the zone (-before +after):\n%s", diff)
			}
		})
	}
}

func TestChangeResourceRecordSetsInvalidInput(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	noTTL := rrChange(types.ChangeActionCreate, "a.example.test", types.RRTypeA, 0, "192.0.2.1")
	noTTL.ResourceRecordSet.TTL = nil
	alias := types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: &types.ResourceRecordSet{
		Name: aws.String("a.example.test"), Type: types.RRTypeA,
		AliasTarget: &types.AliasTarget{DNSName: aws.String("x.example.test"), HostedZoneId: aws.String(id)},
	}}
	tests := []struct {
		name   string
		change types.Change
	}{
		{"DNSKEY is not an API type", rrChange(types.ChangeActionCreate, "example.test", "DNSKEY", 300, "257 3 13 AAAA")},
		{"unknown action", rrChange("REPLACE", "a.example.test", types.RRTypeA, 300, "192.0.2.1")},
		{"negative TTL", rrChange(types.ChangeActionCreate, "a.example.test", types.RRTypeA, -1, "192.0.2.1")},
		{"no TTL", noTTL},
		{"alias records are not emulated", alias},
		{"value too long", rrChange(types.ChangeActionCreate, "a.example.test", types.RRTypeTxt, 300, `"`+strings.Repeat("x", 4001)+`"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.change(context.Background(), id, tt.change)
			var inv *types.InvalidInput
			if !errors.As(err, &inv) {
				t.Errorf("err = %v, want InvalidInput", err)
			}
		})
	}
	_, err := e.change(context.Background(), "ZNOSUCHZONE", rrChange(types.ChangeActionCreate, "a.example.test", types.RRTypeA, 300, "192.0.2.1"))
	var nsz *types.NoSuchHostedZone
	if !errors.As(err, &nsz) {
		t.Errorf("change of an unknown zone: err = %v, want NoSuchHostedZone", err)
	}
}

// listAll lists every RRset of a zone as "name type ttl values".
func listAll(t *testing.T, e *env, id string) []string {
	t.Helper()
	var out []string
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)}
	for {
		page, err := e.client.ListResourceRecordSets(context.Background(), in)
		if err != nil {
			t.Fatalf("ListResourceRecordSets: %v", err)
		}
		for _, rs := range page.ResourceRecordSets {
			var vals []string
			for _, rr := range rs.ResourceRecords {
				vals = append(vals, *rr.Value)
			}
			out = append(out, fmt.Sprintf("%s %s %d %s", *rs.Name, rs.Type, *rs.TTL, strings.Join(vals, ",")))
		}
		if !page.IsTruncated {
			return out
		}
		in.StartRecordName, in.StartRecordType = page.NextRecordName, page.NextRecordType
	}
}

func TestListResourceRecordSetsOrderAndPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createZone(t, "example.test")
	var changes []types.Change
	for _, c := range []struct {
		name string
		typ  types.RRType
		val  string
	}{
		{"www.example.test", types.RRTypeAaaa, "2001:db8::1"},
		{"www.example.test", types.RRTypeA, "192.0.2.1"},
		{"*.example.test", types.RRTypeA, "192.0.2.2"},
		{"a.b.example.test", types.RRTypeTxt, `"x"`},
		{"b.example.test", types.RRTypeMx, "10 mail.example.test."},
		{"example.test", types.RRTypeTxt, `"apex"`},
		{"a-b.example.test", types.RRTypeA, "192.0.2.3"},
	} {
		changes = append(changes, rrChange(types.ChangeActionCreate, c.name, c.typ, 300, c.val))
	}
	if _, err := e.change(ctx, id, changes...); err != nil {
		t.Fatal(err)
	}
	// Names sort with labels reversed ("test.example.www."), types by name;
	// the wildcard is returned escaped (\052) and sorts before letters.
	want := []string{
		"example.test. NS", "example.test. SOA", "example.test. TXT",
		`\052.example.test. A`, "a-b.example.test. A", "b.example.test. MX",
		"a.b.example.test. TXT", "www.example.test. A", "www.example.test. AAAA",
	}
	for _, maxItems := range []int32{1, 2, 4, 300} {
		t.Run(fmt.Sprint("maxitems=", maxItems), func(t *testing.T) {
			var got []string
			in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), MaxItems: aws.Int32(maxItems)}
			for pages := 1; ; pages++ {
				out, err := e.client.ListResourceRecordSets(ctx, in)
				if err != nil {
					t.Fatalf("ListResourceRecordSets: %v", err)
				}
				if len(out.ResourceRecordSets) > int(maxItems) {
					t.Fatalf("page of %d sets, want at most %d", len(out.ResourceRecordSets), maxItems)
				}
				if got := aws.ToInt32(out.MaxItems); got != maxItems {
					t.Errorf("MaxItems = %d, want %d", got, maxItems)
				}
				for _, rs := range out.ResourceRecordSets {
					got = append(got, fmt.Sprintf("%s %s", *rs.Name, rs.Type))
				}
				if !out.IsTruncated {
					break
				}
				if out.NextRecordName == nil || out.NextRecordType == "" {
					t.Fatal("truncated page without NextRecordName/NextRecordType")
				}
				if pages > len(want) {
					t.Fatal("pagination does not end")
				}
				in.StartRecordName, in.StartRecordType = out.NextRecordName, out.NextRecordType
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("listed sets (-want +got):\n%s", diff)
			}
		})
	}
	// A start name alone starts at the first set at or after it.
	out, err := e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(id), StartRecordName: aws.String("b.example.test"), MaxItems: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := *out.ResourceRecordSets[0].Name; got != "b.example.test." {
		t.Errorf("first set from b.example.test = %s, want b.example.test.", got)
	}
	_, err = e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id), StartRecordType: types.RRTypeA})
	var inv *types.InvalidInput
	if !errors.As(err, &inv) {
		t.Errorf("StartRecordType without StartRecordName: err = %v, want InvalidInput", err)
	}
	_, err = e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String("ZNOPE")})
	var nsz *types.NoSuchHostedZone
	if !errors.As(err, &nsz) {
		t.Errorf("unknown zone: err = %v, want NoSuchHostedZone", err)
	}
}

func TestGetChangePendingThenInsync(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.SetPropagationDelay(30 * time.Second)
	id := e.createZone(t, "example.test")
	if _, err := e.svc.Snapshot(id); !errors.Is(err, ErrNotPropagated) {
		t.Errorf("Snapshot of a PENDING new zone: err = %v, want ErrNotPropagated", err)
	}
	e.clk.Advance(30 * time.Second)

	notified := make(chan string, 10)
	cancel := e.svc.Subscribe(func(zoneID string) { notified <- zoneID })
	defer cancel()

	out, err := e.change(ctx, id, rrChange(types.ChangeActionCreate, "www.example.test", types.RRTypeA, 300, "192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	hasWWW := func() bool {
		for _, rr := range e.svc.Records(id) {
			if rr.Header().Name == "www.example.test." {
				return true
			}
		}
		return false
	}
	steps := []struct {
		advance    time.Duration
		wantStatus types.ChangeStatus
		wantServed bool
	}{
		{0, types.ChangeStatusPending, false},
		{29 * time.Second, types.ChangeStatusPending, false},
		{time.Second, types.ChangeStatusInsync, true},
	}
	for _, st := range steps {
		e.clk.Advance(st.advance)
		got, err := e.client.GetChange(ctx, &route53.GetChangeInput{Id: out.ChangeInfo.Id})
		if err != nil {
			t.Fatalf("GetChange: %v", err)
		}
		if got.ChangeInfo.Status != st.wantStatus {
			t.Errorf("after %v: status = %s, want %s", st.advance, got.ChangeInfo.Status, st.wantStatus)
		}
		if hasWWW() != st.wantServed {
			t.Errorf("after %v: www served = %v, want %v", st.advance, hasWWW(), st.wantServed)
		}
	}
	select {
	case zid := <-notified:
		if zid != id {
			t.Errorf("notified zone %s, want %s", zid, id)
		}
	case <-time.After(5 * time.Second):
		t.Error("no notification when the change became INSYNC")
	}
	// ListResourceRecordSets shows PENDING changes at once.
	if _, err := e.change(ctx, id, rrChange(types.ChangeActionCreate, "new.example.test", types.RRTypeA, 300, "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	listed := listAll(t, e, id)
	if !strings.Contains(strings.Join(listed, "\n"), "new.example.test.") {
		t.Errorf("ListResourceRecordSets does not show a PENDING change: %v", listed)
	}
	for _, rr := range e.svc.Records(id) {
		if rr.Header().Name == "new.example.test." {
			t.Error("Records serves a PENDING change")
		}
	}
	_, err = e.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String("CNOSUCHCHANGE")})
	var nsc *types.NoSuchChange
	if !errors.As(err, &nsc) {
		t.Errorf("GetChange(unknown): err = %v, want NoSuchChange", err)
	}
}

func TestRecordsAreDNS(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPropagationDelay(0)
	id := e.createZone(t, "example.test")
	if _, err := e.change(context.Background(), id,
		rrChange(types.ChangeActionCreate, "\\052.example.test", types.RRTypeA, 300, "192.0.2.2"),
		rrChange(types.ChangeActionCreate, "sub.example.test", types.RRTypeNs, 3600, "ns1.sub.example.test"),
		rrChange(types.ChangeActionCreate, "sub.example.test", types.RRTypeDs, 3600, testDS),
	); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range e.svc.Records(id) {
		if _, err := dns.NewRR(rr.String()); err != nil {
			t.Errorf("record %q does not parse back: %v", rr, err)
		}
		got = append(got, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
	}
	want := []string{"example.test. NS", "example.test. NS", "example.test. NS", "example.test. NS", "example.test. SOA",
		"*.example.test. A", "sub.example.test. DS", "sub.example.test. NS"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Records (-want +got):\n%s", diff)
	}
}
