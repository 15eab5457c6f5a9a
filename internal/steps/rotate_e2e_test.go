package steps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
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

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

var (
	rotateExamplePublisher = map[string]any{"kind": "route53Domains", "domainName": "example.test"}
)

// rotateWorld is a world whose runner also runs rotate-ksk's own steps and
// calls onEvent (when set) at every history event.
type rotateWorld struct {
	*world
	mu      sync.Mutex
	onEvent func(e *asl.Execution, ev asl.Event)
	obs     *observe.Observer
	oldName string // the KSK a rotation replaces
}

func newRotateWorld(t *testing.T) *rotateWorld {
	t.Helper()
	rw := &rotateWorld{world: newWorld(t)}
	rw.runner = asl.NewRunner(rw.clk, asl.Options{Region: stack.Region, AccountID: stack.AccountID, OnEvent: func(e *asl.Execution, ev asl.Event) {
		rw.mu.Lock()
		f := rw.onEvent
		rw.mu.Unlock()
		if f != nil {
			f(e, ev)
		}
	}})
	rw.registerAll(t, nil)
	obs, err := observe.New(observe.Config{Roots: rw.st.RootServers(), Port: rw.st.Tree().Port(), Now: rw.clk.Now,
		Client: &dnsquery.Client{Timeout: 500 * time.Millisecond, Attempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	rw.obs = obs
	return rw
}

// rotateHandlers maps the placeholders of rotate-ksk's own steps to their
// handlers.
func (rw *rotateWorld) rotateHandlers() map[string]stepFunc {
	return handlers(rw.h,
		"PreflightRotateFunctionArn", "ProveNewKeyFunctionArn", "DeactivateKskFunctionArn",
		"DeleteKskFunctionArn", "ScheduleKeyDeletionFunctionArn", "RollbackGateFunctionArn")
}

// registerAll registers every step, the generic ones and rotate-ksk's, each
// wrapped by wrap when given.
func (rw *rotateWorld) registerAll(t *testing.T, wrap func(placeholder string, fn func(context.Context, steps.Event) (steps.State, error)) any) {
	t.Helper()
	rw.register(wrap)
	for ph, fn := range rw.rotateHandlers() {
		arn, ok := rw.subs[ph]
		if !ok {
			t.Fatalf("substitutions.json has no %s", ph)
		}
		var hd any = fn
		if wrap != nil {
			hd = wrap(ph, fn)
		}
		rw.runner.Register(arn[strings.LastIndex(arn, ":")+1:], hd)
	}
}

func (rw *rotateWorld) setOnEvent(f func(e *asl.Execution, ev asl.Event)) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.onEvent = f
}

// enable signs zoneID with enable-signing.
func (rw *rotateWorld) enable(t *testing.T, name, zoneID string, publisher map[string]any) {
	t.Helper()
	res, _ := rw.run(t, rw.load(t, "enable-signing.asl.json"), name, map[string]any{"hostedZoneId": zoneID, "dsPublisher": publisher})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing %s: %s %s: %s", name, res.Status, res.Error, res.Cause)
	}
}

// ksks returns the zone's KSKs by name.
func (rw *rotateWorld) ksks(t *testing.T, zoneID string) map[string]r53types.KeySigningKey {
	t.Helper()
	d, err := rw.r53.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]r53types.KeySigningKey{}
	for _, k := range d.KeySigningKeys {
		out[aws.ToString(k.Name)] = k
	}
	return out
}

