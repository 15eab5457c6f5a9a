package rollover_test

import (
	"fmt"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// A KSK rotation of example.com. as observed on its two parent servers and
// two zone servers: the new KSK is served everywhere from 10:00, the new DS
// beside the old from 11:00.
func ExampleRotateKSKGates() {
	oldKSK := rollover.Key{Flags: 257, Algorithm: 13, PublicKey: "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="}
	newKSK := rollover.Key{Flags: 257, Algorithm: 13, PublicKey: "oJMRESz5E4gYzS/q6XDrvU1qMPYIjCWzJaOau8XNEZeqCYKD5ar0IRd8KqXXFJkqmVfRvMGPmM1x8fGAa2XhSA=="}
	oldDS, _ := oldKSK.DS("example.com.", rollover.DSDigest)
	newDS, _ := newKSK.DS("example.com.", rollover.DSDigest)

	h := rollover.NewHistory("example.com.")
	observe := func(at time.Time, ds rollover.DSSet, keys rollover.DNSKEYSet) {
		s := rollover.Snapshot{At: at}
		for _, srv := range []string{"192.0.2.1:53", "192.0.2.2:53"} {
			s.Parent = append(s.Parent, rollover.DSAnswer{Server: srv, Set: ds, TTL: 86400})
		}
		for _, srv := range []string{"198.51.100.1:53", "198.51.100.2:53"} {
			s.Zone = append(s.Zone, rollover.DNSKEYAnswer{Server: srv, Set: keys, TTL: 3600})
		}
		if err := h.Record(s); err != nil {
			panic(err)
		}
	}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	observe(day.Add(9*time.Hour), rollover.NewDSSet(oldDS), rollover.NewDNSKEYSet(nil, oldKSK))
	observe(day.Add(10*time.Hour), rollover.NewDSSet(oldDS), rollover.NewDNSKEYSet(nil, oldKSK, newKSK))
	observe(day.Add(11*time.Hour), rollover.NewDSSet(oldDS, newDS), rollover.NewDNSKEYSet(nil, oldKSK, newKSK))

	plan, err := rollover.RotateKSKGates(h, oldKSK, newKSK, rollover.DefaultSafetyMargin, day.Add(11*time.Hour))
	if err != nil {
		panic(err)
	}
	fmt.Println(plan)
	// Output:
	// rotate-ksk example.com. at 2026-11-27T11:00:00Z (safety margin 3600s)
	//   add-ksk (create KSK 34506/13, ACTIVE: both KSKs sign): ready at 2026-11-27T11:00:00Z
	//       no cache wait
	//   publish-new-ds (publish the DS of KSK 34506/13 beside the old): ready at 2026-11-27T11:00:00Z
	//       no cache wait
	//   remove-old-ds (remove the DS of KSK 55648/13): waiting at 2026-11-27T12:00:00Z
	//       DNSKEY {KSK 55648/13 signing} last served by a zone server 2026-11-27T10:00:00Z + DNSKEY TTL 3600s + margin 3600s = 2026-11-27T12:00:00Z
	//   deactivate-old-ksk (deactivate KSK 55648/13): pending, not before 2026-11-28T12:00:00Z
	//       DS {55648/13/2} last served by a parent server 2026-11-27T11:00:00Z + DS TTL 86400s + margin 3600s = 2026-11-28T12:00:00Z
	//       DNSKEY {KSK 55648/13 signing} last served by a zone server 2026-11-27T10:00:00Z + DNSKEY TTL 3600s + margin 3600s = 2026-11-27T12:00:00Z
	//       pending: a parent server still serves the DS of KSK 55648/13 (Route 53 refuses: KeySigningKeyInParentDSRecord)
	//   delete-old-ksk (delete KSK 55648/13 and schedule its KMS key's deletion): pending, not before 2026-11-28T12:00:00Z
	//       DS {55648/13/2} last served by a parent server 2026-11-27T11:00:00Z + DS TTL 86400s + margin 3600s = 2026-11-28T12:00:00Z
	//       DNSKEY {KSK 55648/13 signing} last served by a zone server 2026-11-27T10:00:00Z + DNSKEY TTL 3600s + margin 3600s = 2026-11-27T12:00:00Z
	//       pending: a parent server still serves the DS of KSK 55648/13 (Route 53 refuses: KeySigningKeyInParentDSRecord)
	//       pending: not every zone server serves a DNSKEY set without KSK 55648/13 yet
}
