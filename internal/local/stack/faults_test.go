package stack

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	domtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/aws/smithy-go"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
)

// TestKMSFaultsMakeKSKActionNeeded checks each KMS fault of the stack: the
// KSK becomes ACTION_NEEDED, as GetDNSSEC reports it, and the alarm over
// DNSSECKeySigningKeysNeedingAction fires.
func TestKMSFaultsMakeKSKActionNeeded(t *testing.T) {
	tests := []struct {
		name  string
		fault func(ctx context.Context, s *Stack, keyARN string) error
	}{
		{"disabled", func(ctx context.Context, s *Stack, arn string) error { return s.DisableKMSKey(ctx, arn) }},
		{"scheduled for deletion", func(ctx context.Context, s *Stack, arn string) error { return s.ScheduleKMSKeyDeletion(ctx, arn, 7) }},
		{"policy without Route 53", func(ctx context.Context, s *Stack, arn string) error { return s.RemoveRoute53FromKeyPolicy(ctx, arn) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, virtualOpts())
			alarms := recordAlarms(e.s)
			arn := e.signZone(t, e.sc.ZoneID, "ksk_a")
			e.s.Virtual().Advance(DefaultAlarmPeriod)
			alarms.none(t, "with a healthy key")
			if err := tt.fault(context.Background(), e.s, arn); err != nil {
				t.Fatal(err)
			}
			k, _ := e.ksk(t, e.sc.ZoneID)
			if got := aws.ToString(k.Status); got != "ACTION_NEEDED" {
				t.Errorf("KSK status = %s (%s), want ACTION_NEEDED", got, aws.ToString(k.StatusMessage))
			}
			e.s.Virtual().Advance(DefaultAlarmPeriod)
			checkAlarmEvent(t, alarms.next(t, "after the fault"), e.sc.ZoneID, MetricKSKsNeedingAction, AlarmOK, DefaultAlarmPeriod)
		})
	}
}

// TestInternalFailureAlarm checks the other metric: a zone whose signing
// is in INTERNAL_FAILURE alarms on DNSSECInternalFailure, the first
// evaluation of a new alarm going from INSUFFICIENT_DATA.
func TestInternalFailureAlarm(t *testing.T) {
	e := newEnv(t, virtualOpts())
	alarms := recordAlarms(e.s)
	if err := e.s.Route53().SetSigningStatus(e.sc.ChildZoneID, route53emu.InternalFailure, "injected"); err != nil {
		t.Fatal(err)
	}
	e.s.Virtual().Advance(DefaultAlarmPeriod)
	checkAlarmEvent(t, alarms.next(t, "for the internal failure"), e.sc.ChildZoneID, MetricInternalFailure, AlarmInsufficientData, DefaultAlarmPeriod)
	// Every other alarm went to OK (not delivered to subscribers, kept in
	// AlarmEvents) and the alarm stays in ALARM without a new event.
	alarms.none(t, "for the alarms that went to OK")
	e.s.Virtual().Advance(DefaultAlarmPeriod)
	alarms.none(t, "after a second period in ALARM")
	states := map[string]string{}
	for _, a := range e.s.Alarms() {
		states[a.Name] = a.State
	}
	want := map[string]string{
		AlarmName(e.sc.ZoneID, MetricInternalFailure):        AlarmOK,
		AlarmName(e.sc.ZoneID, MetricKSKsNeedingAction):      AlarmOK,
		AlarmName(e.sc.ChildZoneID, MetricInternalFailure):   AlarmAlarm,
		AlarmName(e.sc.ChildZoneID, MetricKSKsNeedingAction): AlarmOK,
	}
	for name, st := range want {
		if states[name] != st {
			t.Errorf("alarm %s = %q, want %s", name, states[name], st)
		}
	}
	if got := len(e.s.AlarmEvents()); got != 4 {
		t.Errorf("AlarmEvents() has %d events, want 4 (three to OK, one to ALARM)", got)
	}
}

