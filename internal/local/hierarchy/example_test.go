package hierarchy_test

import (
	"log"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// Start the default tree, then break it in the ways tests need.
func Example() {
	now := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	h, err := hierarchy.Start(hierarchy.DefaultSpec(now))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	_ = h.RootServers() // where a resolver starts
	_ = h.TrustAnchorDS()

	z := h.Zone("example.test.").Zone
	// An expired signature over www A.
	z.ResignRRset("www.example.test.", dns.TypeA, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	// A signature by a key that is not in the DNSKEY RRset.
	stray := authzone.MustGenerateKey("example.test.", dns.ECDSAP256SHA256, authzone.ZSK)
	z.ResignRRset("www.example.test.", dns.TypeAAAA, now.Add(-time.Hour), now.Add(time.Hour), stray)
	// No signature at all.
	z.RemoveRRSIGs("mail.example.test.", dns.TypeA)
	// Negative answers without proof, or with one that proves nothing.
	z.SetAnswerHook(authzone.ForName("nope.example.test.", authzone.DropDenial()))
	h.Zone("nsec3.test.").Zone.SetAnswerHook(h.Zone("nsec3.test.").Zone.UnrelatedDenial())
	// A validly signed NODATA for a type that exists.
	z.Deny("txt.example.test.", dns.TypeTXT)
	// A DS that matches no key.
	h.PublishDS("sub.example.test.", &dns.DS{
		Hdr:    dns.RR_Header{Name: "sub.example.test.", Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 300},
		KeyTag: 1, Algorithm: dns.ECDSAP256SHA256, DigestType: dns.SHA256,
		Digest: "0000000000000000000000000000000000000000000000000000000000000001",
	})
	// One lagging server, one that times out.
	servers := h.Zone("example.test.").Servers
	servers[0].Server.SetZone(z.Clone())
	servers[1].Server.SetFaults(authserver.Faults{Drop: true})
}
