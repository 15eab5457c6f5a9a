package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
)

// ExpiryWarning is how close the earliest signature expiry may come before
// check calls it a problem: Route 53 refreshes signatures days ahead, so a
// signature within three days of expiry means signing has stopped
// (e.g. a KSK in ACTION_NEEDED).
const ExpiryWarning = 3 * 24 * time.Hour

// checkOutput is the JSON shape of 'dnssecctl check --json'.
type checkOutput struct {
	*observe.Snapshot
	Chain          chainVerdict `json:"chain"`
	EarliestExpiry time.Time    `json:"earliestExpiry,omitzero"`
	MaxDSTTL       uint32       `json:"maxDSTTL"`
	MaxDNSKEYTTL   uint32       `json:"maxDNSKEYTTL"`
	Problems       []string     `json:"problems"`
}

// chainVerdict is the validation of the zone's DNSKEY RRset from the trust anchor.
type chainVerdict struct {
	Status dnssec.Status `json:"status"`
	Reason string        `json:"reason,omitempty"`
	Links  []linkOutput  `json:"links"`
}

func runCheck(ctx context.Context, args []string, stdout io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("check", "check [flags] ZONE", stdout)
	cf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"check: want ZONE"}
	}
	zone, err := parseName(fs.Arg(0))
	if err != nil {
		return usageError{"check: " + err.Error()}
	}
	cfg, err := cf.resolverConfig()
	if err != nil {
		return err
	}
	r, err := dnssec.NewResolver(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	obs, err := observe.New(observe.Config{
		Roots:    cfg.Roots,
		Port:     learnedPort(cfg.Roots),
		NSAddrs:  cfg.NSAddrs,
		Client:   cfg.Client,
		Now:      cfg.Now,
		Resolver: r,
	})
	if err != nil {
		return usageError{err.Error()}
	}
	snap, err := obs.Observe(ctx, zone)
	if err != nil {
		return exitError{code: exitFailure, line: fmt.Sprintf("check %s: %v", zone, err)}
	}
	res, err := r.Resolve(ctx, zone, dns.TypeDNSKEY)
	if err != nil {
		return fmt.Errorf("check %s: %w", zone, err)
	}
	out := checkOutput{
		Snapshot: snap,
		Chain:    chainVerdict{Status: res.Status, Reason: res.Reason, Links: chainOutput(res.Chain)},
	}
	out.EarliestExpiry, _ = snap.EarliestExpiry()
	out.MaxDSTTL, _ = snap.MaxDSTTL()
	out.MaxDNSKEYTTL, _ = snap.MaxDNSKEYTTL()
	out.Problems = problems(snap, res, cfg.Now())
	if cf.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printCheck(stdout, out)
	}
	if len(out.Problems) > 0 {
		return exitError{code: exitFailure, line: fmt.Sprintf("check %s: %d problems, first: %s", zone, len(out.Problems), out.Problems[0])}
	}
	return nil
}

