package asl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Publisher receives the sns:publish calls of the state machines.
type Publisher interface {
	// Publish sends message (a string, JSON-encoded when the definition
	// gave an object) to topicARN and returns the message id.
	Publish(ctx context.Context, topicARN, subject, message string) (messageID string, err error)
}

// resource is a Task's Resource.
type resource struct {
	arn      string
	service  string // "lambda:invoke", "lambda" (plain function ARN), "sns:publish", "states:startExecution"
	pattern  string // "", "sync", "sync:2", "waitForTaskToken"
	function string // plain Lambda ARN: the function
}

var integrationParams = map[string][]string{
	"lambda:invoke":         {"FunctionName", "Payload", "InvocationType", "Qualifier", "ClientContext", "LogType"},
	"sns:publish":           {"TopicArn", "TargetArn", "PhoneNumber", "Message", "Subject", "MessageAttributes", "MessageStructure", "MessageDeduplicationId", "MessageGroupId"},
	"states:startExecution": {"StateMachineArn", "Input", "Name", "TraceHeader"},
}

func parseResource(s string, params *template) (*resource, error) {
	r := &resource{arn: s}
	switch {
	case strings.HasPrefix(s, "arn:aws:states:::"):
		rest := strings.TrimPrefix(s, "arn:aws:states:::")
		svc, pattern, _ := strings.Cut(rest, ".")
		r.service, r.pattern = svc, pattern
		allowedPatterns := map[string][]string{
			"lambda:invoke":         {"", "waitForTaskToken"},
			"sns:publish":           {"", "waitForTaskToken"},
			"states:startExecution": {"", "sync", "sync:2"},
		}
		pats, ok := allowedPatterns[svc]
		if !ok {
			return nil, fmt.Errorf("field Resource %q: the local runner implements only lambda:invoke, sns:publish and states:startExecution", s)
		}
		okPattern := false
		for _, p := range pats {
			okPattern = okPattern || p == pattern
		}
		if !okPattern {
			return nil, fmt.Errorf("field Resource %q: integration pattern .%s is not supported for %s", s, pattern, svc)
		}
		if params == nil || !params.isObj {
			return nil, fmt.Errorf("field Resource %q needs Parameters", s)
		}
		names := map[string]bool{}
		for _, f := range params.fields {
			names[f.name] = true
			known := false
			for _, k := range integrationParams[svc] {
				known = known || k == f.name
			}
			if !known {
				return nil, fmt.Errorf("field Resource %q: unknown parameter %q", s, f.name)
			}
		}
		required := map[string]string{"lambda:invoke": "FunctionName", "states:startExecution": "StateMachineArn", "sns:publish": "Message"}[svc]
		if !names[required] {
			return nil, fmt.Errorf("field Resource %q: Parameters needs %s", s, required)
		}
	case strings.HasPrefix(s, "arn:aws:lambda:"):
		parts := strings.Split(s, ":")
		if len(parts) < 7 || parts[5] != "function" || parts[6] == "" {
			return nil, fmt.Errorf("field Resource %q is not a Lambda function ARN", s)
		}
		r.service, r.function = "lambda", parts[6]
	case s == "":
		return nil, fmt.Errorf("field Resource is missing")
	default:
		return nil, fmt.Errorf("field Resource %q is not supported by the local runner", s)
	}
	return r, nil
}

