package dspublish

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53domains"
	"github.com/aws/aws-sdk-go-v2/service/route53domains/types"
	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/domainsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// Tests of the Route 53 Domains publisher through the real route53domains
// client against the Route 53 Domains emulator.

// opDelay is how long an emulated operation takes from submission to its
// end.
const opDelay = domainsemu.DefaultSubmittedDelay + domainsemu.DefaultInProgressDelay

// registry records the DS sets the emulator hands to the TLD.
type registry struct {
	mu   sync.Mutex
	sets map[string][]string
	n    int
}

func (r *registry) SetDS(domain string, ds []*dns.DS) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sets == nil {
		r.sets = map[string][]string{}
	}
	r.sets[domain] = dsStrings(ds)
	r.n++
	return nil
}

func (r *registry) get(domain string) ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sets[domain], r.n
}

type domains struct {
	clk    *clock.Virtual
	svc    *domainsemu.Service
	reg    *registry
	client *route53domains.Client
	api    *countingDomains
}

func newDomains(t *testing.T, opts ...domainsemu.Option) *domains {
	t.Helper()
	d := &domains{clk: clock.NewVirtual(t0), reg: &registry{}}
	d.svc = domainsemu.New(d.clk, append([]domainsemu.Option{domainsemu.WithRegistry(d.reg)}, opts...)...)
	for _, name := range []string{"example.net", "example.test"} {
		if err := d.svc.RegisterDomain(name, []string{"ns-1.awsdns-01.test", "ns-2.awsdns-02.test"}); err != nil {
			t.Fatalf("RegisterDomain(%s): %v", name, err)
		}
	}
	srv := httptest.NewServer(d.svc)
	t.Cleanup(srv.Close)
	d.client = route53domains.New(route53domains.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		Retryer:      aws.NopRetryer{},
	})
	d.api = &countingDomains{DomainsAPI: d.client}
	return d
}

