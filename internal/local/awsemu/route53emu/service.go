package route53emu

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	// AccountID is the local account.
	AccountID = "123456789012"
	// Region is the only region whose KMS keys Route 53 accepts for DNSSEC.
	Region = "us-east-1"

	// DefaultPropagationDelay is how long a change stays PENDING: Route 53
	// documents that changes generally reach all its name servers within
	// 60 seconds.
	DefaultPropagationDelay = 60 * time.Second
	// DefaultThrottleRate is Route 53's documented quota: five requests per
	// second per account.
	DefaultThrottleRate = 5
	// DefaultThrottleBurst lets one second's worth of requests through at
	// once, as a token bucket of Route 53's rate.
	DefaultThrottleBurst = 5
	// ParentQueryTimeout bounds each question to the Parent.
	ParentQueryTimeout = 10 * time.Second

	// maxBody bounds a request body: a change batch is limited to 32,000
	// characters of values and 1,000 records, far below it.
	maxBody = 1 << 20
)

// KMS is what the emulator needs of the KMS emulator (*kmsemu.Service
// satisfies it).
type KMS interface {
	// LookupKey describes a key; it fails for a key it cannot see.
	LookupKey(arnOrID string) (kmsemu.KeyInfo, error)
	// Allows evaluates the key policy for a service principal's action.
	Allows(keyARN, servicePrincipal, action string, ctx map[string]string) (bool, error)
	// Signer signs with the key; every Sign call checks the key state.
	Signer(keyARN string) (crypto.Signer, error)
	// PublicKey returns the key's public half.
	PublicKey(keyARN string) (*ecdsa.PublicKey, error)
	// Subscribe registers a function called after every key change.
	Subscribe(func(kmsemu.KeyEvent))
}

// Parent answers what the parent zone's name servers serve for a zone. The
// local stack implements it with real DNS queries of every server of the
// parent zone; an error means the answer is unknown, and the guards that ask
// refuse rather than guess.
type Parent interface {
	// DSServed returns the DS records any parent server serves for zone
	// (a fully qualified name); none when the parent serves no DS.
	DSServed(ctx context.Context, zone string) ([]*dns.DS, error)
	// NSServed returns the name servers the parent delegates zone to
	// (fully qualified); none when zone is not delegated.
	NSServed(ctx context.Context, zone string) ([]string, error)
}

// Options configures a Service. The zero value is usable: real clock, no
// KMS (every KMS ARN is refused), no parent checks.
type Options struct {
	Clock  clock.Clock
	KMS    KMS
	Parent Parent
	// NameServerDomains are the domains of the generated name servers:
	// the i-th server of a delegation set is
	// "ns-N.awsdns-NN.<NameServerDomains[i % len]>", as Route 53 spreads a
	// set over com, net, org and co.uk. Default: ["test."].
	NameServerDomains []string
	// Seed makes the generated IDs and name servers reproducible.
	Seed uint64
}

// Service is the Route 53 emulator: an http.Handler for the REST-XML API
// and a Go API for the local name servers. It is safe for concurrent use.
type Service struct {
	clock     clock.Clock
	kms       KMS
	parent    Parent
	nsDomains []string

	throttle guard.Throttle
	stats    stats
	due      dueHeap      // guarded by mu
	created  int          // hosted zones ever created, guarded by mu
	faults   guard.Faults // by operation

	mu         sync.Mutex
	rng        *rand.Rand
	zones      map[string]*zone  // by ID
	callerRefs map[string]string // CreateHostedZone caller reference -> zone ID
	changes    map[string]*change
	delay      time.Duration

	subMu   sync.Mutex
	subs    map[int]func(zoneID string)
	nextSub int

	evMu     sync.Mutex
	keyEvs   []kmsemu.KeyEvent
	draining bool

	done      chan struct{}
	closeOnce sync.Once
}

