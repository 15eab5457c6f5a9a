// Package permissions is the reviewed table of what each step Lambda may do:
// for every functions/<name> directory, the IAM actions its code calls and
// the kind of resource each applies to. The CDK app (../) builds one role per
// Lambda from it, turning each Resource kind into ARNs of this deployment
// (the configured zones, the workflows' KMS keys, the topic...), and refuses
// to synthesize a function that has no entry here.
//
// Review rule: an entry changes in the same change as the step code whose AWS
// calls it covers. For each SDK call a step makes (grep internal/steps and
// internal/dspublish for ".Route53.", ".KMS.", ".Domains.", ".SNS.",
// ".Resolver." and the client interfaces in internal/steps/deps.go), the
// step's function lists the action on the narrowest Resource kind, and the
// Why says which call needs it. TestTableMatchesCode (../permissions_test.go)
// checks every entry against the calls the code of its function can reach.
package permissions

import "slices"

// Resource is a kind of resource a grant applies to; the stack expands it.
type Resource string

// The resource kinds.
const (
	// ManagedZones: arn:aws:route53:::hostedzone/<id> of every configured zone.
	ManagedZones Resource = "managed-zones"
	// ParentZones: the hosted zones of the parentHostedZone publishers'
	// parents (no statement when no zone uses that publisher).
	ParentZones Resource = "parent-zones"
	// Route53Changes: arn:aws:route53:::change/* (change IDs are returned by
	// the calls that make them; GetChange only reads a status).
	Route53Changes Resource = "route53-changes"
	// NewKMSKeys: "*" (a key has no ARN before CreateKey) with conditions:
	// kms:KeySpec ECC_NIST_P256, kms:KeyUsage SIGN_VERIFY, and a
	// dnssec-autopilot:zone request tag; only dnssec-autopilot:* tag keys.
	NewKMSKeys Resource = "new-kms-keys"
	// KeyMetadata: arn:aws:kms:us-east-1:<account>:key/*, for read-only
	// metadata calls (DescribeKey, GetKeyPolicy, ListResourceTags) that
	// verify a supplied key: a key of the wrong spec must be reported as
	// such, not as AccessDenied.
	KeyMetadata Resource = "kms-key-metadata"
	// SigningKeys: arn:aws:kms:us-east-1:<account>:key/* with kms:KeySpec
	// ECC_NIST_P256 and kms:KeyUsage SIGN_VERIFY: any key of the account
	// that can back a KSK (a supplied key is not tagged). Such a key can
	// only sign and verify, never decrypt.
	SigningKeys Resource = "signing-keys"
	// WorkflowKeys: SigningKeys that also carry the dnssec-autopilot:zone
	// tag, i.e. that a workflow created (or an operator tagged): only these
	// may be scheduled for deletion or repaired.
	WorkflowKeys Resource = "workflow-keys"
	// WorkflowAliases: arn:aws:kms:us-east-1:<account>:alias/dnssec-autopilot/*.
	WorkflowAliases Resource = "workflow-aliases"
	// Topic: the stack's notification topic.
	Topic Resource = "topic"
	// TopicKey: the KMS key that encrypts the notification topic.
	TopicKey Resource = "topic-key"
	// ManualTopics: the topicArn of every manual DS publisher in the
	// configuration (no statement when none).
	ManualTopics Resource = "manual-topics"
	// ResolverConfigs: arn:aws:route53resolver:us-east-1:<account>:resolver-dnssec-config/*
	// (a config's ID is not the VPC's; the VPC ID is the request's
	// ResourceId, checked by the step against the configured VPCs).
	ResolverConfigs Resource = "resolver-configs"
	// RotateKSK: the rotate-ksk state machine (fleet-rotate's children).
	RotateKSK Resource = "rotate-ksk-state-machine"
	// RotateKSKExecutions: arn:aws:states:...:execution:<rotate-ksk name>:*.
	RotateKSKExecutions Resource = "rotate-ksk-executions"
	// AllHostedZones: arn:aws:route53:::hostedzone/*, read-only: the
	// tags of every hosted zone, to select a fleet by tag (a selected zone
	// outside the configuration is then refused to the rotation's own
	// functions, which act on ManagedZones only).
	AllHostedZones Resource = "all-hosted-zones"
	// Account: "*". Only for actions that support no resource-level
	// permission (AccountLevelActions); each is a reviewed cdk-nag
	// suppression.
	Account Resource = "account"
)

