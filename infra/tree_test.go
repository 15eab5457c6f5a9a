package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/dnssec-autopilot/dnssec-autopilot/infra/config"
	"github.com/dnssec-autopilot/dnssec-autopilot/infra/permissions"
)

// TestRepositoryTree synthesizes what the repository holds now, with the
// committed example configuration: every functions/<step> must have a
// permissions entry and every placeholder a value, and cdk-nag must pass.
func TestRepositoryTree(t *testing.T) {
	b, err := os.ReadFile("config/zones.example.json")
	if err != nil {
		t.Fatal(err)
	}
	s := synth(t, ".", string(b), nil)
	for _, fn := range s.lay.Functions {
		if len(s.stack.Functions[fn]) == 0 && !permissions.Table[fn].PerVPC {
			t.Errorf("functions/%s: not deployed", fn)
		}
	}
	for _, name := range s.lay.WorkflowNames() {
		if s.stack.StateMachines[name] == nil {
			t.Errorf("%s: not deployed", name)
		}
	}
	for _, fn := range permissions.Sorted() {
		if _, err := os.Stat(filepath.Join("functions", fn)); err != nil {
			t.Logf("permissions table: %s has no functions/%s yet (not deployed)", fn, fn)
		}
	}
	for _, l := range s.stack.Skipped {
		t.Logf("skipped: %s", l)
	}
	s.checkLambdas(t)
	s.checkStateMachines(t)
	s.checkIAM(t)
	checkNag(t, s.stack)
}

// TestMissingWorkflows: alarm-response and fleet-rotate do not exist yet;
// what depends on them is skipped, the rest is deployed.
func TestMissingWorkflows(t *testing.T) {
	cfg := strings.Replace(fullConfig, `"kskGuard"`, `"fleetSchedule": {"expression": "cron(0 10 ? 1,4,7,10 TUE#1 *)"}, "kskGuard"`, 1)
	s := synth(t, "infra/testdata/full", cfg, func(l *Layout) {
		delete(l.Workflows, WorkflowAlarmResponse)
		delete(l.Workflows, WorkflowFleetRotate)
	})
	if got := len(s.ofType("AWS::Events::Rule")); got != 0 {
		t.Errorf("%d event rules without alarm-response, want 0", got)
	}
	if got, want := len(s.ofType("AWS::CloudWatch::Alarm")), 2*len(s.cfg.Zones); got != want {
		t.Errorf("%d alarms, want %d (they notify the topic without alarm-response)", got, want)
	}
	if got, want := len(s.ofType("AWS::Scheduler::Schedule")), len(s.cfg.Zones); got != want {
		t.Errorf("%d schedules, want one per zone (fleet-rotate is missing)", got)
	}
	for _, want := range []string{"alarm rule: statemachines/alarm-response.asl.json", "fleetSchedule: statemachines/fleet-rotate.asl.json"} {
		found := false
		for _, l := range s.stack.Skipped {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("Skipped = %q, want a line starting %q", s.stack.Skipped, want)
		}
	}
	checkNag(t, s.stack)
}

// TestFleetSchedule: with fleet-rotate present, the fleet schedule replaces
// the per-zone schedules and carries every zone's input.
func TestFleetSchedule(t *testing.T) {
	cfg := strings.Replace(fullConfig, `"kskGuard"`, `"fleetSchedule": {"expression": "cron(0 10 ? 1,4,7,10 TUE#1 *)", "timeZone": "America/New_York"}, "kskGuard"`, 1)
	s := synth(t, "infra/testdata/full", cfg, func(l *Layout) { delete(l.Workflows, "enable-validation") })
	schedules := s.ofType("AWS::Scheduler::Schedule")
	if len(schedules) != 1 {
		t.Fatalf("%d schedules, want the fleet schedule only", len(schedules))
	}
	fleet := s.stack.Stack.GetLogicalId(s.stack.StateMachines[WorkflowFleetRotate].Node().DefaultChild().(awscdk.CfnElement))
	for _, r := range schedules {
		target := r.Properties["Target"].(map[string]any)
		if ref, _ := target["Arn"].(map[string]any); ref["Ref"] != *fleet {
			t.Errorf("fleet schedule target %v, want %s", target["Arn"], *fleet)
		}
		var in struct {
			Zones []json.RawMessage `json:"zones"`
		}
		if err := json.Unmarshal([]byte(target["Input"].(string)), &in); err != nil || len(in.Zones) != len(s.cfg.Zones) {
			t.Errorf("fleet input %v (%v), want %d zones", target["Input"], err, len(s.cfg.Zones))
		}
		if r.Properties["ScheduleExpressionTimezone"] != "America/New_York" {
			t.Errorf("fleet time zone %v", r.Properties["ScheduleExpressionTimezone"])
		}
	}
	checkNag(t, s.stack)
}

