package sfnemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
)

// Quotas and constraints of the Step Functions API model.
const (
	maxNameLength       = 80
	maxDefinitionLength = 1 << 20 // 1,048,576 characters
	defaultPageSize     = 100
	maxPageSize         = 1000
	typeStandard        = "STANDARD"
	typeExpress         = "EXPRESS"
)

// machine is one state machine of the account.
type machine struct {
	arn        string
	name       string
	definition string
	roleARN    string
	created    time.Time
	sm         *asl.StateMachine
	// settings holds the members CreateStateMachine's idempotency check
	// compares besides name and definition (logging, tracing, encryption).
	settings string
}

// validName reports whether s is a valid state machine or execution name:
// 1 to 80 characters without whitespace, brackets, wildcards, the special
// characters " # % \ ^ | ~ ` $ & , ; : / or control characters.
func validName(s string) bool {
	if s == "" || len([]rune(s)) > maxNameLength {
		return false
	}
	for _, r := range s {
		switch {
		case r <= 0x20, r >= 0x7f && r <= 0x9f:
			return false
		case strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r):
			return false
		case r == '\u00a0' || r == '\u2028' || r == '\u2029' || r == '\u3000':
			return false
		}
	}
	return true
}

func invalidName(name string) *apiError {
	return errorf("InvalidName", "Invalid Name: '%s'", name)
}

// arn is a parsed Step Functions ARN.
type arn struct {
	region, account string
	typ             string   // "stateMachine", "execution", ...
	parts           []string // after the type
}

func parseARN(s string) (arn, bool) {
	f := strings.Split(s, ":")
	if len(f) < 7 || f[0] != "arn" || f[1] != "aws" || f[2] != "states" || f[3] == "" || f[4] == "" {
		return arn{}, false
	}
	for _, p := range f[6:] {
		if p == "" {
			return arn{}, false
		}
	}
	return arn{region: f[3], account: f[4], typ: f[5], parts: f[6:]}, true
}

func invalidARN(s string) *apiError { return errorf("InvalidArn", "Invalid Arn: '%s'", s) }

func (s *Service) stateMachineARN(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.region, s.account, name)
}

// machineByARN finds a state machine; s.mu must be held.
func (s *Service) machineByARN(smARN string) (*machine, *apiError) {
	a, ok := parseARN(smARN)
	if !ok {
		return nil, invalidARN(smARN)
	}
	if a.typ != "stateMachine" {
		return nil, errorf("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", strings.ToLower(a.typ))
	}
	m := s.machines[smARN]
	if m == nil {
		msg := fmt.Sprintf("State Machine Does Not Exist: '%s'", smARN)
		if a.region != s.region || a.account != s.account {
			msg += fmt.Sprintf(" (this endpoint serves account %s in %s)", s.account, s.region)
		}
		return nil, errorf("StateMachineDoesNotExist", "%s", msg)
	}
	return m, nil
}

