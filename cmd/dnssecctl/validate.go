package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// validateOutput is the JSON shape of 'dnssecctl validate --json'.
type validateOutput struct {
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	Status dnssec.Status `json:"status"`
	Reason string        `json:"reason,omitempty"`
	Rcode  string        `json:"rcode"`
	Zone   string        `json:"zone,omitempty"`
	Answer []string      `json:"answer"`
	Chain  []linkOutput  `json:"chain,omitempty"`
}

// linkOutput is one zone cut of the chain of trust, as printed.
type linkOutput struct {
	Zone    string        `json:"zone"`
	Anchor  bool          `json:"anchor,omitempty"`
	DS      []string      `json:"ds"`
	KeyTags []uint16      `json:"keyTags"`
	Status  dnssec.Status `json:"status"`
	Reason  string        `json:"reason,omitempty"`
}

func (l linkOutput) String() string {
	from := "DS"
	if l.Anchor {
		from = "trust anchor"
	}
	s := fmt.Sprintf("%-24s %-9s %s %s -> DNSKEY %v", l.Zone, l.Status, from, strings.Join(l.DS, ", "), l.KeyTags)
	if l.Reason != "" {
		s += ": " + l.Reason
	}
	return s
}

func chainOutput(chain []dnssec.Link) []linkOutput {
	out := make([]linkOutput, 0, len(chain))
	for _, l := range chain {
		lo := linkOutput{Zone: l.Zone, Anchor: l.Anchor, DS: []string{}, KeyTags: l.KeyTags, Status: l.Status, Reason: l.Reason}
		for _, ds := range l.DS {
			if d := fmt.Sprintf("%d/%d/%d", ds.KeyTag, ds.Algorithm, ds.DigestType); !slices.Contains(lo.DS, d) {
				lo.DS = append(lo.DS, d)
			}
		}
		out = append(out, lo)
	}
	return out
}

func runValidate(ctx context.Context, args []string, stdout io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("validate", "validate [flags] NAME [TYPE]", stdout)
	cf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usageError{"validate: want NAME [TYPE]"}
	}
	name, err := parseName(fs.Arg(0))
	if err != nil {
		return usageError{"validate: " + err.Error()}
	}
	qtype := dns.TypeA
	if fs.NArg() == 2 {
		if qtype, err = parseType(fs.Arg(1)); err != nil {
			return usageError{"validate: " + err.Error()}
		}
	}
	cfg, err := cf.resolverConfig()
	if err != nil {
		return err
	}
	r, err := dnssec.NewResolver(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	res, err := r.Resolve(ctx, name, qtype)
	if err != nil {
		return fmt.Errorf("validate %s %s: %w", name, dns.TypeToString[qtype], err)
	}
	out := validateOutput{
		Name:   name,
		Type:   dns.TypeToString[qtype],
		Status: res.Status,
		Reason: res.Reason,
		Rcode:  dns.RcodeToString[res.Rcode],
		Zone:   res.Zone,
		Answer: []string{},
		Chain:  chainOutput(res.Chain),
	}
	for _, rr := range res.Answer {
		out.Answer = append(out.Answer, rr.String())
	}
	if cf.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printValidate(stdout, out)
	}
	return verdictExit(res.Status, fmt.Sprintf("validate %s %s: %s: %s", name, out.Type, res.Status, res.Reason))
}

func printValidate(w io.Writer, out validateOutput) {
	switch out.Status {
	case dnssec.Secure:
		fmt.Fprintln(w, "; fully validated")
	case dnssec.Insecure:
		fmt.Fprintf(w, "; unsigned answer: %s\n", out.Reason)
	default:
		fmt.Fprintf(w, "; %s: %s\n", out.Status, out.Reason)
	}
	if out.Rcode != "NOERROR" {
		fmt.Fprintf(w, "; rcode %s\n", out.Rcode)
	} else if len(out.Answer) == 0 {
		fmt.Fprintf(w, "; no %s records at %s\n", out.Type, out.Name)
	}
	for _, rr := range out.Answer {
		fmt.Fprintln(w, rr)
	}
	if len(out.Chain) > 0 {
		fmt.Fprintln(w, ";; chain of trust:")
		for _, l := range out.Chain {
			fmt.Fprintf(w, ";;   %s\n", l)
		}
	}
}

// verdictExit maps a verdict to the exit status: an answer that can be
// trusted as what the zone publishes (secure or provably unsigned) is 0;
// anything else also gets one line on stderr.
func verdictExit(s dnssec.Status, line string) error {
	if s == dnssec.Secure || s == dnssec.Insecure {
		return nil
	}
	return exitError{code: exitFailure, line: line}
}
