package asl

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// Execution statuses, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Options configure a Runner.
type Options struct {
	// Region and AccountID appear in the ARNs the runner makes.
	Region    string
	AccountID string
	// Progress, if set, receives one line per execution start and end and
	// per Wait, for a person watching a long run.
	Progress io.Writer
	// Wall is the wall clock used in progress lines; time.Now when nil.
	Wall func() time.Time
	// Publisher receives sns:publish calls; without one they fail.
	Publisher Publisher
	// OnEvent, if set, sees every history event as it is written, of every
	// execution including the child executions of a Distributed Map (whose
	// histories are not kept). It must not block.
	OnEvent func(e *Execution, ev Event)
	// NoAutoAdvance keeps a virtual clock still even when every branch of
	// every execution is waiting on it (the caller then advances it).
	NoAutoAdvance bool
	// HistoryLimit, when above zero, keeps only about the last
	// HistoryLimit events of each running or failed execution and the last
	// event of each that succeeded (event IDs still count every event;
	// OnEvent still sees them all): a fleet of thousands of executions,
	// each event carrying its state, fits in memory. The Step
	// Functions emulator's GetExecutionHistory and task-token lookups need
	// whole histories: leave it zero wherever those are used.
	HistoryLimit int
}

// Runner executes state machines locally. It is safe for concurrent use.
type Runner struct {
	clock  clock.Clock
	vclock *clock.Virtual // set when the clock is virtual and auto-advanced
	opts   Options

	mu         sync.Mutex
	handlers   map[string]func() lambda.Handler // by function name
	machines   map[string]*registered           // by ARN
	executions map[string]*Execution            // by ARN
	tokens     map[string]*tokenWait
	busy       int // goroutines doing work (not sleeping on the clock)
	sleepers   map[*sleeper]struct{}
}

type registered struct {
	name string
	arn  string
	sm   *StateMachine
}

// NewRunner returns a runner on c. With a *clock.Virtual it advances the
// clock to the next deadline whenever every running branch waits on it.
func NewRunner(c clock.Clock, opts Options) *Runner {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}
	r := &Runner{
		clock:      c,
		opts:       opts,
		handlers:   map[string]func() lambda.Handler{},
		machines:   map[string]*registered{},
		executions: map[string]*Execution{},
		tokens:     map[string]*tokenWait{},
		sleepers:   map[*sleeper]struct{}{},
	}
	if v, ok := c.(*clock.Virtual); ok && !opts.NoAutoAdvance {
		r.vclock = v
	}
	return r
}

