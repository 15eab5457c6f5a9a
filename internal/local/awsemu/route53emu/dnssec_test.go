package route53emu

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
)

func getDNSSEC(t *testing.T, e *env, zoneID string) *route53.GetDNSSECOutput {
	t.Helper()
	out, err := e.client.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String(zoneID)})
	if err != nil {
		t.Fatalf("GetDNSSEC: %v", err)
	}
	return out
}

func kskStatuses(out *route53.GetDNSSECOutput) string {
	var parts []string
	for _, k := range out.KeySigningKeys {
		parts = append(parts, aws.ToString(k.Name)+"="+aws.ToString(k.Status))
	}
	return aws.ToString(out.Status.ServeSignature) + " " + strings.Join(parts, ",")
}

func TestCreateKeySigningKeyFields(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	arn := e.kms.addKey("k1")
	out, err := e.client.CreateKeySigningKey(context.Background(), &route53.CreateKeySigningKeyInput{
		CallerReference: aws.String("c1"), HostedZoneId: aws.String(id),
		KeyManagementServiceArn: aws.String(arn), Name: aws.String("ksk_20261127T0630Z"), Status: aws.String("ACTIVE"),
	})
	if err != nil {
		t.Fatalf("CreateKeySigningKey: %v", err)
	}
	if got, want := aws.ToString(out.Location), "https://route53.amazonaws.com/2013-04-01/keysigningkey/"+id+"/ksk_20261127T0630Z"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if out.ChangeInfo == nil || out.ChangeInfo.Status != types.ChangeStatusPending || !strings.HasPrefix(aws.ToString(out.ChangeInfo.Id), "/change/C") {
		t.Errorf("ChangeInfo = %+v, want a PENDING /change/C...", out.ChangeInfo)
	}
	// What the KSK must be, from the KMS key alone.
	pub, _ := e.kms.PublicKey(arn)
	raw, _ := pub.Bytes()
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: 13, PublicKey: base64.StdEncoding.EncodeToString(raw[1:])}
	ds := key.ToDS(dns.SHA256)

	got := getDNSSEC(t, e, id)
	if len(got.KeySigningKeys) != 1 {
		t.Fatalf("GetDNSSEC lists %d KSKs, want 1", len(got.KeySigningKeys))
	}
	for _, k := range []types.KeySigningKey{*out.KeySigningKey, got.KeySigningKeys[0]} {
		checks := []struct {
			field     string
			got, want any
		}{
			{"Name", aws.ToString(k.Name), "ksk_20261127T0630Z"},
			{"KmsArn", aws.ToString(k.KmsArn), arn},
			{"Flag", k.Flag, int32(257)},
			{"SigningAlgorithmMnemonic", aws.ToString(k.SigningAlgorithmMnemonic), "ECDSAP256SHA256"},
			{"SigningAlgorithmType", k.SigningAlgorithmType, int32(13)},
			{"DigestAlgorithmMnemonic", aws.ToString(k.DigestAlgorithmMnemonic), "SHA-256"},
			{"DigestAlgorithmType", k.DigestAlgorithmType, int32(2)},
			{"KeyTag", k.KeyTag, int32(key.KeyTag())},
			{"DigestValue", aws.ToString(k.DigestValue), strings.ToUpper(ds.Digest)},
			{"PublicKey", aws.ToString(k.PublicKey), key.PublicKey},
			{"DSRecord", aws.ToString(k.DSRecord), fmt.Sprintf("%d 13 2 %s", key.KeyTag(), strings.ToUpper(ds.Digest))},
			{"DNSKEYRecord", aws.ToString(k.DNSKEYRecord), "257 3 13 " + key.PublicKey},
			{"Status", aws.ToString(k.Status), "ACTIVE"},
			{"CreatedDate", aws.ToTime(k.CreatedDate), t0},
			{"LastModifiedDate", aws.ToTime(k.LastModifiedDate), t0},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
			}
		}
	}
	if s := aws.ToString(got.Status.ServeSignature); s != "NOT_SIGNING" {
		t.Errorf("ServeSignature = %s, want NOT_SIGNING", s)
	}
}

func TestKSKLifeCycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createZone(t, "example.test")
	e.parent.setNS("example.test.", e.svc.NameServers(id)...)
	zid := aws.String(id)

	e.createKSK(t, id, "ksk_old", "ACTIVE")
	e.enableSigning(t, id)
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_old=ACTIVE" {
		t.Fatalf("after enable: %s", got)
	}
	// The old KSK is the only active one: it cannot be deactivated.
	_, err := e.client.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_old")})
	var inUse *types.KeySigningKeyInUse
	if !errors.As(err, &inUse) {
		t.Fatalf("deactivating the only active KSK: err = %v, want KeySigningKeyInUse", err)
	}
	// The parent serves the old KSK's DS.
	oldDS := dsOf(t, e, id, "ksk_old")
	e.parent.setDS("example.test.", oldDS)

	e.createKSK(t, id, "ksk_new", "ACTIVE")
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_old=ACTIVE,ksk_new=ACTIVE" {
		t.Fatalf("after the second KSK: %s", got)
	}
	newDS := dsOf(t, e, id, "ksk_new")
	e.parent.setDS("example.test.", oldDS, newDS)
	_, err = e.client.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_old")})
	var inDS *types.KeySigningKeyInParentDSRecord
	if !errors.As(err, &inDS) {
		t.Fatalf("deactivating a KSK whose DS the parent serves: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	// A parent that cannot be asked is not a parent without the DS.
	e.parent.setDS("example.test.", newDS)
	e.parent.setErr(errors.New("timeout"))
	_, err = e.client.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_old")})
	if !errors.As(err, &inDS) {
		t.Fatalf("deactivating while the parent cannot be asked: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	e.parent.setErr(nil)
	// Deleting an ACTIVE KSK is refused.
	_, err = e.client.DeleteKeySigningKey(ctx, &route53.DeleteKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_old")})
	var badStatus *types.InvalidKeySigningKeyStatus
	if !errors.As(err, &badStatus) {
		t.Fatalf("deleting an ACTIVE KSK: err = %v, want InvalidKeySigningKeyStatus", err)
	}
	deact, err := e.client.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_old")})
	if err != nil {
		t.Fatalf("DeactivateKeySigningKey once the parent dropped its DS: %v", err)
	}
	if deact.ChangeInfo.Status != types.ChangeStatusPending {
		t.Errorf("deactivate change = %s, want PENDING", deact.ChangeInfo.Status)
	}
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_old=INACTIVE,ksk_new=ACTIVE" {
		t.Fatalf("after deactivate: %s", got)
	}
	del, err := e.client.DeleteKeySigningKey(ctx, &route53.DeleteKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_old")})
	if err != nil {
		t.Fatalf("DeleteKeySigningKey: %v", err)
	}
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_old=DELETING,ksk_new=ACTIVE" {
		t.Errorf("while the deletion is PENDING: %s", got)
	}
	e.clk.Advance(DefaultPropagationDelay)
	ch, err := e.client.GetChange(ctx, &route53.GetChangeInput{Id: del.ChangeInfo.Id})
	if err != nil || ch.ChangeInfo.Status != types.ChangeStatusInsync {
		t.Fatalf("GetChange(delete) = %v, %v; want INSYNC", ch, err)
	}
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_new=ACTIVE" {
		t.Errorf("after the deletion is INSYNC: %s", got)
	}
	active := e.svc.ActiveKSKs(id)
	if len(active) != 1 || active[0].Name != "ksk_new" {
		t.Errorf("ActiveKSKs = %v, want ksk_new", active)
	}
	// Disabling is refused while the parent serves a DS, allowed after.
	_, err = e.client.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: zid})
	if !errors.As(err, &inDS) {
		t.Fatalf("disabling while the parent serves a DS: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	e.parent.setDS("example.test.")
	if _, err := e.client.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: zid}); err != nil {
		t.Fatalf("DisableHostedZoneDNSSEC: %v", err)
	}
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "DELETING ksk_new=ACTIVE" {
		t.Errorf("while disabling is PENDING: %s", got)
	}
	e.clk.Advance(DefaultPropagationDelay)
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "NOT_SIGNING ksk_new=ACTIVE" {
		t.Errorf("after disabling: %s", got)
	}
	if got := e.svc.ActiveKSKs(id); len(got) != 0 {
		t.Errorf("ActiveKSKs of an unsigned zone = %v, want none", got)
	}
}

