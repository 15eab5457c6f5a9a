package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// TestWriteFiles checks the endpoints description and the files it names:
// the trust anchor loads as dnssecctl --anchor loads it, the unbound.conf
// has a stub zone for every hosted zone and the bogus zone, and
// endpoints.json reads back as written.
func TestWriteFiles(t *testing.T) {
	e := newEnv(t, virtualOpts())
	dir := t.TempDir()
	got, err := e.s.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Clock != "virtual" || got.AWS.EndpointURL != e.s.Endpoint() || got.AWS.Region != Region || got.AWS.AccountID != AccountID ||
		got.AWS.AccessKeyID != AccessKeyID || got.AWS.SecretAccessKey != SecretAccessKey || got.SNSTopicARN != e.sc.TopicARN {
		t.Errorf("endpoints AWS part = %+v, topic %s", got.AWS, got.SNSTopicARN)
	}
	if len(got.DNS.RootServers) != 2 || len(got.DNS.TLDServers) != 2 || got.DNS.Port == 0 || got.DNS.BogusZone != BogusZone || len(got.DNS.BogusNameServers) != 1 {
		t.Errorf("endpoints DNS part = %+v", got.DNS)
	}
	vpc, _ := e.s.VPCResolver(ScenarioVPC)
	if len(got.VPCs) != 1 || got.VPCs[0].ID != ScenarioVPC || got.VPCs[0].Resolver != vpc.String() || got.VPCs[0].Validation != "DISABLED" {
		t.Errorf("endpoints VPCs = %+v", got.VPCs)
	}
	zones := map[string]string{}
	for _, z := range got.Zones {
		zones[z.Name] = z.ID
		if len(z.NameServers) != 4 {
			t.Errorf("zone %s has %d name servers in the endpoints, want 4", z.Name, len(z.NameServers))
		}
	}
	if zones[ScenarioDomain] != e.sc.ZoneID || zones[ScenarioChildZone] != e.sc.ChildZoneID {
		t.Errorf("endpoints zones = %v, want %s=%s and %s=%s", zones, ScenarioDomain, e.sc.ZoneID, ScenarioChildZone, e.sc.ChildZoneID)
	}

	anchors, err := dnssec.LoadAnchorFile(got.DNS.TrustAnchorFile)
	if err != nil || len(anchors) == 0 {
		t.Errorf("LoadAnchorFile(%s) = %v, %v", got.DNS.TrustAnchorFile, anchors, err)
	}
	for _, a := range anchors {
		if a.Header().Name != "." || (a.Header().Rrtype != dns.TypeDS && a.Header().Rrtype != dns.TypeDNSKEY) {
			t.Errorf("trust anchor %v, want the root's DS or DNSKEY", a)
		}
	}
	conf, err := os.ReadFile(got.DNS.UnboundConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name: "example.test."`, `name: "app.example.test."`, `name: "dnssec-failed.test."`, "trust-anchor-file:", got.DNS.UnboundListen[:strings.LastIndex(got.DNS.UnboundListen, ":")]} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("unbound.conf lacks %q", want)
		}
	}
	back, err := ReadEndpoints(filepath.Join(dir, "endpoints.json"))
	if err != nil || back.AWS != got.AWS || back.DNS.UnboundConfig != got.DNS.UnboundConfig || len(back.Zones) != len(got.Zones) {
		t.Errorf("ReadEndpoints = %+v, %v; want what WriteFiles returned", back, err)
	}
}