func (d *domains) publisher(t *testing.T, domain string) Publisher {
	t.Helper()
	p, err := New(domain, Settings{Kind: KindRoute53Domains, DomainName: domain}, Clients{Domains: d.api})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// associate submits an association outside the publisher, as another
// workflow or a person in the console would.
func (d *domains) associate(t *testing.T, domain string, key *dns.DNSKEY) string {
	t.Helper()
	out, err := d.client.AssociateDelegationSignerToDomain(context.Background(), &route53domains.AssociateDelegationSignerToDomainInput{
		DomainName: aws.String(domain),
		SigningAttributes: &types.DnssecSigningAttributes{
			Algorithm: aws.Int32(int32(key.Algorithm)), Flags: aws.Int32(int32(key.Flags)), PublicKey: aws.String(key.PublicKey),
		},
	})
	if err != nil {
		t.Fatalf("AssociateDelegationSignerToDomain: %v", err)
	}
	return aws.ToString(out.OperationId)
}

func (d *domains) status(t *testing.T, op string) types.OperationStatus {
	t.Helper()
	out, err := d.client.GetOperationDetail(context.Background(), &route53domains.GetOperationDetailInput{OperationId: aws.String(op)})
	if err != nil {
		t.Fatalf("GetOperationDetail(%s): %v", op, err)
	}
	return out.Status
}

func TestRegistrarAddRemove(t *testing.T) {
	d := newDomains(t)
	p := d.publisher(t, "example.net")
	ctx := testCtx(t)
	add := Request{Zone: "example.net.", DS: rfcDS(), DNSKEY: rfcKey()}

	first, err := p.Add(ctx, add)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if first.Done || first.Operation == "" || first.PollAfter != OperationPollInterval {
		t.Fatalf("Add = %+v, want an operation to poll after %v", first, OperationPollInterval)
	}
	if got := d.status(t, first.Operation); got != types.OperationStatusSubmitted {
		t.Errorf("operation status = %s, want SUBMITTED", got)
	}
	// A poll before the registry is done, and a re-run that lost the
	// operation ID (a crash), both wait rather than submit again.
	for _, op := range []string{first.Operation, ""} {
		r := add
		r.Operation = op
		got, err := p.Add(ctx, r)
		if err != nil || got.Done || got.PollAfter <= 0 {
			t.Errorf("Add(operation %q) while SUBMITTED = %+v, %v, want not done, a poll", op, got, err)
		}
	}
	d.clk.Advance(domainsemu.DefaultSubmittedDelay)
	if got, err := p.Add(ctx, Request{Zone: add.Zone, DS: add.DS, DNSKEY: add.DNSKEY, Operation: first.Operation}); err != nil || got.Done || !strings.Contains(got.Detail, "IN_PROGRESS") {
		t.Errorf("Add while IN_PROGRESS = %+v, %v, want not done, IN_PROGRESS", got, err)
	}
	d.clk.Advance(domainsemu.DefaultInProgressDelay)
	done, err := p.Add(ctx, Request{Zone: add.Zone, DS: add.DS, DNSKEY: add.DNSKEY, Operation: first.Operation})
	if err != nil || !done.Done {
		t.Fatalf("Add after the operation = %+v, %v, want done", done, err)
	}
	if got := d.api.get("Associate"); got != 1 {
		t.Errorf("Associate calls = %d, want 1", got)
	}
	want := []string{dsRData(ownedDS("example.net.", rfcDS()))}
	if got, _ := d.reg.get("example.net"); !cmp.Equal(got, want) {
		t.Errorf("registry DS = %v, want %v", got, want)
	}
	pub, err := p.Published(ctx, "example.net")
	if err != nil || !cmp.Equal(dsStrings(pub), want) {
		t.Errorf("Published = %v, %v, want %v", dsStrings(pub), err, want)
	}

	// Adding again matches the key by its DS data (GetDomainDetail lists
	// no public key) and submits nothing.
	if again, err := p.Add(ctx, add); err != nil || !again.Done {
		t.Errorf("Add again = %+v, %v, want done", again, err)
	}
	if got := d.api.get("Associate"); got != 1 {
		t.Errorf("Associate calls after adding again = %d, want 1", got)
	}

	// Remove, by DS only.
	rm := Request{Zone: "example.net.", DS: rfcDS()}
	first, err = p.Remove(ctx, rm)
	if err != nil || first.Done || first.Operation == "" {
		t.Fatalf("Remove = %+v, %v, want an operation", first, err)
	}
	untilDone(t, d.clk, first, func(op string) (Progress, error) {
		r := rm
		r.Operation = op
		return p.Remove(ctx, r)
	})
	if got, _ := d.reg.get("example.net"); len(got) != 0 {
		t.Errorf("registry DS after Remove = %v, want none", got)
	}
	if again, err := p.Remove(ctx, rm); err != nil || !again.Done {
		t.Errorf("Remove again = %+v, %v, want done", again, err)
	}
	if got := d.api.get("Disassociate"); got != 1 {
		t.Errorf("Disassociate calls = %d, want 1", got)
	}
}

func TestRegistrarKeepsOtherKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []domainsemu.Option
	}{
		{name: "keys listed with DS data only"},
		{name: "keys listed with public keys", opts: []domainsemu.Option{domainsemu.WithFullKeyDetails()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDomains(t, tc.opts...)
			p := d.publisher(t, "example.test")
			ctx := testCtx(t)
			old, next := newKSK("example.test."), newKSK("example.test.")
			d.associate(t, "example.test", old.key)
			d.clk.Advance(opDelay)

			addNext := Request{Zone: "example.test", DS: next.ds, DNSKEY: next.key}
			first, err := p.Add(ctx, addNext)
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			untilDone(t, d.clk, first, func(op string) (Progress, error) {
				r := addNext
				r.Operation = op
				return p.Add(ctx, r)
			})
			both := []string{dsRData(old.ds), dsRData(next.ds)}
			if got, _ := d.reg.get("example.test"); !cmp.Equal(got, both) {
				t.Errorf("registry DS after Add = %v, want %v", got, both)
			}

			rmOld := Request{Zone: "example.test", DS: old.ds}
			first, err = p.Remove(ctx, rmOld)
			if err != nil {
				t.Fatalf("Remove: %v", err)
			}
			untilDone(t, d.clk, first, func(op string) (Progress, error) {
				r := rmOld
				r.Operation = op
				return p.Remove(ctx, r)
			})
			if got, _ := d.reg.get("example.test"); !cmp.Equal(got, []string{dsRData(next.ds)}) {
				t.Errorf("registry DS after Remove = %v, want [%s]", got, dsRData(next.ds))
			}
		})
	}
}