// TestDNSFaults checks the DNS faults: a lagging and a dead parent server,
// a failing and a lagging zone server, truncated UDP everywhere.
func TestDNSFaults(t *testing.T) {
	e := newEnv(t, virtualOpts())
	ctx := context.Background()
	c := &dnsquery.Client{Timeout: 200 * time.Millisecond, Attempts: 1}
	e.signZone(t, e.sc.ZoneID, "ksk_a")

	const lag = time.Hour
	if err := e.s.SetParentLag(1, lag); err != nil {
		t.Fatal(err)
	}
	e.dsViaDomains(t, "example.test", e.sc.ZoneID)
	tld := e.s.Tree().TLDServers()
	dsAt := func(i int) int {
		r, err := c.Exchange(ctx, tld[i], "example.test.", dns.TypeDS)
		if err != nil {
			t.Fatalf("TLD server %d: %v", i, err)
		}
		return answers(r, dns.TypeDS)
	}
	if got := [2]int{dsAt(0), dsAt(1)}; got != [2]int{1, 0} {
		t.Errorf("DS at the TLD servers right after the operation = %v, want [1 0] (server 1 lags %v)", got, lag)
	}
	e.s.Virtual().Advance(lag)
	if got := [2]int{dsAt(0), dsAt(1)}; got != [2]int{1, 1} {
		t.Errorf("DS at the TLD servers after the lag = %v, want [1 1]", got)
	}

	if err := e.s.SetParentFaults(0, authserver.Faults{Drop: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exchange(ctx, tld[0], "example.test.", dns.TypeDS); !errors.Is(err, dnsquery.ErrNoAnswer) {
		t.Errorf("dead TLD server: %v, want no answer", err)
	}
	if res := e.validate(t, "www.example.test.", dns.TypeA); res.Status != dnssec.Secure {
		t.Errorf("with one TLD server dead: %v (%s), want secure from the other", res.Status, res.Reason)
	}
	e.s.SetParentFaults(0, authserver.Faults{})

	zs := e.s.Tree().Route53().ZoneServers(e.sc.ZoneID)
	if err := e.s.SetZoneServerFaults(e.sc.ZoneID, 2, authserver.Faults{Refuse: true}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Exchange(ctx, zs[2].Addr, "www.example.test.", dns.TypeA); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("refusing zone server: %v, %v; want REFUSED", r, err)
	}
	e.s.SetZoneServerFaults(e.sc.ZoneID, 2, authserver.Faults{})
	if err := e.s.SetZoneServerLag(e.sc.ZoneID, 3, lag); err != nil {
		t.Fatal(err)
	}
	if zs[3].Lag() != lag {
		t.Errorf("zone server 3 lag = %v, want %v", zs[3].Lag(), lag)
	}
	for _, err := range []error{
		e.s.SetParentLag(7, lag), e.s.SetParentFaults(-1, authserver.Faults{}),
		e.s.SetZoneServerLag(e.sc.ZoneID, 4, lag), e.s.SetZoneServerFaults("ZNOSUCHZONE", 0, authserver.Faults{}),
	} {
		if err == nil {
			t.Error("a fault on a server that does not exist: no error")
		}
	}

	e.s.SetTruncateUDP(true)
	udp := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	for _, addr := range []netip.AddrPort{e.s.RootServers()[0], tld[0], zs[0].Addr} {
		r, _, err := udp.Exchange(m, addr.String())
		if err != nil || !r.Truncated {
			t.Errorf("UDP query to %v with truncation on: %v, %v; want TC", addr, r, err)
		}
	}
	if res := e.validate(t, "www.example.test.", dns.TypeA); res.Status != dnssec.Secure {
		t.Errorf("with truncated UDP everywhere: %v (%s), want secure over TCP", res.Status, res.Reason)
	}
	e.s.SetTruncateUDP(false)
	if r, _, err := udp.Exchange(m, zs[0].Addr.String()); err != nil || r.Truncated {
		t.Errorf("UDP query with truncation off: %v, %v; want a full answer", r, err)
	}
}

// TestAPIFaults checks the API faults: injected errors and throttling
// pass through to the emulators and reach the SDK in the service's shape;
// a failing registrar operation leaves the TLD unchanged.
func TestAPIFaults(t *testing.T) {
	e := newEnv(t, virtualOpts())
	ctx := context.Background()
	if err := e.s.InjectAPIError(awsemu.ServiceRoute53, "GetHostedZone", route53emu.CodePriorRequestNotComplete, 1); err != nil {
		t.Fatal(err)
	}
	var apiErr smithy.APIError
	_, err := e.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(e.sc.ZoneID)})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != route53emu.CodePriorRequestNotComplete {
		t.Errorf("GetHostedZone after InjectAPIError = %v, want PriorRequestNotComplete", err)
	}
	if _, err := e.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(e.sc.ZoneID)}); err != nil {
		t.Errorf("GetHostedZone once the fault is used up: %v", err)
	}
	if err := e.s.InjectAPIError("ec2", "RunInstances", "InternalError", 1); err == nil {
		t.Error("InjectAPIError for a service the stack does not run: no error")
	}

	if err := e.s.SetAPIThrottle(awsemu.ServiceRoute53, 1, 1); err != nil {
		t.Fatal(err)
	}
	_, err1 := e.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(e.sc.ZoneID)})
	_, err2 := e.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(e.sc.ZoneID)})
	if err1 != nil || !errors.As(err2, &apiErr) || apiErr.ErrorCode() != "Throttling" {
		t.Errorf("two calls at 1 per second: %v, %v; want success then Throttling", err1, err2)
	}
	e.s.Virtual().Advance(time.Second)
	if _, err := e.r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(e.sc.ZoneID)}); err != nil {
		t.Errorf("a second later on the clock: %v, want a token back", err)
	}
	e.s.SetAPIThrottle(awsemu.ServiceRoute53, 0, 0)

	e.signZone(t, e.sc.ZoneID, "ksk_a")
	e.s.FailRegistrarOperations(string(domtypes.OperationStatusFailed), "registry unavailable", 1)
	k, _ := e.ksk(t, e.sc.ZoneID)
	out, err := e.dom.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName:        aws.String("example.test"),
		SigningAttributes: &domtypes.DnssecSigningAttributes{Algorithm: aws.Int32(13), Flags: aws.Int32(257), PublicKey: k.PublicKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.s.Virtual().Advance(time.Hour)
	op, err := e.dom.GetOperationDetail(ctx, &route53domains.GetOperationDetailInput{OperationId: out.OperationId})
	if err != nil || op.Status != domtypes.OperationStatusFailed {
		t.Errorf("GetOperationDetail of the failed operation = %v, %v; want FAILED", op, err)
	}
	if ds := e.s.Tree().Registry().DS("example.test."); len(ds) != 0 {
		t.Errorf("TLD DS after a failed operation = %v, want none", ds)
	}
}
