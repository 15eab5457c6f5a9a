// Package workflows runs the project's state machines on the local stack:
// the step handlers of internal/steps built over the stack (the real SDK
// clients at its endpoint, an observer and validating resolvers on its DNS
// tree, its clock), registered in a States Language runner under the
// function names of statemachines/substitutions.json, every
// statemachines/*.asl.json loaded with those substitutions and served by
// the Step Functions emulator at the stack's endpoint (service "states"), so
// that `dnssecctl run --endpoint` and the AWS CLI start executions as they
// would on AWS. The stack's alarms start alarm-response when its state
// machine exists.
//
// Dependencies point one way: this package imports internal/steps, never
// the reverse.
package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/sfnemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// The workflows' state machine names: the file names without .asl.json.
const (
	EnableSigning  = "enable-signing"
	RotateKSK      = "rotate-ksk"
	DisableSigning = "disable-signing"
	// AlarmResponse is started by the stack's alarms when its file exists
	// (issue 6).
	AlarmResponse = "alarm-response"
	// EnableValidation sets Route 53 Resolver DNSSEC validation of VPCs
	// and probes each VPC's resolver.
	EnableValidation = "enable-validation"
)

const (
	// SubstitutionsFile holds the placeholders with example ARNs, as the
	// CDK stack's DefinitionSubstitutions fill them.
	SubstitutionsFile = "substitutions.json"
	// definitionSuffix ends every state machine file.
	definitionSuffix = ".asl.json"
	// dnsTimeout and dnsAttempts bound each query of the observer: the
	// servers are on loopback, an answer comes in microseconds or never.
	dnsTimeout  = 500 * time.Millisecond
	dnsAttempts = 2
)

// Options configure Start.
type Options struct {
	// Dir is the statemachines directory; FindDir(".") when empty.
	Dir string
	// Progress receives the runner's progress lines (see asl.Options).
	Progress io.Writer
	// OnEvent sees every history event of every execution (it must not
	// block); the Step Functions emulator sees them too.
	OnEvent func(*asl.Execution, asl.Event)
	// Wrap, when set, wraps each step handler before it is registered
	// (fault injection in tests); it returns anything lambda.Start accepts.
	Wrap func(placeholder string, fn HandlerFunc) any
	// NoAutoAdvance keeps a virtual clock from jumping to the next Wait's
	// end (see asl.Options): for a stack whose clock someone else drives at
	// a steady pace (`local up --clock virtual`).
	NoAutoAdvance bool
	// HistoryLimit bounds the events kept per execution (asl.Options):
	// for fleets of thousands of rotations.
	HistoryLimit int
	// Route53Throttle, when set, replaces the Route 53 emulator's token
	// bucket (rate per second on the stack's clock, burst); a rate <= 0
	// turns throttling off.
	Route53Throttle *Throttle
}

// Throttle is a token bucket.
type Throttle struct {
	RatePerSecond float64
	Burst         int
}

// Machine is one state machine served by the Step Functions emulator.
type Machine struct {
	Name string // enable-signing, rotate-ksk, ...
	ARN  string
	File string
	SM   *asl.StateMachine
}

// Workflows are the state machines running on a stack.
type Workflows struct {
	Handler  *steps.Handler
	Runner   *asl.Runner
	SFN      *sfnemu.Service
	Machines []Machine // sorted by name
	Subs     map[string]string

	st           *stack.Stack
	cancelAlarms func()
	// throttle is the Route 53 token bucket the workflows run with.
	throttle Throttle

	mu          sync.Mutex
	alarmStarts []*asl.Execution
}

