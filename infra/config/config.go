// Package config reads and checks the deployment's configuration: the zones
// the workflows manage (hosted zone, name, DS publisher, rotation schedule),
// the VPCs whose Route 53 Resolver validation enable-validation manages, the
// notification e-mail addresses and the options of the stack.
//
// It is plain Go (no CDK), so that its table tests are fast; the CDK app in
// ../ turns a checked Config into resources. Every error names the field and,
// for a zone, the zone: "config: zones[1] (example.org): dsPublisher.domainName: ...".
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// Policy numbers of the deployment, each with its reason.
const (
	// DefaultRotationSchedule rotates each KSK every quarter, on the first
	// Tuesday of January, April, July and October at 10:00 in the zone's time
	// zone: a working day that is neither the start nor the end of a week,
	// in office hours, so that people are around during the first gates.
	DefaultRotationSchedule = "cron(0 10 ? 1,4,7,10 TUE#1 *)"
	// DefaultTimeZone is the time zone of a schedule that names none.
	DefaultTimeZone = "UTC"
	// DefaultLogRetentionDays keeps Lambda and state machine logs for a
	// year: a rotation's evidence must outlive the next rotation (a quarter)
	// with room for an audit.
	DefaultLogRetentionDays = 365
	// DefaultNamePrefix names what the stack creates with a fixed name.
	DefaultNamePrefix = "dnssec-autopilot"
)

// Config is the content of config/zones.json (see config/zones.example.json).
type Config struct {
	// Comment is free text or a list of lines (JSON has no comments);
	// ignored. Zones and VPCs may have one too.
	Comment json.RawMessage `json:"_comment,omitempty"`
	// NamePrefix starts the names of the resources that need a fixed name
	// (state machines, schedules, alarms); DefaultNamePrefix when empty.
	NamePrefix string `json:"namePrefix,omitempty"`
	// NotificationEmails are subscribed to the notification topic (each
	// address confirms the subscription by e-mail).
	NotificationEmails []string `json:"notificationEmails,omitempty"`
	// LogRetentionDays is the retention of every log group;
	// DefaultLogRetentionDays when zero. One of CloudWatch Logs' values.
	LogRetentionDays int `json:"logRetentionDays,omitempty"`
	// KMSDeletionWindowDays is the default pending-deletion window of a KMS
	// key a workflow retires (7-30); steps.DefaultKMSDeletionWindowDays when
	// zero.
	KMSDeletionWindowDays int32 `json:"kmsDeletionWindowDays,omitempty"`
	// DefaultSchedule is the rotation schedule of a zone that has none.
	DefaultSchedule *Schedule `json:"defaultSchedule,omitempty"`
	// FleetSchedule, when set, starts fleet-rotate (every configured zone) on
	// this schedule instead of one rotate-ksk schedule per zone.
	FleetSchedule *Schedule `json:"fleetSchedule,omitempty"`
	// KSKGuard, when set, creates a managed policy that denies deactivating
	// and deleting the configured zones' KSKs (and disabling their signing)
	// to every principal but the workflows' roles.
	KSKGuard *KSKGuard `json:"kskGuard,omitempty"`
	// Zones are the hosted zones the workflows manage.
	Zones []Zone `json:"zones"`
	// VPCs are the VPCs whose DNSSEC validation enable-validation manages
	// and probes (a probe Lambda is attached to each).
	VPCs []VPC `json:"vpcs,omitempty"`
}

// Zone is one managed hosted zone.
type Zone struct {
	Comment json.RawMessage `json:"_comment,omitempty"`
	// HostedZoneID is the public hosted zone's ID (Z...).
	HostedZoneID string `json:"hostedZoneId"`
	// ZoneName is the zone's name (example.com).
	ZoneName string `json:"zoneName"`
	// DSPublisher says how the parent publishes the zone's DS records.
	DSPublisher dspublish.Settings `json:"dsPublisher"`
	// Schedule is the zone's rotation schedule; the default when nil.
	Schedule *Schedule `json:"schedule,omitempty"`
	// SafetyMarginSeconds is added to every cache wait of the zone's
	// scheduled rotations; the steps' default when nil.
	SafetyMarginSeconds *int64 `json:"safetyMarginSeconds,omitempty"`
	// Alarms turns the two DNSSEC alarms of the zone on (default) or off.
	Alarms *bool `json:"alarms,omitempty"`
}

