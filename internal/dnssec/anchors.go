package dnssec

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// rootAnchors are the IANA root zone KSKs (KSK-2017, key tag 20326, and
// KSK-2024, key tag 38696) as published in root-anchors.xml.
const rootAnchors = `. 172800 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. 172800 IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`

// RootAnchors returns the built-in IANA root trust anchors as DS records.
func RootAnchors() []dns.RR {
	rrs, err := ParseAnchors(strings.NewReader(rootAnchors), "built-in")
	if err != nil {
		panic(err) // the constant above is fixed; a parse error is a programming error
	}
	return rrs
}

// ParseAnchors reads DS or DNSKEY records in zone-file presentation format.
// Any other record type, or a DNSKEY without the zone key flag, is an error:
// an anchor file that does not mean what its author thinks must not be
// silently half-used.
func ParseAnchors(r io.Reader, source string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(r, ".", source)
	zp.SetDefaultTTL(0)
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch a := rr.(type) {
		case *dns.DS:
			out = append(out, a)
		case *dns.DNSKEY:
			if a.Flags&dns.ZONE == 0 {
				return nil, fmt.Errorf("dnssec: anchor %s: DNSKEY %d is not a zone key", source, a.KeyTag())
			}
			out = append(out, a)
		default:
			return nil, fmt.Errorf("dnssec: anchor %s: %s record %s is not a DS or DNSKEY", source, dns.TypeToString[rr.Header().Rrtype], rr.Header().Name)
		}
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dnssec: anchor %s: %w", source, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dnssec: anchor %s: no DS or DNSKEY record", source)
	}
	return out, nil
}

// LoadAnchorFile reads a trust anchor file; see ParseAnchors.
func LoadAnchorFile(path string) ([]dns.RR, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dnssec: anchor file: %w", err)
	}
	defer f.Close()
	return ParseAnchors(f, path)
}

// RootHints are the IANA root server addresses (named.root), port 53.
func RootHints() []netip.AddrPort {
	addrs := []string{
		"198.41.0.4", "2001:503:ba3e::2:30", // a
		"170.247.170.2", "2801:1b8:10::b", // b
		"192.33.4.12", "2001:500:2::c", // c
		"199.7.91.13", "2001:500:2d::d", // d
		"192.203.230.10", "2001:500:a8::e", // e
		"192.5.5.241", "2001:500:2f::f", // f
		"192.112.36.4", "2001:500:12::d0d", // g
		"198.97.190.53", "2001:500:1::53", // h
		"192.36.148.17", "2001:7fe::53", // i
		"192.58.128.30", "2001:503:c27::2:30", // j
		"193.0.14.129", "2001:7fd::1", // k
		"199.7.83.42", "2001:500:9f::42", // l
		"202.12.27.33", "2001:dc3::35", // m
	}
	out := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		out[i] = netip.AddrPortFrom(netip.MustParseAddr(a), 53)
	}
	return out
}
