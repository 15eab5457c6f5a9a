package workflows

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// localProbe are the probe names on the local stack: a name of the signed
// TLD, a name of the (still unsigned) scenario zone, and the bogus zone.
var localProbe = map[string]string{
	"signedName":   "ns1.test.",
	"unsignedName": "www.example.test.",
	"bogusName":    "www." + stack.BogusZone,
}

// row is what a test compares of a probe row.
type row struct {
	Domain, Rcode string
	Answer        bool
}

func rows(t []steps.ProbeRow) []row {
	var out []row
	for _, r := range t {
		out = append(out, row{r.Domain, r.Rcode, r.Answer})
	}
	return out
}

// TestEnableValidationEndToEnd runs enable-validation on the local stack
// through the runner: DISABLE (already so) shows the bogus name resolving,
// ENABLE turns it into SERVFAIL while signed and unsigned names resolve,
// DISABLE makes it resolve again; an unknown VPC fails with
// VPCNotFoundError and changes nothing.
func TestEnableValidationEndToEnd(t *testing.T) {
	st, sc := newStack(t)
	w, err := Start(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	run := func(name string, input map[string]any) asl.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ex, err := w.Start(ctx, "enable-validation", name, input)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-ex.Done():
		case <-ctx.Done():
			t.Fatalf("%s did not end within 60s", name)
		}
		return ex.Wait()
	}
	resolving := []row{{"signed", "NOERROR", true}, {"unsigned", "NOERROR", true}, {"bogus", "NOERROR", true}}
	validating := []row{{"signed", "NOERROR", true}, {"unsigned", "NOERROR", true}, {"bogus", "SERVFAIL", false}}
	for _, tc := range []struct {
		name, validation, status string
		updated                  bool
		want                     []row
	}{
		{"before", "DISABLE", "DISABLED", false, resolving},
		{"enable", "ENABLE", "ENABLED", true, validating},
		{"enable-again", "ENABLE", "ENABLED", false, validating},
		{"disable", "DISABLE", "DISABLED", true, resolving},
	} {
		res := run(tc.name, map[string]any{"vpcIds": []string{sc.VPCID}, "validation": tc.validation, "probe": localProbe})
		if res.Status != asl.StatusSucceeded {
			t.Fatalf("%s: %s (%s: %s), want SUCCEEDED", tc.name, res.Status, res.Error, res.Cause)
		}
		var out steps.State
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatal(err)
		}
		if out.Validation == nil || len(out.Validation.VPCs) != 1 {
			t.Fatalf("%s: output has no summary of one VPC: %s", tc.name, res.Output)
		}
		v := out.Validation.VPCs[0]
		if v.VPCID != sc.VPCID || v.Status != tc.status || v.Updated != tc.updated {
			t.Errorf("%s: VPC %s status %s updated %t, want %s %s %t", tc.name, v.VPCID, v.Status, v.Updated, sc.VPCID, tc.status, tc.updated)
		}
		if diff := cmp.Diff(tc.want, rows(v.Table)); diff != "" {
			t.Errorf("%s: compatibility table (-want +got):\n%s", tc.name, diff)
		}
		if got := st.Resolver().Status(sc.VPCID); got != tc.status {
			t.Errorf("%s: the emulator says %s, want %s", tc.name, got, tc.status)
		}
	}

	// The summary went to the topic with the table.
	found := false
	for _, m := range st.SNS().Messages(sc.TopicARN) {
		if strings.Contains(m.Body, "enable-validation ENABLE") && strings.Contains(m.Body, "SERVFAIL") {
			found = true
			t.Logf("notification:\n%s", m.Body)
		}
	}
	if !found {
		t.Error("no notification with the ENABLE table")
	}

	// An unknown VPC next to a known one: refused before any change.
	res := run("unknown", map[string]any{"vpcIds": []string{sc.VPCID, "vpc-0123456789abcdef0"}, "validation": "ENABLE"})
	if res.Status != asl.StatusFailed || res.Error != "VPCNotFoundError" {
		t.Errorf("unknown VPC: %s %s (%s), want FAILED VPCNotFoundError", res.Status, res.Error, res.Cause)
	}
	if got := st.Resolver().Status(sc.VPCID); got != "DISABLED" {
		t.Errorf("after the refused run the scenario VPC is %s, want DISABLED (unchanged)", got)
	}

	// Bad input: named field.
	res = run("bad", map[string]any{"vpcIds": []string{sc.VPCID}, "validation": "ON"})
	if res.Status != asl.StatusFailed || res.Error != "InvalidInputError" || !strings.Contains(res.Cause, "validation") {
		t.Errorf("bad validation: %s %s (%s), want FAILED InvalidInputError naming validation", res.Status, res.Error, res.Cause)
	}
}
