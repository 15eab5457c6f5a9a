package rollover

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// RotateKSKGates computes the gates of rotate-ksk, from oldKSK to newKSK, for
// the zone of h, with safety margin margin, at time now.
//
// Route 53 keeps both KSKs ACTIVE during the rotation, so both sign the
// DNSKEY set while the parent holds both DS records: the Double-RRset
// method of RFC 7583 section 3.3.3 (RFC 6781 section 4.1.2 gives the
// double-signature KSK rollover and the variant with two DS records at the
// parent). The RFC publishes the new key and its DS at once and, after
//
//	Ipub = max(IpubP, IpubC),  IpubP = Dreg + DprpP + TTLds,  IpubC = DprpC + TTLkey
//
// removes the old DS and the old key together. We split that last step in
// two (Route 53 refuses to deactivate a KSK whose DS is at the parent:
// KeySigningKeyInParentDSRecord), and each half needs only its own term:
//
//	add-ksk             Tpub(N+1): no wait; the old KSK still signs.
//	publish-new-ds      Tsbm(N+1): no cache wait (the old DS still trusts
//	                    every DNSKEY set); every zone server must serve the
//	                    new key signing first, so the DS never points at a
//	                    key some server lacks.
//	remove-old-ds       >= Tpub(N+1) + IpubC: every DNSKEY set without the new
//	                    key signing last served + TTLkey + margin; every
//	                    parent server must serve the new DS first.
//	deactivate-old-ksk  >= Tsbm(N+1) + IpubP (RFC 7583 Iret = DprpP + TTLds
//	                    after Tret(N)): every DS set without the new DS last
//	                    served + TTLds + margin; no parent server may serve
//	                    the old DS any more.
//	delete-old-ksk      as deactivate-old-ksk, once every zone server serves
//	                    the set without the old key: deletion is final.
//
// The Route 53 blog's single wait of max(DS TTL, DNSKEY TTL) before
// removing the old DS and deleting the old key is the same rule. A DS set
// holding both DS records needs no wait when the old key leaves: its new DS
// still trusts the remaining key.
func RotateKSKGates(h *History, oldKSK, newKSK Key, margin time.Duration, now time.Time) (Plan, error) {
	p, err := h.plan(WorkflowRotate, margin, now)
	if err != nil {
		return Plan{}, err
	}
	if err := checkKSK("old", oldKSK); err != nil {
		return Plan{}, err
	}
	if err := checkKSK("new", newKSK); err != nil {
		return Plan{}, err
	}
	if oldKSK.id() == newKSK.id() {
		return Plan{}, errors.New("rollover: the new KSK is the old KSK")
	}
	zone := h.Zone
	oldDS, err := oldKSK.DS(zone, DSDigest)
	if err != nil {
		return Plan{}, err
	}
	newDS, err := newKSK.DS(zone, DSDigest)
	if err != nil {
		return Plan{}, err
	}
	// cur*: served by every server (preconditions); pub*: the best guess of
	// what is published (the state a transition starts from).
	curDS, haveDS := h.CurrentDS()
	curKeys, haveKeys := h.CurrentDNSKEY()
	pubDS, ok := h.latestDS()
	if !ok {
		pubDS = NewDSSet(oldDS)
	}
	pubKeys, ok := h.latestDNSKEY()
	if !ok {
		pubKeys = NewDNSKEYSet(nil, oldKSK)
	}

	// add-ksk
	both := pubKeys.with(newKSK)
	add := h.gate(AddKSK, fmt.Sprintf("create %s, ACTIVE: both KSKs sign", newKSK), Published{DS: pubDS, DNSKEY: both}, margin)
	add.observed()
	add.constrain()

	// publish-new-ds
	keys := pubKeys
	if !pubKeys.has(newKSK, true) {
		keys = both
	}
	dsBoth := pubDS
	if !pubDS.covers(zone, newKSK) {
		dsBoth = NewDSSet(append(slices.Clone(pubDS), newDS)...)
	}
	publish := h.gate(PublishNewDS, fmt.Sprintf("publish the DS of %s beside the old", newKSK), Published{DS: dsBoth, DNSKEY: keys}, margin)
	publish.observed()
	if !haveKeys || !curKeys.has(newKSK, true) {
		publish.pending("not every zone server serves the DNSKEY set signed by %s yet", newKSK)
	}
	publish.constrain()

	// remove-old-ds
	dsNew := removeDS(zone, dsBoth, oldKSK)
	remove := h.gate(RemoveOldDS, fmt.Sprintf("remove the DS of %s", oldKSK), Published{DS: dsNew, DNSKEY: keys}, margin)
	remove.observed()
	if !haveDS || !curDS.covers(zone, newKSK) {
		remove.pending("not every parent server serves the DS of %s yet", newKSK)
	}
	remove.constrain()

	// deactivate-old-ksk
	retired := keys.without(oldKSK)
	deactivate := h.gate(DeactivateOldKSK, fmt.Sprintf("deactivate %s", oldKSK), Published{DS: dsNew, DNSKEY: retired}, margin)
	deactivate.observed()
	noOldDS(deactivate, oldKSK)
	deactivate.constrain()

	// delete-old-ksk
	del := h.gate(DeleteOldKSK, fmt.Sprintf("delete %s and schedule its KMS key's deletion", oldKSK), Published{DS: dsNew, DNSKEY: retired}, margin)
	del.observed()
	noOldDS(del, oldKSK)
	if !haveKeys || curKeys.has(oldKSK, false) {
		del.pending("not every zone server serves a DNSKEY set without %s yet", oldKSK)
	}
	del.constrain()

	p.Gates = []Gate{add.done(now), publish.done(now), remove.done(now), deactivate.done(now), del.done(now)}
	return p, nil
}

// noOldDS adds a pending entry while some parent server may serve a DS of k.
func noOldDS(b *gate, k Key) {
	for _, d := range b.h.DS {
		if d.LastServed == nil && d.Set.covers(b.h.Zone, k) {
			b.pending("a parent server still serves the DS of %s (Route 53 refuses: KeySigningKeyInParentDSRecord)", k)
			return
		}
	}
}

// removeDS returns s without the DS records of k.
func removeDS(zone string, s DSSet, k Key) DSSet {
	key := k.RR(zone)
	return NewDSSet(slices.DeleteFunc(slices.Clone(s), func(d DS) bool {
		return d.KeyTag == key.KeyTag() && d.Algorithm == key.Algorithm && isDSOf(d, key)
	})...)
}

// isDSOf reports whether d (of key's tag and algorithm) is a DS of key,
// whatever its digest type: one whose digest cannot be computed here counts.
func isDSOf(d DS, key *dns.DNSKEY) bool {
	computed := key.ToDS(d.DigestType)
	if computed == nil {
		return true
	}
	return DSFromRR(computed).Digest == d.Digest
}
