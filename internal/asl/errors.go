package asl

import (
	"fmt"
	"slices"
)

// Error names of the States Language (Appendix A of the spec and the Step
// Functions guide, "Error names").
const (
	ErrAll                     = "States.ALL"
	ErrTimeout                 = "States.Timeout"
	ErrHeartbeatTimeout        = "States.HeartbeatTimeout"
	ErrTaskFailed              = "States.TaskFailed"
	ErrPermissions             = "States.Permissions"
	ErrRuntime                 = "States.Runtime"
	ErrDataLimitExceeded       = "States.DataLimitExceeded"
	ErrNoChoiceMatched         = "States.NoChoiceMatched"
	ErrIntrinsicFailure        = "States.IntrinsicFailure"
	ErrResultPathMatchFailure  = "States.ResultPathMatchFailure"
	ErrParameterPathFailure    = "States.ParameterPathFailure"
	ErrBranchFailed            = "States.BranchFailed"
	ErrItemReaderFailed        = "States.ItemReaderFailed"
	ErrExceedToleratedFailures = "States.ExceedToleratedFailureThreshold"
)

// StateError is a failure inside an execution: the Error and Cause that
// Catch receives as {"Error": ..., "Cause": ...}.
type StateError struct {
	Name  string
	Cause string
}

func (e *StateError) Error() string { return fmt.Sprintf("asl: %s: %s", e.Name, e.Cause) }

func runtimeError(format string, a ...any) *StateError {
	return &StateError{Name: ErrRuntime, Cause: fmt.Sprintf(format, a...)}
}

// terminal errors cannot be retried or caught through States.ALL: the guide
// says States.ALL "can't catch the States.DataLimitExceeded terminal error
// or Runtime error types"; they may still be named explicitly.
func terminal(name string) bool {
	return name == ErrRuntime || name == ErrDataLimitExceeded
}

// matches reports whether a Retrier's or Catcher's ErrorEquals covers name.
// States.TaskFailed is a wildcard for every error except States.Timeout
// (the spec: "States.TaskFailed ... matches any known error name except for
// States.Timeout").
func matches(errorEquals []string, name string) bool {
	if slices.Contains(errorEquals, name) {
		return true
	}
	if terminal(name) {
		return false
	}
	if slices.Contains(errorEquals, ErrAll) {
		return true
	}
	return slices.Contains(errorEquals, ErrTaskFailed) && name != ErrTimeout
}

// errorOutput is what a Catcher hands to its ResultPath.
func (e *StateError) output() any {
	return map[string]any{"Error": e.Name, "Cause": e.Cause}
}
