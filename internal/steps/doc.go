// Package steps holds the Lambda steps of the workflows (enable-signing,
// rotate-ksk, disable-signing, enable-validation, alarm-response,
// fleet-rotate) as methods of one Handler, over small
// consumer-side interfaces, and the conventions every step follows so that
// the state machines in statemachines/*.asl.json can chain, retry, poll, wait
// and catch them the same way.
//
// # Files
//
// Shared by every workflow: doc.go (this), errors.go and awserr.go (named
// errors, AWS error classification), input.go (the console input),
// state.go (Event, State, Poll), deps.go (interfaces, Config, Handler),
// env.go (Handler from the environment), policy.go (policy numbers),
// names.go (KSK names, aliases), kmspolicy.go (the key policy), lock.go (the
// per-zone lock), history.go (observations into rollover.History),
// route53.go (zone and DNSSEC reads), observe.go (observe-zone and its
// targets), ds.go (publish-ds, verify-ds), finish.go (validate-chain, notify,
// release-lock). Per workflow: preflight.go and kms.go and ksk.go for
// enable-signing (prepare-kms-key and create-ksk are reused by rotate-ksk);
// rotate.go, rotate_ksk.go, rotate_errors.go for rotate-ksk, disable.go and
// disable_errors.go for disable-signing, validation.go for enable-validation
// (VPCs, not zones: its own input and steps), alarm.go, alarm_repair.go and
// alarm_notify.go for alarm-response (diagnose, remediate, verify, report;
// its input is an EventBridge alarm event or a zone), fleet.go for
// fleet-rotate (plan-fleet, list-batch, summarize-fleet: the rotations
// themselves are rotate-ksk child executions).
//
// # Handlers
//
// Every step is a method func(context.Context, Event) (State, error) of
// *Handler; functions/<step>/main.go is
//
//	h, err := steps.NewFromEnv(ctx)
//	...
//	lambda.Start(h.ObserveZone)
//
// The function's directory is the step's name in kebab case
// (functions/observe-zone), its state machine placeholder that name in
// PascalCase + "FunctionArn" (${ObserveZoneFunctionArn}), listed with an
// example ARN in statemachines/substitutions.json. A workflow's own first
// step is preflight-<workflow> (PreflightEnable, functions/preflight-enable).
//
// Tests and the local stack build a Handler with New(Config, Deps) from
// emulator-backed SDK clients, an observer and a resolver factory on the
// local DNS tree, and the virtual clock.
//
// # Payload and state
//
// Every Task passes the same Event (see Event for the Parameters block):
// the execution ($$.Execution.Id, Name, StartTime), the state ($.state), and
// the Task's own parameters (target, gate, action, key, goal). A first step
// gets the console input ("input.$": "$") and creates the State; every step
// returns the whole State and the Task writes it back with
// "ResultPath": "$.state". State is plain JSON carrying the zone, the DS
// publisher settings, the KSKs (KSK: the one the workflow creates; OldKSK:
// the one rotate-ksk retires; KSKs: disable-signing's), the last Route 53
// change (ChangeID), the DS operation under way (DSOperation), the
// rollover.History of every observation, the last gate (Gate) and the poll
// loop (Poll).
//
// # Waiting and polling
//
// No step sleeps. A step that waits for propagation sets Poll: Done when its
// goal is met, else DelaySeconds (back-off from a base, doubling up to
// PollBackoffMax, or the API's own hint) and counts against a time budget;
// when the budget is spent it returns *PropagationTimeoutError naming the
// lagging servers. The state machine loops:
//
//	Task -> Choice ($.state.poll.done == true ? next : Wait) ;
//	Wait {"SecondsPath": "$.state.poll.delaySeconds"} -> Task
//
// Gates: observe-zone with a "gate" parameter computes State.Gate from the
// History (internal/rollover); At is an RFC 3339 time for
// Wait {"TimestampPath": "$.state.gate.at"}, Ready says it has passed. After
// the Wait the state machine observes again (TTLs are re-read; a larger one
// moves the gate), so a wait of any length costs a constant number of
// transitions.
//
// # Errors
//
// Handlers return named error types, unwrapped (the Lambda Go runtime reports
// the type name, which Retry and Catch match): InvalidInputError,
// ZoneNotFoundError, PrivateZoneError, ZoneNotDelegatedError,
// ParentNotSecureError, AlreadySignedError, ConcurrentRunError, the
// KMSKey*Error family, KSKConflictError, SigningInternalFailureError (Route
// 53 INTERNAL_FAILURE: stop), PropagationTimeoutError, ChainNotSecureError,
// AlarmNotRemediableError (alarm-response: a person must act),
// AccessDeniedError (IAM or a resource policy refused a call: not retried),
// and dspublish's (RegistrarOperationFailedError...). Retryable:
// ServiceBusyError (Throttling, ConcurrentModification,
// PriorRequestNotComplete... left after the SDK's retries) and
// ObservationIncompleteError (a server did not answer where every one must).
// named(step, err) turns any error into one of these (UnexpectedError when
// nothing else fits); any pointer-to-struct error type of this package or
// dspublish whose name ends in "Error" passes through by its own name.
// Route 53's KeySigningKeyInParentDSRecord means "not yet" (IsKSKInParentDS):
// poll, never force.
//
// Each state machine: every Task has the standard Lambda retry
// (asl.StandardLambdaRetry) and a retry of ServiceBusyError and
// ObservationIncompleteError with back-off; every Task after the lock is
// taken has Catch [States.ALL] -> ResultPath $.error -> release-lock
// (ResultPath null) -> Fail {"ErrorPath": "$.error.Error", "CausePath":
// "$.error.Cause"}; a first step's Catch goes straight to Fail (nothing to
// release, nothing changed).
//
// # Idempotence
//
// A step may run twice with the same Event (a Lambda retry after its side
// effect, a redriven execution) and must converge without a second side
// effect:
//   - names derive from the execution: KSKName($$.Execution.StartTime),
//     KeyAlias(zone, ksk) for KMS keys (found by alias before creating);
//   - creates tolerate "already exists" when it is the same thing
//     (KeySigningKeyAlreadyExists with the same KMS key, AlreadyExistsException
//     of the alias), deletes tolerate "not found";
//   - a step reads the current state first (GetDNSSEC, GetChange, the
//     publisher's system of record) and does only what is missing;
//   - the per-zone lock (lock.go) is re-entrant for its execution.
package steps
