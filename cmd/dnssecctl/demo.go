package main

import (
	"context"
	"encoding/json"

	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
)

// Demo policy, each number with its reason.
const (
	// demoResolvers and demoMeanInterval size the watching population on
	// the virtual clock: enough resolvers that some hold every DS and
	// DNSKEY age at each change, few enough that the days of the run take
	// seconds.
	demoResolvers    = 30
	demoMeanInterval = 10 * time.Minute
	// realResolvers and realMeanInterval: on the real clock with minute
	// TTLs, a resolver asking every 15 seconds meets each cache age.
	realResolvers    = 20
	realMeanInterval = 15 * time.Second
	// realMargin is the safety margin of the real-clock run: the TTLs are a
	// minute, an hour's margin would make the run last hours.
	realMargin = 30 * time.Second
	// virtualRunTimeout bounds one workflow on the virtual clock (days of
	// waits in seconds); realRunTimeout on the real one (gates of minutes).
	virtualRunTimeout = 5 * time.Minute
	realRunTimeout    = 2 * time.Hour
	// demoSeed makes the virtual run reproducible.
	demoSeed = 2026
)

// demoOptions configure one demo run (flags, or a test).
type demoOptions struct {
	Real      bool
	Start     time.Time // of the virtual clock; now when zero
	Dir       string    // statemachines; found from the working directory when empty
	FilesDir  string    // real clock: trust anchor, unbound.conf
	JSONFile  string
	Resolvers int // 0: the default of the clock
	Progress  io.Writer
}

// demoWorkflow is one run of the life cycle.
type demoWorkflow struct {
	machine   string
	zone      string
	publisher string // how the DS is published, for people
	input     func(sc *stack.Scenario) map[string]any
}

// lifeCycle is the demo's order: sign the parent (DS at the registrar),
// then the child (DS in the parent's hosted zone), rotate both KSKs, and
// make the child unsigned again.
var lifeCycle = []demoWorkflow{
	{workflows.EnableSigning, stack.ScenarioDomain, "DS via Route 53 Domains", exampleInput},
	{workflows.EnableSigning, stack.ScenarioChildZone, "DS via the parent hosted zone", appInput},
	{workflows.RotateKSK, stack.ScenarioDomain, "DS via Route 53 Domains", exampleInput},
	{workflows.RotateKSK, stack.ScenarioChildZone, "DS via the parent hosted zone", appInput},
	{workflows.DisableSigning, stack.ScenarioChildZone, "DS withdrawn from the parent hosted zone", appInput},
}

func exampleInput(sc *stack.Scenario) map[string]any {
	return map[string]any{"hostedZoneId": sc.ZoneID, "zoneName": stack.ScenarioDomain,
		"dsPublisher": map[string]any{"kind": "route53Domains", "domainName": strings.TrimSuffix(stack.ScenarioDomain, ".")}}
}

func appInput(sc *stack.Scenario) map[string]any {
	return map[string]any{"hostedZoneId": sc.ChildZoneID, "zoneName": stack.ScenarioChildZone,
		"dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": sc.ZoneID}}
}

// demoSummary is what --json writes.
type demoSummary struct {
	Clock         string            `json:"clock"`
	Workflows     []workflowSummary `json:"workflows"`
	Skipped       []string          `json:"skipped,omitempty"`
	Resolvers     int               `json:"resolvers"`
	Validations   int               `json:"validations"`
	Failures      int               `json:"failures"`
	InsecureOK    int               `json:"insecureWhileUnsigned"`
	FailureSample []string          `json:"failureSamples,omitempty"`
	// VPCValidation is the enable-validation run after the life cycle.
	VPCValidation *vpcValidationSummary `json:"vpcValidation,omitempty"`
	// AlarmResponse is the alarm-response run the demo's fault starts
	// after the life cycle.
	AlarmResponse *alarmResponseSummary `json:"alarmResponse,omitempty"`
	VirtualSecs   float64               `json:"virtualSeconds"`
	WallSecs      float64               `json:"wallSeconds"`
}

type workflowSummary struct {
	Name        string        `json:"name"`
	Zone        string        `json:"zone"`
	Execution   string        `json:"executionArn"`
	Status      string        `json:"status"`
	Error       string        `json:"error,omitempty"`
	Cause       string        `json:"cause,omitempty"`
	Transitions int64         `json:"stateTransitions"`
	VirtualSecs float64       `json:"virtualSeconds"`
	WallSecs    float64       `json:"wallSeconds"`
	MinSafeSecs int64         `json:"minimumSafeSeconds"`
	Gates       []gateSummary `json:"gates"`
}

