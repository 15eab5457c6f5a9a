package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// demoT0 starts the demo's virtual clock in tests.
var demoT0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// testResolvers keeps the race-detected demo within seconds; the
// population still meets every change with some cache of every age.
const testResolvers = 8

// TestDemoLifeCycle runs the demo in process on the virtual clock: every
// workflow of the life cycle succeeds in order, the population validated
// answers all along and none failed, and the JSON summary has its keys,
// consistent with each other and with the printed timeline.
func TestDemoLifeCycle(t *testing.T) {
	jsonFile := filepath.Join(t.TempDir(), "summary.json")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := demo(ctx, demoOptions{Start: demoT0, JSONFile: jsonFile, Resolvers: testResolvers}, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !sum.ok() {
		t.Fatalf("demo summary not ok: %s\n%s", sum.verdict(), out.String())
	}
	// After the life cycle: enable-validation of the scenario VPC, its
	// compatibility table printed (the bogus name SERVFAIL, the rest ok).
	if v := sum.VPCValidation; v == nil || v.Status != asl.StatusSucceeded || len(v.VPCs) != 1 || len(v.VPCs[0].Table) != 3 {
		t.Errorf("enable-validation in the demo: %+v", v)
	} else if !strings.Contains(out.String(), "bogus     www.dnssec-failed.test. on         SERVFAIL") {
		t.Errorf("the demo did not print the compatibility table:\n%s", out.String())
	}

	// The fault after the life cycle: the alarm starts alarm-response,
	// which enables the key, activates the KSK again and verifies.
	if a := sum.AlarmResponse; a == nil || a.Status != asl.StatusSucceeded || a.Outcome != steps.AlarmRepaired ||
		a.Metric != "DNSSECKeySigningKeysNeedingAction" || len(a.Actions) != 2 || a.ChainStatus != "secure" {
		t.Errorf("alarm-response in the demo: %+v", a)
	} else if !strings.HasPrefix(a.Actions[0], "enabled KMS key ") || !strings.HasPrefix(a.Actions[1], "activated KSK ") {
		t.Errorf("alarm-response actions %q, want the key enabled then the KSK activated", a.Actions)
	}

	type want struct{ name, zone string }
	wants := []want{
		{workflows.EnableSigning, "example.test."},
		{workflows.EnableSigning, "app.example.test."},
		{workflows.RotateKSK, "example.test."},
		{workflows.RotateKSK, "app.example.test."},
		{workflows.DisableSigning, "app.example.test."},
	}
	if len(sum.Skipped) > 0 {
		t.Errorf("skipped %q: every state machine of the life cycle should exist", sum.Skipped)
	}

	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AlarmResponse  map[string]any   `json:"alarmResponse"`
		Workflows      []map[string]any `json:"workflows"`
		Validations    *int             `json:"validations"`
		Failures       *int             `json:"failures"`
		VirtualSeconds float64          `json:"virtualSeconds"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, b)
	}
	if doc.Validations == nil || doc.Failures == nil {
		t.Fatalf("summary JSON lacks validations or failures:\n%s", b)
	}
	if *doc.Validations <= 0 || *doc.Failures != 0 {
		t.Errorf("validations = %d, failures = %d; want > 0 and 0", *doc.Validations, *doc.Failures)
	}
	if doc.AlarmResponse["status"] != asl.StatusSucceeded || doc.AlarmResponse["outcome"] != steps.AlarmRepaired {
		t.Errorf("summary JSON alarmResponse = %v, want SUCCEEDED and repaired", doc.AlarmResponse)
	}
	if len(doc.Workflows) != len(wants) {
		t.Fatalf("summary has %d workflows, want %d:\n%s", len(doc.Workflows), len(wants), b)
	}
	var total float64
	for i, w := range doc.Workflows {
		for _, k := range []string{"name", "zone", "status", "stateTransitions", "virtualSeconds", "minimumSafeSeconds"} {
			if _, ok := w[k]; !ok {
				t.Errorf("workflow %d lacks %q: %v", i, k, w)
			}
		}
		if w["name"] != wants[i].name || w["zone"] != wants[i].zone || w["status"] != asl.StatusSucceeded {
			t.Errorf("workflow %d = %v %v %v, want %s %s SUCCEEDED", i, w["name"], w["zone"], w["status"], wants[i].name, wants[i].zone)
		}
		transitions, _ := w["stateTransitions"].(float64)
		virtual, _ := w["virtualSeconds"].(float64)
		minSafe, _ := w["minimumSafeSeconds"].(float64)
		// Every workflow of the life cycle waits for at least one cache:
		// its minimum safe time is positive, and no run is faster than it.
		if transitions <= 0 || minSafe <= 0 || virtual < minSafe {
			t.Errorf("workflow %d %v %v: stateTransitions %v, virtualSeconds %v, minimumSafeSeconds %v: want transitions > 0 and 0 < minimum safe <= virtual",
				i, w["name"], w["zone"], transitions, virtual, minSafe)
		}
		total += virtual
	}
	if doc.VirtualSeconds < total {
		t.Errorf("virtualSeconds %v < the sum of the workflows' %v", doc.VirtualSeconds, total)
	}

	text := out.String()
	for _, s := range []string{
		"== enable-signing example.test. (DS via Route 53 Domains)",
		"== rotate-ksk app.example.test.",
		"WaitRemoveOldDSGate: gate remove-old-ds at",
		"+ DNSKEY TTL 3600s + margin 3600s",
		"+ DS TTL 86400s",
		"WaitDisableGate: waited",
		"every workflow succeeded",
		"== alarm-response example.test. (the KMS key of KSK ",
		"did: enabled KMS key ",
		"alarm-response example.test.: SUCCEEDED, outcome \"repaired\" (2 repairs)",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("demo output lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", text)
	}
}
