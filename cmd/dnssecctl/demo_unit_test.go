package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// TestParseTerm reads the numbers back from terms as package rollover
// writes them, so that a change of its format fails here rather than
// zeroing minimumSafeSeconds.
func TestParseTerm(t *testing.T) {
	since := time.Date(2026, 12, 1, 11, 46, 54, 0, time.UTC)
	tests := []struct {
		term       rollover.Term
		ttl, marg  int64
		wantParsed bool
	}{
		{rollover.Term{Event: "DS {13439/13/2} last served by a parent server", Since: since, TTLName: "DS TTL", TTL: 86400, MarginSeconds: 3600, At: since.Add(25 * time.Hour)}, 86400, 3600, true},
		{rollover.Term{Event: "unsigned zone last served by a zone server", Since: since, TTLName: "zone max TTL/negative TTL", TTL: 60, MarginSeconds: 30, At: since.Add(90 * time.Second)}, 60, 30, true},
	}
	for _, tt := range tests {
		s := tt.term.String()
		gotSince, ttl, margin, ok := parseTerm(s)
		if ok != tt.wantParsed || ttl != tt.ttl || margin != tt.marg || !gotSince.Equal(since) {
			t.Errorf("parseTerm(%q) = %v, %d, %d, %v; want %v, %d, %d, %v", s, gotSince, ttl, margin, ok, since, tt.ttl, tt.marg, tt.wantParsed)
		}
	}
	if _, _, _, ok := parseTerm("no cache wait"); ok {
		t.Error(`parseTerm("no cache wait") parsed`)
	}
}

// TestGateSummaries: the minimum safe wait of a gate runs from when the run
// reached it to the latest Since + TTL of its terms, and is zero once the
// caches have expired.
func TestGateSummaries(t *testing.T) {
	since := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	term := func(ttl uint32, since time.Time) string {
		return rollover.Term{Event: "DS {1/13/2} last served by a parent server", Since: since, TTLName: "DS TTL", TTL: ttl, MarginSeconds: 3600, At: since.Add(time.Duration(ttl)*time.Second + time.Hour)}.String()
	}
	tl := newTimeline(&bytes.Buffer{}, nil, time.Now())
	r := tl.begin("x", "rotate-ksk")
	r.order = []rollover.Transition{rollover.RemoveOldDS, rollover.DeactivateOldKSK, rollover.PublishNewDS}
	r.reached[rollover.RemoveOldDS] = since.Add(time.Hour)
	r.gates[rollover.RemoveOldDS] = gateOf(term(3600, since), term(86400, since))
	r.reached[rollover.DeactivateOldKSK] = since.Add(48 * time.Hour)
	r.gates[rollover.DeactivateOldKSK] = gateOf(term(86400, since))
	r.reached[rollover.PublishNewDS] = since
	r.gates[rollover.PublishNewDS] = gateOf()
	got := r.gateSummaries()
	want := []int64{23 * 3600, 0, 0}
	for i, g := range got {
		if g.MinimumSafeSeconds != want[i] {
			t.Errorf("gate %s: minimum safe %ds, want %d", g.Transition, g.MinimumSafeSeconds, want[i])
		}
	}
	if got[0].TTLSeconds != 86400 || got[0].MarginSeconds != 3600 {
		t.Errorf("gate %s: TTL %d margin %d, want 86400 and 3600", got[0].Transition, got[0].TTLSeconds, got[0].MarginSeconds)
	}
}

func TestDemoSummaryOK(t *testing.T) {
	ok := workflowSummary{Status: asl.StatusSucceeded}
	failed := workflowSummary{Status: asl.StatusFailed}
	tests := []struct {
		name string
		s    demoSummary
		want bool
	}{
		{"all succeeded, no failure", demoSummary{Workflows: []workflowSummary{ok, ok}, Validations: 10}, true},
		{"a validation failed", demoSummary{Workflows: []workflowSummary{ok}, Validations: 10, Failures: 1}, false},
		{"a workflow failed", demoSummary{Workflows: []workflowSummary{ok, failed}, Validations: 10}, false},
		{"nothing ran", demoSummary{}, false},
	}
	for _, tt := range tests {
		if got := tt.s.ok(); got != tt.want {
			t.Errorf("%s: ok() = %v, want %v (%s)", tt.name, got, tt.want, tt.s.verdict())
		}
	}
}

func TestDemoBadFlags(t *testing.T) {
	for _, args := range [][]string{{"demo", "--clock", "sundial"}, {"demo", "extra"}, {"demo", "--nope"}} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != exitUsage {
			t.Errorf("run(%q) = %d, want %d (usage)\n%s", args, code, exitUsage, out.String())
		}
	}
}

func gateOf(terms ...string) steps.GateState { return steps.GateState{Terms: terms} }
