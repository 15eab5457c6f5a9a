// Package unboundtest runs Debian's unbound as an independent validator for
// tests: in the foreground, with the test's configuration, until the test
// ends, its log shown when the test fails.
package unboundtest

import (
	"bytes"
	"context"
	"net/netip"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startTimeout bounds how long unbound may take to answer its first query.
const startTimeout = 10 * time.Second

// Binary returns unbound's path, or skips the test when it is not installed.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		t.Skip("unbound is not installed: skipping the cross-check with an independent validator")
	}
	return bin
}

// Start runs unbound with the configuration file conf, which makes it
// listen on listen, and returns once it answers there. It stops when the
// test ends or when stop is called (safe to call more than once).
func Start(t testing.TB, conf string, listen netip.AddrPort) (stop func()) {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-d", "-c", conf)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("unbound: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("unbound log (%s):\n%s", conf, logs.String())
		}
	})
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg).SetQuestion(".", dns.TypeSOA)
	for deadline := time.Now().Add(startTimeout); ; time.Sleep(20 * time.Millisecond) {
		if _, _, err := c.Exchange(m, listen.String()); err == nil {
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("unbound did not answer on %v:\n%s", listen, logs.String())
		}
	}
}
