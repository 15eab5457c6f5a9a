package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dnssec-autopilot/dnssec-autopilot/infra/config"
	"github.com/dnssec-autopilot/dnssec-autopilot/infra/permissions"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// Region is where the stack lives: Route 53 publishes the DNSSEC metrics in
// us-east-1 and only uses KMS keys from there.
const Region = steps.DNSSECRegion

// Alarm policy: Route 53 publishes DNSSECInternalFailure and
// DNSSECKeySigningKeysNeedingAction once per 4 hours per hosted zone
// (Route 53 Developer Guide, "Monitoring hosted zones using Amazon
// CloudWatch": "Volume: 1 per 4 hours per hosted zone").
const (
	// AlarmPeriodSeconds: a 15-minute period holds at most one data point,
	// and an alarm state change follows a bad data point within 15 minutes.
	AlarmPeriodSeconds = 15 * 60
	// AlarmEvaluationPeriods: 16 periods are the 4 hours between two data
	// points, so the window always holds the latest one.
	AlarmEvaluationPeriods = 16
	// AlarmDatapointsToAlarm: one bad data point is enough (each is already
	// Route 53's summary of 4 hours); missing data is not breaching, since
	// 15 of every 16 periods have none.
	AlarmDatapointsToAlarm = 1
)

// The two Route 53 DNSSEC metrics alarmed on, per zone.
var alarmMetrics = []string{"DNSSECInternalFailure", "DNSSECKeySigningKeysNeedingAction"}

// StackProps configure the stack.
type StackProps struct {
	awscdk.StackProps
	Config *config.Config
	Layout *Layout
}

// Stack is the deployed stack and the handles the tests inspect.
type Stack struct {
	awscdk.Stack
	Functions     map[string][]awslambda.Function // per-VPC functions have one per VPC
	Roles         map[string][]awsiam.Role
	StateMachines map[string]awsstepfunctions.StateMachine
	Topic         awssns.Topic
	Alarms        []awscloudwatch.Alarm
	// Skipped lists what was not deployed because a workflow file does not
	// exist yet, one line each.
	Skipped []string
}

// NewDNSSECStack checks the configuration against the tree and returns the
// stack, or an error that names what is missing (a function without
// reviewed permissions, a placeholder without a value...).
func NewDNSSECStack(scope constructs.Construct, id string, props *StackProps) (*Stack, error) {
	cfg, lay := props.Config, props.Layout
	refs, err := checkTree(lay)
	if err != nil {
		return nil, err
	}
	sp := props.StackProps
	if sp.Env == nil {
		sp.Env = &awscdk.Environment{Region: jsii.String(Region)}
	}
	if sp.Description == nil {
		sp.Description = jsii.String("dnssec-autopilot: DNSSEC life cycle of Route 53 hosted zones (step Lambdas, workflows, schedules, alarms)")
	}
	s := &Stack{
		Stack:         awscdk.NewStack(scope, jsii.String(id), &sp),
		Functions:     map[string][]awslambda.Function{},
		Roles:         map[string][]awsiam.Role{},
		StateMachines: map[string]awsstepfunctions.StateMachine{},
	}
	b := &builder{Stack: s, st: s.Stack, cfg: cfg, lay: lay, refs: refs}
	b.topic()
	b.functions()
	if err := b.workflows(); err != nil {
		return nil, err
	}
	b.schedules()
	b.alarms()
	b.guard()
	b.outputs()
	suppress(b)
	return s, nil
}