// onlyKSK returns the zone's one KSK, failing unless there is exactly one,
// ACTIVE.
func (rw *rotateWorld) onlyKSK(t *testing.T, zoneID string) r53types.KeySigningKey {
	t.Helper()
	ks := rw.ksks(t, zoneID)
	if len(ks) != 1 {
		t.Fatalf("zone %s has KSKs %v, want exactly one", zoneID, slices.Sorted(mapKeys(ks)))
	}
	for _, k := range ks {
		if aws.ToString(k.Status) != "ACTIVE" {
			t.Fatalf("KSK %s is %s, want ACTIVE", aws.ToString(k.Name), aws.ToString(k.Status))
		}
		return k
	}
	panic("unreachable")
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (rw *rotateWorld) keyState(t *testing.T, arn string) kmstypes.KeyState {
	t.Helper()
	out, err := rw.kms.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

// served observes zone and returns the DS sets of its parent servers and
// the DNSKEY sets of its zone servers (unknown answers fail the test).
func (rw *rotateWorld) served(zone string) (ds []rollover.DSSet, keys []rollover.DNSKEYSet, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := rw.obs.Observe(ctx, zone)
	if err != nil {
		return nil, nil, err
	}
	hs := steps.HistorySnapshot(snap)
	for _, a := range hs.Parent {
		if a.Unknown {
			return nil, nil, fmt.Errorf("parent server %s did not answer", a.Server)
		}
		ds = append(ds, a.Set)
	}
	for _, a := range hs.Zone {
		if a.Unknown {
			return nil, nil, fmt.Errorf("zone server %s did not answer", a.Server)
		}
		keys = append(keys, a.Set)
	}
	return ds, keys, nil
}

func hasKey(set rollover.DNSKEYSet, k rollover.Key, signing bool) bool {
	for _, sk := range set.Keys {
		if sk.Key == k && (sk.Signs || !signing) {
			return true
		}
	}
	return false
}

// signsFor reports whether a key of zone's DNSKEY set whose DS is d signs
// the set.
func signsFor(zone string, set rollover.DNSKEYSet, d rollover.DS) bool {
	for _, k := range set.Keys {
		if kd, err := k.Key.DS(zone, d.DigestType); err == nil && kd == d && k.Signs {
			return true
		}
	}
	return false
}

func kskKey(t *testing.T, zone string, k r53types.KeySigningKey) (rollover.Key, rollover.DS) {
	t.Helper()
	rr, err := dns.NewRR(zone + " IN DNSKEY " + aws.ToString(k.DNSKEYRecord))
	if err != nil {
		t.Fatal(err)
	}
	key := rollover.KeyFromRR(rr.(*dns.DNSKEY))
	ds, err := key.DS(zone, rollover.DSDigest)
	if err != nil {
		t.Fatal(err)
	}
	return key, ds
}

// startPopulation starts the stack's resolver population on the scenario's
// names as they are now (signed zones must stay secure).
func (rw *rotateWorld) startPopulation(t *testing.T, resolvers int, interval time.Duration) *population.Population {
	t.Helper()
	targets, err := rw.st.ScenarioTargets()
	if err != nil {
		t.Fatal(err)
	}
	pop, err := rw.st.StartPopulation(stack.PopulationConfig{Resolvers: resolvers, MeanInterval: interval, Targets: targets, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rw.st.StopPopulation)
	return pop
}

// TestRotateKSKEndToEnd rotates the KSK of example.test. (DS through Route 53
// Domains) with statemachines/rotate-ksk.asl.json on the local stack, and
// checks at every state entered that the zone validates secure from the root
// and that what the servers serve follows the double-DS order: the new DS
// only beside a served new KSK, the old KSK served while any parent server
// serves the old DS. A resolver population with caches watches the whole
// run; a second execution started mid-rotation is refused.
func TestRotateKSKEndToEnd(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	const zone = "example.test."
	old := rw.onlyKSK(t, rw.sc.ZoneID)
	oldKey, oldDS := kskKey(t, zone, old)
	oldARN := aws.ToString(old.KmsArn)
	pop := rw.startPopulation(t, 10, 20*time.Minute)
	sm := rw.load(t, "rotate-ksk.asl.json")

	var (
		mu       sync.Mutex
		problems []string
		entered  []string
		second   *asl.Execution
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	rw.setOnEvent(func(e *asl.Execution, ev asl.Event) {
		if e.Name != "rotate" || !strings.HasSuffix(ev.Type, "StateEntered") {
			return
		}
		state, _ := ev.Details["name"].(string)
		mu.Lock()
		firstEntry := !slices.Contains(entered, state)
		entered = append(entered, state)
		mu.Unlock()
		if !strings.HasPrefix(ev.Type, "Task") && !strings.HasPrefix(ev.Type, "Wait") {
			return
		}
		// The zone validates secure from the root at every step.
		r, err := dnssec.NewResolver(rw.st.ResolverConfig())
		if err != nil {
			fail("%s: %v", state, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if res, err := r.Resolve(ctx, zone, dns.TypeDNSKEY); err != nil || res.Status != dnssec.Secure {
			fail("entering %s: %s DNSKEY is %v (%v)", state, zone, res, err)
		}
		ds, keys, err := rw.served(zone)
		if err != nil {
			fail("entering %s: %v", state, err)
			return
		}
		// Every DS any parent server serves (the old, the new) points at a
		// key that every zone server serves, signing.
		for _, set := range ds {
			for _, d := range set {
				for _, k := range keys {
					if !signsFor(zone, k, d) {
						fail("entering %s: a parent server serves DS %s but a zone server serves %s", state, d, k)
					}
				}
			}
		}
		switch {
		case state == "RemoveOldDS" && firstEntry:
			// Both DS on every parent server, both KSKs on every zone server.
			for _, set := range ds {
				if len(set) != 2 || !slices.Contains(set, oldDS) {
					fail("entering RemoveOldDS: a parent server serves %s, want both DS", set)
				}
			}
			for _, k := range keys {
				if n := len(k.Keys); n != 3 || !hasKey(k, oldKey, true) {
					fail("entering RemoveOldDS: a zone server serves %s, want both KSKs signing and the ZSK", k)
				}
			}
		case state == "DeactivateOldKSK":
			for _, set := range ds {
				if slices.Contains(set, oldDS) {
					fail("entering DeactivateOldKSK: a parent server still serves the old DS: %s", set)
				}
			}
		case state == "WaitRemoveOldDSGate":
			mu.Lock()
			defer mu.Unlock()
			if second == nil {
				b := []byte(fmt.Sprintf(`{"hostedZoneId": %q, "dsPublisher": {"kind": "route53Domains", "domainName": "example.test"}}`, rw.sc.ZoneID))
				second = rw.runner.Start(context.Background(), sm, "second", b)
			}
		}
	})
	start := rw.clk.Now()
	res, _ := rw.run(t, sm, "rotate", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher, "kmsDeletionWindowDays": 7})
	rw.setOnEvent(nil)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("rotate-ksk: %s %s: %s\nstates: %v", res.Status, res.Error, res.Cause, entered)
	}
	s := finalState(t, res)
	t.Logf("rotate-ksk example.test.: %d transitions, %v virtual; timeline:\n%s", res.Transitions, rw.clk.Now().Sub(start), strings.Join(s.Timeline, "\n"))
	for _, p := range problems {
		t.Error(p)
	}
	for _, want := range []string{"ObserveBothKSKs", "PublishNewDS", "VerifyNewDS", "WaitRemoveOldDSGate", "ProveNewKey", "RemoveOldDS", "VerifyOldDSGone", "WaitDeactivateGate", "DeactivateOldKSK", "DeleteOldKSK", "ScheduleOldKeyDeletion", "ValidateChain", "Notify", "ReleaseLock"} {
		if !slices.Contains(entered, want) {
			t.Errorf("state %s never entered", want)
		}
	}
	if i, j := slices.Index(entered, "RemoveOldDS"), slices.Index(entered, "DeactivateOldKSK"); i < 0 || j < i {
		t.Errorf("RemoveOldDS entered at %d, DeactivateOldKSK at %d: want the old DS removed first", i, j)
	}

	// The second execution, started while the first waited, was refused.
	if second == nil {
		t.Fatal("no second execution was started")
	}
	if r2 := second.Wait(); r2.Status != asl.StatusFailed || r2.Error != "ConcurrentRunError" {
		t.Errorf("second execution: %s %s (%s), want FAILED ConcurrentRunError", r2.Status, r2.Error, r2.Cause)
	}

	// The new KSK alone, ACTIVE; the old KMS key pending deletion in 7 days,
	// the new one enabled.
	cur := rw.onlyKSK(t, rw.sc.ZoneID)
	if aws.ToString(cur.Name) == aws.ToString(old.Name) || aws.ToString(cur.KmsArn) == oldARN {
		t.Errorf("after rotation the KSK is %s (%s), the old one was %s (%s)", aws.ToString(cur.Name), aws.ToString(cur.KmsArn), aws.ToString(old.Name), oldARN)
	}
	if s.KSK == nil || s.KSK.Name != aws.ToString(cur.Name) || s.OldKSK == nil || s.OldKSK.Name != aws.ToString(old.Name) {
		t.Errorf("final state: KSK %+v, old KSK %+v", s.KSK, s.OldKSK)
	}
	if got := rw.keyState(t, oldARN); got != kmstypes.KeyStatePendingDeletion {
		t.Errorf("old KMS key %s is %s, want PendingDeletion", oldARN, got)
	}
	out, err := rw.kms.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(oldARN)})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.KeyMetadata.DeletionDate; d == nil || d.Sub(rw.clk.Now()) > 7*24*time.Hour || d.Sub(rw.clk.Now()) < 6*24*time.Hour {
		t.Errorf("old KMS key deletion date %v, want about 7 days after %v", d, rw.clk.Now())
	}
	if got := rw.keyState(t, aws.ToString(cur.KmsArn)); got != kmstypes.KeyStateEnabled {
		t.Errorf("new KMS key is %s, want Enabled", got)
	}
	// Every server serves the new KSK and its DS only.
	newKey, newDS := kskKey(t, zone, cur)
	ds, keys, err := rw.served(zone)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range ds {
		if !slices.Equal(set, rollover.NewDSSet(newDS)) {
			t.Errorf("after rotation a parent server serves %s, want %s", set, rollover.NewDSSet(newDS))
		}
	}
	for _, k := range keys {
		if hasKey(k, oldKey, false) || !hasKey(k, newKey, true) || len(k.Keys) != 2 {
			t.Errorf("after rotation a zone server serves %s, want the new KSK signing and the ZSK", k)
		}
	}
	if got := rw.status(t, zone, dns.TypeSOA); got.Status != dnssec.Secure {
		t.Errorf("after rotation %s SOA is %v (%s)", zone, got.Status, got.Reason)
	}
	if strings.Contains(rw.footprintZone(t, rw.sc.ZoneID), "_dnssec-autopilot") {
		t.Error("the lock record is still there")
	}
	// The deactivation waited for the old DS set's TTL (86400 s) + margin
	// after the old DS was gone, and the rotation took at least that long.
	if took := rw.clk.Now().Sub(start); took < 25*time.Hour {
		t.Errorf("the rotation took %v, less than the DS TTL + margin", took)
	}
	st := pop.Stats()
	t.Logf("population: %d validations, %d failures", st.Validations, st.Failures)
	if st.Failures != 0 || st.Validations < 200 {
		t.Errorf("population: %d failures of %d validations, want 0 of at least 200: %v", st.Failures, st.Validations, st.Samples)
	}
}

// TestRotateKSKDryRun: dryRun outputs the plan (every gate of the rotation
// with its projected earliest time, from the TTLs observed) and changes
// nothing: records, DNSSEC status, KSKs, KMS keys and aliases, the lock.
func TestRotateKSKDryRun(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	before := rw.footprint(t)
	keysBefore := rw.kmsKeys(t)
	now := rw.clk.Now()
	res, _ := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "plan", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher, "dryRun": true})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("dry run: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if after := rw.footprint(t); after != before {
		t.Errorf("the dry run changed the account:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := rw.kmsKeys(t); got != keysBefore {
		t.Errorf("the dry run changed KMS keys:\nbefore: %s\nafter:  %s", keysBefore, got)
	}
	s := finalState(t, res)
	if s.Plan == nil {
		t.Fatalf("dry run output has no plan: %s", res.Output)
	}
	t.Logf("dry run: %d transitions; plan:\n%s", res.Transitions, s.Plan)
	var got []rollover.Transition
	for _, g := range s.Plan.Gates {
		got = append(got, g.Transition)
	}
	want := []rollover.Transition{rollover.AddKSK, rollover.PublishNewDS, rollover.RemoveOldDS, rollover.DeactivateOldKSK, rollover.DeleteOldKSK}
	if !slices.Equal(got, want) {
		t.Fatalf("plan gates %v, want %v", got, want)
	}
	at := func(tr rollover.Transition) time.Time { g, _ := s.Plan.Gate(tr); return g.Earliest }
	// add-ksk now; remove-old-ds after the DNSKEY TTL (3600 s) + margin;
	// deactivate-old-ksk after the DS TTL (86400 s) + margin from the
	// removal; each gate not before the previous one.
	if !at(rollover.AddKSK).Equal(now) {
		t.Errorf("add-ksk at %v, want now %v", at(rollover.AddKSK), now)
	}
	if d := at(rollover.RemoveOldDS).Sub(at(rollover.PublishNewDS)); d < 2*time.Hour-steps.ProjectedZonePropagation {
		t.Errorf("remove-old-ds %v after publish-new-ds, want at least DNSKEY TTL + margin", d)
	}
	if d := at(rollover.DeactivateOldKSK).Sub(at(rollover.RemoveOldDS)); d < 25*time.Hour-steps.ProjectedParentPropagation {
		t.Errorf("deactivate-old-ksk %v after remove-old-ds, want at least DS TTL + margin", d)
	}
	for i := 1; i < len(s.Plan.Gates); i++ {
		if s.Plan.Gates[i].Earliest.Before(s.Plan.Gates[i-1].Earliest) {
			t.Errorf("gate %s at %v before %s at %v", s.Plan.Gates[i].Transition, s.Plan.Gates[i].Earliest, s.Plan.Gates[i-1].Transition, s.Plan.Gates[i-1].Earliest)
		}
	}
	for _, g := range s.Plan.Gates[2:4] {
		if len(g.Terms) == 0 {
			t.Errorf("gate %s has no terms: the TTLs it comes from are not shown", g.Transition)
		}
	}
	if s.History.MaxDSTTL != 86400 || s.History.MaxDNSKEYTTL != 3600 {
		t.Errorf("TTLs observed: DS %d, DNSKEY %d; want 86400, 3600", s.History.MaxDSTTL, s.History.MaxDNSKEYTTL)
	}
}

// kmsKeys lists every aliased KMS key with its state ("alias:state").
func (rw *rotateWorld) kmsKeys(t *testing.T) string {
	t.Helper()
	out, err := rw.kms.ListAliases(context.Background(), &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var v []string
	for _, a := range out.Aliases {
		if a.TargetKeyId == nil {
			continue
		}
		v = append(v, aws.ToString(a.AliasName)+":"+string(rw.keyState(t, aws.ToString(a.TargetKeyId))))
	}
	slices.Sort(v)
	return strings.Join(v, " ")
}

// TestRotateKSKTransitionsIndependentOfDSTTL rotates app.example.test. (DS
// in the parent hosted zone) with a DS TTL of an hour and of a day: the
// waits differ by the TTLs, the number of state transitions does not.
func TestRotateKSKTransitionsIndependentOfDSTTL(t *testing.T) {
	type outcome struct {
		transitions int64
		took        time.Duration
	}
	var got []outcome
	for _, ttl := range []int64{3600, 86400} {
		rw := newRotateWorld(t)
		rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
		appPublisher := map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": rw.sc.ZoneID, "dsTtl": ttl}
		rw.enable(t, "enable-app", rw.sc.ChildZoneID, appPublisher)
		start := rw.clk.Now()
		res, ex := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate-app", map[string]any{"hostedZoneId": rw.sc.ChildZoneID, "dsPublisher": appPublisher})
		if res.Status != asl.StatusSucceeded {
			t.Fatalf("rotate-ksk app.example.test. (DS TTL %d): %s %s: %s", ttl, res.Status, res.Error, res.Cause)
		}
		s := finalState(t, res)
		if s.History.MaxDSTTL != uint32(ttl) {
			t.Errorf("DS TTL observed %d, want %d", s.History.MaxDSTTL, ttl)
		}
		took := rw.clk.Now().Sub(start)
		t.Logf("DS TTL %d: %d transitions, %v virtual: %v\n%s", ttl, res.Transitions, took, enteredStates(ex), strings.Join(s.Timeline, "\n"))
		if min := time.Duration(ttl)*time.Second + steps.DefaultSafetyMargin; took < min {
			t.Errorf("DS TTL %d: the rotation took %v, less than the DS TTL + margin %v", ttl, took, min)
		}
		if got := rw.status(t, "www.app.example.test.", dns.TypeA); got.Status != dnssec.Secure {
			t.Errorf("DS TTL %d: after rotation www.app.example.test. is %v (%s)", ttl, got.Status, got.Reason)
		}
		got = append(got, outcome{res.Transitions, took})
	}
	if got[0].transitions != got[1].transitions {
		t.Errorf("state transitions: %d with DS TTL 3600, %d with 86400; want the same", got[0].transitions, got[1].transitions)
	}
	if got[1].took-got[0].took < 20*time.Hour {
		t.Errorf("rotation took %v with DS TTL 3600 and %v with 86400: the DS TTL was not waited", got[0].took, got[1].took)
	}
}

// TestRotateKSKRollback: a failure before the old DS removal rolls back
// (the new DS withdrawn, its TTL waited, the new KSK deactivated and
// deleted, the new KMS key scheduled for deletion) and fails with the
// original error; the zone stays secure with the old key only, for the
// resolver population too.
func TestRotateKSKRollback(t *testing.T) {
	tests := []struct {
		name   string
		inject func(rw *rotateWorld) error
		want   string
		// the new DS reached every parent server before the failure: the
		// rollback waits its TTL (+ margin) before deleting the new KSK
		published bool
		again     bool // rotate again after the rollback
	}{
		{"registrar-fails", func(rw *rotateWorld) error {
			rw.st.FailRegistrarOperations("FAILED", "the registry refused the DS (injected)", 1)
			return nil
		}, "RegistrarOperationFailedError", false, true},
		{"parent-server-never-serves-new-ds", func(rw *rotateWorld) error {
			// Parent server 0 stays at the TLD as it was when the new DS
			// was submitted until the rollback starts: the new DS never
			// appears there.
			var frozen time.Time
			rw.setOnEvent(func(e *asl.Execution, ev asl.Event) {
				name, _ := ev.Details["name"].(string)
				switch {
				case !strings.HasSuffix(ev.Type, "StateEntered"):
				case name == "Rollback":
					rw.setOnEvent(nil)
					if err := rw.st.SetParentLag(0, 0); err != nil {
						t.Error(err)
					}
				case name == "PublishNewDS" && frozen.IsZero():
					frozen = rw.clk.Now()
				case !frozen.IsZero():
					if err := rw.st.SetParentLag(0, rw.clk.Now().Sub(frozen)+time.Second); err != nil {
						t.Error(err)
					}
				}
			})
			return nil
		}, "PropagationTimeoutError", false, false},
		{"ksk-refused", func(rw *rotateWorld) error {
			// Route 53 refuses the new KSK: the KMS key made for it is
			// scheduled for deletion, no DS was ever published.
			return rw.st.InjectAPIError("route53", "CreateKeySigningKey", "InvalidKMSArn", 1)
		}, "KMSKeyPolicyError", false, false},
		{"new-key-disabled", func(rw *rotateWorld) error {
			// The new KMS key is disabled right after the new DS reached
			// every parent server: Route 53 can no longer sign with the new
			// KSK (ACTION_NEEDED) although its last signatures still
			// validate for days; prove-new-key must refuse.
			rw.setOnEvent(func(e *asl.Execution, ev asl.Event) {
				if name, _ := ev.Details["name"].(string); ev.Type == "TaskStateEntered" && name == "ObserveBothDS" {
					rw.setOnEvent(nil)
					for name, k := range rw.ksks(t, rw.sc.ZoneID) {
						if name != rw.oldName {
							if err := rw.st.DisableKMSKey(context.Background(), aws.ToString(k.KmsArn)); err != nil {
								t.Error(err)
							}
						}
					}
				}
			})
			return nil
		}, "NewKeyNotServingError", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := newRotateWorld(t)
			rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
			const zone = "example.test."
			old := rw.onlyKSK(t, rw.sc.ZoneID)
			rw.oldName = aws.ToString(old.Name)
			oldKey, oldDS := kskKey(t, zone, old)
			// A smaller population: the lagging server's case runs for days.
			pop := rw.startPopulation(t, 4, time.Hour)
			if err := tt.inject(rw); err != nil {
				t.Fatal(err)
			}
			start := rw.clk.Now()
			res, ex := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher})
			rw.setOnEvent(nil)
			var states []string
			for _, ev := range ex.History() {
				if strings.HasSuffix(ev.Type, "StateEntered") {
					states = append(states, ev.Details["name"].(string))
				}
			}
			t.Logf("%s: %s %s after %v, %d transitions: %s\nstates: %v", tt.name, res.Status, res.Error, rw.clk.Now().Sub(start), res.Transitions, res.Cause, states)
			if res.Status != asl.StatusFailed || (tt.want != "" && res.Error != tt.want) {
				t.Fatalf("rotate-ksk: %s %s (%s), want FAILED %s", res.Status, res.Error, res.Cause, tt.want)
			}
			rollback := []string{"Rollback", "RollbackWithdrawNewDS", "RollbackGate", "RollbackDeactivateNewKSK", "RollbackDeleteNewKSK", "RollbackScheduleKeyDeletion", "ReleaseLockAfterFailure"}
			if tt.want == "KMSKeyPolicyError" { // no new KSK: nothing to withdraw
				rollback = slices.DeleteFunc(rollback, func(s string) bool { return s == "RollbackWithdrawNewDS" || s == "RollbackGate" })
			}
			for _, st := range rollback {
				if !slices.Contains(states, st) {
					t.Errorf("rollback state %s not entered", st)
				}
			}
			for _, st := range []string{"RemoveOldDS", "RollbackFailed", "ForwardOnlyFailure"} {
				if slices.Contains(states, st) {
					t.Errorf("state %s entered", st)
				}
			}
			// The old KSK alone, the old KMS key enabled, every new KMS key
			// pending deletion.
			cur := rw.onlyKSK(t, rw.sc.ZoneID)
			if aws.ToString(cur.Name) != rw.oldName {
				t.Errorf("after rollback the KSK is %s, want the old %s", aws.ToString(cur.Name), rw.oldName)
			}
			keys := rw.kmsKeys(t)
			if !strings.Contains(keys, ":PendingDeletion") || strings.Count(keys, ":Enabled") != 1 || rw.keyState(t, aws.ToString(old.KmsArn)) != kmstypes.KeyStateEnabled {
				t.Errorf("KMS keys after rollback: %s; want the old one Enabled, the new one PendingDeletion", keys)
			}
			ds, dnskeys, err := rw.served(zone)
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range ds {
				if !slices.Equal(set, rollover.NewDSSet(oldDS)) {
					t.Errorf("after rollback a parent server serves %s, want the old DS only", set)
				}
			}
			for _, k := range dnskeys {
				if !hasKey(k, oldKey, true) || len(k.Keys) != 2 {
					t.Errorf("after rollback a zone server serves %s, want the old KSK signing and the ZSK", k)
				}
			}
			if got := rw.status(t, zone, dns.TypeSOA); got.Status != dnssec.Secure {
				t.Errorf("after rollback %s SOA is %v (%s)", zone, got.Status, got.Reason)
			}
			if strings.Contains(rw.footprintZone(t, rw.sc.ZoneID), "_dnssec-autopilot") {
				t.Error("the lock record is still there")
			}
			if took := rw.clk.Now().Sub(start); tt.published && took < 25*time.Hour {
				t.Errorf("the rollback took %v: the new DS's TTL (86400 s) + margin was not waited", took)
			}
			// The population watched the days a rollback waits (a run of
			// minutes may end before its first query).
			st := pop.Stats()
			t.Logf("population: %d validations, %d failures", st.Validations, st.Failures)
			if long := rw.clk.Now().Sub(start) > 24*time.Hour; st.Failures != 0 || (long && st.Validations < 30) {
				t.Errorf("population: %d failures of %d validations, want 0 (of at least 30 over a long run): %v", st.Failures, st.Validations, st.Samples)
			}
			rw.st.StopPopulation()
			if !tt.again {
				return
			}
			// A rotation after the rollback succeeds.
			res, _ = rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate-again", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher})
			if res.Status != asl.StatusSucceeded {
				t.Errorf("rotate-ksk after the rollback: %s %s: %s", res.Status, res.Error, res.Cause)
			}
		})
	}
}

