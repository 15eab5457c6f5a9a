package steps

// enable-validation: Route 53 Resolver DNSSEC validation of VPCs, and the
// probe that proves it from inside each VPC (issue 6). The state machine
// (statemachines/enable-validation.asl.json) calls update-resolver-validation
// three ways (Event.Action): "preflight" checks the input and that every VPC
// exists before anything changes; "" (a Map iteration per VPC) asks for the
// change and polls until the status is final; "summarize" builds the
// compatibility table of every VPC and notifies. probe-vpc runs inside each
// VPC (one function per VPC) and queries its resolver.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver"
	r53rtypes "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// ResolverAPI lists the Route 53 Resolver calls of enable-validation;
// *route53resolver.Client satisfies it.
type ResolverAPI interface {
	UpdateResolverDnssecConfig(ctx context.Context, in *route53resolver.UpdateResolverDnssecConfigInput, opts ...func(*route53resolver.Options)) (*route53resolver.UpdateResolverDnssecConfigOutput, error)
	GetResolverDnssecConfig(ctx context.Context, in *route53resolver.GetResolverDnssecConfigInput, opts ...func(*route53resolver.Options)) (*route53resolver.GetResolverDnssecConfigOutput, error)
}

// WorkflowEnableValidation names enable-validation in State.Workflow.
const WorkflowEnableValidation rollover.Workflow = "enable-validation"

// The probe's default names (AWS): a deliberately bogus signed domain, a
// signed one and an unsigned one.
const (
	DefaultBogusName    = "dnssec-failed.org."
	DefaultSignedName   = "ietf.org."
	DefaultUnsignedName = "amazon.com."
)

// DefaultVPCResolver is the Route 53 Resolver address every VPC reaches
// (the VPC base + 2 answers too).
var DefaultVPCResolver = netip.MustParseAddrPort("169.254.169.253:53")

// ValidationPollBase and ValidationPollBudget bound the wait for a
// validation change to become final (Route 53 says "a few minutes").
const (
	ValidationPollBase   = 10 * time.Second
	ValidationPollBudget = 30 * time.Minute
)

// Validation requests and the final statuses they lead to.
var validationGoals = map[string]struct{ transitional, final string }{
	"ENABLE":  {"ENABLING", "ENABLED"},
	"DISABLE": {"DISABLING", "DISABLED"},
}

var vpcIDRE = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)

// ProbeNames are the names probe-vpc queries (type A).
type ProbeNames struct {
	Bogus    string `json:"bogusName,omitempty"`
	Signed   string `json:"signedName,omitempty"`
	Unsigned string `json:"unsignedName,omitempty"`
}

// ValidationInput is enable-validation's console input.
type ValidationInput struct {
	VPCIDs     []string    `json:"vpcIds"`
	Validation string      `json:"validation"`
	Probe      *ProbeNames `json:"probe,omitempty"`
}

// ValidationState is enable-validation's part of State.
type ValidationState struct {
	// Input is the console input, given to the preflight only.
	Input json.RawMessage `json:"input,omitempty"`
	// VPCIDs, Validation and Probe are the checked input.
	VPCIDs     []string   `json:"vpcIds,omitempty"`
	Validation string     `json:"validation,omitempty"`
	Probe      ProbeNames `json:"probe"`
	// VPCID is the VPC of a Map iteration; Status its last status read;
	// Updated says this execution asked for the change.
	VPCID   string `json:"vpcId,omitempty"`
	Status  string `json:"status,omitempty"`
	Updated bool   `json:"updated,omitempty"`
	// Table is the probe's compatibility table of the VPC.
	Table []ProbeRow `json:"table,omitempty"`
	// VPCs is the summary: every VPC with its status and table.
	VPCs []VPCValidation `json:"vpcs,omitempty"`
}

// VPCValidation is one VPC of the summary.
type VPCValidation struct {
	VPCID   string     `json:"vpcId"`
	Status  string     `json:"status"`
	Updated bool       `json:"updated"`
	Table   []ProbeRow `json:"table"`
}

// ProbeRow is one line of the blog's compatibility table, as a client in
// the VPC saw it: a signed, unsigned or bogus domain with validation on or
// off, the response code, whether an answer came, and whether that is what
// DNSSEC validation must give.
type ProbeRow struct {
	Domain     string `json:"domain"` // signed, unsigned, bogus
	Name       string `json:"name"`
	Validation string `json:"validation"` // on, off
	Rcode      string `json:"rcode"`      // NOERROR, SERVFAIL... or NO-RESPONSE
	Answer     bool   `json:"answer"`
	Want       string `json:"want"` // "answer" or "SERVFAIL"
	OK         bool   `json:"ok"`
}

