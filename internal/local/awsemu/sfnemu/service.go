// Package sfnemu emulates the AWS Step Functions API over the AWS JSON 1.0
// protocol (X-Amz-Target: AWSStepFunctions.<Operation>), backed by the local
// States Language runner (internal/asl), so that the unchanged aws-sdk-go-v2
// sfn client, the AWS CLI or `dnssecctl run` can create state machines,
// start and follow executions and answer task tokens on the local stack.
//
// Served: CreateStateMachine, DescribeStateMachine, ListStateMachines,
// StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
// StopExecution, SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat.
// Only STANDARD state machines exist (the runner has Standard semantics:
// history, exactly-once task starts); EXPRESS is refused. Anything else is
// answered with UnknownOperationException naming the operation.
//
// The local stack pre-registers the project's state machines, with their
// DefinitionSubstitutions, through RegisterStateMachine; the Lambda handlers
// are registered on the runner by whoever builds it. Executions that the
// runner starts by itself (states:startExecution tasks) are described and
// listed too when OnEvent is wired into the runner's options.
package sfnemu

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	// DefaultAccount is the local account ID.
	DefaultAccount = "123456789012"
	// DefaultRegion is the only region the emulator serves.
	DefaultRegion = "us-east-1"

	targetPrefix = "AWSStepFunctions."
	// maxBody bounds a request body: a definition is at most 1 MiB
	// (Step Functions quota) and the JSON escaping of it can double it.
	maxBody = 3 << 20
)

// Option configures a Service.
type Option func(*Service)

// WithAccount sets the account ID (default DefaultAccount). It must be the
// runner's asl.Options.AccountID, which makes the ARNs.
func WithAccount(id string) Option { return func(s *Service) { s.account = id } }

// WithRegion sets the served region (default DefaultRegion). It must be the
// runner's asl.Options.Region.
func WithRegion(region string) Option { return func(s *Service) { s.region = region } }

// WithThrottle turns on a token bucket shared by all operations of the
// account: ratePerSecond tokens refill per second of the clock, up to burst;
// past it requests fail with ThrottlingException (HTTP 400), as Step
// Functions answers. Off by default.
// As with SetThrottle, ratePerSecond <= 0 leaves throttling off.
func WithThrottle(ratePerSecond float64, burst int) Option {
	return func(s *Service) { s.throttle.Set(ratePerSecond, burst, s.clk.Now()) }
}

// Service is the Step Functions emulator. It is safe for concurrent use.
type Service struct {
	clk     clock.Clock
	runner  *asl.Runner
	account string
	region  string

	throttle guard.Throttle
	faults   guard.Faults

	mu         sync.Mutex
	machines   map[string]*machine   // by ARN
	executions map[string]*execution // by ARN
	seq        int64                 // start order of executions
}

// New returns a Step Functions emulator that runs executions on runner and
// reads time (creation dates, throttling) from clk, the runner's clock.
func New(clk clock.Clock, runner *asl.Runner, opts ...Option) *Service {
	s := &Service{
		clk:        clk,
		runner:     runner,
		account:    DefaultAccount,
		region:     DefaultRegion,
		machines:   map[string]*machine{},
		executions: map[string]*execution{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// InjectError makes the next n calls of operation (e.g. "StartExecution")
// fail with code (e.g. "ServiceUnavailable", "ThrottlingException",
// "ExecutionLimitExceeded"), before any other processing. Faults queue per
// operation; n <= 0 clears the faults of operation.
func (s *Service) InjectError(operation, code string, n int) {
	s.faults.Inject(operation, code, n)
}

// SetThrottle changes the token bucket at run time; ratePerSecond <= 0
// turns throttling off.
func (s *Service) SetThrottle(ratePerSecond float64, burst int) {
	s.throttle.Set(ratePerSecond, burst, s.clk.Now())
}

// apiError is an error in the AWS JSON 1.0 shape.
type apiError struct {
	Code    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return "sfnemu: " + e.Code + ": " + e.Message }

// statusFor gives the HTTP status Step Functions uses for an error code:
// every modelled error is a 400 client error; only service faults are 5xx.
func statusFor(code string) int {
	switch code {
	case "InternalFailure", "InternalServerError", "ServiceException":
		return http.StatusInternalServerError
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: statusFor(code), Message: fmt.Sprintf(format, args...)}
}

// validationf is the ValidationException of a request that breaks a
// constraint of the API model, worded as AWS words it.
func validationf(format string, args ...any) *apiError {
	return errorf("ValidationException", "1 validation error detected: "+format, args...)
}

func writeError(w http.ResponseWriter, e *apiError) {
	awsjson.JSON10.WriteError(w, e.Status, e.Code, e.Message)
}

type handler func(s *Service, body []byte) (any, *apiError)

var operations = map[string]handler{
	"CreateStateMachine":   (*Service).createStateMachine,
	"DescribeStateMachine": (*Service).describeStateMachine,
	"ListStateMachines":    (*Service).listStateMachines,
	"StartExecution":       (*Service).startExecution,
	"DescribeExecution":    (*Service).describeExecution,
	"ListExecutions":       (*Service).listExecutions,
	"GetExecutionHistory":  (*Service).getExecutionHistory,
	"StopExecution":        (*Service).stopExecution,
	"SendTaskSuccess":      (*Service).sendTaskSuccess,
	"SendTaskFailure":      (*Service).sendTaskFailure,
	"SendTaskHeartbeat":    (*Service).sendTaskHeartbeat,
}

var endpoint = awsjson.Endpoint[*Service, handler, *apiError]{
	Protocol: awsjson.JSON10, Name: "sfnemu", Service: "Step Functions",
	TargetPrefix: targetPrefix, Operations: operations, Call: (*Service).call,
	MaxBody: maxBody, BodyCode: "SerializationException", Errorf: errorf, WriteError: writeError,
	Region: func(s *Service) string { return s.region },
}

// ServeHTTP serves the Step Functions JSON 1.0 protocol. A request signed
// for another region is refused with UnrecognizedClientException rather
// than answered with this region's state machines.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { endpoint.Serve(s, w, r) }

// call runs the handler of op unless throttling or an injected fault
// refuses the request first.
func (s *Service) call(op string, h handler, body []byte) (any, *apiError) {
	if code, msg := guard.Refuse(&s.throttle, &s.faults, "sfnemu", op, s.clk.Now()); code != "" {
		return nil, errorf(code, "%s", msg)
	}
	return h(s, body)
}

// decode unmarshals a request body; an empty body is an empty object. A
// body that is not the operation's JSON is a SerializationException, as the
// AWS JSON protocols answer.
func decode(body []byte, v any) *apiError {
	if err := awsjson.Decode(body, v); err != nil {
		return errorf("SerializationException", "sfnemu: malformed request body: %v", err)
	}
	return nil
}

// required is the error of a missing required member.
func required(member string) *apiError {
	return validationf("Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// checkLength enforces a member's length constraint of the API model.
func checkLength(member, v string, lo, hi int) *apiError {
	n := len([]rune(v))
	if n < lo {
		return validationf("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", v, member, lo)
	}
	if n > hi {
		return validationf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", member, hi)
	}
	return nil
}