// Register makes handler the Lambda function name (also reachable by its
// ARN, with or without a qualifier). handler is anything lambda.Start
// accepts; it is wrapped with aws-lambda-go's lambda.NewHandler so input
// decoding and output encoding are those of the Lambda Go runtime.
func (r *Runner) Register(name string, handler any) {
	var mk func() lambda.Handler
	if h, ok := handler.(lambda.Handler); ok {
		mk = func() lambda.Handler { return h }
	} else {
		// One lambda.Handler per invocation: Invoke returns bytes of a
		// buffer that goes back to the handler's pool, where a concurrent
		// invocation of the same handler would overwrite it.
		mk = func() lambda.Handler { return lambda.NewHandler(handler) }
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[functionName(name)] = mk
}

// AddStateMachine makes sm known under name (for startExecution) and
// returns its ARN.
func (r *Runner) AddStateMachine(name string, sm *StateMachine) string {
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", r.opts.Region, r.opts.AccountID, name)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.machines[arn] = &registered{name: name, arn: arn, sm: sm}
	return arn
}

func (r *Runner) lookupMachine(sm *StateMachine) *registered {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, reg := range r.machines {
		if reg.sm == sm {
			return reg
		}
	}
	return nil
}

// Result is the outcome of an execution, as DescribeExecution gives it.
type Result struct {
	Status string
	Output json.RawMessage // SUCCEEDED only
	Error  string
	Cause  string
	// Transitions counts state transitions, the unit AWS bills for
	// Standard workflows: every state entered and every retry.
	Transitions int64
	StartDate   time.Time
	StopDate    time.Time
}

// Execution is one run of a state machine.
type Execution struct {
	ARN     string
	Name    string
	r       *Runner
	sm      *StateMachine
	smARN   string
	smName  string
	input   any
	started time.Time

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu          sync.Mutex
	events      []Event
	eventCount  int64 // every event written, kept or not
	transitions int64
	done        chan struct{}
	result      Result
	join        *join       // set when a parent waits for this execution (.sync)
	refused     *StateError // StartExecution would have refused it

	ctxOnce                  sync.Once
	ctxExecution, ctxMachine map[string]any
}

var (
	errStopped  = errors.New("asl: execution stopped")
	errTimedOut = errors.New("asl: execution timed out")
)

// Start begins an execution of sm named name (a random name when empty)
// with input (null when empty). The state machine need not be added first;
// it is then named "StateMachine".
func (r *Runner) Start(ctx context.Context, sm *StateMachine, name string, input json.RawMessage) *Execution {
	reg := r.lookupMachine(sm)
	if reg == nil {
		arn := r.AddStateMachine("StateMachine", sm)
		reg = &registered{name: "StateMachine", arn: arn, sm: sm}
	}
	r.acquire(1)
	e := r.newExecution(ctx, reg, name, input, nil)
	go e.run()
	return e
}

// childExecution makes an unregistered execution that ends with ctx (the
// child executions of a Distributed Map).
func (r *Runner) childExecution(ctx context.Context, reg *registered, name string, input any) *Execution {
	e := &Execution{
		ARN:     fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", r.opts.Region, r.opts.AccountID, reg.name, name),
		Name:    name,
		r:       r,
		sm:      reg.sm,
		smARN:   reg.arn,
		smName:  reg.name,
		input:   input,
		started: r.clock.Now(),
		done:    make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancelCause(ctx)
	e.result.Status = StatusRunning
	e.result.StartDate = e.started
	return e
}

// runInline runs the execution on the caller's goroutine and busy unit.
func (e *Execution) runInline() Result {
	e.execute()
	close(e.done)
	return e.result
}

func (r *Runner) newExecution(ctx context.Context, reg *registered, name string, input json.RawMessage, j *join) *Execution {
	if name == "" {
		name = newUUID()
	}
	e := &Execution{
		ARN:     fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", r.opts.Region, r.opts.AccountID, reg.name, name),
		Name:    name,
		r:       r,
		sm:      reg.sm,
		smARN:   reg.arn,
		smName:  reg.name,
		started: r.clock.Now(),
		done:    make(chan struct{}),
		join:    j,
	}
	e.ctx, e.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	e.result.Status = StatusRunning
	e.result.StartDate = e.started
	// StartExecution without input gives "{}"; input that is not JSON or
	// a name already used are refused by the API, here they fail the
	// execution at once with the API's error name.
	var err error
	if len(input) == 0 {
		e.input = map[string]any{}
	} else if e.input, err = decodeJSON(input); err != nil {
		e.refused = &StateError{Name: "InvalidExecutionInput", Cause: "Invalid execution input: " + err.Error()}
	} else if len(input) > maxPayload {
		e.refused = &StateError{Name: "InvalidExecutionInput", Cause: fmt.Sprintf("the input has %d bytes, more than the %d-byte quota", len(input), maxPayload)}
	}
	r.mu.Lock()
	if _, dup := r.executions[e.ARN]; dup {
		e.refused = &StateError{Name: "ExecutionAlreadyExists", Cause: "Execution Already Exists: '" + e.ARN + "'"}
	} else {
		r.executions[e.ARN] = e
	}
	r.mu.Unlock()
	return e
}

// Wait blocks until the execution ends and returns its result.
func (e *Execution) Wait() Result {
	<-e.done
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.result
}

// Done is closed when the execution ends.
func (e *Execution) Done() <-chan struct{} { return e.done }

// Describe returns the result so far (Status RUNNING while it runs).
func (e *Execution) Describe() Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.result
	r.Transitions = e.transitions
	return r
}

// Execution returns the execution with the given ARN (executions started
// with Start or by startExecution; not the child executions of a
// Distributed Map).
func (r *Runner) Execution(arn string) (*Execution, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.executions[arn]
	return e, ok
}

// Executions returns every execution Execution can look up, in no order.
func (r *Runner) Executions() []*Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Values(r.executions))
}

