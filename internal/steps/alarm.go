package steps

// alarm-response (issue 6): started by the EventBridge event of a
// DNSSECInternalFailure or DNSSECKeySigningKeysNeedingAction alarm, or from
// the console with a hosted zone ID. diagnose reads what is wrong (GetDNSSEC,
// each KSK's KMS key, the signatures every zone server serves and the time
// left before they expire); remediate repairs what is safe, each repair
// behind a switch, following the Route 53 troubleshooting guide ("KSK status
// is Action needed": make the key usable again, then activate the KSK;
// "Internal failure": activate the KSK, or enable signing, again). The same
// function verifies (Action "verify": Route 53 SIGNING, the KSKs ACTIVE,
// every zone server serving a DNSKEY set that validates with fresh
// signatures) and notifies (Action "notify": what was found, what was done,
// what a person must do). The state machine is
// statemachines/alarm-response.asl.json. Files: alarm.go (input, state,
// diagnose), alarm_repair.go (remediate, verify), alarm_notify.go (the
// report).
//
// What it never does: create, deactivate or delete a KSK, disable signing,
// touch an INACTIVE KSK (a rotation may have retired it on purpose), or
// change a KMS key that no workflow created (no dnssec-autopilot:zone tag):
// those are a person's decisions, and the runbook says which.
//
// When something is left for a person the run still notifies (the
// runbook), then fails with AlarmNotRemediableError: a red execution, which
// an ExecutionsFailed alarm can page on, is harder to miss than a green one
// saying "needs a person". It takes no per-zone lock (lock.go): a rotate-ksk
// holding it may wait for days, a broken key cannot, and the repairs only
// make the existing keys usable again, which is what a running workflow
// expects of them. Two alarms of one incident may start two runs; every
// repair re-reads the state first and is idempotent, so they converge.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// WorkflowAlarmResponse names alarm-response in State.Workflow.
const WorkflowAlarmResponse rollover.Workflow = "alarm-response"

// The alarm event alarm-response accepts (the EventBridge rule of the
// deployment matches the same): a CloudWatch alarm state change into ALARM
// of one of Route 53's two DNSSEC metrics of a hosted zone.
const (
	AlarmEventSource     = "aws.cloudwatch"
	AlarmEventDetailType = "CloudWatch Alarm State Change"
	AlarmStateAlarm      = "ALARM"
	AlarmNamespace       = "AWS/Route53"
	AlarmDimension       = "HostedZoneId"
	// MetricInternalFailure and MetricKSKsNeedingAction are the Route 53
	// DNSSEC metrics ("Monitoring hosted zones using Amazon CloudWatch").
	MetricInternalFailure   = "DNSSECInternalFailure"
	MetricKSKsNeedingAction = "DNSSECKeySigningKeysNeedingAction"
)

// The outcomes of alarm-response (AlarmState.Outcome).
const (
	// AlarmRepaired: every problem found was repaired and verified.
	AlarmRepaired = "repaired"
	// AlarmNothingToRepair: the zone was already healthy (a person, or
	// Route 53, fixed it before the run) and was verified.
	AlarmNothingToRepair = "nothing-to-repair"
	// AlarmNeedsPerson: something is left that the run may not or could not
	// repair; the notification carries the runbook and the execution fails
	// with AlarmNotRemediableError.
	AlarmNeedsPerson = "needs-person"
	// AlarmFailed: a step failed (verification timed out, an API error);
	// the notification carries the error.
	AlarmFailed = "failed"
)

// The Event.Action modes of remediate.
const (
	AlarmActionVerify = "verify"
	AlarmActionNotify = "notify"
)

// AlarmVerifyBudget bounds the verification: Route 53 applies a KSK
// activation within a minute and its servers re-sign the DNSKEY set at the
// next query once the key signs again; half an hour means the repair did
// not take.
const AlarmVerifyBudget = 30 * time.Minute

