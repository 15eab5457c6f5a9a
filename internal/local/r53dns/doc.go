// Package r53dns runs Route 53-style authoritative name servers for the
// hosted zones of the Route 53 emulator (route53emu), on loopback.
//
// Every name server host of a hosted zone's delegation set
// ("ns-123.awsdns-45.test.") gets its own loopback address on the stack's
// shared port and serves every zone whose delegation set names it. A server
// serves a zone as of its latest INSYNC change (route53emu's Snapshot), so a
// change becomes visible to DNS only once INSYNC; a server may be told to lag
// (it serves each zone as it was lag ago, counted from when the change was
// observed: at the emulator's INSYNC notification or at a query, whichever
// came first; a new zone appears on it only after the lag) or to fail
// (authserver.Faults: drop, REFUSED, SERVFAIL, lame, truncated UDP, delay).
//
// Signing follows Route 53 (see "KMS key and ZSK management in Route 53" in
// the Route 53 Developer Guide):
//   - the DNSKEY RRset holds the DNSKEY of every published key-signing key
//     (any status but INACTIVE: an ACTION_NEEDED key stays published) and
//     one zone-signing key that this package generates for the zone and
//     keeps for the zone's life, all algorithm 13 (ECDSAP256SHA256);
//   - the DNSKEY RRset is signed by every ACTIVE KSK through its KMS-backed
//     Signer, every other RRset by the ZSK, online at answer time, with
//     signatures cached and refreshed after RefreshInterval;
//   - when a KSK cannot sign (its KMS key is disabled, pending deletion or
//     no longer allowed: ACTION_NEEDED), the last good signature it made
//     over the same DNSKEY RRset is served until it expires, after which the
//     zone is bogus for validators, as with Route 53;
//   - denial uses NSEC "black lies" (RFC 4470 minimally covering NSEC, which
//     RFC 8198 aggressive caching cannot stretch to other names): to a query
//     with the DO bit, a name that does not exist is answered NOERROR/NODATA
//     with an NSEC at the name whose next name is "\000.<name>" and whose
//     bitmap holds only RRSIG and NSEC; a missing type at an existing name
//     (or an empty non-terminal) likewise, with the name's real types; a
//     query without DO gets an honest NXDOMAIN;
//   - a name that a wildcard covers is answered as if it existed: the
//     synthesized RRset is signed at the query name (no wildcard proof
//     needed), as online signers that use black lies do;
//   - TTLs above one week are served as one week, as Route 53 enforces for
//     signed zones.
//
// With signing disabled a zone has no DNSSEC record at all, and names that do
// not exist are NXDOMAIN.
//
// DS records of child hosted zones are ordinary records of the parent hosted
// zone; NS records below the apex make referrals (with the DS, or the NSEC
// that proves there is none, when the parent is signed).
package r53dns
