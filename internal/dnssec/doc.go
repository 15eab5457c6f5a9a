// Package dnssec holds the DNSSEC core: trust anchors, DS/DNSKEY/key-tag
// helpers, RRset signature verification and a validating iterative resolver.
//
// The Resolver follows referrals from the root servers (RootHints, or the
// addresses of a local hierarchy) and validates every zone cut from a trust
// anchor down: the DS RRset at the parent, the DNSKEY RRset it authenticates
// (VerifyDNSKEYs), then the answer RRsets, CNAME chains, wildcard expansions
// (RFC 4035 section 5.3.4) and NSEC/NSEC3 denials (RFC 4035 section 5.4,
// RFC 5155 section 8), opt-out included. Its verdict is one of the four
// Status values with a reason naming the zone, the record and the check.
// A CNAME synthesized from a DNAME is accepted through its signed DNAME.
//
// Policy choices, each following unbound where RFCs leave room:
//   - a DS set using only unsupported algorithms or digests makes the zone
//     insecure, not bogus (RFC 4035 section 5.2);
//   - a denial that relies on an opt-out NSEC3 span (name error, wildcard,
//     NODATA without a matching NSEC3) is insecure (RFC 5155 section 9.2);
//   - an NSEC3 proof with more than MaxNSEC3Iterations is insecure (RFC 9276);
//   - an RRSIG's signer must be the zone that served the RRset (RFC 4035
//     section 5.3.1), stricter than unbound and BIND, which accept a signer
//     that is any ancestor of the owner.
//
// Time is read only from the injected clock (Config.Now): signature validity
// and cache expiry both use it.
package dnssec