// ok reports whether every workflow succeeded and no answer failed.
func (s demoSummary) ok() bool {
	for _, w := range s.Workflows {
		if w.Status != asl.StatusSucceeded {
			return false
		}
	}
	if s.VPCValidation != nil && s.VPCValidation.Status != asl.StatusSucceeded {
		return false
	}
	if s.AlarmResponse != nil && !s.AlarmResponse.ok() {
		return false
	}
	return len(s.Workflows) > 0 && s.Failures == 0
}

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("demo", "demo [--clock virtual|real] [--json FILE] [--statemachines DIR] [--dir DIR]", stdout)
	clockName := fs.String("clock", "virtual", "`virtual` (Route 53's real TTLs; days pass in seconds) or real (minute TTLs, for dig, delv and unbound to watch)")
	jsonFile := fs.String("json", "", "write the summary as JSON to `FILE`")
	dir := fs.String("statemachines", "", "the state machines `DIR`ectory (default: statemachines/ of the clone around the working directory)")
	files := fs.String("dir", "", "with --clock real, the `DIR`ectory for the trust anchor and unbound.conf (default a new temporary directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"demo: takes no arguments"}
	}
	opts := demoOptions{Dir: *dir, FilesDir: *files, JSONFile: *jsonFile}
	switch *clockName {
	case "virtual":
	case "real":
		opts.Real = true
	default:
		return usageError{fmt.Sprintf("demo: --clock %q: want virtual or real", *clockName)}
	}
	sum, err := demo(ctx, opts, stdout)
	if err != nil {
		return err
	}
	if !sum.ok() {
		return exitError{code: exitFailure, line: fmt.Sprintf("demo: %s", sum.verdict())}
	}
	return nil
}

// verdict is the summary's last line.
func (s demoSummary) verdict() string {
	failed := 0
	for _, w := range s.Workflows {
		if w.Status != asl.StatusSucceeded {
			failed++
		}
	}
	if failed == 0 && s.Failures == 0 {
		return fmt.Sprintf("every workflow succeeded; %d validations, none failed", s.Validations)
	}
	return fmt.Sprintf("%d of %d workflows did not succeed; %d of %d validations failed", failed, len(s.Workflows), s.Failures, s.Validations)
}