// AccountLevelActions are the actions whose service authorization reference
// lists no resource type: the only ones allowed on Account.
var AccountLevelActions = []string{
	"route53domains:GetDomainDetail",
	"route53domains:AssociateDelegationSignerToDomain",
	"route53domains:DisassociateDelegationSignerFromDomain",
	"route53domains:GetOperationDetail",
	"route53domains:ListOperations",
	"route53resolver:ListResolverDnssecConfigs",
	"route53:ListHostedZonesByName",
	"ec2:DescribeNetworkInterfaces",
	"ec2:CreateNetworkInterface",
	"ec2:DeleteNetworkInterface",
	"ec2:AssignPrivateIpAddresses",
	"ec2:UnassignPrivateIpAddresses",
}

// Grant is one statement: Actions on the resources of kind On.
type Grant struct {
	Actions []string
	On      Resource
	// Why names the calls that need the actions.
	Why string
	// Implied: the function's code does not call these actions itself; a
	// service requires them of the caller (Route 53 uses the caller's KMS
	// permissions for a KSK, SNS encrypts with the topic's key, KMS wants
	// kms:TagResource for tags given to CreateKey). The cross-check
	// (TestTableMatchesCode) skips them in its "granted but not called" check.
	Implied bool
}

// Function is the entry of one functions/<name> directory.
type Function struct {
	// Grants are the function's permissions (beyond writing its own log
	// group, which every function gets).
	Grants []Grant
	// PerVPC: the function probes from inside a VPC; the stack deploys one
	// copy attached to each configured VPC (with the ENI permissions Lambda
	// needs for that), none when no VPC is configured.
	PerVPC bool
	// MemoryMB is the memory size; 128 when zero.
	MemoryMB int
	// TimeoutSeconds is the Lambda timeout; DefaultTimeoutSeconds when zero.
	TimeoutSeconds int
}

// DefaultTimeoutSeconds bounds a step: every network wait inside a step is
// bounded (dnsquery retries, the SDK's attempts), observing every address of
// every server of a zone and its parent takes seconds, and waiting is done by
// the state machine; two minutes leave room for a slow registry API.
const DefaultTimeoutSeconds = 120

// Reusable grants.
var (
	fleetSelect = []Grant{
		{Actions: []string{"route53:ListHostedZonesByName"}, On: Account, Why: "ListHostedZonesByName: the zones of the account in order, to select a fleet by tag and cut it into batches"},
		{Actions: []string{"route53:ListTagsForResources"}, On: AllHostedZones, Why: "ListTagsForResources: which zones carry the fleet's tag and their DS publisher tag"},
	}
	readZone = Grant{
		Actions: []string{"route53:GetHostedZone", "route53:GetDNSSEC"},
		On:      ManagedZones,
		Why:     "GetHostedZone (name, privacy, name servers) and GetDNSSEC (signing status, KSKs) of the input zone",
	}
	lock = Grant{
		Actions: []string{"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"},
		On:      ManagedZones,
		Why:     "the per-zone lock: CREATE/DELETE of the _dnssec-autopilot TXT record in the zone (steps/lock.go)",
	}
	getChange = Grant{
		Actions: []string{"route53:GetChange"},
		On:      Route53Changes,
		Why:     "GetChange: whether a change (record set, KSK, signing) is INSYNC",
	}
	notify = Grant{
		Actions: []string{"sns:Publish"},
		On:      Topic,
		Why:     "Publish of the run's summary to the deployment's topic",
	}
	topicKey = Grant{
		Actions: []string{"kms:GenerateDataKey", "kms:Decrypt"},
		On:      TopicKey,
		Why:     "SNS encrypts the published message with the topic's KMS key on the publisher's behalf",
		Implied: true,
	}
	// publishDS are the calls of the three DS publishers (internal/dspublish).
	publishDS = []Grant{
		{
			Actions: []string{"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"},
			On:      ParentZones,
			Why:     "parentHostedZone publisher: UPSERT/DELETE of the child's DS set in the parent hosted zone",
		},
		{
			Actions: []string{"route53:GetHostedZone"},
			On:      ParentZones,
			Why:     "parentHostedZone publisher: the parent hosted zone is the child's parent",
		},
		{
			Actions: []string{"route53domains:GetDomainDetail", "route53domains:AssociateDelegationSignerToDomain",
				"route53domains:DisassociateDelegationSignerFromDomain", "route53domains:GetOperationDetail", "route53domains:ListOperations"},
			On:  Account,
			Why: "route53Domains publisher: Route 53 Domains has no resource-level permissions",
		},
		{
			Actions: []string{"sns:Publish"},
			On:      ManualTopics,
			Why:     "manual publisher: the DS to publish is sent to the operator's topic",
		},
		notify, topicKey,
		getChange,
	}
	// withdrawDS are publishDS without adding a DS at the registrar.
	withdrawDS = append([]Grant{{
		Actions: []string{"route53domains:GetDomainDetail", "route53domains:DisassociateDelegationSignerFromDomain", "route53domains:GetOperationDetail", "route53domains:ListOperations"},
		On:      Account,
		Why:     "route53Domains publisher: Route 53 Domains has no resource-level permissions",
	}}, publishDS[0], publishDS[1], publishDS[3], notify, topicKey, getChange)
	// kskKMS is what Route 53 needs from the caller to use a key for a KSK
	// (it acts with the caller's permissions: the CloudFormation handler of
	// AWS::Route53::KeySigningKey lists the same).
	kskKMS = Grant{
		Actions: []string{"kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:CreateGrant"},
		On:      SigningKeys,
		Why:     "CreateKeySigningKey/ActivateKeySigningKey: Route 53 reads the public key, signs and creates its grant as the caller",
		Implied: true,
	}
)