// checkTree refuses a tree the stack cannot deploy: a function without an
// entry in the permissions table or without its bootstrap binary, a
// placeholder without a value. It returns each workflow's resolved
// placeholders.
func checkTree(lay *Layout) (map[string]map[string]Ref, error) {
	var problems []string
	for _, fn := range lay.Functions {
		if _, ok := permissions.Table[fn]; !ok {
			problems = append(problems, fmt.Sprintf("functions/%s has no entry in the permissions table (infra/permissions/permissions.go): add the IAM actions its code calls, reviewed, before it can be deployed", fn))
			continue
		}
		boot := filepath.Join(lay.AssetDir, fn, "bootstrap")
		if _, err := os.Stat(boot); err != nil {
			problems = append(problems, fmt.Sprintf("functions/%s: %s is missing: run make build", fn, boot))
		}
	}
	refs := map[string]map[string]Ref{}
	for _, name := range lay.WorkflowNames() {
		w := lay.Workflows[name]
		refs[name] = map[string]Ref{}
		for _, p := range w.Placeholders {
			r, err := lay.Resolve(w, p)
			if err != nil {
				problems = append(problems, strings.TrimPrefix(err.Error(), "infra: "))
				continue
			}
			if r.Kind == RefWorkflow && r.Name == name {
				problems = append(problems, fmt.Sprintf("%s: placeholder ${%s} names the workflow itself; a distributed Map starts its own children without one", w.File, p))
			}
			refs[name][p] = r
		}
		for _, t := range w.Tasks {
			if taskKind(t.Resource) == "" {
				problems = append(problems, fmt.Sprintf("%s: state %q: Task resource %q has no IAM mapping in the stack (lambda:invoke, sns:publish, states:startExecution are supported)", w.File, t.State, t.Resource))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("infra: the stack cannot be synthesized:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return refs, nil
}

// taskKind classifies a Task resource for the state machine's role.
func taskKind(res string) string {
	switch {
	case strings.HasPrefix(res, "${"), strings.Contains(res, ":lambda:invoke"), strings.Contains(res, ":lambda:") && strings.Contains(res, ":function:"):
		return "lambda"
	case strings.Contains(res, ":::sns:publish"):
		return "sns"
	case strings.Contains(res, ":::states:startExecution.sync"):
		return "sfn-sync"
	case strings.Contains(res, ":::states:startExecution"):
		return "sfn"
	}
	return ""
}

type builder struct {
	*Stack
	st       awscdk.Stack
	cfg      *config.Config
	lay      *Layout
	refs     map[string]map[string]Ref
	topicKey awskms.Key
	// perVPC are the names of the per-VPC functions, by function.
	perVPC map[string][]string
	// nag are the reviewed cdk-nag suppressions (nag.go).
	nag []nagEntry
}

// arn builds an ARN in this stack's partition, region and account.
func (b *builder) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", *awscdk.Aws_PARTITION(), service, Region, *awscdk.Aws_ACCOUNT_ID(), resource)
}

func (b *builder) zoneARN(id string) string {
	return fmt.Sprintf("arn:%s:route53:::hostedzone/%s", *awscdk.Aws_PARTITION(), id)
}

// stateMachineName is the fixed name of a workflow's state machine (so
// that a distributed Map can name its own ARN without a cycle).
func (b *builder) stateMachineName(wf string) string { return b.cfg.NamePrefix + "-" + wf }

func (b *builder) topic() {
	b.topicKey = awskms.NewKey(b.st, jsii.String("TopicKey"), &awskms.KeyProps{
		Description:       jsii.String("dnssec-autopilot: encrypts the notification topic"),
		EnableKeyRotation: jsii.Bool(true),
	})
	// CloudWatch alarms publish to the topic: they need the key.
	b.topicKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchAlarms"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), nil)
	b.Topic = awssns.NewTopic(b.st, jsii.String("Notifications"), &awssns.TopicProps{
		DisplayName: jsii.String("dnssec-autopilot"),
		MasterKey:   b.topicKey,
		EnforceSSL:  jsii.Bool(true),
	})
	for _, e := range b.cfg.NotificationEmails {
		b.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}
}

// retention maps days to the CDK enum (config.Validate allows only these).
var retention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

func (b *builder) logGroup(id string, name *string) awslogs.LogGroup {
	return awslogs.NewLogGroup(b.st, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  name,
		Retention:     retention[b.cfg.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
}

func (b *builder) functions() {
	b.perVPC = map[string][]string{}
	for _, fn := range b.lay.Functions {
		entry := permissions.Table[fn]
		if !entry.PerVPC {
			b.function(fn, entry, nil)
			continue
		}
		for i := range b.cfg.VPCs {
			b.function(fn, entry, &b.cfg.VPCs[i])
		}
		if len(b.cfg.VPCs) == 0 {
			b.Skipped = append(b.Skipped, fmt.Sprintf("functions/%s: runs inside a VPC, and no VPC is configured", fn))
		}
	}
}

// function deploys functions/<fn> (attached to vpc when not nil) with its
// own role and log group.
func (b *builder) function(fn string, entry permissions.Function, vpc *config.VPC) {
	id := "Step" + camel(fn)
	var name *string
	if vpc != nil {
		id += camel(vpc.VPCID)
		n := b.cfg.NamePrefix + "-" + fn + "-" + vpc.VPCID
		name = jsii.String(n)
		b.perVPC[fn] = append(b.perVPC[fn], n)
	}
	role := awsiam.NewRole(b.st, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("dnssec-autopilot step " + fn + ": only the calls listed for it in infra/permissions"),
	})
	lg := b.logGroup(id+"Logs", nil)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("OwnLogGroup"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{lg.LogGroupArn()},
	}))
	env := map[string]*string{
		steps.EnvAccountID:         awscdk.Aws_ACCOUNT_ID(),
		steps.EnvNotifyTopicARN:    b.Topic.TopicArn(),
		steps.EnvKMSDeletionWindow: jsii.String(fmt.Sprint(b.cfg.KMSDeletionWindowDays)),
	}
	for _, g := range entry.Grants {
		sts := b.statements(g)
		for _, st := range sts {
			role.AddToPrincipalPolicy(st)
		}
		if w, ok := b.wildcards(g.On); ok && len(sts) > 0 {
			b.allow(role, w)
		}
		if g.On == permissions.RotateKSK {
			env["ROTATE_KSK_STATE_MACHINE_ARN"] = jsii.String(b.arn("states", "stateMachine:"+b.stateMachineName(WorkflowRotateKSK)))
		}
	}
	memory := entry.MemoryMB
	if memory == 0 {
		memory = 128
	}
	timeout := entry.TimeoutSeconds
	if timeout == 0 {
		timeout = permissions.DefaultTimeoutSeconds
	}
	props := &awslambda.FunctionProps{
		FunctionName:  name,
		Description:   jsii.String("dnssec-autopilot step " + fn),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(b.lay.AssetDir, fn)), nil),
		MemorySize:    jsii.Number(float64(memory)),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
		Role:          role,
		LogGroup:      lg,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Environment:   &env,
	}
	if vpc != nil {
		b.attach(props, role, id, vpc)
	}
	f := awslambda.NewFunction(b.st, jsii.String(id), props)
	b.Functions[fn] = append(b.Functions[fn], f)
	b.Roles[fn] = append(b.Roles[fn], role)
}

