package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/stack"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
)

// virtualTick is how often `local up --clock virtual` moves its clock: ten
// times a second, so that API delays and TTLs pass smoothly.
const virtualTick = 100 * time.Millisecond

// setupTimeout bounds the creation of the scenario through the local API.
const setupTimeout = 30 * time.Second

func runLocal(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "up" {
		return usageError{"local: want 'dnssecctl local up [flags]'"}
	}
	fs := newFlagSet("local up", "local up [--clock real|virtual] [--endpoints FILE] [--dir DIR] [--speed N] [--statemachines DIR] [--json]", stdout)
	clockName := fs.String("clock", "real", "`real` (short TTLs, for dig, delv and unbound) or virtual (Route 53's real TTLs, time runs --speed times faster)")
	endpointsFile := fs.String("endpoints", "", "write the endpoints as JSON to `FILE`")
	dir := fs.String("dir", "", "`DIR`ectory for the trust anchor files and unbound.conf (default a new temporary directory)")
	speed := fs.Float64("speed", 60, "with --clock virtual, virtual seconds per real second")
	asJSON := fs.Bool("json", false, "print the endpoints as JSON instead of for a person")
	smDir := fs.String("statemachines", "", "the state machines `DIR`ectory served by Step Functions (default: statemachines/ of the clone around the working directory; without one, no Step Functions)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"local up: takes no arguments"}
	}
	var clk clock.Clock
	switch *clockName {
	case "real":
		clk = clock.Real{}
	case "virtual":
		if *speed <= 0 {
			return usageError{fmt.Sprintf("local up: --speed %v: want a positive number", *speed)}
		}
		clk = clock.NewVirtual(time.Now().UTC().Truncate(time.Second))
	default:
		return usageError{fmt.Sprintf("local up: --clock %q: want real or virtual", *clockName)}
	}

	s, err := stack.Start(stack.Options{Clock: clk})
	if err != nil {
		return fmt.Errorf("local up: %w", err)
	}
	defer s.Close()
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	_, err = s.SetupScenario(setupCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("local up: %w", err)
	}
	// The workflows: the step handlers over the stack in a runner on its
	// clock, served as Step Functions at the same endpoint. On the virtual
	// clock the ticker below drives time, not the runner.
	var wf *workflows.Workflows
	wopts := workflows.Options{Dir: *smDir, NoAutoAdvance: *clockName == "virtual"}
	if wopts.Dir == "" {
		if wopts.Dir, err = workflows.FindDir("."); err != nil {
			fmt.Fprintf(stdout, "Note: %v; Step Functions is not served.\n", err)
		}
	}
	if wopts.Dir != "" {
		if wf, err = workflows.Start(s, wopts); err != nil {
			return fmt.Errorf("local up: %w", err)
		}
		defer wf.Close()
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "dnssec-local-"); err != nil {
			return fmt.Errorf("local up: %w", err)
		}
	}
	e, err := s.WriteFiles(*dir)
	if err != nil {
		return fmt.Errorf("local up: %w", err)
	}
	if *asJSON {
		if err := stack.WriteJSON(stdout, e); err != nil {
			return fmt.Errorf("local up: %w", err)
		}
	} else {
		printEndpoints(stdout, e)
		if wf != nil {
			printMachines(stdout, wf)
			fmt.Fprintf(stdout, "  dnssecctl run --endpoint %s enable-signing --input input.json\n", e.AWS.EndpointURL)
		}
	}
	// Written last: a script waiting for the file finds the stack ready.
	if *endpointsFile != "" {
		if err := writeEndpoints(*endpointsFile, e); err != nil {
			return fmt.Errorf("local up: %w", err)
		}
	}

	if v := s.Virtual(); v != nil {
		step := time.Duration(float64(virtualTick) * *speed)
		t := time.NewTicker(virtualTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				v.Advance(step)
			}
		}
	}
	<-ctx.Done()
	return nil
}