// Schedule is an EventBridge Scheduler schedule.
type Schedule struct {
	// Expression is cron(...) or rate(...); DefaultRotationSchedule when
	// empty.
	Expression string `json:"expression,omitempty"`
	// TimeZone is an IANA time zone name; DefaultTimeZone when empty.
	TimeZone string `json:"timeZone,omitempty"`
	// Disabled creates the schedule in the DISABLED state.
	Disabled bool `json:"disabled,omitempty"`
}

// KSKGuard configures the Deny guard.
type KSKGuard struct {
	// AttachToRoles are IAM role names the guard policy is attached to (the
	// roles people use in this account). The policy is created either way,
	// for use in permission sets; its statement also suits an SCP.
	AttachToRoles []string `json:"attachToRoles,omitempty"`
}

// VPC is one VPC to validate.
type VPC struct {
	Comment json.RawMessage `json:"_comment,omitempty"`
	// VPCID is the VPC (vpc-...).
	VPCID string `json:"vpcId"`
	// SubnetIDs are private subnets of the VPC the probe Lambda runs in
	// (two in different Availability Zones recommended).
	SubnetIDs []string `json:"subnetIds"`
	// SecurityGroupIDs, when set, are used for the probe; otherwise the
	// stack creates a group that allows only DNS to the VPC resolver.
	SecurityGroupIDs []string `json:"securityGroupIds,omitempty"`
}

