package steps

import (
	"context"
	"crypto"
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
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// Unit tests of rotate-ksk's steps over the fakes of fakes_test.go, with
// real P-256 keys and signatures so that the DNSKEY sets the fake servers
// serve validate (or do not) as they would.

// rotKey is a KSK or ZSK with its private key.
type rotKey struct {
	rr   *dns.DNSKEY
	priv any
}

func newRotKey(t *testing.T, flags uint16) rotKey {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: flags, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	return rotKey{k, priv}
}

func (k rotKey) ds() *dns.DS {
	ds := k.rr.ToDS(dns.SHA256)
	ds.Hdr.Ttl = 86400
	return ds
}

func (k rotKey) ref(name, arn string) KSKRef {
	key := rollover.KeyFromRR(k.rr)
	d, _ := key.DS(zone, rollover.DSDigest)
	return KSKRef{Name: name, KMSKeyARN: arn, Key: key, DS: d}
}

// route53 returns the KSK as GetDNSSEC reports it.
func (k rotKey) route53(name, arn, status string) r53types.KeySigningKey {
	ds := k.rr.ToDS(dns.SHA256)
	return r53types.KeySigningKey{Name: aws.String(name), KmsArn: aws.String(arn), Status: aws.String(status), Flag: 257,
		SigningAlgorithmType: 13, PublicKey: aws.String(k.rr.PublicKey), KeyTag: int32(k.rr.KeyTag()),
		DNSKEYRecord: aws.String(fmt.Sprintf("257 3 13 %s", k.rr.PublicKey)),
		DSRecord:     aws.String(fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest))}
}

// serving says what the fake servers serve: the DS records of each parent
// server and the keys (and signers) of each zone server; a nil entry is a
// server that does not answer.
type serving struct {
	parent [][]*dns.DS
	zone   []*zoneServe
}

type zoneServe struct {
	keys    []rotKey
	signers []rotKey
}

// snapshot builds the observation of sv at now, with the delegation to
// zoneNS on every parent server.
func (sv serving) snapshot(t *testing.T, now time.Time) *observe.Snapshot {
	t.Helper()
	s, _ := delegated(zoneNS...)(zone)
	s.Time = now
	s.ParentServers = s.ParentServers[:0]
	for i, ds := range sv.parent {
		r := observe.ServerResult{Name: fmt.Sprintf("ns%d.test.", i+1), Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:53", i+1)), Delegation: true,
			NS: &observe.RRset{State: observe.OK, TTL: 172800}}
		for _, n := range zoneNS {
			r.NS.Records = append(r.NS.Records, &dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 172800}, Ns: n})
		}
		switch {
		case ds == nil:
			r.DS = &observe.RRset{State: observe.Unknown, Reason: "timeout"}
		case len(ds) == 0:
			r.DS = &observe.RRset{State: observe.Absent, Reason: observe.ReasonNoData, TTL: 3600}
		default:
			r.DS = &observe.RRset{State: observe.OK, TTL: 86400}
			for _, d := range ds {
				r.DS.Records = append(r.DS.Records, d)
			}
		}
		s.ParentServers = append(s.ParentServers, r)
	}
	for i := range s.ZoneServers {
		zs := sv.zone[i]
		if zs == nil {
			s.ZoneServers[i].DNSKEY = &observe.RRset{State: observe.Unknown, Reason: "timeout"}
			continue
		}
		set := &observe.RRset{State: observe.OK, TTL: 3600}
		var rrs []dns.RR
		for _, k := range zs.keys {
			rrs = append(rrs, k.rr)
		}
		set.Records = rrs
		for _, k := range zs.signers {
			sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
				TypeCovered: dns.TypeDNSKEY, Algorithm: dns.ECDSAP256SHA256, Labels: 2, OrigTtl: 3600,
				Expiration: uint32(now.Add(14 * 24 * time.Hour).Unix()), Inception: uint32(now.Add(-time.Hour).Unix()),
				KeyTag: k.rr.KeyTag(), SignerName: zone}
			if err := sig.Sign(k.priv.(crypto.Signer), rrs); err != nil {
				t.Fatal(err)
			}
			set.Sigs = append(set.Sigs, sig)
		}
		s.ZoneServers[i].DNSKEY = set
	}
	return s
}

// rotR53 adds the KSK retirement calls to fakeRoute53; inParent names the
// KSKs whose DS Route 53 sees at the parent.
type rotR53 struct {
	*fakeRoute53
	inParent map[string]bool
}

