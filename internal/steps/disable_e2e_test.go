package steps_test

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
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// disableWorld is a world whose Route 53, Route 53 Domains and KMS clients
// record, in order and with the virtual time, every call that changes the
// DNSSEC state, and whose runner validates the watched zone, and asks every
// parent server for its DS, at each state the watched execution enters.
type disableWorld struct {
	*world
	mu    sync.Mutex
	ops   []op
	watch *watch
	// person, when set, sees every event first (a test's person acting at
	// a given point of a run).
	person func(e *asl.Execution, ev asl.Event)
}

// op is one successful side-effecting call.
type op struct {
	Name string
	At   time.Time
	// ParentDS, for DisableHostedZoneDNSSEC, is what every parent server
	// said about the zone's DS just before the call.
	ParentDS parentDS
}

// watch is what the runner's OnEvent hook saw of one execution.
type watch struct {
	exec, zone string
	cached     *dnssec.Resolver // one resolver for the whole run: its cache lives on the virtual clock
	states     []string
	bad        []string // a state at which the zone was not secure or insecure
	statuses   map[string]int
	dsTTL      uint32    // the largest DS TTL any parent server served
	dsGoneAt   time.Time // the first state at which no parent server served a DS, after some did
	dsBack     []string  // states at which a DS was served again after dsGoneAt
	lastStatus dnssec.Status
}

// parentDS is every parent server's answer to a DS query.
type parentDS struct {
	Serving []string // servers that serve a DS
	Unknown []string // servers that gave no usable answer
	TTL     uint32
}

type recordingRoute53 struct {
	steps.Route53API
	w *disableWorld
}

func (r recordingRoute53) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, o ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	out, err := r.Route53API.ChangeResourceRecordSets(ctx, in, o...)
	if err == nil {
		for _, ch := range in.ChangeBatch.Changes {
			if ch.ResourceRecordSet.Type == "DS" {
				r.w.record(op{Name: "ChangeResourceRecordSets:" + string(ch.Action) + ":DS"})
			}
		}
	}
	return out, err
}

func (r recordingRoute53) DisableHostedZoneDNSSEC(ctx context.Context, in *route53.DisableHostedZoneDNSSECInput, o ...func(*route53.Options)) (*route53.DisableHostedZoneDNSSECOutput, error) {
	before := r.w.parentDSOf(aws.ToString(in.HostedZoneId))
	out, err := r.Route53API.DisableHostedZoneDNSSEC(ctx, in, o...)
	if err == nil {
		r.w.record(op{Name: "DisableHostedZoneDNSSEC", ParentDS: before})
	}
	return out, err
}

func (r recordingRoute53) DeactivateKeySigningKey(ctx context.Context, in *route53.DeactivateKeySigningKeyInput, o ...func(*route53.Options)) (*route53.DeactivateKeySigningKeyOutput, error) {
	out, err := r.Route53API.DeactivateKeySigningKey(ctx, in, o...)
	if err == nil {
		r.w.record(op{Name: "DeactivateKeySigningKey"})
	}
	return out, err
}

func (r recordingRoute53) DeleteKeySigningKey(ctx context.Context, in *route53.DeleteKeySigningKeyInput, o ...func(*route53.Options)) (*route53.DeleteKeySigningKeyOutput, error) {
	out, err := r.Route53API.DeleteKeySigningKey(ctx, in, o...)
	if err == nil {
		r.w.record(op{Name: "DeleteKeySigningKey"})
	}
	return out, err
}

type recordingDomains struct {
	dspublish.DomainsAPI
	w *disableWorld
}

func (d recordingDomains) DisassociateDelegationSignerFromDomain(ctx context.Context, in *route53domains.DisassociateDelegationSignerFromDomainInput, o ...func(*route53domains.Options)) (*route53domains.DisassociateDelegationSignerFromDomainOutput, error) {
	out, err := d.DomainsAPI.DisassociateDelegationSignerFromDomain(ctx, in, o...)
	if err == nil {
		d.w.record(op{Name: "DisassociateDelegationSignerFromDomain"})
	}
	return out, err
}

type recordingKMS struct {
	steps.KMSAPI
	w *disableWorld
}

