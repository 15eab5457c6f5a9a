package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/infra/config"
	"github.com/dnssec-autopilot/dnssec-autopilot/infra/permissions"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
)

// The tests run from the repository root: asset paths and the tree are
// relative to it (go test runs in infra/).
func TestMain(m *testing.M) {
	if err := os.Chdir(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// fullConfig exercises every publisher kind, two time zones, the Deny guard
// and one VPC.
const fullConfig = `{
  "notificationEmails": ["dns-team@example.com", "oncall@example.com"],
  "kskGuard": {"attachToRoles": ["Admin"]},
  "zones": [
    {"hostedZoneId": "Z0000000000000000001", "zoneName": "example.com",
     "dsPublisher": {"kind": "route53Domains", "domainName": "example.com"}},
    {"hostedZoneId": "Z0000000000000000002", "zoneName": "app.example.com",
     "dsPublisher": {"kind": "parentHostedZone", "parentHostedZoneId": "Z0000000000000000001"},
     "schedule": {"expression": "cron(30 9 ? 2,5,8,11 WED#2 *)", "timeZone": "Europe/Paris"},
     "safetyMarginSeconds": 7200},
    {"hostedZoneId": "Z0000000000000000003", "zoneName": "example.org",
     "dsPublisher": {"kind": "manual", "topicArn": "arn:aws:sns:us-east-1:123456789012:registrar"}}
  ],
  "vpcs": [{"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]}]
}`

// assets writes a placeholder bootstrap for every function of lay, so that
// the tests need no cross-compiled binaries.
func assets(t *testing.T, lay *Layout) {
	t.Helper()
	lay.AssetDir = t.TempDir()
	for _, fn := range lay.Functions {
		dir := filepath.Join(lay.AssetDir, fn)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("placeholder for "+fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// synthesized is one synthesized stack.
type synthesized struct {
	stack *Stack
	tpl   assertions.Template
	// res are the template's resources, decoded.
	res map[string]resource
	lay *Layout
	cfg *config.Config
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// synth builds the stack from tree (a repository-like directory) and
// configuration, with the AwsSolutions checks.
func synth(t *testing.T, tree, cfgJSON string, edit func(*Layout)) *synthesized {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	lay, err := LoadLayout(tree, "")
	if err != nil {
		t.Fatal(err)
	}
	assets(t, lay)
	if edit != nil {
		edit(lay)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"aws:cdk:bundling-stacks": []string{}}})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	s, err := NewDNSSECStack(app, StackName, &StackProps{Config: cfg, Layout: lay})
	if err != nil {
		t.Fatalf("NewDNSSECStack() = %v", err)
	}
	tpl := assertions.Template_FromStack(s.Stack, nil)
	var doc struct {
		Resources map[string]resource `json:"Resources"`
	}
	b, _ := json.Marshal(tpl.ToJSON())
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &synthesized{stack: s, tpl: tpl, res: doc.Resources, lay: lay, cfg: cfg}
}

func (s *synthesized) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.res {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

func TestFullStack(t *testing.T) {
	s := synth(t, "infra/testdata/full", fullConfig, nil)

	t.Run("counts", func(t *testing.T) {
		lambdas := 0
		for _, fn := range s.lay.Functions {
			if permissions.Table[fn].PerVPC {
				lambdas += len(s.cfg.VPCs)
			} else {
				lambdas++
			}
		}
		for typ, want := range map[string]int{
			"AWS::Lambda::Function":            lambdas,
			"AWS::StepFunctions::StateMachine": len(s.lay.Workflows),
			"AWS::Scheduler::Schedule":         len(s.cfg.Zones),
			"AWS::CloudWatch::Alarm":           2 * len(s.cfg.Zones),
			"AWS::Events::Rule":                1,
			"AWS::SNS::Topic":                  1,
			"AWS::SNS::Subscription":           len(s.cfg.NotificationEmails),
			"AWS::IAM::ManagedPolicy":          1,
			"AWS::EC2::SecurityGroup":          len(s.cfg.VPCs),
			"AWS::Logs::LogGroup":              lambdas + len(s.lay.Workflows),
			"AWS::KMS::Key":                    1,
		} {
			if got := len(s.ofType(typ)); got != want {
				t.Errorf("%s: %d resources, want %d", typ, got, want)
			}
		}
	})

	t.Run("lambdas", func(t *testing.T) {
		s.checkLambdas(t)
		probe := s.stack.Functions["probe-vpc"]
		if len(probe) != 1 {
			t.Fatalf("probe-vpc: %d functions, want one per VPC", len(probe))
		}
		s.tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"FunctionName": "dnssec-autopilot-probe-vpc-vpc-0123456789abcdef0",
			"VpcConfig":    map[string]any{"SubnetIds": []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"}},
		})
	})

	t.Run("state machines", func(t *testing.T) { s.checkStateMachines(t) })

	t.Run("schedules", func(t *testing.T) {
		rotate := s.stack.Stack.GetLogicalId(s.stack.StateMachines[WorkflowRotateKSK].Node().DefaultChild().(awscdk.CfnElement))
		for _, z := range s.cfg.Zones {
			in, _ := json.Marshal(z.RotationInput())
			s.tpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), map[string]any{
				"Name":                       "dnssec-autopilot-rotate-" + z.HostedZoneID,
				"ScheduleExpression":         z.Schedule.Expression,
				"ScheduleExpressionTimezone": z.Schedule.TimeZone,
				"State":                      "ENABLED",
				"Target": map[string]any{
					"Arn":   map[string]any{"Ref": *rotate},
					"Input": string(in),
				},
			})
		}
		s.tpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), map[string]any{
			"ScheduleExpression": config.DefaultRotationSchedule, "ScheduleExpressionTimezone": "UTC",
		})
		s.tpl.HasResourceProperties(jsii.String("AWS::Scheduler::Schedule"), map[string]any{
			"ScheduleExpression": "cron(30 9 ? 2,5,8,11 WED#2 *)", "ScheduleExpressionTimezone": "Europe/Paris",
			"Target": map[string]any{"Input": assertions.Match_SerializedJson(map[string]any{
				"hostedZoneId": "Z0000000000000000002", "zoneName": "app.example.com", "safetyMarginSeconds": 7200,
				"dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": "Z0000000000000000001"},
			})},
		})
	})

	t.Run("alarms and rule", func(t *testing.T) {
		alarms := s.ofType("AWS::CloudWatch::Alarm")
		var alarmIDs []string
		for _, z := range s.cfg.Zones {
			for _, m := range []string{"DNSSECInternalFailure", "DNSSECKeySigningKeysNeedingAction"} {
				found := ""
				for id, r := range alarms {
					p := r.Properties
					dims := fmt.Sprint(p["Dimensions"])
					if p["MetricName"] == m && strings.Contains(dims, z.HostedZoneID) {
						found = id
						if p["Namespace"] != "AWS/Route53" || dims != fmt.Sprintf("[map[Name:HostedZoneId Value:%s]]", z.HostedZoneID) ||
							p["Period"] != float64(AlarmPeriodSeconds) || p["EvaluationPeriods"] != float64(AlarmEvaluationPeriods) ||
							p["DatapointsToAlarm"] != float64(1) || p["Statistic"] != "Sum" || p["TreatMissingData"] != "notBreaching" ||
							p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || p["Threshold"] != float64(1) {
							t.Errorf("alarm %s %s: %v", z.ZoneName, m, p)
						}
						if len(p["AlarmActions"].([]any)) != 1 {
							t.Errorf("alarm %s %s: actions %v, want the topic", z.ZoneName, m, p["AlarmActions"])
						}
					}
				}
				if found == "" {
					t.Errorf("no %s alarm for %s", m, z.ZoneName)
				}
				alarmIDs = append(alarmIDs, found)
			}
		}
		// Route 53 publishes once per 4 hours: the window must span it.
		if AlarmPeriodSeconds*AlarmEvaluationPeriods < 4*3600 {
			t.Errorf("alarm window %d s is shorter than Route 53's 4-hour publication interval", AlarmPeriodSeconds*AlarmEvaluationPeriods)
		}
		var rule resource
		for _, r := range s.ofType("AWS::Events::Rule") {
			rule = r
		}
		pattern, _ := json.Marshal(rule.Properties["EventPattern"])
		var got struct {
			Source     []string `json:"source"`
			DetailType []string `json:"detail-type"`
			Detail     struct {
				State struct {
					Value []string `json:"value"`
				} `json:"state"`
			} `json:"detail"`
			Resources []map[string][]string `json:"resources"`
		}
		if err := json.Unmarshal(pattern, &got); err != nil {
			t.Fatal(err)
		}
		var resIDs []string
		for _, r := range got.Resources {
			resIDs = append(resIDs, r["Fn::GetAtt"][0])
		}
		slices.Sort(resIDs)
		slices.Sort(alarmIDs)
		if !slices.Equal(got.Source, []string{"aws.cloudwatch"}) || !slices.Equal(got.DetailType, []string{"CloudWatch Alarm State Change"}) ||
			!slices.Equal(got.Detail.State.Value, []string{"ALARM"}) || !slices.Equal(resIDs, alarmIDs) {
			t.Errorf("alarm rule pattern = %s, want aws.cloudwatch / CloudWatch Alarm State Change / ALARM on alarms %v", pattern, alarmIDs)
		}
		target := fmt.Sprint(rule.Properties["Targets"])
		sm := s.stack.Stack.GetLogicalId(s.stack.StateMachines[WorkflowAlarmResponse].Node().DefaultChild().(awscdk.CfnElement))
		if !strings.Contains(target, *sm) {
			t.Errorf("alarm rule targets %s, want state machine %s", target, *sm)
		}
	})

	t.Run("iam", func(t *testing.T) { s.checkIAM(t) })
	t.Run("cdk-nag", func(t *testing.T) { checkNag(t, s.stack) })
}

