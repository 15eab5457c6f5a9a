// Package kmsemu emulates the AWS KMS operations the DNSSEC workflows and
// the local Route 53 emulator use, over the AWS JSON 1.1 protocol
// (X-Amz-Target: TrentService.<Operation>), so that the unchanged
// aws-sdk-go-v2 KMS client can talk to it.
//
// Keys live in one account and one region (123456789012, us-east-1 by
// default); an ARN of another region or account is answered with
// NotFoundException, as KMS answers for a key it cannot see. Key policies
// are stored and evaluated (see Allows), key states follow KMS (Enabled,
// Disabled, PendingDeletion) and the pending-deletion window runs on the
// clock: a key whose DeletionDate has passed is deleted at the next call
// that touches the service (or at Sweep).
//
// Every API call is made as the account's root principal
// (arn:aws:iam::123456789012:root): a key policy that no longer allows it
// (put with BypassPolicyLockoutSafetyCheck) makes the key unmanageable
// with AccessDeniedException, as in KMS.
package kmsemu

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	// DefaultAccount is the local account ID.
	DefaultAccount = "123456789012"
	// DefaultRegion is the only region the emulator serves.
	DefaultRegion = "us-east-1"

	targetPrefix = "TrentService."
	// maxBody bounds a request body; KMS's largest request (PutKeyPolicy
	// with a 32 KiB policy) is well below it.
	maxBody = 1 << 20
)

// Option configures a Service.
type Option func(*Service)

// WithAccount sets the account ID (default DefaultAccount).
func WithAccount(id string) Option { return func(s *Service) { s.account = id } }

// WithRegion sets the served region (default DefaultRegion).
func WithRegion(region string) Option { return func(s *Service) { s.region = region } }

// WithThrottle turns on a token bucket shared by all operations of the
// account: ratePerSecond tokens refill per second of the service's clock,
// up to burst. Past it requests fail with ThrottlingException (HTTP 400).
// KMS throttles per account and operation class; one bucket is enough to
// exercise the clients' retry paths.
// As with SetThrottle, ratePerSecond <= 0 leaves throttling off.
func WithThrottle(ratePerSecond float64, burst int) Option {
	return func(s *Service) { s.throttle.Set(ratePerSecond, burst, s.clk.Now()) }
}

// Service is the KMS emulator. It is safe for concurrent use.
type Service struct {
	clk     clock.Clock
	account string
	region  string

	throttle guard.Throttle
	faults   guard.Faults

	mu   sync.Mutex
	keys map[string]*key // by key ID
	// sweepAt is when the next pending deletion may end (zero: none
	// pending): every call sweeps, and thousands of keys must not make
	// each call look at all of them.
	sweepAt time.Time
	aliases map[string]*alias // by alias name ("alias/...")

	subMu sync.Mutex
	subs  []func(KeyEvent)
}

// New returns an empty KMS emulator reading time from clk.
func New(clk clock.Clock, opts ...Option) *Service {
	s := &Service{
		clk:     clk,
		account: DefaultAccount,
		region:  DefaultRegion,
		keys:    map[string]*key{},
		aliases: map[string]*alias{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Account returns the emulated account ID.
func (s *Service) Account() string { return s.account }

// Region returns the emulated region.
func (s *Service) Region() string { return s.region }

// InjectError makes the next n calls of operation (e.g. "Sign") fail with
// the error code (e.g. "KMSInternalException", "ThrottlingException",
// "DependencyTimeoutException"), before any other processing. Faults
// queue: a second injection for the same operation applies after the
// first is used up. n <= 0 removes every fault queued for operation.
func (s *Service) InjectError(operation, code string, n int) {
	s.faults.Inject(operation, code, n)
}

// SetThrottle changes the token bucket at run time; ratePerSecond <= 0
// turns throttling off.
func (s *Service) SetThrottle(ratePerSecond float64, burst int) {
	s.throttle.Set(ratePerSecond, burst, s.clk.Now())
}

// statusFor gives the HTTP status KMS uses for an error code.
func statusFor(code string) int {
	switch code {
	case "KMSInternalException", "KeyUnavailableException", "InternalFailure":
		return http.StatusInternalServerError
	case "DependencyTimeoutException", "ServiceUnavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// apiError is an error in the AWS JSON 1.1 shape.
type apiError struct {
	Code    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return "kmsemu: " + e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: statusFor(code), Message: fmt.Sprintf(format, args...)}
}

func validationf(format string, args ...any) *apiError {
	return errorf("ValidationException", format, args...)
}

func writeError(w http.ResponseWriter, e *apiError) {
	awsjson.JSON11.WriteError(w, e.Status, e.Code, e.Message)
}

type handler func(s *Service, body []byte) (any, *apiError)

var operations = map[string]handler{
	"CreateKey":           (*Service).createKey,
	"DescribeKey":         (*Service).describeKey,
	"GetPublicKey":        (*Service).getPublicKey,
	"Sign":                (*Service).sign,
	"EnableKey":           (*Service).enableKey,
	"DisableKey":          (*Service).disableKey,
	"ScheduleKeyDeletion": (*Service).scheduleKeyDeletion,
	"CancelKeyDeletion":   (*Service).cancelKeyDeletion,
	"GetKeyPolicy":        (*Service).getKeyPolicy,
	"PutKeyPolicy":        (*Service).putKeyPolicy,
	"CreateAlias":         (*Service).createAlias,
	"ListAliases":         (*Service).listAliases,
	"TagResource":         (*Service).tagResource,
	"ListResourceTags":    (*Service).listResourceTags,
}

var endpoint = awsjson.Endpoint[*Service, handler, *apiError]{
	Protocol: awsjson.JSON11, Name: "kmsemu", Service: "KMS",
	TargetPrefix: targetPrefix, Operations: operations, Call: (*Service).call,
	MaxBody: maxBody, BodyCode: "ValidationException", Errorf: errorf, WriteError: writeError,
	Region: (*Service).Region,
}

// ServeHTTP serves the KMS JSON 1.1 protocol. A request signed for
// another region than the Service's is refused with
// UnrecognizedClientException rather than answered with this region's keys.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { endpoint.Serve(s, w, r) }

// call runs the handler of op unless throttling or an injected fault
// refuses the request first.
func (s *Service) call(op string, h handler, body []byte) (any, *apiError) {
	if code, msg := guard.Refuse(&s.throttle, &s.faults, "kmsemu", op, s.clk.Now()); code != "" {
		return nil, errorf(code, "%s", msg)
	}
	return h(s, body)
}

// decode unmarshals a request body; an empty body is an empty object.
func decode(body []byte, v any) *apiError {
	if err := awsjson.Decode(body, v); err != nil {
		return validationf("kmsemu: malformed request body: %v", err)
	}
	return nil
}