func (f *rotR53) DeactivateKeySigningKey(_ context.Context, in *route53.DeactivateKeySigningKeyInput, _ ...func(*route53.Options)) (*route53.DeactivateKeySigningKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inParent[aws.ToString(in.Name)] {
		return nil, apiErr("KeySigningKeyInParentDSRecord")
	}
	for i, k := range f.ksks {
		if aws.ToString(k.Name) == aws.ToString(in.Name) {
			f.ksks[i].Status = aws.String(KSKInactive)
			f.changes["DeactivateKeySigningKey"]++
			return &route53.DeactivateKeySigningKeyOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CDEA")}}, nil
		}
	}
	return nil, apiErr("NoSuchKeySigningKey")
}

func (f *rotR53) DeleteKeySigningKey(_ context.Context, in *route53.DeleteKeySigningKeyInput, _ ...func(*route53.Options)) (*route53.DeleteKeySigningKeyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.ksks {
		if aws.ToString(k.Name) == aws.ToString(in.Name) {
			if aws.ToString(k.Status) != KSKInactive {
				return nil, apiErr("InvalidKeySigningKeyStatus")
			}
			f.ksks = slices.Delete(f.ksks, i, i+1)
			f.changes["DeleteKeySigningKey"]++
			return &route53.DeleteKeySigningKeyOutput{ChangeInfo: &r53types.ChangeInfo{Id: aws.String("/change/CDEL")}}, nil
		}
	}
	return nil, apiErr("NoSuchKeySigningKey")
}

// rotKMS adds ScheduleKeyDeletion to fakeKMS.
type rotKMS struct {
	*fakeKMS
	mu        sync.Mutex
	scheduled map[string]int32 // ARN -> window
}

func (f *rotKMS) ScheduleKeyDeletion(_ context.Context, in *kms.ScheduleKeyDeletionInput, _ ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error) {
	f.fakeKMS.mu.Lock()
	k, err := f.lookup(aws.ToString(in.KeyId))
	if err == nil {
		if k.md.KeyState == kmstypes.KeyStatePendingDeletion {
			err = apiErr("KMSInvalidStateException")
		}
		k.md.KeyState = kmstypes.KeyStatePendingDeletion
	}
	f.fakeKMS.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scheduled[aws.ToString(in.KeyId)] = aws.ToInt32(in.PendingWindowInDays)
	return &kms.ScheduleKeyDeletionOutput{KeyId: in.KeyId, DeletionDate: aws.Time(t0.Add(time.Duration(aws.ToInt32(in.PendingWindowInDays)) * 24 * time.Hour))}, nil
}

// rotFixture is a zone signed with oldKSK (and zsk), with a Handler whose
// clock is now.
type rotFixture struct {
	h              *Handler
	r53            *rotR53
	kms            *rotKMS
	res            *fakeResolver
	now            time.Time
	sv             serving
	oldK, newK, zk rotKey
	oldARN, newARN string
}

const (
	oldName = "ksk_20261001T000000Z"
	newName = "ksk_20261127T063000Z" // KSKName of execution's start
)

