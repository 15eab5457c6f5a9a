package dspublish

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestSettingsValidate(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:123456789012:dnssec-ops"
	for _, tc := range []struct {
		name     string
		zone     string
		s        Settings
		wantErr  string // the error type's name, "" for none
		wantText string // a part of the message
	}{
		{name: "parent hosted zone", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "Z0123456789ABC"}},
		{name: "parent hosted zone with prefix and TTL", zone: "sub.example.com.", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "/hostedzone/Z0123456789ABC", DSTTL: 86400}},
		{name: "registered domain", zone: "Example.COM.", s: Settings{Kind: KindRoute53Domains, DomainName: "example.com"}},
		{name: "manual", zone: "example.org", s: Settings{Kind: KindManual, TopicARN: topic}},
		{name: "manual FIFO topic", zone: "example.org", s: Settings{Kind: KindManual, TopicARN: topic + ".fifo"}},
		{name: "manual waiting for a callback", zone: "example.org", s: Settings{Kind: KindManual, TopicARN: topic, WaitForCallback: true}},
		{name: "callback on a registrar publisher", zone: "example.com", s: Settings{Kind: KindRoute53Domains, DomainName: "example.com", WaitForCallback: true}, wantErr: "InvalidPublisherSettingError", wantText: "waitForCallback"},

		{name: "no kind", zone: "example.com", s: Settings{}, wantErr: "MissingPublisherSettingError", wantText: "no publisher kind"},
		{name: "unknown kind", zone: "example.com", s: Settings{Kind: "godaddy"}, wantErr: "UnknownPublisherKindError", wantText: `"godaddy"`},
		{name: "no parent hosted zone ID", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone}, wantErr: "MissingPublisherSettingError", wantText: "parentHostedZoneId"},
		{name: "malformed hosted zone ID", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "zone-1"}, wantErr: "InvalidPublisherSettingError", wantText: "not a hosted zone ID"},
		{name: "TTL too large", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "Z1", DSTTL: 1 << 31}, wantErr: "InvalidPublisherSettingError", wantText: "dsTtl"},
		{name: "topic on a hosted zone publisher", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "Z1", TopicARN: topic}, wantErr: "InvalidPublisherSettingError", wantText: "not a setting of this publisher kind"},
		{name: "no domain name", zone: "example.com", s: Settings{Kind: KindRoute53Domains}, wantErr: "MissingPublisherSettingError", wantText: "domainName"},
		{name: "domain is not the zone", zone: "sub.example.com", s: Settings{Kind: KindRoute53Domains, DomainName: "example.com"}, wantErr: "InvalidPublisherSettingError", wantText: "not the registered domain"},
		{name: "domain with a hosted zone ID", zone: "example.com", s: Settings{Kind: KindRoute53Domains, DomainName: "example.com", ParentHostedZoneID: "Z1"}, wantErr: "InvalidPublisherSettingError", wantText: "parentHostedZoneId"},
		{name: "no topic", zone: "example.org", s: Settings{Kind: KindManual}, wantErr: "MissingPublisherSettingError", wantText: "topicArn"},
		{name: "not a topic ARN", zone: "example.org", s: Settings{Kind: KindManual, TopicARN: "arn:aws:sqs:us-east-1:123456789012:q"}, wantErr: "InvalidPublisherSettingError", wantText: "not an SNS topic ARN"},
		{name: "manual with a domain name", zone: "example.org", s: Settings{Kind: KindManual, TopicARN: topic, DomainName: "example.org"}, wantErr: "InvalidPublisherSettingError", wantText: "domainName"},
		{name: "root zone", zone: ".", s: Settings{Kind: KindManual, TopicARN: topic}, wantErr: "InvalidRequestError", wantText: "below the root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate(tc.zone)
			if got := errorTypeName(err); got != tc.wantErr {
				t.Fatalf("Validate(%q) = %v (%s), want a %s", tc.zone, err, got, tc.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), tc.wantText) || !strings.HasPrefix(err.Error(), "dspublish: ")) {
				t.Errorf("Validate(%q) = %q, want it prefixed dspublish: and containing %q", tc.zone, err, tc.wantText)
			}
		})
	}
}

