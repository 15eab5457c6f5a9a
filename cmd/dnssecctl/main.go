// Command dnssecctl checks and validates DNSSEC chains of trust from the
// outside, and (later) plans and runs the dnssec-autopilot workflows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Exit codes, so scripts can tell a verdict from a usage error.
const (
	exitOK            = 0 // secure or insecure answer; check found no problem
	exitFailure       = 1 // bogus, indeterminate, or problems found
	exitUsage         = 2 // bad flags or arguments
	exitUnexpectedErr = 3 // anything else (I/O, internal)
)

const usage = `dnssecctl: DNSSEC life cycle tooling for Route 53 hosted zones

Usage:
  dnssecctl validate [flags] NAME [TYPE]   validate NAME/TYPE from the trust anchor down (like delv)
  dnssecctl check [flags] ZONE             query every parent and zone server: DS, DNSKEY, SOA, TTLs, chain
  dnssecctl demo [flags]                   the whole life cycle on the local stack, watched by resolvers: a timeline and a summary
  dnssecctl tour [flags]                   start a local signed hierarchy and run check and validate on good and broken zones
  dnssecctl run [flags] WORKFLOW --input FILE|-   start a workflow execution (AWS, or --endpoint) and follow it
  dnssecctl task success|failure|heartbeat --token T   answer a task-token callback (e.g. the manual DS publisher)
  dnssecctl local up [flags]               run the local stack (AWS API emulators, DNS tree, VPC resolver) until interrupted

Common flags (see 'dnssecctl COMMAND -h'):
  --root ADDR:PORT   root server address, repeatable (default: the IANA root servers)
  --anchor FILE      trust anchors, DS or DNSKEY records in zone-file format (default: IANA KSK-2017 and KSK-2024)
  --ns NAME=ADDR:PORT  map a name server's name to an address, repeatable (local hierarchies)
  --json             machine-readable output
`

// usageError is a bad command line: it is reported with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries a non-zero exit status; line, when set, is printed on
// stderr (the full result having gone to stdout).
type exitError struct {
	code int
	line string
}

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "validate":
		err = runValidate(ctx, args[1:], stdout)
	case "check":
		err = runCheck(ctx, args[1:], stdout)
	case "demo":
		err = runDemo(ctx, args[1:], stdout)
	case "tour":
		err = runTour(ctx, args[1:], stdout)
	case "run":
		err = runRun(ctx, args[1:], stdout, stderr)
	case "task":
		err = runTask(ctx, args[1:], stdout)
	case "local":
		err = runLocal(ctx, args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q (try 'dnssecctl help')", args[0])}
	}
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ee):
		if ee.line != "" {
			fmt.Fprintf(stderr, "dnssecctl: %s\n", ee.line)
		}
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "dnssecctl: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "dnssecctl: %v\n", err)
		return exitUnexpectedErr
	}
}
