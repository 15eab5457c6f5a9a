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

// asBusy returns a *ServiceBusyError when err is a "not now" AWS answer.
func asBusy(err error) *ServiceBusyError {
	var ae smithy.APIError
	if !errors.As(err, &ae) || !busyCodes[ae.ErrorCode()] {
		return nil
	}
	b := &ServiceBusyError{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		b.Service, b.Operation = oe.ServiceID, oe.OperationName
	}
	return b
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
	var ae smithy.APIError
	if !errors.As(err, &ae) || !deniedCodes[ae.ErrorCode()] {
		return nil
	}
	d := &AccessDeniedError{Step: step, Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		d.Service, d.Operation = oe.ServiceID, oe.OperationName
	}
	return d
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