// describe renders a substitution value as the resource it points at.
func (s *synthesized) describe(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// expected returns what each placeholder of w must be substituted with.
func (s *synthesized) expected(t *testing.T, w *Workflow) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range w.Placeholders {
		r, err := s.lay.Resolve(w, p)
		if err != nil {
			t.Fatal(err)
		}
		switch r.Kind {
		case RefFunction:
			if permissions.Table[r.Name].PerVPC {
				out[p] = fmt.Sprintf(`{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":lambda:us-east-1:",{"Ref":"AWS::AccountId"},":function:dnssec-autopilot-%s-"]]}`, r.Name)
				continue
			}
			id := s.stack.Stack.GetLogicalId(s.stack.Functions[r.Name][0].Node().DefaultChild().(awscdk.CfnElement))
			out[p] = fmt.Sprintf(`{"Fn::GetAtt":["%s","Arn"]}`, *id)
		case RefWorkflow:
			id := s.stack.Stack.GetLogicalId(s.stack.StateMachines[r.Name].Node().DefaultChild().(awscdk.CfnElement))
			out[p] = fmt.Sprintf(`{"Ref":"%s"}`, *id)
		case RefTopic:
			id := s.stack.Stack.GetLogicalId(s.stack.Topic.Node().DefaultChild().(awscdk.CfnElement))
			out[p] = fmt.Sprintf(`{"Ref":"%s"}`, *id)
		}
	}
	return out
}

