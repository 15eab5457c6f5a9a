package dspublish

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// ownedDS copies ds with zone as its owner, class IN, and the digest in
// canonical form (upper case, no blanks), keeping its TTL.
func ownedDS(zone string, ds *dns.DS) *dns.DS {
	c := dns.Copy(ds).(*dns.DS)
	c.Hdr.Name, c.Hdr.Rrtype, c.Hdr.Class = zone, dns.TypeDS, dns.ClassINET
	c.Digest = canonicalDigest(c.Digest)
	return c
}

// ownedKey copies key with zone as its owner: the owner name is part of
// the digest a DS holds (RFC 4034 section 5.1.4).
func ownedKey(zone string, key *dns.DNSKEY) *dns.DNSKEY {
	c := dns.Copy(key).(*dns.DNSKEY)
	c.Hdr.Name, c.Hdr.Rrtype, c.Hdr.Class = zone, dns.TypeDNSKEY, dns.ClassINET
	return c
}

// canonicalDigest writes a hex digest the way every comparison here reads
// it: upper case, without the blanks a presentation may split it with.
func canonicalDigest(d string) string {
	return strings.ToUpper(strings.Join(strings.Fields(d), ""))
}

// sameDS reports whether a and b are the same DS record data: key tag,
// algorithm, digest type and digest (case-insensitively). Owner and TTL
// are ignored.
func sameDS(a, b *dns.DS) bool {
	return a.KeyTag == b.KeyTag && a.Algorithm == b.Algorithm && a.DigestType == b.DigestType &&
		canonicalDigest(a.Digest) == canonicalDigest(b.Digest)
}

// indexDS returns the index of the first record of set that is the same
// DS as ds, or -1.
func indexDS(set []*dns.DS, ds *dns.DS) int {
	return slices.IndexFunc(set, func(x *dns.DS) bool { return sameDS(x, ds) })
}

// dsShort names a DS compactly for messages: "55648 13 2 B4C8C1FE...".
func dsShort(ds *dns.DS) string {
	d := canonicalDigest(ds.Digest)
	if len(d) > 12 {
		d = d[:12] + "..."
	}
	return fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, d)
}

// dsRData is the presentation of a DS's data, as Route 53 takes a value:
// "55648 13 2 B4C8...".
func dsRData(ds *dns.DS) string {
	return fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, canonicalDigest(ds.Digest))
}

// dsList names DS records compactly, for messages.
func dsList(set []*dns.DS) string {
	if len(set) == 0 {
		return "no DS"
	}
	names := make([]string, len(set))
	for i, ds := range set {
		names[i] = dsShort(ds)
	}
	return strings.Join(names, ", ")
}