// Start builds the step handlers over st (which must have its scenario:
// notifications go to its topic), registers them in a runner on st's clock,
// loads every state machine of the statemachines directory, serves them at
// st's endpoint as the "states" service and subscribes alarm-response to
// st's alarms. Close unsubscribes.
func Start(st *stack.Stack, opts Options) (*Workflows, error) {
	sc := st.Scenario()
	if sc == nil {
		return nil, errors.New("workflows: the stack has no scenario (SetupScenario)")
	}
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = FindDir("."); err != nil {
			return nil, err
		}
	}
	subs, err := LoadSubstitutions(dir)
	if err != nil {
		return nil, err
	}
	subs = localMachineARNs(subs)
	if t := opts.Route53Throttle; t != nil {
		st.Route53().SetThrottle(t.RatePerSecond, t.Burst)
	}

	w := &Workflows{Subs: subs, st: st, throttle: Throttle{RatePerSecond: route53emu.DefaultThrottleRate, Burst: route53emu.DefaultThrottleBurst}}
	if t := opts.Route53Throttle; t != nil {
		w.throttle = *t
	}
	var svc *sfnemu.Service
	w.Runner = asl.NewRunner(st.Clock(), asl.Options{
		Region: stack.Region, AccountID: stack.AccountID,
		Progress:      opts.Progress,
		NoAutoAdvance: opts.NoAutoAdvance,
		HistoryLimit:  opts.HistoryLimit,
		Publisher:     snsPublisher{sns.NewFromConfig(st.AWSConfig())},
		OnEvent: func(e *asl.Execution, ev asl.Event) {
			svc.OnEvent(e, ev)
			if opts.OnEvent != nil {
				opts.OnEvent(e, ev)
			}
		},
	})
	// The handlers' SDK retries back off on the runner's clock (a Task
	// holds the runner busy, so a real-time sleep would never let a
	// virtual clock move and refill Route 53's token bucket).
	h, err := newHandler(st, sc.TopicARN, w.Runner.Sleep)
	if err != nil {
		return nil, err
	}
	w.Handler = h
	svc = sfnemu.New(st.Clock(), w.Runner, sfnemu.WithAccount(stack.AccountID), sfnemu.WithRegion(stack.Region))
	w.SFN = svc
	if err := Register(w.Runner, h, subs, opts.Wrap); err != nil {
		return nil, err
	}
	if err := registerPerVPC(w.Runner, st, h, subs, opts.Wrap); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"+definitionSuffix))
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	slices.Sort(files)
	for _, f := range files {
		m, err := load(f, subs)
		if err != nil {
			return nil, err
		}
		if m.ARN, err = svc.RegisterStateMachine(m.Name, m.SM); err != nil {
			return nil, fmt.Errorf("workflows: register %s: %w", m.Name, err)
		}
		w.Machines = append(w.Machines, m)
	}
	if len(w.Machines) == 0 {
		return nil, fmt.Errorf("workflows: no *%s in %s", definitionSuffix, dir)
	}
	if err := st.AddService(awsemu.ServiceSFN, svc); err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	if _, ok := w.Machine(AlarmResponse); ok {
		w.cancelAlarms = st.SubscribeAlarms(w.onAlarm)
	}
	return w, nil
}

// NewHandler builds the step handlers over st: the real SDK clients at its
// endpoint, an observer and validating resolvers from its root with its
// trust anchor, and its clock. On a virtual clock the SDK does not retry by
// itself: outside a runner nothing moves the clock during a step, so a
// retry sleeping in real time would never see Route 53's token bucket
// refill; a busy answer reaches the caller as ServiceBusyError. (The
// handlers Start registers do retry, on the runner's clock.)
func NewHandler(st *stack.Stack, topicARN string) (*steps.Handler, error) {
	return newHandler(st, topicARN, nil)
}