// checkIAM: no "*" in any action; each Lambda role has exactly its table's
// actions (plus its log group, plus the ENI actions when in a VPC).
func (s *synthesized) checkIAM(t *testing.T) {
	policyActions := map[string][]string{} // role logical ID -> actions
	for id, r := range s.res {
		if r.Type != "AWS::IAM::Policy" && r.Type != "AWS::IAM::ManagedPolicy" {
			continue
		}
		doc := r.Properties["PolicyDocument"].(map[string]any)
		for _, st := range doc["Statement"].([]any) {
			st := st.(map[string]any)
			for _, a := range list(st["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("%s: action %q has a wildcard", id, a)
				}
			}
			if st["Effect"] != "Allow" {
				continue
			}
			for _, role := range r.Properties["Roles"].([]any) {
				ref := role.(map[string]any)["Ref"].(string)
				policyActions[ref] = append(policyActions[ref], list(st["Action"])...)
			}
		}
	}
	for fn, roles := range s.stack.Roles {
		entry, ok := permissions.Table[fn]
		if !ok {
			continue // scheduler
		}
		want := append(entry.Actions(), "logs:CreateLogStream", "logs:PutLogEvents")
		if entry.PerVPC {
			want = append(want, "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:UnassignPrivateIpAddresses")
		}
		slices.Sort(want)
		want = slices.Compact(want)
		for _, role := range roles {
			id := s.stack.Stack.GetLogicalId(role.Node().DefaultChild().(awscdk.CfnElement))
			got := policyActions[*id]
			slices.Sort(got)
			got = slices.Compact(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("role of %s: actions differ from the permissions table (-want +got):\n%s", fn, diff)
			}
		}
	}
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// checkNag fails on every AwsSolutions finding that is not suppressed.
func checkNag(t *testing.T, s *Stack) {
	t.Helper()
	ann := assertions.Annotations_FromStack(s.Stack)
	for kind, msgs := range map[string]any{
		"error":   ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
		"warning": ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))),
	} {
		// Decoded rather than used as cxapi.SynthesisMessage (deprecated name
		// of the same shape).
		var found []struct {
			ID    string `json:"id"`
			Entry struct {
				Data any `json:"data"`
			} `json:"entry"`
		}
		b, _ := json.Marshal(msgs)
		if err := json.Unmarshal(b, &found); err != nil {
			t.Fatal(err)
		}
		for _, m := range found {
			t.Errorf("cdk-nag %s at %s: %v", kind, m.ID, m.Entry.Data)
		}
	}
}