func TestRegistrarSHA384MatchedThroughTheKey(t *testing.T) {
	// The registrar computes a SHA-256 DS from the key; a request made with
	// the key's SHA-384 DS is still recognised once associated.
	d := newDomains(t)
	p := d.publisher(t, "example.test")
	ctx := testCtx(t)
	k := newKSK("example.test.")
	ds384 := ownedKey("example.test.", k.key).ToDS(dns.SHA384)
	add := Request{Zone: "example.test", DS: ds384, DNSKEY: k.key}
	first, err := p.Add(ctx, add)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	untilDone(t, d.clk, first, func(op string) (Progress, error) {
		r := add
		r.Operation = op
		return p.Add(ctx, r)
	})
	if again, err := p.Add(ctx, add); err != nil || !again.Done {
		t.Errorf("Add again = %+v, %v, want done", again, err)
	}
	if got := d.api.get("Associate"); got != 1 {
		t.Errorf("Associate calls = %d, want 1", got)
	}
	rm := Request{Zone: "example.test", DS: ds384, DNSKEY: k.key}
	first, err = p.Remove(ctx, rm)
	if err != nil || first.Done {
		t.Fatalf("Remove = %+v, %v, want an operation", first, err)
	}
	untilDone(t, d.clk, first, func(op string) (Progress, error) {
		r := rm
		r.Operation = op
		return p.Remove(ctx, r)
	})
	if got, _ := d.reg.get("example.test"); len(got) != 0 {
		t.Errorf("registry DS = %v, want none", got)
	}
}

func TestRegistrarWaitsForPendingOperations(t *testing.T) {
	d := newDomains(t)
	p := d.publisher(t, "example.test")
	ctx := testCtx(t)
	k := newKSK("example.test.")
	// Someone else is adding k: a withdrawal must not pass it by (the DS
	// would come back after the parent was seen without it).
	op := d.associate(t, "example.test", k.key)
	rm := Request{Zone: "example.test", DS: k.ds}
	got, err := p.Remove(ctx, rm)
	if err != nil || got.Done || !strings.Contains(got.Detail, op) {
		t.Fatalf("Remove while %s is pending = %+v, %v, want a wait naming it", op, got, err)
	}
	// Adding another key waits too.
	other := newKSK("example.test.")
	if got, err := p.Add(ctx, Request{Zone: "example.test", DS: other.ds, DNSKEY: other.key}); err != nil || got.Done || !strings.Contains(got.Detail, op) {
		t.Errorf("Add while %s is pending = %+v, %v, want a wait naming it", op, got, err)
	}
	if n := d.api.get("Associate") + d.api.get("Disassociate"); n != 0 {
		t.Errorf("operations submitted while one is pending = %d, want 0", n)
	}
	d.clk.Advance(opDelay)
	if got := d.status(t, op); got != types.OperationStatusSuccessful {
		t.Fatalf("operation %s = %s, want SUCCESSFUL", op, got)
	}
	first, err := p.Remove(ctx, rm)
	if err != nil || first.Done || first.Operation == "" {
		t.Fatalf("Remove after the addition = %+v, %v, want an operation", first, err)
	}
	untilDone(t, d.clk, first, func(op string) (Progress, error) {
		r := rm
		r.Operation = op
		return p.Remove(ctx, r)
	})
	if got, _ := d.reg.get("example.test"); len(got) != 0 {
		t.Errorf("registry DS = %v, want none", got)
	}
}