// newHandler is NewHandler whose SDK retries, on a virtual clock, back off
// with sleep (the runner's, for handlers that run inside its Tasks): the
// retryer of the Lambda functions (steps.NewRetryer), its delays taken on
// the virtual clock.
func newHandler(st *stack.Stack, topicARN string, sleep func(context.Context, time.Duration) error) (*steps.Handler, error) {
	cfg := st.AWSConfig()
	switch {
	case st.Virtual() != nil && sleep != nil:
		cfg.Retryer = func() aws.Retryer {
			return virtualRetryer{RetryerV2: steps.NewRetryer(steps.DefaultSDKMaxAttempts), sleep: sleep}
		}
	case st.Virtual() != nil:
		cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	}
	clk := st.Clock()
	obs, err := observe.New(observe.Config{
		Roots: st.RootServers(), Port: st.Tree().Port(), Now: clk.Now,
		Client: &dnsquery.Client{Timeout: dnsTimeout, Attempts: dnsAttempts},
	})
	if err != nil {
		return nil, fmt.Errorf("workflows: observer: %w", err)
	}
	rc := st.ResolverConfig()
	h, err := steps.New(steps.Config{AccountID: stack.AccountID, Region: stack.Region, DefaultTopicARN: topicARN},
		steps.Deps{
			Clients: steps.Clients{
				Route53: route53.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg),
				Domains: route53domains.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg),
				Resolver: route53resolver.NewFromConfig(cfg),
			},
			Observer:    obs,
			NewResolver: func() (steps.Resolver, error) { return dnssec.NewResolver(rc) },
			Now:         clk.Now,
		})
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	return h, nil
}

// Register registers every step of Steps with r under its function name
// (the last field of its ARN in subs), each wrapped by wrap when given.
// Every step must have its placeholder in subs.
func Register(r *asl.Runner, h *steps.Handler, subs map[string]string, wrap func(string, HandlerFunc) any) error {
	for _, s := range Steps {
		arn, ok := subs[s.Placeholder]
		if !ok {
			return fmt.Errorf("workflows: %s is not in %s", s.Placeholder, SubstitutionsFile)
		}
		if PerVPC[s.Placeholder] {
			continue // registerPerVPC
		}
		fn := HandlerFunc(func(ctx context.Context, ev steps.Event) (steps.State, error) { return s.Method(h, ctx, ev) })
		var hd any = fn
		if wrap != nil {
			hd = wrap(s.Placeholder, fn)
		}
		r.Register(FunctionName(arn), hd)
	}
	return nil
}

// registerPerVPC registers the per-VPC steps once per VPC of st, as the
// deployment does (<function name>-<vpc id>, each querying its VPC's
// resolver), and turns their substitutions into the name prefix the state
// machine appends the VPC ID to. VPCs added to st later have none.
func registerPerVPC(r *asl.Runner, st *stack.Stack, h *steps.Handler, subs map[string]string, wrap func(string, HandlerFunc) any) error {
	for _, s := range Steps {
		if !PerVPC[s.Placeholder] {
			continue
		}
		arn, ok := subs[s.Placeholder]
		if !ok {
			return fmt.Errorf("workflows: %s is not in %s", s.Placeholder, SubstitutionsFile)
		}
		if !strings.HasSuffix(arn, "-") {
			arn += "-"
			subs[s.Placeholder] = arn
		}
		for _, vpc := range st.VPCs() {
			addr, ok := st.VPCResolver(vpc)
			if !ok {
				continue
			}
			hv := h.ForVPC(addr)
			fn := HandlerFunc(func(ctx context.Context, ev steps.Event) (steps.State, error) { return s.Method(hv, ctx, ev) })
			var hd any = fn
			if wrap != nil {
				hd = wrap(s.Placeholder, fn)
			}
			r.Register(FunctionName(arn)+vpc, hd)
		}
	}
	return nil
}

// FunctionName returns the function name of a Lambda ARN (its last field).
func FunctionName(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// LoadSubstitutions reads dir/substitutions.json.
func LoadSubstitutions(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, SubstitutionsFile))
	if err != nil {
		return nil, fmt.Errorf("workflows: %w", err)
	}
	subs := map[string]string{}
	if err := json.Unmarshal(b, &subs); err != nil {
		return nil, fmt.Errorf("workflows: %s: %w", SubstitutionsFile, err)
	}
	return subs, nil
}

// FindDir finds the statemachines directory in start or the nearest
// directory above it that has one (a clone's root, from any of its
// directories).
func FindDir(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("workflows: %w", err)
	}
	for {
		d := filepath.Join(dir, "statemachines")
		if _, err := os.Stat(filepath.Join(d, SubstitutionsFile)); err == nil {
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("workflows: no statemachines/%s in %s or above it (run from the clone, or pass the directory)", SubstitutionsFile, start)
		}
		dir = parent
	}
}

