package route53emu

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

func TestCreateHostedZone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("Example.TEST"), CallerReference: aws.String("ref-1"),
		HostedZoneConfig: &types.HostedZoneConfig{Comment: aws.String("demo")},
	})
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	id := strings.TrimPrefix(*out.HostedZone.Id, "/hostedzone/")
	if !regexp.MustCompile(`^Z[A-Z0-9]{20}$`).MatchString(id) {
		t.Errorf("zone ID = %q, want Z and 20 upper-case letters or digits", id)
	}
	if got, want := *out.Location, "https://route53.amazonaws.com/2013-04-01/hostedzone/"+id; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got, want := *out.HostedZone.Name, "example.test."; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	if got := *out.HostedZone.ResourceRecordSetCount; got != 2 {
		t.Errorf("ResourceRecordSetCount = %d, want 2", got)
	}
	if got := *out.HostedZone.Config.Comment; got != "demo" {
		t.Errorf("Comment = %q, want demo", got)
	}
	if out.ChangeInfo.Status != types.ChangeStatusPending || !strings.HasPrefix(*out.ChangeInfo.Id, "/change/C") {
		t.Errorf("ChangeInfo = %s %s, want PENDING /change/C...", *out.ChangeInfo.Id, out.ChangeInfo.Status)
	}
	if !out.ChangeInfo.SubmittedAt.Equal(t0) {
		t.Errorf("SubmittedAt = %v, want %v", out.ChangeInfo.SubmittedAt, t0)
	}
	nsRE := regexp.MustCompile(`^ns-\d{1,4}\.awsdns-\d{2}\.test$`)
	ns := out.DelegationSet.NameServers
	if len(ns) != 4 {
		t.Fatalf("NameServers = %v, want 4", ns)
	}
	for _, n := range ns {
		if !nsRE.MatchString(n) {
			t.Errorf("name server %q does not look like ns-123.awsdns-45.test", n)
		}
	}

	list, err := e.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: out.HostedZone.Id})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	var got []string
	for _, rs := range list.ResourceRecordSets {
		for _, rr := range rs.ResourceRecords {
			got = append(got, fmt.Sprintf("%s %d %s %s", *rs.Name, *rs.TTL, rs.Type, *rr.Value))
		}
	}
	want := []string{
		"example.test. 172800 NS " + ns[0] + ".",
		"example.test. 172800 NS " + ns[1] + ".",
		"example.test. 172800 NS " + ns[2] + ".",
		"example.test. 172800 NS " + ns[3] + ".",
		"example.test. 900 SOA " + ns[0] + ". awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default records (-want +got):\n%s", diff)
	}

	get, err := e.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: out.HostedZone.Id})
	if err != nil {
		t.Fatalf("GetHostedZone: %v", err)
	}
	if diff := cmp.Diff(ns, get.DelegationSet.NameServers); diff != "" {
		t.Errorf("GetHostedZone name servers (-create +get):\n%s", diff)
	}

	_, err = e.client.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("other.test"), CallerReference: aws.String("ref-1")})
	var exists *types.HostedZoneAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateHostedZone with a used caller reference: err = %v, want HostedZoneAlreadyExists", err)
	}
}

func TestCreateHostedZoneRefused(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		zone     string
		private  bool
		wantCode string
	}{
		{"top-level domain", "test", false, "InvalidDomainName"},
		{"empty label", "a..test", false, "InvalidDomainName"},
		{"label too long", strings.Repeat("a", 64) + ".test", false, "InvalidDomainName"},
		{"private zone", "private.test", true, "InvalidInput"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &route53.CreateHostedZoneInput{Name: aws.String(tt.zone), CallerReference: aws.String(fmt.Sprint("r", i))}
			if tt.private {
				in.HostedZoneConfig = &types.HostedZoneConfig{PrivateZone: true}
			}
			_, err := e.client.CreateHostedZone(context.Background(), in)
			if got := errCode(err); got != tt.wantCode {
				t.Errorf("CreateHostedZone(%q) error code = %q, want %q", tt.zone, got, tt.wantCode)
			}
		})
	}
	var dn *types.InvalidDomainName
	_, err := e.client.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{Name: aws.String("test"), CallerReference: aws.String("x")})
	if !errors.As(err, &dn) {
		t.Errorf("CreateHostedZone(test) = %v, want *types.InvalidDomainName", err)
	}
}

func TestNameServersNotShared(t *testing.T) {
	e := newEnv(t)
	seen := map[string]string{}
	for _, name := range []string{"example.test", "example.test", "sub.example.test", "a.sub.example.test"} {
		id := e.createZone(t, name)
		for _, ns := range e.svc.NameServers(id) {
			if other, ok := seen[ns]; ok {
				t.Errorf("name server %s of %s (%s) is also used by %s", ns, name, id, other)
			}
			seen[ns] = id
		}
	}
}

