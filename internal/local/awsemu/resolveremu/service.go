// Package resolveremu emulates the Amazon Route 53 Resolver DNSSEC
// validation operations (UpdateResolverDnssecConfig,
// GetResolverDnssecConfig, ListResolverDnssecConfigs) over the AWS JSON 1.1
// protocol (X-Amz-Target: Route53Resolver.<Op>), so that the unchanged
// aws-sdk-go-v2 route53resolver client can talk to it.
//
// VPCs are created through the Go API (AddVPC). A change of validation goes
// through a transitional status (ENABLING, DISABLING,
// UPDATING_TO_USE_LOCAL_RESOURCE_SETTING) for a delay on the clock before it
// takes effect; the local VPC resolvers read the effective setting with
// Validation and hear of changes through Subscribe. Transitions are applied
// at every call into the Service and, when Run is running, when they fall
// due on the clock.
package resolveremu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	// DefaultAccount is the local account ID.
	DefaultAccount = "123456789012"
	// DefaultRegion is the region served.
	DefaultRegion = "us-east-1"
	// DefaultTransitionDelay is how long a validation change stays in its
	// transitional status.
	DefaultTransitionDelay = 30 * time.Second

	targetPrefix = "Route53Resolver."
	maxBody      = 1 << 20
)

// Validation statuses, as Route 53 Resolver names them.
const (
	StatusEnabling         = "ENABLING"
	StatusEnabled          = "ENABLED"
	StatusDisabling        = "DISABLING"
	StatusDisabled         = "DISABLED"
	StatusUpdatingToLocal  = "UPDATING_TO_USE_LOCAL_RESOURCE_SETTING"
	StatusUseLocalResource = "USE_LOCAL_RESOURCE_SETTING"
)

// transitions maps a requested Validation to its transitional and final
// statuses.
var transitions = map[string][2]string{
	"ENABLE":                     {StatusEnabling, StatusEnabled},
	"DISABLE":                    {StatusDisabling, StatusDisabled},
	"USE_LOCAL_RESOURCE_SETTING": {StatusUpdatingToLocal, StatusUseLocalResource},
}

// Option configures a Service.
type Option func(*Service)

// WithAccount sets the account ID (default DefaultAccount).
func WithAccount(id string) Option { return func(s *Service) { s.account = id } }

// WithRegion sets the served region (default DefaultRegion).
func WithRegion(region string) Option { return func(s *Service) { s.region = region } }

// WithTransitionDelay sets how long a change stays transitional.
func WithTransitionDelay(d time.Duration) Option { return func(s *Service) { s.delay = d } }

// WithThrottle turns on a token bucket for the account: ratePerSecond
// tokens per second of the clock, up to burst; past it requests fail with
// ThrottlingException (HTTP 400).
// As with SetThrottle, ratePerSecond <= 0 leaves throttling off.
func WithThrottle(ratePerSecond float64, burst int) Option {
	return func(s *Service) { s.throttle.Set(ratePerSecond, burst, s.clk.Now()) }
}

// Event tells a subscriber that the validation status of a VPC changed.
type Event struct {
	VPCID  string
	Status string // one of the Status* constants
	// Validation is the effective setting after the change.
	Validation bool
}

// Service is the Route 53 Resolver emulator. It is safe for concurrent use.
type Service struct {
	clk     clock.Clock
	account string
	region  string
	delay   time.Duration

	throttle guard.Throttle
	faults   guard.Faults

	mu   sync.Mutex
	vpcs map[string]*config
	kick chan struct{}

	subMu sync.Mutex
	subs  []func(Event)
}

type config struct {
	id     string
	vpcID  string
	status string
	target string    // final status of a pending transition
	due    time.Time // when the pending transition completes
	added  int       // order of AddVPC
}