// writeEndpoints writes e to path through a temporary file, so that a
// reader never sees half of it.
func writeEndpoints(path string, e stack.Endpoints) error {
	tmp := path + ".tmp"
	if err := writeWith(tmp, func(w io.Writer) error { return stack.WriteJSON(w, e) }); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// printEndpoints prints the endpoints for a person, with commands to
// paste.
func printEndpoints(w io.Writer, e stack.Endpoints) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("The local stack is running on the %s clock; interrupt (Ctrl-C) to stop it.", e.Clock)
	p("")
	p("AWS APIs (Route 53, KMS, Route 53 Domains, Route 53 Resolver, SNS): %s", e.AWS.EndpointURL)
	p("  account %s, region %s, access key %s, secret %s", e.AWS.AccountID, e.AWS.Region, e.AWS.AccessKeyID, e.AWS.SecretAccessKey)
	p("DNS: root servers %s; TLD %s on %s; every server listens on port %d",
		strings.Join(e.DNS.RootServers, " "), e.DNS.TLD, strings.Join(e.DNS.TLDServers, " "), e.DNS.Port)
	p("Trust anchor: %s (delv: %s)", e.DNS.TrustAnchorFile, e.DNS.DelvAnchorFile)
	p("unbound.conf validating the local tree: %s (listens on %s)", e.DNS.UnboundConfig, e.DNS.UnboundListen)
	p("Hosted zones:")
	for _, z := range e.Zones {
		names := make([]string, 0, len(z.NameServers))
		for n := range z.NameServers {
			names = append(names, n)
		}
		slices.Sort(names)
		var ns []string
		for _, n := range names {
			ns = append(ns, n+"="+z.NameServers[n])
		}
		p("  %-20s %s  %s", z.Name, z.ID, strings.Join(ns, " "))
	}
	p("Bogus zone: %s (its DS matches none of its keys)", e.DNS.BogusZone)
	for _, v := range e.VPCs {
		p("VPC %s: resolver %s (DNSSEC validation %s)", v.ID, v.Resolver, v.Validation)
	}
	if e.SNSTopicARN != "" {
		p("SNS topic: %s", e.SNSTopicARN)
	}
	p("")
	p("Try:")
	if len(e.VPCs) > 0 {
		host, port := splitAddr(e.VPCs[0].Resolver)
		p("  dig @%s -p %s www.example.test", host, port)
		p("  dig @%s -p %s www.dnssec-failed.test    # SERVFAIL once validation is ENABLED", host, port)
	}
	if len(e.DNS.RootServers) > 0 {
		p("  dnssecctl check --root %s --anchor %s example.test", e.DNS.RootServers[0], e.DNS.TrustAnchorFile)
		p("  dnssecctl validate --root %s --anchor %s www.app.example.test A", e.DNS.RootServers[0], e.DNS.TrustAnchorFile)
	}
	if e.DNS.UnboundConfig != "" {
		host, port := splitAddr(e.DNS.UnboundListen)
		p("  unbound -d -c %s &", e.DNS.UnboundConfig)
		p("  dig @%s -p %s +dnssec www.example.test    # AD once the chain is signed", host, port)
		p("  delv @%s -p %s -a %s +root=. www.example.test", host, port, e.DNS.DelvAnchorFile)
	}
	p("  export AWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s",
		e.AWS.EndpointURL, e.AWS.Region, e.AWS.Region, e.AWS.AccessKeyID, e.AWS.SecretAccessKey)
	p("  aws route53 list-hosted-zones")
	p("  aws route53domains get-domain-detail --domain-name example.test")
	p("  aws route53resolver list-resolver-dnssec-configs")
	if e.Clock == "virtual" {
		p("Note: the virtual clock runs ahead of the wall clock, and validators outside the stack (unbound, delv)")
		p("judge signatures by the wall clock: use --clock real to watch with them.")
	}
	if e.DNS.TrustAnchorFile != "" {
		p("Endpoints as JSON: %s", filepath.Join(filepath.Dir(e.DNS.TrustAnchorFile), "endpoints.json"))
	}
}

// splitAddr splits "addr:port" for dig's @addr -p port.
func splitAddr(s string) (host, port string) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return s, "53"
	}
	return strings.Trim(s[:i], "[]"), s[i+1:]
}