// AlarmRepairs are the switches of the repairs alarm-response may make;
// every one is on unless the input or Config.AlarmRepairsOff turns it off.
type AlarmRepairs struct {
	// EnableKey enables a disabled KMS key of a KSK (a workflow key only).
	EnableKey bool `json:"enableKey"`
	// CancelKeyDeletion cancels a pending deletion of a KMS key of a KSK
	// (the key is then disabled: EnableKey enables it).
	CancelKeyDeletion bool `json:"cancelKeyDeletion"`
	// RestorePolicy adds back the key policy statements Route 53 DNSSEC
	// needs (KeyPolicy), keeping every other statement.
	RestorePolicy bool `json:"restorePolicy"`
	// ReactivateKSK activates a KSK in ACTION_NEEDED once its key is
	// usable, as the troubleshooting guide says.
	ReactivateKSK bool `json:"reactivateKsk"`
	// RetryInternalFailure repeats once the documented idempotent call
	// after INTERNAL_FAILURE: ActivateKeySigningKey for a KSK,
	// EnableHostedZoneDNSSEC for the zone's signing.
	RetryInternalFailure bool `json:"retryInternalFailure"`
}

// alarmRepairSwitches are the switch names, as in the input.
var alarmRepairSwitches = []string{"enableKey", "cancelKeyDeletion", "restorePolicy", "reactivateKsk", "retryInternalFailure"}

func (r *AlarmRepairs) field(name string) *bool {
	switch name {
	case "enableKey":
		return &r.EnableKey
	case "cancelKeyDeletion":
		return &r.CancelKeyDeletion
	case "restorePolicy":
		return &r.RestorePolicy
	case "reactivateKsk":
		return &r.ReactivateKSK
	case "retryInternalFailure":
		return &r.RetryInternalFailure
	}
	return nil
}

// AlarmInput is alarm-response's console input:
//
//	{"hostedZoneId": "Z0123456789ABCDEFGHIJ",
//	 "remediate": {"enableKey": true, "cancelKeyDeletion": true, "restorePolicy": true,
//	               "reactivateKsk": true, "retryInternalFailure": true},
//	 "topicArn": "arn:aws:sns:us-east-1:123456789012:dnssec"}
//
// Every switch of remediate is on when absent (and not turned off by the
// deployment); topicArn defaults to the deployment's topic.
type AlarmInput struct {
	HostedZoneID string           `json:"hostedZoneId"`
	Remediate    map[string]*bool `json:"remediate,omitempty"`
	TopicARN     string           `json:"topicArn,omitempty"`
	// NotifyTopicARN is the name the other workflows' input uses for it.
	NotifyTopicARN string `json:"notifyTopicArn,omitempty"`
	// SafetyMarginSeconds is the margin added to the DS TTL in "the
	// signatures expire before the DS could leave caches".
	SafetyMarginSeconds *int64 `json:"safetyMarginSeconds,omitempty"`
}

