package sfnemu

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
)

// Constraints of the task-token operations (API model).
const (
	maxTokenLength = 2048
	maxErrorLength = 256
	maxCauseLength = 32768
)

type taskInput struct {
	TaskToken *string `json:"taskToken"`
	Output    *string `json:"output"`
	Error     string  `json:"error"`
	Cause     string  `json:"cause"`
}

func (s *Service) sendTaskSuccess(body []byte) (any, *apiError) {
	var in taskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Output == nil {
		return nil, required("output")
	}
	if err := checkLength("output", *in.Output, 0, maxInputLength); err != nil {
		return nil, err
	}
	token, aerr := s.openToken(in.TaskToken)
	if aerr != nil {
		return nil, aerr
	}
	var v any
	if err := json.Unmarshal([]byte(*in.Output), &v); err != nil {
		return nil, errorf("InvalidOutput", "Invalid Output: '%v'", err)
	}
	return struct{}{}, runnerError(token, s.runner.SendTaskSuccess(token, json.RawMessage(*in.Output)))
}

func (s *Service) sendTaskFailure(body []byte) (any, *apiError) {
	var in taskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkLength("error", in.Error, 0, maxErrorLength); err != nil {
		return nil, err
	}
	if err := checkLength("cause", in.Cause, 0, maxCauseLength); err != nil {
		return nil, err
	}
	token, aerr := s.openToken(in.TaskToken)
	if aerr != nil {
		return nil, aerr
	}
	return struct{}{}, runnerError(token, s.runner.SendTaskFailure(token, in.Error, in.Cause))
}

func (s *Service) sendTaskHeartbeat(body []byte) (any, *apiError) {
	var in taskInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	token, aerr := s.openToken(in.TaskToken)
	if aerr != nil {
		return nil, aerr
	}
	return struct{}{}, runnerError(token, s.runner.SendTaskHeartbeat(token))
}

// openToken checks that a task waits for token. A token no task waits for
// is refused as Step Functions refuses it: one that was handed to a task
// which has since closed (answered, timed out, or its execution ended) with
// TaskTimedOut; one in the runner's format that no task was ever given with
// TaskDoesNotExist; anything else with InvalidToken.
func (s *Service) openToken(tok *string) (string, *apiError) {
	if tok == nil {
		return "", required("taskToken")
	}
	if err := checkLength("taskToken", *tok, 1, maxTokenLength); err != nil {
		return "", err
	}
	token := *tok
	for _, t := range s.runner.TaskTokens() {
		if t == token {
			return token, nil
		}
	}
	switch {
	case s.tokenIssued(token):
		return "", taskTimedOut()
	case runnerToken(token):
		return "", errorf("TaskDoesNotExist", "Task Does Not Exist: 'no task of this account was given this token'")
	default:
		return "", errorf("InvalidToken", "Invalid Token: 'Invalid token'")
	}
}

func taskTimedOut() *apiError {
	return errorf("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
}

// runnerError maps the runner's answer to SendTask*: it refuses a token
// whose task closed between openToken and the call.
func runnerError(token string, err error) *apiError {
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "InvalidOutput"):
		return errorf("InvalidOutput", "Invalid Output: '%v'", err)
	default: // TaskDoesNotExist or TaskTimedOut: the task just closed
		return taskTimedOut()
	}
}

// tokenIssued reports whether a task of a known execution was given token:
// a .waitForTaskToken task passes $$.Task.Token in its Parameters, so the
// token is in the parameters of its TaskScheduled event.
func (s *Service) tokenIssued(token string) bool {
	s.mu.Lock()
	xs := make([]*execution, 0, len(s.executions))
	for _, x := range s.executions {
		xs = append(xs, x)
	}
	s.mu.Unlock()
	for _, x := range xs {
		for _, ev := range x.e.History() {
			if ev.Type != "TaskScheduled" {
				continue
			}
			if p, _ := ev.Details["parameters"].(string); strings.Contains(p, token) {
				return true
			}
		}
	}
	return false
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// runnerToken reports whether token has the shape of the runner's task
// tokens (two random UUIDs, base64url without padding). This mirrors an
// unexported detail of internal/asl; if the runner changes it, tokens it
// never issued are reported as InvalidToken instead of TaskDoesNotExist.
func runnerToken(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 72 {
		return false
	}
	return uuidPattern.Match(b[:36]) && uuidPattern.Match(b[36:])
}
