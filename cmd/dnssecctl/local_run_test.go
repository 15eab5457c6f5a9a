package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader on two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunAgainstLocalUp starts `dnssecctl local up` in process on a fast
// virtual clock, then `dnssecctl run enable-signing --endpoint` at the
// endpoint it wrote, as a person would in two terminals: the state
// machines are served by Step Functions at the stack's endpoint, the run
// is followed to SUCCEEDED.
func TestRunAgainstLocalUp(t *testing.T) {
	saved := followPace
	followPace = pace{first: 5 * time.Millisecond, max: 50 * time.Millisecond, call: 5 * time.Second}
	t.Cleanup(func() { followPace = saved })

	dir := t.TempDir()
	file := filepath.Join(dir, "endpoints.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut syncBuffer
	done := make(chan int, 1)
	go func() {
		// 10^5 virtual seconds per real second: the two-day gate of
		// enable-signing passes in about two seconds.
		done <- run(ctx, []string{"local", "up", "--clock", "virtual", "--speed", "100000", "--endpoints", file, "--dir", filepath.Join(dir, "files")}, &upOut, &upOut)
	}()
	var e stack.Endpoints
	for deadline := time.Now().Add(20 * time.Second); ; {
		var err error
		if e, err = stack.ReadEndpoints(file); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("local up ended with %d before writing %s:\n%s", code, file, upOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no endpoints file after 20s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"arn:aws:states:us-east-1:123456789012:stateMachine:enable-signing", "arn:aws:states:us-east-1:123456789012:stateMachine:rotate-ksk", "dnssecctl run --endpoint " + e.AWS.EndpointURL} {
		if !strings.Contains(upOut.String(), want) {
			t.Errorf("local up output lacks %q", want)
		}
	}

	var zoneID string
	for _, z := range e.Zones {
		if z.Name == stack.ScenarioDomain {
			zoneID = z.ID
		}
	}
	input := filepath.Join(dir, "input.json")
	b, _ := json.Marshal(map[string]any{"hostedZoneId": zoneID, "dsPublisher": map[string]any{"kind": "route53Domains", "domainName": "example.test"}})
	if err := os.WriteFile(input, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"run", "--endpoint", e.AWS.EndpointURL, "--timeout", "60s", "--name", "from-cli", "enable-signing", "--input", input}, &out, &errOut)
	if code != exitOK || !strings.Contains(out.String(), "SUCCEEDED") || !strings.Contains(out.String(), "WaitPublishGate") {
		t.Errorf("run enable-signing against local up: exit %d, want 0 with SUCCEEDED and the gate's Wait\n%s\nstderr: %s", code, out.String(), errOut.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("local up exit code after interrupt = %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("local up did not stop within 10s of the interrupt")
	}
}