func newRotFixture(t *testing.T) *rotFixture {
	t.Helper()
	f := &rotFixture{r53: &rotR53{fakeRoute53: newFakeRoute53(), inParent: map[string]bool{}},
		kms: &rotKMS{fakeKMS: newFakeKMS(), scheduled: map[string]int32{}}, res: &fakeResolver{status: map[string]dnssec.Status{}}, now: t0,
		oldK: newRotKey(t, 257), newK: newRotKey(t, 257), zk: newRotKey(t, 256)}
	zoneTag := kmstypes.Tag{TagKey: aws.String(TagHostedZoneID), TagValue: aws.String(zoneID)}
	f.oldARN = f.kms.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, "", zoneTag)
	f.newARN = f.kms.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, "", zoneTag)
	f.r53.serve = ServeSigning
	f.r53.ksks = []r53types.KeySigningKey{f.oldK.route53(oldName, f.oldARN, KSKActive)}
	f.sv = f.servingOld()
	h, err := New(Config{AccountID: account}, Deps{
		Clients:     Clients{Route53: f.r53, KMS: f.kms},
		Observer:    fakeObserver{snap: func(string) (*observe.Snapshot, error) { return f.sv.snapshot(t, f.now), nil }},
		NewResolver: func() (Resolver, error) { return f.res, nil },
		Now:         func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// servingOld: the old DS on both parent servers, the old KSK signing on both
// zone servers.
func (f *rotFixture) servingOld() serving {
	z := &zoneServe{keys: []rotKey{f.oldK, f.zk}, signers: []rotKey{f.oldK}}
	return serving{parent: [][]*dns.DS{{f.oldK.ds()}, {f.oldK.ds()}}, zone: []*zoneServe{z, z}}
}

// servingBoth: both DS, both KSKs signing.
func (f *rotFixture) servingBoth() serving {
	z := &zoneServe{keys: []rotKey{f.oldK, f.newK, f.zk}, signers: []rotKey{f.oldK, f.newK}}
	return serving{parent: [][]*dns.DS{{f.oldK.ds(), f.newK.ds()}, {f.oldK.ds(), f.newK.ds()}}, zone: []*zoneServe{z, z}}
}

// rotating adds the new KSK to Route 53 and returns the state of a rotation
// that has recorded what f serves now.
func (f *rotFixture) rotating(t *testing.T) *State {
	t.Helper()
	f.r53.ksks = append(f.r53.ksks, f.newK.route53(newName, f.newARN, KSKActive))
	oldRef, newRef := f.oldK.ref(oldName, f.oldARN), f.newK.ref(newName, f.newARN)
	newRef.KMSKeyCreated = true
	s := &State{Workflow: rollover.WorkflowRotate, ExecutionARN: execution.ARN, StartTime: execution.StartTime, HostedZoneID: zoneID, Zone: zone,
		Publisher: *publisherSettings(), MarginSeconds: 3600, KMSDeletionWindowDays: 30, LockHeld: true,
		OldKSK: &oldRef, KSK: &newRef, History: rollover.NewHistory(zone)}
	f.observe(t, s)
	return s
}

// observe records what f serves now in s's History.
func (f *rotFixture) observe(t *testing.T, s *State) {
	t.Helper()
	if err := s.record(HistorySnapshot(f.sv.snapshot(t, f.now))); err != nil {
		t.Fatal(err)
	}
}

func rotateInput() *Input { return &Input{HostedZoneID: zoneID, DSPublisher: publisherSettings()} }

func TestPreflightRotateRefusals(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *rotFixture, in *Input)
		want  string
	}{
		{"not signed", func(f *rotFixture, _ *Input) { f.r53.serve = ServeNotSigning; f.r53.ksks = nil }, "NoKSKToRotateError"},
		{"two ACTIVE KSKs", func(f *rotFixture, _ *Input) {
			f.r53.ksks = append(f.r53.ksks, f.newK.route53("ksk_other", f.newARN, KSKActive))
		}, "RotationInProgressError"},
		{"a leftover INACTIVE KSK", func(f *rotFixture, _ *Input) {
			f.r53.ksks = append(f.r53.ksks, f.newK.route53("ksk_other", f.newARN, KSKInactive))
		}, "RotationInProgressError"},
		{"only KSK ACTION_NEEDED", func(f *rotFixture, _ *Input) { f.r53.ksks[0].Status = aws.String(KSKActionNeeded) }, "RotationInProgressError"},
		{"internal failure", func(f *rotFixture, _ *Input) { f.r53.ksks[0].Status = aws.String(KSKInternalFailure) }, "SigningInternalFailureError"},
		{"the current KMS key supplied", func(f *rotFixture, in *Input) { in.KMSKeyARN = f.oldARN }, "KMSKeyInUseError"},
		{"locked by another run", func(f *rotFixture, _ *Input) {
			f.r53.records = append(f.r53.records, r53types.ResourceRecordSet{Name: aws.String(LockName(zone)), Type: r53types.RRTypeTxt, TTL: aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"owner=0123456789abcdef01234567" "execution=other"`)}}})
		}, "ConcurrentRunError"},
		{"old DS missing on a parent server", func(f *rotFixture, _ *Input) { f.sv.parent[1] = []*dns.DS{} }, "ChainNotSecureError"},
		{"parent server silent", func(f *rotFixture, _ *Input) { f.sv.parent[1] = nil }, "ObservationIncompleteError"},
		{"a zone server not signed by the old KSK", func(f *rotFixture, _ *Input) {
			f.sv.zone[1] = &zoneServe{keys: []rotKey{f.oldK, f.zk}, signers: []rotKey{f.zk}}
		}, "ChainNotSecureError"},
		{"bogus from the root", func(f *rotFixture, _ *Input) { f.res.status[zone] = dnssec.Bogus }, "ChainNotSecureError"},
		{"no publisher", func(_ *rotFixture, in *Input) { in.DSPublisher = nil }, "InvalidInputError"},
		{"window out of range", func(_ *rotFixture, in *Input) { in.KMSDeletionWindowDays = aws.Int32(3) }, "InvalidInputError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRotFixture(t)
			in := rotateInput()
			tt.setup(f, in)
			_, err := f.h.PreflightRotate(context.Background(), Event{Execution: execution, Input: in})
			if got := errName(err); got != tt.want {
				t.Errorf("PreflightRotate = %s (%v), want %s", got, err, tt.want)
			}
			if len(f.r53.changes) != 0 {
				t.Errorf("a refused preflight changed %v", f.r53.changes)
			}
		})
	}
}

func TestPreflightRotate(t *testing.T) {
	f := newRotFixture(t)
	ev := Event{Execution: execution, Input: rotateInput()}
	s, err := f.h.PreflightRotate(context.Background(), ev)
	if err != nil {
		t.Fatalf("PreflightRotate: %v", err)
	}
	if s.OldKSK == nil || s.OldKSK.Name != oldName || s.OldKSK.Key != rollover.KeyFromRR(f.oldK.rr) || !s.LockHeld || s.Workflow != rollover.WorkflowRotate {
		t.Errorf("state: old KSK %+v, lock %v, workflow %s", s.OldKSK, s.LockHeld, s.Workflow)
	}
	if got := f.r53.changes["ChangeResourceRecordSets:CREATE"]; got != 1 {
		t.Errorf("lock CREATEs = %d, want 1", got)
	}
	// A re-run of the step (and of the execution, once its new KSK exists)
	// converges: same old KSK, the lock held already.
	f.r53.ksks = append(f.r53.ksks, f.newK.route53(newName, f.newARN, KSKActive))
	s2, err := f.h.PreflightRotate(context.Background(), ev)
	if err != nil {
		t.Fatalf("PreflightRotate again: %v", err)
	}
	if s2.OldKSK.Name != oldName || f.r53.changes["ChangeResourceRecordSets:CREATE"] != 1 {
		t.Errorf("re-run: old KSK %s, lock CREATEs %d; want %s, 1", s2.OldKSK.Name, f.r53.changes["ChangeResourceRecordSets:CREATE"], oldName)
	}
}

func TestPreflightRotateDryRun(t *testing.T) {
	f := newRotFixture(t)
	in := rotateInput()
	in.DryRun = true
	s, err := f.h.PreflightRotate(context.Background(), Event{Execution: execution, Input: in})
	if err != nil {
		t.Fatalf("PreflightRotate: %v", err)
	}
	if len(f.r53.changes) != 0 || s.LockHeld {
		t.Errorf("dry run changed %v, lock held %v", f.r53.changes, s.LockHeld)
	}
	if s.Plan == nil || len(s.Plan.Gates) != 5 {
		t.Fatalf("dry run plan = %v, want 5 gates", s.Plan)
	}
}

// TestProjectRotation checks the projected gate times against the formulas,
// with DS TTL 86400, DNSKEY TTL 3600 and a margin of an hour.
func TestProjectRotation(t *testing.T) {
	f := newRotFixture(t)
	h := rollover.NewHistory(zone)
	if err := h.Record(HistorySnapshot(f.sv.snapshot(t, t0))); err != nil {
		t.Fatal(err)
	}
	oldKey := rollover.KeyFromRR(f.oldK.rr)
	plan, err := ProjectRotation(h, oldKey, time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	zp, pp, m := ProjectedZonePropagation, ProjectedParentPropagation, time.Hour
	dnskeyTTL, dsTTL := 3600*time.Second, 86400*time.Second
	publish := t0.Add(zp)                     // every zone server serves the new KSK
	remove := publish.Add(dnskeyTTL + m)      // the set without it expires
	deactivate := publish.Add(pp + dsTTL + m) // {old DS} last served at publish+pp
	gone := remove.Add(pp)                    // no parent server serves the old DS
	deleteAt := gone.Add(dsTTL + m)           // {old, new DS} last served at gone: later than deactivate
	want := map[rollover.Transition]time.Time{
		rollover.AddKSK: t0, rollover.PublishNewDS: publish, rollover.RemoveOldDS: remove,
		rollover.DeactivateOldKSK: deactivate, rollover.DeleteOldKSK: deleteAt,
	}
	for tr, at := range want {
		g, ok := plan.Gate(tr)
		if !ok || !g.Earliest.Equal(at) {
			t.Errorf("ProjectRotation: %s at %v, want %v\n%s", tr, g.Earliest, at, plan)
		}
	}
	if g, _ := plan.Gate(rollover.AddKSK); !g.Ready {
		t.Errorf("add-ksk not ready now")
	}
}

func TestObserveRotationTargets(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		serving func(f *rotFixture) serving
		want    bool
	}{
		{"both KSKs served", TargetBothKSKs, (*rotFixture).servingBoth, true},
		{"new KSK not yet served", TargetBothKSKs, (*rotFixture).servingOld, false},
		{"new KSK served, not signing", TargetBothKSKs, func(f *rotFixture) serving {
			sv := f.servingBoth()
			sv.zone[0] = &zoneServe{keys: []rotKey{f.oldK, f.newK, f.zk}, signers: []rotKey{f.oldK}}
			return sv
		}, false},
		{"both DS", TargetBothDS, (*rotFixture).servingBoth, true},
		{"new DS on one parent server", TargetBothDS, func(f *rotFixture) serving {
			sv := f.servingBoth()
			sv.parent[1] = []*dns.DS{f.oldK.ds()}
			return sv
		}, false},
		{"old KSK gone", TargetOldKSKGone, func(f *rotFixture) serving {
			z := &zoneServe{keys: []rotKey{f.newK, f.zk}, signers: []rotKey{f.newK}}
			return serving{parent: [][]*dns.DS{{f.newK.ds()}, {f.newK.ds()}}, zone: []*zoneServe{z, z}}
		}, true},
		{"old KSK still on a zone server", TargetOldKSKGone, func(f *rotFixture) serving {
			sv := f.servingBoth()
			sv.zone[0] = &zoneServe{keys: []rotKey{f.newK, f.zk}, signers: []rotKey{f.newK}}
			return sv
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRotFixture(t)
			s := f.rotating(t)
			f.sv = tt.serving(f)
			got, err := f.h.ObserveZone(context.Background(), Event{Execution: execution, State: s, Target: tt.target})
			if err != nil {
				t.Fatalf("ObserveZone(%s): %v", tt.target, err)
			}
			if got.Poll.Done != tt.want {
				t.Errorf("ObserveZone(%s) done = %v (%s), want %v", tt.target, got.Poll.Done, got.Poll.Detail, tt.want)
			}
		})
	}
}

func TestProveNewKey(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *rotFixture)
		want  string
		ready bool
	}{
		{"proven after the gate", func(f *rotFixture) { f.now = t0.Add(2*time.Hour + time.Minute) }, "", true},
		{"proven before the gate: wait", func(f *rotFixture) { f.now = t0.Add(2 * time.Hour) }, "", false},
		{"a zone server without the new key", func(f *rotFixture) {
			f.sv.zone[1] = &zoneServe{keys: []rotKey{f.oldK, f.zk}, signers: []rotKey{f.oldK}}
		}, "NewKeyNotServingError", false},
		{"new DS missing on a parent server", func(f *rotFixture) { f.sv.parent[0] = []*dns.DS{f.oldK.ds()} }, "NewKeyNotServingError", false},
		{"new KSK ACTION_NEEDED", func(f *rotFixture) { f.r53.ksks[1].Status = aws.String(KSKActionNeeded) }, "NewKeyNotServingError", false},
		{"zone server silent", func(f *rotFixture) { f.sv.zone[0] = nil }, "ObservationIncompleteError", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRotFixture(t)
			s := f.rotating(t)
			// Both DS and both KSKs served from t0+1m: the DNSKEY set without
			// the new key was last served then, the gate is at t0+2h1m.
			f.now = t0.Add(time.Minute)
			f.sv = f.servingBoth()
			f.observe(t, s)
			tt.setup(f)
			got, err := f.h.ProveNewKey(context.Background(), Event{Execution: execution, State: s})
			if name := errName(err); name != tt.want {
				t.Fatalf("ProveNewKey = %s (%v), want %s", name, err, tt.want)
			}
			if err == nil && got.Gate.Ready != tt.ready {
				t.Errorf("ProveNewKey gate ready = %v (%s), want %v", got.Gate.Ready, got.Gate.At, tt.ready)
			}
		})
	}
}

func TestDeactivateKSK(t *testing.T) {
	f := newRotFixture(t)
	s := f.rotating(t)
	ctx := context.Background()
	// Route 53 still sees the old DS at the parent: poll, change nothing.
	f.r53.inParent[oldName] = true
	got, err := f.h.DeactivateKSK(ctx, Event{Execution: execution, State: s, Key: KeyOld})
	if err != nil || got.Poll.Done || got.Poll.DelaySeconds < 1 || f.r53.changes["DeactivateKeySigningKey"] != 0 {
		t.Fatalf("DeactivateKSK with the DS at the parent = done %v, delay %d, %v, %d changes; want a poll", got.Poll.Done, got.Poll.DelaySeconds, err, f.r53.changes["DeactivateKeySigningKey"])
	}
	f.r53.inParent[oldName] = false
	for i := range 2 { // the second call finds it INACTIVE and changes nothing
		got, err = f.h.DeactivateKSK(ctx, Event{Execution: execution, State: &got, Key: KeyOld})
		if err != nil || !got.Poll.Done {
			t.Fatalf("DeactivateKSK #%d = done %v, %v", i+1, got.Poll.Done, err)
		}
		if n := f.r53.changes["DeactivateKeySigningKey"]; n != 1 {
			t.Errorf("DeactivateKSK #%d: %d deactivations, want 1", i+1, n)
		}
	}
	if got.ChangeID != "" {
		t.Errorf("second DeactivateKSK left change %q, want none", got.ChangeID)
	}
	// The new KSK is now the only ACTIVE one: refused.
	_, err = f.h.DeactivateKSK(ctx, Event{Execution: execution, State: &got, Key: KeyNew})
	if name := errName(err); name != "LastActiveKSKError" {
		t.Errorf("DeactivateKSK of the last ACTIVE KSK = %s (%v), want LastActiveKSKError", name, err)
	}
	// A KSK that is gone is done.
	f.r53.ksks = f.r53.ksks[1:]
	got, err = f.h.DeactivateKSK(ctx, Event{Execution: execution, State: &got, Key: KeyOld})
	if err != nil || !got.Poll.Done {
		t.Errorf("DeactivateKSK of a deleted KSK = done %v, %v", got.Poll.Done, err)
	}
}

func TestDeleteKSK(t *testing.T) {
	f := newRotFixture(t)
	f.sv = f.servingBoth()
	s := f.rotating(t)
	ctx := context.Background()
	ev := func(s *State) Event { return Event{Execution: execution, State: s, Key: KeyOld} }
	if _, err := f.h.DeleteKSK(ctx, ev(s)); errName(err) != "KSKStillActiveError" {
		t.Errorf("DeleteKSK of an ACTIVE KSK = %v, want KSKStillActiveError", err)
	}
	f.r53.ksks[0].Status = aws.String(KSKInactive)
	// The parent still serves the old DS.
	if _, err := f.h.DeleteKSK(ctx, ev(s)); errName(err) != "GateNotReadyError" {
		t.Errorf("DeleteKSK while the DS is served = %v, want GateNotReadyError", err)
	}
	// The old DS gone at gone: kept until gone + 86400 s + margin.
	f.now = f.now.Add(3 * time.Hour)
	gone := f.now
	f.sv.parent = [][]*dns.DS{{f.newK.ds()}, {f.newK.ds()}}
	f.observe(t, s)
	f.now = gone.Add(25*time.Hour - time.Second)
	got, err := f.h.DeleteKSK(ctx, ev(s))
	if err != nil || got.Gate.Ready || got.Gate.At != stamp(gone.Add(25*time.Hour)) || f.r53.changes["DeleteKeySigningKey"] != 0 {
		t.Fatalf("DeleteKSK before the DS expired = ready %v at %s, %v, %d deletions; want kept until %s", got.Gate.Ready, got.Gate.At, err, f.r53.changes["DeleteKeySigningKey"], stamp(gone.Add(25*time.Hour)))
	}
	f.now = gone.Add(25 * time.Hour)
	got.Gate = GateState{} // a previous step's gate, not ready: the step sets its own
	for i := range 2 {
		got, err = f.h.DeleteKSK(ctx, ev(&got))
		if err != nil || !got.Gate.Ready || f.r53.changes["DeleteKeySigningKey"] != 1 {
			t.Fatalf("DeleteKSK #%d after expiry = ready %v, %v, %d deletions; want 1", i+1, got.Gate.Ready, err, f.r53.changes["DeleteKeySigningKey"])
		}
	}
}

func TestScheduleKeyDeletion(t *testing.T) {
	ctx := context.Background()
	t.Run("in use", func(t *testing.T) {
		f := newRotFixture(t)
		s := f.rotating(t)
		if _, err := f.h.ScheduleKeyDeletion(ctx, Event{Execution: execution, State: s, Key: KeyOld}); errName(err) != "KMSKeyInUseError" {
			t.Errorf("ScheduleKeyDeletion of a key in use = %v, want KMSKeyInUseError", err)
		}
		if len(f.kms.scheduled) != 0 {
			t.Errorf("scheduled %v", f.kms.scheduled)
		}
	})
	t.Run("window", func(t *testing.T) {
		f := newRotFixture(t)
		s := f.rotating(t)
		f.r53.ksks = f.r53.ksks[1:]
		s.KMSDeletionWindowDays = 45
		if _, err := f.h.ScheduleKeyDeletion(ctx, Event{Execution: execution, State: s, Key: KeyOld}); errName(err) != "InvalidInputError" {
			t.Errorf("ScheduleKeyDeletion with a 45-day window = %v, want InvalidInputError", err)
		}
	})
	t.Run("scheduled once", func(t *testing.T) {
		f := newRotFixture(t)
		s := f.rotating(t)
		f.r53.ksks = f.r53.ksks[1:] // the old KSK deleted
		s.KMSDeletionWindowDays = 7
		got := *s
		for i := range 2 {
			var err error
			got, err = f.h.ScheduleKeyDeletion(ctx, Event{Execution: execution, State: &got, Key: KeyOld})
			if err != nil {
				t.Fatalf("ScheduleKeyDeletion #%d: %v", i+1, err)
			}
		}
		if len(f.kms.scheduled) != 1 || f.kms.scheduled[f.oldARN] != 7 {
			t.Errorf("scheduled %v, want the old key once with 7 days", f.kms.scheduled)
		}
	})
	t.Run("supplied key left alone", func(t *testing.T) {
		f := newRotFixture(t)
		supplied := f.kms.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, kmstypes.KeyStateEnabled, "")
		s := f.rotating(t)
		s.OldKSK.KMSKeyARN = supplied
		f.r53.ksks = f.r53.ksks[1:]
		got, err := f.h.ScheduleKeyDeletion(ctx, Event{Execution: execution, State: s, Key: KeyOld})
		if err != nil || len(f.kms.scheduled) != 0 || !strings.Contains(strings.Join(got.Timeline, "\n"), "left alone") {
			t.Errorf("ScheduleKeyDeletion of a supplied key = %v, scheduled %v, timeline %v; want left alone", err, f.kms.scheduled, got.Timeline)
		}
	})
}

func TestRollbackGate(t *testing.T) {
	f := newRotFixture(t)
	f.sv = f.servingBoth()
	s := f.rotating(t)
	ctx := context.Background()
	ev := func(s *State) Event { return Event{Execution: execution, State: s} }
	// The new DS still served: pending, poll.
	got, err := f.h.RollbackGate(ctx, ev(s))
	if err != nil || got.Poll.Done || got.Gate.Ready {
		t.Fatalf("RollbackGate with the new DS served = done %v, ready %v, %v; want pending", got.Poll.Done, got.Gate.Ready, err)
	}
	// Withdrawn at gone: the new KSK may leave at gone + 86400 s + margin.
	f.now = f.now.Add(time.Hour)
	gone := f.now
	f.sv.parent = [][]*dns.DS{{f.oldK.ds()}, {f.oldK.ds()}}
	got, err = f.h.RollbackGate(ctx, ev(&got))
	if err != nil || !got.Poll.Done || got.Gate.Ready || got.Gate.At != stamp(gone.Add(25*time.Hour)) {
		t.Fatalf("RollbackGate after withdrawal = done %v, ready %v at %s, %v; want waiting until %s", got.Poll.Done, got.Gate.Ready, got.Gate.At, err, stamp(gone.Add(25*time.Hour)))
	}
	f.now = gone.Add(25 * time.Hour)
	got, err = f.h.RollbackGate(ctx, ev(&got))
	if err != nil || !got.Gate.Ready {
		t.Errorf("RollbackGate after the TTL = ready %v (%s), %v", got.Gate.Ready, got.Gate.At, err)
	}
}
