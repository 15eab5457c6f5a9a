package steps

import (
	"errors"
	"reflect"

	"github.com/aws/smithy-go"
)

// busyCodes are the AWS error codes that mean "not now": the SDK retryer
// retries most of them (NewFromEnv adds ConcurrentModification); what is left
// once its attempts are spent becomes ServiceBusyError, which the state
// machines retry with a longer back-off. Route 53's own guards are among them
// (DESIGN.md section 4).
var busyCodes = map[string]bool{
	"Throttling":                 true, // Route 53, SNS
	"ThrottlingException":        true, // KMS, Route 53 Domains
	"TooManyRequestsException":   true,
	"RequestLimitExceeded":       true,
	"ConcurrentModification":     true, // Route 53: another change to the same zone is being made
	"PriorRequestNotComplete":    true, // Route 53: the previous change is not yet applied
	"DependencyTimeoutException": true, // KMS
	"KMSInternalException":       true, // KMS, transient by its documentation
	"ServiceUnavailable":         true,
	"InternalFailure":            true, // the AWS 500 code (not Route 53's INTERNAL_FAILURE status)
	"OperationLimitExceeded":     true, // Route 53 Domains: too many operations in flight
}

// apiCode returns the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// apiFailure is an AWS API error: the service and operation that returned
// it, its code and message.
type apiFailure struct{ service, operation, code, message string }

// matchAPIError reads err as an AWS API error whose code is one of codes.
func matchAPIError(err error, codes map[string]bool) (apiFailure, bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) || !codes[ae.ErrorCode()] {
		return apiFailure{}, false
	}
	a := apiFailure{code: ae.ErrorCode(), message: ae.ErrorMessage()}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		a.service, a.operation = oe.ServiceID, oe.OperationName
	}
	return a, true
}

// asBusy returns a *ServiceBusyError when err is a "not now" AWS answer.
func asBusy(err error) *ServiceBusyError {
	a, ok := matchAPIError(err, busyCodes)
	if !ok {
		return nil
	}
	return &ServiceBusyError{Service: a.service, Operation: a.operation, Code: a.code, Message: a.message}
}

// deniedCodes are the AWS error codes of a refusal for want of permission.
var deniedCodes = map[string]bool{
	"AccessDenied":          true, // Route 53 and the common AWS code
	"AccessDeniedException": true, // KMS, Route 53 Resolver, Step Functions
	"AuthorizationError":    true, // SNS
	"KMSAccessDenied":       true, // SNS: the topic's KMS key
}

// asAccessDenied returns an *AccessDeniedError when err is a refusal for
// want of permission.
func asAccessDenied(step string, err error) *AccessDeniedError {
	a, ok := matchAPIError(err, deniedCodes)
	if !ok {
		return nil
	}
	return &AccessDeniedError{Step: step, Service: a.service, Operation: a.operation, Code: a.code, Message: a.message}
}

// IsKSKInParentDS reports whether err is Route 53's KeySigningKeyInParentDSRecord
// guard: the parent still serves a DS of the key, so deactivating it must wait
// (poll), never be forced.
func IsKSKInParentDS(err error) bool { return apiCode(err) == "KeySigningKeyInParentDSRecord" }

// namedPackages are the packages whose error types reach state machines by
// their names.
var namedPackages = map[string]bool{
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps":     true,
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish": true,
}

// isNamedType reports whether e is a pointer to a struct error type of
// namedPackages whose name ends in "Error".
func isNamedType(e error) bool {
	t := reflect.TypeOf(e)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return false
	}
	n := t.Elem().Name()
	return namedPackages[t.Elem().PkgPath()] && len(n) > 5 && n[len(n)-5:] == "Error"
}