// checkStateMachines: each state machine's definition is its ASL file, its
// substitutions point at the right resources, logging and tracing are on.
func (s *synthesized) checkStateMachines(t *testing.T) {
	sms := s.ofType("AWS::StepFunctions::StateMachine")
	for _, name := range s.lay.WorkflowNames() {
		w := s.lay.Workflows[name]
		id := s.stack.Stack.GetLogicalId(s.stack.StateMachines[name].Node().DefaultChild().(awscdk.CfnElement))
		r, ok := sms[*id]
		if !ok {
			t.Errorf("%s: no state machine %s", name, *id)
			continue
		}
		p := r.Properties
		if p["StateMachineName"] != "dnssec-autopilot-"+name {
			t.Errorf("%s: name %v", name, p["StateMachineName"])
		}
		if _, ok := p["DefinitionS3Location"]; ok {
			t.Errorf("%s: definition is an S3 asset, want inline", name)
		}
		subs, _ := p["DefinitionSubstitutions"].(map[string]any)
		// Render each substitution as the resource it points at, and
		// compare with what the ASL file gives after the same
		// substitution.
		rendered := map[string]string{}
		for k, v := range subs {
			rendered[k] = s.describe(v)
		}
		got, err := asl.Substitute([]byte(p["DefinitionString"].(string)), rendered)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want, err := asl.Substitute([]byte(w.Definition), s.expected(t, w))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s: deployed definition differs from %s after substitution (-want +got):\n%s", name, w.File, diff)
		}
		lc, _ := p["LoggingConfiguration"].(map[string]any)
		if lc["Level"] != "ALL" {
			t.Errorf("%s: logging level %v, want ALL", name, lc["Level"])
		}
		tc, _ := p["TracingConfiguration"].(map[string]any)
		if tc["Enabled"] != true {
			t.Errorf("%s: tracing %v, want enabled", name, tc)
		}
		// The fixtures are real ASL for the local runner.
		for _, prob := range asl.Lint([]byte(w.Definition), s.lay.Examples) {
			t.Errorf("%s: fixture: %s", w.File, prob)
		}
	}
}

// checkLambdas: runtime, architecture, memory, JSON logs, retention.
func (s *synthesized) checkLambdas(t *testing.T) {
	for id, r := range s.ofType("AWS::Lambda::Function") {
		p := r.Properties
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || p["MemorySize"] != float64(128) {
			t.Errorf("%s: runtime %v handler %v memory %v, want provided.al2023 bootstrap 128", id, p["Runtime"], p["Handler"], p["MemorySize"])
		}
		if got := fmt.Sprint(p["Architectures"]); got != "[arm64]" {
			t.Errorf("%s: architectures %s, want [arm64]", id, got)
		}
		lc, _ := p["LoggingConfig"].(map[string]any)
		if lc["LogFormat"] != "JSON" || lc["LogGroup"] == nil {
			t.Errorf("%s: logging %v, want JSON to its own log group", id, lc)
		}
	}
	for id, r := range s.ofType("AWS::Logs::LogGroup") {
		if r.Properties["RetentionInDays"] != float64(config.DefaultLogRetentionDays) {
			t.Errorf("%s: retention %v, want %d", id, r.Properties["RetentionInDays"], config.DefaultLogRetentionDays)
		}
	}
}

