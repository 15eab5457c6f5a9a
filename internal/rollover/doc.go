// Package rollover computes the gates of the DNSSEC life cycle of a Route 53
// hosted zone: the earliest time at which each transition of enable-signing,
// rotate-ksk and disable-signing may happen without any validating resolver
// seeing the zone as bogus.
//
// Two independent views of the same safety rule live here and are tested
// against each other:
//
//   - the gates (enable.go, rotate.go, disable.go): RFC 7583 timing formulas,
//     with the RFC's assumed quantities (propagation delays DprpP and DprpC,
//     registration delay Dreg) replaced by what was observed on every parent
//     and zone server (History), plus a safety margin;
//   - the cache-combination invariant (invariant.go, DESIGN.md section 4):
//     every DS set a cache may still hold, combined with every DNSKEY set a
//     cache may still hold, and with the sets published after the transition,
//     must validate. The check builds a model of those sets with real P-256
//     keys and RRSIGs and runs internal/dnssec.VerifyDNSKEYs on each
//     combination, so it is real validation and not a re-statement of the
//     formulas.
//
// # Terms of RFC 7583 and what we use instead
//
//	TTLds    TTL of the DS RRset at the parent: for each DS set, the largest
//	         TTL observed on it on any parent server (Seen.MaxTTL), so a TTL
//	         changed between observations counts with its largest value.
//	TTLkey   TTL of the DNSKEY RRset: likewise, per DNSKEY set.
//	DprpP    parent propagation delay, DprpC child (zone) propagation delay,
//	Dreg     registration delay: never assumed. A set's "last served" time
//	         is the first observation at which no parent (or zone) server
//	         served it any more, so Tret + Dreg + DprpP (the moment the last
//	         server stopped serving the old data) is a measured time, and
//	         "served by every server" replaces Tpub + Dprp as the sign that
//	         a change has propagated.
//	IpubC    = DprpC + TTLkey: DNSKEY set without the new key last served +
//	         TTLkey. For the very first key (enable-signing) the unsigned
//	         zone's answers may be cached for the zone's largest TTL and its
//	         negative TTL, so that is the TTL used (as BIND's kasp does with
//	         max-zone-ttl for a first KSK).
//	Iret     = DprpP + TTLds for a KSK (double-KSK and double-RRset methods):
//	         DS set that does not trust the remaining keys last served +
//	         TTLds.
//
// Route 53 rotates KSKs with both KSKs ACTIVE, so the DNSKEY set is signed by
// both keys while the parent holds both DS records: the Double-RRset method
// of RFC 7583 section 3.3.3. Each gate names the
// sets that constrain it, with their times and TTLs, so a plan can be shown
// to a person and used as a Step Functions Wait timestamp.
package rollover
