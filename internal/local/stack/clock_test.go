package stack

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	domtypes "github.com/aws/aws-sdk-go-v2/service/route53domains/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/population"
)

// TestStatesRunnerDrivesTheStack runs a state machine on the States
// Language runner with the stack's virtual clock, which the runner
// auto-advances through a one-day Wait. When the Task after the Wait runs,
// the population has already made every query of the day (against the
// zones as they were), and the Route 53 Domains operation that fell due
// during the Wait has reached the TLD, with nobody polling it.
func TestStatesRunnerDrivesTheStack(t *testing.T) {
	e := newEnv(t, virtualOpts())
	ctx := context.Background()
	e.signZone(t, e.sc.ZoneID, "ksk_a")
	k, _ := e.ksk(t, e.sc.ZoneID)
	if _, err := e.dom.AssociateDelegationSignerToDomain(ctx, &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName:        aws.String("example.test"),
		SigningAttributes: &domtypes.DnssecSigningAttributes{Algorithm: aws.Int32(13), Flags: aws.Int32(257), PublicKey: k.PublicKey},
	}); err != nil {
		t.Fatal(err)
	}
	pop, err := e.s.StartPopulation(PopulationConfig{Resolvers: 5, MeanInterval: 30 * time.Minute, Stagger: time.Hour,
		Targets: []population.Target{{Name: "www.app.example.test.", Want: dnssec.Insecure}}})
	if err != nil {
		t.Fatal(err)
	}

	type seen struct {
		Now, Through time.Time
		DS           int
	}
	var got seen
	r := asl.NewRunner(e.s.Virtual(), asl.Options{})
	r.Register("check", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		got = seen{Now: e.s.Clock().Now(), Through: pop.Stats().Through, DS: len(e.s.Tree().Registry().DS("example.test."))}
		return json.RawMessage(`{}`), nil
	})
	sm, err := asl.Load([]byte(`{"StartAt":"Wait","States":{
		"Wait":{"Type":"Wait","Seconds":86400,"Next":"Check"},
		"Check":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:check","End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := e.s.Clock().Now()
	res := r.Start(ctx, sm, "drive", json.RawMessage(`{}`)).Wait()
	if res.Status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	if !got.Now.Equal(start.Add(24 * time.Hour)) {
		t.Errorf("Task ran at %v, want %v (after the Wait)", got.Now, start.Add(24*time.Hour))
	}
	if got.Through.Before(got.Now) {
		t.Errorf("when the Task ran, the population had run through %v only, want %v", got.Through, got.Now)
	}
	if got.DS != 1 {
		t.Errorf("when the Task ran, the TLD had %d DS for example.test, want 1", got.DS)
	}
	if st := pop.Stats(); st.Validations < 40 || st.Failures != 0 {
		t.Errorf("population over the Wait: %d validations, %d failures (%v); want at least 40 and none", st.Validations, st.Failures, st.Samples)
	}
}

// TestAlarmStartsAnExecution is the alarm path as the local runner will
// use it: while the runner auto-advances the virtual clock through a Wait,
// the alarm of a disabled KMS key fires and its subscriber starts an
// execution with the EventBridge event as input, on the same runner.
func TestAlarmStartsAnExecution(t *testing.T) {
	e := newEnv(t, virtualOpts())
	ctx := context.Background()
	arn := e.signZone(t, e.sc.ZoneID, "ksk_a")
	r := asl.NewRunner(e.s.Virtual(), asl.Options{})
	respond, err := asl.Load([]byte(`{"StartAt":"Diagnose","States":{"Diagnose":{"Type":"Pass","Parameters":{"zone.$":"$.detail.configuration.metrics[0].metricStat.metric.dimensions.HostedZoneId","kind.$":"$.detail-type"},"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan *asl.Execution, 1)
	e.s.SubscribeAlarms(func(ev events.CloudWatchEvent) {
		in, _ := json.Marshal(ev)
		started <- r.Start(ctx, respond, "alarm-"+ev.ID, in)
	})
	if err := e.s.DisableKMSKey(ctx, arn); err != nil {
		t.Fatal(err)
	}
	// Route 53 learns of the key change on its own goroutine; GetDNSSEC
	// re-checks at once. Without this the auto-advanced Wait could pass
	// every alarm period before the KSK is ACTION_NEEDED, and no alarm fires.
	if k, _ := e.ksk(t, e.sc.ZoneID); aws.ToString(k.Status) != "ACTION_NEEDED" {
		got := aws.ToString(k.Status)
		t.Fatalf("KSK status after disabling its key = %s, want ACTION_NEEDED", got)
	}
	wait, err := asl.Load([]byte(`{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":600,"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := r.Start(ctx, wait, "wait", json.RawMessage(`{}`)).Wait(); res.Status != "SUCCEEDED" {
		t.Fatalf("wait execution: %s", res.Status)
	}
	select {
	case ex := <-started:
		res := ex.Wait()
		var out struct{ Zone, Kind string }
		json.Unmarshal(res.Output, &out)
		if res.Status != "SUCCEEDED" || out.Zone != e.sc.ZoneID || out.Kind != EventDetailType {
			t.Errorf("alarm-started execution: %s %s, want SUCCEEDED with zone %s and %q", res.Status, res.Output, e.sc.ZoneID, EventDetailType)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no execution started by the alarm within 5s")
	}
}
