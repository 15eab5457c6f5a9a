package steps_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// TestEnableSigningManualPublisher: the DS goes through a person at another
// registrar. The run sends the DS over SNS and waits, observing the parent,
// until the person has published it (here: six hours later, at the
// registry), then validates the chain.
func TestEnableSigningManualPublisher(t *testing.T) {
	w := newWorld(t)
	var person struct {
		ds    *dns.DS
		after int // observations of the parent before the person acts
	}
	w.runner = asl.NewRunner(w.clk, asl.Options{Region: stack.Region, AccountID: stack.AccountID,
		OnEvent: func(_ *asl.Execution, ev asl.Event) {
			if ev.Type != "TaskStateExited" {
				return
			}
			switch ev.Details["name"] {
			case "PublishDS":
				var in struct {
					State steps.State `json:"state"`
				}
				if out, _ := ev.Details["output"].(string); json.Unmarshal([]byte(out), &in) == nil && in.State.KSK != nil {
					person.ds = in.State.KSK.DSRR(in.State.Zone)
				}
			case "VerifyDS":
				if person.after++; person.after == 4 && person.ds != nil {
					if err := w.st.Tree().Registry().SetDS("example.test.", []*dns.DS{person.ds}); err != nil {
						t.Errorf("SetDS: %v", err)
					}
				}
			}
		}})
	w.register(nil)
	res, ex := w.run(t, w.load(t, "enable-signing.asl.json"), "manual", map[string]any{
		"hostedZoneId": w.sc.ZoneID, "dsPublisher": map[string]any{"kind": "manual", "topicArn": w.sc.TopicARN}})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("enable-signing: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if got := w.status(t, "example.test.", dns.TypeDNSKEY); got.Status != dnssec.Secure {
		t.Errorf("example.test. DNSKEY %v (%s), want secure", got.Status, got.Reason)
	}
	asked := false
	for _, m := range w.st.SNS().Messages(w.sc.TopicARN) {
		if strings.Contains(strings.ToLower(m.Body), strings.ToLower(person.ds.Digest)) {
			asked = true
		}
	}
	if !asked {
		t.Errorf("no SNS message gave the person the DS %s", person.ds)
	}
	polls := 0
	for _, e := range ex.History() {
		if e.Type == "TaskStateEntered" && e.Details["name"] == "VerifyDS" {
			polls++
		}
	}
	if polls != 5 {
		t.Errorf("verify-ds ran %d times, want 5 (4 before the person published the DS)", polls)
	}
}

// TestEnableSigningDryRun: a dry run succeeds, plans, and changes nothing.
func TestEnableSigningDryRun(t *testing.T) {
	w := newWorld(t)
	before := w.footprint(t)
	res, _ := w.run(t, w.load(t, "enable-signing.asl.json"), "dry", map[string]any{"hostedZoneId": w.sc.ZoneID, "dsPublisher": examplePublisher, "dryRun": true})
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("dry run: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	if after := w.footprint(t); after != before {
		t.Errorf("the dry run changed the account:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	s := finalState(t, res)
	if !s.DryRun || !strings.Contains(strings.Join(s.Timeline, "\n"), "dry run") {
		t.Errorf("dry run state: dryRun %v, timeline %q", s.DryRun, s.Timeline)
	}
}
