package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// alarmPoll is how often the demo looks for the execution an alarm
// started: the stack delivers alarm events on its own goroutine.
const alarmPoll = 10 * time.Millisecond

// alarmResponseSummary is the demo's alarm-response run: the fault, the
// alarm it raised, and what the execution found and did.
type alarmResponseSummary struct {
	Zone            string   `json:"zone"`
	Fault           string   `json:"fault"`
	Alarm           string   `json:"alarm,omitempty"`
	Metric          string   `json:"metric,omitempty"`
	Execution       string   `json:"executionArn,omitempty"`
	Status          string   `json:"status"`
	Error           string   `json:"error,omitempty"`
	Cause           string   `json:"cause,omitempty"`
	Outcome         string   `json:"outcome,omitempty"`
	Findings        []string `json:"findings,omitempty"`
	Actions         []string `json:"actions,omitempty"`
	Left            []string `json:"left,omitempty"`
	Verified        string   `json:"verified,omitempty"`
	ChainStatus     string   `json:"chainStatus,omitempty"`
	TimeLeftSeconds int64    `json:"timeLeftSeconds"`
	VirtualSecs     float64  `json:"virtualSeconds"`
}

// ok reports whether the run repaired the fault.
func (a *alarmResponseSummary) ok() bool {
	return a.Status == asl.StatusSucceeded && a.Outcome == steps.AlarmRepaired
}

// runAlarmResponse disables the KMS key of example.test.'s ACTIVE KSK, as
// an operator's mistake would, lets the stack's alarm fire, and waits for
// the alarm-response execution the alarm starts.
func runAlarmResponse(ctx context.Context, st *stack.Stack, wf *workflows.Workflows, sc *stack.Scenario, out io.Writer, timeout time.Duration) (*alarmResponseSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	zone := stack.ScenarioDomain
	d, err := route53.NewFromConfig(st.AWSConfig()).GetDNSSEC(ctx, &route53.GetDNSSECInput{HostedZoneId: aws.String(sc.ZoneID)})
	if err != nil {
		return nil, fmt.Errorf("demo: GetDNSSEC of %s: %w", zone, err)
	}
	var ksk, key string
	for _, k := range d.KeySigningKeys {
		if aws.ToString(k.Status) == steps.KSKActive {
			ksk, key = aws.ToString(k.Name), aws.ToString(k.KmsArn)
		}
	}
	if key == "" {
		return nil, fmt.Errorf("demo: %s has no ACTIVE KSK", zone)
	}
	sum := &alarmResponseSummary{Zone: zone, Fault: fmt.Sprintf("KMS key %s of KSK %s disabled", key, ksk)}
	fmt.Fprintf(out, "\n== %s %s (the KMS key of KSK %s is disabled; the %s alarm starts it)\n", workflows.AlarmResponse, zone, ksk, stack.MetricKSKsNeedingAction)
	before := len(wf.AlarmExecutions())
	if err := st.DisableKMSKey(ctx, key); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "   %s  disabled KMS key %s\n", stamp(st.Clock().Now()), key)
	ex, err := awaitAlarmExecution(ctx, st, wf, before)
	if err != nil {
		return nil, err
	}
	select {
	case <-ex.Done():
	case <-ctx.Done():
		wf.Runner.StopExecution(ex.ARN, "DemoTimeout", fmt.Sprintf("the demo stopped waiting after %v", timeout))
		<-ex.Done()
	}
	res := ex.Describe()
	sum.Execution, sum.Status, sum.Error, sum.Cause = ex.ARN, res.Status, res.Error, res.Cause
	sum.VirtualSecs = res.StopDate.Sub(res.StartDate).Seconds()
	var s steps.State
	if res.Status == asl.StatusSucceeded && json.Unmarshal(res.Output, &s) == nil && s.Alarm != nil {
		a := s.Alarm
		sum.Alarm, sum.Metric, sum.Outcome = a.Trigger.AlarmName, a.Trigger.Metric, a.Outcome
		sum.Findings, sum.Actions, sum.Left, sum.Verified = a.Findings, a.Actions, a.Left, a.Verified
		sum.ChainStatus, sum.TimeLeftSeconds = s.ChainStatus, a.TimeLeftSeconds
	}
	printAlarmResponse(out, sum, res.StartDate)
	return sum, nil
}

// awaitAlarmExecution moves a virtual clock to the end of the alarm period
// (the alarm evaluates it) and returns the execution the alarm starts; on
// the real clock the period ends by itself.
func awaitAlarmExecution(ctx context.Context, st *stack.Stack, wf *workflows.Workflows, before int) (*asl.Execution, error) {
	period := st.Timing().AlarmPeriod
	if v := st.Virtual(); v != nil {
		v.Advance(period)
	}
	tick := time.NewTicker(alarmPoll)
	defer tick.Stop()
	for {
		if started := wf.AlarmExecutions(); len(started) > before {
			return started[before], nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("demo: no alarm-response started by the alarm (alarms: %+v): %w", st.Alarms(), ctx.Err())
		case <-tick.C:
		}
	}
}

func printAlarmResponse(out io.Writer, a *alarmResponseSummary, start time.Time) {
	if a.Alarm != "" {
		fmt.Fprintf(out, "   %s  alarm %s (%s) started %s\n", stamp(start), a.Alarm, a.Metric, a.Execution)
	}
	for _, f := range a.Findings {
		fmt.Fprintf(out, "   %19s  found: %s\n", "", f)
	}
	for _, x := range a.Actions {
		fmt.Fprintf(out, "   %19s  did: %s\n", "", x)
	}
	for _, l := range a.Left {
		fmt.Fprintf(out, "   %19s  left for a person: %s\n", "", l)
	}
	if a.Verified != "" {
		fmt.Fprintf(out, "   %19s  verified: %s; chain of trust %s\n", "", a.Verified, a.ChainStatus)
	}
	if a.Status == asl.StatusSucceeded {
		fmt.Fprintf(out, "   %s: %s in %s of clock time\n", a.Status, a.Outcome, roundDuration(seconds(a.VirtualSecs)))
	} else {
		fmt.Fprintf(out, "   %s: %s: %s\n", a.Status, a.Error, a.Cause)
	}
}
