package main

import (
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/dnssec-autopilot/dnssec-autopilot/infra/permissions"
)

// cdk-nag (AwsSolutions) findings accepted on review. Only AwsSolutions-IAM5
// (a wildcard in a resource) is suppressed, one resource pattern at a time
// ("appliesTo"), on the role that has it, with the reason it cannot be
// narrower. No action anywhere has a wildcard (the tests check it), and no
// other rule is suppressed.

// wildcard is the reason a resource kind needs a wildcard, and how cdk-nag
// renders that resource.
type wildcard struct {
	appliesTo string
	reason    string
}

// wildcards are the resource kinds of the permissions table that contain a
// wildcard.
func (b *builder) wildcards(kind permissions.Resource) (wildcard, bool) {
	kms := "Resource::arn:<AWS::Partition>:kms:" + Region + ":<AWS::AccountId>:"
	switch kind {
	case permissions.Route53Changes:
		return wildcard{"Resource::arn:<AWS::Partition>:route53:::change/*",
			"route53:GetChange reads the status of a change whose ID the same workflow received from the call that made it; change IDs cannot be known at deploy time, and GetChange discloses nothing but PENDING/INSYNC"}, true
	case permissions.NewKMSKeys:
		return wildcard{"Resource::*",
			"kms:CreateKey (and kms:TagResource on creation) has no resource before the key exists; the statement is conditioned on kms:KeySpec ECC_NIST_P256, kms:KeyUsage SIGN_VERIFY, a dnssec-autopilot:zone request tag and only dnssec-autopilot:* tag keys"}, true
	case permissions.Account:
		return wildcard{"Resource::*",
			"Route 53 Domains, route53:ListHostedZonesByName and route53resolver:ListResolverDnssecConfigs support no resource-level permissions (Service Authorization Reference); only the listed read and DS association calls are allowed"}, true
	case permissions.AllHostedZones:
		return wildcard{"Resource::arn:<AWS::Partition>:route53:::hostedzone/*",
			"fleet-rotate selects the hosted zones that carry a tag, which no deploy-time list can name; read-only (ListTagsForResources, GetDNSSEC): the rotations themselves act only on the configured zones"}, true
	case permissions.KeyMetadata:
		return wildcard{kms + "key/*",
			"read-only metadata (DescribeKey, GetKeyPolicy, ListResourceTags) of this account's us-east-1 keys, to verify a key an operator supplies by ARN at run time and report a wrong spec, usage, state or policy by name"}, true
	case permissions.SigningKeys:
		return wildcard{kms + "key/*",
			"Route 53 acts with the caller's permissions on the key backing a KSK (supplied at run time or created by the workflow); conditioned on kms:KeySpec ECC_NIST_P256 and kms:KeyUsage SIGN_VERIFY (keys that can only sign), and CreateGrant on kms:GrantIsForAWSResource"}, true
	case permissions.WorkflowKeys:
		return wildcard{kms + "key/*",
			"keys the workflows create get a fresh ARN per rotation; mutations (schedule deletion, enable, cancel deletion, restore policy, alias) are conditioned on the dnssec-autopilot:zone resource tag and on kms:KeySpec ECC_NIST_P256 / kms:KeyUsage SIGN_VERIFY"}, true
	case permissions.WorkflowAliases:
		return wildcard{kms + "alias/dnssec-autopilot/*",
			"aliases are named per zone and KSK at run time (alias/dnssec-autopilot/<zone>/<ksk>); the prefix confines them to this project"}, true
	case permissions.ResolverConfigs:
		return wildcard{"Resource::arn:<AWS::Partition>:route53resolver:" + Region + ":<AWS::AccountId>:resolver-dnssec-config/*",
			"a Resolver DNSSEC config's ARN carries its own ID (rdsc-...), assigned by Route 53 Resolver, not the VPC's; the step only acts on the configured VPCs"}, true
	case permissions.RotateKSKExecutions:
		return wildcard{"Resource::arn:<AWS::Partition>:states:" + Region + ":<AWS::AccountId>:execution:" + b.stateMachineName(WorkflowRotateKSK) + ":*",
			"executions of rotate-ksk are named at start time; only DescribeExecution of that one state machine's executions"}, true
	}
	return wildcard{}, false
}

// eniWildcard is the reason for the ENI actions of a function in a VPC.
var eniWildcard = wildcard{"Resource::*",
	"Lambda creates and deletes the network interfaces of a VPC-attached function with its execution role; ec2:DescribeNetworkInterfaces supports no resource-level permission and Lambda checks these actions on * when the function is created (the same actions as the AWS managed AWSLambdaVPCAccessExecutionRole, which cdk-nag IAM4 rejects)"}

// stateMachineWildcards are the reasons for the wildcards of a state
// machine's role.
func (b *builder) stateMachineWildcards(w *Workflow, children []string) []wildcard {
	out := []wildcard{{"Resource::*",
		"added by CDK for logging and tracing: logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups and xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets support no resource-level permissions (Step Functions developer guide, IAM policies for logging and X-Ray)"}}
	for _, c := range children {
		out = append(out, wildcard{"Resource::arn:<AWS::Partition>:states:" + Region + ":<AWS::AccountId>:execution:" + b.stateMachineName(c) + ":*",
			"child executions of " + c + " are named at start time; only DescribeExecution/StopExecution of that state machine's executions (what startExecution.sync needs)"})
	}
	if w.Distributed {
		out = append(out,
			wildcard{"Resource::arn:<AWS::Partition>:states:" + Region + ":<AWS::AccountId>:execution:" + b.stateMachineName(w.Name) + "/*",
				"the child workflow executions of this state machine's distributed Map are named by Step Functions at run time"},
			wildcard{"Resource::arn:<AWS::Partition>:states:" + Region + ":<AWS::AccountId>:mapRun:" + b.stateMachineName(w.Name) + "/*",
				"the Map Runs of this state machine's distributed Map are named by Step Functions at run time"})
	}
	return out
}

// allow records the wildcards of construct c (a role or a state machine).
func (b *builder) allow(c constructs.IConstruct, ws ...wildcard) {
	b.nag = append(b.nag, nagEntry{c, ws})
}

type nagEntry struct {
	c  constructs.IConstruct
	ws []wildcard
}

// suppress adds the recorded suppressions, one per resource pattern per
// construct, with every reason that applies.
func suppress(b *builder) {
	for _, e := range b.nag {
		reasons := map[string][]string{}
		var order []string
		for _, w := range e.ws {
			if _, ok := reasons[w.appliesTo]; !ok {
				order = append(order, w.appliesTo)
			}
			if !slices.Contains(reasons[w.appliesTo], w.reason) {
				reasons[w.appliesTo] = append(reasons[w.appliesTo], w.reason)
			}
		}
		var sups []*cdknag.NagPackSuppression
		for _, a := range order {
			sups = append(sups, &cdknag.NagPackSuppression{
				Id:        jsii.String("AwsSolutions-IAM5"),
				Reason:    jsii.String(strings.Join(reasons[a], "; ")),
				AppliesTo: &[]any{a},
			})
		}
		cdknag.NagSuppressions_AddResourceSuppressions(e.c, &sups, jsii.Bool(true))
	}
}