// attach puts a probe function in vpc: its subnets, a security group that
// allows only DNS to the VPC's resolver (or the configured groups), and the
// ENI permissions Lambda uses to attach it.
func (b *builder) attach(props *awslambda.FunctionProps, role awsiam.Role, id string, vpc *config.VPC) {
	azs := make([]*string, len(vpc.SubnetIDs))
	for i := range azs {
		azs[i] = jsii.String(fmt.Sprintf("%s-az%d", vpc.VPCID, i)) // not used: subnets are given by ID
	}
	v := awsec2.Vpc_FromVpcAttributes(b.st, jsii.String(id+"Vpc"), &awsec2.VpcAttributes{
		VpcId:             jsii.String(vpc.VPCID),
		AvailabilityZones: &azs,
		PrivateSubnetIds:  jsii.Strings(vpc.SubnetIDs...),
	})
	var subnets []awsec2.ISubnet
	for i, sn := range vpc.SubnetIDs {
		subnets = append(subnets, awsec2.Subnet_FromSubnetId(b.st, jsii.String(fmt.Sprintf("%sSubnet%d", id, i)), jsii.String(sn)))
	}
	var groups []awsec2.ISecurityGroup
	for i, sg := range vpc.SecurityGroupIDs {
		groups = append(groups, awsec2.SecurityGroup_FromSecurityGroupId(b.st, jsii.String(fmt.Sprintf("%sGroup%d", id, i)), jsii.String(sg), nil))
	}
	if len(groups) == 0 {
		sg := awsec2.NewSecurityGroup(b.st, jsii.String(id+"Group"), &awsec2.SecurityGroupProps{
			Vpc:              v,
			Description:      jsii.String("dnssec-autopilot VPC probe: DNS to the Amazon-provided resolver only"),
			AllowAllOutbound: jsii.Bool(false),
		})
		// The Route 53 Resolver of a VPC answers on 169.254.169.253 (and
		// the VPC base + 2).
		for _, p := range []awsec2.Port{awsec2.Port_Udp(jsii.Number(53)), awsec2.Port_Tcp(jsii.Number(53))} {
			sg.AddEgressRule(awsec2.Peer_Ipv4(jsii.String("169.254.169.253/32")), p, jsii.String("DNS to the VPC resolver"), nil)
		}
		groups = append(groups, sg)
	}
	props.Vpc = v
	props.VpcSubnets = &awsec2.SubnetSelection{Subnets: &subnets}
	props.SecurityGroups = &groups
	b.allow(role, eniWildcard)
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("LambdaVPCNetworkInterfaces"),
		Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
			"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
		Resources: jsii.Strings("*"),
	}))
}

