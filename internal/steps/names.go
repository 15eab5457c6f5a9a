package steps

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// kskNameRE is Route 53's rule for KSK names: 3 to 128 letters, digits and
// underscores.
var kskNameRE = regexp.MustCompile(`^[a-zA-Z0-9_]{3,128}$`)

// KSKName derives the name of the KSK an execution creates from the
// execution's start time ($$.Execution.StartTime), so that a re-run of a step,
// or of the whole execution, finds the key it made instead of making another:
// "ksk_20261127T063000Z". Seconds are kept: two executions on one zone
// cannot run at once (the lock), and never start within the same second.
func KSKName(start time.Time) string {
	return "ksk_" + start.UTC().Format("20060102T150405Z")
}

// KeyAlias is the alias of the KMS key created for KSK ksk of zone:
// "alias/dnssec-autopilot/example-com/ksk_20261127T063000Z".
func KeyAlias(zone, ksk string) string {
	z := strings.TrimSuffix(strings.ToLower(zone), ".")
	return AliasPrefix + strings.ReplaceAll(z, ".", "-") + "/" + ksk
}

// LockName is the owner of zone's lock record.
func LockName(zone string) string { return LockLabel + "." + dns.Fqdn(strings.ToLower(zone)) }

// canonicalZone returns name fully qualified and lower case, and whether it
// is a valid domain name.
func canonicalZone(name string) (string, bool) {
	n := dns.Fqdn(strings.ToLower(strings.TrimSpace(name)))
	if _, ok := dns.IsDomainName(n); !ok || n == "." {
		return "", false
	}
	return n, true
}

// parseStart parses $$.Execution.StartTime.
func parseStart(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("execution start time %q: %w", s, err)
	}
	return t, nil
}