// demo runs the life cycle and prints the timeline and the summary.
func demo(ctx context.Context, o demoOptions, out io.Writer) (demoSummary, error) {
	wallStart := time.Now()
	var clk clock.Clock = clock.Real{}
	sum := demoSummary{Clock: "real"}
	resolvers, mean, runTimeout := realResolvers, realMeanInterval, realRunTimeout
	if !o.Real {
		start := o.Start
		if start.IsZero() {
			start = time.Now().UTC().Truncate(time.Second)
		}
		clk = clock.NewVirtual(start)
		sum.Clock = "virtual"
		resolvers, mean, runTimeout = demoResolvers, demoMeanInterval, virtualRunTimeout
	}
	if o.Resolvers > 0 {
		resolvers = o.Resolvers
	}
	st, err := stack.Start(stack.Options{Clock: clk, Seed: demoSeed})
	if err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	defer st.Close()
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	sc, err := st.SetupScenario(setupCtx)
	cancel()
	if err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	tl := newTimeline(out, clk, wallStart)
	wopts := workflows.Options{Dir: o.Dir, OnEvent: tl.onEvent, Progress: o.Progress}
	if !o.Real {
		// The virtual clock stands still while a step runs, so Route 53's
		// token bucket (refilled on that clock) never refills within a
		// step that needs more calls than its burst.
		wopts.Route53Throttle = &workflows.Throttle{}
	}
	wf, err := workflows.Start(st, wopts)
	if err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	defer wf.Close()
	for _, m := range wf.Machines {
		if err := tl.addMachine(m); err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
	}

	fmt.Fprintf(out, "dnssec-autopilot demo: the DNSSEC life cycle of two Route 53 hosted zones on the local stack (%s clock)\n", sum.Clock)
	fmt.Fprintf(out, "  %s %s (registered with Route 53 Domains) and its child %s %s\n", stack.ScenarioDomain, sc.ZoneID, stack.ScenarioChildZone, sc.ChildZoneID)
	if o.Real {
		if err := capTTLs(ctx, st, []string{sc.ZoneID, sc.ChildZoneID}, st.Timing().MaxTTL); err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
		if o.FilesDir == "" {
			if o.FilesDir, err = os.MkdirTemp("", "dnssec-demo-"); err != nil {
				return sum, fmt.Errorf("demo: %w", err)
			}
		}
		e, err := st.WriteFiles(o.FilesDir)
		if err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
		printEndpoints(out, e)
		printMachines(out, wf)
	}

	stagger := 24 * time.Hour // the TLD's DS TTL: the longest a cache holds
	if t := st.Timing(); t.MaxTTL > 0 {
		stagger = time.Duration(t.MaxTTL) * time.Second
	}
	w, err := startWatcher(st, watchConfig{Resolvers: resolvers, MeanInterval: mean, Stagger: stagger, Seed: demoSeed})
	if err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	defer w.close()
	sum.Resolvers = resolvers
	fmt.Fprintf(out, "  watched by %d validating resolvers, each asking %d names every %v on average, each with its own cache\n",
		resolvers, len(w.zoneOf), mean)

	virtualStart := clk.Now()
	for i, d := range lifeCycle {
		if _, ok := wf.Machine(d.machine); !ok {
			sum.Skipped = append(sum.Skipped, fmt.Sprintf("%s %s (no statemachines/%s.asl.json yet)", d.machine, d.zone, d.machine))
			fmt.Fprintf(out, "\n== skipped: %s on %s: statemachines/%s.asl.json does not exist yet\n", d.machine, d.zone, d.machine)
			continue
		}
		if d.machine == workflows.DisableSigning {
			w.secureUntil(d.zone, clk.Now()) // insecure is right again from now on
		}
		execName := fmt.Sprintf("demo-%d-%s-%s", i+1, d.machine, strings.TrimSuffix(strings.ReplaceAll(d.zone, ".", "-"), "-"))
		fmt.Fprintf(out, "\n== %s %s (%s)\n", d.machine, d.zone, d.publisher)
		input := d.input(sc)
		if o.Real {
			input["safetyMarginSeconds"] = int64(realMargin / time.Second)
		}
		ws, err := runOne(ctx, wf, tl, execName, d, input, runTimeout)
		if err != nil {
			return sum, err
		}
		sum.Workflows = append(sum.Workflows, ws)
		if ws.Status != asl.StatusSucceeded {
			fmt.Fprintf(out, "   %s: %s: %s\n", ws.Status, ws.Error, ws.Cause)
			break // the next workflows need this one's result
		}
		if d.machine == workflows.EnableSigning {
			neg, err := negativeTTL(ctx, st, d.zone)
			if err != nil {
				return sum, fmt.Errorf("demo: %w", err)
			}
			w.secureFrom(d.zone, clk.Now().Add(neg))
			fmt.Fprintf(out, "   %s is secure; resolvers may keep the parent's proof of no DS for its negative TTL %v: secure only from %s\n",
				d.zone, neg, stamp(clk.Now().Add(neg)))
		}
	}
	if _, ok := wf.Machine(workflows.AlarmResponse); ok && len(sum.Workflows) == len(lifeCycle) && sum.ok() {
		if sum.AlarmResponse, err = runAlarmResponse(ctx, st, wf, sc, out, runTimeout); err != nil {
			return sum, err
		}
	}
	if _, ok := wf.Machine(workflows.EnableValidation); ok && len(sum.Workflows) == len(lifeCycle) && sum.ok() {
		if sum.VPCValidation, err = runValidation(ctx, wf, sc, out, runTimeout); err != nil {
			return sum, err
		}
	}
	// Let the population run past the last change: every cache that held
	// the old state expires on the clock while the resolvers keep asking.
	if v := st.Virtual(); v != nil {
		v.Advance(stagger)
	} else {
		select {
		case <-time.After(stagger):
		case <-ctx.Done():
		}
	}
	w.close()
	vd := w.judge()
	sum.Validations, sum.Failures, sum.InsecureOK = vd.Validations, vd.Failures, vd.InsecureUnsigned
	for _, f := range vd.Samples {
		sum.FailureSample = append(sum.FailureSample, f.String())
	}
	sum.VirtualSecs = clk.Now().Sub(virtualStart).Seconds()
	sum.WallSecs = time.Since(wallStart).Seconds()
	printSummary(out, sum)
	if o.JSONFile != "" {
		if err := writeJSONFile(o.JSONFile, sum); err != nil {
			return sum, fmt.Errorf("demo: %w", err)
		}
	}
	return sum, nil
}

