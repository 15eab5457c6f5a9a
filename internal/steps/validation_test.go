package steps

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	r53rtypes "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
)

const testVPC = "vpc-0a1b2c3d4e5f60718"

// fakeResolverAPI is Route 53 Resolver's DNSSEC configs in memory: a
// change stays transitional for `lag` reads.
type fakeResolverAPI struct {
	mu      sync.Mutex
	status  map[string]string
	pending map[string]int
	lag     int
	updates int
	fail    error
}

func (f *fakeResolverAPI) GetResolverDnssecConfig(_ context.Context, in *route53resolver.GetResolverDnssecConfigInput, _ ...func(*route53resolver.Options)) (*route53resolver.GetResolverDnssecConfigOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	id := aws.ToString(in.ResourceId)
	st, ok := f.status[id]
	if !ok {
		return nil, apiErr("ResourceNotFoundException")
	}
	if f.pending[id] > 0 {
		f.pending[id]--
		if f.pending[id] == 0 {
			st = map[string]string{"ENABLING": "ENABLED", "DISABLING": "DISABLED"}[st]
			f.status[id] = st
		}
	}
	return &route53resolver.GetResolverDnssecConfigOutput{ResolverDNSSECConfig: &r53rtypes.ResolverDnssecConfig{ResourceId: aws.String(id), ValidationStatus: r53rtypes.ResolverDNSSECValidationStatus(st)}}, nil
}

func (f *fakeResolverAPI) UpdateResolverDnssecConfig(_ context.Context, in *route53resolver.UpdateResolverDnssecConfigInput, _ ...func(*route53resolver.Options)) (*route53resolver.UpdateResolverDnssecConfigOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.ResourceId)
	if _, ok := f.status[id]; !ok {
		return nil, apiErr("ResourceNotFoundException")
	}
	f.updates++
	f.status[id] = map[r53rtypes.Validation]string{"ENABLE": "ENABLING", "DISABLE": "DISABLING"}[in.Validation]
	f.pending[id] = f.lag
	return &route53resolver.UpdateResolverDnssecConfigOutput{ResolverDNSSECConfig: &r53rtypes.ResolverDnssecConfig{ResourceId: aws.String(id), ValidationStatus: r53rtypes.ResolverDNSSECValidationStatus(f.status[id])}}, nil
}