// enteredStates lists the states an execution entered, in order.
func enteredStates(ex *asl.Execution) []string {
	var states []string
	for _, ev := range ex.History() {
		if strings.HasSuffix(ev.Type, "StateEntered") {
			states = append(states, ev.Details["name"].(string))
		}
	}
	return states
}

// TestRotateKSKCrashAfterEachStep makes the first call of every step of
// rotate-ksk lose its answer after its side effects (Lambda.ServiceException
// after the function ran): Step Functions retries the Task with the same
// input, and the rotation must converge with no side effect made twice.
func TestRotateKSKCrashAfterEachStep(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	old := rw.onlyKSK(t, rw.sc.ZoneID)
	c := &crashOnce{crash: map[string]bool{}, crashed: map[string]int{}}
	for ph := range rw.stepHandlers() {
		c.crash[ph] = true
	}
	for ph := range rw.rotateHandlers() {
		c.crash[ph] = ph != "RollbackGateFunctionArn" // not on this path
	}
	rw.registerAll(t, c.wrap)
	rw.calls.reset()
	res, _ := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "crashy", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("rotate-ksk with crashes: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	for ph, on := range c.crash {
		if on && c.crashed[ph] != 1 && !strings.Contains(ph, "Enable") {
			t.Errorf("step %s crashed %d times, want 1", ph, c.crashed[ph])
		}
	}
	want := map[string]int{
		"ChangeResourceRecordSets:CREATE:TXT": 1, // the lock
		"ChangeResourceRecordSets:DELETE:TXT": 1,
		"CreateKey":                           1,
		"CreateAlias":                         1,
		"CreateKeySigningKey":                 1,
		"AssociateDelegationSignerToDomain":   1,
		"Publish":                             2, // Notify ran twice: SNS has no idempotency key
	}
	if got := rw.calls.get(); !maps.Equal(got, want) {
		t.Errorf("side-effecting calls %v, want %v", got, want)
	}
	cur := rw.onlyKSK(t, rw.sc.ZoneID)
	if aws.ToString(cur.Name) == aws.ToString(old.Name) {
		t.Errorf("the KSK is still the old %s", aws.ToString(old.Name))
	}
	if got := rw.keyState(t, aws.ToString(old.KmsArn)); got != kmstypes.KeyStatePendingDeletion {
		t.Errorf("old KMS key is %s, want PendingDeletion", got)
	}
	if got := rw.status(t, "example.test.", dns.TypeSOA); got.Status != dnssec.Secure {
		t.Errorf("example.test. SOA is %v (%s), want secure", got.Status, got.Reason)
	}
}