// VPCNotFoundError says Route 53 Resolver knows no VPC with the ID given.
type VPCNotFoundError struct {
	VPCID, Reason string
}

func (e *VPCNotFoundError) Error() string {
	return fmt.Sprintf("steps: VPC %s not found by Route 53 Resolver (%s); check vpcIds (aws ec2 describe-vpcs) and the region", e.VPCID, e.Reason)
}

// ValidationProbeError says a client inside the VPC did not get what
// DNSSEC validation in its state must give.
type ValidationProbeError struct {
	VPCID, Validation string
	Table             []ProbeRow
}

func (e *ValidationProbeError) Error() string {
	var bad []string
	for _, r := range e.Table {
		if !r.OK {
			bad = append(bad, fmt.Sprintf("%s %s: got %s, want %s", r.Domain, r.Name, r.got(), r.Want))
		}
	}
	return fmt.Sprintf("steps: VPC %s with validation %s: %s; check the VPC's resolver settings (DHCP options, forwarding rules) and re-run\n%s",
		e.VPCID, e.Validation, strings.Join(bad, "; "), FormatProbeTable(e.Table))
}

func (r ProbeRow) got() string {
	if r.Answer {
		return r.Rcode + " with an answer"
	}
	return r.Rcode + " without answer"
}

// FormatProbeTable renders a compatibility table for people.
func FormatProbeTable(rows []ProbeRow) string {
	var b strings.Builder
	w := len("name")
	for _, r := range rows {
		w = max(w, len(r.Name))
	}
	fmt.Fprintf(&b, "  %-9s %-*s %-10s %-24s %s\n", "domain", w, "name", "validation", "client got", "expected")
	for _, r := range rows {
		verdict := "ok"
		if !r.OK {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(&b, "  %-9s %-*s %-10s %-24s %s (%s)\n", r.Domain, w, r.Name, r.Validation, r.got(), r.Want, verdict)
	}
	return b.String()
}

// ForVPC returns a copy of h whose probe-vpc queries addr (the local stack
// registers one per VPC, as the deployment has one function per VPC).
func (h *Handler) ForVPC(addr netip.AddrPort) *Handler {
	c := *h
	c.cfg.VPCResolver = addr
	return &c
}

// UpdateResolverValidation is the update-resolver-validation step; Action
// chooses "preflight", "" (update and poll one VPC, Event.VPCID) or
// "summarize".
func (h *Handler) UpdateResolverValidation(ctx context.Context, ev Event) (State, error) {
	const step = "update-resolver-validation"
	if ev.State == nil || ev.State.Validation == nil {
		return State{}, &StateError{Step: step, Reason: "no state.validation (Parameters must pass it)"}
	}
	if h.clients.Resolver == nil && ev.Action != "summarize" {
		return State{}, &UnexpectedError{Step: step, Reason: "no Route 53 Resolver client"}
	}
	switch ev.Action {
	case "preflight":
		return h.validationPreflight(ctx, ev)
	case "":
		return h.updateValidation(ctx, ev)
	case "summarize":
		return h.summarizeValidation(ctx, ev)
	}
	return State{}, &StateError{Step: step, Reason: fmt.Sprintf("action %q: want \"preflight\", \"\" or \"summarize\"", ev.Action)}
}

// ParseValidationInput checks enable-validation's input and fills the
// default probe names.
func ParseValidationInput(raw []byte) (*ValidationState, error) {
	var in ValidationInput
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, &InvalidInputError{Field: "input", Reason: "not a JSON object of vpcIds, validation and probe", Err: err}
	}
	if len(in.VPCIDs) == 0 {
		return nil, &InvalidInputError{Field: "vpcIds", Reason: "required: a list of VPC IDs (vpc-...)"}
	}
	v := &ValidationState{}
	for i, id := range in.VPCIDs {
		id = strings.ToLower(strings.TrimSpace(id))
		if !vpcIDRE.MatchString(id) {
			return nil, &InvalidInputError{Field: fmt.Sprintf("vpcIds[%d]", i), Value: in.VPCIDs[i], Reason: "not a VPC ID (vpc- and 8 or 17 hex digits)"}
		}
		if !slices.Contains(v.VPCIDs, id) {
			v.VPCIDs = append(v.VPCIDs, id)
		}
	}
	v.Validation = strings.ToUpper(strings.TrimSpace(in.Validation))
	if _, ok := validationGoals[v.Validation]; !ok {
		return nil, &InvalidInputError{Field: "validation", Value: in.Validation, Reason: "want ENABLE or DISABLE"}
	}
	p := ProbeNames{}
	if in.Probe != nil {
		p = *in.Probe
	}
	for _, f := range []struct {
		field string
		name  *string
		def   string
	}{{"probe.bogusName", &p.Bogus, DefaultBogusName}, {"probe.signedName", &p.Signed, DefaultSignedName}, {"probe.unsignedName", &p.Unsigned, DefaultUnsignedName}} {
		n := strings.ToLower(strings.TrimSpace(*f.name))
		if n == "" {
			n = f.def
		}
		if _, ok := dns.IsDomainName(n); !ok || n == "." {
			return nil, &InvalidInputError{Field: f.field, Value: *f.name, Reason: "not a domain name"}
		}
		*f.name = dns.Fqdn(n)
	}
	v.Probe = p
	return v, nil
}

