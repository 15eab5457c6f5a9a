package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// commonFlags are the flags every DNS command takes.
type commonFlags struct {
	roots   addrList
	ns      nsMap
	anchor  string
	json    bool
	timeout time.Duration
	at      string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	c.ns = nsMap{}
	fs.Var(&c.roots, "root", "root server `ADDR:PORT` (repeatable; default the IANA root servers)")
	fs.Var(&c.ns, "ns", "map name server `NAME=ADDR:PORT` (repeatable)")
	fs.StringVar(&c.anchor, "anchor", "", "trust anchor `FILE` with DS or DNSKEY records (default IANA root KSKs)")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	fs.DurationVar(&c.timeout, "timeout", dnsquery.DefaultTimeout, "timeout of one query attempt")
	fs.StringVar(&c.at, "at", "", "validate signatures at this RFC 3339 `TIME` instead of now")
}

// newFlagSet builds a flag set whose errors come back as usage errors
// instead of exiting, with its help on stdout.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: dnssecctl %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; flag errors become usage errors (the flag package
// has already said nothing, since its output is discarded on error).
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err == flag.ErrHelp {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	return nil
}

// clock returns the validation clock: the --at time, or the wall clock.
func (c *commonFlags) clock() (func() time.Time, error) {
	if c.at == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339, c.at)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--at %q: want an RFC 3339 time such as 2026-11-27T08:00:00Z", c.at)}
	}
	return func() time.Time { return t }, nil
}

// anchors loads the --anchor file, or nil for the built-in root anchors.
func (c *commonFlags) anchors() ([]dns.RR, error) {
	if c.anchor == "" {
		return nil, nil
	}
	rrs, err := dnssec.LoadAnchorFile(c.anchor)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return rrs, nil
}

func (c *commonFlags) resolverConfig() (dnssec.Config, error) {
	anchors, err := c.anchors()
	if err != nil {
		return dnssec.Config{}, err
	}
	now, err := c.clock()
	if err != nil {
		return dnssec.Config{}, err
	}
	if c.timeout <= 0 {
		return dnssec.Config{}, usageError{"--timeout must be positive"}
	}
	return dnssec.Config{
		Roots:   c.roots,
		NSAddrs: c.ns,
		Anchors: anchors,
		Now:     now,
		Client:  &dnsquery.Client{Timeout: c.timeout},
	}, nil
}

// addrList is a repeatable ADDR:PORT flag.
type addrList []netip.AddrPort

func (a *addrList) String() string {
	parts := make([]string, len(*a))
	for i, ap := range *a {
		parts[i] = ap.String()
	}
	return strings.Join(parts, ",")
}

func (a *addrList) Set(s string) error {
	ap, err := parseAddrPort(s)
	if err != nil {
		return err
	}
	*a = append(*a, ap)
	return nil
}

// parseAddrPort accepts ADDR:PORT, [V6]:PORT, or a bare address (port 53).
func parseAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53), nil
	}
	return netip.AddrPort{}, fmt.Errorf("%q is not an IP address with an optional port (ADDR:PORT)", s)
}

// nsMap is a repeatable NAME=ADDR:PORT flag.
type nsMap map[string][]netip.AddrPort

func (m nsMap) String() string {
	var parts []string
	for name, addrs := range m {
		for _, a := range addrs {
			parts = append(parts, name+"="+a.String())
		}
	}
	return strings.Join(parts, ",")
}

func (m nsMap) Set(s string) error {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want NAME=ADDR:PORT", s)
	}
	fqdn, err := parseName(name)
	if err != nil {
		return err
	}
	ap, err := parseAddrPort(addr)
	if err != nil {
		return err
	}
	m[fqdn] = append(m[fqdn], ap)
	return nil
}

// parseName checks a domain name typed by a person and returns it fully
// qualified and in canonical (lower) case.
func parseName(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty domain name")
	}
	if _, ok := dns.IsDomainName(s); !ok || strings.Contains(s, "..") || strings.ContainsAny(s, " \t\n") {
		return "", fmt.Errorf("%q is not a valid domain name", s)
	}
	return dns.CanonicalName(s), nil
}

// parseType accepts a mnemonic (A, DNSKEY, ...) or TYPEnnn.
func parseType(s string) (uint16, error) {
	u := strings.ToUpper(s)
	if t, ok := dns.StringToType[u]; ok && t != dns.TypeNone {
		switch t {
		case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT:
			return 0, fmt.Errorf("type %s cannot be validated", u)
		}
		return t, nil
	}
	var n uint16
	if _, err := fmt.Sscanf(u, "TYPE%d", &n); err == nil && n > 0 {
		return n, nil
	}
	return 0, fmt.Errorf("unknown record type %q", s)
}

// learnedPort is the port for server addresses learned from glue and
// look-ups: the one port every --root shares (local hierarchies run every
// server on one high port), else 53.
func learnedPort(roots []netip.AddrPort) uint16 {
	if len(roots) == 0 {
		return 53
	}
	p := roots[0].Port()
	for _, r := range roots[1:] {
		if r.Port() != p {
			return 53
		}
	}
	return p
}