// TestRotateKSKForwardOnly: a failure after the old DS removal began does not
// roll back: the run releases the lock and fails with the step's own error
// and a cause saying that the rotation stopped forward-only; the zone stays
// secure (both KSKs still ACTIVE, the new DS at the parent).
func TestRotateKSKForwardOnly(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	// Route 53 refuses the deactivation for a reason waiting does not fix.
	if err := rw.st.InjectAPIError("route53", "DeactivateKeySigningKey", "InvalidSigningStatus", 1); err != nil {
		t.Fatal(err)
	}
	res, ex := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher})
	states := enteredStates(ex)
	if res.Status != asl.StatusFailed || res.Error != "UnexpectedError" || !strings.Contains(res.Cause, "does not roll back") || !strings.Contains(res.Cause, "InvalidSigningStatus") {
		t.Fatalf("rotate-ksk: %s %s (%s), want FAILED UnexpectedError naming InvalidSigningStatus, forward-only", res.Status, res.Error, res.Cause)
	}
	for _, st := range []string{"Rollback", "RollbackWithdrawNewDS", "RollbackFailed"} {
		if slices.Contains(states, st) {
			t.Errorf("state %s entered after the old DS removal", st)
		}
	}
	if !slices.Contains(states, "ForwardOnlyFailure") || !slices.Contains(states, "ReleaseLockAfterFailure") {
		t.Errorf("states %v: want ForwardOnlyFailure and ReleaseLockAfterFailure", states)
	}
	ks := rw.ksks(t, rw.sc.ZoneID)
	active := 0
	for _, k := range ks {
		if aws.ToString(k.Status) == "ACTIVE" {
			active++
		}
	}
	if len(ks) != 2 || active != 2 {
		t.Errorf("KSKs after the stop: %d, %d ACTIVE; want both ACTIVE", len(ks), active)
	}
	if got := rw.status(t, "example.test.", dns.TypeSOA); got.Status != dnssec.Secure {
		t.Errorf("example.test. SOA is %v (%s), want secure", got.Status, got.Reason)
	}
	if strings.Contains(rw.footprintZone(t, rw.sc.ZoneID), "_dnssec-autopilot") {
		t.Error("the lock record is still there")
	}
}