func load(file string, subs map[string]string) (Machine, error) {
	def, err := os.ReadFile(file)
	if err != nil {
		return Machine{}, fmt.Errorf("workflows: %w", err)
	}
	sm, err := asl.Load(def, subs)
	if err != nil {
		return Machine{}, fmt.Errorf("workflows: %s: %w", filepath.Base(file), err)
	}
	return Machine{Name: strings.TrimSuffix(filepath.Base(file), definitionSuffix), File: file, SM: sm}, nil
}

// Machine returns the state machine called name.
func (w *Workflows) Machine(name string) (Machine, bool) {
	i := slices.IndexFunc(w.Machines, func(m Machine) bool { return m.Name == name })
	if i < 0 {
		return Machine{}, false
	}
	return w.Machines[i], true
}

// Start begins an execution of the state machine called name with input
// (marshalled to JSON), as StartExecution does.
func (w *Workflows) Start(ctx context.Context, name, execName string, input any) (*asl.Execution, error) {
	m, ok := w.Machine(name)
	if !ok {
		return nil, fmt.Errorf("workflows: no state machine %q", name)
	}
	b, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("workflows: input of %s: %w", name, err)
	}
	return w.Runner.Start(ctx, m.SM, execName, b), nil
}

// onAlarm starts alarm-response with the alarm's EventBridge event as its
// input, as the deployment's EventBridge rule does.
func (w *Workflows) onAlarm(ev events.CloudWatchEvent) {
	// The execution outlives this call: it runs until it ends or the
	// stack closes.
	ex, err := w.Start(context.Background(), AlarmResponse, "", ev)
	if err != nil {
		return // only an event that does not marshal; nothing to start
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.alarmStarts = append(w.alarmStarts, ex)
}

// AlarmExecutions returns the executions alarms started so far.
func (w *Workflows) AlarmExecutions() []*asl.Execution {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.alarmStarts)
}

// Close stops starting executions from alarms. Running executions go on
// until the stack closes.
func (w *Workflows) Close() {
	if w.cancelAlarms != nil {
		w.cancelAlarms()
	}
}

// snsPublisher sends the sns:publish tasks of the state machines to the
// SNS emulator through the SDK.
type snsPublisher struct{ c *sns.Client }

func (p snsPublisher) Publish(ctx context.Context, topicARN, subject, message string) (string, error) {
	in := &sns.PublishInput{TopicArn: aws.String(topicARN), Message: aws.String(message)}
	if subject != "" {
		in.Subject = aws.String(subject)
	}
	out, err := p.c.Publish(ctx, in)
	if err != nil {
		return "", fmt.Errorf("workflows: sns publish: %w", err)
	}
	return aws.ToString(out.MessageId), nil
}

// virtualRetryer is a retryer whose back-off passes on a virtual clock: it
// sleeps the delay its retryer chose with sleep and tells the SDK to wait
// no more.
type virtualRetryer struct {
	aws.RetryerV2
	sleep func(context.Context, time.Duration) error
}

func (r virtualRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr != nil {
		return d, derr
	}
	// The SDK gives RetryDelay no context; the runner's sleep ends with
	// the clock, and a stopped execution's Task is abandoned anyway.
	_ = r.sleep(context.Background(), d)
	return 0, nil
}

// localMachineARNs points the state machine ARNs of substitutions.json
// (their deployed names, dnssec-autopilot-<workflow>) at the local
// machines, which are named after their files.
func localMachineARNs(subs map[string]string) map[string]string {
	out := make(map[string]string, len(subs))
	for k, v := range subs {
		if _, name, ok := strings.Cut(v, ":stateMachine:"); ok && strings.HasPrefix(v, "arn:aws:states:") {
			v = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", stack.Region, stack.AccountID, strings.TrimPrefix(name, "dnssec-autopilot-"))
		}
		out[k] = v
	}
	return out
}