// problems adds to what observe found the findings that need the chain
// verdict or the clock.
func problems(snap *observe.Snapshot, res *dnssec.Result, now time.Time) []string {
	ps := append([]string{}, snap.Problems...)
	// A server whose answer is unknown blocks every safety gate: say which.
	for _, r := range snap.ParentServers {
		if r.DS != nil && r.DS.State == observe.Unknown {
			ps = append(ps, fmt.Sprintf("parent server %s %s: DS unknown (%s)", r.Name, addrText(r), r.DS.Reason))
		}
	}
	for _, r := range snap.ZoneServers {
		for _, rs := range []struct {
			t  string
			rr *observe.RRset
		}{{"DNSKEY", r.DNSKEY}, {"SOA", r.SOA}} {
			if rs.rr != nil && rs.rr.State == observe.Unknown {
				ps = append(ps, fmt.Sprintf("zone server %s %s: %s unknown (%s)", r.Name, addrText(r), rs.t, rs.rr.Reason))
			}
		}
	}
	switch res.Status {
	case dnssec.Bogus:
		ps = append(ps, "chain of trust is bogus: "+res.Reason)
	case dnssec.Indeterminate:
		ps = append(ps, "chain of trust is indeterminate: "+res.Reason)
	}
	if c := snap.DSPresent(); c == observe.Some {
		ps = append(ps, "some parent servers serve a DS for the zone and others do not")
	}
	if snap.ZoneServersAgree() == observe.Disagree {
		ps = append(ps, "zone servers disagree on the DNSKEY set or the SOA serial")
	}
	if exp, ok := snap.EarliestExpiry(); ok && !exp.IsZero() {
		switch left := exp.Sub(now); {
		case left <= 0:
			ps = append(ps, fmt.Sprintf("a signature expired at %s", exp.UTC().Format(time.RFC3339)))
		case left < ExpiryWarning:
			ps = append(ps, fmt.Sprintf("a signature expires in %s (at %s): signing may have stopped", left.Round(time.Minute), exp.UTC().Format(time.RFC3339)))
		}
	}
	return dedupe(ps)
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func printCheck(w io.Writer, out checkOutput) {
	s := out.Snapshot
	fmt.Fprintf(w, "Zone %s (parent %s), observed %s\n", s.Zone, s.Parent, s.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Delegation NS: %s\n", strings.Join(s.DelegationNS, " "))
	fmt.Fprintf(w, "Apex NS:       %s\n\n", strings.Join(s.ApexNS, " "))

	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARENT SERVER\tADDRESS\tDS\tTTL\tSIG EXPIRES")
	for _, r := range s.ParentServers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, addrText(r), dsText(r.DS), ttlText(r.DS), expiryText(r.DS))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE SERVER\tADDRESS\tDNSKEY\tTTL\tSOA SERIAL\tSIG EXPIRES")
	for _, r := range s.ZoneServers {
		serial := "-"
		if r.SOA != nil && r.SOA.State == observe.OK {
			serial = fmt.Sprint(r.Serial)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, addrText(r), dnskeyText(r.DNSKEY), ttlText(r.DNSKEY), serial, expiryText(r.DNSKEY))
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Chain of trust: %s", out.Chain.Status)
	if out.Chain.Reason != "" {
		fmt.Fprintf(w, ": %s", out.Chain.Reason)
	}
	fmt.Fprintln(w)
	for _, l := range out.Chain.Links {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if !out.EarliestExpiry.IsZero() {
		fmt.Fprintf(w, "Earliest signature expiry: %s\n", out.EarliestExpiry.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "Largest TTLs: DS %ds, DNSKEY %ds\n", out.MaxDSTTL, out.MaxDNSKEYTTL)
	if len(out.Problems) == 0 {
		fmt.Fprintln(w, "Problems: none")
		return
	}
	fmt.Fprintln(w, "Problems:")
	for _, p := range out.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

func addrText(r observe.ServerResult) string {
	if !r.Addr.IsValid() {
		return "-"
	}
	return r.Addr.String()
}

// stateText is how a row that is not OK reads: "unknown (timeout)", "absent".
func stateText(rs *observe.RRset) (string, bool) {
	if rs == nil {
		return "-", false
	}
	if rs.State == observe.OK {
		return "", true
	}
	if rs.Reason != "" {
		return fmt.Sprintf("%s (%s)", rs.State, rs.Reason), false
	}
	return rs.State.String(), false
}

func dsText(rs *observe.RRset) string {
	if s, ok := stateText(rs); !ok {
		return s
	}
	var parts []string
	for _, rr := range rs.Records {
		if ds, ok := rr.(*dns.DS); ok {
			parts = append(parts, fmt.Sprintf("%d/%d/%d", ds.KeyTag, ds.Algorithm, ds.DigestType))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func dnskeyText(rs *observe.RRset) string {
	if s, ok := stateText(rs); !ok {
		return s
	}
	var parts []string
	for _, rr := range rs.Records {
		if k, ok := rr.(*dns.DNSKEY); ok {
			role := "ZSK"
			if k.Flags&dns.SEP != 0 {
				role = "KSK"
			}
			parts = append(parts, fmt.Sprintf("%s %d/%d", role, k.KeyTag(), k.Algorithm))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func ttlText(rs *observe.RRset) string {
	if rs == nil || (rs.State != observe.OK && rs.State != observe.Absent) {
		return "-"
	}
	return fmt.Sprint(rs.TTL)
}

func expiryText(rs *observe.RRset) string {
	if rs == nil || rs.Expiry.IsZero() {
		return "-"
	}
	return rs.Expiry.UTC().Format(time.RFC3339)
}
