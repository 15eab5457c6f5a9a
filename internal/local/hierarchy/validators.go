package hierarchy

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// UnboundConfig says how WriteUnboundConfig sets up an unbound resolver in
// front of the hierarchy.
type UnboundConfig struct {
	// Listen is the loopback address and port unbound serves on.
	Listen netip.AddrPort
	// Dir is unbound's working directory; its trust anchor, pid file and
	// configuration are written there.
	Dir string
	// NoValidation makes a plain iterating resolver (module-config
	// "iterator"), for example in front of delv, which validates itself.
	NoValidation bool
}

// WriteUnboundConfig writes the hierarchy's trust anchor and an
// unbound.conf into c.Dir and returns the configuration's path. The
// resolver reaches every zone of the hierarchy through a stub zone listing
// all its servers, and keeps its logs on stderr.
func (h *Hierarchy) WriteUnboundConfig(c UnboundConfig) (string, error) {
	anchor := filepath.Join(c.Dir, "root.anchor")
	if err := writeFile(anchor, h.WriteTrustAnchor); err != nil {
		return "", fmt.Errorf("hierarchy: unbound trust anchor: %w", err)
	}
	conf := filepath.Join(c.Dir, "unbound.conf")
	err := writeFile(conf, func(w io.Writer) error {
		_, err := io.WriteString(w, h.unboundConfig(c, anchor))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hierarchy: unbound config: %w", err)
	}
	return conf, nil
}

func (h *Hierarchy) unboundConfig(c UnboundConfig, anchor string) string {
	modules := "validator iterator"
	if c.NoValidation {
		modules = "iterator"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `server:
	interface: %s
	port: %d
	access-control: 127.0.0.0/8 allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: ""
	verbosity: 1
	val-log-level: 2
	num-threads: 1
	do-ip6: no
	do-not-query-localhost: no
	module-config: %q
	local-zone: "test." nodefault
	minimal-responses: no
	cache-max-negative-ttl: 1
	infra-host-ttl: 1
	trust-anchor-file: %q
`, c.Listen.Addr(), c.Listen.Port(), c.Dir, filepath.Join(c.Dir, "unbound.pid"), modules, anchor)
	for _, z := range h.zones {
		fmt.Fprintf(&b, "\nstub-zone:\n\tname: %q\n", z.Origin)
		for _, ns := range z.Servers {
			fmt.Fprintf(&b, "\tstub-addr: %s@%d\n", ns.Addr.Addr(), ns.Addr.Port())
		}
	}
	b.WriteString("\nremote-control:\n\tcontrol-enable: no\n")
	return b.String()
}

// WriteDelvAnchors writes the root's trust anchor as the trust-anchors
// statement that delv -a reads (static-ds, RFC 8509 style BIND syntax).
func (h *Hierarchy) WriteDelvAnchors(w io.Writer) error {
	if _, err := io.WriteString(w, "trust-anchors {\n"); err != nil {
		return err
	}
	for _, ds := range h.TrustAnchorDS() {
		_, err := fmt.Fprintf(w, "\t%q static-ds %d %d %d %q;\n", dns.Fqdn(ds.Hdr.Name), ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest)
		if err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "};\n")
	return err
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