// New returns a Resolver emulator with no VPCs.
func New(clk clock.Clock, opts ...Option) *Service {
	s := &Service{
		clk:     clk,
		account: DefaultAccount,
		region:  DefaultRegion,
		delay:   DefaultTransitionDelay,
		vpcs:    map[string]*config{},
		kick:    make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddVPC creates a VPC whose DNSSEC validation is DISABLED. Adding a VPC
// again changes nothing.
func (s *Service) AddVPC(id string) error {
	if !strings.HasPrefix(id, "vpc-") || len(id) > 64 {
		return fmt.Errorf("resolveremu: add VPC %q: a VPC ID looks like vpc-0123456789abcdef0", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vpcs[id] == nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		s.vpcs[id] = &config{id: "rdsc-" + hex.EncodeToString(b[:]), vpcID: id, status: StatusDisabled, added: len(s.vpcs)}
	}
	return nil
}

// Validation reports whether the resolver of vpcID validates DNSSEC now:
// true once the status is ENABLED and while it is DISABLING; false for an
// unknown VPC, and for USE_LOCAL_RESOURCE_SETTING (the local stack has no
// local resource setting that enables it).
func (s *Service) Validation(vpcID string) (enabled bool) {
	s.locked(func() []Event {
		if c := s.vpcs[vpcID]; c != nil {
			enabled = validates(c.status)
		}
		return nil
	})
	return enabled
}

// Status returns the validation status of vpcID ("" when unknown).
func (s *Service) Status(vpcID string) string {
	var st string
	s.locked(func() []Event {
		if c := s.vpcs[vpcID]; c != nil {
			st = c.status
		}
		return nil
	})
	return st
}

func validates(status string) bool { return status == StatusEnabled || status == StatusDisabling }

// Subscribe registers f to be called after every status change,
// synchronously and outside the service's lock (f may call back into the
// Service). Events of concurrent changes may arrive out of order: a
// subscriber that needs the current state re-reads it with Validation.
func (s *Service) Subscribe(f func(Event)) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.subs = append(s.subs, f)
}

func (s *Service) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	s.subMu.Lock()
	subs := slices.Clone(s.subs)
	s.subMu.Unlock()
	for _, e := range evs {
		for _, f := range subs {
			f(e)
		}
	}
}

// locked runs f under the lock after applying due transitions, then
// publishes the events of both.
func (s *Service) locked(f func() []Event) {
	s.mu.Lock()
	evs := s.progressLocked(s.clk.Now())
	evs = append(evs, f()...)
	s.mu.Unlock()
	s.publish(evs)
}

// progressLocked completes every transition due by now, in VPC order.
func (s *Service) progressLocked(now time.Time) []Event {
	var evs []Event
	for _, c := range s.sortedLocked() {
		if c.target != "" && !now.Before(c.due) {
			c.status, c.target = c.target, ""
			evs = append(evs, Event{VPCID: c.vpcID, Status: c.status, Validation: validates(c.status)})
		}
	}
	return evs
}

func (s *Service) sortedLocked() []*config {
	out := make([]*config, 0, len(s.vpcs))
	for _, c := range s.vpcs {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *config) int { return a.added - b.added })
	return out
}

// Run applies transitions when they fall due on the clock until ctx ends.
// It is optional: every call into the Service applies due transitions.
func (s *Service) Run(ctx context.Context) error {
	for {
		var (
			next time.Time
			ok   bool
			now  time.Time
		)
		s.locked(func() []Event {
			now = s.clk.Now()
			for _, c := range s.vpcs {
				if c.target != "" && (!ok || c.due.Before(next)) {
					next, ok = c.due, true
				}
			}
			return nil
		})
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

// InjectError makes the next n calls of operation fail with code (e.g.
// "InternalServiceErrorException", "ThrottlingException",
// "AccessDeniedException"). n <= 0 clears the faults of operation.
func (s *Service) InjectError(operation, code string, n int) {
	s.faults.Inject(operation, code, n)
}

// SetThrottle changes the token bucket; ratePerSecond <= 0 turns it off.
func (s *Service) SetThrottle(ratePerSecond float64, burst int) {
	s.throttle.Set(ratePerSecond, burst, s.clk.Now())
}

type apiError struct {
	Code      string
	Status    int
	Message   string
	FieldName string
}

func (e *apiError) Error() string { return "resolveremu: " + e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	if code == "InternalServiceErrorException" {
		status = http.StatusInternalServerError
	}
	return &apiError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func invalidParameter(field, format string, args ...any) *apiError {
	e := errorf("InvalidParameterException", format, args...)
	e.FieldName = field
	return e
}

// writeError answers e in Route 53 Resolver's error shape, which names
// the field at fault and spells Message with a capital (unlike the
// {"__type", "message"} of awsjson.Protocol.WriteError).
func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", string(awsjson.JSON11))
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Type      string `json:"__type"`
		Message   string
		FieldName string `json:",omitempty"`
	}{e.Code, e.Message, e.FieldName})
}

// handler serves one operation under the service lock and returns the
// events to publish.
type handler func(s *Service, body []byte) (any, []Event, *apiError)

var operations = map[string]handler{
	"UpdateResolverDnssecConfig": (*Service).update,
	"GetResolverDnssecConfig":    (*Service).get,
	"ListResolverDnssecConfigs":  (*Service).list,
}

var endpoint = awsjson.Endpoint[*Service, handler, *apiError]{
	Protocol: awsjson.JSON11, Name: "resolveremu", Service: "Route 53 Resolver",
	TargetPrefix: targetPrefix, Operations: operations, Call: (*Service).call,
	MaxBody: maxBody, BodyCode: "InvalidRequestException", Errorf: errorf, WriteError: writeError,
	Region: func(s *Service) string { return s.region },
}

// ServeHTTP serves the Route 53 Resolver JSON 1.1 protocol. A request
// signed for another region than the Service's is refused with
// UnrecognizedClientException.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { endpoint.Serve(s, w, r) }

