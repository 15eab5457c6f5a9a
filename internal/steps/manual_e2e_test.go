package steps_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestEnableSigningManualCallback: the manual publisher with
// waitForCallback. The run sends the DS and a task token over SNS and waits
// for the person's answer without polling. A success answer opens no gate:
// here the person answers before the DS is at the registry, and the run
// still observes every parent server until each serves it, then validates
// the chain. A failure answer fails the run with the person's error and
// cause, through the Catch that releases the lock.
func TestEnableSigningManualCallback(t *testing.T) {
	tokenRE := regexp.MustCompile(`dnssecctl task success --token '([^']+)'`)
	tests := []struct {
		name    string
		succeed bool
	}{
		{"success", true},
		{"failure", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			var ds *dns.DS
			var mu sync.Mutex
			verified := 0 // verify-ds answers seen
			w.runner = asl.NewRunner(w.clk, asl.Options{Region: stack.Region, AccountID: stack.AccountID,
				OnEvent: func(_ *asl.Execution, ev asl.Event) {
					if ev.Type != "TaskStateExited" || ev.Details["name"] != "VerifyDS" {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					// The person answered "done" early: the DS reaches the
					// registry only after two observations without it.
					if verified++; verified == 2 && ds != nil {
						if err := w.st.Tree().Registry().SetDS("example.test.", []*dns.DS{ds}); err != nil {
							t.Errorf("SetDS: %v", err)
						}
					}
				}})
			w.register(nil)
			in, err := json.Marshal(map[string]any{"hostedZoneId": w.sc.ZoneID,
				"dsPublisher": map[string]any{"kind": "manual", "topicArn": w.sc.TopicARN, "waitForCallback": true}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ex := w.runner.Start(ctx, w.load(t, "enable-signing.asl.json"), "callback-"+tt.name, in)

			// The person reads the message: the DS and the token.
			var token string
			for deadline := time.Now().Add(30 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				for _, m := range w.st.SNS().Messages(w.sc.TopicARN) {
					if sub := tokenRE.FindStringSubmatch(m.Body); sub != nil {
						token = sub[1]
					}
				}
			}
			if token == "" {
				t.Fatal("no SNS message carried a task token")
			}
			if toks := w.runner.TaskTokens(); len(toks) != 1 || toks[0] != token {
				t.Fatalf("the execution waits for tokens %v, want the token of the message %q", toks, token)
			}
			var res asl.Result
			if tt.succeed {
				mu.Lock()
				ds = pendingDS(t, ex)
				mu.Unlock()
				if err := w.runner.SendTaskSuccess(token, json.RawMessage(`{}`)); err != nil {
					t.Fatalf("SendTaskSuccess: %v", err)
				}
				res = ex.Wait()
				if res.Status != asl.StatusSucceeded {
					t.Fatalf("enable-signing: %s %s: %s", res.Status, res.Error, res.Cause)
				}
				if got := w.status(t, "example.test.", dns.TypeDNSKEY); got.Status != dnssec.Secure {
					t.Errorf("example.test. DNSKEY %v (%s), want secure", got.Status, got.Reason)
				}
			} else {
				if err := w.runner.SendTaskFailure(token, "RegistrarRejectedDS", "the registrar does not take algorithm 13"); err != nil {
					t.Fatalf("SendTaskFailure: %v", err)
				}
				res = ex.Wait()
				if res.Status != asl.StatusFailed || res.Error != "RegistrarRejectedDS" || res.Cause != "the registrar does not take algorithm 13" {
					t.Fatalf("enable-signing: %s %s (%s), want FAILED RegistrarRejectedDS with the person's cause", res.Status, res.Error, res.Cause)
				}
				if strings.Contains(w.footprintZone(t, w.sc.ZoneID), "_dnssec-autopilot") {
					t.Error("the failed run left its lock")
				}
				if got := w.status(t, "www.example.test.", dns.TypeA); got.Status != dnssec.Insecure {
					t.Errorf("www.example.test. A %v (%s), want insecure", got.Status, got.Reason)
				}
			}
			entered := map[string]int{}
			for _, e := range ex.History() {
				if e.Type == "TaskStateEntered" {
					entered[e.Details["name"].(string)]++
				}
			}
			wantVerify := 0
			if tt.succeed {
				wantVerify = 3 // two observations without the DS, then every parent server serves it
			}
			if entered["PublishDSAwaitPerson"] != 1 || entered["PublishDS"] != 0 || entered["VerifyDS"] != wantVerify {
				t.Errorf("states entered: PublishDSAwaitPerson %d, PublishDS %d, VerifyDS %d; want 1, 0, %d",
					entered["PublishDSAwaitPerson"], entered["PublishDS"], entered["VerifyDS"], wantVerify)
			}
			asked := 0
			for _, m := range w.st.SNS().Messages(w.sc.TopicARN) {
				if strings.Contains(m.Body, token) {
					asked++
				}
			}
			if asked != 1 {
				t.Errorf("%d SNS messages carry the token, want 1", asked)
			}
		})
	}
}

// pendingDS is the DS the execution asks the person for: that of the KSK
// in the input of its waiting Task.
func pendingDS(t *testing.T, ex *asl.Execution) *dns.DS {
	t.Helper()
	for _, e := range ex.History() {
		if e.Type != "TaskStateEntered" || e.Details["name"] != "PublishDSAwaitPerson" {
			continue
		}
		var in struct {
			State steps.State `json:"state"`
		}
		if s, _ := e.Details["input"].(string); json.Unmarshal([]byte(s), &in) == nil && in.State.KSK != nil {
			return in.State.KSK.DSRR(in.State.Zone)
		}
	}
	t.Fatal("no PublishDSAwaitPerson input with a KSK in the history")
	return nil
}

// TestRotateKSKManualCallback: rotate-ksk with the manual publisher and
// waitForCallback. The person gets two messages, each with its own token:
// add the new DS, then remove the old one; they make each change at the
// registry and answer its token. The rotation observes every parent server
// after each answer and succeeds. A failure answer to the first message
// fails the run with the person's error after the rollback.
func TestRotateKSKManualCallback(t *testing.T) {
	tokenRE := regexp.MustCompile(`dnssecctl task success --token '([^']+)'`)
	dsRE := regexp.MustCompile(`(?m)^    (\S+ IN DS .+)$`)
	tests := []struct {
		name    string
		succeed bool
	}{
		{"success", true},
		{"failure", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := newRotateWorld(t)
			rw.enable(t, "enable-example", rw.sc.ZoneID, rotateExamplePublisher)
			before := len(rw.st.SNS().Messages(rw.sc.TopicARN))
			in, err := json.Marshal(map[string]any{"hostedZoneId": rw.sc.ZoneID,
				"dsPublisher": map[string]any{"kind": "manual", "topicArn": rw.sc.TopicARN, "waitForCallback": true}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			ex := rw.runner.Start(ctx, rw.load(t, "rotate-ksk.asl.json"), "rotate-callback-"+tt.name, in)

			// The person answers every message that carries a token.
			answered := map[string]bool{}
			reg := rw.st.Tree().Registry()
			for done := false; !done; {
				select {
				case <-ex.Done():
					done = true
					continue
				case <-time.After(5 * time.Millisecond):
				}
				for _, m := range rw.st.SNS().Messages(rw.sc.TopicARN)[before:] {
					tok := tokenRE.FindStringSubmatch(m.Body)
					if tok == nil || answered[tok[1]] {
						continue
					}
					answered[tok[1]] = true
					if !tt.succeed {
						if err := rw.runner.SendTaskFailure(tok[1], "RegistrarRejectedDS", "the registrar does not take algorithm 13"); err != nil {
							t.Errorf("SendTaskFailure: %v", err)
						}
						continue
					}
					line := dsRE.FindStringSubmatch(m.Body)
					if line == nil {
						t.Fatalf("no DS record in the message:\n%s", m.Body)
					}
					rr, err := dns.NewRR(line[1])
					if err != nil {
						t.Fatalf("DS of the message %q: %v", line[1], err)
					}
					ds := rr.(*dns.DS)
					var set []*dns.DS
					for _, d := range reg.DS("example.test.") {
						if d.KeyTag != ds.KeyTag || !strings.EqualFold(d.Digest, ds.Digest) {
							set = append(set, d)
						}
					}
					if strings.Contains(m.Subject, "add DS") {
						set = append(set, ds)
					}
					if err := reg.SetDS("example.test.", set); err != nil {
						t.Fatalf("SetDS: %v", err)
					}
					if err := rw.runner.SendTaskSuccess(tok[1], json.RawMessage(`{}`)); err != nil {
						t.Errorf("SendTaskSuccess: %v", err)
					}
				}
			}
			res := ex.Wait()
			entered := map[string]int{}
			for _, e := range ex.History() {
				if e.Type == "TaskStateEntered" {
					entered[e.Details["name"].(string)]++
				}
			}
			if tt.succeed {
				if res.Status != asl.StatusSucceeded {
					t.Fatalf("rotate-ksk: %s %s: %s", res.Status, res.Error, res.Cause)
				}
				if len(answered) != 2 || entered["PublishNewDSAwaitPerson"] != 1 || entered["RemoveOldDSAwaitPerson"] != 1 ||
					entered["PublishNewDS"] != 0 || entered["RemoveOldDS"] != 0 || entered["VerifyNewDS"] == 0 || entered["VerifyOldDSGone"] == 0 {
					t.Errorf("tokens answered %d (want 2), states entered %v", len(answered), entered)
				}
				if got := rw.status(t, "www.example.test.", dns.TypeA); got.Status != dnssec.Secure {
					t.Errorf("after rotation www.example.test. A is %v (%s)", got.Status, got.Reason)
				}
				return
			}
			if res.Status != asl.StatusFailed || res.Error != "RegistrarRejectedDS" || res.Cause != "the registrar does not take algorithm 13" {
				t.Fatalf("rotate-ksk: %s %s (%s), want FAILED RegistrarRejectedDS with the person's cause", res.Status, res.Error, res.Cause)
			}
			if len(answered) != 1 || entered["RollbackWithdrawNewDS"] == 0 || entered["RollbackVerifyNewDSGone"] == 0 || entered["RemoveOldDSAwaitPerson"] != 0 {
				t.Errorf("tokens answered %d (want 1), states entered %v (want the rollback)", len(answered), entered)
			}
			if strings.Contains(rw.footprintZone(t, rw.sc.ZoneID), "_dnssec-autopilot") {
				t.Error("the failed run left its lock")
			}
			if got := rw.status(t, "www.example.test.", dns.TypeA); got.Status != dnssec.Secure {
				t.Errorf("after the rollback www.example.test. A is %v (%s), want secure", got.Status, got.Reason)
			}
		})
	}
}
