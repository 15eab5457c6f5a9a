package dnstree

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/unboundtest"
)

// startUnbound runs a validating unbound in front of the tree and returns
// its address; it stops when the test ends.
func startUnbound(t *testing.T, tree *Tree) netip.AddrPort {
	t.Helper()
	unboundtest.Binary(t) // skips the test without unbound
	root := tree.RootServers()[0].Addr().As4()
	listen := netip.AddrPortFrom(netip.AddrFrom4([4]byte{root[0], root[1], root[2], 254}), tree.Port())
	dir := t.TempDir()
	conf, err := tree.WriteUnboundConfig(hierarchy.UnboundConfig{Listen: listen, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	unboundtest.Start(t, conf, listen)
	return listen
}

// TestUnbound validates the tree with unbound, on the real clock: secure
// answers (AD) for data, black lies, NODATA, a wildcard and the child zone.
func TestUnbound(t *testing.T) {
	if _, err := exec.LookPath("unbound"); err != nil {
		t.Skip("unbound is not installed")
	}
	s := newSignedSetup(t, clock.Real{})
	addr := startUnbound(t, s.tree)
	tests := []struct {
		name    string
		qtype   uint16
		answers int // records of qtype
	}{
		{"www.example.test.", dns.TypeA, 1},
		{"nope.example.test.", dns.TypeA, 0},
		{"www.example.test.", dns.TypeTXT, 0},
		{"x.wild.example.test.", dns.TypeA, 1},
		{"alias.example.test.", dns.TypeA, 1},
		{"www.app.example.test.", dns.TypeA, 1},
		{"nope.app.example.test.", dns.TypeA, 0},
	}
	c := &dns.Client{Timeout: 5 * time.Second}
	for _, tt := range tests {
		m := new(dns.Msg).SetQuestion(tt.name, tt.qtype)
		m.SetEdns0(1232, true)
		r, _, err := c.Exchange(m, addr.String())
		if err != nil {
			t.Fatalf("unbound %s %s: %v", tt.name, dns.TypeToString[tt.qtype], err)
		}
		if got := len(records(r.Answer, tt.qtype)); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || got != tt.answers {
			t.Errorf("unbound %s %s: rcode %s, AD %v, %d answers; want NOERROR, AD, %d", tt.name, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, got, tt.answers)
		}
	}
}