// New returns an emulator with no hosted zones.
func New(opts Options) *Service {
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = 53
	}
	nsDomains := []string{defaultNameServerDomain}
	if len(opts.NameServerDomains) > 0 {
		nsDomains = nil
		for _, d := range opts.NameServerDomains {
			nsDomains = append(nsDomains, dns.CanonicalName(d))
		}
	}
	s := &Service{
		nsDomains:  nsDomains,
		clock:      clk,
		kms:        opts.KMS,
		parent:     opts.Parent,
		rng:        rand.New(rand.NewPCG(seed, seed^0x5e53)),
		zones:      map[string]*zone{},
		callerRefs: map[string]string{},
		changes:    map[string]*change{},
		delay:      DefaultPropagationDelay,
		subs:       map[int]func(string){},
		done:       make(chan struct{}),
	}
	s.throttle.Set(DefaultThrottleRate, DefaultThrottleBurst, clk.Now())
	if s.kms != nil {
		s.kms.Subscribe(s.onKeyEvent)
	}
	return s
}

// Close stops the goroutines that wait for changes to become INSYNC (to
// notify subscribers). The Service keeps answering.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// SetPropagationDelay sets how long later changes stay PENDING (0: INSYNC
// at once).
func (s *Service) SetPropagationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = max(d, 0)
}

// SetThrottle sets the account's token bucket: ratePerSecond requests per
// second on the clock, up to burst at once. A rate <= 0 turns throttling
// off.
func (s *Service) SetThrottle(ratePerSecond float64, burst int) {
	s.throttle.Set(ratePerSecond, burst, s.clock.Now())
}

// InjectError makes the next n calls of operation (e.g.
// "ChangeResourceRecordSets") fail with code (e.g.
// "PriorRequestNotComplete", "ConcurrentModification") before doing
// anything, with the code's HTTP status. Injections queue after the
// faults already injected; n <= 0 injects nothing.
func (s *Service) InjectError(operation, code string, n int) {
	if n > 0 {
		s.faults.Inject(operation, code, n)
	}
}

// admit applies the throttle and the injected faults to one request.
func (s *Service) admit(op string) *apiError {
	now := s.clock.Now()
	if !s.throttle.Allow(now) {
		s.stats.record(op, now, false)
		return &apiError{Code: CodeThrottling, Message: "Rate exceeded"}
	}
	s.stats.record(op, now, true)
	if code := s.faults.Take(op); code != "" {
		msg := defaultMessage[code]
		if msg == "" {
			msg = "injected fault"
		}
		return &apiError{Code: code, Message: msg}
	}
	return nil
}

// reply is a successful answer.
type reply struct {
	status   int
	location string
	body     any
}

type handler func(r *http.Request, args []string) (reply, *apiError)