// call runs the handler of op under the service lock, after the
// transitions due by now, unless throttling or an injected fault refuses
// the request; its events are published once the lock is released.
func (s *Service) call(op string, h handler, body []byte) (out any, aerr *apiError) {
	s.locked(func() []Event {
		if code, msg := guard.Refuse(&s.throttle, &s.faults, "resolveremu", op, s.clk.Now()); code != "" {
			aerr = errorf(code, "%s", msg)
			return nil
		}
		var evs []Event
		out, evs, aerr = h(s, body)
		return evs
	})
	return out, aerr
}

func decode(body []byte, v any) *apiError {
	if err := awsjson.Decode(body, v); err != nil {
		return errorf("InvalidRequestException", "resolveremu: malformed request body: %v", err)
	}
	return nil
}

type configJSON struct {
	Id               string
	OwnerId          string
	ResourceId       string
	ValidationStatus string
}

func (s *Service) toJSON(c *config) configJSON {
	return configJSON{c.id, s.account, c.vpcID, c.status}
}

func (s *Service) findLocked(resourceID string) (*config, *apiError) {
	switch {
	case resourceID == "":
		return nil, invalidParameter("ResourceId", "[RSLVR-00900] Parameter ResourceId is required")
	case len(resourceID) > 64:
		return nil, invalidParameter("ResourceId", "[RSLVR-00900] ResourceId must be at most 64 characters")
	}
	c := s.vpcs[resourceID]
	if c == nil {
		return nil, errorf("ResourceNotFoundException", "[RSLVR-01307] Resource with id %s not found", resourceID)
	}
	return c, nil
}

func (s *Service) update(body []byte) (any, []Event, *apiError) {
	var in struct{ ResourceId, Validation string }
	if e := decode(body, &in); e != nil {
		return nil, nil, e
	}
	tr, ok := transitions[in.Validation]
	if !ok {
		return nil, nil, invalidParameter("Validation", "[RSLVR-00900] Validation must be one of ENABLE, DISABLE, USE_LOCAL_RESOURCE_SETTING, got %q", in.Validation)
	}
	c, e := s.findLocked(in.ResourceId)
	if e != nil {
		return nil, nil, e
	}
	// Already there (or already on the way there): nothing changes.
	if c.status == tr[1] || c.target == tr[1] {
		return struct{ ResolverDNSSECConfig configJSON }{s.toJSON(c)}, nil, nil
	}
	c.status, c.target, c.due = tr[0], tr[1], s.clk.Now().Add(s.delay)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	ev := Event{VPCID: c.vpcID, Status: c.status, Validation: validates(c.status)}
	return struct{ ResolverDNSSECConfig configJSON }{s.toJSON(c)}, []Event{ev}, nil
}

func (s *Service) get(body []byte) (any, []Event, *apiError) {
	var in struct{ ResourceId string }
	if e := decode(body, &in); e != nil {
		return nil, nil, e
	}
	c, e := s.findLocked(in.ResourceId)
	if e != nil {
		return nil, nil, e
	}
	return struct{ ResolverDNSSECConfig configJSON }{s.toJSON(c)}, nil, nil
}

func (s *Service) list(body []byte) (any, []Event, *apiError) {
	var in struct {
		MaxResults *int
		NextToken  string
		Filters    []struct {
			Name   string
			Values []string
		}
	}
	if e := decode(body, &in); e != nil {
		return nil, nil, e
	}
	limit := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, nil, invalidParameter("MaxResults", "[RSLVR-00900] MaxResults must be between 1 and 100")
		}
		limit = *in.MaxResults
	}
	var sel []configJSON
	for _, c := range s.sortedLocked() {
		keep := true
		for _, f := range in.Filters {
			switch f.Name {
			case "ResourceId":
				keep = keep && slices.Contains(f.Values, c.vpcID)
			case "ValidationStatus":
				keep = keep && slices.Contains(f.Values, c.status)
			default:
				return nil, nil, invalidParameter("Filters", "[RSLVR-00900] Unsupported filter name %q", f.Name)
			}
		}
		if keep {
			sel = append(sel, s.toJSON(c))
		}
	}
	start := 0
	if in.NextToken != "" {
		i, err := strconv.Atoi(in.NextToken)
		if err != nil || i < 0 || i > len(sel) {
			return nil, nil, errorf("InvalidNextTokenException", "[RSLVR-00901] Invalid NextToken %s", in.NextToken)
		}
		start = i
	}
	end := min(len(sel), start+limit)
	out := struct {
		ResolverDnssecConfigs []configJSON
		NextToken             string `json:",omitempty"`
	}{ResolverDnssecConfigs: append([]configJSON{}, sel[start:end]...)}
	if end < len(sel) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil, nil
}
