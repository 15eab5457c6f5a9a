// Package stack starts the whole local stack on loopback with one clock:
// the AWS API emulators (Route 53, KMS, Route 53 Domains, Route 53 Resolver,
// SNS) behind one HTTP endpoint for AWS_ENDPOINT_URL, the DNS tree (a signed
// root, the registry of "test.", the Route 53-style name servers of every
// hosted zone), a validating resolver per VPC that follows its Route 53
// Resolver DNSSEC configuration, the deliberately bogus zone
// dnssec-failed.test., the Route 53 DNSSEC CloudWatch metrics with their
// alarms and EventBridge events, a resolver population that counts every
// answer a change broke, and the faults tests inject.
//
// The clock is the real one (short TTLs and signature validity, so that dig,
// delv and unbound can watch changes within minutes) or a *clock.Virtual
// (Route 53's real TTLs and validity; days pass in milliseconds). Whoever
// moves a virtual clock (a test, or the States Language runner that
// auto-advances it) gets, through the clock's hooks, the population's
// queries up to the new time run first, against the zones as they were, and
// then every transition due at the new time applied (Route 53 Domains
// operations, Resolver configurations, KMS deletions, alarm evaluations)
// before Advance or Set returns.
//
// SetupScenario adds the ready-made scenario of `dnssecctl local up`; the
// Endpoints describe everything a person or a tool needs to reach the stack.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/domainsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/resolveremu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/snsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnstree"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/vpcresolver"
)

// The local account and the static credentials printed for clients. The
// emulators accept any credentials signed for us-east-1; these are the ones
// the endpoints description hands out.
const (
	AccountID       = "123456789012"
	Region          = "us-east-1"
	AccessKeyID     = "AKIALOCALSTACK000000"
	SecretAccessKey = "local-stack-secret-access-key"
)

// Policy numbers, each with the reason it has this value.
const (
	// sweepInterval is how often, on the real clock, KMS keys whose
	// deletion window ended are deleted: KMS windows last days, so a
	// minute late is invisible.
	sweepInterval = time.Minute
	// readHeaderTimeout bounds a client that opens a connection and sends
	// nothing.
	readHeaderTimeout = 10 * time.Second
	// queryTimeout and queryAttempts bound the stack's own DNS queries
	// (parent guards, population, VPC resolvers): loopback answers in
	// microseconds, a dead server must not hold anything for long.
	queryTimeout  = 500 * time.Millisecond
	queryAttempts = 2
)

// Timing is the stack's time policy.
type Timing struct {
	// MaxTTL caps every TTL the DNS tree serves (0: none, the real values:
	// Route 53's DNSKEY 3600, the registry's DS 86400 and NS 172800).
	MaxTTL uint32
	// Validity and Refresh are the signature validity and refresh interval
	// of every zone (0: Route 53's two weeks and one day).
	Validity, Refresh time.Duration
	// PropagationDelay is how long a Route 53 change stays PENDING.
	PropagationDelay time.Duration
	// DomainsSubmitted and DomainsInProgress are how long a Route 53
	// Domains operation stays SUBMITTED, then IN_PROGRESS.
	DomainsSubmitted, DomainsInProgress time.Duration
	// ResolverTransition is how long a Resolver DNSSEC change stays
	// ENABLING or DISABLING.
	ResolverTransition time.Duration
	// AlarmPeriod is the period of the DNSSEC alarms (see Alarm).
	AlarmPeriod time.Duration
	// RecordTTL is the TTL of the scenario's records.
	RecordTTL int64
}

// VirtualTiming is the timing of a stack on a virtual clock: Route 53's,
// the registries' and the AWS APIs' real values.
func VirtualTiming() Timing {
	return Timing{
		PropagationDelay:   route53emu.DefaultPropagationDelay,
		DomainsSubmitted:   domainsemu.DefaultSubmittedDelay,
		DomainsInProgress:  domainsemu.DefaultInProgressDelay,
		ResolverTransition: resolveremu.DefaultTransitionDelay,
		AlarmPeriod:        DefaultAlarmPeriod,
		RecordTTL:          300,
	}
}

