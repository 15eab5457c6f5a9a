package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// tourZones are added to the default hierarchy so the tour can show each
// verdict: a DS that matches no key, and a DS for a key that signs nothing.
var tourZones = []hierarchy.ZoneSpec{
	{Origin: "dnssec-failed.test.", DS: hierarchy.DSBogus, Records: "www 300 IN A 192.0.2.66\n"},
	{Origin: "orphan-ds.test.", DS: hierarchy.DSOrphan, Records: "www 300 IN A 192.0.2.67\n"},
}

// tourStep is one CLI invocation the tour runs and shows.
type tourStep struct {
	what string
	args []string
}

// runTour starts a local signed hierarchy with broken zones beside the good
// ones and runs check and validate on each: the validator's verdicts,
// secure, insecure and bogus, one by one.
func runTour(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("tour", "tour [--serve] [--dir DIR]", stdout)
	serve := fs.Bool("serve", false, "keep the hierarchy running until interrupted, for dig, delv and unbound")
	dir := fs.String("dir", "", "directory for the trust anchor files (default a new temporary directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"tour: takes no arguments"}
	}
	spec := hierarchy.DefaultSpec(time.Now())
	spec.Zones = append(spec.Zones, tourZones...)
	h, err := hierarchy.Start(spec)
	if err != nil {
		return fmt.Errorf("tour: start the local hierarchy: %w", err)
	}
	defer h.Close()

	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "dnssec-tour-"); err != nil {
			return fmt.Errorf("tour: %w", err)
		}
	}
	anchor := filepath.Join(*dir, "anchor.ds")
	delvConf := filepath.Join(*dir, "anchor.delv.conf")
	if err := writeWith(anchor, h.WriteTrustAnchor); err != nil {
		return fmt.Errorf("tour: %w", err)
	}
	if err := writeWith(delvConf, h.WriteDelvAnchors); err != nil {
		return fmt.Errorf("tour: %w", err)
	}
	root := h.RootServers()[0].String()
	base := []string{"--root", root, "--anchor", anchor}

	fmt.Fprintf(stdout, "Local signed hierarchy: %d zones on %d servers, port %d; root server %s\n", len(h.Zones()), len(h.Servers()), h.Port(), root)
	fmt.Fprintf(stdout, "Trust anchor: %s\n\n", anchor)

	steps := []tourStep{
		{"Check example.test. on every parent and zone server", []string{"check", "example.test."}},
		{"A signed name", []string{"validate", "www.example.test.", "A"}},
		{"A CNAME chain", []string{"validate", "chain1.example.test.", "A"}},
		{"A wildcard expansion", []string{"validate", "anything.wild.example.test.", "TXT"}},
		{"A name that does not exist (NSEC proof)", []string{"validate", "nope.example.test.", "A"}},
		{"A name under an NSEC3 zone with a salt", []string{"validate", "nope.nsec3salt.test.", "A"}},
		{"An unsigned delegation: provably insecure", []string{"validate", "www.insecure.test.", "A"}},
		{"A zone signed with RSASHA256 (algorithm 8)", []string{"validate", "www.rsa.test.", "A"}},
		{"A DS that matches no key: bogus", []string{"validate", "www.dnssec-failed.test.", "A"}},
		{"A DS whose key signs nothing: bogus", []string{"validate", "www.orphan-ds.test.", "A"}},
	}
	failed := 0
	for _, s := range steps {
		full := append(append([]string{s.args[0]}, base...), s.args[1:]...)
		fmt.Fprintf(stdout, "== %s\n$ dnssecctl %s\n", s.what, strings.Join(full, " "))
		var errs strings.Builder
		code := run(ctx, full, stdout, &errs)
		wantFail := strings.Contains(s.what, "bogus")
		if (code == exitOK) == wantFail {
			failed++
			fmt.Fprintf(stdout, "!! unexpected exit status %d %s\n", code, strings.TrimSpace(errs.String()))
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "Point other tools at it:\n")
	fmt.Fprintf(stdout, "  dig @%s -p %d +dnssec +norec example.test. DNSKEY\n", h.RootServers()[0].Addr(), h.Port())
	fmt.Fprintf(stdout, "  dnssecctl validate --root %s --anchor %s www.example.test.\n", root, anchor)
	fmt.Fprintf(stdout, "  (delv needs a recursive resolver: its trust anchor is in %s)\n", delvConf)
	if failed > 0 {
		return fmt.Errorf("tour: %d steps gave an unexpected verdict", failed)
	}
	if !*serve {
		return nil
	}
	fmt.Fprintf(stdout, "\nServing until interrupted (Ctrl-C).\n")
	<-ctx.Done()
	return nil
}

func writeWith(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