func TestRegistrarFailures(t *testing.T) {
	k, absent := newKSK("example.test."), newKSK("absent.test.")
	zsk := newKSK("example.test.")
	zsk.key.Flags = 256
	zsk.ds = ownedKey("example.test.", zsk.key).ToDS(dns.SHA256)
	for _, tc := range []struct {
		name     string
		setup    func(d *domains)
		domain   string
		req      Request
		poll     bool // advance past the operation and poll it
		wantErr  string
		wantText string
	}{
		{
			name: "operation fails at the registry",
			setup: func(d *domains) {
				d.svc.FailNextOperations(domainsemu.StatusFailed, "Parameters in request are not valid", 1)
			},
			req:      Request{Zone: "example.test", DS: k.ds, DNSKEY: k.key},
			poll:     true,
			wantErr:  "RegistrarOperationFailedError",
			wantText: `ended FAILED: "Parameters in request are not valid"`,
		},
		{
			name:     "operation ends in ERROR",
			setup:    func(d *domains) { d.svc.FailNextOperations(domainsemu.StatusError, "registry unavailable", 1) },
			req:      Request{Zone: "example.test", DS: k.ds, DNSKEY: k.key},
			poll:     true,
			wantErr:  "RegistrarOperationFailedError",
			wantText: "ended ERROR",
		},
		{
			name:     "TLD without DNSSEC",
			setup:    func(d *domains) { d.svc.SetTLDAllowsDNSSEC("test", false) },
			req:      Request{Zone: "example.test", DS: k.ds, DNSKEY: k.key},
			wantErr:  "RegistrarRefusedError",
			wantText: "TLDRulesViolation",
		},
		{
			name:     "domain not in the account",
			domain:   "absent.test",
			req:      Request{Zone: "absent.test", DS: absent.ds, DNSKEY: absent.key},
			wantErr:  "RegistrarRefusedError",
			wantText: "absent.test",
		},
		{
			name:     "no DNSKEY to add",
			req:      Request{Zone: "example.test", DS: k.ds},
			wantErr:  "InvalidRequestError",
			wantText: "public key",
		},
		{
			name:     "a zone-signing key",
			req:      Request{Zone: "example.test", DS: zsk.ds, DNSKEY: zsk.key},
			wantErr:  "InvalidRequestError",
			wantText: "flags 256",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDomains(t)
			if tc.setup != nil {
				tc.setup(d)
			}
			domain := "example.test"
			if tc.domain != "" {
				domain = tc.domain
			}
			p := d.publisher(t, domain)
			ctx := testCtx(t)
			got, err := p.Add(ctx, tc.req)
			if tc.poll {
				if err != nil {
					t.Fatalf("Add = %v, want an operation", err)
				}
				d.clk.Advance(opDelay)
				r := tc.req
				r.Operation = got.Operation
				got, err = p.Add(ctx, r)
			}
			if name := errorTypeName(err); name != tc.wantErr || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Add = %+v, %v (%s), want a %s containing %q", got, err, name, tc.wantErr, tc.wantText)
			}
			var failed *RegistrarOperationFailedError
			if errors.As(err, &failed) && (failed.Domain != "example.test" || failed.Type != "ADD_DNSSEC") {
				t.Errorf("RegistrarOperationFailedError = %+v, want domain example.test, type ADD_DNSSEC", failed)
			}
			if _, n := d.reg.get("example.test"); n != 0 {
				t.Errorf("registry told %d times, want never", n)
			}
		})
	}
}

