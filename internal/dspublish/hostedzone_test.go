package dspublish

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// Tests of the parent hosted zone publisher through the real Route 53
// client against the Route 53 emulator.

const child = "sub.example.test."

// r53 is a Route 53 emulator with the parent zone example.test., which
// delegates sub.example.test.
type r53 struct {
	clk      *clock.Virtual
	svc      *route53emu.Service
	client   *route53.Client
	api      *countingRoute53
	parentID string
}

func newR53(t *testing.T) *r53 {
	t.Helper()
	e := &r53{clk: clock.NewVirtual(t0)}
	e.svc = route53emu.New(route53emu.Options{Clock: e.clk})
	e.svc.SetThrottle(0, 0) // the virtual clock does not refill the bucket
	srv := httptest.NewServer(e.svc)
	t.Cleanup(func() {
		srv.Close()
		e.svc.Close()
	})
	e.client = route53.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}, func(o *route53.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	e.api = &countingRoute53{Route53API: e.client}
	e.parentID = e.createZone(t, "example.test.")
	e.change(t, e.parentID, types.ChangeActionCreate, child, types.RRTypeNs, 3600, "ns-1.awsdns-01.test.", "ns-2.awsdns-02.test.")
	return e
}

func (e *r53) createZone(t *testing.T, name string) string {
	t.Helper()
	out, err := e.client.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String("ref-" + name),
	})
	if err != nil {
		t.Fatalf("CreateHostedZone(%s): %v", name, err)
	}
	return strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
}

func (e *r53) change(t *testing.T, zoneID string, action types.ChangeAction, name string, typ types.RRType, ttl int64, values ...string) {
	t.Helper()
	rs := &types.ResourceRecordSet{Name: aws.String(name), Type: typ, TTL: aws.Int64(ttl)}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	_, err := e.client.ChangeResourceRecordSets(context.Background(), &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Changes: []types.Change{{Action: action, ResourceRecordSet: rs}}},
	})
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets(%s %s %s): %v", action, name, typ, err)
	}
}

// ds lists the DS RRset at name in the parent zone as the API holds it:
// its TTL and values, sorted as listed.
func (e *r53) ds(t *testing.T, name string) (int64, []string) {
	t.Helper()
	out, err := e.client.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(e.parentID), StartRecordName: aws.String(name), StartRecordType: types.RRTypeDs, MaxItems: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	if len(out.ResourceRecordSets) == 0 || aws.ToString(out.ResourceRecordSets[0].Name) != name || out.ResourceRecordSets[0].Type != types.RRTypeDs {
		return 0, nil
	}
	rs := out.ResourceRecordSets[0]
	var values []string
	for _, r := range rs.ResourceRecords {
		values = append(values, strings.ToUpper(aws.ToString(r.Value)))
	}
	return aws.ToInt64(rs.TTL), values
}

