// Package domainsemu emulates the Amazon Route 53 Domains operations the
// DNSSEC workflows use (the DS records of a registered domain), over the
// AWS JSON 1.1 protocol (X-Amz-Target: Route53Domains_v20140515.<Op>), so
// that the unchanged aws-sdk-go-v2 route53domains client can talk to it.
//
// Domains are registered through the Go API (RegisterDomain). DS changes
// are asynchronous as in Route 53 Domains: AssociateDelegationSignerToDomain
// and DisassociateDelegationSignerFromDomain return an OperationId whose
// status goes SUBMITTED -> IN_PROGRESS -> SUCCESSFUL on the clock (or ERROR
// or FAILED); at success the domain's DS set in the emulated TLD is replaced
// through the Registry with the DS of every key then associated.
//
// Transitions are applied at every call into the Service and, when Run is
// running, at the moment they fall due on the clock, so that the TLD
// serves the new DS even when nobody polls the API.
//
// GetDomainDetail lists the associated keys with DS data only, as Route
// 53 Domains now does for most registries (see WithFullKeyDetails).
//
// Route 53 Domains is served from us-east-1 only: a request signed for
// another region is refused (see ServeHTTP).
package domainsemu

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	targetPrefix = "Route53Domains_v20140515."
	maxBody      = 1 << 20
	// servedRegion is the only region Route 53 Domains has an endpoint in.
	servedRegion = "us-east-1"

	// DefaultSubmittedDelay is how long an operation stays SUBMITTED.
	DefaultSubmittedDelay = 30 * time.Second
	// DefaultInProgressDelay is how long it then stays IN_PROGRESS before
	// it completes: registries take minutes to publish a DS change.
	DefaultInProgressDelay = 5 * time.Minute
	// DefaultMaxDSRecords bounds the DS records of one domain
	// (DnssecLimitExceeded past it).
	DefaultMaxDSRecords = 8
	// DSTTL is the TTL of the DS records handed to the Registry, the one
	// the large gTLD registries use.
	DSTTL = 86400
)

// Registry receives the DS set of a domain when an operation succeeds; the
// local stack wires it to the TLD servers. SetDS is called with the
// Service's lock held and must not call back into the Service. An error
// makes the operation end in ERROR with the error's text.
type Registry interface {
	SetDS(domain string, ds []*dns.DS) error
}

// Option configures a Service.
type Option func(*Service)

// WithRegistry sets the Registry told about DS changes.
func WithRegistry(r Registry) Option { return func(s *Service) { s.registry = r } }

// WithOperationDelays sets how long an operation stays SUBMITTED and then
// IN_PROGRESS before it completes.
func WithOperationDelays(submitted, inProgress time.Duration) Option {
	return func(s *Service) { s.submittedDelay, s.inProgressDelay = submitted, inProgress }
}

// WithMaxDSRecords sets the per-domain DS record limit.
func WithMaxDSRecords(n int) Option { return func(s *Service) { s.maxDS = n } }

// WithMaxPendingOperations makes the account refuse a new DS operation with
// OperationLimitExceeded while n operations are not yet complete (0, the
// default, means no limit).
func WithMaxPendingOperations(n int) Option { return func(s *Service) { s.maxPending = n } }

// WithFullKeyDetails makes GetDomainDetail return Flags and PublicKey in
// DnssecKeys, as Route 53 Domains did for every registry until 2026. By
// default the emulator answers as it does now for the Amazon Registrar and
// Gandi (reported from May 2026, registry-dependent per AWS Support): DS
// data only (Algorithm, DigestType, Digest, KeyTag, Id), so clients must
// match their keys by digest.
func WithFullKeyDetails() Option { return func(s *Service) { s.fullKeys = true } }

// WithThrottle turns on a token bucket for the account: ratePerSecond
// tokens per second of the clock, up to burst; past it requests fail with
// ThrottlingException (HTTP 400).
// As with SetThrottle, ratePerSecond <= 0 leaves throttling off.
func WithThrottle(ratePerSecond float64, burst int) Option {
	return func(s *Service) { s.throttle.Set(ratePerSecond, burst, s.clk.Now()) }
}

// Service is the Route 53 Domains emulator. It is safe for concurrent use.
type Service struct {
	clk             clock.Clock
	registry        Registry
	submittedDelay  time.Duration
	inProgressDelay time.Duration
	maxDS           int
	maxPending      int
	fullKeys        bool

	throttle guard.Throttle
	faults   guard.Faults

	mu       sync.Mutex
	domains  map[string]*domain
	noDNSSEC map[string]bool // TLDs whose rules forbid DNSSEC
	ops      []*operation    // in submission order
	failures []outcome
	kick     chan struct{}
}

type domain struct {
	name        string
	nameservers []string
	keys        []*dsKey // associated, in association order
	created     time.Time
}

type dsKey struct {
	id        string
	algorithm uint8
	flags     uint16
	publicKey string
	ds        *dns.DS
}