// policyOf returns the JSON of the inline policies attached to role.
func (s *synthesized) policyOf(t *testing.T, role awsiam.IRole) string {
	t.Helper()
	id := s.stack.Stack.GetLogicalId(role.Node().DefaultChild().(awscdk.CfnElement))
	var docs []any
	for _, r := range s.ofType("AWS::IAM::Policy") {
		for _, ref := range r.Properties["Roles"].([]any) {
			if ref.(map[string]any)["Ref"] == *id {
				docs = append(docs, r.Properties["PolicyDocument"])
			}
		}
	}
	b, _ := json.Marshal(docs)
	return string(b)
}

func TestIAMScoping(t *testing.T) {
	s := synth(t, "infra/testdata/full", fullConfig, func(l *Layout) {
		delete(l.Workflows, "enable-validation")
		delete(l.Workflows, WorkflowAlarmResponse)
	})
	for _, c := range []struct {
		fn      string
		want    []string
		notWant []string
	}{
		// The parent of app.example.com, the manual publisher's topic.
		{"publish-ds", []string{":route53:::hostedzone/Z0000000000000000001", "arn:aws:sns:us-east-1:123456789012:registrar", "route53domains:AssociateDelegationSignerToDomain"}, nil},
		// Only the configured zones.
		{"preflight-rotate", []string{":route53:::hostedzone/Z0000000000000000001", ":route53:::hostedzone/Z0000000000000000002", ":route53:::hostedzone/Z0000000000000000003"}, []string{"hostedzone/*", "route53domains"}},
		// Route 53's grant only for AWS resources; keys that can only sign.
		{"create-ksk", []string{`"kms:GrantIsForAWSResource":"true"`, `"kms:KeySpec":"ECC_NIST_P256"`, `"kms:KeyUsage":"SIGN_VERIFY"`}, nil},
		// New keys: the spec and the zone tag are required.
		{"prepare-kms-key", []string{`"aws:RequestTag/dnssec-autopilot:zone":"false"`, `"aws:TagKeys":["dnssec-autopilot:*"]`, `"kms:KeySpec":"ECC_NIST_P256"`, ":alias/dnssec-autopilot/*"}, nil},
		// Deletion only of tagged keys.
		{"retire-kms-keys", []string{`"aws:ResourceTag/dnssec-autopilot:zone":"false"`}, nil},
		{"list-batch", []string{":route53:::hostedzone/*", "route53:ListTagsForResources"}, []string{"route53:Change", "route53:Activate"}},
		{"probe-vpc", []string{"ec2:CreateNetworkInterface"}, []string{"route53", "kms:"}},
	} {
		roles := s.stack.Roles[c.fn]
		if len(roles) == 0 {
			if _, ok := s.stack.Functions[c.fn]; !ok {
				continue // not in the fixture
			}
		}
		for _, role := range roles {
			doc := s.policyOf(t, role)
			for _, w := range c.want {
				if !strings.Contains(doc, w) {
					t.Errorf("%s: policy lacks %s:\n%s", c.fn, w, doc)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(doc, w) {
					t.Errorf("%s: policy has %s:\n%s", c.fn, w, doc)
				}
			}
		}
	}
	// The state machines' roles may only invoke their steps, notify, start
	// their children and log/trace; the scheduler only starts rotations.
	allowed := []string{"lambda:InvokeFunction", "sns:Publish", "kms:GenerateDataKey", "kms:Decrypt",
		"states:StartExecution", "states:DescribeExecution", "states:StopExecution", "states:DescribeMapRun", "states:UpdateMapRun", "states:ListMapRuns",
		"events:PutTargets", "events:PutRule", "events:DescribeRule",
		"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries",
		"logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
		"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}
	for name, sm := range s.stack.StateMachines {
		var doc []map[string]any
		if err := json.Unmarshal([]byte(s.policyOf(t, sm.Role())), &doc); err != nil {
			t.Fatal(err)
		}
		for _, d := range doc {
			for _, st := range d["Statement"].([]any) {
				for _, a := range list(st.(map[string]any)["Action"]) {
					if !slices.Contains(allowed, a) {
						t.Errorf("state machine %s: role has %s", name, a)
					}
				}
			}
		}
	}
	sched := s.policyOf(t, s.stack.Roles["scheduler"][0])
	if strings.Count(sched, `"Action"`) != 1 || !strings.Contains(sched, `"Action":"states:StartExecution"`) {
		t.Errorf("scheduler role policy = %s, want only states:StartExecution", sched)
	}
}