// TestRotateKSKDSTTLGrows: the DS TTL of app.example.test. (in the parent
// hosted zone) grows from an hour to a day while both DS are served (and
// is observed so before the old DS goes); the
// old KSK is deleted only a day (+ margin) after the old DS left the last
// parent server, the larger TTL, not an hour after.
func TestRotateKSKDSTTLGrows(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	appPublisher := map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": rw.sc.ZoneID, "dsTtl": 3600}
	rw.enable(t, "enable-app", rw.sc.ChildZoneID, appPublisher)
	var oldGone, deleted time.Time
	rw.setOnEvent(func(e *asl.Execution, ev asl.Event) {
		name, _ := ev.Details["name"].(string)
		if e.Name != "rotate-app" || !strings.HasSuffix(ev.Type, "StateEntered") {
			return
		}
		switch name {
		case "WaitRemoveOldDSGate": // observed with the larger TTL after the Wait
			ctx := context.Background()
			out, err := rw.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(rw.sc.ZoneID),
				StartRecordName: aws.String("app.example.test."), StartRecordType: r53types.RRTypeDs, MaxItems: aws.Int32(1)})
			if err != nil || len(out.ResourceRecordSets) != 1 || out.ResourceRecordSets[0].Type != r53types.RRTypeDs {
				t.Errorf("reading the DS set: %v", err)
				return
			}
			ds := out.ResourceRecordSets[0]
			ds.TTL = aws.Int64(86400)
			if _, err := rw.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(rw.sc.ZoneID),
				ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &ds}}}}); err != nil {
				t.Errorf("raising the DS TTL: %v", err)
			}
		case "ObserveOldDSGone":
			if oldGone.IsZero() {
				oldGone = rw.clk.Now()
			}
		case "CheckDeleteChange":
			if deleted.IsZero() {
				deleted = rw.clk.Now()
			}
		}
	})
	res, _ := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate-app", map[string]any{"hostedZoneId": rw.sc.ChildZoneID, "dsPublisher": appPublisher})
	rw.setOnEvent(nil)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("rotate-ksk: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	s := finalState(t, res)
	if s.History.MaxDSTTL != 86400 {
		t.Errorf("largest DS TTL observed %d, want 86400", s.History.MaxDSTTL)
	}
	if wait := deleted.Sub(oldGone); wait < 25*time.Hour {
		t.Errorf("old KSK deleted %v after the old DS left every parent server, want at least the grown DS TTL + margin (25h)", wait)
	}
	if got := rw.status(t, "www.app.example.test.", dns.TypeA); got.Status != dnssec.Secure {
		t.Errorf("www.app.example.test. is %v (%s)", got.Status, got.Reason)
	}
}