func TestRegistrarBusy(t *testing.T) {
	d := newDomains(t)
	p := d.publisher(t, "example.test")
	ctx := testCtx(t)
	k := newKSK("example.test.")
	req := Request{Zone: "example.test", DS: k.ds, DNSKEY: k.key}
	for _, tc := range []struct{ operation, code string }{
		{"AssociateDelegationSignerToDomain", "OperationLimitExceeded"},
		{"AssociateDelegationSignerToDomain", "ThrottlingException"},
		{"ListOperations", "ThrottlingException"},
	} {
		d.svc.InjectError(tc.operation, tc.code, 1)
		got, err := p.Add(ctx, req)
		if err != nil || got.Done || got.PollAfter != BusyPollInterval || !strings.Contains(got.Detail, tc.code) {
			t.Errorf("Add with %s failing %s = %+v, %v, want not done, poll after %v", tc.operation, tc.code, got, err, BusyPollInterval)
		}
	}
	first, err := p.Add(ctx, req)
	if err != nil || first.Operation == "" {
		t.Fatalf("Add = %+v, %v, want an operation", first, err)
	}
	d.svc.InjectError("GetOperationDetail", "ThrottlingException", 1)
	d.clk.Advance(opDelay)
	r := req
	r.Operation = first.Operation
	if got, err := p.Add(ctx, r); err != nil || got.Done || got.Operation != first.Operation {
		t.Errorf("Add with GetOperationDetail throttled = %+v, %v, want not done, same operation", got, err)
	}
	if got, err := p.Add(ctx, r); err != nil || !got.Done {
		t.Errorf("Add = %+v, %v, want done", got, err)
	}
}

func TestMatchKey(t *testing.T) {
	const zone = "example.net."
	ds, key := ownedDS(zone, rfcDS()), ownedKey(zone, rfcKey())
	ds384 := key.ToDS(dns.SHA384)
	digest := strings.ToLower(ds.Digest)
	for _, tc := range []struct {
		name   string
		listed types.DnssecKey
		ds     *dns.DS
		key    *dns.DNSKEY
		want   bool
	}{
		{name: "DS data only, digest in lower case", listed: types.DnssecKey{Id: aws.String("a"), KeyTag: aws.Int32(55648), Algorithm: aws.Int32(13), DigestType: aws.Int32(2), Digest: aws.String(digest)}, ds: ds, want: true},
		{name: "digest only", listed: types.DnssecKey{Id: aws.String("a"), DigestType: aws.Int32(2), Digest: aws.String(ds.Digest)}, ds: ds, want: true},
		{name: "public key only (older listings)", listed: types.DnssecKey{Id: aws.String("a"), Flags: aws.Int32(257), Algorithm: aws.Int32(13), PublicKey: aws.String(key.PublicKey)}, ds: ds, want: true},
		{name: "another key tag", listed: types.DnssecKey{Id: aws.String("a"), KeyTag: aws.Int32(1), Algorithm: aws.Int32(13), DigestType: aws.Int32(2), Digest: aws.String(ds.Digest)}, ds: ds},
		{name: "another digest", listed: types.DnssecKey{Id: aws.String("a"), KeyTag: aws.Int32(55648), Algorithm: aws.Int32(13), DigestType: aws.Int32(2), Digest: aws.String(strings.Repeat("0", 64))}, ds: ds},
		{name: "SHA-384 request, SHA-256 listed, key given", listed: types.DnssecKey{Id: aws.String("a"), KeyTag: aws.Int32(55648), Algorithm: aws.Int32(13), DigestType: aws.Int32(2), Digest: aws.String(ds.Digest)}, ds: ds384, key: key, want: true},
		{name: "SHA-384 request, SHA-256 listed, no key", listed: types.DnssecKey{Id: aws.String("a"), KeyTag: aws.Int32(55648), Algorithm: aws.Int32(13), DigestType: aws.Int32(2), Digest: aws.String(ds.Digest)}, ds: ds384},
		{name: "nothing usable", listed: types.DnssecKey{Id: aws.String("a"), PublicKey: aws.String("not base64!")}, ds: ds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := matchKey([]types.DnssecKey{tc.listed}, zone, tc.ds, tc.key) != nil
			if got != tc.want {
				t.Errorf("matchKey(%+v) = %t, want %t", tc.listed, got, tc.want)
			}
		})
	}
}