func newValidationHandler(t *testing.T, res *fakeResolverAPI, now *time.Time) *Handler {
	t.Helper()
	h, err := New(Config{AccountID: account}, Deps{
		Clients:     Clients{Route53: newFakeRoute53(), KMS: newFakeKMS(), Resolver: res},
		Observer:    fakeObserver{},
		NewResolver: func() (Resolver, error) { return fakeResolver{}, nil },
		Now:         func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseValidationInput(t *testing.T) {
	for _, tc := range []struct {
		name, input, field string
		want               *ValidationState
	}{
		{name: "defaults", input: `{"vpcIds":["VPC-0A1B2C3D4E5F60718"," vpc-0a1b2c3d4e5f60718","vpc-0123abcd"],"validation":"enable"}`,
			want: &ValidationState{VPCIDs: []string{testVPC, "vpc-0123abcd"}, Validation: "ENABLE",
				Probe: ProbeNames{Bogus: DefaultBogusName, Signed: DefaultSignedName, Unsigned: DefaultUnsignedName}}},
		{name: "probe names", input: `{"vpcIds":["vpc-0123abcd"],"validation":"DISABLE","probe":{"bogusName":"www.dnssec-failed.test","signedName":"NS1.test."}}`,
			want: &ValidationState{VPCIDs: []string{"vpc-0123abcd"}, Validation: "DISABLE",
				Probe: ProbeNames{Bogus: "www.dnssec-failed.test.", Signed: "ns1.test.", Unsigned: DefaultUnsignedName}}},
		{name: "not JSON", input: `[1]`, field: "input"},
		{name: "no VPC", input: `{"validation":"ENABLE"}`, field: "vpcIds"},
		{name: "bad VPC", input: `{"vpcIds":["vpc-1","vpc-0123abcd"],"validation":"ENABLE"}`, field: "vpcIds[0]"},
		{name: "bad validation", input: `{"vpcIds":["vpc-0123abcd"],"validation":"ON"}`, field: "validation"},
		{name: "no validation", input: `{"vpcIds":["vpc-0123abcd"]}`, field: "validation"},
		{name: "bad probe name", input: `{"vpcIds":["vpc-0123abcd"],"validation":"ENABLE","probe":{"unsignedName":"a..b"}}`, field: "probe.unsignedName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseValidationInput([]byte(tc.input))
			if tc.field != "" {
				var ie *InvalidInputError
				if !errors.As(err, &ie) || ie.Field != tc.field {
					t.Fatalf("ParseValidationInput = %v, want InvalidInputError on %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidationPreflight(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		name    string
		vpcs    []string
		wantErr string // type name
	}{
		{"known", []string{testVPC}, ""},
		{"one unknown", []string{testVPC, "vpc-0123456789abcdef0"}, "VPCNotFoundError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &fakeResolverAPI{status: map[string]string{testVPC: "DISABLED"}, pending: map[string]int{}}
			h := newValidationHandler(t, res, &now)
			raw, _ := json.Marshal(map[string]any{"vpcIds": tc.vpcs, "validation": "ENABLE"})
			s, err := h.UpdateResolverValidation(context.Background(), Event{Execution: execution, Action: "preflight", State: &State{Validation: &ValidationState{Input: raw}}})
			if tc.wantErr != "" {
				var nf *VPCNotFoundError
				if !errors.As(err, &nf) || nf.VPCID != "vpc-0123456789abcdef0" {
					t.Fatalf("preflight = %v, want VPCNotFoundError of the unknown VPC", err)
				}
			} else if err != nil || s.Validation == nil || s.Validation.Input != nil || s.Workflow != WorkflowEnableValidation {
				t.Fatalf("preflight = %+v, %v", s, err)
			}
			if res.updates != 0 {
				t.Errorf("preflight made %d updates, want none", res.updates)
			}
		})
	}
}

// TestUpdateValidationPolls: the change is asked for once, polled until
// final, and a second run finds it done without asking again.
func TestUpdateValidationPolls(t *testing.T) {
	now := t0
	res := &fakeResolverAPI{status: map[string]string{testVPC: "DISABLED"}, pending: map[string]int{}, lag: 2}
	h := newValidationHandler(t, res, &now)
	st := &State{Validation: &ValidationState{Validation: "ENABLE"}}
	ev := Event{Execution: execution, VPCID: testVPC}
	var dones []bool
	for i := 0; i < 4; i++ {
		ev.State = st
		s, err := h.UpdateResolverValidation(context.Background(), ev)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		st = &s
		dones = append(dones, s.Poll.Done)
		if !s.Poll.Done && s.Poll.DelaySeconds < 1 {
			t.Errorf("call %d: not done with delay %d", i+1, s.Poll.DelaySeconds)
		}
		now = now.Add(time.Duration(s.Poll.DelaySeconds) * time.Second)
		if s.Poll.Done {
			break
		}
	}
	if diff := cmp.Diff([]bool{false, false, true}, dones); diff != "" {
		t.Errorf("poll.done per call (-want +got):\n%s", diff)
	}
	if res.updates != 1 || st.Validation.Status != "ENABLED" || !st.Validation.Updated {
		t.Errorf("updates %d, status %s, updated %t; want 1 ENABLED true", res.updates, st.Validation.Status, st.Validation.Updated)
	}
	// A new run (or a redrive) finds it done.
	s, err := h.UpdateResolverValidation(context.Background(), Event{Execution: execution, VPCID: testVPC, State: &State{Validation: &ValidationState{Validation: "ENABLE"}}})
	if err != nil || !s.Poll.Done || s.Validation.Updated || res.updates != 1 {
		t.Errorf("second run = done %t updated %t (%d updates), %v; want done without update", s.Poll.Done, s.Validation.Updated, res.updates, err)
	}
}

func TestUpdateValidationErrors(t *testing.T) {
	now := t0
	res := &fakeResolverAPI{status: map[string]string{testVPC: "DISABLED"}, pending: map[string]int{}, lag: 1 << 30}
	h := newValidationHandler(t, res, &now)
	ev := func(s *State) Event { return Event{Execution: execution, VPCID: testVPC, State: s} }

	// Never final: PropagationTimeoutError once the budget is spent.
	st := &State{Validation: &ValidationState{Validation: "ENABLE"}}
	var err error
	for i := 0; i < 100; i++ {
		var s State
		if s, err = h.UpdateResolverValidation(context.Background(), ev(st)); err != nil {
			break
		}
		st = &s
		now = now.Add(time.Duration(s.Poll.DelaySeconds) * time.Second)
	}
	var pe *PropagationTimeoutError
	if !errors.As(err, &pe) || pe.Zone != testVPC {
		t.Errorf("never final = %v, want PropagationTimeoutError naming the VPC", err)
	}

	// Throttled: ServiceBusyError.
	res.fail = apiErr("ThrottlingException")
	if _, err := h.UpdateResolverValidation(context.Background(), ev(&State{Validation: &ValidationState{Validation: "ENABLE"}})); !errors.As(err, new(*ServiceBusyError)) {
		t.Errorf("throttled = %v, want ServiceBusyError", err)
	}
	res.fail = nil

	// Unknown VPC, no state, bad action.
	if _, err := h.UpdateResolverValidation(context.Background(), Event{VPCID: "vpc-0123abcd", State: &State{Validation: &ValidationState{Validation: "ENABLE"}}}); !errors.As(err, new(*VPCNotFoundError)) {
		t.Errorf("unknown VPC = %v, want VPCNotFoundError", err)
	}
	if _, err := h.UpdateResolverValidation(context.Background(), Event{VPCID: testVPC}); !errors.As(err, new(*StateError)) {
		t.Errorf("no state = %v, want StateError", err)
	}
	if _, err := h.UpdateResolverValidation(context.Background(), Event{Action: "nope", State: &State{Validation: &ValidationState{}}}); !errors.As(err, new(*StateError)) {
		t.Errorf("bad action = %v, want StateError", err)
	}
}

// fakeVPCResolver answers A queries on loopback: names in servfail get
// SERVFAIL, every other name an address.
func fakeVPCResolver(t *testing.T, servfail ...string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		for _, n := range servfail {
			if n == name {
				m.Rcode = dns.RcodeServerFailure
			}
		}
		if m.Rcode == dns.RcodeSuccess {
			rr, _ := dns.NewRR(name + " 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func TestProbeVPC(t *testing.T) {
	now := t0
	probe := ProbeNames{Bogus: "www.dnssec-failed.test.", Signed: "ns1.test.", Unsigned: "www.example.test."}
	for _, tc := range []struct {
		name, validation string
		servfail         []string
		wantErr          bool
		bad              string // the domain of the mismatched row
	}{
		{"on: bogus SERVFAIL", "ENABLE", []string{probe.Bogus}, false, ""},
		{"off: bogus resolves", "DISABLE", nil, false, ""},
		{"on but bogus resolves", "ENABLE", nil, true, "bogus"},
		{"off but bogus SERVFAIL", "DISABLE", []string{probe.Bogus}, true, "bogus"},
		{"unsigned fails", "ENABLE", []string{probe.Bogus, probe.Unsigned}, true, "unsigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newValidationHandler(t, &fakeResolverAPI{}, &now).ForVPC(fakeVPCResolver(t, tc.servfail...))
			h.cfg.DNSClient = &dnsquery.Client{Timeout: time.Second, Attempts: 1}
			s, err := h.ProbeVPC(context.Background(), Event{VPCID: testVPC, State: &State{Validation: &ValidationState{Validation: tc.validation, Probe: probe}}})
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Validation.Table) != 3 || s.Validation.VPCID != testVPC {
					t.Fatalf("table %+v for %s", s.Validation.Table, s.Validation.VPCID)
				}
				for _, r := range s.Validation.Table {
					if !r.OK {
						t.Errorf("row %+v not ok", r)
					}
				}
				return
			}
			var pe *ValidationProbeError
			if !errors.As(err, &pe) {
				t.Fatalf("ProbeVPC = %v, want ValidationProbeError", err)
			}
			for _, r := range pe.Table {
				if r.OK == (r.Domain == tc.bad) {
					t.Errorf("row %+v: ok %t, want %t", r, r.OK, r.Domain != tc.bad)
				}
			}
			if !strings.Contains(pe.Error(), "MISMATCH") || !strings.Contains(pe.Error(), testVPC) {
				t.Errorf("cause lacks the table: %s", pe.Error())
			}
		})
	}
	// No resolver address: a named error, no query.
	h := newValidationHandler(t, &fakeResolverAPI{}, &now)
	if _, err := h.ProbeVPC(context.Background(), Event{VPCID: testVPC, State: &State{Validation: &ValidationState{Validation: "ENABLE", Probe: probe}}}); !errors.As(err, new(*UnexpectedError)) {
		t.Errorf("no resolver = %v, want UnexpectedError", err)
	}
}

func TestParseResolverAddr(t *testing.T) {
	for in, want := range map[string]string{"169.254.169.253": "169.254.169.253:53", "10.0.0.2:5353": "10.0.0.2:5353", "[fd00:ec2::253]": "[fd00:ec2::253]:53"} {
		got, err := parseResolverAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseResolverAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseResolverAddr("resolver"); err == nil {
		t.Error("parseResolverAddr(resolver) = nil error")
	}
}