func (h *Handler) validationPreflight(ctx context.Context, ev Event) (State, error) {
	const step = "update-resolver-validation"
	v, err := ParseValidationInput(ev.State.Validation.Input)
	if err != nil {
		return State{}, err
	}
	s := State{
		Workflow: WorkflowEnableValidation, ExecutionARN: ev.Execution.ARN, StartTime: ev.Execution.StartTime,
		TopicARN: h.cfg.DefaultTopicARN, Validation: v,
	}
	// Every VPC must exist before any changes: a typo changes nothing.
	for _, id := range v.VPCIDs {
		if _, err := h.resolverStatus(ctx, step, id); err != nil {
			return State{}, err
		}
	}
	s.note(h.now(), "validation %s requested for %s", v.Validation, strings.Join(v.VPCIDs, ", "))
	return s, nil
}

// resolverStatus reads the validation status of vpcID.
func (h *Handler) resolverStatus(ctx context.Context, step, vpcID string) (string, error) {
	out, err := h.clients.Resolver.GetResolverDnssecConfig(ctx, &route53resolver.GetResolverDnssecConfigInput{ResourceId: aws.String(vpcID)})
	if err != nil {
		return "", resolverError(step, vpcID, err)
	}
	if out.ResolverDNSSECConfig == nil {
		return "", &UnexpectedError{Step: step, Reason: "GetResolverDnssecConfig of " + vpcID + " returned no configuration"}
	}
	return string(out.ResolverDNSSECConfig.ValidationStatus), nil
}

func resolverError(step, vpcID string, err error) error {
	if apiCode(err) == "ResourceNotFoundException" {
		return &VPCNotFoundError{VPCID: vpcID, Reason: err.Error()}
	}
	return named(step, fmt.Errorf("steps: route53resolver %s: %w", vpcID, err))
}

func (h *Handler) updateValidation(ctx context.Context, ev Event) (State, error) {
	const step = "update-resolver-validation"
	s := ev.State
	v := s.Validation
	goal, ok := validationGoals[v.Validation]
	if !ok || ev.VPCID == "" {
		return State{}, &StateError{Step: step, Reason: "want state.validation.validation ENABLE or DISABLE and vpcId"}
	}
	v.VPCID = ev.VPCID
	loop := step + "/" + ev.VPCID
	status, err := h.resolverStatus(ctx, step, ev.VPCID)
	if err != nil {
		return State{}, err
	}
	if prev := status; status != goal.final && status != goal.transitional {
		// Idempotent: asking again for the same setting changes nothing.
		out, err := h.clients.Resolver.UpdateResolverDnssecConfig(ctx, &route53resolver.UpdateResolverDnssecConfigInput{
			ResourceId: aws.String(ev.VPCID), Validation: r53rtypes.Validation(v.Validation),
		})
		if err != nil {
			return State{}, resolverError(step, ev.VPCID, err)
		}
		v.Updated = true
		if out.ResolverDNSSECConfig != nil {
			status = string(out.ResolverDNSSECConfig.ValidationStatus)
		}
		s.note(h.now(), "%s: validation %s requested (was %s)", ev.VPCID, v.Validation, orDash(prev))
	}
	v.Status = status
	if status == goal.final {
		s.Poll.Finish(loop, ev.VPCID+" "+status)
		s.note(h.now(), "%s: validation %s", ev.VPCID, status)
		return *s, nil
	}
	if err := s.Poll.Continue(loop, h.now(), ValidationPollBase, 0, ValidationPollBudget, ev.VPCID+" "+status); err != nil {
		if pe, ok := err.(*PropagationTimeoutError); ok {
			pe.Zone = ev.VPCID
		}
		return State{}, err
	}
	return *s, nil
}

