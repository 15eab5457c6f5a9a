package config

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// valid is a configuration every bad case below breaks in one place.
const valid = `{
  "zones": [
    {"hostedZoneId": "Z0123456789ABCDEFGHIJ", "zoneName": "example.com",
     "dsPublisher": {"kind": "route53Domains", "domainName": "example.com"}},
    {"hostedZoneId": "Z1111111111ABCDEFGHIJ", "zoneName": "app.example.com",
     "dsPublisher": {"kind": "parentHostedZone", "parentHostedZoneId": "Z0123456789ABCDEFGHIJ"},
     "schedule": {"expression": "cron(30 9 ? 2,5,8,11 WED#2 *)", "timeZone": "Europe/Paris"}}
  ],
  "vpcs": [{"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0123456789abcdef0"]}]
}`

// edit returns valid with f applied to its decoded form.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(valid), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zone(m map[string]any, i int) map[string]any { return m["zones"].([]any)[i].(map[string]any) }

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(valid))
	if err != nil {
		t.Fatalf("Parse(valid) = %v", err)
	}
	if got, want := c.Zones[0].Schedule.Expression, DefaultRotationSchedule; got != want {
		t.Errorf("zones[0] schedule = %q, want the default %q", got, want)
	}
	if got, want := c.Zones[0].Schedule.TimeZone, DefaultTimeZone; got != want {
		t.Errorf("zones[0] time zone = %q, want %q", got, want)
	}
	if got, want := c.Zones[1].Schedule.TimeZone, "Europe/Paris"; got != want {
		t.Errorf("zones[1] time zone = %q, want %q", got, want)
	}
	if got, want := c.LogRetentionDays, DefaultLogRetentionDays; got != want {
		t.Errorf("LogRetentionDays = %d, want %d", got, want)
	}
	if got, want := c.NamePrefix, DefaultNamePrefix; got != want {
		t.Errorf("NamePrefix = %q, want %q", got, want)
	}
	if !c.Zones[0].AlarmsEnabled() {
		t.Errorf("zones[0] alarms off, want on by default")
	}
	in := c.Zones[1].RotationInput()
	b, _ := json.Marshal(in)
	want := `{"hostedZoneId":"Z1111111111ABCDEFGHIJ","zoneName":"app.example.com","dsPublisher":{"kind":"parentHostedZone","parentHostedZoneId":"Z0123456789ABCDEFGHIJ"}}`
	if string(b) != want {
		t.Errorf("zones[1] rotation input = %s, want %s", b, want)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		want []string // substrings of the error
	}{
		{"no zones", func(m map[string]any) { m["zones"] = []any{} }, []string{"config: zones: no zone"}},
		{"unknown field", func(m map[string]any) { zone(m, 0)["schedul"] = map[string]any{} }, []string{`unknown field "schedul"`}},
		{"missing zone id", func(m map[string]any) { delete(zone(m, 0), "hostedZoneId") },
			[]string{"zones[0] (example.com): hostedZoneId: is required"}},
		{"bad zone id", func(m map[string]any) { zone(m, 0)["hostedZoneId"] = "z-lower" },
			[]string{"zones[0] (example.com): hostedZoneId:", `"z-lower"`}},
		{"missing zone name", func(m map[string]any) { delete(zone(m, 1), "zoneName") },
			[]string{"zones[1] (Z1111111111ABCDEFGHIJ): zoneName: is required"}},
		{"bad zone name", func(m map[string]any) { zone(m, 1)["zoneName"] = "bad..name" },
			[]string{"zones[1] (bad..name): zoneName:"}},
		{"missing publisher", func(m map[string]any) { delete(zone(m, 0), "dsPublisher") },
			[]string{"zones[0] (example.com): dsPublisher.kind:"}},
		{"unknown publisher kind", func(m map[string]any) { zone(m, 0)["dsPublisher"] = map[string]any{"kind": "carrierPigeon"} },
			[]string{"zones[0] (example.com): dsPublisher.kind:", "carrierPigeon"}},
		{"registered domain is another zone", func(m map[string]any) {
			zone(m, 0)["dsPublisher"] = map[string]any{"kind": "route53Domains", "domainName": "example.org"}
		}, []string{"zones[0] (example.com): dsPublisher.domainName:"}},
		{"parent zone id missing", func(m map[string]any) { zone(m, 1)["dsPublisher"] = map[string]any{"kind": "parentHostedZone"} },
			[]string{"zones[1] (app.example.com): dsPublisher.parentHostedZoneId:"}},
		{"manual without topic", func(m map[string]any) { zone(m, 1)["dsPublisher"] = map[string]any{"kind": "manual"} },
			[]string{"zones[1] (app.example.com): dsPublisher.topicArn:"}},
		{"manual with a bad topic", func(m map[string]any) {
			zone(m, 1)["dsPublisher"] = map[string]any{"kind": "manual", "topicArn": "arn:aws:sqs:us-east-1:123456789012:q"}
		}, []string{"zones[1] (app.example.com): dsPublisher.topicArn:"}},
		{"safety margin too large", func(m map[string]any) { zone(m, 0)["safetyMarginSeconds"] = 99999999 },
			[]string{"zones[0] (example.com): safetyMarginSeconds:"}},
		{"duplicate zone id", func(m map[string]any) { zone(m, 1)["hostedZoneId"] = "Z0123456789ABCDEFGHIJ" },
			[]string{"zones[1] (app.example.com): hostedZoneId:", "also zones[0]"}},
		{"duplicate zone name", func(m map[string]any) {
			zone(m, 1)["zoneName"] = "example.com"
			zone(m, 1)["dsPublisher"] = map[string]any{"kind": "route53Domains", "domainName": "example.com"}
		}, []string{"zones[1] (example.com): zoneName:", "also zones[0]"}},
		{"bad cron", func(m map[string]any) { zone(m, 1)["schedule"] = map[string]any{"expression": "0 10 * * 1"} },
			[]string{"zones[1] (app.example.com): schedule.expression:"}},
		{"rate too often", func(m map[string]any) { zone(m, 1)["schedule"] = map[string]any{"expression": "rate(1 hour)"} },
			[]string{"zones[1] (app.example.com): schedule.expression:", "at most one a week"}},
		{"bad time zone", func(m map[string]any) {
			zone(m, 1)["schedule"] = map[string]any{"expression": "cron(0 10 ? * TUE#1 *)", "timeZone": "Mars/Olympus"}
		}, []string{"zones[1] (app.example.com): schedule.timeZone:", "Mars/Olympus"}},
		{"bad default schedule", func(m map[string]any) { m["defaultSchedule"] = map[string]any{"timeZone": "Nowhere"} },
			[]string{"config: defaultSchedule.timeZone:"}},
		{"bad fleet schedule", func(m map[string]any) { m["fleetSchedule"] = map[string]any{"expression": "daily"} },
			[]string{"config: fleetSchedule.expression:"}},
		{"bad email", func(m map[string]any) { m["notificationEmails"] = []any{"ops@example.com", "not an address"} },
			[]string{"config: notificationEmails[1]:"}},
		{"bad retention", func(m map[string]any) { m["logRetentionDays"] = 42 }, []string{"config: logRetentionDays:"}},
		{"bad deletion window", func(m map[string]any) { m["kmsDeletionWindowDays"] = 3 }, []string{"config: kmsDeletionWindowDays:"}},
		{"bad prefix", func(m map[string]any) { m["namePrefix"] = "Upper_Case" }, []string{"config: namePrefix:"}},
		{"bad guard role", func(m map[string]any) { m["kskGuard"] = map[string]any{"attachToRoles": []any{"a role"}} },
			[]string{"config: kskGuard.attachToRoles[0]:"}},
		{"bad vpc id", func(m map[string]any) { m["vpcs"].([]any)[0].(map[string]any)["vpcId"] = "vpc-xyz" },
			[]string{"config: vpcs[0].vpcId:"}},
		{"vpc without subnets", func(m map[string]any) { m["vpcs"].([]any)[0].(map[string]any)["subnetIds"] = []any{} },
			[]string{"config: vpcs[0].subnetIds:", "vpc-0123456789abcdef0"}},
		{"bad subnet", func(m map[string]any) { m["vpcs"].([]any)[0].(map[string]any)["subnetIds"] = []any{"sn-1"} },
			[]string{"config: vpcs[0].subnetIds[0]:"}},
		{"bad security group", func(m map[string]any) {
			m["vpcs"].([]any)[0].(map[string]any)["securityGroupIds"] = []any{"group"}
		}, []string{"config: vpcs[0].securityGroupIds[0]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(edit(t, tt.edit))
			if err == nil {
				t.Fatalf("Parse() = nil error, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestExample keeps the committed example valid.
func TestExample(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "config", "zones.example.json")
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s) = %v", path, err)
	}
	kinds := map[string]bool{}
	for _, z := range c.Zones {
		kinds[string(z.DSPublisher.Kind)] = true
	}
	for _, k := range []string{"parentHostedZone", "route53Domains", "manual"} {
		if !kinds[k] {
			t.Errorf("the example has no zone with the %s publisher; show every kind", k)
		}
	}
}
