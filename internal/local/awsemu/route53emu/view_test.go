package route53emu

import (
	"crypto/ecdsa"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// signDNSKEYs signs a zone's DNSKEY RRset with its active KSKs, as a
// Route 53-style name server would, and verifies the result.
func signDNSKEYs(t *testing.T, snap Snapshot, now time.Time) error {
	t.Helper()
	var keys []dns.RR
	var dnskeys []*dns.DNSKEY
	for _, k := range snap.KSKs {
		keys = append(keys, k.DNSKEY)
		dnskeys = append(dnskeys, k.DNSKEY)
	}
	for _, k := range snap.KSKs {
		if k.Status != KSKActive {
			continue
		}
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Name: snap.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: DNSKEYTTL},
			Algorithm:  dns.ECDSAP256SHA256,
			KeyTag:     k.DNSKEY.KeyTag(),
			SignerName: snap.Name,
			Inception:  uint32(now.Add(-time.Hour).Unix()),
			Expiration: uint32(now.Add(24 * time.Hour).Unix()),
		}
		if err := sig.Sign(k.Signer, keys); err != nil {
			return err
		}
		if _, err := dnssec.VerifyRRset(keys, []*dns.RRSIG{sig}, dnskeys, snap.Name, now); err != nil {
			t.Fatalf("signature by %s does not verify: %v", k.Name, err)
		}
	}
	return nil
}

func TestSnapshotSignsWithKMS(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	e.createKSK(t, id, "ksk_a", "ACTIVE")
	e.enableSigning(t, id)
	e.clk.Advance(DefaultPropagationDelay)

	snap, err := e.svc.Snapshot(id)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Signing || len(snap.KSKs) != 1 || snap.Name != "example.test." || len(snap.NameServers) != 4 {
		t.Fatalf("Snapshot = %+v, want signed example.test. with one KSK and 4 name servers", snap)
	}
	k := snap.KSKs[0]
	if k.DNSKEY.Flags != 257 || k.DNSKEY.Algorithm != 13 || k.DNSKEY.Hdr.Ttl != DNSKEYTTL {
		t.Errorf("DNSKEY = %v, want 257 3 13 with TTL %d", k.DNSKEY, DNSKEYTTL)
	}
	pub, ok := k.Signer.Public().(*ecdsa.PublicKey)
	want, _ := e.kms.PublicKey(k.KMSARN)
	if !ok || !pub.Equal(want) {
		t.Errorf("Signer.Public() = %v, want the KMS key's public key", k.Signer.Public())
	}
	if err := signDNSKEYs(t, snap, e.clk.Now()); err != nil {
		t.Fatalf("signing the DNSKEY RRset: %v", err)
	}
}

func TestSnapshotFollowsPropagation(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	e.clk.Advance(DefaultPropagationDelay)
	e.createKSK(t, id, "ksk_a", "ACTIVE")
	e.enableSigning(t, id)
	if got := e.svc.ActiveKSKs(id); len(got) != 0 {
		t.Errorf("ActiveKSKs while enabling is PENDING = %d keys, want none", len(got))
	}
	e.clk.Advance(DefaultPropagationDelay)
	if got := e.svc.ActiveKSKs(id); len(got) != 1 {
		t.Errorf("ActiveKSKs once INSYNC = %d keys, want 1", len(got))
	}
	if got := e.svc.Zones(); len(got) != 1 || got[0].ID != id {
		t.Errorf("Zones = %v, want [%s]", got, id)
	}
	if _, err := e.svc.Snapshot("ZNOPE"); err == nil {
		t.Error("Snapshot of an unknown zone succeeded")
	}
}
