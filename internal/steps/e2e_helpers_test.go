package steps_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// t0 is the start of every end-to-end test's virtual clock.
var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

const statemachinesDir = "../../statemachines"

// world is the local stack with the scenario (example.test. registered with
// Route 53 Domains and delegated to its hosted zone, app.example.test.
// delegated from it), the step handlers wired to it through the real SDK
// clients, and the States Language runner on the stack's virtual clock.
type world struct {
	st     *stack.Stack
	sc     *stack.Scenario
	clk    *clock.Virtual
	h      *steps.Handler
	runner *asl.Runner
	r53    *route53.Client
	kms    *kms.Client
	subs   map[string]string

	calls *calls // the side-effecting API calls the steps made
}

// calls counts API calls by operation.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

// get returns the counts of ops.
func (c *calls) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

// Counting clients: every call that changes something is counted when it
// succeeds (a refused call changed nothing).
type countingRoute53 struct {
	steps.Route53API
	c *calls
}

func (r countingRoute53) ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, o ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	out, err := r.Route53API.ChangeResourceRecordSets(ctx, in, o...)
	if err == nil {
		for _, ch := range in.ChangeBatch.Changes {
			r.c.add("ChangeResourceRecordSets:" + string(ch.Action) + ":" + string(ch.ResourceRecordSet.Type))
		}
	}
	return out, err
}

func (r countingRoute53) CreateKeySigningKey(ctx context.Context, in *route53.CreateKeySigningKeyInput, o ...func(*route53.Options)) (*route53.CreateKeySigningKeyOutput, error) {
	out, err := r.Route53API.CreateKeySigningKey(ctx, in, o...)
	if err == nil {
		r.c.add("CreateKeySigningKey")
	}
	return out, err
}

func (r countingRoute53) EnableHostedZoneDNSSEC(ctx context.Context, in *route53.EnableHostedZoneDNSSECInput, o ...func(*route53.Options)) (*route53.EnableHostedZoneDNSSECOutput, error) {
	out, err := r.Route53API.EnableHostedZoneDNSSEC(ctx, in, o...)
	if err == nil {
		r.c.add("EnableHostedZoneDNSSEC")
	}
	return out, err
}

type countingKMS struct {
	steps.KMSAPI
	c *calls
}

func (k countingKMS) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...func(*kms.Options)) (*kms.CreateKeyOutput, error) {
	out, err := k.KMSAPI.CreateKey(ctx, in, o...)
	if err == nil {
		k.c.add("CreateKey")
	}
	return out, err
}

func (k countingKMS) CreateAlias(ctx context.Context, in *kms.CreateAliasInput, o ...func(*kms.Options)) (*kms.CreateAliasOutput, error) {
	out, err := k.KMSAPI.CreateAlias(ctx, in, o...)
	if err == nil {
		k.c.add("CreateAlias")
	}
	return out, err
}

type countingDomains struct {
	dspublish.DomainsAPI
	c *calls
}

func (d countingDomains) AssociateDelegationSignerToDomain(ctx context.Context, in *route53domains.AssociateDelegationSignerToDomainInput, o ...func(*route53domains.Options)) (*route53domains.AssociateDelegationSignerToDomainOutput, error) {
	out, err := d.DomainsAPI.AssociateDelegationSignerToDomain(ctx, in, o...)
	if err == nil {
		d.c.add("AssociateDelegationSignerToDomain")
	}
	return out, err
}

type countingSNS struct {
	steps.SNSAPI
	c *calls
}