// RegisterStateMachine makes sm (loaded with its substitutions, as
// CloudFormation applies DefinitionSubstitutions) a STANDARD state machine
// called name, and returns its ARN. Registering a name again replaces the
// definition, as a stack update does; executions already started go on with
// the definition they started with.
func (s *Service) RegisterStateMachine(name string, sm *asl.StateMachine) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("sfnemu: register state machine: invalid name %q", name)
	}
	def, err := json.Marshal(sm)
	if err != nil {
		return "", fmt.Errorf("sfnemu: register state machine %s: %w", name, err)
	}
	smARN := s.runner.AddStateMachine(name, sm)
	if want := s.stateMachineARN(name); smARN != want {
		return "", fmt.Errorf("sfnemu: register state machine %s: the runner named it %s, the service %s (their account or region options differ)", name, smARN, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.machines[smARN] = &machine{
		arn:        smARN,
		name:       name,
		definition: string(def),
		roleARN:    fmt.Sprintf("arn:aws:iam::%s:role/local-asl-runner", s.account),
		created:    s.clk.Now(),
		sm:         sm,
	}
	return smARN, nil
}

var roleARNPattern = regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$`)

type createStateMachineInput struct {
	Name                    *string         `json:"name"`
	Definition              *string         `json:"definition"`
	RoleARN                 *string         `json:"roleArn"`
	Type                    string          `json:"type"`
	LoggingConfiguration    json.RawMessage `json:"loggingConfiguration"`
	TracingConfiguration    json.RawMessage `json:"tracingConfiguration"`
	EncryptionConfiguration json.RawMessage `json:"encryptionConfiguration"`
	Publish                 bool            `json:"publish"`
}

func (s *Service) createStateMachine(body []byte) (any, *apiError) {
	var in createStateMachineInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.Name == nil:
		return nil, required("name")
	case in.Definition == nil:
		return nil, required("definition")
	case in.RoleARN == nil:
		return nil, required("roleArn")
	}
	if err := checkLength("definition", *in.Definition, 1, maxDefinitionLength); err != nil {
		return nil, err
	}
	if !validName(*in.Name) {
		return nil, invalidName(*in.Name)
	}
	if !roleARNPattern.MatchString(*in.RoleARN) {
		return nil, invalidARN(*in.RoleARN)
	}
	switch in.Type {
	case "", typeStandard:
	case typeExpress:
		return nil, errorf("StateMachineTypeNotSupported", "sfnemu: the local stack runs STANDARD state machines only (the runner has no EXPRESS semantics)")
	default:
		return nil, validationf("Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]", in.Type)
	}
	if in.Publish {
		return nil, validationf("sfnemu: state machine versions (publish) are not emulated by the local stack")
	}
	sm, err := asl.Load([]byte(*in.Definition), nil)
	if err != nil {
		return nil, errorf("InvalidDefinition", "Invalid State Machine Definition: '%v'", err)
	}
	settings := compactJSON(in.LoggingConfiguration) + "|" + compactJSON(in.TracingConfiguration) + "|" + compactJSON(in.EncryptionConfiguration)

	smARN := s.stateMachineARN(*in.Name)
	s.mu.Lock()
	if m := s.machines[smARN]; m != nil {
		s.mu.Unlock()
		// CreateStateMachine is idempotent on name, definition, type and
		// configurations; a different roleArn is ignored, as AWS does.
		if m.definition == *in.Definition && m.settings == settings {
			return map[string]any{"stateMachineArn": m.arn, "creationDate": awsjson.Timestamp(m.created)}, nil
		}
		return nil, errorf("StateMachineAlreadyExists", "State Machine Already Exists: '%s'", smARN)
	}
	m := &machine{
		arn:        smARN,
		name:       *in.Name,
		definition: *in.Definition,
		roleARN:    *in.RoleARN,
		created:    s.clk.Now(),
		sm:         sm,
		settings:   settings,
	}
	s.machines[smARN] = m
	s.mu.Unlock()
	if got := s.runner.AddStateMachine(m.name, sm); got != smARN {
		s.mu.Lock()
		delete(s.machines, smARN)
		s.mu.Unlock()
		return nil, errorf("InternalFailure", "sfnemu: the runner named the state machine %s, the service %s (their account or region options differ)", got, smARN)
	}
	return map[string]any{"stateMachineArn": smARN, "creationDate": awsjson.Timestamp(m.created)}, nil
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if len(raw) == 0 || json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

type arnInput struct {
	StateMachineARN *string `json:"stateMachineArn"`
}

func (s *Service) describeStateMachine(body []byte) (any, *apiError) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.StateMachineARN == nil {
		return nil, required("stateMachineArn")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.machineByARN(*in.StateMachineARN)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"stateMachineArn":      m.arn,
		"name":                 m.name,
		"status":               "ACTIVE",
		"definition":           m.definition,
		"roleArn":              m.roleARN,
		"type":                 typeStandard,
		"creationDate":         awsjson.Timestamp(m.created),
		"loggingConfiguration": map[string]any{"level": "OFF", "includeExecutionData": false},
		"tracingConfiguration": map[string]any{"enabled": false},
	}, nil
}

type pageInput struct {
	MaxResults *int    `json:"maxResults"`
	NextToken  *string `json:"nextToken"`
}

// pageSize validates maxResults (0 or absent means the default page).
func (p pageInput) pageSize() (int, *apiError) {
	if p.MaxResults == nil || *p.MaxResults == 0 {
		return defaultPageSize, nil
	}
	if *p.MaxResults < 0 || *p.MaxResults > maxPageSize {
		return 0, validationf("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to %d", *p.MaxResults, maxPageSize)
	}
	return *p.MaxResults, nil
}

// Page tokens are opaque to callers: the kind of listing, what it lists
// and the position, so that a token is refused by another listing.
func makeToken(fields ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(fields, "\x00")))
}

// readToken returns the position in a token made for the listing named by
// prefix, or InvalidToken.
func readToken(tok *string, prefix ...string) (string, *apiError) {
	if tok == nil {
		return "", nil
	}
	invalid := errorf("InvalidToken", "Invalid Token: 'Invalid token'")
	if *tok == "" || len(*tok) > 1024 {
		return "", invalid
	}
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil {
		return "", invalid
	}
	f := strings.Split(string(b), "\x00")
	if len(f) != len(prefix)+1 {
		return "", invalid
	}
	for i, p := range prefix {
		if f[i] != p {
			return "", invalid
		}
	}
	return f[len(prefix)], nil
}

func (s *Service) listStateMachines(body []byte) (any, *apiError) {
	var in pageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, aerr := in.pageSize()
	if aerr != nil {
		return nil, aerr
	}
	after, aerr := readToken(in.NextToken, "sm")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	ms := make([]*machine, 0, len(s.machines))
	for _, m := range s.machines {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	items := []map[string]any{}
	out := map[string]any{}
	for _, m := range ms {
		if in.NextToken != nil && m.name <= after {
			continue
		}
		if len(items) == size {
			out["nextToken"] = makeToken("sm", items[len(items)-1]["name"].(string))
			break
		}
		items = append(items, map[string]any{
			"stateMachineArn": m.arn, "name": m.name, "type": typeStandard, "creationDate": awsjson.Timestamp(m.created)})
	}
	out["stateMachines"] = items
	return out, nil
}