// statements expands a grant into policy statements; actions that need a
// condition of their own get a statement of their own.
func (b *builder) statements(g permissions.Grant) []awsiam.PolicyStatement {
	resources, cond := b.resources(g.On)
	if len(resources) == 0 {
		return nil
	}
	var plain []string
	var out []awsiam.PolicyStatement
	add := func(actions []string, c map[string]any) {
		p := &awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}
		if len(c) > 0 {
			p.Conditions = &c
		}
		out = append(out, awsiam.NewPolicyStatement(p))
	}
	for _, a := range g.Actions {
		switch {
		case a == "kms:CreateGrant":
			c := merge(cond, map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}})
			add([]string{a}, c)
		case a == "kms:CreateKey":
			c := merge(cond, map[string]any{"StringEquals": map[string]any{"kms:KeySpec": steps.KMSKeySpec, "kms:KeyUsage": steps.KMSKeyUsage}})
			add([]string{a}, c)
		default:
			plain = append(plain, a)
		}
	}
	if len(plain) > 0 {
		add(plain, cond)
	}
	return out
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for op, kv := range b {
		m := map[string]any{}
		if prev, ok := out[op].(map[string]any); ok {
			for k, v := range prev {
				m[k] = v
			}
		}
		for k, v := range kv.(map[string]any) {
			m[k] = v
		}
		out[op] = m
	}
	return out
}