// route finds the operation of a request: its name, the path parameters
// and the handler.
func (s *Service) route(r *http.Request) (string, []string, handler) {
	const prefix = "/2013-04-01/"
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, prefix) {
		return "", nil, nil
	}
	raw := strings.Split(strings.TrimPrefix(path, prefix), "/")
	if n := len(raw); n > 1 && raw[n-1] == "" {
		raw = raw[:n-1] // ChangeResourceRecordSets posts to .../rrset/
	}
	seg := make([]string, len(raw))
	for i, p := range raw {
		u, err := url.PathUnescape(p)
		if err != nil {
			return "", nil, nil
		}
		seg[i] = u
	}
	m := r.Method
	switch {
	case len(seg) == 1 && seg[0] == "hostedzone" && m == http.MethodPost:
		return "CreateHostedZone", nil, s.createHostedZone
	case len(seg) == 1 && seg[0] == "hostedzone" && m == http.MethodGet:
		return "ListHostedZones", nil, s.listHostedZones
	case len(seg) == 1 && seg[0] == "hostedzonesbyname" && m == http.MethodGet:
		return "ListHostedZonesByName", nil, s.listHostedZonesByName
	case len(seg) == 2 && seg[0] == "hostedzone" && m == http.MethodGet:
		return "GetHostedZone", seg[1:], s.getHostedZone
	case len(seg) == 2 && seg[0] == "hostedzone" && m == http.MethodDelete:
		return "DeleteHostedZone", seg[1:], s.deleteHostedZone
	case len(seg) == 3 && seg[0] == "hostedzone" && seg[2] == "rrset" && m == http.MethodPost:
		return "ChangeResourceRecordSets", seg[1:2], s.changeResourceRecordSets
	case len(seg) == 3 && seg[0] == "hostedzone" && seg[2] == "rrset" && m == http.MethodGet:
		return "ListResourceRecordSets", seg[1:2], s.listResourceRecordSets
	case len(seg) == 3 && seg[0] == "hostedzone" && seg[2] == "dnssec" && m == http.MethodGet:
		return "GetDNSSEC", seg[1:2], s.getDNSSEC
	case len(seg) == 3 && seg[0] == "hostedzone" && seg[2] == "enable-dnssec" && m == http.MethodPost:
		return "EnableHostedZoneDNSSEC", seg[1:2], s.enableDNSSEC
	case len(seg) == 3 && seg[0] == "hostedzone" && seg[2] == "disable-dnssec" && m == http.MethodPost:
		return "DisableHostedZoneDNSSEC", seg[1:2], s.disableDNSSEC
	case len(seg) == 2 && seg[0] == "change" && m == http.MethodGet:
		return "GetChange", seg[1:], s.getChange
	case len(seg) == 1 && seg[0] == "keysigningkey" && m == http.MethodPost:
		return "CreateKeySigningKey", nil, s.createKSK
	case len(seg) == 4 && seg[0] == "keysigningkey" && seg[3] == "activate" && m == http.MethodPost:
		return "ActivateKeySigningKey", seg[1:3], s.activateKSK
	case len(seg) == 4 && seg[0] == "keysigningkey" && seg[3] == "deactivate" && m == http.MethodPost:
		return "DeactivateKeySigningKey", seg[1:3], s.deactivateKSK
	case len(seg) == 2 && seg[0] == "tags" && m == http.MethodPost:
		return "ListTagsForResources", seg[1:], s.listTagsForResources
	case len(seg) == 3 && seg[0] == "tags" && m == http.MethodPost:
		return "ChangeTagsForResource", seg[1:], s.changeTagsForResource
	case len(seg) == 3 && seg[0] == "tags" && m == http.MethodGet:
		return "ListTagsForResource", seg[1:], s.listTagsForResource
	case len(seg) == 3 && seg[0] == "keysigningkey" && m == http.MethodDelete:
		return "DeleteKeySigningKey", seg[1:3], s.deleteKSK
	}
	return "", nil, nil
}

// ServeHTTP answers one Route 53 API request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := s.newRequestID()
	op, args, h := s.route(r)
	if h == nil {
		writeError(w, requestID, errorf(CodeInvalidAction,
			"route53emu does not serve %s %s (not an emulated Route 53 operation)", r.Method, r.URL.Path))
		return
	}
	if aerr := s.admit(op); aerr != nil {
		writeError(w, requestID, aerr)
		return
	}
	rep, aerr := h(r, args)
	if aerr != nil {
		writeError(w, requestID, aerr)
		return
	}
	if rep.location != "" {
		w.Header().Set("Location", rep.location)
	}
	writeXML(w, rep.status, requestID, rep.body)
}

// decodeBody reads an XML request document into v.
func decodeBody(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return errorf(CodeInvalidInput, "Invalid XML ; could not read the request body: %v", err)
	}
	if len(body) > maxBody {
		return errorf(CodeInvalidInput, "Invalid XML ; the request body is larger than %d bytes", maxBody)
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return errorf(CodeInvalidInput, "Invalid XML ; %v", err)
	}
	return nil
}

// Identifiers.

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newID returns prefix and n random upper-case letters and digits, as Route
// 53's zone ("Z...") and change ("C...") IDs look. Callers hold s.mu.
func (s *Service) newID(prefix string, n int) string {
	b := []byte(prefix)
	for range n {
		b = append(b, idAlphabet[s.rng.IntN(len(idAlphabet))])
	}
	return string(b)
}

func (s *Service) newRequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := [2]uint64{s.rng.Uint64(), s.rng.Uint64()}
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", u[0]>>32, u[0]>>16&0xffff, u[0]&0xffff, u[1]>>48, u[1]&0xffffffffffff)
}

// cleanID strips the "/hostedzone/" or "/change/" prefix the API's own
// answers carry, as the SDK does.
func cleanID(id string) string {
	id = strings.TrimPrefix(id, "/hostedzone/")
	id = strings.TrimPrefix(id, "/change/")
	return id
}