func (k recordingKMS) ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, o ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error) {
	out, err := k.KMSAPI.ScheduleKeyDeletion(ctx, in, o...)
	if err == nil {
		k.w.record(op{Name: "ScheduleKeyDeletion"})
	}
	return out, err
}

func (w *disableWorld) record(o op) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o.At = w.clk.Now()
	w.ops = append(w.ops, o)
}

// opsSince returns the operations recorded from index i on.
func (w *disableWorld) opsFrom(i int) []op {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ops[i:])
}

func (w *disableWorld) opCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ops)
}

// newDisableWorld is newWorld with recording clients, a runner whose OnEvent
// hook watches the execution named by watch, and the disable-signing steps
// registered.
func newDisableWorld(t *testing.T) *disableWorld {
	t.Helper()
	w := &disableWorld{world: newWorld(t)}
	cfg := w.st.AWSConfig()
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	obs, err := observe.New(observe.Config{
		Roots: w.st.RootServers(), Port: w.st.Tree().Port(), Now: w.clk.Now,
		Client: &dnsquery.Client{Timeout: 500 * time.Millisecond, Attempts: 2},
	})
	if err != nil {
		t.Fatalf("observe.New: %v", err)
	}
	rc := w.st.ResolverConfig()
	w.h, err = steps.New(steps.Config{AccountID: stack.AccountID, Region: stack.Region, DefaultTopicARN: w.sc.TopicARN},
		steps.Deps{
			Clients: steps.Clients{
				Route53: recordingRoute53{countingRoute53{w.r53, w.calls}, w},
				KMS:     recordingKMS{countingKMS{w.kms, w.calls}, w},
				Domains: recordingDomains{countingDomains{route53domains.NewFromConfig(cfg), w.calls}, w},
				SNS:     countingSNS{sns.NewFromConfig(cfg), w.calls},
			},
			Observer:    obs,
			NewResolver: func() (steps.Resolver, error) { return dnssec.NewResolver(rc) },
			Now:         w.clk.Now,
		})
	if err != nil {
		t.Fatalf("steps.New: %v", err)
	}
	w.runner = asl.NewRunner(w.clk, asl.Options{Region: stack.Region, AccountID: stack.AccountID, OnEvent: w.onEvent})
	w.registerAll(t, nil)
	return w
}

// disableHandlers maps the placeholders of disable-signing.asl.json to
// their handlers.
func (w *disableWorld) disableHandlers() map[string]stepFunc {
	return handlers(w.h,
		"PreflightDisableFunctionArn", "WithdrawDsFunctionArn", "ProveInsecureFunctionArn",
		"DisableSigningFunctionArn", "RetireKsksFunctionArn", "RetireKmsKeysFunctionArn",
		// The generic steps the state machine reuses, in case the shared
		// list lacks one.
		"ObserveZoneFunctionArn", "VerifyDsFunctionArn", "CheckChangeFunctionArn",
		"NotifyFunctionArn", "ReleaseLockFunctionArn")
}

// registerAll registers every step (those of the shared list and
// disable-signing's), each wrapped by wrap when given.
func (w *disableWorld) registerAll(t *testing.T, wrap func(string, func(context.Context, steps.Event) (steps.State, error)) any) {
	t.Helper()
	w.register(wrap)
	for ph, fn := range w.disableHandlers() {
		arn := w.subs[ph]
		if arn == "" {
			t.Fatalf("no %s in statemachines/substitutions.json", ph)
		}
		var hd any = fn
		if wrap != nil {
			hd = wrap(ph, fn)
		}
		w.runner.Register(arn[strings.LastIndex(arn, ":")+1:], hd)
	}
}

// parentServers returns the addresses of the servers of zone's parent: the
// TLD's for example.test., the parent hosted zone's for app.example.test.
func (w *disableWorld) parentServers(zone string) map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	switch zone {
	case stack.ScenarioChildZone:
		for _, s := range w.st.Tree().Route53().ZoneServers(w.sc.ZoneID) {
			out[s.Name+"@"+s.Addr.String()] = s.Addr
		}
	case stack.ScenarioDomain:
		for i, a := range w.st.Tree().TLDServers() {
			out[fmt.Sprintf("tld%d@%s", i, a)] = a
		}
	}
	return out
}