// dsOf returns the DS of a zone's KSK as GetDNSSEC gives it.
func dsOf(t *testing.T, e *env, zoneID, name string) *dns.DS {
	t.Helper()
	for _, k := range getDNSSEC(t, e, zoneID).KeySigningKeys {
		if aws.ToString(k.Name) == name {
			rr, err := dns.NewRR("example.test. 86400 IN DS " + aws.ToString(k.DSRecord))
			if err != nil {
				t.Fatal(err)
			}
			return rr.(*dns.DS)
		}
	}
	t.Fatalf("no KSK %s", name)
	return nil
}

func TestDNSSECErrors(t *testing.T) {
	type setup func(t *testing.T, e *env, zoneID string)
	createKSK := func(name, arn, status string) func(e *env, zoneID string) error {
		return func(e *env, zoneID string) error {
			_, err := e.client.CreateKeySigningKey(context.Background(), &route53.CreateKeySigningKeyInput{
				CallerReference: aws.String("c-" + name), HostedZoneId: aws.String(zoneID),
				KeyManagementServiceArn: aws.String(arn), Name: aws.String(name), Status: aws.String(status)})
			return err
		}
	}
	createWithKey := func(name string, edit func(*fakeKey)) func(e *env, zoneID string) error {
		return func(e *env, zoneID string) error {
			arn := e.kms.addKey("edited-" + name)
			if edit != nil {
				e.kms.change(arn, "test", edit)
			}
			return createKSK(name, arn, "ACTIVE")(e, zoneID)
		}
	}
	activate := func(name string) func(e *env, zoneID string) error {
		return func(e *env, zoneID string) error {
			_, err := e.client.ActivateKeySigningKey(context.Background(), &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(zoneID), Name: aws.String(name)})
			return err
		}
	}
	deactivate := func(name string) func(e *env, zoneID string) error {
		return func(e *env, zoneID string) error {
			_, err := e.client.DeactivateKeySigningKey(context.Background(), &route53.DeactivateKeySigningKeyInput{HostedZoneId: aws.String(zoneID), Name: aws.String(name)})
			return err
		}
	}
	deleteKSK := func(name string) func(e *env, zoneID string) error {
		return func(e *env, zoneID string) error {
			_, err := e.client.DeleteKeySigningKey(context.Background(), &route53.DeleteKeySigningKeyInput{HostedZoneId: aws.String(zoneID), Name: aws.String(name)})
			return err
		}
	}
	enable := func(e *env, zoneID string) error {
		_, err := e.client.EnableHostedZoneDNSSEC(context.Background(), &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(zoneID)})
		return err
	}
	disable := func(e *env, zoneID string) error {
		_, err := e.client.DisableHostedZoneDNSSEC(context.Background(), &route53.DisableHostedZoneDNSSECInput{HostedZoneId: aws.String(zoneID)})
		return err
	}
	withKSK := func(name, status string) setup {
		return func(t *testing.T, e *env, zoneID string) { e.createKSK(t, zoneID, name, status) }
	}
	signed := func(t *testing.T, e *env, zoneID string) {
		e.createKSK(t, zoneID, "ksk_a", "ACTIVE")
		e.enableSigning(t, zoneID)
	}
	both := func(a, b setup) setup {
		return func(t *testing.T, e *env, zoneID string) { a(t, e, zoneID); b(t, e, zoneID) }
	}
	internalFailure := func(name string) setup {
		return func(t *testing.T, e *env, zoneID string) {
			if err := e.svc.SetKSKStatus(zoneID, name, KSKInternalFailure, "injected"); err != nil {
				t.Fatal(err)
			}
		}
	}

	tests := []struct {
		name  string
		setup setup
		call  func(e *env, zoneID string) error
		want  any // a pointer to the typed error
	}{
		{"third KSK", both(withKSK("ksk_a", "ACTIVE"), withKSK("ksk_b", "INACTIVE")),
			createWithKey("ksk_c", nil), new(*types.TooManyKeySigningKeys)},
		{"duplicate name", withKSK("ksk_a", "ACTIVE"), createWithKey("ksk_a", nil), new(*types.KeySigningKeyAlreadyExists)},
		{"KMS key used by another KSK", withKSK("ksk_a", "ACTIVE"),
			func(e *env, zoneID string) error {
				return createKSK("ksk_b", "arn:aws:kms:us-east-1:123456789012:key/key-ksk_a", "ACTIVE")(e, zoneID)
			}, new(*types.KeySigningKeyAlreadyExists)},
		{"KMS key in another region", nil,
			createKSK("ksk_a", "arn:aws:kms:eu-west-1:123456789012:key/abc", "ACTIVE"), new(*types.InvalidKMSArn)},
		{"unknown KMS key", nil,
			createKSK("ksk_a", "arn:aws:kms:us-east-1:123456789012:key/none", "ACTIVE"), new(*types.InvalidKMSArn)},
		{"alias instead of key", nil,
			createKSK("ksk_a", "arn:aws:kms:us-east-1:123456789012:alias/dnssec", "ACTIVE"), new(*types.InvalidKMSArn)},
		{"RSA key", nil, createWithKey("ksk_a", func(k *fakeKey) { k.info.KeySpec = "RSA_2048" }), new(*types.InvalidKMSArn)},
		{"encryption key", nil, createWithKey("ksk_a", func(k *fakeKey) { k.info.KeyUsage = "ENCRYPT_DECRYPT" }), new(*types.InvalidKMSArn)},
		{"disabled key", nil, createWithKey("ksk_a", func(k *fakeKey) { k.info.State = kmsemu.StateDisabled }), new(*types.InvalidKMSArn)},
		{"key pending deletion", nil, createWithKey("ksk_a", func(k *fakeKey) { k.info.State = kmsemu.StatePendingDeletion }), new(*types.InvalidKMSArn)},
		{"policy does not allow Route 53", nil, createWithKey("ksk_a", func(k *fakeKey) { k.allow = false }), new(*types.InvalidKMSArn)},
		{"bad KSK name", nil, createWithKey("ksk-a", nil), new(*types.InvalidKeySigningKeyName)},
		{"short KSK name", nil, createWithKey("ab", nil), new(*types.InvalidKeySigningKeyName)},
		{"bad initial status", nil,
			func(e *env, zoneID string) error {
				return createKSK("ksk_a", e.kms.addKey("s"), "DELETING")(e, zoneID)
			}, new(*types.InvalidKeySigningKeyStatus)},
		{"create while another KSK failed", both(withKSK("ksk_a", "ACTIVE"), internalFailure("ksk_a")),
			createWithKey("ksk_b", nil), new(*types.InvalidKeySigningKeyStatus)},
		{"create in an unknown zone", nil,
			func(e *env, _ string) error { return createWithKey("ksk_a", nil)(e, "ZNOSUCHZONE") }, new(*types.NoSuchHostedZone)},
		{"activate unknown KSK", nil, activate("ksk_x"), new(*types.NoSuchKeySigningKey)},
		{"deactivate unknown KSK", nil, deactivate("ksk_x"), new(*types.NoSuchKeySigningKey)},
		{"delete unknown KSK", nil, deleteKSK("ksk_x"), new(*types.NoSuchKeySigningKey)},
		{"delete an ACTIVE KSK", withKSK("ksk_a", "ACTIVE"), deleteKSK("ksk_a"), new(*types.InvalidKeySigningKeyStatus)},
		{"activate a KSK being deleted", both(withKSK("ksk_a", "INACTIVE"), func(t *testing.T, e *env, zoneID string) {
			if err := deleteKSK("ksk_a")(e, zoneID); err != nil {
				t.Fatal(err)
			}
		}), activate("ksk_a"), new(*types.InvalidKeySigningKeyStatus)},
		{"activate when the key was disabled", both(withKSK("ksk_a", "INACTIVE"), func(t *testing.T, e *env, zoneID string) {
			e.kms.change("arn:aws:kms:us-east-1:123456789012:key/key-ksk_a", kmsemu.EventDisabled, func(k *fakeKey) { k.info.State = kmsemu.StateDisabled })
		}), activate("ksk_a"), new(*types.InvalidKMSArn)},
		{"deactivate the only active KSK while signing", signed, deactivate("ksk_a"), new(*types.KeySigningKeyInUse)},
		{"KSK operation while signing is INTERNAL_FAILURE", both(signed, func(t *testing.T, e *env, zoneID string) {
			if err := e.svc.SetSigningStatus(zoneID, InternalFailure, "injected"); err != nil {
				t.Fatal(err)
			}
		}), activate("ksk_a"), new(*types.InvalidSigningStatus)},
		{"enable with no KSK", nil, enable, new(*types.DNSSECNotFound)},
		{"disable with no DNSSEC", nil, disable, new(*types.DNSSECNotFound)},
		{"enable with no active KSK", withKSK("ksk_a", "INACTIVE"), enable, new(*types.KeySigningKeyWithActiveStatusNotFound)},
		{"enable with a failed KSK", both(withKSK("ksk_a", "ACTIVE"), internalFailure("ksk_a")), enable, new(*types.InvalidKeySigningKeyStatus)},
		{"enable when partially delegated", both(withKSK("ksk_a", "ACTIVE"), func(t *testing.T, e *env, zoneID string) {
			ns := e.svc.NameServers(zoneID)
			e.parent.setNS("example.test.", ns[0], ns[1], "ns1.elsewhere.test.")
		}), enable, new(*types.HostedZonePartiallyDelegated)},
		{"disable while the parent serves the DS", both(signed, func(t *testing.T, e *env, zoneID string) {
			e.parent.setDS("example.test.", dsOf(t, e, zoneID, "ksk_a"))
		}), disable, new(*types.KeySigningKeyInParentDSRecord)},
		{"GetDNSSEC of an unknown zone", nil, func(e *env, _ string) error {
			_, err := e.client.GetDNSSEC(context.Background(), &route53.GetDNSSECInput{HostedZoneId: aws.String("ZNOPE")})
			return err
		}, new(*types.NoSuchHostedZone)},
		{"enable for an unknown zone", nil, func(e *env, _ string) error { return enable(e, "ZNOPE") }, new(*types.NoSuchHostedZone)},
		{"injected ConcurrentModification", withKSK("ksk_a", "INACTIVE"), func(e *env, zoneID string) error {
			e.svc.InjectError("ActivateKeySigningKey", CodeConcurrentModification, 1)
			return activate("ksk_a")(e, zoneID)
		}, new(*types.ConcurrentModification)},
		{"injected PriorRequestNotComplete", nil, func(e *env, zoneID string) error {
			e.svc.InjectError("ChangeResourceRecordSets", CodePriorRequestNotComplete, 1)
			_, err := e.change(context.Background(), zoneID, rrChange(types.ChangeActionCreate, "a.example.test", types.RRTypeA, 300, "192.0.2.1"))
			return err
		}, new(*types.PriorRequestNotComplete)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.createZone(t, "example.test")
			if tt.setup != nil {
				tt.setup(t, e, id)
			}
			err := tt.call(e, id)
			if !errors.As(err, tt.want) {
				t.Errorf("err = %v, want %T", err, tt.want)
			}
		})
	}
}

