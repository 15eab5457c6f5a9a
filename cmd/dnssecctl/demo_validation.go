package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// vpcValidationSummary is the demo's enable-validation run.
type vpcValidationSummary struct {
	Execution string                `json:"executionArn"`
	Status    string                `json:"status"`
	Error     string                `json:"error,omitempty"`
	Cause     string                `json:"cause,omitempty"`
	VPCs      []steps.VPCValidation `json:"vpcs,omitempty"`
}

// demoValidationInput enables validation in the scenario VPC and probes,
// after the life cycle, a name of the signed example.test., one of the
// child made unsigned again, and the bogus zone.
func demoValidationInput(sc *stack.Scenario) map[string]any {
	return map[string]any{"vpcIds": []string{sc.VPCID}, "validation": "ENABLE", "probe": map[string]any{
		"signedName": "www." + stack.ScenarioDomain, "unsignedName": "www." + stack.ScenarioChildZone, "bogusName": "www." + stack.BogusZone,
	}}
}

// runValidation runs enable-validation and prints each VPC's
// compatibility table.
func runValidation(ctx context.Context, wf *workflows.Workflows, sc *stack.Scenario, out io.Writer, timeout time.Duration) (*vpcValidationSummary, error) {
	fmt.Fprintf(out, "\n== %s %s (Route 53 Resolver DNSSEC validation, probed from inside the VPC)\n", workflows.EnableValidation, sc.VPCID)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex, err := wf.Start(ctx, workflows.EnableValidation, "demo-enable-validation", demoValidationInput(sc))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	select {
	case <-ex.Done():
	case <-ctx.Done():
		wf.Runner.StopExecution(ex.ARN, "DemoTimeout", fmt.Sprintf("the demo stopped waiting after %v", timeout))
		<-ex.Done()
	}
	res := ex.Describe()
	vs := &vpcValidationSummary{Execution: ex.ARN, Status: res.Status, Error: res.Error, Cause: res.Cause}
	if res.Status != asl.StatusSucceeded {
		fmt.Fprintf(out, "   %s: %s: %s\n", res.Status, res.Error, res.Cause)
		return vs, nil
	}
	var s steps.State
	if err := json.Unmarshal(res.Output, &s); err != nil || s.Validation == nil {
		return vs, fmt.Errorf("demo: enable-validation output: %v", err)
	}
	vs.VPCs = s.Validation.VPCs
	for _, v := range vs.VPCs {
		fmt.Fprintf(out, "   %s: validation %s; what a client in the VPC gets:\n%s", v.VPCID, v.Status, steps.FormatProbeTable(v.Table))
	}
	return vs, nil
}
