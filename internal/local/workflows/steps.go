package workflows

import (
	"context"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// HandlerFunc is the shape of every step: a method of *steps.Handler bound
// to one Handler.
type HandlerFunc func(context.Context, steps.Event) (steps.State, error)

// Step ties a state machine placeholder (statemachines/substitutions.json)
// to the method of steps.Handler that the function behind it runs
// (functions/<step>/main.go).
type Step struct {
	Placeholder string
	Method      func(*steps.Handler, context.Context, steps.Event) (steps.State, error)
}

// Steps is the one table of every step of every workflow. A test checks it
// against statemachines/substitutions.json and the placeholders of the
// state machines, both ways.
var Steps = []Step{
	// enable-signing (prepare-kms-key and create-ksk are reused by rotate-ksk)
	{"PreflightEnableFunctionArn", (*steps.Handler).PreflightEnable},
	{"PrepareKmsKeyFunctionArn", (*steps.Handler).PrepareKMSKey},
	{"CreateKskFunctionArn", (*steps.Handler).CreateKSK},
	{"EnableSigningFunctionArn", (*steps.Handler).EnableSigning},
	// shared by every workflow
	{"CheckChangeFunctionArn", (*steps.Handler).CheckChange},
	{"ObserveZoneFunctionArn", (*steps.Handler).ObserveZone},
	{"PublishDsFunctionArn", (*steps.Handler).PublishDS},
	{"VerifyDsFunctionArn", (*steps.Handler).VerifyDS},
	{"ValidateChainFunctionArn", (*steps.Handler).ValidateChain},
	{"NotifyFunctionArn", (*steps.Handler).Notify},
	{"ReleaseLockFunctionArn", (*steps.Handler).ReleaseLock},
	// rotate-ksk
	{"PreflightRotateFunctionArn", (*steps.Handler).PreflightRotate},
	{"ProveNewKeyFunctionArn", (*steps.Handler).ProveNewKey},
	{"DeactivateKskFunctionArn", (*steps.Handler).DeactivateKSK},
	{"DeleteKskFunctionArn", (*steps.Handler).DeleteKSK},
	{"ScheduleKeyDeletionFunctionArn", (*steps.Handler).ScheduleKeyDeletion},
	{"RollbackGateFunctionArn", (*steps.Handler).RollbackGate},
	// disable-signing
	{"PreflightDisableFunctionArn", (*steps.Handler).PreflightDisable},
	{"WithdrawDsFunctionArn", (*steps.Handler).WithdrawDS},
	{"ProveInsecureFunctionArn", (*steps.Handler).ProveInsecure},
	{"DisableSigningFunctionArn", (*steps.Handler).DisableSigning},
	{"RetireKsksFunctionArn", (*steps.Handler).RetireKSKs},
	{"RetireKmsKeysFunctionArn", (*steps.Handler).RetireKMSKeys},
	// enable-validation
	{"UpdateResolverValidationFunctionArn", (*steps.Handler).UpdateResolverValidation},
	{"ProbeVpcFunctionArn", (*steps.Handler).ProbeVPC},
	// fleet-rotate
	{"PlanFleetFunctionArn", (*steps.Handler).PlanFleet},
	{"ListBatchFunctionArn", (*steps.Handler).ListBatch},
	{"SummarizeFleetFunctionArn", (*steps.Handler).SummarizeFleet},
	// alarm-response
	{"DiagnoseFunctionArn", (*steps.Handler).Diagnose},
	{"RemediateFunctionArn", (*steps.Handler).Remediate},
}

// PerVPC are the placeholders of steps deployed once per VPC (infra:
// permissions.Function.PerVPC): the substitution is the function name
// prefix "<...>:function:<prefix>-<step>-" and the state machine appends
// the VPC ID (States.Format). Start registers one function per stack VPC,
// each querying that VPC's resolver.
var PerVPC = map[string]bool{"ProbeVpcFunctionArn": true}
