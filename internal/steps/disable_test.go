package steps

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// disableR53 adds to fakeRoute53 the calls disable-signing makes, and counts
// them.
type disableR53 struct {
	*fakeRoute53
	errs  map[string]error // operation -> error for every call
	calls []string         // successful side-effecting calls, in order
}

func newDisableR53() *disableR53 {
	return &disableR53{fakeRoute53: newFakeRoute53(), errs: map[string]error{}}
}

func (f *disableR53) ksk(name string) int {
	return slices.IndexFunc(f.ksks, func(k r53types.KeySigningKey) bool { return aws.ToString(k.Name) == name })
}

func (f *disableR53) DisableHostedZoneDNSSEC(_ context.Context, in *route53.DisableHostedZoneDNSSECInput, _ ...func(*route53.Options)) (*route53.DisableHostedZoneDNSSECOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["DisableHostedZoneDNSSEC"]; err != nil {
		return nil, err
	}
	f.serve = ServeNotSigning
	f.calls = append(f.calls, "DisableHostedZoneDNSSEC")
	return &route53.DisableHostedZoneDNSSECOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CDIS")}}, nil
}

func (f *disableR53) DeactivateKeySigningKey(_ context.Context, in *route53.DeactivateKeySigningKeyInput, _ ...func(*route53.Options)) (*route53.DeactivateKeySigningKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["DeactivateKeySigningKey"]; err != nil {
		return nil, err
	}
	i := f.ksk(aws.ToString(in.Name))
	if i < 0 {
		return nil, &r53types.NoSuchKeySigningKey{Message: aws.String("no such KSK")}
	}
	f.ksks[i].Status = aws.String(KSKInactive)
	f.calls = append(f.calls, "DeactivateKeySigningKey "+aws.ToString(in.Name))
	return &route53.DeactivateKeySigningKeyOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CDEA")}}, nil
}

func (f *disableR53) DeleteKeySigningKey(_ context.Context, in *route53.DeleteKeySigningKeyInput, _ ...func(*route53.Options)) (*route53.DeleteKeySigningKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.ksk(aws.ToString(in.Name))
	if i < 0 {
		return nil, &r53types.NoSuchKeySigningKey{Message: aws.String("no such KSK")}
	}
	if st := aws.ToString(f.ksks[i].Status); st != KSKInactive {
		return nil, apiErr("InvalidKeySigningKeyStatus")
	}
	f.ksks[i].Status = aws.String(kskDeleting)
	f.calls = append(f.calls, "DeleteKeySigningKey "+aws.ToString(in.Name))
	return &route53.DeleteKeySigningKeyOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CDEL")}}, nil
}

// disableKMS adds ScheduleKeyDeletion to fakeKMS.
type disableKMS struct {
	*fakeKMS
	scheduled []string
}

func (f *disableKMS) ScheduleKeyDeletion(_ context.Context, in *kms.ScheduleKeyDeletionInput, _ ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, err := f.lookup(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	if k.md.KeyState == kmstypes.KeyStatePendingDeletion {
		return nil, &kmstypes.KMSInvalidStateException{Message: aws.String("pending deletion")}
	}
	k.md.KeyState = kmstypes.KeyStatePendingDeletion
	f.scheduled = append(f.scheduled, fmt.Sprintf("%s %d", aws.ToString(in.KeyId), aws.ToInt32(in.PendingWindowInDays)))
	return &kms.ScheduleKeyDeletionOutput{KeyId: in.KeyId, DeletionDate: aws.Time(t0.Add(time.Duration(aws.ToInt32(in.PendingWindowInDays)) * 24 * time.Hour))}, nil
}

// recordingSNS keeps what is published.
type recordingSNS struct {
	mu  sync.Mutex
	msg []string
}

func (f *recordingSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msg = append(f.msg, aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprint(len(f.msg)))}, nil
}