// parentDSOf asks every parent server of the zone of hosted zone id for its DS.
func (w *disableWorld) parentDSOf(id string) parentDS {
	zone := stack.ScenarioDomain
	if strings.HasSuffix(id, w.sc.ChildZoneID) {
		zone = stack.ScenarioChildZone
	}
	return w.askParents(zone)
}

// askParents asks every parent server of zone for its DS RRset, directly.
func (w *disableWorld) askParents(zone string) parentDS {
	var out parentDS
	c := &dnsquery.Client{Timeout: 500 * time.Millisecond, Attempts: 2}
	for name, addr := range w.parentServers(zone) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m, err := c.Exchange(ctx, addr, zone, dns.TypeDS)
		cancel()
		if err != nil || m.Rcode != dns.RcodeSuccess || !m.Authoritative {
			out.Unknown = append(out.Unknown, name)
			continue
		}
		for _, rr := range m.Answer {
			if ds, ok := rr.(*dns.DS); ok && strings.EqualFold(ds.Hdr.Name, zone) {
				out.Serving = append(out.Serving, name)
				out.TTL = max(out.TTL, ds.Hdr.Ttl)
				break
			}
		}
	}
	slices.Sort(out.Serving)
	slices.Sort(out.Unknown)
	return out
}

// startWatch watches execution exec on zone, with a caching resolver primed
// now.
func (w *disableWorld) startWatch(t *testing.T, exec, zone string) *watch {
	t.Helper()
	r, err := dnssec.NewResolver(w.st.ResolverConfig())
	if err != nil {
		t.Fatal(err)
	}
	wt := &watch{exec: exec, zone: zone, cached: r, statuses: map[string]int{}}
	w.mu.Lock()
	w.watch = wt
	w.mu.Unlock()
	return wt
}

// onEvent validates the watched zone with the long-lived resolver and asks
// the parent servers for its DS at every state the watched execution enters.
// It runs in the execution's goroutine, so nothing moves meanwhile.
func (w *disableWorld) onEvent(e *asl.Execution, ev asl.Event) {
	w.mu.Lock()
	person := w.person
	w.mu.Unlock()
	if person != nil {
		person(e, ev)
	}
	if !strings.HasSuffix(ev.Type, "StateEntered") {
		return
	}
	w.mu.Lock()
	wt := w.watch
	w.mu.Unlock()
	if wt == nil || e.Name != wt.exec {
		return
	}
	state, _ := ev.Details["name"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status := dnssec.Indeterminate
	reason := ""
	// The apex records stay cached; a new name each time is always asked
	// of the zone's servers, so its answer is checked against whatever DS
	// and DNSKEY the cache holds (as a resolver of the population would).
	probe := fmt.Sprintf("probe%d.%s", len(wt.states), wt.zone)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{wt.zone, dns.TypeSOA}, {wt.zone, dns.TypeDNSKEY}, {wt.zone, dns.TypeTXT}, {probe, dns.TypeA}, {"www." + wt.zone, dns.TypeA}} {
		res, err := wt.cached.Resolve(ctx, q.name, q.qtype)
		if err != nil {
			status, reason = dnssec.Indeterminate, err.Error()
			break
		}
		status, reason = res.Status, res.Reason
		if status != dnssec.Secure && status != dnssec.Insecure {
			break
		}
	}
	p := w.askParents(wt.zone)
	w.mu.Lock()
	defer w.mu.Unlock()
	wt.states = append(wt.states, state)
	wt.statuses[status.String()]++
	wt.lastStatus = status
	if status != dnssec.Secure && status != dnssec.Insecure {
		wt.bad = append(wt.bad, fmt.Sprintf("%s at %s: %s (%s)", state, w.clk.Now().Format(time.RFC3339), status, reason))
	}
	wt.dsTTL = max(wt.dsTTL, p.TTL)
	switch {
	case len(p.Serving) > 0 && !wt.dsGoneAt.IsZero():
		wt.dsBack = append(wt.dsBack, state)
	case len(p.Serving) == 0 && len(p.Unknown) == 0 && wt.dsTTL > 0 && wt.dsGoneAt.IsZero():
		wt.dsGoneAt = w.clk.Now()
	}
}