// StopExecution aborts a running execution, as the StopExecution API does.
func (r *Runner) StopExecution(arn, errName, cause string) error {
	r.mu.Lock()
	e, ok := r.executions[arn]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("asl: stop %s: ExecutionDoesNotExist", arn)
	}
	e.cancel(&stopCause{errName, cause})
	return nil
}

type stopCause struct{ name, cause string }

func (s *stopCause) Error() string { return errStopped.Error() }
func (s *stopCause) Unwrap() error { return errStopped }

// run is the execution's goroutine; it holds one busy unit.
func (e *Execution) run() {
	e.execute()
	close(e.done)
	if e.join != nil {
		e.join.finish(e.r)
	} else {
		e.r.release()
	}
}

func (e *Execution) execute() {
	r := e.r
	if e.refused != nil {
		e.mu.Lock()
		e.result.Status, e.result.Error, e.result.Cause = StatusFailed, e.refused.Name, e.refused.Cause
		e.result.StopDate = e.started
		e.mu.Unlock()
		return
	}
	th := &thread{e: e}
	th.event("ExecutionStarted", "executionStartedEventDetails", map[string]any{
		"input":           mustEncode(e.input),
		"inputDetails":    map[string]any{"truncated": false},
		"roleArn":         fmt.Sprintf("arn:aws:iam::%s:role/local-asl-runner", r.opts.AccountID),
		"stateMachineArn": e.smARN,
	})
	r.progress("Start %s", e.ARN)
	if t := e.sm.timeout; t > 0 {
		r.acquire(1) // released by watchTimeout
		go e.watchTimeout(t)
	}
	out, serr := th.runMachine(e.ctx, e.sm.top, e.input)
	now := r.clock.Now()
	e.mu.Lock()
	res := &e.result
	res.StopDate = now
	cause := context.Cause(e.ctx)
	var sc *stopCause
	switch {
	case serr == nil:
		b, err := encodeJSON(out)
		if err != nil {
			res.Status, res.Error, res.Cause = StatusFailed, ErrRuntime, err.Error()
			break
		}
		res.Status, res.Output = StatusSucceeded, b
	case errors.Is(cause, errTimedOut):
		res.Status, res.Error, res.Cause = StatusTimedOut, ErrTimeout, "The execution timed out"
	case errors.As(cause, &sc):
		res.Status, res.Error, res.Cause = StatusAborted, sc.name, sc.cause
	default:
		res.Status, res.Error, res.Cause = StatusFailed, serr.Name, serr.Cause
	}
	e.mu.Unlock()
	switch res.Status {
	case StatusSucceeded:
		th.event("ExecutionSucceeded", "executionSucceededEventDetails", map[string]any{
			"output": string(res.Output), "outputDetails": map[string]any{"truncated": false}})
	case StatusTimedOut:
		th.event("ExecutionTimedOut", "executionTimedOutEventDetails", map[string]any{"error": res.Error, "cause": res.Cause})
	case StatusAborted:
		th.event("ExecutionAborted", "executionAbortedEventDetails", omitEmpty(map[string]any{"error": res.Error, "cause": res.Cause}))
	default:
		th.event("ExecutionFailed", "executionFailedEventDetails", omitEmpty(map[string]any{"error": res.Error, "cause": res.Cause}))
	}
	e.mu.Lock()
	res.Transitions = e.transitions
	if limit := r.opts.HistoryLimit; limit > 0 {
		// A finished execution's events are for finding out what went
		// wrong: a success keeps its last event, a failure its last limit.
		keep := limit
		if res.Status == StatusSucceeded {
			keep = 1
		}
		if len(e.events) > keep {
			e.events = slices.Clone(e.events[len(e.events)-keep:])
		}
	}
	e.mu.Unlock()
	r.progress("%s %s (%d state transitions)", res.Status, e.ARN, res.Transitions)
	e.cancel(nil)
}