// resources expands a Resource kind into ARNs and conditions.
func (b *builder) resources(kind permissions.Resource) ([]string, map[string]any) {
	signing := map[string]any{"StringEquals": map[string]any{"kms:KeySpec": steps.KMSKeySpec, "kms:KeyUsage": steps.KMSKeyUsage}}
	switch kind {
	case permissions.ManagedZones:
		var out []string
		for _, z := range b.cfg.Zones {
			out = append(out, b.zoneARN(z.HostedZoneID))
		}
		return out, nil
	case permissions.ParentZones:
		var out []string
		for _, z := range b.cfg.Zones {
			if z.DSPublisher.Kind == dspublish.KindParentHostedZone {
				a := b.zoneARN(steps.NormalizeHostedZoneID(z.DSPublisher.ParentHostedZoneID))
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
		return out, nil
	case permissions.AllHostedZones:
		return []string{fmt.Sprintf("arn:%s:route53:::hostedzone/*", *awscdk.Aws_PARTITION())}, nil
	case permissions.Route53Changes:
		return []string{fmt.Sprintf("arn:%s:route53:::change/*", *awscdk.Aws_PARTITION())}, nil
	case permissions.NewKMSKeys:
		return []string{"*"}, map[string]any{
			"Null":                    map[string]any{"aws:RequestTag/" + steps.TagZone: "false"},
			"ForAllValues:StringLike": map[string]any{"aws:TagKeys": []string{"dnssec-autopilot:*"}},
		}
	case permissions.KeyMetadata:
		return []string{b.arn("kms", "key/*")}, nil
	case permissions.SigningKeys:
		return []string{b.arn("kms", "key/*")}, signing
	case permissions.WorkflowKeys:
		return []string{b.arn("kms", "key/*")}, merge(signing, map[string]any{"Null": map[string]any{"aws:ResourceTag/" + steps.TagZone: "false"}})
	case permissions.WorkflowAliases:
		return []string{b.arn("kms", steps.AliasPrefix+"*")}, nil
	case permissions.Topic:
		return []string{*b.Topic.TopicArn()}, nil
	case permissions.TopicKey:
		return []string{*b.topicKey.KeyArn()}, nil
	case permissions.ManualTopics:
		var out []string
		for _, z := range b.cfg.Zones {
			if z.DSPublisher.Kind == dspublish.KindManual && !slices.Contains(out, z.DSPublisher.TopicARN) {
				out = append(out, z.DSPublisher.TopicARN)
			}
		}
		return out, nil
	case permissions.ResolverConfigs:
		if len(b.cfg.VPCs) == 0 {
			return nil, nil
		}
		return []string{b.arn("route53resolver", "resolver-dnssec-config/*")}, nil
	case permissions.RotateKSK:
		return []string{b.arn("states", "stateMachine:"+b.stateMachineName(WorkflowRotateKSK))}, nil
	case permissions.RotateKSKExecutions:
		return []string{b.arn("states", "execution:"+b.stateMachineName(WorkflowRotateKSK)+":*")}, nil
	case permissions.Account:
		return []string{"*"}, nil
	}
	panic("infra: unknown resource kind " + string(kind)) // the table's test keeps this unreachable
}

// workflows deploys the state machines, each after the ones it starts.
func (b *builder) workflows() error {
	done := map[string]bool{}
	var deploy func(name string, path []string) error
	deploy = func(name string, path []string) error {
		if done[name] {
			return nil
		}
		if slices.Contains(path, name) {
			return fmt.Errorf("infra: state machines start each other in a cycle: %s", strings.Join(append(path, name), " -> "))
		}
		for _, p := range b.lay.Workflows[name].Placeholders {
			if r := b.refs[name][p]; r.Kind == RefWorkflow {
				if err := deploy(r.Name, append(path, name)); err != nil {
					return err
				}
			}
		}
		b.workflow(b.lay.Workflows[name])
		done[name] = true
		return nil
	}
	for _, name := range b.lay.WorkflowNames() {
		if err := deploy(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// workflow deploys one state machine with its substitutions and the
// permissions its Task states need.
func (b *builder) workflow(w *Workflow) {
	id := "Workflow" + camel(w.Name)
	subs := map[string]*string{}
	var invoke, start []string
	sns := false
	for _, p := range w.Placeholders {
		r := b.refs[w.Name][p]
		switch r.Kind {
		case RefFunction:
			if names, ok := b.perVPC[r.Name]; ok || permissions.Table[r.Name].PerVPC {
				// One copy per VPC: the ASL builds the name from this
				// prefix and the VPC ID.
				subs[p] = jsii.String(b.arn("lambda", "function:"+b.cfg.NamePrefix+"-"+r.Name+"-"))
				for _, n := range names {
					invoke = append(invoke, b.arn("lambda", "function:"+n))
				}
				continue
			}
			f := b.Functions[r.Name][0]
			subs[p] = f.FunctionArn()
			invoke = append(invoke, *f.FunctionArn())
		case RefWorkflow:
			sm := b.StateMachines[r.Name]
			subs[p] = sm.StateMachineArn()
			start = append(start, r.Name)
		case RefTopic:
			subs[p] = b.Topic.TopicArn()
			sns = true
		}
	}
	lg := b.logGroup(id+"Logs", jsii.String("/aws/vendedlogs/states/"+b.stateMachineName(w.Name)))
	sm := awsstepfunctions.NewStateMachine(b.st, jsii.String(id), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(b.stateMachineName(w.Name)),
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(w.Definition)),
		DefinitionSubstitutions: &subs,
		Logs: &awsstepfunctions.LogOptions{
			Destination:          lg,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(true),
		},
		TracingEnabled: jsii.Bool(true),
		Comment:        jsii.String("dnssec-autopilot " + w.Name + " (" + w.File + ")"),
	})
	b.StateMachines[w.Name] = sm
	if len(invoke) > 0 {
		slices.Sort(invoke)
		sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("InvokeSteps"), Actions: jsii.Strings("lambda:InvokeFunction"), Resources: jsii.Strings(slices.Compact(invoke)...),
		}))
	}
	for _, t := range w.Tasks {
		if taskKind(t.Resource) == "sns" {
			sns = true
		}
	}
	if sns {
		sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("Notify"), Actions: jsii.Strings("sns:Publish"), Resources: &[]*string{b.Topic.TopicArn()},
		}))
		sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("NotifyTopicKey"), Actions: jsii.Strings("kms:GenerateDataKey", "kms:Decrypt"), Resources: &[]*string{b.topicKey.KeyArn()},
		}))
	}
	sync := false
	for _, t := range w.Tasks {
		sync = sync || taskKind(t.Resource) == "sfn-sync"
	}
	children := slices.Clone(start)
	if w.Distributed {
		children = append(children, w.Name)
	}
	b.allow(sm, b.stateMachineWildcards(w, children)...)
	if len(children) > 0 {
		var machines, executions []string
		for _, c := range children {
			machines = append(machines, b.arn("states", "stateMachine:"+b.stateMachineName(c)))
			executions = append(executions, b.arn("states", "execution:"+b.stateMachineName(c)+":*"))
		}
		if w.Distributed {
			// Child workflow executions of a distributed Map are named
			// <state machine>/<map run>:<execution>.
			executions = append(executions, b.arn("states", "execution:"+b.stateMachineName(w.Name)+"/*"),
				b.arn("states", "mapRun:"+b.stateMachineName(w.Name)+"/*"))
		}
		sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("StartChildren"), Actions: jsii.Strings("states:StartExecution"), Resources: jsii.Strings(machines...),
		}))
		sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("WatchChildren"), Actions: jsii.Strings("states:DescribeExecution", "states:StopExecution"), Resources: jsii.Strings(executions...),
		}))
		if w.Distributed {
			sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String("MapRuns"), Actions: jsii.Strings("states:DescribeMapRun", "states:UpdateMapRun", "states:ListMapRuns"),
				Resources: jsii.Strings(b.arn("states", "mapRun:"+b.stateMachineName(w.Name)+"/*"), b.arn("states", "stateMachine:"+b.stateMachineName(w.Name))),
			}))
		}
	}
	if sync {
		sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("SyncChildren"),
			Actions:   jsii.Strings("events:PutTargets", "events:PutRule", "events:DescribeRule"),
			Resources: jsii.Strings(b.arn("events", "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")),
		}))
	}
}