func TestDeleteHostedZone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createZone(t, "example.test")
	if _, err := e.change(ctx, id, rrChange(types.ChangeActionCreate, "www.example.test", types.RRTypeA, 300, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(id)})
	var notEmpty *types.HostedZoneNotEmpty
	if !errors.As(err, &notEmpty) {
		t.Fatalf("DeleteHostedZone with a record: err = %v, want HostedZoneNotEmpty", err)
	}
	if _, err := e.change(ctx, id, rrChange(types.ChangeActionDelete, "www.example.test", types.RRTypeA, 300, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	// Changing the apex NS and SOA keeps them "required" records.
	if _, err := e.change(ctx, id, rrChange(types.ChangeActionUpsert, "example.test", types.RRTypeNs, 3600, "ns1.example.net.")); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String("/hostedzone/" + id)})
	if err != nil {
		t.Fatalf("DeleteHostedZone: %v", err)
	}
	if out.ChangeInfo.Status != types.ChangeStatusPending {
		t.Errorf("DeleteHostedZone status = %s, want PENDING", out.ChangeInfo.Status)
	}
	_, err = e.client.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(id)})
	var noZone *types.NoSuchHostedZone
	if !errors.As(err, &noZone) {
		t.Errorf("GetHostedZone after delete: err = %v, want NoSuchHostedZone", err)
	}
	_, err = e.client.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(id)})
	if !errors.As(err, &noZone) {
		t.Errorf("DeleteHostedZone twice: err = %v, want NoSuchHostedZone", err)
	}
	if _, err := e.svc.Snapshot(id); !errors.Is(err, ErrNoSuchZone) {
		t.Errorf("Snapshot after delete: err = %v, want ErrNoSuchZone", err)
	}
}

func TestDeleteHostedZoneRefusedWhileSigning(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createZone(t, "example.test")
	e.createKSK(t, id, "ksk_1", "ACTIVE")
	e.enableSigning(t, id)
	_, err := e.client.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(id)})
	var notEmpty *types.HostedZoneNotEmpty
	if !errors.As(err, &notEmpty) {
		t.Fatalf("DeleteHostedZone while signing: err = %v, want HostedZoneNotEmpty", err)
	}
	if _, err := e.client.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(id)}); err != nil {
		t.Errorf("DeleteHostedZone after disabling signing: %v", err)
	}
}

func TestListHostedZones(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := map[string]string{}
	for _, n := range []string{"b.test", "a.test", "www.a.test", "c.example"} {
		ids[n] = e.createZone(t, n)
	}
	// ListHostedZones pages with Marker/NextMarker over every zone.
	var got []string
	var marker *string
	for pages := 0; ; pages++ {
		out, err := e.client.ListHostedZones(ctx, &route53.ListHostedZonesInput{Marker: marker, MaxItems: aws.Int32(3)})
		if err != nil {
			t.Fatalf("ListHostedZones: %v", err)
		}
		for _, z := range out.HostedZones {
			got = append(got, *z.Name)
		}
		if !out.IsTruncated {
			break
		}
		if pages > 3 {
			t.Fatal("ListHostedZones does not end")
		}
		marker = out.NextMarker
	}
	if len(got) != 4 {
		t.Errorf("ListHostedZones listed %v, want the 4 zones", got)
	}

	// ListHostedZonesByName sorts by reversed labels.
	out, err := e.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatalf("ListHostedZonesByName: %v", err)
	}
	var names []string
	for _, z := range out.HostedZones {
		names = append(names, *z.Name)
	}
	if diff := cmp.Diff([]string{"c.example.", "a.test."}, names); diff != "" {
		t.Errorf("first page (-want +got):\n%s", diff)
	}
	if !out.IsTruncated || *out.NextDNSName != "www.a.test." || *out.NextHostedZoneId != ids["www.a.test"] {
		t.Fatalf("first page: truncated=%v next=%v/%v, want www.a.test. %s", out.IsTruncated, aws.ToString(out.NextDNSName), aws.ToString(out.NextHostedZoneId), ids["www.a.test"])
	}
	out, err = e.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: out.NextDNSName, HostedZoneId: out.NextHostedZoneId})
	if err != nil {
		t.Fatalf("ListHostedZonesByName page 2: %v", err)
	}
	names = nil
	for _, z := range out.HostedZones {
		names = append(names, *z.Name)
	}
	if diff := cmp.Diff([]string{"www.a.test.", "b.test."}, names); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
	_, err = e.client.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{HostedZoneId: aws.String(ids["a.test"])})
	var inv *types.InvalidInput
	if !errors.As(err, &inv) {
		t.Errorf("ListHostedZonesByName with an ID and no name: err = %v, want InvalidInput", err)
	}
	if got, want := e.svc.ZonesByName("WWW.A.TEST"), []string{ids["www.a.test"]}; !cmp.Equal(got, want) {
		t.Errorf("ZonesByName = %v, want %v", got, want)
	}
}

func TestNameServerDomains(t *testing.T) {
	svc := New(Options{Clock: clock.NewVirtual(t0), NameServerDomains: []string{"com", "net.", "org.", "co.uk."}})
	defer svc.Close()
	srv := httptest.NewServer(svc)
	defer srv.Close()
	out, err := newClient(srv.URL).CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name: aws.String("example.test"), CallerReference: aws.String("r")})
	if err != nil {
		t.Fatal(err)
	}
	ns := out.DelegationSet.NameServers
	for i, suffix := range []string{".com", ".net", ".org", ".co.uk"} {
		if !regexp.MustCompile(`^ns-\d+\.awsdns-\d\d` + regexp.QuoteMeta(suffix) + `$`).MatchString(ns[i]) {
			t.Errorf("name server %d = %q, want ns-N.awsdns-NN%s", i, ns[i], suffix)
		}
	}
}
