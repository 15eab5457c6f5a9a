package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// closedPort returns a loopback address where nothing answers.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.ds")
	if err := os.WriteFile(garbage, []byte("this is not a record\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mx := filepath.Join(dir, "mx.ds")
	if err := os.WriteFile(mx, []byte("example.test. 300 IN MX 10 mail.example.test.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // substring of the one stderr line
	}{
		{"no command", nil, exitUsage, "Usage"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		{"malformed name", []string{"validate", "exa mple..test"}, exitUsage, "not a valid domain name"},
		{"label too long", []string{"validate", strings.Repeat("a", 64) + ".test"}, exitUsage, "not a valid domain name"},
		{"unknown type", []string{"validate", "example.test", "BOGUSTYPE"}, exitUsage, "unknown record type"},
		{"too many args", []string{"validate", "a.test", "A", "extra"}, exitUsage, "want NAME [TYPE]"},
		{"missing anchor file", []string{"validate", "--anchor", filepath.Join(dir, "nope"), "example.test"}, exitUsage, "anchor file"},
		{"garbage anchor file", []string{"validate", "--anchor", garbage, "example.test"}, exitUsage, "anchor"},
		{"anchor of wrong type", []string{"validate", "--anchor", mx, "example.test"}, exitUsage, "not a DS or DNSKEY"},
		{"bad root address", []string{"validate", "--root", "not-an-ip", "example.test"}, exitUsage, "not an IP address"},
		{"bad --at", []string{"validate", "--at", "yesterday", "example.test"}, exitUsage, "RFC 3339"},
		{"check without zone", []string{"check"}, exitUsage, "want ZONE"},
		{"check malformed zone", []string{"check", "bad..zone"}, exitUsage, "not a valid domain name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("run(%q) stderr = %q, want it to mention %q", tt.args, stderr.String(), tt.wantErr)
			}
			if tt.wantCode != exitUsage || tt.args == nil {
				return
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; lines != 1 {
				t.Errorf("run(%q) printed %d stderr lines, want one clear line: %q", tt.args, lines, stderr.String())
			}
		})
	}
}

func TestUnreachableRootIsBoundedAndFails(t *testing.T) {
	for _, cmd := range []string{"validate", "check"} {
		t.Run(cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(context.Background(), []string{cmd, "--root", closedPort(t), "--timeout", "100ms", "example.test"}, &stdout, &stderr)
			if code != exitFailure {
				t.Errorf("run(%s unreachable) = %d, want %d; stdout %q stderr %q", cmd, code, exitFailure, stdout.String(), stderr.String())
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; stderr.Len() == 0 || lines != 1 {
				t.Errorf("stderr = %q, want one line", stderr.String())
			}
			if elapsed := time.Since(start); elapsed > 20*time.Second {
				t.Errorf("run(%s unreachable) took %v, want a bounded wait", cmd, elapsed)
			}
		})
	}
}