// errorTypeName names the dspublish error type in err, as a state machine
// would see it.
func errorTypeName(err error) string {
	switch {
	case err == nil:
		return ""
	case errorAs[*MissingPublisherSettingError](err):
		return "MissingPublisherSettingError"
	case errorAs[*InvalidPublisherSettingError](err):
		return "InvalidPublisherSettingError"
	case errorAs[*UnknownPublisherKindError](err):
		return "UnknownPublisherKindError"
	case errorAs[*InvalidRequestError](err):
		return "InvalidRequestError"
	case errorAs[*ParentDelegationMissingError](err):
		return "ParentDelegationMissingError"
	case errorAs[*RegistrarOperationFailedError](err):
		return "RegistrarOperationFailedError"
	case errorAs[*RegistrarRefusedError](err):
		return "RegistrarRefusedError"
	}
	return "other"
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name     string
		zone     string
		s        Settings
		c        Clients
		wantType string
		wantErr  bool
	}{
		{name: "parent hosted zone", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "Z1"}, c: Clients{Route53: &countingRoute53{}}, wantType: "*dspublish.HostedZone"},
		{name: "registrar", zone: "example.com", s: Settings{Kind: KindRoute53Domains, DomainName: "example.com"}, c: Clients{Domains: &countingDomains{}}, wantType: "*dspublish.Registrar"},
		{name: "manual", zone: "example.com", s: Settings{Kind: KindManual, TopicARN: "arn:aws:sns:us-east-1:123456789012:t"}, c: Clients{SNS: &recordingSNS{}}, wantType: "*dspublish.Manual"},
		{name: "no route 53 client", zone: "sub.example.com", s: Settings{Kind: KindParentHostedZone, ParentHostedZoneID: "Z1"}, wantErr: true},
		{name: "no domains client", zone: "example.com", s: Settings{Kind: KindRoute53Domains, DomainName: "example.com"}, wantErr: true},
		{name: "no sns client", zone: "example.com", s: Settings{Kind: KindManual, TopicARN: "arn:aws:sns:us-east-1:123456789012:t"}, wantErr: true},
		{name: "invalid settings", zone: "example.com", s: Settings{Kind: KindManual}, c: Clients{SNS: &recordingSNS{}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.zone, tc.s, tc.c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%q, %+v) error = %v, want error %t", tc.zone, tc.s, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := typeName(p); got != tc.wantType {
				t.Errorf("New(%q, %+v) = %s, want %s", tc.zone, tc.s, got, tc.wantType)
			}
		})
	}
}

func typeName(p Publisher) string {
	switch p.(type) {
	case *HostedZone:
		return "*dspublish.HostedZone"
	case *Registrar:
		return "*dspublish.Registrar"
	case *Manual:
		return "*dspublish.Manual"
	}
	return "other"
}

func TestRequestCheck(t *testing.T) {
	other := newKSK("example.net.")
	zsk := rfcKey()
	zsk.Flags = 256
	for _, tc := range []struct {
		name    string
		req     Request
		wantErr string // the InvalidRequestError field, "" for none
		wantDS  string
	}{
		{name: "RFC 6605 DS and key", req: Request{Zone: "Example.NET", DS: rfcDS(), DNSKEY: rfcKey()},
			wantDS: "example.net.\t3600\tIN\tDS\t55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"},
		{name: "DS without key, owner replaced", req: Request{Zone: "example.net.", DS: mustRR("other.example. 60 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17").(*dns.DS)},
			wantDS: "example.net.\t60\tIN\tDS\t55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17"},
		{name: "key of another DS", req: Request{Zone: "example.net.", DS: rfcDS(), DNSKEY: other.key}, wantErr: "dnskey"},
		{name: "flags change the digest", req: Request{Zone: "example.net.", DS: rfcDS(), DNSKEY: zsk}, wantErr: "dnskey"},
		{name: "DS of another owner", req: Request{Zone: "example.org.", DS: rfcDS(), DNSKEY: rfcKey()}, wantErr: "dnskey"},
		{name: "no DS", req: Request{Zone: "example.net."}, wantErr: "ds"},
		{name: "bad zone", req: Request{Zone: "", DS: rfcDS()}, wantErr: "zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds, err := tc.req.check()
			var ire *InvalidRequestError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("check() = %v, want no error", err)
			case tc.wantErr != "" && (!errors.As(err, &ire) || ire.Field != tc.wantErr):
				t.Fatalf("check() = %v, want an InvalidRequestError on %s", err, tc.wantErr)
			case tc.wantErr == "" && ds.String() != tc.wantDS:
				t.Errorf("check() DS = %q, want %q", ds.String(), tc.wantDS)
			}
		})
	}
}