// TestTreeErrors: what the stack refuses to synthesize, with a message that
// names the file and what to do.
func TestTreeErrors(t *testing.T) {
	cfg, err := config.Parse([]byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(t *testing.T, root string, l *Layout)
		want []string
	}{
		{"function without permissions", func(t *testing.T, root string, l *Layout) {
			l.Functions = append(l.Functions, "mystery-step")
		}, []string{"functions/mystery-step has no entry in the permissions table", "infra/permissions/permissions.go"}},
		{"function not built", func(t *testing.T, root string, l *Layout) {
			os.Remove(filepath.Join(l.AssetDir, "create-ksk", "bootstrap"))
		}, []string{"functions/create-ksk:", "make build"}},
		{"placeholder without value", func(t *testing.T, root string, l *Layout) {
			delete(l.Examples, "DiagnoseFunctionArn")
		}, []string{"statemachines/alarm-response.asl.json: placeholder ${DiagnoseFunctionArn} has no value", "substitutions.json"}},
		{"placeholder naming no function", func(t *testing.T, root string, l *Layout) {
			l.Examples["DiagnoseFunctionArn"] = "arn:aws:lambda:us-east-1:123456789012:function:dnssec-autopilot-diagnosis"
		}, []string{"${DiagnoseFunctionArn}", "no functions/diagnosis directory"}},
		{"placeholder naming no workflow", func(t *testing.T, root string, l *Layout) {
			l.Examples["RotateKskStateMachineArn"] = "arn:aws:states:us-east-1:123456789012:stateMachine:rotate"
		}, []string{"${RotateKskStateMachineArn}", "no statemachines/rotate.asl.json"}},
		{"placeholder of unknown kind", func(t *testing.T, root string, l *Layout) {
			l.Examples["DiagnoseFunctionArn"] = "diagnose"
		}, []string{"${DiagnoseFunctionArn}", "cannot tell what to substitute"}},
		{"unknown task resource", func(t *testing.T, root string, l *Layout) {
			w := l.Workflows[WorkflowAlarmResponse]
			w.Tasks = append(w.Tasks, Task{State: "Scan", Resource: "arn:aws:states:::dynamodb:scan"})
		}, []string{`state "Scan"`, "dynamodb:scan", "no IAM mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lay, err := LoadLayout("infra/testdata/full", "")
			if err != nil {
				t.Fatal(err)
			}
			assets(t, lay)
			tt.edit(t, "infra/testdata/full", lay)
			app := awscdk.NewApp(nil)
			_, err = NewDNSSECStack(app, StackName, &StackProps{Config: cfg, Layout: lay})
			if err == nil {
				t.Fatalf("NewDNSSECStack() = nil error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewDNSSECStack() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestWorkflowWithoutTimeout: the ASL must bound the execution.
func TestWorkflowWithoutTimeout(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "statemachines"), 0o755); err != nil {
		t.Fatal(err)
	}
	def := `{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}`
	if err := os.WriteFile(filepath.Join(root, "statemachines", "x.asl.json"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadLayout(root, "")
	if err == nil || !strings.Contains(err.Error(), "statemachines/x.asl.json: no top-level TimeoutSeconds") {
		t.Errorf("LoadLayout() = %v, want the missing TimeoutSeconds named", err)
	}
}

// TestConfigContext: the config file comes from CDK context "config".
func TestConfigContext(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"config": "infra/testdata/nowhere.json"}})
	if got := configPath(app); got != "infra/testdata/nowhere.json" {
		t.Errorf("configPath() = %q, want the context's", got)
	}
	err := build(app)
	if err == nil || !strings.Contains(err.Error(), "nowhere.json") {
		t.Errorf("build() = %v, want the missing file named", err)
	}
	_ = jsii.String
}
