package stack

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnstree"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/registry"
)

// BogusZone is the deliberately broken zone, the local dnssec-failed.org:
// signed and served correctly, but delegated from the TLD with a DS that
// matches none of its keys, so that a validating resolver must answer
// SERVFAIL for every name in it and a non-validating one resolves it.
const BogusZone = "dnssec-failed.test."

// BogusAddr is the address of www.dnssec-failed.test. and of its apex.
const BogusAddr = "192.0.2.66"

// bindAttempts bounds the random loopback addresses tried for a server.
const bindAttempts = 50

type bogusZone struct {
	srv  *authserver.Server
	zone *registry.Registry
	ns   string
}

// startBogusZone serves BogusZone on its own loopback address on the
// tree's port and delegates it from the TLD with a DS that matches no key.
func startBogusZone(clk clock.Clock, t Timing, tree *dnstree.Tree) (*bogusZone, error) {
	b := &bogusZone{srv: authserver.New(), ns: "ns1." + BogusZone}
	var addr netip.AddrPort
	var err error
	for range bindAttempts {
		addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(253))}), tree.Port())
		if err = b.srv.Start(addr); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bogus zone: server: %w", err)
	}
	text := fmt.Sprintf(`$TTL 300
@ 900 SOA %[1]s hostmaster.%[2]s 1 7200 900 1209600 300
@ NS %[1]s
%[1]s A %[3]s
@ A %[4]s
www A %[4]s
@ TXT "this zone is deliberately bogus: its DS matches none of its keys"
`, b.ns, BogusZone, addr.Addr(), BogusAddr)
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(text), BogusZone, "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		b.close()
		return nil, fmt.Errorf("bogus zone: %w", err)
	}
	b.zone, err = registry.New(registry.Config{
		Clock:   clk,
		Origin:  BogusZone,
		Records: rrs,
		Keys: []*authzone.Key{
			authzone.MustGenerateKey(BogusZone, dns.ECDSAP256SHA256, authzone.KSK),
			authzone.MustGenerateKey(BogusZone, dns.ECDSAP256SHA256, authzone.ZSK),
		},
		Servers:  []*authserver.Server{b.srv},
		Validity: t.Validity,
		Refresh:  t.Refresh,
		MaxTTL:   t.MaxTTL,
	})
	if err != nil {
		b.close()
		return nil, fmt.Errorf("bogus zone: %w", err)
	}
	// The DS of a key the zone does not have: a validator finds no DNSKEY
	// matching it and must call the zone bogus (RFC 4035 section 5.2).
	stranger := authzone.MustGenerateKey(BogusZone, dns.ECDSAP256SHA256, authzone.KSK)
	tld := tree.Registry()
	err = tld.SetHost(b.ns, addr.Addr())
	if err == nil {
		err = tld.Delegate(BogusZone, []string{b.ns})
	}
	if err == nil {
		err = tld.SetDS(BogusZone, []*dns.DS{stranger.DS(dns.SHA256)})
	}
	if err != nil {
		b.close()
		return nil, fmt.Errorf("bogus zone: delegation: %w", err)
	}
	return b, nil
}

// addr returns the zone's server address.
func (b *bogusZone) addr() netip.AddrPort { return b.srv.Addr() }

func (b *bogusZone) close() error {
	if b.zone != nil {
		b.zone.Close()
	}
	return b.srv.Close()
}