// schedules starts rotate-ksk per zone on its schedule, or fleet-rotate on
// the fleet schedule.
func (b *builder) schedules() {
	rotate, hasRotate := b.StateMachines[WorkflowRotateKSK]
	fleet, hasFleet := b.StateMachines[WorkflowFleetRotate]
	useFleet := b.cfg.FleetSchedule != nil && hasFleet
	if b.cfg.FleetSchedule != nil && !hasFleet {
		b.Skipped = append(b.Skipped, "fleetSchedule: statemachines/fleet-rotate.asl.json does not exist yet; per-zone schedules instead")
	}
	if !useFleet && !hasRotate {
		b.Skipped = append(b.Skipped, "rotation schedules: statemachines/rotate-ksk.asl.json does not exist yet")
		return
	}
	role := awsiam.NewRole(b.st, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
		Description: jsii.String("dnssec-autopilot: EventBridge Scheduler starts the rotations"),
	})
	b.Roles["scheduler"] = []awsiam.Role{role}
	target := rotate
	if useFleet {
		target = fleet
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("states:StartExecution"), Resources: &[]*string{target.StateMachineArn()},
	}))
	schedule := func(id, name, desc string, s *config.Schedule, input any) {
		in, err := json.Marshal(input)
		if err != nil {
			panic(err) // plain structs: cannot fail
		}
		state := "ENABLED"
		if s.Disabled {
			state = "DISABLED"
		}
		awsscheduler.NewCfnSchedule(b.st, jsii.String(id), &awsscheduler.CfnScheduleProps{
			Name:                       jsii.String(name),
			Description:                jsii.String(desc),
			ScheduleExpression:         jsii.String(s.Expression),
			ScheduleExpressionTimezone: jsii.String(s.TimeZone),
			FlexibleTimeWindow:         &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			State:                      jsii.String(state),
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn:         target.StateMachineArn(),
				RoleArn:     role.RoleArn(),
				Input:       jsii.String(string(in)),
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{MaximumRetryAttempts: jsii.Number(3), MaximumEventAgeInSeconds: jsii.Number(3600)},
			},
		})
	}
	if useFleet {
		var zones []steps.Input
		for i := range b.cfg.Zones {
			zones = append(zones, b.cfg.Zones[i].RotationInput())
		}
		schedule("FleetRotateSchedule", b.cfg.NamePrefix+"-fleet-rotate", "dnssec-autopilot: KSK rotation of every configured zone",
			b.cfg.FleetSchedule, map[string]any{"zones": zones})
		return
	}
	for i := range b.cfg.Zones {
		z := &b.cfg.Zones[i]
		schedule("RotateSchedule"+z.HostedZoneID, b.cfg.NamePrefix+"-rotate-"+z.HostedZoneID,
			"dnssec-autopilot: KSK rotation of "+z.ZoneName, z.Schedule, z.RotationInput())
	}
}