// RealTiming is the timing of a stack on the real clock: TTLs of a minute
// and signatures valid for ten minutes, so that outside tools see a
// rotation, or a lost key break a zone, while they watch; API delays of
// seconds.
func RealTiming() Timing {
	return Timing{
		MaxTTL:             60,
		Validity:           10 * time.Minute,
		Refresh:            time.Minute,
		PropagationDelay:   5 * time.Second,
		DomainsSubmitted:   5 * time.Second,
		DomainsInProgress:  10 * time.Second,
		ResolverTransition: 5 * time.Second,
		AlarmPeriod:        DefaultAlarmPeriod,
		RecordTTL:          60,
	}
}

// Options configure a Stack.
type Options struct {
	// Clock is clock.Real{} (the default) or a *clock.Virtual.
	Clock clock.Clock
	// Timing is the time policy; nil means RealTiming on the real clock
	// and VirtualTiming on a virtual one.
	Timing *Timing
	// Seed makes the generated IDs and name servers reproducible.
	Seed uint64
}

// Stack is a running local stack.
type Stack struct {
	clk     clock.Clock
	virtual *clock.Virtual
	timing  Timing

	kms    *kmsemu.Service
	r53    *route53emu.Service
	dom    *domainsemu.Service
	res    *resolveremu.Service
	sns    *snsemu.Service
	tree   *dnstree.Tree
	bogus  *bogusZone
	alarms *alarms

	httpSrv  *http.Server
	endpoint string
	// router is the AWS endpoint's current router; AddService swaps it.
	router atomic.Pointer[awsemu.Router]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	unhook func()

	mu        sync.Mutex
	services  map[string]http.Handler // by awsemu.Service* name
	vpcs      map[string]*vpcresolver.Server
	domains   []string
	pop       *population.Population
	popCancel context.CancelFunc
	scenario  *Scenario
	closed    bool
}