func omitEmpty(m map[string]any) map[string]any {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// watchTimeout ends the execution when the top-level TimeoutSeconds
// passes. It sleeps like a Wait state, so virtual time stops at the
// timeout, and stays busy until the execution has wound down.
func (e *Execution) watchTimeout(d time.Duration) {
	r := e.r
	defer r.release()
	if err := r.sleep(e.ctx, d); err == nil {
		e.cancel(errTimedOut)
		<-e.done
	}
}

// thread is one line of control: the top level, a Parallel branch or a
// Map iteration. It tracks the previous event for previousEventId.
type thread struct {
	e    *Execution
	prev int64
}

// runMachine runs states from StartAt until one ends the machine.
func (th *thread) runMachine(ctx context.Context, m *machine, input any) (any, *StateError) {
	name := m.startAt
	for {
		if err := ctx.Err(); err != nil {
			return nil, &StateError{Name: "States.Aborted", Cause: "the execution was stopped"}
		}
		st := m.states[name]
		out, next, err := th.runState(ctx, st, input)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return out, nil
		}
		input, name = out, next
	}
}

// contextObject builds $$ for a state. The Execution and StateMachine
// parts are built once per execution and shared (values are immutable).
func (th *thread) contextObject(st *state, entered time.Time, retries int) map[string]any {
	e := th.e
	e.ctxOnce.Do(func() {
		e.ctxExecution = map[string]any{
			"Id":        e.ARN,
			"Input":     e.input,
			"Name":      e.Name,
			"RoleArn":   fmt.Sprintf("arn:aws:iam::%s:role/local-asl-runner", e.r.opts.AccountID),
			"StartTime": isoTime(e.started),
		}
		e.ctxMachine = map[string]any{"Id": e.smARN, "Name": e.smName}
	})
	return map[string]any{
		"Execution": e.ctxExecution,
		"State": map[string]any{
			"EnteredTime": isoTime(entered),
			"Name":        st.name,
			"RetryCount":  json.Number(strconv.Itoa(retries)),
		},
		"StateMachine": e.ctxMachine,
	}
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (e *Execution) countTransition() {
	e.mu.Lock()
	e.transitions++
	e.mu.Unlock()
}

// runState runs one state; next is "" when the state ends its machine.
func (th *thread) runState(ctx context.Context, st *state, raw any) (out any, next string, serr *StateError) {
	e := th.e
	entered := e.r.clock.Now()
	e.countTransition()
	th.event(st.typ+"StateEntered", "stateEnteredEventDetails", map[string]any{
		"name": st.name, "input": mustEncode(raw), "inputDetails": map[string]any{"truncated": false}})
	cobj := th.contextObject(st, entered, 0)

	switch st.typ {
	case "Pass":
		out, serr = st.dataFlow(raw, cobj, func(eff any) (any, *StateError) {
			if st.hasResult {
				return st.result, nil
			}
			return eff, nil
		})
	case "Succeed":
		out, serr = st.inputOutput(raw)
	case "Fail":
		serr = st.failure(raw, cobj)
		return nil, "", serr
	case "Choice":
		out, next, serr = st.choose(raw, cobj)
		if serr == nil {
			serr = th.exited(st, out)
		}
		return out, next, serr
	case "Wait":
		out, serr = th.wait(ctx, st, raw)
	case "Task", "Parallel", "Map":
		out, next, serr = th.withRetry(ctx, st, raw, cobj, entered)
		if serr == nil {
			serr = th.exited(st, out)
		}
		return out, next, serr
	}
	if serr != nil {
		return nil, "", serr
	}
	if serr = th.exited(st, out); serr != nil {
		return nil, "", serr
	}
	if st.end {
		return out, "", nil
	}
	return out, st.next, nil
}

// maxPayload is Step Functions' quota for a state's input or output and a
// task's result: 256 KiB of UTF-8 (the guide's "Service quotas").
const maxPayload = 256 * 1024

func dataLimit(what, name string, enc string) *StateError {
	if len(enc) <= maxPayload {
		return nil
	}
	return &StateError{Name: ErrDataLimitExceeded,
		Cause: fmt.Sprintf("The %s of %q has %d bytes, more than the %d-byte payload quota", what, name, len(enc), maxPayload)}
}

// exited writes the state's Exited event, or fails with the terminal
// States.DataLimitExceeded when the output is over the quota.
func (th *thread) exited(st *state, out any) *StateError {
	enc := mustEncode(out)
	if err := dataLimit("output of state", st.name, enc); err != nil {
		return err
	}
	th.event(st.typ+"StateExited", "stateExitedEventDetails", map[string]any{
		"name": st.name, "output": enc, "outputDetails": map[string]any{"truncated": false}})
	return nil
}

// inputOutput applies InputPath then OutputPath (Succeed, Wait, Choice).
func (st *state) inputOutput(raw any) (any, *StateError) {
	eff, err := st.applyInputPath(raw)
	if err != nil {
		return nil, err
	}
	return st.applyOutputPath(eff)
}

func (st *state) applyInputPath(raw any) (any, *StateError) {
	switch {
	case st.inputPath.null:
		return map[string]any{}, nil
	case st.inputPath.p == nil:
		return raw, nil
	}
	v, ok := st.inputPath.p.get(raw, nil)
	if !ok {
		return nil, runtimeError("Invalid path '%s' : No results for path: %s", st.inputPath.p.src, st.inputPath.p.src)
	}
	return v, nil
}

func (st *state) applyOutputPath(v any) (any, *StateError) {
	switch {
	case st.outputPath.null:
		return map[string]any{}, nil
	case st.outputPath.p == nil:
		return v, nil
	}
	out, ok := st.outputPath.p.get(v, nil)
	if !ok {
		return nil, runtimeError("Invalid path '%s' : No results for path: %s", st.outputPath.p.src, st.outputPath.p.src)
	}
	return out, nil
}

// applyResultPath merges result into the raw state input.
func applyResultPath(rp pathField, raw, result any) (any, *StateError) {
	switch {
	case rp.null:
		return raw, nil
	case rp.p == nil:
		return result, nil
	}
	out, err := rp.p.set(raw, result)
	if err != nil {
		return nil, &StateError{Name: ErrResultPathMatchFailure, Cause: fmt.Sprintf("Unable to apply ResultPath \"%s\" to input \"%s\": %v", rp.p.src, mustEncode(raw), err)}
	}
	return out, nil
}

// dataFlow runs InputPath, Parameters, the work, ResultSelector, ResultPath
// and OutputPath, in the order the guide's data-flow diagram gives.
func (st *state) dataFlow(raw any, cobj map[string]any, work func(eff any) (any, *StateError)) (any, *StateError) {
	eff, err := st.applyInputPath(raw)
	if err != nil {
		return nil, err
	}
	if st.parameters != nil {
		if eff, err = st.parameters.eval(eff, cobj, "Parameters"); err != nil {
			return nil, err
		}
	}
	result, err := work(eff)
	if err != nil {
		return nil, err
	}
	if st.resultSelector != nil {
		if result, err = st.resultSelector.eval(result, cobj, "ResultSelector"); err != nil {
			return nil, err
		}
	}
	out, err := applyResultPath(st.resultPath, raw, result)
	if err != nil {
		return nil, err
	}
	return st.applyOutputPath(out)
}

func (st *state) failure(raw any, cobj map[string]any) *StateError {
	e := &StateError{Name: st.errorName, Cause: st.cause}
	for _, x := range []struct {
		t   *template
		dst *string
		f   string
	}{{st.errorExpr, &e.Name, "ErrorPath"}, {st.causeExp, &e.Cause, "CausePath"}} {
		if x.t == nil {
			continue
		}
		v, err := x.t.eval(raw, cobj, x.f)
		if err != nil {
			return err
		}
		s, ok := v.(map[string]any)["v"].(string)
		if !ok {
			return runtimeError("The %s of state %q did not give a string", x.f, st.name)
		}
		*x.dst = s
	}
	return e
}

func (st *state) choose(raw any, cobj map[string]any) (any, string, *StateError) {
	eff, err := st.applyInputPath(raw)
	if err != nil {
		return nil, "", err
	}
	next := ""
	for _, rule := range st.choices {
		ok, err := rule.eval(eff, cobj)
		if err != nil {
			return nil, "", err
		}
		if ok {
			next = rule.next
			break
		}
	}
	if next == "" {
		if st.deflt == "" {
			return nil, "", &StateError{Name: ErrNoChoiceMatched, Cause: fmt.Sprintf("No Choice rule matched in state %q and there is no Default", st.name)}
		}
		next = st.deflt
	}
	out, err := st.applyOutputPath(eff)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func (th *thread) wait(ctx context.Context, st *state, raw any) (any, *StateError) {
	r := th.e.r
	eff, serr := st.applyInputPath(raw)
	if serr != nil {
		return nil, serr
	}
	now := r.clock.Now()
	var until time.Time
	switch {
	case st.hasSeconds:
		until = now.Add(time.Duration(st.seconds) * time.Second)
	case st.hasTimestamp:
		until = st.timestamp
	case st.secondsPath != nil:
		v, ok := st.secondsPath.get(eff, nil)
		n, isN := secondsValue(v)
		if !ok || !isN {
			return nil, runtimeError("The SecondsPath parameter does not reference a valid non-negative integer: %s", st.secondsPath.src)
		}
		until = now.Add(time.Duration(n) * time.Second)
	case st.timestampPath != nil:
		v, ok := st.timestampPath.get(eff, nil)
		s, isS := v.(string)
		t, err := parseTimestamp(s)
		if !ok || !isS || err != nil {
			return nil, runtimeError("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", st.timestampPath.src)
		}
		until = t
	}
	d := until.Sub(now)
	if d < 0 {
		d = 0
	}
	r.progress("Wait %s until %s (%s)", st.name, until.UTC().Format("2006-01-02T15:04Z"), d.Round(time.Second))
	if err := r.sleep(ctx, d); err != nil {
		return nil, &StateError{Name: "States.Aborted", Cause: "the execution was stopped"}
	}
	return st.applyOutputPath(eff)
}

// withRetry runs a Task, Parallel or Map state with its Retry and Catch.
func (th *thread) withRetry(ctx context.Context, st *state, raw any, cobj map[string]any, entered time.Time) (any, string, *StateError) {
	r := th.e.r
	counts := make([]int, len(st.retry))
	retries := 0
	for {
		if retries > 0 {
			cobj = th.contextObject(st, entered, retries)
		}
		out, serr := th.attempt(ctx, st, raw, cobj)
		if serr == nil {
			if st.end {
				return out, "", nil
			}
			return out, st.next, nil
		}
		if ctx.Err() != nil {
			return nil, "", serr
		}
		idx := -1
		for i, rt := range st.retry {
			if matches(rt.errorEquals, serr.Name) {
				idx = i
				break
			}
		}
		if idx >= 0 && counts[idx] < st.retry[idx].maxAttempts {
			rt := st.retry[idx]
			delay := retryDelay(rt, counts[idx])
			counts[idx]++
			retries++
			th.e.countTransition()
			r.progress("Retry %s after %s (%s, attempt %d of %d)", st.name, delay, serr.Name, counts[idx], rt.maxAttempts)
			if err := r.sleep(ctx, delay); err != nil {
				return nil, "", serr
			}
			continue
		}
		for _, c := range st.catch {
			if !matches(c.errorEquals, serr.Name) {
				continue
			}
			out, err := applyResultPath(c.resultPath, raw, serr.output())
			if err != nil {
				return nil, "", err
			}
			return out, c.next, nil
		}
		// A failed state has no Exited event in AWS's history.
		return nil, "", serr
	}
}

// retryDelay is IntervalSeconds * BackoffRate^attempt, capped by
// MaxDelaySeconds, and with JitterStrategy FULL a uniform draw below it.
func retryDelay(rt retrier, attempt int) time.Duration {
	d := float64(rt.interval) * math.Pow(rt.backoff, float64(attempt))
	if rt.maxDelay > 0 && d > float64(rt.maxDelay) {
		d = float64(rt.maxDelay)
	}
	if d > float64(99999999*time.Second) {
		d = float64(99999999 * time.Second)
	}
	if rt.fullJitter {
		d = mrand.Float64() * d
	}
	return time.Duration(d).Round(time.Millisecond)
}

func (th *thread) attempt(ctx context.Context, st *state, raw any, cobj map[string]any) (any, *StateError) {
	if st.resource != nil && st.resource.pattern == "waitForTaskToken" {
		c := make(map[string]any, len(cobj)+1)
		for k, v := range cobj {
			c[k] = v
		}
		c["Task"] = map[string]any{"Token": newTaskToken()}
		cobj = c
	}
	switch st.typ {
	case "Task":
		return st.dataFlow(raw, cobj, func(eff any) (any, *StateError) {
			return th.task(ctx, st, eff, raw, cobj)
		})
	case "Parallel":
		return st.dataFlow(raw, cobj, func(eff any) (any, *StateError) {
			return th.parallel(ctx, st, eff)
		})
	default: // Map: Parameters is the legacy ItemSelector, moved at load.
		return st.dataFlow(raw, cobj, func(eff any) (any, *StateError) {
			return th.mapState(ctx, st, eff, cobj)
		})
	}
}

// event appends a history event on this thread.
func (th *thread) event(typ, detailsKey string, details map[string]any) {
	if typ == "" {
		return
	}
	e := th.e
	now := e.r.clock.Now()
	e.mu.Lock()
	e.eventCount++
	id := e.eventCount
	ev := Event{ID: id, PreviousEventID: th.prev, Timestamp: now, Type: typ, DetailsKey: detailsKey, Details: details}
	e.events = append(e.events, ev)
	if limit := e.r.opts.HistoryLimit; limit > 0 && len(e.events) >= 2*limit {
		e.events = slices.Clone(e.events[len(e.events)-limit:]) // amortised: a copy per limit events
	}
	th.prev = id
	e.mu.Unlock()
	if h := e.r.opts.OnEvent; h != nil {
		h(e, ev)
	}
}

// progress writes a line for a person: wall time, clock time, message.
func (r *Runner) progress(format string, a ...any) {
	if r.opts.Progress == nil {
		return
	}
	kind := "clock"
	switch r.clock.(type) {
	case *clock.Virtual:
		kind = "virtual"
	case clock.Real:
		kind = "real"
	}
	line := fmt.Sprintf("%s [%s %s] %s\n", r.opts.Wall().Format("15:04:05"), kind,
		r.clock.Now().UTC().Format("2006-01-02T15:04Z"), fmt.Sprintf(format, a...))
	r.mu.Lock()
	defer r.mu.Unlock()
	io.WriteString(r.opts.Progress, line)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