// alarms creates the two DNSSEC alarms per zone, notifying the topic, and
// the rule that starts alarm-response when one goes to ALARM.
func (b *builder) alarms() {
	for i := range b.cfg.Zones {
		z := &b.cfg.Zones[i]
		if !z.AlarmsEnabled() {
			continue
		}
		for _, m := range alarmMetrics {
			a := awscloudwatch.NewAlarm(b.st, jsii.String(m+z.HostedZoneID), &awscloudwatch.AlarmProps{
				AlarmName: jsii.String(fmt.Sprintf("%s-%s-%s", b.cfg.NamePrefix, z.ZoneName, m)),
				AlarmDescription: jsii.String(fmt.Sprintf("Route 53 reports %s for %s (%s): DNSSEC signing needs attention before signatures expire; alarm-response diagnoses and repairs what it safely can.",
					m, z.ZoneName, z.HostedZoneID)),
				Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
					Namespace:     jsii.String("AWS/Route53"),
					MetricName:    jsii.String(m),
					DimensionsMap: &map[string]*string{"HostedZoneId": jsii.String(z.HostedZoneID)},
					Statistic:     jsii.String("Sum"),
					Period:        awscdk.Duration_Seconds(jsii.Number(AlarmPeriodSeconds)),
					Region:        jsii.String(Region),
				}),
				Threshold:          jsii.Number(1),
				ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
				EvaluationPeriods:  jsii.Number(AlarmEvaluationPeriods),
				DatapointsToAlarm:  jsii.Number(AlarmDatapointsToAlarm),
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			})
			a.AddAlarmAction(awscloudwatchactions.NewSnsAction(b.Topic))
			b.Alarms = append(b.Alarms, a)
		}
	}
	sm, ok := b.StateMachines[WorkflowAlarmResponse]
	if !ok {
		b.Skipped = append(b.Skipped, "alarm rule: statemachines/alarm-response.asl.json does not exist yet (the alarms still notify the topic)")
		return
	}
	if len(b.Alarms) == 0 {
		return
	}
	var arns []*string
	for _, a := range b.Alarms {
		arns = append(arns, a.AlarmArn())
	}
	awsevents.NewRule(b.st, jsii.String("AlarmResponseRule"), &awsevents.RuleProps{
		Description: jsii.String("dnssec-autopilot: a Route 53 DNSSEC alarm went to ALARM: start alarm-response with the event"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.cloudwatch"),
			DetailType: jsii.Strings("CloudWatch Alarm State Change"),
			Resources:  &arns,
			Detail:     &map[string]any{"state": map[string]any{"value": []string{"ALARM"}}},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
			RetryAttempts: jsii.Number(3),
		})},
	})
}