// Start starts the stack with no hosted zone, domain or VPC (see
// SetupScenario). Close stops it.
func Start(opts Options) (_ *Stack, err error) {
	s := &Stack{clk: opts.Clock, vpcs: map[string]*vpcresolver.Server{}}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	s.virtual, _ = s.clk.(*clock.Virtual)
	switch {
	case opts.Timing != nil:
		s.timing = *opts.Timing
	case s.virtual != nil:
		s.timing = VirtualTiming()
	default:
		s.timing = RealTiming()
	}
	if s.timing.AlarmPeriod <= 0 {
		s.timing.AlarmPeriod = DefaultAlarmPeriod
	}
	if s.timing.RecordTTL <= 0 {
		s.timing.RecordTTL = 300
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.kms = kmsemu.New(s.clk)
	parent := &dnstree.Parent{Client: dnsquery.Client{Timeout: queryTimeout, Attempts: queryAttempts}}
	s.r53 = route53emu.New(route53emu.Options{Clock: s.clk, KMS: s.kms, Parent: parent, Seed: opts.Seed})
	s.r53.SetPropagationDelay(s.timing.PropagationDelay)
	s.dom = domainsemu.New(s.clk, domainsemu.WithOperationDelays(s.timing.DomainsSubmitted, s.timing.DomainsInProgress))
	s.res = resolveremu.New(s.clk, resolveremu.WithTransitionDelay(s.timing.ResolverTransition))
	s.sns = snsemu.New(s.clk)

	s.tree, err = dnstree.Start(dnstree.Config{
		Clock: s.clk, Route53: s.r53, Registrar: s.dom, Parent: parent,
		Validity: s.timing.Validity, Refresh: s.timing.Refresh, MaxTTL: s.timing.MaxTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	s.bogus, err = startBogusZone(s.clk, s.timing, s.tree)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	s.alarms = newAlarms(s.ctx, s.r53, s.timing.AlarmPeriod, opts.Seed)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stack: AWS endpoint: %w", err)
	}
	s.endpoint = "http://" + ln.Addr().String()
	s.services = map[string]http.Handler{
		awsemu.ServiceRoute53: s.r53, awsemu.ServiceKMS: s.kms, awsemu.ServiceDomains: s.dom,
		awsemu.ServiceResolver: s.res, awsemu.ServiceSNS: s.sns,
	}
	s.router.Store(awsemu.NewRouter(s.services))
	s.httpSrv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.router.Load().ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: readHeaderTimeout,
	}
	s.wg.Go(func() { s.httpSrv.Serve(ln) })
	s.wg.Go(func() { s.dom.Run(s.ctx) })
	s.wg.Go(func() { s.res.Run(s.ctx) })
	s.wg.Go(func() { s.alarms.run(s.ctx) })
	if s.virtual != nil {
		s.unhook = s.virtual.Hook(clock.Hooks{Before: s.beforeMove, After: s.afterMove})
	} else {
		s.wg.Go(s.realClockLoop)
	}
	return s, nil
}

// realClockLoop does on the real clock what the hooks do on a virtual
// one: KMS deletions and alarm evaluations when they fall due.
func (s *Stack) realClockLoop() {
	nextSweep := s.clk.Now().Add(sweepInterval)
	for {
		now := s.clk.Now()
		wait := min(s.alarms.nextEvaluation(now).Sub(now), nextSweep.Sub(now))
		select {
		case <-s.ctx.Done():
			return
		case <-s.clk.After(max(wait, time.Millisecond)):
		}
		now = s.clk.Now()
		if !now.Before(nextSweep) {
			s.kms.Sweep()
			nextSweep = now.Add(sweepInterval)
		}
		s.alarms.evaluate(now)
	}
}

// beforeMove runs the population's queries due up to to, while the zones
// are still as they were.
func (s *Stack) beforeMove(_, to time.Time) {
	s.mu.Lock()
	pop := s.pop
	s.mu.Unlock()
	if pop != nil {
		pop.Tick(s.ctx, to)
	}
}

// afterMove applies every transition due by now, so that whoever moved
// the clock finds them done.
func (s *Stack) afterMove(now time.Time) {
	s.settle(now)
}

func (s *Stack) settle(now time.Time) {
	s.kms.Sweep()
	s.mu.Lock()
	domains := slices.Clone(s.domains)
	vpcs := make([]string, 0, len(s.vpcs))
	for id := range s.vpcs {
		vpcs = append(vpcs, id)
	}
	s.mu.Unlock()
	for _, d := range domains {
		s.dom.DS(d) // applies the operations due
	}
	for _, id := range vpcs {
		s.res.Status(id) // applies the transitions due
	}
	s.tree.SyncDue(now)
	s.alarms.evaluate(now)
}

// Close stops everything the stack started.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	vpcs := s.vpcs
	s.vpcs = map[string]*vpcresolver.Server{}
	if s.popCancel != nil {
		s.popCancel()
	}
	s.pop = nil
	s.mu.Unlock()
	if s.unhook != nil {
		s.unhook()
	}
	s.cancel()
	var errs []error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, s.httpSrv.Close())
		}
		cancel()
	}
	for _, v := range vpcs {
		errs = append(errs, v.Close())
	}
	if s.bogus != nil {
		errs = append(errs, s.bogus.close())
	}
	if s.tree != nil {
		errs = append(errs, s.tree.Close())
	}
	if s.r53 != nil {
		s.r53.Close()
	}
	s.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stack: close: %w", err)
	}
	return nil
}

// Clock returns the stack's clock.
func (s *Stack) Clock() clock.Clock { return s.clk }

