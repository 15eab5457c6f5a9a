package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// startHierarchy starts the default signed hierarchy plus the demo's broken
// zones and returns the flags that point dnssecctl at it.
func startHierarchy(t *testing.T) (*hierarchy.Hierarchy, []string) {
	t.Helper()
	spec := hierarchy.DefaultSpec(time.Now())
	spec.Zones = append(spec.Zones, tourZones...)
	h, err := hierarchy.Start(spec)
	if err != nil {
		t.Fatalf("hierarchy.Start() = %v", err)
	}
	t.Cleanup(func() { h.Close() })
	anchor := filepath.Join(t.TempDir(), "anchor.ds")
	if err := writeWith(anchor, h.WriteTrustAnchor); err != nil {
		t.Fatal(err)
	}
	return h, []string{"--root", h.RootServers()[0].String(), "--anchor", anchor, "--timeout", "300ms"}
}

func runJSON(t *testing.T, args []string, v any) int {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
		t.Fatalf("run(%q) stdout is not JSON: %v\n%s\nstderr: %s", args, err, stdout.String(), stderr.String())
	}
	return code
}

func TestValidateJSON(t *testing.T) {
	_, flags := startHierarchy(t)
	tests := []struct {
		name, qtype string
		wantStatus  string
		wantCode    int
		wantReason  string
	}{
		{"www.example.test.", "A", "secure", exitOK, ""},
		{"nope.example.test.", "A", "secure", exitOK, ""},
		{"www.insecure.test.", "A", "insecure", exitOK, "insecure.test."},
		{"www.dnssec-failed.test.", "A", "bogus", exitFailure, "dnssec-failed.test. DNSKEY: no DS matches a DNSKEY that signs the set"},
		{"www.orphan-ds.test.", "A", "bogus", exitFailure, "orphan-ds.test. DNSKEY: no DS matches a DNSKEY that signs the set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			args := append(append([]string{"validate", "--json"}, flags...), tt.name, tt.qtype)
			code := runJSON(t, args, &got)
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d", code, tt.wantCode)
			}
			if got["status"] != tt.wantStatus {
				t.Errorf("status = %v, want %s (reason %v)", got["status"], tt.wantStatus, got["reason"])
			}
			if reason, _ := got["reason"].(string); !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.wantReason)
			}
			if _, ok := got["chain"].([]any); !ok {
				t.Errorf("chain missing from %v", got)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	h, flags := startHierarchy(t)
	var got struct {
		Zone          string `json:"zone"`
		ParentServers []struct {
			Name string `json:"name"`
			DS   struct {
				State string `json:"state"`
				TTL   int    `json:"ttl"`
			} `json:"ds"`
		} `json:"parentServers"`
		ZoneServers []struct {
			Name   string `json:"name"`
			DNSKEY struct {
				State string `json:"state"`
			} `json:"dnskey"`
		} `json:"zoneServers"`
		Chain struct {
			Status string `json:"status"`
		} `json:"chain"`
		Problems []string `json:"problems"`
	}
	code := runJSON(t, append(append([]string{"check", "--json"}, flags...), "example.test."), &got)
	if code != exitOK || got.Chain.Status != "secure" || len(got.Problems) != 0 {
		t.Errorf("check healthy zone: exit %d, chain %q, problems %q; want 0, secure, none", code, got.Chain.Status, got.Problems)
	}
	if len(got.ParentServers) != 2 || len(got.ZoneServers) != 4 {
		t.Errorf("rows: %d parent, %d zone; want 2 and 4", len(got.ParentServers), len(got.ZoneServers))
	}
	for _, r := range got.ParentServers {
		if r.DS.State != "ok" || r.DS.TTL == 0 {
			t.Errorf("parent %s DS = %+v, want ok with a TTL", r.Name, r.DS)
		}
	}

	// One zone server stops answering: its row is unknown and check reports a problem.
	h.Zone("example.test.").Servers[2].Server.SetFaults(authserver.Faults{Drop: true})
	code = runJSON(t, append(append([]string{"check", "--json"}, flags...), "example.test."), &got)
	if code != exitFailure || len(got.Problems) == 0 {
		t.Errorf("check with a dead zone server: exit %d, problems %q; want %d and a problem", code, got.Problems, exitFailure)
	}
	unknown := 0
	for _, r := range got.ZoneServers {
		if r.DNSKEY.State == "unknown" {
			unknown++
		}
	}
	if unknown != 1 {
		t.Errorf("zone rows with unknown DNSKEY = %d, want 1", unknown)
	}
}

func TestCheckBogusZoneIsAProblem(t *testing.T) {
	_, flags := startHierarchy(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(append([]string{"check"}, flags...), "dnssec-failed.test."), &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("check bogus zone exit = %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stdout.String(), "Chain of trust: bogus") || !strings.Contains(stderr.String(), "bogus") {
		t.Errorf("check bogus zone output lacks the verdict:\n%s\nstderr: %s", stdout.String(), stderr.String())
	}
}

func TestTour(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"tour", "--dir", t.TempDir()}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("tour exit = %d, stderr %q\n%s", code, stderr.String(), stdout.String())
	}
	for _, want := range []string{"Problems: none", "; fully validated", "; unsigned answer", "; bogus: dnssec-failed.test. DNSKEY"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("tour output lacks %q", want)
		}
	}
}