var (
	vpcIDRE    = regexp.MustCompile(`^vpc-[0-9a-f]{8}([0-9a-f]{9})?$`)
	subnetIDRE = regexp.MustCompile(`^subnet-[0-9a-f]{8}([0-9a-f]{9})?$`)
	sgIDRE     = regexp.MustCompile(`^sg-[0-9a-f]{8}([0-9a-f]{9})?$`)
	prefixRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,23}$`)
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// cron(min hour day-of-month month day-of-week year): six fields.
	cronRE = regexp.MustCompile(`^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$`)
	rateRE = regexp.MustCompile(`^rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)$`)
)

// retentionDays are the values CloudWatch Logs accepts.
var retentionDays = map[int]bool{1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true, 90: true, 120: true,
	150: true, 180: true, 365: true, 400: true, 545: true, 731: true, 1096: true, 1827: true, 2192: true, 2557: true,
	2922: true, 3288: true, 3653: true}

// Error is a configuration error: Path names the field ("zones[1].dsPublisher.domainName"),
// Zone the zone it belongs to ("" for a top-level field).
type Error struct {
	Path   string
	Zone   string
	Reason string
}

func (e *Error) Error() string {
	if e.Zone != "" {
		head, field, ok := strings.Cut(e.Path, ".")
		if !ok {
			return fmt.Sprintf("config: %s (%s): %s", head, e.Zone, e.Reason)
		}
		return fmt.Sprintf("config: %s (%s): %s: %s", head, e.Zone, field, e.Reason)
	}
	return fmt.Sprintf("config: %s: %s", e.Path, e.Reason)
}

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// Parse decodes and checks a configuration. Unknown fields are errors (a
// misspelt "schedul" must not silently give the default).
func Parse(b []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every field and fills the defaults.
func (c *Config) Validate() error {
	if c.NamePrefix == "" {
		c.NamePrefix = DefaultNamePrefix
	}
	if !prefixRE.MatchString(c.NamePrefix) {
		return &Error{Path: "namePrefix", Reason: fmt.Sprintf("%q: lower-case letters, digits and '-', starting with a letter, at most 24", c.NamePrefix)}
	}
	for i, e := range c.NotificationEmails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			return &Error{Path: fmt.Sprintf("notificationEmails[%d]", i), Reason: fmt.Sprintf("%q is not an e-mail address", e)}
		}
	}
	if c.LogRetentionDays == 0 {
		c.LogRetentionDays = DefaultLogRetentionDays
	}
	if !retentionDays[c.LogRetentionDays] {
		return &Error{Path: "logRetentionDays", Reason: fmt.Sprintf("%d is not a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)", c.LogRetentionDays)}
	}
	if c.KMSDeletionWindowDays == 0 {
		c.KMSDeletionWindowDays = steps.DefaultKMSDeletionWindowDays
	}
	if c.KMSDeletionWindowDays < 7 || c.KMSDeletionWindowDays > 30 {
		return &Error{Path: "kmsDeletionWindowDays", Reason: fmt.Sprintf("%d: must be 7 to 30 (the KMS limits)", c.KMSDeletionWindowDays)}
	}
	if c.DefaultSchedule == nil {
		c.DefaultSchedule = &Schedule{}
	}
	if err := c.DefaultSchedule.check("defaultSchedule", ""); err != nil {
		return err
	}
	if c.FleetSchedule != nil {
		if err := c.FleetSchedule.check("fleetSchedule", ""); err != nil {
			return err
		}
	}
	if c.KSKGuard != nil {
		for i, r := range c.KSKGuard.AttachToRoles {
			if !roleNameRE.MatchString(r) {
				return &Error{Path: fmt.Sprintf("kskGuard.attachToRoles[%d]", i), Reason: fmt.Sprintf("%q is not an IAM role name", r)}
			}
		}
	}
	if len(c.Zones) == 0 {
		return &Error{Path: "zones", Reason: "no zone: list at least one hosted zone"}
	}
	ids, names := map[string]int{}, map[string]int{}
	for i := range c.Zones {
		z := &c.Zones[i]
		if err := z.check(i, c.DefaultSchedule); err != nil {
			return err
		}
		if j, dup := ids[z.HostedZoneID]; dup {
			return &Error{Path: fmt.Sprintf("zones[%d].hostedZoneId", i), Zone: z.ZoneName, Reason: fmt.Sprintf("%s is also zones[%d]", z.HostedZoneID, j)}
		}
		if j, dup := names[z.ZoneName]; dup {
			return &Error{Path: fmt.Sprintf("zones[%d].zoneName", i), Zone: z.ZoneName, Reason: fmt.Sprintf("also zones[%d]: one hosted zone per name (a private zone of the same name is not managed)", j)}
		}
		ids[z.HostedZoneID], names[z.ZoneName] = i, i
	}
	seen := map[string]int{}
	for i, v := range c.VPCs {
		p := fmt.Sprintf("vpcs[%d]", i)
		if !vpcIDRE.MatchString(v.VPCID) {
			return &Error{Path: p + ".vpcId", Reason: fmt.Sprintf("%q is not a VPC ID (vpc-...)", v.VPCID)}
		}
		if j, dup := seen[v.VPCID]; dup {
			return &Error{Path: p + ".vpcId", Reason: fmt.Sprintf("%s is also vpcs[%d]", v.VPCID, j)}
		}
		seen[v.VPCID] = i
		if len(v.SubnetIDs) == 0 {
			return &Error{Path: p + ".subnetIds", Reason: fmt.Sprintf("VPC %s: at least one private subnet for the probe Lambda", v.VPCID)}
		}
		for k, s := range v.SubnetIDs {
			if !subnetIDRE.MatchString(s) {
				return &Error{Path: fmt.Sprintf("%s.subnetIds[%d]", p, k), Reason: fmt.Sprintf("VPC %s: %q is not a subnet ID (subnet-...)", v.VPCID, s)}
			}
		}
		for k, s := range v.SecurityGroupIDs {
			if !sgIDRE.MatchString(s) {
				return &Error{Path: fmt.Sprintf("%s.securityGroupIds[%d]", p, k), Reason: fmt.Sprintf("VPC %s: %q is not a security group ID (sg-...)", v.VPCID, s)}
			}
		}
	}
	return nil
}

// check validates zone i and fills its defaults.
func (z *Zone) check(i int, def *Schedule) error {
	p := fmt.Sprintf("zones[%d]", i)
	z.HostedZoneID = steps.NormalizeHostedZoneID(z.HostedZoneID)
	z.ZoneName = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(z.ZoneName)), ".")
	name := z.ZoneName
	if name == "" {
		name = z.HostedZoneID
	}
	if z.ZoneName == "" {
		return &Error{Path: p + ".zoneName", Zone: name, Reason: "is required (the hosted zone's name, e.g. example.com)"}
	}
	in := z.RotationInput()
	if err := in.Validate(true); err != nil {
		var bad *steps.InvalidInputError
		if errors.As(err, &bad) {
			return &Error{Path: p + "." + bad.Field, Zone: name, Reason: inputReason(bad)}
		}
		return &Error{Path: p, Zone: name, Reason: err.Error()}
	}
	if err := in.ValidatePublisher(z.ZoneName); err != nil {
		var bad *steps.InvalidInputError
		reason := err.Error()
		if errors.As(err, &bad) && bad.Err != nil {
			reason = bad.Err.Error()
		}
		return &Error{Path: p + ".dsPublisher" + publisherField(err), Zone: name, Reason: reason}
	}
	if z.Schedule == nil {
		s := *def
		z.Schedule = &s
	}
	return z.Schedule.check(p+".schedule", name)
}

// inputReason renders an InvalidInputError without its field (the path
// carries it).
func inputReason(e *steps.InvalidInputError) string {
	if e.Value != "" {
		return fmt.Sprintf("%q %s", e.Value, e.Reason)
	}
	return e.Reason
}

// publisherField returns ".<setting>" for a dspublish settings error.
func publisherField(err error) string {
	var missing *dspublish.MissingPublisherSettingError
	var invalid *dspublish.InvalidPublisherSettingError
	var unknown *dspublish.UnknownPublisherKindError
	switch {
	case errors.As(err, &missing):
		return "." + missing.Setting
	case errors.As(err, &invalid):
		return "." + invalid.Setting
	case errors.As(err, &unknown):
		return ".kind"
	}
	return ""
}

// check validates a schedule and fills its defaults.
func (s *Schedule) check(path, zone string) error {
	if s.Expression == "" {
		s.Expression = DefaultRotationSchedule
	}
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	if !cronRE.MatchString(s.Expression) && !rateRE.MatchString(s.Expression) {
		return &Error{Path: path + ".expression", Zone: zone, Reason: fmt.Sprintf("%q: want cron(minutes hours day-of-month month day-of-week year) or rate(n unit), as EventBridge Scheduler takes", s.Expression)}
	}
	if strings.HasPrefix(s.Expression, "rate(") && rateTooOften(s.Expression) {
		return &Error{Path: path + ".expression", Zone: zone, Reason: fmt.Sprintf("%q: a KSK rotation takes days (DS and DNSKEY TTLs plus margins); schedule at most one a week", s.Expression)}
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "Local" {
		return &Error{Path: path + ".timeZone", Zone: zone, Reason: fmt.Sprintf("%q is not an IANA time zone name (e.g. Europe/Paris, America/New_York, UTC)", s.TimeZone)}
	}
	return nil
}

// rateTooOften reports whether a rate(...) expression fires more than once
// a week.
func rateTooOften(expr string) bool {
	var n int
	var unit string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(expr, "rate("), ")"), "%d %s", &n, &unit); err != nil {
		return true
	}
	return !strings.HasPrefix(unit, "day") || n < 7
}

// RotationInput is the input of the zone's scheduled rotate-ksk executions
// (and of fleet-rotate's child executions): steps.Input.
func (z *Zone) RotationInput() steps.Input {
	pub := z.DSPublisher
	return steps.Input{
		HostedZoneID:        z.HostedZoneID,
		ZoneName:            z.ZoneName,
		DSPublisher:         &pub,
		SafetyMarginSeconds: z.SafetyMarginSeconds,
	}
}

// AlarmsEnabled reports whether the zone gets the two DNSSEC alarms.
func (z *Zone) AlarmsEnabled() bool { return z.Alarms == nil || *z.Alarms }