// Table maps functions/<name> to its permissions. Keep it sorted by name.
var Table = map[string]Function{
	// enable-signing, rotate-ksk, disable-signing (internal/steps)
	"check-change": {Grants: []Grant{getChange}},
	"create-ksk": {Grants: []Grant{
		{Actions: []string{"route53:CreateKeySigningKey", "route53:ActivateKeySigningKey", "route53:GetDNSSEC"}, On: ManagedZones,
			Why: "CreateKeySigningKey (ACTIVE) of the new KSK; GetDNSSEC finds it on a re-run, ActivateKeySigningKey if it was left INACTIVE"},
		kskKMS,
	}},
	"deactivate-ksk": {Grants: []Grant{
		{Actions: []string{"route53:DeactivateKeySigningKey", "route53:GetDNSSEC"}, On: ManagedZones, Why: "DeactivateKeySigningKey of the retired KSK; GetDNSSEC for its status"},
	}},
	"delete-ksk": {Grants: []Grant{
		{Actions: []string{"route53:DeleteKeySigningKey", "route53:GetDNSSEC"}, On: ManagedZones, Why: "DeleteKeySigningKey of the retired (INACTIVE) KSK"},
	}},
	"disable-signing": {Grants: []Grant{
		{Actions: []string{"route53:DisableHostedZoneDNSSEC", "route53:GetDNSSEC"}, On: ManagedZones, Why: "DisableHostedZoneDNSSEC once no DS can be cached"},
	}},
	"enable-signing": {Grants: []Grant{
		{Actions: []string{"route53:EnableHostedZoneDNSSEC", "route53:GetDNSSEC"}, On: ManagedZones, Why: "EnableHostedZoneDNSSEC; GetDNSSEC makes it idempotent"},
		kskKMS,
	}},
	"notify":       {Grants: []Grant{notify, topicKey}},
	"observe-zone": {}, // DNS queries only
	"preflight-disable": {Grants: []Grant{readZone, lock,
		{Actions: []string{"route53domains:GetDomainDetail"}, On: Account, Why: "route53Domains publisher: the DS records the registry holds for the domain"},
	}},
	"preflight-enable": {Grants: []Grant{readZone, lock,
		{Actions: []string{"route53:GetHostedZone", "route53:GetDNSSEC"}, On: ParentZones, Why: "a child zone's parent hosted zone must be signed"},
		{Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListResourceTags"}, On: KeyMetadata, Why: "verify a supplied kmsKeyArn: region, spec, usage, state, policy, not used by another KSK"},
	}},
	"preflight-rotate": {Grants: []Grant{readZone, lock}},
	"prepare-kms-key": {Grants: []Grant{
		{Actions: []string{"route53:GetDNSSEC"}, On: ManagedZones, Why: "GetDNSSEC: the KMS keys of the zone's current KSKs (the new key must differ)"},
		{Actions: []string{"kms:CreateKey"}, On: NewKMSKeys, Why: "CreateKey of an ECC_NIST_P256 SIGN_VERIFY key with the documented policy, tagged with its zone"},
		{Actions: []string{"kms:TagResource"}, On: NewKMSKeys, Why: "KMS requires kms:TagResource for the Tags given to CreateKey", Implied: true},
		{Actions: []string{"kms:CreateAlias"}, On: WorkflowAliases, Why: "CreateAlias alias/dnssec-autopilot/<zone>/<ksk> (the alias side)"},
		{Actions: []string{"kms:CreateAlias"}, On: WorkflowKeys, Why: "CreateAlias (the key side): only a key the workflow created"},
		{Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListResourceTags"}, On: KeyMetadata, Why: "verify a supplied or created key: region, spec, usage, state, policy, tags"},
	}},
	"prove-insecure": {}, // DNS validation only
	"prove-new-key": {Grants: []Grant{
		{Actions: []string{"route53:GetDNSSEC"}, On: ManagedZones, Why: "GetDNSSEC: the KSKs whose DS must validate alone"},
	}},
	"publish-ds":   {Grants: publishDS},
	"release-lock": {Grants: []Grant{lock}},
	"retire-kms-keys": {Grants: []Grant{
		{Actions: []string{"kms:DescribeKey", "kms:ListResourceTags"}, On: KeyMetadata, Why: "DescribeKey/ListResourceTags: state of a retired key and whether a workflow created it"},
		{Actions: []string{"kms:ScheduleKeyDeletion"}, On: WorkflowKeys, Why: "ScheduleKeyDeletion of a retired key the workflow created (window from the input or KMS_DELETION_WINDOW_DAYS)"},
	}},
	"retire-ksks": {Grants: []Grant{
		{Actions: []string{"route53:DeactivateKeySigningKey", "route53:DeleteKeySigningKey", "route53:GetDNSSEC"}, On: ManagedZones, Why: "disable-signing: deactivate and delete every KSK once signing is off"},
	}},
	"rollback-gate": {}, // computes a gate from the state
	"schedule-key-deletion": {Grants: []Grant{
		{Actions: []string{"route53:GetDNSSEC"}, On: ManagedZones, Why: "GetDNSSEC: the key must back no KSK any more"},
		{Actions: []string{"kms:DescribeKey", "kms:ListResourceTags"}, On: KeyMetadata, Why: "DescribeKey/ListResourceTags: state of the old key and whether a workflow created it"},
		{Actions: []string{"kms:ScheduleKeyDeletion"}, On: WorkflowKeys, Why: "ScheduleKeyDeletion of the old key the workflow created"},
	}},
	"validate-chain": {}, // DNS validation only
	"verify-ds":      {}, // DNS observation of every parent server only
	"withdraw-ds":    {Grants: withdrawDS},

	// enable-validation
	"update-resolver-validation": {Grants: []Grant{
		{Actions: []string{"route53resolver:UpdateResolverDnssecConfig", "route53resolver:GetResolverDnssecConfig"}, On: ResolverConfigs, Why: "UpdateResolverDnssecConfig ENABLE/DISABLE and its status, per configured VPC"},
		notify, topicKey,
	}},
	"probe-vpc": {PerVPC: true},

	// alarm-response (internal/steps/alarm.go)
	"diagnose": {Grants: []Grant{readZone,
		{Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListResourceTags"}, On: KeyMetadata, Why: "state, pending deletion and policy of each KSK's key; its dnssec-autopilot:zone tag says whether it may be repaired"},
	}},
	"remediate": {Grants: []Grant{
		{Actions: []string{"route53:GetDNSSEC"}, On: ManagedZones, Why: "GetDNSSEC: re-read the KSKs before repairing, and verify SIGNING/ACTIVE after"},
		{Actions: []string{"kms:EnableKey", "kms:CancelKeyDeletion", "kms:PutKeyPolicy"}, On: WorkflowKeys, Why: "enable a disabled key, cancel a pending deletion, restore the Route 53 policy statement: workflow keys only"},
		{Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListResourceTags"}, On: KeyMetadata, Why: "re-read the key and its tag before a repair (a Lambda retry repairs only what is still missing)"},
		{Actions: []string{"route53:ActivateKeySigningKey"}, On: ManagedZones, Why: "re-activate the KSK after its key is repaired, or once after INTERNAL_FAILURE (Route 53 troubleshooting guide)"},
		{Actions: []string{"route53:EnableHostedZoneDNSSEC"}, On: ManagedZones, Why: "once after the zone's INTERNAL_FAILURE: the API reference says to enable (or disable) signing again; never disable"},
		kskKMS,
		notify, topicKey,
	}},

	// fleet-rotate (the children are rotate-ksk executions: the state
	// machine's role starts them)
	// plan-fleet lists every zone and its tags once: about 11 requests per
	// 100 zones at Route 53's 5 per second, 900 s (Lambda's longest) is
	// enough for about 30,000 zones.
	"plan-fleet": {Grants: fleetSelect, TimeoutSeconds: 900},
	"list-batch": {Grants: append(slices.Clone(fleetSelect),
		Grant{Actions: []string{"route53:GetDNSSEC"}, On: AllHostedZones, Why: "GetDNSSEC: the age of the active KSK of a selected zone (minKeyAgeDays)"})},
	"summarize-fleet": {Grants: []Grant{notify, topicKey}},
}

// Sorted returns the table's function names in order.
func Sorted() []string {
	names := make([]string, 0, len(Table))
	for n := range Table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Actions returns every action of f, sorted and without duplicates.
func (f Function) Actions() []string {
	var out []string
	for _, g := range f.Grants {
		out = append(out, g.Actions...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