// ProbeVPC is the probe-vpc step: it queries the VPC's resolver
// (Config.VPCResolver) for the signed, unsigned and bogus names and
// returns the compatibility table; a row that is not what validation in
// the requested state must give is a ValidationProbeError. The VPC
// resolver sets no AD bit: the test is SERVFAIL for the bogus name.
func (h *Handler) ProbeVPC(ctx context.Context, ev Event) (State, error) {
	const step = "probe-vpc"
	if ev.State == nil || ev.State.Validation == nil {
		return State{}, &StateError{Step: step, Reason: "no state.validation (Parameters must pass it)"}
	}
	if !h.cfg.VPCResolver.IsValid() {
		return State{}, &UnexpectedError{Step: step, Reason: "no VPC resolver address (" + EnvVPCResolver + ")"}
	}
	s := ev.State
	v := s.Validation
	if ev.VPCID != "" {
		v.VPCID = ev.VPCID
	}
	on := v.Validation == "ENABLE"
	client := h.cfg.DNSClient
	if client == nil {
		client = &dnsquery.Client{}
	}
	v.Table = nil
	for _, d := range []struct{ domain, name string }{{"signed", v.Probe.Signed}, {"unsigned", v.Probe.Unsigned}, {"bogus", v.Probe.Bogus}} {
		r := ProbeRow{Domain: d.domain, Name: d.name, Validation: "off", Want: "answer", Rcode: "NO-RESPONSE"}
		if on {
			r.Validation = "on"
		}
		if on && d.domain == "bogus" {
			r.Want = "SERVFAIL"
		}
		if m, err := client.Exchange(ctx, h.cfg.VPCResolver, d.name, dns.TypeA); err == nil {
			r.Rcode = dns.RcodeToString[m.Rcode]
			r.Answer = len(m.Answer) > 0
		}
		if r.Want == "SERVFAIL" {
			r.OK = r.Rcode == "SERVFAIL"
		} else {
			r.OK = r.Rcode == "NOERROR" && r.Answer
		}
		v.Table = append(v.Table, r)
	}
	for _, r := range v.Table {
		if !r.OK {
			return State{}, &ValidationProbeError{VPCID: v.VPCID, Validation: v.Validation, Table: v.Table}
		}
	}
	s.note(h.now(), "%s: probe of %s as expected with validation %s", v.VPCID, h.cfg.VPCResolver, v.Validation)
	return *s, nil
}

// parseResolverAddr parses VPC_RESOLVER: an address, with or without port.
func parseResolverAddr(s string) (netip.AddrPort, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want an IP address with an optional port", s)
	}
	return netip.AddrPortFrom(a, 53), nil
}

func (h *Handler) summarizeValidation(ctx context.Context, ev Event) (State, error) {
	const step = "update-resolver-validation"
	s := ev.State
	v := s.Validation
	v.VPCs = nil
	for _, r := range ev.VPCResults {
		if r.Validation == nil {
			continue
		}
		v.VPCs = append(v.VPCs, VPCValidation{VPCID: r.Validation.VPCID, Status: r.Validation.Status, Updated: r.Validation.Updated, Table: r.Validation.Table})
		s.Timeline = append(s.Timeline, r.Timeline...)
	}
	s.Timeline = slices.Compact(s.Timeline)
	s.note(h.now(), "validation %s: %d VPCs probed", v.Validation, len(v.VPCs))
	if s.TopicARN == "" || h.clients.SNS == nil {
		return *s, nil
	}
	subject, body := ValidationSummary(s)
	if _, err := h.clients.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(s.TopicARN), Subject: aws.String(subject), Message: aws.String(body)}); err != nil {
		return State{}, named(step, fmt.Errorf("steps: SNS Publish to %s: %w", s.TopicARN, err))
	}
	return *s, nil
}

// ValidationSummary is the text of enable-validation's notification: each
// VPC with its status and compatibility table.
func ValidationSummary(s *State) (subject, body string) {
	v := s.Validation
	subject = fmt.Sprintf("dnssec-autopilot: enable-validation %s of %d VPCs succeeded", v.Validation, len(v.VPCs))
	var b strings.Builder
	fmt.Fprintf(&b, "enable-validation %s: succeeded\nexecution: %s\n", v.Validation, s.ExecutionARN)
	for _, x := range v.VPCs {
		changed := "already so"
		if x.Updated {
			changed = "changed by this run"
		}
		fmt.Fprintf(&b, "\n%s: validation %s (%s)\n%s", x.VPCID, x.Status, changed, FormatProbeTable(x.Table))
	}
	b.WriteString("\ntimeline:\n")
	for _, l := range s.Timeline {
		b.WriteString("  " + l + "\n")
	}
	return subject, b.String()
}