// enableBoth signs example.test. (DS through Route 53 Domains) and
// app.example.test. (DS in the parent hosted zone).
func (w *disableWorld) enableBoth(t *testing.T) {
	t.Helper()
	sm := w.load(t, "enable-signing.asl.json")
	for _, r := range []struct {
		name, id  string
		publisher map[string]any
	}{
		{"enable-example", w.sc.ZoneID, examplePublisher},
		{"enable-app", w.sc.ChildZoneID, appPublisher(w.world)},
	} {
		res, _ := w.run(t, sm, r.name, map[string]any{"hostedZoneId": r.id, "dsPublisher": r.publisher})
		if res.Status != asl.StatusSucceeded {
			t.Fatalf("%s: %s %s: %s", r.name, res.Status, res.Error, res.Cause)
		}
	}
	for _, z := range []string{stack.ScenarioDomain, stack.ScenarioChildZone} {
		if got := w.status(t, z, dns.TypeSOA); got.Status != dnssec.Secure {
			t.Fatalf("after enable-signing: %s is %v (%s)", z, got.Status, got.Reason)
		}
	}
}

func appPublisher(w *world) map[string]any {
	return map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": w.sc.ZoneID}
}

// dnssecOf returns a zone's signing status and KSKs as "name STATUS".
func (w *disableWorld) dnssecOf(t *testing.T, id string) (string, []string) {
	t.Helper()
	out, err := w.r53.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	var ksks []string
	for _, k := range out.KeySigningKeys {
		ksks = append(ksks, aws.ToString(k.Name)+" "+aws.ToString(k.Status))
	}
	return aws.ToString(out.Status.ServeSignature), ksks
}

func (w *disableWorld) keyState(t *testing.T, arn string) kmstypes.KeyState {
	t.Helper()
	out, err := w.kms.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

// kmsKeysOf returns the KMS keys of the zone's KSKs.
func (w *disableWorld) kmsKeysOf(t *testing.T, id string) []string {
	t.Helper()
	out, err := w.r53.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, k := range out.KeySigningKeys {
		arns = append(arns, aws.ToString(k.KmsArn))
	}
	return arns
}

func opNames(ops []op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.Name)
	}
	return out
}