// guard creates the optional Deny guard.
func (b *builder) guard() {
	if b.cfg.KSKGuard == nil {
		return
	}
	guarded := []string{"route53:DeactivateKeySigningKey", "route53:DeleteKeySigningKey", "route53:DisableHostedZoneDNSSEC"}
	var allowed []*string
	for _, fn := range b.lay.Functions {
		if slices.ContainsFunc(permissions.Table[fn].Actions(), func(a string) bool { return slices.Contains(guarded, a) }) {
			for _, r := range b.Roles[fn] {
				allowed = append(allowed, r.RoleArn())
			}
		}
	}
	zones, _ := b.resources(permissions.ManagedZones)
	st := &awsiam.PolicyStatementProps{
		Sid:       jsii.String("OnlyTheWorkflowsRetireKSKs"),
		Effect:    awsiam.Effect_DENY,
		Actions:   jsii.Strings(guarded...),
		Resources: jsii.Strings(zones...),
	}
	if len(allowed) > 0 {
		st.Conditions = &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": allowed}}
	}
	var roles []awsiam.IRole
	for i, r := range b.cfg.KSKGuard.AttachToRoles {
		roles = append(roles, awsiam.Role_FromRoleName(b.st, jsii.String(fmt.Sprintf("GuardedRole%d", i)), jsii.String(r), nil))
	}
	p := awsiam.NewManagedPolicy(b.st, jsii.String("KSKGuard"), &awsiam.ManagedPolicyProps{
		Description: jsii.String("dnssec-autopilot: only the workflows deactivate or delete the managed zones' KSKs or disable their signing"),
		Statements:  &[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(st)},
		Roles:       &roles,
	})
	awscdk.NewCfnOutput(b.st, jsii.String("KSKGuardPolicyArn"), &awscdk.CfnOutputProps{
		Value: p.ManagedPolicyArn(), Description: jsii.String("The KSK Deny guard policy (attach it to people's roles or copy its statement into an SCP)"),
	})
}

func (b *builder) outputs() {
	awscdk.NewCfnOutput(b.st, jsii.String("NotificationTopicArn"), &awscdk.CfnOutputProps{
		Value: b.Topic.TopicArn(), Description: jsii.String("SNS topic of every workflow's notifications and of the DNSSEC alarms"),
	})
	for _, name := range b.lay.WorkflowNames() {
		awscdk.NewCfnOutput(b.st, jsii.String(camel(name)+"StateMachineArn"), &awscdk.CfnOutputProps{
			Value: b.StateMachines[name].StateMachineArn(), Description: jsii.String("State machine " + name),
		})
	}
	for _, s := range b.Skipped {
		awscdk.Annotations_Of(b.st).AddInfo(jsii.String("dnssec-autopilot: skipped " + s))
	}
}

// camel turns "rotate-ksk" or "vpc-0abc" into "RotateKsk" / "Vpc0abc" for
// construct IDs.
func camel(s string) string {
	var out strings.Builder
	up := true
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' {
			up = true
			continue
		}
		if up {
			out.WriteString(strings.ToUpper(string(r)))
			up = false
		} else {
			out.WriteRune(r)
		}
	}
	return out.String()
}