// TestRotateKSKManualPublisher: the DS changes go through a person at
// another registrar. The run sends each change over SNS (add the new DS,
// later remove the old one) and waits, observing the parent, until the
// person has made it at the registry; the rotation then completes.
func TestRotateKSKManualPublisher(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	old := rw.onlyKSK(t, rw.sc.ZoneID)
	_, oldDS := kskKey(t, "example.test.", old)
	var (
		newDS       *dns.DS
		polls       = map[string]int{}
		addPolls    int // verify-ds polls before the person adds the new DS
		removePolls int
	)
	rw.setOnEvent(func(e *asl.Execution, ev asl.Event) {
		if e.Name != "rotate" || ev.Type != "TaskStateExited" {
			return
		}
		name, _ := ev.Details["name"].(string)
		switch name {
		case "PublishNewDS":
			var out struct {
				State steps.State `json:"state"`
			}
			if o, _ := ev.Details["output"].(string); json.Unmarshal([]byte(o), &out) == nil && out.State.KSK != nil {
				newDS = out.State.KSK.DSRR(out.State.Zone)
			}
		case "VerifyNewDS", "VerifyOldDSGone":
			polls[name]++
			var set []*dns.DS
			switch {
			case name == "VerifyNewDS" && polls[name] == 3 && newDS != nil:
				addPolls = polls[name]
				set = []*dns.DS{oldDS.RR("example.test."), newDS}
			case name == "VerifyOldDSGone" && polls[name] == 2 && newDS != nil:
				removePolls = polls[name]
				set = []*dns.DS{newDS}
			default:
				return
			}
			if err := rw.st.Tree().Registry().SetDS("example.test.", set); err != nil {
				t.Errorf("SetDS: %v", err)
			}
		}
	})
	manual := map[string]any{"kind": "manual", "topicArn": rw.sc.TopicARN}
	res, ex := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": manual})
	rw.setOnEvent(nil)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("rotate-ksk (manual): %s %s: %s\nstates: %v", res.Status, res.Error, res.Cause, enteredStates(ex))
	}
	if addPolls != 3 || removePolls != 2 || polls["VerifyNewDS"] != 4 || polls["VerifyOldDSGone"] != 3 {
		t.Errorf("verify-ds polls: %v (the person acted at %d and %d); want 4 and 3", polls, addPolls, removePolls)
	}
	// One message per DS change, naming it: add the new DS, remove the old.
	var asked []string
	for _, m := range rw.st.SNS().Messages(rw.sc.TopicARN) {
		if a := m.Attributes["action"]; a != "" {
			asked = append(asked, a+" "+strings.ToUpper(m.Attributes["ds"][strings.LastIndex(m.Attributes["ds"], " ")+1:]))
		}
	}
	want := []string{"ADD_DS " + strings.ToUpper(newDS.Digest), "REMOVE_DS " + strings.ToUpper(oldDS.Digest)}
	if !slices.Equal(asked, want) {
		t.Errorf("SNS requests to the person: %v, want %v", asked, want)
	}
	cur := rw.onlyKSK(t, rw.sc.ZoneID)
	if aws.ToString(cur.Name) == aws.ToString(old.Name) {
		t.Errorf("the KSK is still the old %s", aws.ToString(old.Name))
	}
	if got := rw.status(t, "example.test.", dns.TypeSOA); got.Status != dnssec.Secure {
		t.Errorf("example.test. SOA is %v (%s), want secure", got.Status, got.Reason)
	}
}