func TestInjectedErrorsAreCounted(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	e.svc.InjectError("ChangeResourceRecordSets", CodePriorRequestNotComplete, 2)
	var codes []string
	for i := range 3 {
		_, err := e.change(context.Background(), id, rrChange(types.ChangeActionCreate, fmt.Sprintf("a%d.example.test", i), types.RRTypeA, 300, "192.0.2.1"))
		codes = append(codes, errCode(err))
	}
	if got, want := strings.Join(codes, ","), "PriorRequestNotComplete,PriorRequestNotComplete,"; got != want {
		t.Errorf("codes = %s, want %s", got, want)
	}
}

func TestActionNeededWhenKeyDisabled(t *testing.T) {
	e := newEnv(t)
	e.svc.SetPropagationDelay(0)
	id := e.createZone(t, "example.test")
	arn := e.createKSK(t, id, "ksk_a", "ACTIVE")
	e.enableSigning(t, id)

	notified := make(chan string, 10)
	cancel := e.svc.Subscribe(func(zoneID string) { notified <- zoneID })
	defer cancel()

	// The key event alone moves the KSK to ACTION_NEEDED (no API call).
	e.kms.change(arn, kmsemu.EventDisabled, func(k *fakeKey) { k.info.State = kmsemu.StateDisabled })
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after the KMS key was disabled")
	}
	if st, msg := e.svc.SigningStatus(id); st != ActionNeeded || !strings.Contains(msg, "Disabled") {
		t.Errorf("SigningStatus = %s %q, want ACTION_NEEDED about the disabled key", st, msg)
	}
	out := getDNSSEC(t, e, id)
	if got := kskStatuses(out); got != "ACTION_NEEDED ksk_a=ACTION_NEEDED" {
		t.Errorf("GetDNSSEC = %s, want ACTION_NEEDED ksk_a=ACTION_NEEDED", got)
	}
	if msg := aws.ToString(out.KeySigningKeys[0].StatusMessage); !strings.Contains(msg, "enable the key") {
		t.Errorf("StatusMessage = %q, want advice to enable the key", msg)
	}
	snap, err := e.svc.Snapshot(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.KSKs) != 1 || snap.KSKs[0].Status != KSKActionNeeded {
		t.Fatalf("Snapshot KSKs = %+v, want ksk_a ACTION_NEEDED", snap.KSKs)
	}
	if _, err := snap.KSKs[0].Signer.Sign(nil, make([]byte, 32), crypto.SHA256); !errors.Is(err, kmsemu.ErrKeyDisabled) {
		t.Errorf("Sign with the disabled key: err = %v, want ErrKeyDisabled", err)
	}
	// Re-enabling the key is not enough; re-activating the KSK is.
	e.kms.change(arn, kmsemu.EventEnabled, func(k *fakeKey) { k.info.State = kmsemu.StateEnabled })
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "ACTION_NEEDED ksk_a=ACTION_NEEDED" {
		t.Errorf("after enabling the key: %s", got)
	}
	if _, err := e.client.ActivateKeySigningKey(context.Background(), &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(id), Name: aws.String("ksk_a")}); err != nil {
		t.Fatalf("ActivateKeySigningKey: %v", err)
	}
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_a=ACTIVE" {
		t.Errorf("after re-activation: %s", got)
	}
	// A policy that stops allowing Route 53 is noticed at GetDNSSEC even
	// without an event.
	e.kms.mu.Lock()
	e.kms.keys[arn].allow = false
	e.kms.mu.Unlock()
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "ACTION_NEEDED ksk_a=ACTION_NEEDED" {
		t.Errorf("after the policy change: %s", got)
	}
}