// disableFixture is a Handler over the fakes, on a clock the test moves.
type disableFixture struct {
	h    *Handler
	r53  *disableR53
	kms  *disableKMS
	sns  *recordingSNS
	obs  *fakeObserver
	res  *chainResolver
	now  time.Time
	ksks []KSKRef
}

func newDisableFixture(t *testing.T) *disableFixture {
	t.Helper()
	f := &disableFixture{r53: newDisableR53(), kms: &disableKMS{fakeKMS: newFakeKMS()}, sns: &recordingSNS{}, now: t0,
		res: &chainResolver{status: map[string]*dnssec.Result{}}}
	f.obs = &fakeObserver{snap: delegated(zoneNS...)}
	h, err := New(Config{AccountID: account}, Deps{
		Clients:     Clients{Route53: f.r53, KMS: f.kms, SNS: f.sns},
		Observer:    f.obs,
		NewResolver: func() (Resolver, error) { return f.res, nil },
		Now:         func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// chainResolver answers each name with a result; "test." and anything
// unlisted are secure.
type chainResolver struct {
	status map[string]*dnssec.Result
}

func (c *chainResolver) Resolve(_ context.Context, name string, qtype uint16) (*dnssec.Result, error) {
	if r, ok := c.status[strings.ToLower(name)]; ok {
		out := *r
		out.Type = qtype
		return &out, nil
	}
	return &dnssec.Result{Name: name, Type: qtype, Status: dnssec.Secure}, nil
}

// addKSK gives the fake zone a KSK with a KMS key (tagged as ours when ours).
func (f *disableFixture) addKSK(t *testing.T, name, status string, ours bool) KSKRef {
	t.Helper()
	var tags []kmstypes.Tag
	if ours {
		tags = append(tags, kmstypes.Tag{TagKey: aws.String(TagHostedZoneID), TagValue: aws.String(zoneID)})
	}
	arn := f.kms.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, "{}", tags...)
	k := newRoute53KSK(name, arn, status)
	f.r53.ksks = append(f.r53.ksks, k)
	ref, err := kskRef(zone, k)
	if err != nil {
		t.Fatal(err)
	}
	f.ksks = append(f.ksks, ref)
	return ref
}

// parentServes makes every parent server serve ds (TTL 3600).
func (f *disableFixture) parentServes(ds ...*dns.DS) {
	base := delegated(zoneNS...)
	f.obs.snap = func(z string) (*observe.Snapshot, error) {
		s, err := base(z)
		if err != nil || len(ds) == 0 {
			return s, err
		}
		for i := range s.ParentServers {
			var rrs []dns.RR
			for _, d := range ds {
				c := dns.Copy(d).(*dns.DS)
				c.Hdr.Ttl = 3600
				rrs = append(rrs, c)
			}
			s.ParentServers[i].DS = &observe.RRset{State: observe.OK, Records: rrs, TTL: 3600}
		}
		return s, nil
	}
}

// historyGone is a History in which every parent server served the DS of k
// (TTL 3600) until goneAt, the zone's servers serving k signing throughout.
func historyGone(t *testing.T, k KSKRef, goneAt time.Time) *rollover.History {
	t.Helper()
	h := rollover.NewHistory(zone)
	keys := rollover.NewDNSKEYSet([]rollover.Key{k.Key}, k.Key)
	zoneAns := []rollover.DNSKEYAnswer{{Server: "ns-1@127.0.1.1:53", Set: keys, TTL: 3600}}
	for _, s := range []rollover.Snapshot{
		{At: goneAt.Add(-time.Hour), Parent: []rollover.DSAnswer{{Server: "p1@127.0.0.1:53", Set: rollover.NewDSSet(k.DS), TTL: 3600}}, Zone: zoneAns},
		{At: goneAt, Parent: []rollover.DSAnswer{{Server: "p1@127.0.0.1:53", TTL: 900}}, Zone: zoneAns},
	} {
		if err := h.Record(s); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func disableState(f *disableFixture, h *rollover.History) *State {
	return &State{Workflow: rollover.WorkflowDisable, ExecutionARN: execution.ARN, HostedZoneID: zoneID, Zone: zone, MarginSeconds: 3600,
		KSKs: slices.Clone(f.ksks), History: h, Disable: &DisableState{}, KMSDeletionWindowDays: 30,
		Publisher: dspublish.Settings{Kind: dspublish.KindManual, TopicARN: "arn:aws:sns:us-east-1:123456789012:dnssec"}}
}

func manualInput() *Input {
	return &Input{HostedZoneID: zoneID, DSPublisher: &dspublish.Settings{Kind: dspublish.KindManual, TopicARN: "arn:aws:sns:us-east-1:123456789012:dnssec"}}
}

func otherDS() *dns.DS {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET}, Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := k.Generate(256); err != nil {
		panic(err)
	}
	return k.ToDS(dns.SHA256)
}

// TestPreflightDisable: the refusals are named and change nothing; an
// accepted run lists every DS (the unknown one first), takes the lock once
// (re-entrant), and a signed zone whose parent serves no DS waits as if one
// had just been withdrawn.
func TestPreflightDisable(t *testing.T) {
	childDS := r53types.ResourceRecordSet{Name: aws.String("app." + zone), Type: r53types.RRTypeDs, TTL: aws.Int64(3600),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("1 13 2 ABCD")}}}
	tests := []struct {
		name    string
		setup   func(t *testing.T, f *disableFixture)
		in      func(*Input)
		wantErr string
		check   func(t *testing.T, f *disableFixture, s State)
	}{
		{name: "unsigned", wantErr: "NotSignedError"},
		{name: "internal failure", wantErr: "SigningInternalFailureError", setup: func(t *testing.T, f *disableFixture) {
			f.addKSK(t, "ksk_a", KSKActive, true)
			f.r53.serve = ServeInternalFailure
		}},
		{name: "signed child", wantErr: "SignedChildrenError", setup: func(t *testing.T, f *disableFixture) {
			f.addKSK(t, "ksk_a", KSKActive, true)
			f.r53.serve = ServeSigning
			f.r53.records = append(f.r53.records, childDS)
		}},
		{name: "signed child allowed", in: func(in *Input) { in.AllowSignedChildren = true }, setup: func(t *testing.T, f *disableFixture) {
			k := f.addKSK(t, "ksk_a", KSKActive, true)
			f.r53.serve = ServeSigning
			f.r53.records = append(f.r53.records, childDS)
			f.parentServes(k.DSRR(zone))
		}, check: func(t *testing.T, f *disableFixture, s State) {
			if diff := cmp.Diff([]string{"app." + zone}, s.Disable.SignedChildren); diff != "" {
				t.Errorf("signed children (-want +got):\n%s", diff)
			}
		}},
		{name: "unknown DS first", in: func(in *Input) { in.DeleteKMSKeys = true }, setup: func(t *testing.T, f *disableFixture) {
			a := f.addKSK(t, "ksk_a", KSKActive, true)
			b := f.addKSK(t, "ksk_b", KSKInactive, true)
			f.r53.serve = ServeSigning
			f.parentServes(a.DSRR(zone), b.DSRR(zone), otherDS())
		}, check: func(t *testing.T, f *disableFixture, s State) {
			var got []string
			for _, w := range s.Disable.DS {
				got = append(got, fmt.Sprintf("%s signing=%v", orDash(w.KSK), w.Signing))
			}
			if diff := cmp.Diff([]string{"- signing=false", "ksk_b signing=false", "ksk_a signing=true"}, got); diff != "" {
				t.Errorf("withdrawal order (-want +got):\n%s", diff)
			}
			if !s.Disable.DeleteKMSKeys || s.Disable.AssumedDS || len(s.KSKs) != 2 {
				t.Errorf("state.disable = %+v, %d KSKs", s.Disable, len(s.KSKs))
			}
		}},
		{name: "no DS seen", setup: func(t *testing.T, f *disableFixture) {
			f.addKSK(t, "ksk_a", KSKActive, true)
			f.r53.serve = ServeSigning
		}, check: func(t *testing.T, f *disableFixture, s State) {
			if !s.Disable.AssumedDS {
				t.Fatal("a signed zone with no DS observed: no DS assumed")
			}
			plan, err := rollover.DisableSigningGates(s.History, s.margin(), t0)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := plan.Gate(rollover.DisableSigning)
			if want := t0.Add(AssumedDSTTL*time.Second + time.Hour); g.Earliest.Before(want) {
				t.Errorf("disable-signing gate at %v, want at least %v", g.Earliest, want)
			}
		}},
		{name: "resuming unsigned with KSKs", setup: func(t *testing.T, f *disableFixture) {
			f.addKSK(t, "ksk_a", KSKInactive, true)
		}, check: func(t *testing.T, f *disableFixture, s State) {
			if s.Disable.AssumedDS {
				t.Error("a zone that no longer signs needs no assumed DS")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDisableFixture(t)
			if tt.setup != nil {
				tt.setup(t, f)
			}
			in := manualInput()
			if tt.in != nil {
				tt.in(in)
			}
			s, err := f.h.PreflightDisable(context.Background(), Event{Execution: execution, Input: in})
			if got := errName(err); got != tt.wantErr {
				t.Fatalf("PreflightDisable = %v (%s), want %s", err, got, orDash(tt.wantErr))
			}
			if tt.wantErr != "" {
				if len(f.r53.changes) != 0 || len(f.r53.calls) != 0 || len(f.sns.msg) != 0 {
					t.Errorf("refused, but changed %v %v, published %d", f.r53.changes, f.r53.calls, len(f.sns.msg))
				}
				return
			}
			if !s.LockHeld || f.r53.changes["ChangeResourceRecordSets:CREATE"] != 1 {
				t.Errorf("lock held %v, changes %v: want the lock taken once", s.LockHeld, f.r53.changes)
			}
			if tt.check != nil {
				tt.check(t, f, s)
			}
			// The same execution again: re-entrant, nothing more.
			if _, err := f.h.PreflightDisable(context.Background(), Event{Execution: execution, Input: in}); err != nil {
				t.Errorf("PreflightDisable again = %v", err)
			}
			if f.r53.changes["ChangeResourceRecordSets:CREATE"] != 1 || len(f.r53.calls) != 0 {
				t.Errorf("after a re-run: changes %v, calls %v", f.r53.changes, f.r53.calls)
			}
		})
	}
}

// TestPreflightDisableDryRun: the plan is noted, no lock is taken.
func TestPreflightDisableDryRun(t *testing.T) {
	f := newDisableFixture(t)
	k := f.addKSK(t, "ksk_a", KSKActive, true)
	f.r53.serve = ServeSigning
	f.parentServes(k.DSRR(zone))
	in := manualInput()
	in.DryRun = true
	s, err := f.h.PreflightDisable(context.Background(), Event{Execution: execution, Input: in})
	if err != nil {
		t.Fatal(err)
	}
	if s.LockHeld || len(f.r53.changes) != 0 || s.Plan == nil {
		t.Errorf("dry run: lock %v, changes %v, plan %v", s.LockHeld, f.r53.changes, s.Plan)
	}
	if last := s.Timeline[len(s.Timeline)-1]; !strings.Contains(last, "dry run: would withdraw DS ["+k.DS.String()+"]") {
		t.Errorf("timeline ends with %q", last)
	}
}

// TestWithdrawDSManual: one message per DS, in order; a re-run of a finished
// step sends nothing more.
func TestWithdrawDSManual(t *testing.T) {
	f := newDisableFixture(t)
	a := f.addKSK(t, "ksk_a", KSKActive, true)
	b := f.addKSK(t, "ksk_b", KSKInactive, true)
	s := disableState(f, rollover.NewHistory(zone))
	s.Disable.DS = withdrawals(zone, []*dns.DS{a.DSRR(zone), b.DSRR(zone)}, f.ksks, true)
	out, err := f.h.WithdrawDS(context.Background(), Event{Execution: execution, State: s})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Poll.Done || out.Disable.Next != 2 || !out.Disable.DS[0].Withdrawn || !out.Disable.DS[1].Withdrawn {
		t.Fatalf("after withdraw-ds: poll %+v, disable %+v", out.Poll, out.Disable)
	}
	if len(f.sns.msg) != 2 || !strings.Contains(f.sns.msg[0], fmt.Sprint(b.DS.KeyTag)) || !strings.Contains(f.sns.msg[1], fmt.Sprint(a.DS.KeyTag)) {
		t.Errorf("messages %q: want the inactive KSK's DS first, then the signing one's", f.sns.msg)
	}
	again, err := f.h.WithdrawDS(context.Background(), Event{Execution: execution, State: &out})
	if err != nil || !again.Poll.Done || len(f.sns.msg) != 2 {
		t.Errorf("re-run: %v, done %v, %d messages; want done with no new message", err, again.Poll.Done, len(f.sns.msg))
	}
}

// TestWithdrawals: attribution to KSKs by digest (any digest type), one entry
// per distinct DS, unattributed first and signing KSKs last.
func TestWithdrawals(t *testing.T) {
	f := newDisableFixture(t)
	a := f.addKSK(t, "ksk_a", KSKActive, true)
	b := f.addKSK(t, "ksk_b", KSKActive, true)
	other := otherDS()
	a384 := a.DNSKEY(zone).ToDS(dns.SHA384)
	tests := []struct {
		name    string
		in      []*dns.DS
		signing bool
		want    []string
	}{
		{"none", nil, true, nil},
		{"duplicates", []*dns.DS{a.DSRR(zone), a.DSRR(zone)}, true, []string{"ksk_a true"}},
		{"unknown first", []*dns.DS{a.DSRR(zone), other}, true, []string{"- false", "ksk_a true"}},
		{"both digests", []*dns.DS{a384, a.DSRR(zone)}, true, []string{"ksk_a true", "ksk_a true"}},
		{"not signing", []*dns.DS{b.DSRR(zone), other, a.DSRR(zone)}, false, []string{"- false", "ksk_a false", "ksk_b false"}},
	}
	for _, tt := range tests {
		var got []string
		for _, w := range withdrawals(zone, tt.in, f.ksks, tt.signing) {
			got = append(got, fmt.Sprintf("%s %v", orDash(w.KSK), w.Signing))
		}
		if tt.name == "not signing" {
			slices.Sort(got[1:]) // same rank: order by digest
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: withdrawals (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestProvenInsecure: only an insecure verdict whose first non-secure cut is
// a denial of DS counts.
func TestProvenInsecure(t *testing.T) {
	ds := &dns.DS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDS}, KeyTag: 1, Algorithm: 13, DigestType: 2, Digest: "AB"}
	secure := dnssec.Link{Zone: ".", Status: dnssec.Secure}
	tld := dnssec.Link{Zone: "test.", Status: dnssec.Secure}
	tests := []struct {
		name string
		res  dnssec.Result
		want bool
	}{
		{"denial at the zone", dnssec.Result{Status: dnssec.Insecure, Chain: []dnssec.Link{secure, tld, {Zone: zone, Status: dnssec.Insecure, Reason: "no DS"}}}, true},
		{"denial above", dnssec.Result{Status: dnssec.Insecure, Chain: []dnssec.Link{secure, {Zone: "test.", Status: dnssec.Insecure}, {Zone: zone, Status: dnssec.Insecure}}}, true},
		{"secure", dnssec.Result{Status: dnssec.Secure, Chain: []dnssec.Link{secure, tld, {Zone: zone, Status: dnssec.Secure, DS: []*dns.DS{ds}}}}, false},
		{"bogus", dnssec.Result{Status: dnssec.Bogus, Reason: "missing RRSIG"}, false},
		{"indeterminate", dnssec.Result{Status: dnssec.Indeterminate, Reason: "timeout"}, false},
		{"unsupported DS", dnssec.Result{Status: dnssec.Insecure, Chain: []dnssec.Link{secure, tld, {Zone: zone, Status: dnssec.Insecure, DS: []*dns.DS{ds}}}}, false},
		{"anchor", dnssec.Result{Status: dnssec.Insecure, Chain: []dnssec.Link{{Zone: zone, Status: dnssec.Insecure, Anchor: true}}}, false},
		{"no chain", dnssec.Result{Status: dnssec.Insecure}, false},
	}
	for _, tt := range tests {
		if got, why := ProvenInsecure(zone, &tt.res); got != tt.want {
			t.Errorf("%s: ProvenInsecure = %v (%s), want %v", tt.name, got, why, tt.want)
		}
	}
}

// TestProveInsecure: done when proven; otherwise polled, and
// DelegationNotInsecureError once the budget is spent.
func TestProveInsecure(t *testing.T) {
	proven := &dnssec.Result{Status: dnssec.Insecure, Chain: []dnssec.Link{{Zone: ".", Status: dnssec.Secure}, {Zone: zone, Status: dnssec.Insecure, Reason: "no DS"}}}
	tests := []struct {
		name string
		res  *dnssec.Result
		done bool
	}{
		{"proven", proven, true},
		{"bogus", &dnssec.Result{Status: dnssec.Bogus, Reason: "missing RRSIG"}, false},
		{"still secure", &dnssec.Result{Status: dnssec.Secure}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDisableFixture(t)
			f.res.status[zone] = tt.res
			s, err := f.h.ProveInsecure(context.Background(), Event{Execution: execution, State: disableState(f, rollover.NewHistory(zone))})
			if err != nil || s.Poll.Done != tt.done {
				t.Fatalf("ProveInsecure = %v, done %v; want done %v", err, s.Poll.Done, tt.done)
			}
			if tt.done {
				return
			}
			f.now = f.now.Add(ChainValidationBudget)
			_, err = f.h.ProveInsecure(context.Background(), Event{Execution: execution, State: &s})
			if errName(err) != "DelegationNotInsecureError" {
				t.Errorf("after the budget: %v, want DelegationNotInsecureError", err)
			}
		})
	}
}

// TestDisableSigningStep: the gate is checked again before the call; Route
// 53's "DS still at the parent" is polled, then a timeout; a second run does
// nothing.
func TestDisableSigningStep(t *testing.T) {
	tests := []struct {
		name     string
		serve    string
		goneAgo  time.Duration
		apiErr   error
		wantErr  string
		done     bool
		wantCall bool
	}{
		{name: "gate passed", serve: ServeSigning, goneAgo: 2*time.Hour + time.Minute, done: true, wantCall: true},
		{name: "gate not passed", serve: ServeSigning, goneAgo: 30 * time.Minute, wantErr: "GateNotReadyError"},
		{name: "already off", serve: ServeNotSigning, goneAgo: 30 * time.Minute, done: true},
		{name: "deleting", serve: ServeDeleting, goneAgo: 3 * time.Hour},
		{name: "Route 53 sees a DS", serve: ServeSigning, goneAgo: 3 * time.Hour, apiErr: apiErr("KeySigningKeyInParentDSRecord")},
		{name: "no DNSSEC resources", serve: ServeSigning, goneAgo: 3 * time.Hour, apiErr: apiErr("DNSSECNotFound"), done: true},
		{name: "other refusal", serve: ServeSigning, goneAgo: 3 * time.Hour, apiErr: apiErr("InvalidInput"), wantErr: "UnexpectedError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDisableFixture(t)
			k := f.addKSK(t, "ksk_a", KSKActive, true)
			f.r53.serve = tt.serve
			if tt.apiErr != nil {
				f.r53.errs["DisableHostedZoneDNSSEC"] = tt.apiErr
			}
			s := disableState(f, historyGone(t, k, t0.Add(-tt.goneAgo)))
			out, err := f.h.DisableSigning(context.Background(), Event{Execution: execution, State: s})
			if got := errName(err); got != tt.wantErr {
				t.Fatalf("DisableSigning = %v, want %s", err, orDash(tt.wantErr))
			}
			if called := slices.Contains(f.r53.calls, "DisableHostedZoneDNSSEC"); called != tt.wantCall {
				t.Errorf("DisableHostedZoneDNSSEC called %v, want %v", called, tt.wantCall)
			}
			if err != nil {
				return
			}
			if out.Poll.Done != tt.done || (!tt.done && out.Poll.DelaySeconds <= 0) {
				t.Errorf("poll %+v, want done %v", out.Poll, tt.done)
			}
			if tt.wantCall && out.ChangeID != "/change/CDIS" {
				t.Errorf("ChangeID %q, want the disable change", out.ChangeID)
			}
			if !tt.done && tt.apiErr != nil {
				f.now = f.now.Add(DisableRefusedBudget)
				if _, err := f.h.DisableSigning(context.Background(), Event{Execution: execution, State: &out}); errName(err) != "PropagationTimeoutError" {
					t.Errorf("after the budget: %v, want PropagationTimeoutError", err)
				}
			}
			if tt.done {
				n := len(f.r53.calls)
				if _, err := f.h.DisableSigning(context.Background(), Event{Execution: execution, State: &out}); err != nil || len(f.r53.calls) != n {
					t.Errorf("second run: %v, calls %v", err, f.r53.calls)
				}
			}
		})
	}
}

// TestRetireKSKs: ACTIVE keys are deactivated then deleted, INACTIVE ones
// deleted, gone ones skipped; nothing while Route 53 signs; a re-run calls
// nothing.
func TestRetireKSKs(t *testing.T) {
	f := newDisableFixture(t)
	f.addKSK(t, "ksk_a", KSKActive, true)
	f.addKSK(t, "ksk_b", KSKInactive, true)
	s := disableState(f, rollover.NewHistory(zone))
	s.KSKs = append(s.KSKs, KSKRef{Name: "ksk_gone"})
	f.r53.serve = ServeSigning
	if _, err := f.h.RetireKSKs(context.Background(), Event{Execution: execution, State: s}); errName(err) != "GateNotReadyError" || len(f.r53.calls) != 0 {
		t.Fatalf("while signing: %v, calls %v; want GateNotReadyError and no call", err, f.r53.calls)
	}
	f.r53.serve = ServeNotSigning
	f.r53.errs["DeactivateKeySigningKey"] = apiErr("KeySigningKeyInParentDSRecord")
	out, err := f.h.RetireKSKs(context.Background(), Event{Execution: execution, State: s})
	if err != nil || out.Poll.Done {
		t.Fatalf("Route 53 sees a DS: %v, done %v; want a poll", err, out.Poll.Done)
	}
	delete(f.r53.errs, "DeactivateKeySigningKey")
	out, err = f.h.RetireKSKs(context.Background(), Event{Execution: execution, State: &out})
	if err != nil || !out.Poll.Done {
		t.Fatalf("RetireKSKs = %v, done %v", err, out.Poll.Done)
	}
	want := []string{"DeleteKeySigningKey ksk_b", "DeactivateKeySigningKey ksk_a", "DeleteKeySigningKey ksk_a"}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(f.r53.calls))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if i, j := slices.Index(f.r53.calls, "DeactivateKeySigningKey ksk_a"), slices.Index(f.r53.calls, "DeleteKeySigningKey ksk_a"); i > j {
		t.Errorf("ksk_a deleted before it was deactivated: %v", f.r53.calls)
	}
	var statuses []string
	for _, k := range out.KSKs {
		statuses = append(statuses, k.Name+" "+k.Status)
	}
	if diff := cmp.Diff([]string{"ksk_a DELETING", "ksk_b DELETING", "ksk_gone DELETED"}, statuses); diff != "" {
		t.Errorf("KSK statuses (-want +got):\n%s", diff)
	}
	// A re-run (the answer was lost) deletes nothing again and waits until
	// Route 53 has finished deleting.
	n := len(f.r53.calls)
	again, err := f.h.RetireKSKs(context.Background(), Event{Execution: execution, State: &out})
	if err != nil || len(f.r53.calls) != n || again.Poll.Done {
		t.Errorf("re-run while DELETING: %v, calls %v, done %v; want no call and a poll", err, f.r53.calls, again.Poll.Done)
	}
	f.r53.ksks = nil
	again, err = f.h.RetireKSKs(context.Background(), Event{Execution: execution, State: &again})
	if err != nil || len(f.r53.calls) != n || !again.Poll.Done {
		t.Errorf("re-run once deleted: %v, calls %v, done %v; want done", err, f.r53.calls, again.Poll.Done)
	}
}

// TestRetireKMSKeys: nothing unless asked; then only keys created for this
// hosted zone, with the window; pending or gone keys are done.
func TestRetireKMSKeys(t *testing.T) {
	for _, del := range []bool{false, true} {
		f := newDisableFixture(t)
		ours := f.addKSK(t, "ksk_a", KSKInactive, true)
		theirs := f.addKSK(t, "ksk_b", KSKInactive, false)
		pending := f.addKSK(t, "ksk_c", KSKInactive, true)
		f.kms.keys[pending.KMSKeyARN].md.KeyState = kmstypes.KeyStatePendingDeletion
		s := disableState(f, rollover.NewHistory(zone))
		s.KSKs = append(s.KSKs, KSKRef{Name: "ksk_d", KMSKeyARN: "arn:aws:kms:us-east-1:123456789012:key/gone"})
		s.Disable.DeleteKMSKeys = del
		s.KMSDeletionWindowDays = 7
		out, err := f.h.RetireKMSKeys(context.Background(), Event{Execution: execution, State: s})
		if err != nil {
			t.Fatalf("deleteKmsKeys %v: %v", del, err)
		}
		var want []string
		if del {
			want = []string{ours.KMSKeyARN + " 7"}
		}
		if diff := cmp.Diff(want, f.kms.scheduled); diff != "" {
			t.Errorf("deleteKmsKeys %v: scheduled (-want +got):\n%s", del, diff)
		}
		if len(out.Disable.KMSKeys) != 4 {
			t.Errorf("deleteKmsKeys %v: report %q", del, out.Disable.KMSKeys)
		}
		if del && !strings.Contains(strings.Join(out.Disable.KMSKeys, "\n"), theirs.KMSKeyARN+": kept") {
			t.Errorf("a key not created for the zone was not kept: %q", out.Disable.KMSKeys)
		}
		if _, err := f.h.RetireKMSKeys(context.Background(), Event{Execution: execution, State: &out}); err != nil || len(f.kms.scheduled) != len(want) {
			t.Errorf("deleteKmsKeys %v: re-run %v, scheduled %v", del, err, f.kms.scheduled)
		}
	}
}

// TestZoneUnsignedTarget: every zone server must answer NODATA; an unknown
// one is lagging.
func TestZoneUnsignedTarget(t *testing.T) {
	row := func(st observe.State) observe.ServerResult {
		return observe.ServerResult{Name: "ns", Addr: netip.MustParseAddrPort("127.0.1.1:53"), DNSKEY: &observe.RRset{State: st}}
	}
	tests := []struct {
		rows []observe.ServerResult
		want bool
	}{
		{[]observe.ServerResult{row(observe.Absent), row(observe.Absent)}, true},
		{[]observe.ServerResult{row(observe.Absent), row(observe.OK)}, false},
		{[]observe.ServerResult{row(observe.Absent), row(observe.Unknown)}, false},
		{nil, false},
	}
	for i, tt := range tests {
		got, lagging, err := zoneUnsigned(nil, &observe.Snapshot{ZoneServers: tt.rows})
		if err != nil || got != tt.want {
			t.Errorf("case %d: zoneUnsigned = %v %v (%v), want %v", i, got, lagging, err, tt.want)
		}
	}
}