// TestRotateKSKBusyAPIs: Route 53's ConcurrentModification and Throttling
// and KMS's ThrottlingException on the retirement calls are retried (as
// ServiceBusyError, by the state machine) and the rotation completes.
func TestRotateKSKBusyAPIs(t *testing.T) {
	rw := newRotateWorld(t)
	rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
	old := rw.onlyKSK(t, rw.sc.ZoneID)
	for _, inj := range []struct {
		service, op, code string
		n                 int
	}{
		{"route53", "DeactivateKeySigningKey", "ConcurrentModification", 2},
		{"route53", "DeleteKeySigningKey", "Throttling", 1},
		{"kms", "ScheduleKeyDeletion", "ThrottlingException", 1},
	} {
		if err := rw.st.InjectAPIError(inj.service, inj.op, inj.code, inj.n); err != nil {
			t.Fatal(err)
		}
	}
	res, ex := rw.run(t, rw.load(t, "rotate-ksk.asl.json"), "rotate", map[string]any{"hostedZoneId": rw.sc.ZoneID, "dsPublisher": rotateExamplePublisher})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("rotate-ksk: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	retries := 0
	for _, ev := range ex.History() {
		if ev.Type == "LambdaFunctionFailed" && strings.Contains(fmt.Sprint(ev.Details), "ServiceBusyError") {
			retries++
		}
	}
	if retries != 4 {
		t.Errorf("%d ServiceBusyError failures retried, want 4", retries)
	}
	if got := rw.keyState(t, aws.ToString(old.KmsArn)); got != kmstypes.KeyStatePendingDeletion {
		t.Errorf("old KMS key is %s, want PendingDeletion", got)
	}
	if cur := rw.onlyKSK(t, rw.sc.ZoneID); aws.ToString(cur.Name) == aws.ToString(old.Name) {
		t.Errorf("the KSK is still the old one")
	}
}
