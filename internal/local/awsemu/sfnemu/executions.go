package sfnemu

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
)

const (
	// maxInputLength is the StartExecution input quota (256 KiB).
	maxInputLength = 256 * 1024
	// stopWait bounds how long StopExecution waits for the runner to wind
	// the execution down before it answers with the clock's time.
	stopWait = 5 * time.Second
)

// execution is one execution the service knows: started through the API or
// by the runner itself (seen through OnEvent).
type execution struct {
	e     *asl.Execution
	smARN string
	input string
	seq   int64
}

// OnEvent records the executions the runner starts by itself (the
// states:startExecution tasks of a parent state machine), so that
// ListExecutions lists them as Step Functions does. Pass it as (or call it
// from) the runner's asl.Options.OnEvent; it does not block.
func (s *Service) OnEvent(e *asl.Execution, ev asl.Event) {
	if ev.Type != "ExecutionStarted" {
		return
	}
	if _, kept := s.runner.Execution(e.ARN); !kept {
		return // a Distributed Map child: not an execution of the API
	}
	smARN, _ := ev.Details["stateMachineArn"].(string)
	input, _ := ev.Details["input"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.executions[e.ARN]; !known {
		s.seq++
		s.executions[e.ARN] = &execution{e: e, smARN: smARN, input: input, seq: s.seq}
	}
}

// executionByARN finds an execution; s.mu must be held.
func (s *Service) executionByARN(execARN string) (*execution, *apiError) {
	a, ok := parseARN(execARN)
	if !ok {
		return nil, invalidARN(execARN)
	}
	if a.typ != "execution" || len(a.parts) != 2 {
		return nil, errorf("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", strings.ToLower(a.typ))
	}
	if x := s.executions[execARN]; x != nil {
		return x, nil
	}
	// An execution the runner started without OnEvent wired in.
	if e, ok := s.runner.Execution(execARN); ok {
		x := &execution{e: e}
		if h := e.History(); len(h) > 0 {
			x.smARN, _ = h[0].Details["stateMachineArn"].(string)
			x.input, _ = h[0].Details["input"].(string)
		}
		return x, nil
	}
	msg := fmt.Sprintf("Execution Does Not Exist: '%s'", execARN)
	if a.region != s.region || a.account != s.account {
		msg += fmt.Sprintf(" (this endpoint serves account %s in %s)", s.account, s.region)
	}
	return nil, errorf("ExecutionDoesNotExist", "%s", msg)
}

type startExecutionInput struct {
	StateMachineARN *string `json:"stateMachineArn"`
	Name            *string `json:"name"`
	Input           *string `json:"input"`
	TraceHeader     *string `json:"traceHeader"`
}

func (s *Service) startExecution(body []byte) (any, *apiError) {
	var in startExecutionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.StateMachineARN == nil {
		return nil, required("stateMachineArn")
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
		if err := checkLength("input", input, 0, maxInputLength); err != nil {
			return nil, err
		}
		var v any
		if err := json.Unmarshal([]byte(input), &v); err != nil {
			return nil, errorf("InvalidExecutionInput", "Invalid State Machine Execution Input: '%v'", err)
		}
	}
	name := ""
	if in.Name != nil {
		if !validName(*in.Name) {
			return nil, invalidName(*in.Name)
		}
		name = *in.Name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.machineByARN(*in.StateMachineARN)
	if aerr != nil {
		return nil, aerr
	}
	if name != "" {
		execARN := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", s.region, s.account, m.name, name)
		if x := s.executions[execARN]; x != nil {
			// Idempotent while the first execution runs with the same
			// input; a closed execution or another input is refused.
			if x.input == input && x.e.Describe().Status == asl.StatusRunning {
				return map[string]any{"executionArn": x.e.ARN, "startDate": awsjson.Timestamp(x.e.Describe().StartDate)}, nil
			}
			return nil, errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", execARN)
		}
		if _, ok := s.runner.Execution(execARN); ok {
			return nil, errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", execARN)
		}
	}
	// The execution outlives the request: it ends by itself or by
	// StopExecution, never with the HTTP request's context.
	e := s.runner.Start(context.Background(), m.sm, name, json.RawMessage(input))
	s.seq++
	s.executions[e.ARN] = &execution{e: e, smARN: m.arn, input: input, seq: s.seq}
	return map[string]any{"executionArn": e.ARN, "startDate": awsjson.Timestamp(e.Describe().StartDate)}, nil
}

type executionARNInput struct {
	ExecutionARN *string `json:"executionArn"`
}

func (s *Service) describeExecution(body []byte) (any, *apiError) {
	var in executionARNInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ExecutionARN == nil {
		return nil, required("executionArn")
	}
	s.mu.Lock()
	x, aerr := s.executionByARN(*in.ExecutionARN)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	res := x.e.Describe()
	out := map[string]any{
		"executionArn":    x.e.ARN,
		"stateMachineArn": x.smARN,
		"name":            x.e.Name,
		"status":          res.Status,
		"startDate":       awsjson.Timestamp(res.StartDate),
		"input":           x.input,
		"inputDetails":    map[string]any{"included": true},
		"redriveCount":    0,
		"redriveStatus":   "NOT_REDRIVABLE",
	}
	if res.Status != asl.StatusRunning {
		out["stopDate"] = awsjson.Timestamp(res.StopDate)
		out["redriveStatusReason"] = "Redrive is not emulated by the local stack"
	}
	if res.Status == asl.StatusSucceeded {
		out["output"] = string(res.Output)
		out["outputDetails"] = map[string]any{"included": true}
	}
	if res.Error != "" {
		out["error"] = res.Error
	}
	if res.Cause != "" {
		out["cause"] = res.Cause
	}
	return out, nil
}

var executionStatuses = []string{asl.StatusRunning, asl.StatusSucceeded, asl.StatusFailed, asl.StatusTimedOut, asl.StatusAborted, "PENDING_REDRIVE"}

type listExecutionsInput struct {
	pageInput
	StateMachineARN *string `json:"stateMachineArn"`
	MapRunARN       *string `json:"mapRunArn"`
	StatusFilter    string  `json:"statusFilter"`
	RedriveFilter   string  `json:"redriveFilter"`
}

func (s *Service) listExecutions(body []byte) (any, *apiError) {
	var in listExecutionsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.MapRunARN != nil {
		return nil, validationf("sfnemu: listing the executions of a map run is not emulated by the local stack")
	}
	if in.StateMachineARN == nil {
		return nil, validationf("Must provide a StateMachine ARN or MapRun ARN")
	}
	if in.StatusFilter != "" && !contains(executionStatuses, in.StatusFilter) {
		return nil, validationf("Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [%s]", in.StatusFilter, strings.Join(executionStatuses, ", "))
	}
	switch in.RedriveFilter {
	case "", "REDRIVEN", "NOT_REDRIVEN":
	default:
		return nil, validationf("Value '%s' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]", in.RedriveFilter)
	}
	size, aerr := in.pageSize()
	if aerr != nil {
		return nil, aerr
	}
	pos, aerr := readToken(in.NextToken, "ex", *in.StateMachineARN, in.StatusFilter)
	if aerr != nil {
		return nil, aerr
	}
	var before int64
	if in.NextToken != nil {
		if before, _ = strconv.ParseInt(pos, 10, 64); before <= 0 {
			return nil, errorf("InvalidToken", "Invalid Token: 'Invalid token'")
		}
	}
	s.mu.Lock()
	m, aerr := s.machineByARN(*in.StateMachineARN)
	var xs []*execution
	if aerr == nil {
		for _, x := range s.executions {
			if x.smARN == m.arn && (before == 0 || x.seq < before) {
				xs = append(xs, x)
			}
		}
	}
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	// Most recent first, as Step Functions lists them.
	sort.Slice(xs, func(i, j int) bool { return xs[i].seq > xs[j].seq })
	items := []map[string]any{}
	out := map[string]any{}
	var last int64
	for _, x := range xs {
		if in.RedriveFilter == "REDRIVEN" {
			break // nothing is ever redriven here
		}
		res := x.e.Describe()
		if in.StatusFilter != "" && res.Status != in.StatusFilter {
			continue
		}
		if len(items) == size {
			out["nextToken"] = makeToken("ex", *in.StateMachineARN, in.StatusFilter, strconv.FormatInt(last, 10))
			break
		}
		item := map[string]any{
			"executionArn":    x.e.ARN,
			"stateMachineArn": x.smARN,
			"name":            x.e.Name,
			"status":          res.Status,
			"startDate":       awsjson.Timestamp(res.StartDate),
			"redriveCount":    0,
		}
		if res.Status != asl.StatusRunning {
			item["stopDate"] = awsjson.Timestamp(res.StopDate)
		}
		items = append(items, item)
		last = x.seq
	}
	out["executions"] = items
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type historyInput struct {
	pageInput
	ExecutionARN         *string `json:"executionArn"`
	ReverseOrder         bool    `json:"reverseOrder"`
	IncludeExecutionData *bool   `json:"includeExecutionData"`
}

// executionData are the details members that includeExecutionData=false
// leaves out.
var executionData = []string{"input", "output", "inputDetails", "outputDetails"}

func (s *Service) getExecutionHistory(body []byte) (any, *apiError) {
	var in historyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ExecutionARN == nil {
		return nil, required("executionArn")
	}
	size, aerr := in.pageSize()
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	x, aerr := s.executionByARN(*in.ExecutionARN)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	order := "forward"
	if in.ReverseOrder {
		order = "reverse"
	}
	pos, aerr := readToken(in.NextToken, "h", x.e.ARN, order)
	if aerr != nil {
		return nil, aerr
	}
	events := x.e.History()
	// A page position is an event ID, stable while the history grows.
	var next int64
	if in.NextToken != nil {
		var err error
		if next, err = strconv.ParseInt(pos, 10, 64); err != nil || next < 1 || next > int64(len(events)) {
			return nil, errorf("InvalidToken", "Invalid Token: 'Invalid token'")
		}
	} else if in.ReverseOrder {
		next = int64(len(events))
	} else {
		next = 1
	}
	include := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	items := []map[string]any{}
	out := map[string]any{}
	for len(events) > 0 && next >= 1 && next <= int64(len(events)) {
		if len(items) == size {
			out["nextToken"] = makeToken("h", x.e.ARN, order, strconv.FormatInt(next, 10))
			break
		}
		items = append(items, wireEvent(events[next-1], include))
		if in.ReverseOrder {
			next--
		} else {
			next++
		}
	}
	out["events"] = items
	return out, nil
}

// wireEvent renders a history event as GetExecutionHistory sends it: the
// runner's Event shape with the timestamp in epoch seconds, as the JSON
// protocols encode timestamps.
func wireEvent(ev asl.Event, includeData bool) map[string]any {
	m := map[string]any{
		"id":              ev.ID,
		"previousEventId": ev.PreviousEventID,
		"timestamp":       awsjson.Timestamp(ev.Timestamp),
		"type":            ev.Type,
	}
	if ev.DetailsKey != "" {
		d := ev.Details
		if !includeData {
			d = make(map[string]any, len(ev.Details))
			for k, v := range ev.Details {
				if !contains(executionData, k) {
					d[k] = v
				}
			}
		}
		m[ev.DetailsKey] = d
	}
	return m
}

type stopExecutionInput struct {
	ExecutionARN *string `json:"executionArn"`
	Error        string  `json:"error"`
	Cause        string  `json:"cause"`
}

func (s *Service) stopExecution(body []byte) (any, *apiError) {
	var in stopExecutionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ExecutionARN == nil {
		return nil, required("executionArn")
	}
	if err := checkLength("error", in.Error, 0, 256); err != nil {
		return nil, err
	}
	if err := checkLength("cause", in.Cause, 0, 32768); err != nil {
		return nil, err
	}
	s.mu.Lock()
	x, aerr := s.executionByARN(*in.ExecutionARN)
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	// Stopping a closed execution changes nothing and answers with the
	// date it stopped.
	if x.e.Describe().Status == asl.StatusRunning {
		if err := s.runner.StopExecution(x.e.ARN, in.Error, in.Cause); err != nil {
			return nil, errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", x.e.ARN)
		}
		t := time.NewTimer(stopWait)
		defer t.Stop()
		select {
		case <-x.e.Done():
		case <-t.C:
			return map[string]any{"stopDate": awsjson.Timestamp(s.clk.Now())}, nil
		}
	}
	return map[string]any{"stopDate": awsjson.Timestamp(x.e.Describe().StopDate)}, nil
}
