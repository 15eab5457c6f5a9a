package rollover

import (
	"fmt"
	"slices"
	"time"
)

// EnableSigningGates computes the gates of enable-signing for the zone of h,
// whose new KSK is ksk, with safety margin margin, at time now.
//
// RFC 7583 times rollovers, not the first key; its double-KSK timeline
// (section 3.3.1) still applies with "no key" as key N:
//
//	enable-signing  Tpub(N+1): the KSK enters the DNSKEY set and signs it, the
//	                zone's answers gain RRSIGs. No DS is published, so every
//	                validator treats the zone as insecure: no wait (a stale DS
//	                still at the parent would have to expire first, Iret =
//	                DprpP + TTLds).
//	publish-ds      Tsbm(N+1) >= Tpub(N+1) + IpubC, IpubC = DprpC + TTL, where
//	                TTL is the largest of the zone's TTLs and its negative TTL:
//	                a cache may still hold unsigned answers and negative
//	                answers without NSEC from before signing, and a validator
//	                that has the DS demands signatures on them (BIND's kasp
//	                uses max-zone-ttl for a first KSK likewise). Tpub + DprpC is
//	                observed: the last time a zone server served the unsigned
//	                zone. Also every zone server must serve the signed set.
//	confirm-ds      Tact(N+1) = Tsbm(N+1) + Dreg + DprpP: observed as every
//	                parent server serving the DS.
func EnableSigningGates(h *History, ksk Key, margin time.Duration, now time.Time) (Plan, error) {
	p, err := h.plan(WorkflowEnable, margin, now)
	if err != nil {
		return Plan{}, err
	}
	if err := checkKSK("new", ksk); err != nil {
		return Plan{}, err
	}
	ds, err := ksk.DS(h.Zone, DSDigest)
	if err != nil {
		return Plan{}, err
	}
	// cur*: served by every server (preconditions); pub*: the best guess of
	// what is published (the state a transition starts from).
	curDS, haveDS := h.CurrentDS()
	curKeys, haveKeys := h.CurrentDNSKEY()
	pubDS, _ := h.latestDS()
	pubKeys, _ := h.latestDNSKEY()
	signed := pubKeys
	if !signed.has(ksk, true) {
		signed = NewDNSKEYSet(nil, ksk)
	}
	withDS := pubDS
	if !pubDS.covers(h.Zone, ksk) {
		withDS = NewDSSet(append(slices.Clone(pubDS), ds)...)
	}

	enable := h.gate(EnableSigning, "create the KSK and enable signing", Published{DS: pubDS, DNSKEY: signed}, margin)
	enable.observed()
	enable.constrain()

	publish := h.gate(PublishDS, fmt.Sprintf("publish the DS of %s at the parent", ksk), Published{DS: withDS, DNSKEY: signed}, margin)
	publish.observed()
	if !haveKeys || !curKeys.has(ksk, true) {
		publish.pending("not every zone server serves a DNSKEY set signed by %s yet", ksk)
	}
	publish.constrain()

	confirm := h.gate(ConfirmDS, "every parent server serves the DS: the chain of trust is complete", Published{DS: withDS, DNSKEY: signed}, margin)
	confirm.observed()
	if !haveDS || !curDS.covers(h.Zone, ksk) {
		confirm.pending("not every parent server serves the DS of %s yet", ksk)
	}
	confirm.constrain()

	p.Gates = []Gate{enable.done(now), publish.done(now), confirm.done(now)}
	return p, nil
}