func (e *r53) publisher(t *testing.T, s Settings) Publisher {
	t.Helper()
	if s.ParentHostedZoneID == "" {
		s.ParentHostedZoneID = e.parentID
	}
	s.Kind = KindParentHostedZone
	p, err := New(child, s, Clients{Route53: e.api})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// untilDone calls step with the previous Operation until it is Done,
// advancing the clock by PollAfter between calls; it fails after n calls.
func untilDone(t *testing.T, clk *clock.Virtual, first Progress, step func(op string) (Progress, error)) Progress {
	t.Helper()
	p := first
	for range 20 {
		if p.Done {
			return p
		}
		if p.PollAfter <= 0 {
			t.Fatalf("Progress %+v is not done and has no PollAfter", p)
		}
		clk.Advance(p.PollAfter)
		var err error
		if p, err = step(p.Operation); err != nil {
			t.Fatalf("polling: %v", err)
		}
	}
	t.Fatalf("not done after 20 polls: %+v", p)
	return p
}

func TestHostedZoneAdd(t *testing.T) {
	k1, k2 := newKSK(child), newKSK(child)
	for _, tc := range []struct {
		name        string
		settings    Settings
		existing    []string // DS values already at the child, TTL 86400
		add         ksk
		wantTTL     int64
		wantDS      []string
		wantChanges int
	}{
		{name: "first DS gets the default TTL", add: k1, wantTTL: DefaultDSTTL, wantDS: []string{dsRData(k1.ds)}, wantChanges: 1},
		{name: "first DS with a configured TTL", settings: Settings{DSTTL: 300}, add: k1, wantTTL: 300, wantDS: []string{dsRData(k1.ds)}, wantChanges: 1},
		{name: "beside another DS, keeping it and its TTL", existing: []string{dsRData(k2.ds)}, add: k1, wantTTL: 86400,
			wantDS: []string{dsRData(k2.ds), dsRData(k1.ds)}, wantChanges: 1},
		{name: "already there (digest in lower case): no change", existing: []string{strings.ToLower(dsRData(k1.ds))}, add: k1, wantTTL: 86400,
			wantDS: []string{dsRData(k1.ds)}, wantChanges: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newR53(t)
			if len(tc.existing) > 0 {
				e.change(t, e.parentID, types.ChangeActionCreate, child, types.RRTypeDs, 86400, tc.existing...)
			}
			p := e.publisher(t, tc.settings)
			ctx := testCtx(t)
			req := Request{Zone: child, DS: tc.add.ds, DNSKEY: tc.add.key}
			first, err := p.Add(ctx, req)
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if tc.wantChanges > 0 && (first.Done || first.Operation == "" || first.PollAfter != ChangePollInterval) {
				t.Errorf("Add = %+v, want a pending change to poll after %v", first, ChangePollInterval)
			}
			last := untilDone(t, e.clk, first, func(op string) (Progress, error) {
				r := req
				r.Operation = op
				return p.Add(ctx, r)
			})
			if !strings.Contains(last.Detail, "INSYNC") && tc.wantChanges > 0 {
				t.Errorf("last Progress.Detail = %q, want the change INSYNC", last.Detail)
			}
			// Once more, as a re-run after a crash would: nothing to do.
			again, err := p.Add(ctx, req)
			if err != nil || !again.Done {
				t.Errorf("Add again = %+v, %v, want done", again, err)
			}
			if got := e.api.get("ChangeResourceRecordSets"); got != tc.wantChanges {
				t.Errorf("ChangeResourceRecordSets calls = %d, want %d", got, tc.wantChanges)
			}
			ttl, values := e.ds(t, child)
			if ttl != tc.wantTTL {
				t.Errorf("DS TTL = %d, want %d", ttl, tc.wantTTL)
			}
			if diff := cmp.Diff(tc.wantDS, values); diff != "" {
				t.Errorf("DS set (-want +got):\n%s", diff)
			}
			pub, err := p.Published(ctx, child)
			if err != nil {
				t.Fatalf("Published: %v", err)
			}
			if diff := cmp.Diff(tc.wantDS, dsStrings(pub)); diff != "" {
				t.Errorf("Published (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostedZoneRemove(t *testing.T) {
	k1, k2, k3 := newKSK(child), newKSK(child), newKSK(child)
	for _, tc := range []struct {
		name        string
		existing    []string
		remove      ksk
		wantDS      []string // nil: no DS RRset left
		wantChanges int
	}{
		{name: "keeps the others and the TTL", existing: []string{dsRData(k1.ds), dsRData(k2.ds), dsRData(k3.ds)}, remove: k2,
			wantDS: []string{dsRData(k1.ds), dsRData(k3.ds)}, wantChanges: 1},
		{name: "the last one deletes the RRset", existing: []string{dsRData(k1.ds)}, remove: k1, wantChanges: 1},
		{name: "not there: no change", existing: []string{dsRData(k1.ds)}, remove: k2, wantDS: []string{dsRData(k1.ds)}},
		{name: "no DS at all: no change", remove: k2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newR53(t)
			if len(tc.existing) > 0 {
				e.change(t, e.parentID, types.ChangeActionCreate, child, types.RRTypeDs, 7200, tc.existing...)
			}
			p := e.publisher(t, Settings{})
			ctx := testCtx(t)
			req := Request{Zone: child, DS: tc.remove.ds}
			first, err := p.Remove(ctx, req)
			if err != nil {
				t.Fatalf("Remove: %v", err)
			}
			untilDone(t, e.clk, first, func(op string) (Progress, error) {
				r := req
				r.Operation = op
				return p.Remove(ctx, r)
			})
			if again, err := p.Remove(ctx, req); err != nil || !again.Done {
				t.Errorf("Remove again = %+v, %v, want done", again, err)
			}
			if got := e.api.get("ChangeResourceRecordSets"); got != tc.wantChanges {
				t.Errorf("ChangeResourceRecordSets calls = %d, want %d", got, tc.wantChanges)
			}
			ttl, values := e.ds(t, child)
			if diff := cmp.Diff(tc.wantDS, values); diff != "" {
				t.Errorf("DS set (-want +got):\n%s", diff)
			}
			if values != nil && ttl != 7200 {
				t.Errorf("DS TTL = %d, want 7200 kept", ttl)
			}
			// The delegation itself is never touched.
			snapNS := e.nsCount(t)
			if snapNS != 2 {
				t.Errorf("NS records at %s = %d, want 2", child, snapNS)
			}
		})
	}
}

func (e *r53) nsCount(t *testing.T) int {
	t.Helper()
	out, err := e.client.ListResourceRecordSets(context.Background(), &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(e.parentID), StartRecordName: aws.String(child), StartRecordType: types.RRTypeNs, MaxItems: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	if len(out.ResourceRecordSets) == 0 || out.ResourceRecordSets[0].Type != types.RRTypeNs || aws.ToString(out.ResourceRecordSets[0].Name) != child {
		return 0
	}
	return len(out.ResourceRecordSets[0].ResourceRecords)
}

func TestHostedZoneRefusals(t *testing.T) {
	k := newKSK(child)
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, e *r53) Settings
		zone     string
		call     func(p Publisher, ctx context.Context, req Request) (Progress, error)
		wantErr  string
		wantText string
	}{
		{
			name: "no NS delegation in the parent",
			setup: func(t *testing.T, e *r53) Settings {
				e.change(t, e.parentID, types.ChangeActionDelete, child, types.RRTypeNs, 3600, "ns-1.awsdns-01.test.", "ns-2.awsdns-02.test.")
				return Settings{}
			},
			call:     Publisher.Add,
			wantErr:  "ParentDelegationMissingError",
			wantText: "no NS delegation for sub.example.test.",
		},
		{
			name: "a hosted zone that does not enclose the zone",
			setup: func(t *testing.T, e *r53) Settings {
				return Settings{ParentHostedZoneID: e.createZone(t, "other.test.")}
			},
			call:     Publisher.Add,
			wantErr:  "InvalidPublisherSettingError",
			wantText: "does not enclose sub.example.test.",
		},
		{
			name:     "the zone itself is not its parent",
			setup:    func(t *testing.T, e *r53) Settings { return Settings{ParentHostedZoneID: e.createZone(t, child)} },
			call:     Publisher.Remove,
			wantErr:  "InvalidPublisherSettingError",
			wantText: "does not enclose",
		},
		{
			name:     "no such hosted zone",
			setup:    func(t *testing.T, e *r53) Settings { return Settings{ParentHostedZoneID: "Z0000000000NONE"} },
			call:     Publisher.Add,
			wantErr:  "InvalidPublisherSettingError",
			wantText: "no such hosted zone",
		},
		{
			name:     "a request for another zone",
			setup:    func(t *testing.T, e *r53) Settings { return Settings{} },
			zone:     "other.example.test.",
			call:     Publisher.Add,
			wantErr:  "InvalidRequestError",
			wantText: "serves sub.example.test.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newR53(t)
			p := e.publisher(t, tc.setup(t, e))
			zone := child
			if tc.zone != "" {
				zone = tc.zone
			}
			_, err := tc.call(p, testCtx(t), Request{Zone: zone, DS: k.ds})
			if got := errorTypeName(err); got != tc.wantErr || !strings.Contains(fmt.Sprint(err), tc.wantText) {
				t.Errorf("call = %v (%s), want a %s containing %q", err, got, tc.wantErr, tc.wantText)
			}
			if got := e.api.get("ChangeResourceRecordSets"); got != 0 {
				t.Errorf("ChangeResourceRecordSets calls = %d, want none", got)
			}
		})
	}
}

func TestHostedZoneBusy(t *testing.T) {
	e := newR53(t)
	k := newKSK(child)
	p := e.publisher(t, Settings{})
	ctx := testCtx(t)
	req := Request{Zone: child, DS: k.ds}
	for _, code := range []string{route53emu.CodePriorRequestNotComplete, route53emu.CodeThrottling} {
		e.svc.InjectError("ChangeResourceRecordSets", code, 1)
		got, err := p.Add(ctx, req)
		if err != nil {
			t.Fatalf("Add with %s = %v, want a Progress to try again", code, err)
		}
		if got.Done || got.PollAfter != BusyPollInterval || !strings.Contains(got.Detail, code) {
			t.Errorf("Add with %s = %+v, want not done, poll after %v, the code in the detail", code, got, BusyPollInterval)
		}
	}
	first, err := p.Add(ctx, req)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	untilDone(t, e.clk, first, func(op string) (Progress, error) {
		r := req
		r.Operation = op
		return p.Add(ctx, r)
	})
	if _, values := e.ds(t, child); !cmp.Equal(values, []string{dsRData(k.ds)}) {
		t.Errorf("DS set = %v, want [%s]", values, dsRData(k.ds))
	}
}

func TestHostedZoneForgottenChange(t *testing.T) {
	// A change ID Route 53 no longer lists (or never did) does not hold a
	// request up once the DS set is right.
	e := newR53(t)
	k := newKSK(child)
	e.change(t, e.parentID, types.ChangeActionCreate, child, types.RRTypeDs, 3600, dsRData(k.ds))
	p := e.publisher(t, Settings{})
	got, err := p.Add(testCtx(t), Request{Zone: child, DS: k.ds, Operation: "C0000000000GONE"})
	if err != nil || !got.Done || !strings.Contains(got.Detail, "no longer listed") {
		t.Errorf("Add(forgotten change) = %+v, %v, want done", got, err)
	}
}
