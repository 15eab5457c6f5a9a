package rollover

import "time"

// DisableSigningGates computes the gates of disable-signing for the zone of
// h, with safety margin margin, at time now.
//
// Going insecure is the reverse of enable-signing (RFC 6781 section 4.4.1
// and RFC 7583 section 3.3.1 read backwards, "no key" as key N+1):
//
//	withdraw-ds      no wait: a validator without a DS treats the zone as
//	                 insecure whatever it holds.
//	disable-signing  >= Tret + Iret, Iret = DprpP + TTLds: every DS set still
//	                 holding a usable DS last served + TTLds + margin; no
//	                 parent server may serve a DS any more. Disabling while a
//	                 DS may be cached is what made Slack's zone fail in 2021.
//	delete-ksks      as disable-signing, once every zone server serves the
//	                 unsigned zone.
func DisableSigningGates(h *History, margin time.Duration, now time.Time) (Plan, error) {
	p, err := h.plan(WorkflowDisable, margin, now)
	if err != nil {
		return Plan{}, err
	}
	curKeys, haveKeys := h.CurrentDNSKEY()
	pubKeys, _ := h.latestDNSKEY()
	unsigned := DNSKEYSet{}

	withdraw := h.gate(WithdrawDS, "remove every DS record at the parent", Published{DS: nil, DNSKEY: pubKeys}, margin)
	withdraw.observed()
	withdraw.constrain()

	disable := h.gate(DisableSigning, "disable DNSSEC signing", Published{DS: nil, DNSKEY: unsigned}, margin)
	disable.observed()
	noDS(disable)
	disable.constrain()

	del := h.gate(DeleteKSKs, "deactivate and delete the KSKs", Published{DS: nil, DNSKEY: unsigned}, margin)
	del.observed()
	noDS(del)
	if !haveKeys || !curKeys.Unsigned() {
		del.pending("not every zone server serves the unsigned zone yet")
	}
	del.constrain()

	p.Gates = []Gate{withdraw.done(now), disable.done(now), del.done(now)}
	return p, nil
}

// noDS adds a pending entry while some parent server may serve a DS.
func noDS(b *gate) {
	for _, d := range b.h.DS {
		if d.LastServed == nil && len(d.Set) > 0 {
			b.pending("a parent server still serves %s", d.Set)
			return
		}
	}
}