// New returns a Route 53 Domains emulator with no domains.
func New(clk clock.Clock, opts ...Option) *Service {
	s := &Service{
		clk:             clk,
		submittedDelay:  DefaultSubmittedDelay,
		inProgressDelay: DefaultInProgressDelay,
		maxDS:           DefaultMaxDSRecords,
		domains:         map[string]*domain{},
		noDNSSEC:        map[string]bool{},
		kick:            make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// canonical lowercases a domain name and drops its final dot.
func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

var domainPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$`)

func tldOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// RegisterDomain makes the account the registrant of name (e.g.
// "example.test") with the given name servers. Registering again replaces
// the name servers and keeps the DNSSEC keys.
func (s *Service) RegisterDomain(name string, nameservers []string) error {
	n := canonical(name)
	if !domainPattern.MatchString(n) {
		return fmt.Errorf("domainsemu: register %q: not a valid domain name", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := make([]string, 0, len(nameservers))
	for _, v := range nameservers {
		ns = append(ns, canonical(v))
	}
	if d := s.domains[n]; d != nil {
		d.nameservers = ns
		return nil
	}
	s.domains[n] = &domain{name: n, nameservers: ns, created: s.clk.Now()}
	return nil
}

// SetRegistry replaces the Registry told about DS changes (nil: none),
// for a local stack that starts its TLD servers after the emulator.
func (s *Service) SetRegistry(r Registry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registry = r
}

// SetTLDAllowsDNSSEC records whether the registry of tld accepts DS
// records; when it does not, AssociateDelegationSignerToDomain fails with
// TLDRulesViolation. Every TLD allows DNSSEC unless told otherwise.
func (s *Service) SetTLDAllowsDNSSEC(tld string, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noDNSSEC[canonical(tld)] = !allowed
}

// DS returns the DS records currently published for domain (after the
// operations due by now), in association order.
func (s *Service) DS(domainName string) []*dns.DS {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progressLocked(s.clk.Now())
	d := s.domains[canonical(domainName)]
	if d == nil {
		return nil
	}
	out := make([]*dns.DS, 0, len(d.keys))
	for _, k := range d.keys {
		out = append(out, dns.Copy(k.ds).(*dns.DS))
	}
	return out
}

// outcome is an injected end for the next operation.
type outcome struct {
	status  string
	message string
}

// FailNextOperations makes the next n operations submitted end with status
// (OperationStatusError "ERROR" or OperationStatusFailed "FAILED") and
// message, instead of succeeding; the domain's DS set is left unchanged.
func (s *Service) FailNextOperations(status, message string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, outcome{status: status, message: message})
	}
}

// InjectError makes the next n calls of operation (e.g.
// "GetOperationDetail") fail with the error code (e.g. "InvalidInput",
// "OperationLimitExceeded", "ThrottlingException"). n <= 0 clears the
// faults of operation.
func (s *Service) InjectError(operation, code string, n int) {
	s.faults.Inject(operation, code, n)
}

// SetThrottle changes the token bucket; ratePerSecond <= 0 turns it off.
func (s *Service) SetThrottle(ratePerSecond float64, burst int) {
	s.throttle.Set(ratePerSecond, burst, s.clk.Now())
}

// Run applies operation transitions when they fall due on the clock, until
// ctx ends. It is optional: every call into the Service applies the due
// transitions too.
func (s *Service) Run(ctx context.Context) error {
	for {
		s.mu.Lock()
		now := s.clk.Now()
		s.progressLocked(now)
		next, ok := s.nextDueLocked()
		s.mu.Unlock()
		var due <-chan time.Time
		if ok {
			due = s.clk.After(next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.kick:
		case <-due:
		}
	}
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

type apiError struct {
	Code    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return "domainsemu: " + e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	if code == "InternalFailure" || code == "ServiceUnavailable" {
		status = http.StatusInternalServerError
	}
	return &apiError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	awsjson.JSON11.WriteError(w, e.Status, e.Code, e.Message)
}

type handler func(s *Service, body []byte) (any, *apiError)

var operations = map[string]handler{
	"GetDomainDetail":                        (*Service).getDomainDetail,
	"AssociateDelegationSignerToDomain":      (*Service).associate,
	"DisassociateDelegationSignerFromDomain": (*Service).disassociate,
	"GetOperationDetail":                     (*Service).getOperationDetail,
	"ListOperations":                         (*Service).listOperations,
}

var endpoint = awsjson.Endpoint[*Service, handler, *apiError]{
	Protocol: awsjson.JSON11, Name: "domainsemu", Service: "Route 53 Domains",
	TargetPrefix: targetPrefix, Operations: operations, Call: (*Service).call,
	MaxBody: maxBody, BodyCode: "InvalidInput", Errorf: errorf, WriteError: writeError,
	Region:        func(*Service) string { return servedRegion },
	RegionMessage: "Route 53 Domains is served from %s only, request signed for %s",
}

// ServeHTTP serves the Route 53 Domains JSON 1.1 protocol. A request
// signed for a region other than us-east-1 is refused with
// UnrecognizedClientException: AWS has no Route 53 Domains endpoint there.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { endpoint.Serve(s, w, r) }

// call applies the transitions due by now, then runs the handler of op
// (outside the lock: handlers take it) unless throttling or an injected
// fault refuses the request.
func (s *Service) call(op string, h handler, body []byte) (any, *apiError) {
	s.mu.Lock()
	s.progressLocked(s.clk.Now())
	code, msg := guard.Refuse(&s.throttle, &s.faults, "domainsemu", op, s.clk.Now())
	s.mu.Unlock()
	if code != "" {
		return nil, errorf(code, "%s", msg)
	}
	return h(s, body)
}

func decode(body []byte, v any) *apiError {
	if err := awsjson.Decode(body, v); err != nil {
		return errorf("InvalidInput", "domainsemu: malformed request body: %v", err)
	}
	return nil
}