// Virtual returns the stack's virtual clock, or nil on the real clock.
// Advance and Set on it run the population and apply due transitions (see
// the package documentation); give it to the States Language runner as is.
func (s *Stack) Virtual() *clock.Virtual { return s.virtual }

// Timing returns the stack's time policy.
func (s *Stack) Timing() Timing { return s.timing }

// Endpoint returns the URL of the AWS API endpoint (AWS_ENDPOINT_URL).
func (s *Stack) Endpoint() string { return s.endpoint }

// AWSConfig returns an SDK configuration for the stack: its endpoint,
// us-east-1 and the static credentials. Clients built from it talk to the
// emulators unchanged.
func (s *Stack) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.endpoint),
	}
}

// Route53 returns the Route 53 emulator.
func (s *Stack) Route53() *route53emu.Service { return s.r53 }

// KMS returns the KMS emulator.
func (s *Stack) KMS() *kmsemu.Service { return s.kms }

// Domains returns the Route 53 Domains emulator.
func (s *Stack) Domains() *domainsemu.Service { return s.dom }

// Resolver returns the Route 53 Resolver emulator.
func (s *Stack) Resolver() *resolveremu.Service { return s.res }

// SNS returns the SNS emulator (Messages lists what was published).
func (s *Stack) SNS() *snsemu.Service { return s.sns }

// Tree returns the DNS tree.
func (s *Stack) Tree() *dnstree.Tree { return s.tree }

// RootServers returns the addresses of the root's servers.
func (s *Stack) RootServers() []netip.AddrPort { return s.tree.RootServers() }

// TrustAnchors returns the root's trust anchor as DS records.
func (s *Stack) TrustAnchors() []dns.RR { return s.tree.TrustAnchors() }

// ResolverConfig returns a configuration for package dnssec's resolver
// that iterates from the stack's root with its trust anchor and clock.
func (s *Stack) ResolverConfig() dnssec.Config {
	return dnssec.Config{
		Roots:   s.tree.RootServers(),
		Anchors: s.tree.TrustAnchors(),
		Now:     s.clk.Now,
		Client:  &dnsquery.Client{Timeout: queryTimeout, Attempts: queryAttempts},
	}
}

// RegisterDomain registers name with Route 53 Domains and delegates it in
// the TLD to nameservers.
func (s *Stack) RegisterDomain(name string, nameservers []string) error {
	if err := s.tree.RegisterDomain(name, nameservers); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.domains, name) {
		s.domains = append(s.domains, name)
	}
	return nil
}

// AddVPC creates a VPC in the Resolver emulator (validation DISABLED) and
// starts its resolver on a free loopback port.
func (s *Stack) AddVPC(vpcID string) (netip.AddrPort, error) {
	if err := s.res.AddVPC(vpcID); err != nil {
		return netip.AddrPort{}, fmt.Errorf("stack: %w", err)
	}
	s.mu.Lock()
	if v := s.vpcs[vpcID]; v != nil {
		s.mu.Unlock()
		return v.Addr(), nil
	}
	s.mu.Unlock()
	v, err := vpcresolver.Start(vpcresolver.Config{
		VPCID:      vpcID,
		Listen:     netip.MustParseAddrPort("127.0.0.1:0"),
		Resolver:   s.ResolverConfig(),
		Validation: func() bool { return s.res.Validation(vpcID) },
	})
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("stack: VPC %s: %w", vpcID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		v.Close()
		return netip.AddrPort{}, errors.New("stack: closed")
	}
	s.vpcs[vpcID] = v
	return v.Addr(), nil
}

// VPCResolver returns the address of the resolver of vpcID.
func (s *Stack) VPCResolver(vpcID string) (netip.AddrPort, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vpcs[vpcID]
	if v == nil {
		return netip.AddrPort{}, false
	}
	return v.Addr(), true
}

// VPCs returns the IDs of the stack's VPCs, sorted.
func (s *Stack) VPCs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.vpcs))
	for id := range s.vpcs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