func TestInternalFailure(t *testing.T) {
	e := newEnv(t)
	id := e.createZone(t, "example.test")
	e.createKSK(t, id, "ksk_a", "ACTIVE")
	e.enableSigning(t, id)
	if err := e.svc.SetKSKStatus(id, "ksk_a", KSKInternalFailure, "Route 53 could not sign"); err != nil {
		t.Fatal(err)
	}
	out := getDNSSEC(t, e, id)
	if got := aws.ToString(out.KeySigningKeys[0].Status); got != KSKInternalFailure {
		t.Errorf("KSK status = %s, want INTERNAL_FAILURE", got)
	}
	if got := aws.ToString(out.KeySigningKeys[0].StatusMessage); got != "Route 53 could not sign" {
		t.Errorf("KSK status message = %q", got)
	}
	// Activating the failed KSK itself is the way out.
	if _, err := e.client.ActivateKeySigningKey(context.Background(), &route53.ActivateKeySigningKeyInput{HostedZoneId: aws.String(id), Name: aws.String("ksk_a")}); err != nil {
		t.Fatalf("ActivateKeySigningKey of the failed KSK: %v", err)
	}
	if err := e.svc.SetSigningStatus(id, InternalFailure, "signing failed"); err != nil {
		t.Fatal(err)
	}
	if out := getDNSSEC(t, e, id); aws.ToString(out.Status.ServeSignature) != InternalFailure || aws.ToString(out.Status.StatusMessage) != "signing failed" {
		t.Errorf("Status = %s %q, want INTERNAL_FAILURE", aws.ToString(out.Status.ServeSignature), aws.ToString(out.Status.StatusMessage))
	}
	e.enableSigning(t, id) // enabling again clears it
	if got := kskStatuses(getDNSSEC(t, e, id)); got != "SIGNING ksk_a=ACTIVE" {
		t.Errorf("after enabling again: %s", got)
	}
}