// functionName reduces a name, name:qualifier, partial or full ARN to the
// function's name.
func functionName(s string) string {
	if i := strings.Index(s, "function:"); i >= 0 {
		s = s[i+len("function:"):]
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// task runs a Task state's resource on the effective input (after
// Parameters); raw is the state input for the *Path fields.
func (th *thread) task(ctx context.Context, st *state, eff, raw any, cobj map[string]any) (any, *StateError) {
	timeout, heartbeat := st.timeout, st.heartbeat
	for _, x := range []struct {
		p   *path
		dst *time.Duration
		f   string
	}{{st.timeoutPath, &timeout, "TimeoutSecondsPath"}, {st.heartbeatPath, &heartbeat, "HeartbeatSecondsPath"}} {
		if x.p == nil {
			continue
		}
		v, ok := x.p.get(raw, nil)
		n, isN := secondsValue(v)
		if !ok || !isN || n == 0 {
			return nil, runtimeError("The %s of state %q does not reference a positive integer", x.f, st.name)
		}
		*x.dst = time.Duration(n) * time.Second
	}
	res := st.resource
	if res.service == "lambda" {
		return th.legacyLambda(ctx, st, eff, timeout)
	}
	typ, name, _ := strings.Cut(res.service, ":")
	resName := name
	if res.pattern != "" {
		resName += "." + res.pattern
	}
	sched := map[string]any{
		"resourceType": typ, "resource": resName, "region": th.e.r.opts.Region,
		"parameters": mustEncode(eff),
	}
	if timeout > 0 {
		sched["timeoutInSeconds"] = int64(timeout / time.Second)
	}
	if heartbeat > 0 {
		sched["heartbeatInSeconds"] = int64(heartbeat / time.Second)
	}
	th.event("TaskScheduled", "taskScheduledEventDetails", sched)
	th.event("TaskStarted", "taskStartedEventDetails", map[string]any{"resourceType": typ, "resource": resName})
	fail := func(e *StateError) (any, *StateError) {
		if isAborted(e) {
			return nil, e
		}
		d := map[string]any{"resourceType": typ, "resource": resName, "error": e.Name, "cause": e.Cause}
		if e.Name == ErrTimeout || e.Name == ErrHeartbeatTimeout {
			th.event("TaskTimedOut", "taskTimedOutEventDetails", d)
		} else {
			th.event("TaskFailed", "taskFailedEventDetails", omitEmpty(d))
		}
		return nil, e
	}
	var token string
	var tw *tokenWait
	if res.pattern == "waitForTaskToken" {
		token = cobj["Task"].(map[string]any)["Token"].(string)
		tw = th.e.r.addToken(token, timeout, heartbeat)
		defer th.e.r.removeToken(token)
	}
	params, _ := eff.(map[string]any)
	var out any
	var serr *StateError
	switch res.service {
	case "lambda:invoke":
		out, serr = th.lambdaInvoke(ctx, params, timeout)
	case "sns:publish":
		out, serr = th.snsPublish(ctx, params)
	case "states:startExecution":
		out, serr = th.startExecution(ctx, params, res.pattern)
	}
	if serr != nil {
		return fail(serr)
	}
	if tw != nil {
		th.event("TaskSubmitted", "taskSubmittedEventDetails", map[string]any{"resourceType": typ, "resource": resName, "output": mustEncode(out)})
		out, serr = th.e.r.waitToken(ctx, tw, heartbeat)
		if serr != nil {
			return fail(serr)
		}
	}
	enc := mustEncode(out)
	if err := dataLimit("result of task", st.name, enc); err != nil {
		return fail(err)
	}
	th.event("TaskSucceeded", "taskSucceededEventDetails", map[string]any{
		"resourceType": typ, "resource": resName, "output": enc, "outputDetails": map[string]any{"truncated": false}})
	return out, nil
}

// legacyLambda runs a plain Lambda ARN resource: the effective input is the
// payload and the function's output is the result, unwrapped.
func (th *thread) legacyLambda(ctx context.Context, st *state, eff any, timeout time.Duration) (any, *StateError) {
	d := map[string]any{"resource": st.resource.arn, "input": mustEncode(eff)}
	if timeout > 0 {
		d["timeoutInSeconds"] = int64(timeout / time.Second)
	}
	th.event("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", d)
	th.event("LambdaFunctionStarted", "", nil)
	out, serr := th.e.r.invoke(ctx, st.resource.function, eff, timeout)
	switch {
	case serr == nil:
		th.event("LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails", map[string]any{"output": mustEncode(out)})
	case isAborted(serr):
	case serr.Name == ErrTimeout:
		th.event("LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails", map[string]any{"error": serr.Name, "cause": serr.Cause})
	default:
		th.event("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails", omitEmpty(map[string]any{"error": serr.Name, "cause": serr.Cause}))
	}
	return out, serr
}

// lambdaInvoke is arn:aws:states:::lambda:invoke: the result is the Invoke
// API response, with the function's output under Payload.
func (th *thread) lambdaInvoke(ctx context.Context, params map[string]any, timeout time.Duration) (any, *StateError) {
	fn, ok := params["FunctionName"].(string)
	if !ok {
		return nil, runtimeError("lambda:invoke: FunctionName must be a string")
	}
	payload, ok := params["Payload"]
	if !ok {
		// The guide does not say what the function receives without a
		// Payload; the Invoke API sends an empty object.
		payload = map[string]any{}
	}
	if q, ok := params["Qualifier"].(string); ok && q != "" && !strings.Contains(fn, ":") {
		fn += ":" + q
	}
	out, serr := th.e.r.invoke(ctx, fn, payload, timeout)
	if serr != nil {
		return nil, serr
	}
	reqID := newUUID()
	return map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         out,
		"SdkHttpMetadata": map[string]any{
			"AllHttpHeaders": map[string]any{
				"X-Amz-Executed-Version":         []any{"$LATEST"},
				"x-amzn-Remapped-Content-Length": []any{"0"},
				"Connection":                     []any{"keep-alive"},
				"x-amzn-RequestId":               []any{reqID},
				"Content-Type":                   []any{"application/json"},
			},
			"HttpHeaders": map[string]any{
				"Connection":                     "keep-alive",
				"Content-Type":                   "application/json",
				"X-Amz-Executed-Version":         "$LATEST",
				"x-amzn-Remapped-Content-Length": "0",
				"x-amzn-RequestId":               reqID,
			},
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": reqID},
		"StatusCode":          json.Number("200"),
	}, nil
}

// invoke calls a registered handler as the Lambda Go runtime would: the
// payload is JSON, an error becomes Error = its type name (aws-lambda-go's
// getErrorType) and Cause = {"errorMessage","errorType"} JSON; a panic adds
// the stackTrace.
func (r *Runner) invoke(ctx context.Context, fn string, payload any, timeout time.Duration) (any, *StateError) {
	name := functionName(fn)
	r.mu.Lock()
	mk, ok := r.handlers[name]
	r.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", r.opts.Region, r.opts.AccountID, name)
	if !ok {
		return nil, &StateError{Name: "Lambda.ResourceNotFoundException",
			Cause: fmt.Sprintf("Function not found: %s (Service: Lambda, Status Code: 404, Error Code: ResourceNotFoundException)", arn)}
	}
	in, err := encodeJSON(payload)
	if err != nil {
		return nil, runtimeError("lambda payload: %v", err)
	}
	// The handler's context ends when the invocation is given up (task
	// timeout, execution stopped).
	lctx, cancel := context.WithCancel(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newUUID(), InvokedFunctionArn: arn}))
	defer cancel()
	type reply struct {
		out []byte
		err *messages.InvokeResponse_Error
	}
	done := make(chan reply, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- reply{err: panicResponse(p)}
			}
		}()
		out, err := mk().Invoke(lctx, in)
		if err != nil {
			done <- reply{err: errorResponse(err)}
			return
		}
		done <- reply{out: bytes.Clone(out)}
	}()
	var rep reply
	if timeout > 0 {
		select {
		case rep = <-done:
		case <-r.clock.After(timeout):
			return nil, &StateError{Name: ErrTimeout, Cause: fmt.Sprintf("Task timed out after %d seconds", int64(timeout/time.Second))}
		case <-ctx.Done():
			return nil, aborted()
		}
	} else {
		select {
		case rep = <-done:
		case <-ctx.Done():
			return nil, aborted()
		}
	}
	if rep.err != nil {
		cause, _ := encodeJSON(rep.err)
		return nil, &StateError{Name: rep.err.Type, Cause: string(cause)}
	}
	if len(rep.out) == 0 {
		return nil, nil
	}
	v, err := decodeJSON(rep.out)
	if err != nil {
		return nil, &StateError{Name: "Lambda.InvalidResponseException", Cause: err.Error()}
	}
	return v, nil
}