// AlarmTrigger is what started the run.
type AlarmTrigger struct {
	// Source is "alarm" (an EventBridge event) or "console".
	Source    string `json:"source"`
	AlarmName string `json:"alarmName,omitempty"`
	AlarmARN  string `json:"alarmArn,omitempty"`
	Metric    string `json:"metric,omitempty"`
	Time      string `json:"time,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// AlarmState is alarm-response's part of State.
type AlarmState struct {
	// Input is the execution's input (an EventBridge event or AlarmInput),
	// given to diagnose only.
	Input   json.RawMessage `json:"input,omitempty"`
	Trigger AlarmTrigger    `json:"trigger"`
	Repairs AlarmRepairs    `json:"repairs"`

	// The diagnosis.
	ServeSignature string         `json:"serveSignature,omitempty"`
	StatusMessage  string         `json:"statusMessage,omitempty"`
	KSKs           []KSKDiagnosis `json:"ksks,omitempty"`
	// ZoneServers is how many zone server addresses answered with signed
	// data; Unanswered lists those that did not.
	ZoneServers int      `json:"zoneServers"`
	Unanswered  []string `json:"unanswered,omitempty"`
	// EarliestExpiry is the earliest RRSIG expiration (DNSKEY, SOA, NS)
	// over every zone server, RFC 3339; ExpiryServer serves it.
	EarliestExpiry string `json:"earliestExpiry,omitempty"`
	ExpiryServer   string `json:"expiryServer,omitempty"`
	// TimeLeftSeconds is EarliestExpiry minus the diagnosis time: when
	// validating resolvers start failing if nothing is repaired.
	TimeLeftSeconds int64 `json:"timeLeftSeconds"`
	// DSTTL is the largest DS TTL the parent servers serve (0: no DS).
	DSTTL uint32 `json:"dsTtl"`
	// DSPublished says a parent server serves a DS of the zone: only then
	// is the chain of trust validated after the repair (a zone not yet
	// chained, or whose DS was withdrawn, is insecure by design).
	DSPublished bool `json:"dsPublished"`
	// Urgent: the signatures expire before a DS withdrawn now could leave
	// resolver caches (TimeLeft < DS TTL + margin): withdrawing it is no
	// longer a way out, only a repair is.
	Urgent bool `json:"urgent"`
	// Findings are what diagnose found, for people.
	Findings []string `json:"findings,omitempty"`

	// The remediation.
	Actions []string `json:"actions,omitempty"`
	// Left is the runbook: what a person must do, in order.
	Left []string `json:"left,omitempty"`
	// Retried are the subjects ("signing", "KSK <name>") whose
	// INTERNAL_FAILURE call was repeated: once only.
	Retried []string `json:"retried,omitempty"`
	// Verify says the state machine verifies (nothing is left for a person).
	Verify bool `json:"verify"`
	// Verified is the verification's result, for people.
	Verified string `json:"verified,omitempty"`
	// Outcome is one of AlarmRepaired, AlarmNothingToRepair,
	// AlarmNeedsPerson, AlarmFailed.
	Outcome string `json:"outcome,omitempty"`
	// Cause is the AlarmNotRemediableError message when Outcome is
	// AlarmNeedsPerson (the Fail state's CausePath).
	Cause string `json:"cause,omitempty"`
}

// KSKDiagnosis is one KSK and its KMS key as diagnose found them.
type KSKDiagnosis struct {
	Name          string `json:"name"`
	Status        string `json:"status"`
	StatusMessage string `json:"statusMessage,omitempty"`
	KMSKeyARN     string `json:"kmsKeyArn"`
	// KeyState is the KMS key state (Enabled, Disabled, PendingDeletion...)
	// or "NotFound".
	KeyState     string `json:"keyState"`
	DeletionDate string `json:"deletionDate,omitempty"`
	// PolicyProblem says why the key policy does not let Route 53 sign
	// ("" when it does).
	PolicyProblem string `json:"policyProblem,omitempty"`
	// Workflow says the key carries the dnssec-autopilot:zone tag (of this
	// zone): a key the workflows may repair.
	Workflow bool `json:"workflowKey"`
	// Other is a problem of the key no repair can fix (spec, usage, region,
	// account, another zone's key).
	Other string `json:"other,omitempty"`
}

// keyProblems lists what is wrong with the key.
func (k KSKDiagnosis) keyProblems() []string {
	var p []string
	switch k.KeyState {
	case string(kmstypes.KeyStateEnabled):
	case string(kmstypes.KeyStatePendingDeletion):
		p = append(p, "pending deletion"+orEmpty(" on ", k.DeletionDate))
	case "":
	default:
		p = append(p, strings.ToLower(k.KeyState))
	}
	if k.PolicyProblem != "" {
		p = append(p, "policy: "+k.PolicyProblem)
	}
	if k.Other != "" {
		p = append(p, k.Other)
	}
	return p
}

func orEmpty(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// Failure is the error a Catch put at $.error: {"Error": ..., "Cause": ...}.
type Failure struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// AlarmNotRemediableError says alarm-response found something it may not or
// could not repair: a person must act (the notification has the runbook).
type AlarmNotRemediableError struct {
	Zone     string
	Left     []string
	Urgent   bool
	TimeLeft time.Duration
}

func (e *AlarmNotRemediableError) Error() string {
	urgent := ""
	if e.Urgent {
		urgent = fmt.Sprintf("URGENT, signatures expire in %s: ", e.TimeLeft.Round(time.Minute))
	}
	return fmt.Sprintf("steps: %salarm-response could not repair %s: %s; follow the runbook in the notification", urgent, e.Zone, strings.Join(e.Left, "; "))
}

// ParseAlarmInput reads alarm-response's input: an EventBridge "CloudWatch
// Alarm State Change" event into ALARM of a Route 53 DNSSEC metric with its
// HostedZoneId dimension, or an AlarmInput. Anything else is an
// InvalidInputError.
func ParseAlarmInput(raw []byte) (AlarmInput, AlarmTrigger, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "input", Reason: "not a JSON object: an alarm event or {\"hostedZoneId\": ...}", Err: err}
	}
	if _, ok := probe["detail-type"]; ok {
		return parseAlarmEvent(raw)
	}
	var in AlarmInput
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "input", Reason: "want {\"hostedZoneId\", \"remediate\", \"topicArn\"}", Err: err}
	}
	id := NormalizeHostedZoneID(in.HostedZoneID)
	if !hostedZoneIDRE.MatchString(id) {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "hostedZoneId", Value: in.HostedZoneID, Reason: "required: a hosted zone ID (Z...)"}
	}
	in.HostedZoneID = id
	for name := range in.Remediate {
		if !slices.Contains(alarmRepairSwitches, name) {
			return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "remediate." + name, Reason: "unknown switch; want " + strings.Join(alarmRepairSwitches, ", ")}
		}
	}
	if in.TopicARN == "" {
		in.TopicARN = in.NotifyTopicARN
	}
	if in.TopicARN != "" && !topicARNRE.MatchString(in.TopicARN) {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "topicArn", Value: in.TopicARN, Reason: "not an SNS topic ARN"}
	}
	if m := in.SafetyMarginSeconds; m != nil && (*m < 0 || time.Duration(*m)*time.Second > MaxSafetyMargin) {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "safetyMarginSeconds", Value: fmt.Sprint(*m), Reason: "want 0 to " + fmt.Sprint(int64(MaxSafetyMargin/time.Second))}
	}
	return in, AlarmTrigger{Source: "console"}, nil
}

// alarmEvent is the part of the EventBridge event alarm-response reads.
type alarmEvent struct {
	Source     string   `json:"source"`
	DetailType string   `json:"detail-type"`
	Time       string   `json:"time"`
	Resources  []string `json:"resources"`
	Detail     struct {
		AlarmName string `json:"alarmName"`
		State     struct {
			Value     string `json:"value"`
			Reason    string `json:"reason"`
			Timestamp string `json:"timestamp"`
		} `json:"state"`
		Configuration struct {
			Metrics []struct {
				MetricStat struct {
					Metric struct {
						Namespace  string            `json:"namespace"`
						Name       string            `json:"name"`
						Dimensions map[string]string `json:"dimensions"`
					} `json:"metric"`
				} `json:"metricStat"`
			} `json:"metrics"`
		} `json:"configuration"`
	} `json:"detail"`
}

func parseAlarmEvent(raw []byte) (AlarmInput, AlarmTrigger, error) {
	var ev alarmEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "detail", Reason: "not a CloudWatch alarm state change event", Err: err}
	}
	switch {
	case ev.DetailType != AlarmEventDetailType:
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "detail-type", Value: ev.DetailType, Reason: "want " + AlarmEventDetailType}
	case ev.Source != "" && ev.Source != AlarmEventSource:
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "source", Value: ev.Source, Reason: "want " + AlarmEventSource}
	case ev.Detail.State.Value != AlarmStateAlarm:
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "detail.state.value", Value: ev.Detail.State.Value, Reason: "only a change into ALARM starts a response"}
	}
	var zoneID, metric string
	for _, m := range ev.Detail.Configuration.Metrics {
		mt := m.MetricStat.Metric
		if mt.Namespace != AlarmNamespace || (mt.Name != MetricInternalFailure && mt.Name != MetricKSKsNeedingAction) {
			continue
		}
		if id := NormalizeHostedZoneID(mt.Dimensions[AlarmDimension]); hostedZoneIDRE.MatchString(id) {
			zoneID, metric = id, mt.Name
			break
		}
	}
	if zoneID == "" {
		return AlarmInput{}, AlarmTrigger{}, &InvalidInputError{Field: "detail.configuration.metrics",
			Reason: fmt.Sprintf("no %s metric %s or %s with a %s dimension", AlarmNamespace, MetricInternalFailure, MetricKSKsNeedingAction, AlarmDimension)}
	}
	tr := AlarmTrigger{Source: "alarm", AlarmName: ev.Detail.AlarmName, Metric: metric, Time: ev.Time, Reason: ev.Detail.State.Reason}
	if len(ev.Resources) > 0 {
		tr.AlarmARN = ev.Resources[0]
	}
	return AlarmInput{HostedZoneID: zoneID}, tr, nil
}

// repairs resolves the switches: the input's value, else off when the
// deployment turns it off, else on.
func (h *Handler) repairs(in map[string]*bool) AlarmRepairs {
	var r AlarmRepairs
	for _, name := range alarmRepairSwitches {
		on := !slices.Contains(h.cfg.AlarmRepairsOff, name)
		if v := in[name]; v != nil {
			on = *v
		}
		*r.field(name) = on
	}
	return r
}

// Diagnose is the diagnose step, alarm-response's first: it parses the
// input (state.alarm.input), reads the zone's DNSSEC status and KSKs, each
// KSK's KMS key (state, pending deletion, policy for the Route 53 service
// principal, the workflow tag) and observes every zone server for the
// earliest signature expiry. It changes nothing.
func (h *Handler) Diagnose(ctx context.Context, ev Event) (State, error) {
	const step = "diagnose"
	if ev.State == nil || ev.State.Alarm == nil || len(ev.State.Alarm.Input) == 0 {
		return State{}, &StateError{Step: step, Reason: "no state.alarm.input (Parameters must pass the execution input)"}
	}
	in, trigger, err := ParseAlarmInput(ev.State.Alarm.Input)
	if err != nil {
		return State{}, err
	}
	z, err := h.GetZone(ctx, in.HostedZoneID)
	if err != nil {
		return State{}, named(step, err)
	}
	if z.Private {
		return State{}, &PrivateZoneError{HostedZoneID: z.ID, Zone: z.Name}
	}
	s := State{
		Workflow: WorkflowAlarmResponse, ExecutionARN: ev.Execution.ARN, StartTime: ev.Execution.StartTime,
		HostedZoneID: z.ID, Zone: z.Name, MarginSeconds: int64(DefaultSafetyMargin / time.Second),
		TopicARN: in.TopicARN, History: rollover.NewHistory(z.Name),
		Alarm: &AlarmState{Trigger: trigger, Repairs: h.repairs(in.Remediate)},
	}
	if s.TopicARN == "" {
		s.TopicARN = h.cfg.DefaultTopicARN
	}
	if in.SafetyMarginSeconds != nil {
		s.MarginSeconds = *in.SafetyMarginSeconds
	}
	a := s.Alarm
	if trigger.Source == "alarm" {
		s.note(h.now(), "alarm %s (%s) of %s", trigger.AlarmName, trigger.Metric, z.Name)
	} else {
		s.note(h.now(), "alarm-response of %s started from the console", z.Name)
	}
	d, err := h.GetDNSSEC(ctx, z.ID)
	if err != nil {
		return State{}, named(step, err)
	}
	a.ServeSignature, a.StatusMessage = d.ServeSignature, d.StatusMessage
	a.Findings = append(a.Findings, fmt.Sprintf("signing: %s%s", d.ServeSignature, parens(d.StatusMessage)))
	for _, k := range d.KSKs {
		kd, err := h.diagnoseKSK(ctx, &s, k)
		if err != nil {
			return State{}, named(step, err)
		}
		a.KSKs = append(a.KSKs, kd)
		a.Findings = append(a.Findings, kd.finding())
	}
	if len(d.KSKs) == 0 {
		a.Findings = append(a.Findings, "the zone has no key-signing key")
	}
	if err := h.diagnoseSignatures(ctx, &s); err != nil {
		return State{}, named(step, err)
	}
	left := "unknown time"
	if a.EarliestExpiry != "" {
		left = formatDuration(time.Duration(a.TimeLeftSeconds) * time.Second)
	}
	s.note(h.now(), "diagnosed: signing %s, %d KSKs, %s before the first signatures expire", d.ServeSignature, len(a.KSKs), left)
	return s, nil
}

// parens returns " (s)", or "" for an empty s.
func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// finding describes the KSK and its key in a line.
func (k KSKDiagnosis) finding() string {
	msg := parens(k.StatusMessage)
	key := "usable"
	if p := k.keyProblems(); len(p) > 0 {
		key = strings.Join(p, ", ")
	}
	tag := "tagged " + TagZone + ": a workflow key"
	if !k.Workflow {
		tag = "not tagged " + TagZone + ": not a workflow key"
	}
	return fmt.Sprintf("KSK %s: %s%s; KMS key %s: %s (%s)", k.Name, k.Status, msg, k.KMSKeyARN, key, tag)
}

// diagnoseKSK reads a KSK's KMS key: its state, its policy and its tags.
func (h *Handler) diagnoseKSK(ctx context.Context, s *State, k r53types.KeySigningKey) (KSKDiagnosis, error) {
	kd := KSKDiagnosis{Name: aws.ToString(k.Name), Status: aws.ToString(k.Status), StatusMessage: aws.ToString(k.StatusMessage), KMSKeyARN: aws.ToString(k.KmsArn)}
	if m := kmsKeyARNRE.FindStringSubmatch(kd.KMSKeyARN); m == nil || m[3] != h.cfg.AccountID {
		kd.Other = "not a KMS key of this account"
		return kd, nil
	}
	out, err := h.clients.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(kd.KMSKeyARN)})
	if apiCode(err) == "NotFoundException" {
		kd.KeyState = "NotFound"
		kd.Other = "the key does not exist any more"
		return kd, nil
	}
	if err != nil {
		return kd, fmt.Errorf("steps: DescribeKey %s: %w", kd.KMSKeyARN, err)
	}
	md := out.KeyMetadata
	kd.KeyState = string(md.KeyState)
	if md.DeletionDate != nil {
		kd.DeletionDate = stamp(*md.DeletionDate)
	}
	switch {
	case md.KeySpec != kmstypes.KeySpecEccNistP256:
		kd.Other = "key spec " + string(md.KeySpec) + ", not ECC_NIST_P256"
	case md.KeyUsage != kmstypes.KeyUsageTypeSignVerify:
		kd.Other = "key usage " + string(md.KeyUsage) + ", not SIGN_VERIFY"
	}
	if md.KeyState != kmstypes.KeyStatePendingDeletion {
		pol, err := h.clients.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(kd.KMSKeyARN), PolicyName: aws.String("default")})
		if err != nil {
			return kd, fmt.Errorf("steps: GetKeyPolicy %s: %w", kd.KMSKeyARN, err)
		}
		kd.PolicyProblem = CheckKeyPolicy(aws.ToString(pol.Policy), h.cfg.AccountID, s.HostedZoneID)
	}
	kd.Workflow, kd.Other = h.workflowKey(ctx, s, kd.KMSKeyARN, kd.Other)
	return kd, nil
}

// workflowKey reports whether the key carries the dnssec-autopilot:zone tag
// and no hosted zone tag of another zone (the IAM condition of the repairs,
// WorkflowKeys, checked here too so that a run never even tries).
func (h *Handler) workflowKey(ctx context.Context, s *State, arn, other string) (bool, string) {
	tags, err := h.clients.KMS.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: aws.String(arn)})
	if err != nil {
		return false, other // unreadable tags: not ours to change
	}
	workflow := false
	for _, t := range tags.Tags {
		switch aws.ToString(t.TagKey) {
		case TagZone:
			workflow = true
		case TagHostedZoneID:
			if v := aws.ToString(t.TagValue); v != s.HostedZoneID && other == "" {
				other = "the key was created for hosted zone " + v
			}
		}
	}
	return workflow, other
}

// diagnoseSignatures observes every zone server and records the earliest
// signature expiry, the DS TTL and the time left. A server that does not
// answer is listed, not fatal: an alarm needs its answer now.
func (h *Handler) diagnoseSignatures(ctx context.Context, s *State) error {
	a := s.Alarm
	now := h.now()
	snap, err := h.observer.Observe(ctx, s.Zone)
	var nd *observe.NotDelegatedError
	switch {
	case errors.As(err, &nd):
		a.Findings = append(a.Findings, "the parent does not delegate the zone: "+nd.Reason)
		return nil
	case err != nil:
		a.Findings = append(a.Findings, "the servers could not be observed: "+err.Error())
		return nil
	}
	if err := s.record(HistorySnapshot(snap)); err != nil {
		return err
	}
	expiry, server, answered, unanswered := earliestExpiry(snap)
	a.ZoneServers, a.Unanswered = answered, unanswered
	for _, r := range snap.ParentServers {
		if r.DS != nil && r.DS.State == observe.OK {
			a.DSTTL = max(a.DSTTL, r.DS.TTL)
			a.DSPublished = true
		}
	}
	if expiry.IsZero() {
		a.Findings = append(a.Findings, "no zone server serves signed data")
		return nil
	}
	a.EarliestExpiry, a.ExpiryServer = stamp(expiry), server
	left := expiry.Sub(now)
	a.TimeLeftSeconds = int64(left / time.Second)
	danger := time.Duration(a.DSTTL)*time.Second + s.margin()
	a.Urgent = a.DSTTL > 0 && left < danger
	f := fmt.Sprintf("signatures: the earliest expires at %s on %s, %s from now; DS TTL %ds + margin %ds", a.EarliestExpiry, server, formatDuration(left), a.DSTTL, s.MarginSeconds)
	if len(unanswered) > 0 {
		f += fmt.Sprintf(" (no answer from %s)", strings.Join(unanswered, ", "))
	}
	a.Findings = append(a.Findings, f)
	return nil
}

// earliestExpiry is the earliest RRSIG expiration any zone server serves
// (DNSKEY, SOA, NS), the server serving it, how many answered with signed
// data, and which gave no usable answer.
func earliestExpiry(snap *observe.Snapshot) (time.Time, string, int, []string) {
	var (
		earliest   time.Time
		server     string
		answered   int
		unanswered []string
	)
	for _, r := range snap.ZoneServers {
		signed := false
		for _, set := range []*observe.RRset{r.DNSKEY, r.SOA, r.NS} {
			if set == nil || set.State != observe.OK || set.Expiry.IsZero() {
				continue
			}
			signed = true
			if earliest.IsZero() || set.Expiry.Before(earliest) {
				earliest, server = set.Expiry, serverKey(r)
			}
		}
		if signed {
			answered++
		} else if r.DNSKEY == nil || r.DNSKEY.State == observe.Unknown {
			unanswered = append(unanswered, serverKey(r))
		}
	}
	return earliest, server, answered, unanswered
}

// formatDuration prints d in days, hours and minutes ("13d23h0m", "-2h0m").
func formatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	rest := strings.TrimSuffix((d - days*24*time.Hour).String(), "0s")
	if rest == "" {
		rest = "0m"
	}
	if days > 0 {
		return fmt.Sprintf("%s%dd%s", sign, days, rest)
	}
	return sign + rest
}