func (s countingSNS) Publish(ctx context.Context, in *sns.PublishInput, o ...func(*sns.Options)) (*sns.PublishOutput, error) {
	out, err := s.SNSAPI.Publish(ctx, in, o...)
	if err == nil {
		s.c.add("Publish")
	}
	return out, err
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clk := clock.NewVirtual(t0)
	st, err := stack.Start(stack.Options{Clock: clk})
	if err != nil {
		t.Fatalf("stack.Start: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc, err := st.SetupScenario(ctx)
	if err != nil {
		t.Fatalf("SetupScenario: %v", err)
	}
	cfg := st.AWSConfig()
	// The virtual clock stands still during a step: an SDK retry sleeping
	// in real time would never see Route 53's token bucket refill. Busy
	// answers reach the state machine as ServiceBusyError instead, whose
	// ASL retry waits on the virtual clock.
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	st.Route53().SetThrottle(0, 0) // the assertions read a lot; TestThrottled turns it back on
	w := &world{st: st, sc: sc, clk: clk, calls: &calls{n: map[string]int{}},
		r53: route53.NewFromConfig(cfg), kms: kms.NewFromConfig(cfg)}
	obs, err := observe.New(observe.Config{
		Roots: st.RootServers(), Port: st.Tree().Port(), Now: clk.Now,
		Client: &dnsquery.Client{Timeout: 500 * time.Millisecond, Attempts: 2},
	})
	if err != nil {
		t.Fatalf("observe.New: %v", err)
	}
	rc := st.ResolverConfig()
	w.h, err = steps.New(steps.Config{AccountID: stack.AccountID, Region: stack.Region, DefaultTopicARN: sc.TopicARN},
		steps.Deps{
			Clients: steps.Clients{
				Route53: countingRoute53{w.r53, w.calls}, KMS: countingKMS{w.kms, w.calls},
				Domains: countingDomains{route53domains.NewFromConfig(cfg), w.calls}, SNS: countingSNS{sns.NewFromConfig(cfg), w.calls},
			},
			Observer:    obs,
			NewResolver: func() (steps.Resolver, error) { return dnssec.NewResolver(rc) },
			Now:         clk.Now,
		})
	if err != nil {
		t.Fatalf("steps.New: %v", err)
	}
	w.subs = substitutions(t)
	w.runner = asl.NewRunner(clk, asl.Options{Region: stack.Region, AccountID: stack.AccountID})
	w.register(nil)
	return w
}

// substitutions reads statemachines/substitutions.json.
func substitutions(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(statemachinesDir, "substitutions.json"))
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	if err := json.Unmarshal(b, &subs); err != nil {
		t.Fatal(err)
	}
	return subs
}

// stepFunc is the shape of every step handler.
type stepFunc = func(context.Context, steps.Event) (steps.State, error)

// handlers binds the steps behind placeholders to h, from the one table of
// step placeholders and Handler methods (workflows.Steps, which the demo and
// `local up` register too).
func handlers(h *steps.Handler, placeholders ...string) map[string]stepFunc {
	out := map[string]stepFunc{}
	for _, s := range workflows.Steps {
		if slices.Contains(placeholders, s.Placeholder) {
			method := s.Method
			out[s.Placeholder] = func(ctx context.Context, ev steps.Event) (steps.State, error) { return method(h, ctx, ev) }
		}
	}
	if len(out) != len(placeholders) {
		panic(fmt.Sprintf("handlers(%q): some placeholder is not in workflows.Steps", placeholders))
	}
	return out
}

// stepHandlers maps each placeholder of enable-signing (and the steps it
// shares with the other workflows) to its handler.
func (w *world) stepHandlers() map[string]stepFunc {
	return handlers(w.h,
		"PreflightEnableFunctionArn", "PrepareKmsKeyFunctionArn", "CreateKskFunctionArn",
		"EnableSigningFunctionArn", "CheckChangeFunctionArn", "ObserveZoneFunctionArn",
		"PublishDsFunctionArn", "VerifyDsFunctionArn", "ValidateChainFunctionArn",
		"NotifyFunctionArn", "ReleaseLockFunctionArn")
}

// register registers every step with the runner under its function's name,
// each wrapped by wrap when given (placeholder name, handler).
func (w *world) register(wrap func(placeholder string, fn stepFunc) any) {
	for ph, fn := range w.stepHandlers() {
		arn := w.subs[ph]
		name := arn[strings.LastIndex(arn, ":")+1:]
		var hd any = fn
		if wrap != nil {
			hd = wrap(ph, fn)
		}
		w.runner.Register(name, hd)
	}
}

// load loads a state machine of statemachines/.
func (w *world) load(t *testing.T, file string) *asl.StateMachine {
	t.Helper()
	def, err := os.ReadFile(filepath.Join(statemachinesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	sm, err := asl.Load(def, w.subs)
	if err != nil {
		t.Fatalf("Load(%s): %v", file, err)
	}
	return sm
}

// run runs an execution to its end.
func (w *world) run(t *testing.T, sm *asl.StateMachine, name string, input any) (asl.Result, *asl.Execution) {
	t.Helper()
	b, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ex := w.runner.Start(ctx, sm, name, b)
	return ex.Wait(), ex
}

// secure validates name/qtype from the root with a fresh resolver.
func (w *world) status(t *testing.T, name string, qtype uint16) *dnssec.Result {
	t.Helper()
	r, err := dnssec.NewResolver(w.st.ResolverConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.Resolve(ctx, name, qtype)
	if err != nil {
		t.Fatalf("Resolve(%s %s): %v", name, dns.TypeToString[qtype], err)
	}
	return res
}

// crashOnce wraps step handlers so that the first call of each placeholder
// in crash runs the real handler (its side effects happen) and then fails as
// a lost Lambda answer does (Lambda.ServiceException), so that Step
// Functions retries the Task with the same input.
type crashOnce struct {
	mu      sync.Mutex
	crash   map[string]bool
	crashed map[string]int
}

func (c *crashOnce) wrap(ph string, fn func(context.Context, steps.Event) (steps.State, error)) any {
	return func(ctx context.Context, ev steps.Event) (steps.State, error) {
		s, err := fn(ctx, ev)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err == nil && c.crash[ph] && c.crashed[ph] == 0 {
			c.crashed[ph]++
			return steps.State{}, messages.InvokeResponse_Error{Type: "Lambda.ServiceException", Message: "injected: the function ran, its answer was lost"}
		}
		return s, err
	}
}