// errorType is aws-lambda-go's getErrorType: the dynamic type's name,
// dereferenced once, without the package.
func errorType(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

func errorResponse(err error) *messages.InvokeResponse_Error {
	var ive messages.InvokeResponse_Error
	if errors.As(err, &ive) && reflect.TypeOf(err) == reflect.TypeOf(ive) {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: errorType(err)}
}

func panicResponse(p any) *messages.InvokeResponse_Error {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var stack []*messages.InvokeResponse_Error_StackFrame
	for {
		f, more := frames.Next()
		stack = append(stack, &messages.InvokeResponse_Error_StackFrame{Path: f.File, Line: int32(f.Line), Label: f.Function})
		if !more {
			break
		}
	}
	return &messages.InvokeResponse_Error{Message: fmt.Sprintf("%v", p), Type: errorType(p), StackTrace: stack}
}

// snsPublish is arn:aws:states:::sns:publish.
func (th *thread) snsPublish(ctx context.Context, params map[string]any) (any, *StateError) {
	r := th.e.r
	if r.opts.Publisher == nil {
		return nil, &StateError{Name: "SNS.SdkClientException", Cause: "no SNS publisher is configured in the local runner"}
	}
	topic, _ := params["TopicArn"].(string)
	if topic == "" {
		topic, _ = params["TargetArn"].(string)
	}
	subject, _ := params["Subject"].(string)
	msg, ok := params["Message"].(string)
	if !ok {
		msg = mustEncode(params["Message"])
	}
	id, err := r.opts.Publisher.Publish(ctx, topic, subject, msg)
	if err != nil {
		name := errorType(err)
		var coded interface{ ErrorCode() string }
		if errors.As(err, &coded) {
			name = coded.ErrorCode()
		}
		return nil, &StateError{Name: "SNS." + name, Cause: err.Error()}
	}
	reqID := newUUID()
	return map[string]any{
		"MessageId": id,
		"SdkHttpMetadata": map[string]any{
			"AllHttpHeaders": map[string]any{"Content-Type": []any{"text/xml"}, "x-amzn-RequestId": []any{reqID}},
			"HttpHeaders":    map[string]any{"Content-Type": "text/xml", "x-amzn-RequestId": reqID},
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": reqID},
	}, nil
}

// startExecution is arn:aws:states:::states:startExecution[.sync[:2]].
func (th *thread) startExecution(ctx context.Context, params map[string]any, pattern string) (any, *StateError) {
	r := th.e.r
	arn, _ := params["StateMachineArn"].(string)
	r.mu.Lock()
	reg, ok := r.machines[arn]
	r.mu.Unlock()
	if !ok {
		return nil, &StateError{Name: "StepFunctions.StateMachineDoesNotExistException", Cause: "State Machine Does Not Exist: '" + arn + "'"}
	}
	var input json.RawMessage
	switch in := params["Input"].(type) {
	case nil:
		input = json.RawMessage("{}")
	case string:
		input = json.RawMessage(in)
	default:
		input = json.RawMessage(mustEncode(in))
	}
	name, _ := params["Name"].(string)
	if name != "" {
		r.mu.Lock()
		_, dup := r.executions[fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", r.opts.Region, r.opts.AccountID, reg.name, name)]
		r.mu.Unlock()
		if dup {
			return nil, &StateError{Name: "StepFunctions.ExecutionAlreadyExistsException", Cause: "Execution Already Exists: '" + name + "'"}
		}
	}
	if pattern == "" {
		r.acquire(1)
		child := r.newExecution(context.Background(), reg, name, input, nil)
		go child.run()
		return map[string]any{"ExecutionArn": child.ARN, "StartDate": epochMillis(child.started)}, nil
	}
	j := r.newJoin(1)
	child := r.newExecution(context.Background(), reg, name, input, j)
	go child.run()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Stopping the parent stops a .sync child.
			r.StopExecution(child.ARN, "", "the parent execution was stopped")
		case <-child.done:
		}
		close(stopped)
	}()
	j.wait(r)
	<-stopped
	res := child.Wait()
	desc := map[string]any{
		"ExecutionArn":    child.ARN,
		"Name":            child.Name,
		"StateMachineArn": reg.arn,
		"Status":          res.Status,
		"StartDate":       epochMillis(res.StartDate),
		"StopDate":        epochMillis(res.StopDate),
		"InputDetails":    map[string]any{"Included": true},
		"RedriveCount":    json.Number("0"),
		"RedriveStatus":   "NOT_REDRIVABLE",
	}
	if pattern == "sync:2" {
		desc["Input"] = child.input
	} else {
		desc["Input"] = mustEncode(child.input)
	}
	if res.Status != StatusSucceeded {
		if ctx.Err() != nil {
			return nil, aborted()
		}
		if res.Error != "" {
			desc["Error"] = res.Error
		}
		if res.Cause != "" {
			desc["Cause"] = res.Cause
		}
		return nil, &StateError{Name: ErrTaskFailed, Cause: mustEncode(desc)}
	}
	desc["OutputDetails"] = map[string]any{"Included": true}
	if pattern == "sync:2" {
		out, _ := decodeJSON(res.Output)
		desc["Output"] = out
	} else {
		desc["Output"] = string(res.Output)
	}
	return desc, nil
}

func epochMillis(t time.Time) json.Number {
	return json.Number(strconv.FormatInt(t.UnixMilli(), 10))
}

// Task tokens (.waitForTaskToken).

type tokenResult struct {
	out any
	err *StateError
}

type tokenWait struct {
	result    chan tokenResult
	heartbeat chan struct{}
	// The task's TimeoutSeconds and first HeartbeatSeconds run from the
	// task's start: armed before the token can be seen, so a clock moved by
	// whoever holds the token cannot pass them unnoticed.
	timeoutC, heartbeatC <-chan time.Time
}

// newTaskToken makes an opaque token, as long as AWS's are not.
func newTaskToken() string {
	return base64.RawURLEncoding.EncodeToString([]byte(newUUID() + newUUID()))
}

func (r *Runner) addToken(token string, timeout, heartbeat time.Duration) *tokenWait {
	tw := &tokenWait{result: make(chan tokenResult, 1), heartbeat: make(chan struct{}, 1)}
	if timeout > 0 {
		tw.timeoutC = r.clock.After(timeout)
	}
	if heartbeat > 0 {
		tw.heartbeatC = r.clock.After(heartbeat)
	}
	r.mu.Lock()
	r.tokens[token] = tw
	r.mu.Unlock()
	return tw
}

func (r *Runner) removeToken(token string) {
	r.mu.Lock()
	delete(r.tokens, token)
	r.mu.Unlock()
}

// TaskTokens lists the task tokens that executions wait for, sorted.
func (r *Runner) TaskTokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.tokens))
	for t := range r.tokens {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (r *Runner) token(token string) (*tokenWait, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw, ok := r.tokens[token]
	if !ok {
		return nil, fmt.Errorf("asl: TaskDoesNotExist: no task waits for token %q", token)
	}
	return tw, nil
}

// SendTaskSuccess completes the task waiting for token with output.
func (r *Runner) SendTaskSuccess(token string, output json.RawMessage) error {
	tw, err := r.token(token)
	if err != nil {
		return err
	}
	v, err := decodeJSON(output)
	if err != nil {
		return fmt.Errorf("asl: SendTaskSuccess: InvalidOutput: %w", err)
	}
	select {
	case tw.result <- tokenResult{out: v}:
		return nil
	default:
		return fmt.Errorf("asl: SendTaskSuccess: TaskTimedOut: the task is already closed")
	}
}

// SendTaskFailure fails the task waiting for token with errName and cause.
func (r *Runner) SendTaskFailure(token, errName, cause string) error {
	tw, err := r.token(token)
	if err != nil {
		return err
	}
	select {
	case tw.result <- tokenResult{err: &StateError{Name: errName, Cause: cause}}:
		return nil
	default:
		return fmt.Errorf("asl: SendTaskFailure: TaskTimedOut: the task is already closed")
	}
}

// SendTaskHeartbeat restarts the HeartbeatSeconds countdown of token.
func (r *Runner) SendTaskHeartbeat(token string) error {
	tw, err := r.token(token)
	if err != nil {
		return err
	}
	select {
	case tw.heartbeat <- struct{}{}:
	default:
	}
	return nil
}

// waitToken waits for SendTask*, a heartbeat timeout or the task timeout.
// The waiting task counts as busy: the party that will answer is outside
// the runner, so virtual time does not run ahead of it.
func (r *Runner) waitToken(ctx context.Context, tw *tokenWait, heartbeat time.Duration) (any, *StateError) {
	timeoutC, heartbeatC := tw.timeoutC, tw.heartbeatC
	for {
		select {
		case res := <-tw.result:
			return res.out, res.err
		case <-tw.heartbeat:
			if heartbeat > 0 {
				heartbeatC = r.clock.After(heartbeat)
			}
			continue
		case <-heartbeatC:
			return nil, &StateError{Name: ErrHeartbeatTimeout, Cause: "no heartbeat within HeartbeatSeconds"}
		case <-timeoutC:
			return nil, &StateError{Name: ErrTimeout, Cause: "the task did not complete within TimeoutSeconds"}
		case <-ctx.Done():
			return nil, aborted()
		}
	}
}