// TestDisableSigningEndToEnd runs statemachines/disable-signing.asl.json on
// the local stack: refusals that change nothing (an unsigned zone, a parent
// whose child is signed, no DS publisher), then app.example.test. (DS in the
// parent hosted zone, KMS key deletion asked) and example.test. (DS through
// Route 53 Domains, keys kept). At every state the run enters, a resolver
// whose cache lives on the virtual clock validates the zone (never bogus)
// and every parent server is asked for the DS; signing is disabled only when
// no parent server serves a DS and the DS TTL + margin has passed since the
// first time none did; the zone ends provably insecure with no KSK.
func TestDisableSigningEndToEnd(t *testing.T) {
	w := newDisableWorld(t)
	sm := w.load(t, "disable-signing.asl.json")

	before := w.footprint(t)
	res, _ := w.run(t, sm, "refuse-unsigned", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher})
	if res.Status != asl.StatusFailed || res.Error != "NotSignedError" {
		t.Errorf("unsigned zone: %s %s (%s), want FAILED with NotSignedError", res.Status, res.Error, res.Cause)
	}
	if after := w.footprint(t); after != before {
		t.Errorf("refused execution changed the account:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	w.enableBoth(t)
	refusals := []struct {
		name  string
		input map[string]any
		want  string
	}{
		{"signed-child", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher}, "SignedChildrenError"},
		{"no-publisher", map[string]any{"hostedZoneId": w.sc.ChildZoneID}, "InvalidInputError"},
		{"bad-window", map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": appPublisher(w.world), "kmsDeletionWindowDays": 3}, "InvalidInputError"},
	}
	before, first := w.footprint(t), w.opCount()
	for _, r := range refusals {
		res, _ := w.run(t, sm, "refuse-"+r.name, r.input)
		if res.Status != asl.StatusFailed || res.Error != r.want {
			t.Errorf("%s: %s %s (%s), want FAILED with %s", r.name, res.Status, res.Error, res.Cause, r.want)
		}
		if after := w.footprint(t); after != before {
			t.Errorf("%s: refused execution changed the account:\nbefore:\n%s\nafter:\n%s", r.name, before, after)
		}
	}
	if ops := w.opsFrom(first); len(ops) != 0 {
		t.Fatalf("refusals made DNSSEC changes: %v", opNames(ops))
	}

	runs := []struct {
		name, id, zone string
		input          map[string]any
		wantOps        []string
		keyState       kmstypes.KeyState
		parentSecure   bool
	}{
		{"disable-app", w.sc.ChildZoneID, stack.ScenarioChildZone,
			map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": appPublisher(w.world), "deleteKmsKeys": true, "kmsDeletionWindowDays": 7},
			[]string{"ChangeResourceRecordSets:DELETE:DS", "DisableHostedZoneDNSSEC", "DeactivateKeySigningKey", "DeleteKeySigningKey", "ScheduleKeyDeletion"},
			kmstypes.KeyStatePendingDeletion, true},
		{"disable-example", w.sc.ZoneID, stack.ScenarioDomain,
			map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher},
			[]string{"DisassociateDelegationSignerFromDomain", "DisableHostedZoneDNSSEC", "DeactivateKeySigningKey", "DeleteKeySigningKey"},
			kmstypes.KeyStateEnabled, false},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			keys := w.kmsKeysOf(t, r.id)
			first := w.opCount()
			wt := w.startWatch(t, r.name, r.zone)
			start := w.clk.Now()
			res, _ := w.run(t, sm, r.name, r.input)
			if res.Status != asl.StatusSucceeded {
				t.Fatalf("%s: %s %s: %s", r.name, res.Status, res.Error, res.Cause)
			}
			s := finalState(t, res)
			t.Logf("%s: %d transitions, %v virtual; statuses seen %v; timeline:\n%s", r.name, res.Transitions, w.clk.Now().Sub(start), wt.statuses, strings.Join(s.Timeline, "\n"))

			ops := w.opsFrom(first)
			if got := opNames(ops); !slices.Equal(got, r.wantOps) {
				t.Errorf("calls in order %v, want %v", got, r.wantOps)
			}
			i := slices.IndexFunc(ops, func(o op) bool { return o.Name == "DisableHostedZoneDNSSEC" })
			if i < 0 {
				t.Fatal("DisableHostedZoneDNSSEC was not called")
			}
			dis := ops[i]
			if len(dis.ParentDS.Serving) > 0 || len(dis.ParentDS.Unknown) > 0 {
				t.Errorf("DisableHostedZoneDNSSEC called while parent servers serve a DS %v or did not answer %v", dis.ParentDS.Serving, dis.ParentDS.Unknown)
			}
			margin := time.Duration(s.MarginSeconds) * time.Second
			if wt.dsGoneAt.IsZero() || wt.dsTTL == 0 {
				t.Fatalf("the watch never saw the DS (TTL %d) disappear", wt.dsTTL)
			}
			if gap, want := dis.At.Sub(wt.dsGoneAt), time.Duration(wt.dsTTL)*time.Second+margin; gap < want {
				t.Errorf("signing disabled %v after no parent server served the DS, want at least DS TTL %ds + margin %v = %v", gap, wt.dsTTL, margin, want)
			}
			if len(wt.dsBack) > 0 {
				t.Errorf("a DS was served again at states %v", wt.dsBack)
			}
			if len(wt.bad) > 0 {
				t.Errorf("the zone did not validate secure or insecure at: %s", strings.Join(wt.bad, "; "))
			}
			if wt.statuses[dnssec.Secure.String()] == 0 || wt.lastStatus != dnssec.Insecure {
				t.Errorf("statuses seen %v, last %v: want secure first, insecure at the end", wt.statuses, wt.lastStatus)
			}
			for _, q := range []uint16{dns.TypeSOA, dns.TypeDNSKEY} {
				got := w.status(t, r.zone, q)
				if ok, why := steps.ProvenInsecure(r.zone, got); !ok {
					t.Errorf("after disable-signing: %s %s not provably insecure: %s", r.zone, dns.TypeToString[q], why)
				}
			}
			if serve, ksks := w.dnssecOf(t, r.id); serve != steps.ServeNotSigning || len(ksks) != 0 {
				t.Errorf("after disable-signing: %s, KSKs %v; want NOT_SIGNING and none", serve, ksks)
			}
			for _, k := range keys {
				if got := w.keyState(t, k); got != r.keyState {
					t.Errorf("KMS key %s is %s, want %s", k, got, r.keyState)
				}
			}
			if s.LockHeld || strings.Contains(w.footprintZone(t, r.id), "_dnssec-autopilot") {
				t.Errorf("the lock of %s is still held", r.zone)
			}
			if r.parentSecure {
				if got := w.status(t, stack.ScenarioDomain, dns.TypeSOA); got.Status != dnssec.Secure {
					t.Errorf("the parent %s is %v (%s) after its child was unsigned, want secure", stack.ScenarioDomain, got.Status, got.Reason)
				}
			}
		})
	}
}

// TestDisableSigningLaggingParent: one parent server keeps serving the DS
// (it serves the parent zone as it was 90 hours ago). The run waits for it,
// within the parent propagation budget, then fails with
// PropagationTimeoutError naming that server, without disabling signing or
// touching the KSK. Once the server has caught up, a new execution finishes
// the job; not having seen the DS withdrawn, it waits AssumedDSTTL + margin
// before disabling.
func TestDisableSigningLaggingParent(t *testing.T) {
	w := newDisableWorld(t)
	sm := w.load(t, "disable-signing.asl.json")
	w.enableBoth(t)
	w.clk.Advance(100 * time.Hour) // the DS has been served for days
	lagging := w.st.Tree().Route53().ZoneServers(w.sc.ZoneID)[0]
	if err := w.st.SetZoneServerLag(w.sc.ZoneID, 0, 90*time.Hour); err != nil {
		t.Fatal(err)
	}
	input := map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": appPublisher(w.world)}

	first := w.opCount()
	start := w.clk.Now()
	res, _ := w.run(t, sm, "disable-lagging", input)
	if res.Status != asl.StatusFailed || res.Error != "PropagationTimeoutError" {
		t.Fatalf("lagging parent: %s %s (%s), want FAILED with PropagationTimeoutError", res.Status, res.Error, res.Cause)
	}
	if !strings.Contains(res.Cause, lagging.Name) {
		t.Errorf("cause %q does not name the lagging server %s", res.Cause, lagging.Name)
	}
	if took := w.clk.Now().Sub(start); took < steps.ParentPropagationBudget {
		t.Errorf("gave up after %v, want the parent propagation budget %v", took, steps.ParentPropagationBudget)
	}
	if got := opNames(w.opsFrom(first)); !slices.Equal(got, []string{"ChangeResourceRecordSets:DELETE:DS"}) {
		t.Errorf("calls %v, want only the DS withdrawal", got)
	}
	serve, ksks := w.dnssecOf(t, w.sc.ChildZoneID)
	if serve != steps.ServeSigning || len(ksks) != 1 || !strings.HasSuffix(ksks[0], "ACTIVE") {
		t.Errorf("after the failed run: %s, KSKs %v; want SIGNING with its KSK ACTIVE", serve, ksks)
	}
	if strings.Contains(w.footprintZone(t, w.sc.ChildZoneID), "_dnssec-autopilot") {
		t.Error("the failed run left its lock")
	}

	// The server catches up; a new execution continues.
	if err := w.st.SetZoneServerLag(w.sc.ZoneID, 0, 0); err != nil {
		t.Fatal(err)
	}
	first = w.opCount()
	start = w.clk.Now()
	res, _ = w.run(t, sm, "disable-rerun", input)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("re-run: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	s := finalState(t, res)
	if s.Disable == nil || !s.Disable.AssumedDS {
		t.Errorf("re-run: the DS withdrawn before it started was not assumed served (state.disable %+v)", s.Disable)
	}
	ops := w.opsFrom(first)
	i := slices.IndexFunc(ops, func(o op) bool { return o.Name == "DisableHostedZoneDNSSEC" })
	if i < 0 {
		t.Fatalf("re-run: DisableHostedZoneDNSSEC not called: %v", opNames(ops))
	}
	if gap, want := ops[i].At.Sub(start), steps.AssumedDSTTL*time.Second+steps.DefaultSafetyMargin; gap < want {
		t.Errorf("re-run disabled signing %v after it started, want at least %v", gap, want)
	}
	if serve, ksks := w.dnssecOf(t, w.sc.ChildZoneID); serve != steps.ServeNotSigning || len(ksks) != 0 {
		t.Errorf("after the re-run: %s, KSKs %v; want NOT_SIGNING and none", serve, ksks)
	}
	t.Logf("re-run: %d transitions; timeline:\n%s", res.Transitions, strings.Join(s.Timeline, "\n"))
}

// TestDisableSigningCrashAfterEachStep makes the first call of every step
// of disable-signing lose its answer after its side effects (Step Functions
// then retries the Task with the same input): the run converges, each
// change is made once, and the zone ends unsigned, insecure, without KSKs.
// A dry run before it changes nothing.
func TestDisableSigningCrashAfterEachStep(t *testing.T) {
	w := newDisableWorld(t)
	sm := w.load(t, "disable-signing.asl.json")
	w.enableBoth(t)
	input := map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": appPublisher(w.world), "deleteKmsKeys": true}

	before, first := w.footprint(t), w.opCount()
	dry := map[string]any{"dryRun": true}
	for k, v := range input {
		dry[k] = v
	}
	res, _ := w.run(t, sm, "dry-run", dry)
	if res.Status != asl.StatusSucceeded || !strings.Contains(strings.Join(finalState(t, res).Timeline, "\n"), "dry run: would withdraw DS") {
		t.Errorf("dry run: %s %s (%s)", res.Status, res.Error, res.Cause)
	}
	if after := w.footprint(t); after != before || w.opCount() != first {
		t.Errorf("the dry run changed the account: %v\nbefore:\n%s\nafter:\n%s", opNames(w.opsFrom(first)), before, after)
	}

	c := &crashOnce{crash: map[string]bool{}, crashed: map[string]int{}}
	for ph := range w.disableHandlers() {
		c.crash[ph] = true
	}
	w.registerAll(t, c.wrap)
	w.calls.reset()
	res, _ = w.run(t, sm, "crashy", input)
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("disable-signing with crashes: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	for ph := range c.crash {
		if c.crashed[ph] != 1 {
			t.Errorf("step %s crashed %d times, want 1", ph, c.crashed[ph])
		}
	}
	want := []string{"ChangeResourceRecordSets:DELETE:DS", "DisableHostedZoneDNSSEC", "DeactivateKeySigningKey", "DeleteKeySigningKey", "ScheduleKeyDeletion"}
	if got := opNames(w.opsFrom(first)); !slices.Equal(got, want) {
		t.Errorf("calls %v, want each once: %v", got, want)
	}
	if got := w.calls.get(); got["ChangeResourceRecordSets:CREATE:TXT"] != 1 || got["ChangeResourceRecordSets:DELETE:TXT"] != 1 {
		t.Errorf("lock taken %d and released %d times, want once each", got["ChangeResourceRecordSets:CREATE:TXT"], got["ChangeResourceRecordSets:DELETE:TXT"])
	}
	if serve, ksks := w.dnssecOf(t, w.sc.ChildZoneID); serve != steps.ServeNotSigning || len(ksks) != 0 {
		t.Errorf("after the run: %s, KSKs %v; want NOT_SIGNING and none", serve, ksks)
	}
	if ok, why := steps.ProvenInsecure(stack.ScenarioChildZone, w.status(t, stack.ScenarioChildZone, dns.TypeSOA)); !ok {
		t.Errorf("after the run: not provably insecure: %s", why)
	}
}

// TestDisableSigningParentFirst: with allowSignedChildren, example.test. is
// unsigned while app.example.test. below it is signed; the child becomes
// insecure (never bogus), and disable-signing of the child still works,
// its proof of insecurity being the denial of example.test.'s DS in test.
func TestDisableSigningParentFirst(t *testing.T) {
	w := newDisableWorld(t)
	sm := w.load(t, "disable-signing.asl.json")
	w.enableBoth(t)

	wt := w.startWatch(t, "disable-parent", stack.ScenarioChildZone) // the child, under its parent's change
	res, _ := w.run(t, sm, "disable-parent", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher, "allowSignedChildren": true})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("disable-signing of the parent: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if s := finalState(t, res); s.Disable == nil || !slices.Equal(s.Disable.SignedChildren, []string{stack.ScenarioChildZone}) {
		t.Errorf("signed children noted: %+v", s.Disable)
	}
	if len(wt.bad) > 0 {
		t.Errorf("the child did not validate secure or insecure at: %s", strings.Join(wt.bad, "; "))
	}
	for _, z := range []string{stack.ScenarioDomain, stack.ScenarioChildZone} {
		if ok, why := steps.ProvenInsecure(z, w.status(t, z, dns.TypeSOA)); !ok {
			t.Errorf("after unsigning the parent: %s not provably insecure: %s", z, why)
		}
	}
	if serve, _ := w.dnssecOf(t, w.sc.ChildZoneID); serve != steps.ServeSigning {
		t.Errorf("the child is %s, want still SIGNING", serve)
	}

	res, _ = w.run(t, sm, "disable-child", map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": appPublisher(w.world)})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("disable-signing of the child below an insecure parent: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if serve, ksks := w.dnssecOf(t, w.sc.ChildZoneID); serve != steps.ServeNotSigning || len(ksks) != 0 {
		t.Errorf("the child: %s, KSKs %v; want NOT_SIGNING and none", serve, ksks)
	}
}

// TestDisableSigningManualPublisher: the DS is withdrawn by a person (the
// manual publisher asks over SNS); the run observes the parent until the DS
// is gone (the person deletes it after the third observation), waits the
// DS TTL + margin from then, and finishes.
func TestDisableSigningManualPublisher(t *testing.T) {
	w := newDisableWorld(t)
	sm := w.load(t, "disable-signing.asl.json")
	w.enableBoth(t)
	var verified int
	var removedAt time.Time
	w.mu.Lock()
	w.person = func(_ *asl.Execution, ev asl.Event) {
		if ev.Type != "TaskStateExited" || ev.Details["name"] != "VerifyDSWithdrawn" {
			return
		}
		if verified++; verified != 3 {
			return
		}
		ctx := context.Background()
		out, err := w.r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(w.sc.ZoneID),
			StartRecordName: aws.String(stack.ScenarioChildZone), StartRecordType: r53types.RRTypeDs, MaxItems: aws.Int32(1)})
		if err != nil || len(out.ResourceRecordSets) != 1 || out.ResourceRecordSets[0].Type != r53types.RRTypeDs {
			t.Errorf("the person finds no DS to delete: %v", err)
			return
		}
		if _, err := w.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(w.sc.ZoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionDelete, ResourceRecordSet: &out.ResourceRecordSets[0]}}}}); err != nil {
			t.Errorf("the person's DELETE: %v", err)
		}
		removedAt = w.clk.Now()
	}
	w.mu.Unlock()
	first := w.opCount()
	res, _ := w.run(t, sm, "disable-manual", map[string]any{"hostedZoneId": w.sc.ChildZoneID, "dsPublisher": map[string]any{"kind": "manual", "topicArn": w.sc.TopicARN}})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("disable-signing, manual: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	var asked bool
	for _, m := range w.st.SNS().Messages(w.sc.TopicARN) {
		asked = asked || (strings.Contains(m.Body, stack.ScenarioChildZone) && strings.Contains(strings.ToLower(m.Subject+m.Body), "remove"))
	}
	if !asked {
		t.Errorf("no SNS message asked a person to remove the DS of %s", stack.ScenarioChildZone)
	}
	ops := w.opsFrom(first)
	i := slices.IndexFunc(ops, func(o op) bool { return o.Name == "DisableHostedZoneDNSSEC" })
	if i < 0 || removedAt.IsZero() {
		t.Fatalf("DisableHostedZoneDNSSEC not called (%v), or the person never acted", opNames(ops))
	}
	if gap := ops[i].At.Sub(removedAt); gap < time.Duration(dspublish.DefaultDSTTL)*time.Second+steps.DefaultSafetyMargin {
		t.Errorf("signing disabled %v after the person removed the DS, want at least its TTL + margin", gap)
	}
}