// runOne runs one workflow to its end, bounded by timeout.
func runOne(ctx context.Context, wf *workflows.Workflows, tl *timeline, execName string, d demoWorkflow, input map[string]any, timeout time.Duration) (workflowSummary, error) {
	wallStart := time.Now()
	rec := tl.begin(execName, d.machine)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex, err := wf.Start(ctx, d.machine, execName, input)
	if err != nil {
		return workflowSummary{}, fmt.Errorf("demo: %w", err)
	}
	select {
	case <-ex.Done():
	case <-ctx.Done():
		wf.Runner.StopExecution(ex.ARN, "DemoTimeout", fmt.Sprintf("the demo stopped waiting after %v", timeout))
		<-ex.Done()
	}
	res := ex.Describe()
	tl.end(execName)
	ws := workflowSummary{
		Name: d.machine, Zone: d.zone, Execution: ex.ARN, Status: res.Status, Error: res.Error, Cause: res.Cause,
		Transitions: res.Transitions, VirtualSecs: res.StopDate.Sub(res.StartDate).Seconds(),
		WallSecs: time.Since(wallStart).Seconds(), Gates: rec.gateSummaries(),
	}
	for _, g := range ws.Gates {
		ws.MinSafeSecs += g.MinimumSafeSeconds
	}
	return ws, nil
}

// capTTLs lowers, through the Route 53 API, every record set of the zones
// whose TTL is over maxTTL (the apex NS and SOA Route 53 creates, the
// child's delegation): the stack serves at most maxTTL on the real clock,
// but the workflows read the zone's largest TTL from the API too, and a
// two-day NS TTL would make the first gate two days long.
func capTTLs(ctx context.Context, st *stack.Stack, zoneIDs []string, maxTTL uint32) error {
	if maxTTL == 0 {
		return nil
	}
	r53 := route53.NewFromConfig(st.AWSConfig())
	for _, id := range zoneIDs {
		var changes []r53types.Change
		p := route53.NewListResourceRecordSetsPaginator(r53, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(id)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("short TTLs: %w", err)
			}
			for _, rs := range page.ResourceRecordSets {
				if rs.TTL != nil && *rs.TTL > int64(maxTTL) {
					rs.TTL = aws.Int64(int64(maxTTL))
					changes = append(changes, r53types.Change{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &rs})
				}
			}
		}
		if len(changes) == 0 {
			continue
		}
		if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(id),
			ChangeBatch:  &r53types.ChangeBatch{Changes: changes, Comment: aws.String("dnssecctl demo --clock real: short TTLs")},
		}); err != nil {
			return fmt.Errorf("short TTLs of %s: %w", id, err)
		}
	}
	return nil
}

// printMachines lists the state machines served at the endpoint.
func printMachines(out io.Writer, wf *workflows.Workflows) {
	fmt.Fprintln(out, "Step Functions (dnssecctl run --endpoint, aws stepfunctions): the same endpoint, state machines:")
	for _, m := range wf.Machines {
		fmt.Fprintf(out, "  %-16s %s\n", m.Name, m.ARN)
	}
}

func printSummary(out io.Writer, s demoSummary) {
	fmt.Fprintf(out, "\n== Summary (%s clock: %s of clock time in %.1fs of wall time)\n", s.Clock, roundDuration(seconds(s.VirtualSecs)), s.WallSecs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  WORKFLOW\tZONE\tSTATUS\tTRANSITIONS\tCLOCK TIME\tMINIMUM SAFE\tWALL")
	for _, w := range s.Workflows {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%.1fs\n", w.Name, w.Zone, w.Status, w.Transitions,
			roundDuration(seconds(w.VirtualSecs)), roundDuration(time.Duration(w.MinSafeSecs)*time.Second), w.WallSecs)
	}
	tw.Flush()
	for _, sk := range s.Skipped {
		fmt.Fprintf(out, "  skipped: %s\n", sk)
	}
	if a := s.AlarmResponse; a != nil {
		fmt.Fprintf(out, "  alarm-response %s: %s, outcome %q (%d repairs)\n", a.Zone, a.Status, a.Outcome, len(a.Actions))
	}
	fmt.Fprintf(out, "  (minimum safe: the waits the gates needed for the TTLs observed in the run, without the safety margin; clock time adds the margin and the propagation of each change)\n")
	fmt.Fprintf(out, "Resolver population: %d resolvers, %d validations, %d failures (bogus, no answer, or insecure for a signed zone); %d insecure answers while a zone was legitimately unsigned or in transition\n",
		s.Resolvers, s.Validations, s.Failures, s.InsecureOK)
	for _, f := range s.FailureSample {
		fmt.Fprintf(out, "  failure: %s\n", f)
	}
	fmt.Fprintln(out, s.verdict())
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// roundDuration prints d to the second, with days: "2d1h0m5s".
func roundDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 24*time.Hour {
		return d.String()
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%s", days, (d - days*24*time.Hour).String())
}

// stamp prints a clock time for the timeline.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }
