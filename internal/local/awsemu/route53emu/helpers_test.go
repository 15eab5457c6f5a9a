package route53emu

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/kmsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// t0 is the fixed start of every test's virtual clock.
var t0 = time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)

// fakeKMS is a small in-memory KMS with the keys a test adds.
type fakeKMS struct {
	mu   sync.Mutex
	keys map[string]*fakeKey
	subs []func(kmsemu.KeyEvent)
}

type fakeKey struct {
	info  kmsemu.KeyInfo
	priv  *ecdsa.PrivateKey
	allow bool
}

func newFakeKMS() *fakeKMS { return &fakeKMS{keys: map[string]*fakeKey{}} }

// addKey adds an enabled ECC_NIST_P256 SIGN_VERIFY key whose policy allows
// Route 53 DNSSEC, and returns its ARN.
func (f *fakeKMS) addKey(id string) string {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	arn := "arn:aws:kms:us-east-1:123456789012:key/" + id
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[arn] = &fakeKey{
		info: kmsemu.KeyInfo{ARN: arn, KeyID: id, Region: Region, Account: AccountID,
			KeySpec: kmsemu.SpecECCNISTP256, KeyUsage: kmsemu.UsageSignVerify, State: kmsemu.StateEnabled},
		priv:  priv,
		allow: true,
	}
	return arn
}

// change edits a key and publishes an event, as kmsemu does.
func (f *fakeKMS) change(arn, kind string, edit func(*fakeKey)) {
	f.mu.Lock()
	edit(f.keys[arn])
	subs := slices.Clone(f.subs)
	f.mu.Unlock()
	for _, fn := range subs {
		fn(kmsemu.KeyEvent{ARN: arn, Kind: kind})
	}
}

func (f *fakeKMS) get(arn string) (*fakeKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.keys[arn]
	if k == nil {
		return nil, fmt.Errorf("%w: %s", kmsemu.ErrKeyNotFound, arn)
	}
	return k, nil
}

func (f *fakeKMS) LookupKey(arn string) (kmsemu.KeyInfo, error) {
	k, err := f.get(arn)
	if err != nil {
		return kmsemu.KeyInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return k.info, nil
}

func (f *fakeKMS) Allows(arn, principal, action string, ctx map[string]string) (bool, error) {
	k, err := f.get(arn)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := k.allow && principal == dnssecPrincipal && ctx["aws:SourceAccount"] == AccountID &&
		strings.HasPrefix(ctx["aws:SourceArn"], "arn:aws:route53:::hostedzone/") &&
		(action == "kms:DescribeKey" || action == "kms:GetPublicKey" || action == "kms:Sign")
	return ok, nil
}

func (f *fakeKMS) Signer(arn string) (crypto.Signer, error) {
	k, err := f.get(arn)
	if err != nil {
		return nil, err
	}
	return fakeSigner{f: f, k: k}, nil
}

type fakeSigner struct {
	f *fakeKMS
	k *fakeKey
}

func (s fakeSigner) Public() crypto.PublicKey { return s.k.priv.Public() }

func (s fakeSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.f.mu.Lock()
	state := s.k.info.State
	s.f.mu.Unlock()
	if state != kmsemu.StateEnabled {
		return nil, fmt.Errorf("%w: %s", kmsemu.ErrKeyDisabled, s.k.info.ARN)
	}
	return s.k.priv.Sign(r, digest, opts)
}

func (f *fakeKMS) PublicKey(arn string) (*ecdsa.PublicKey, error) {
	k, err := f.get(arn)
	if err != nil {
		return nil, err
	}
	return &k.priv.PublicKey, nil
}

func (f *fakeKMS) Subscribe(fn func(kmsemu.KeyEvent)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}

// fakeParent serves what a test sets.
type fakeParent struct {
	mu  sync.Mutex
	ds  map[string][]*dns.DS
	ns  map[string][]string
	err error
}

func newFakeParent() *fakeParent {
	return &fakeParent{ds: map[string][]*dns.DS{}, ns: map[string][]string{}}
}

func (p *fakeParent) setDS(zone string, ds ...*dns.DS) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ds[zone] = ds
}

func (p *fakeParent) setNS(zone string, ns ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ns[zone] = ns
}

func (p *fakeParent) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

func (p *fakeParent) DSServed(_ context.Context, zone string) ([]*dns.DS, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ds[zone], p.err
}

func (p *fakeParent) NSServed(_ context.Context, zone string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ns[zone], p.err
}

// env is one emulator behind httptest with an SDK client.
type env struct {
	svc    *Service
	clk    *clock.Virtual
	kms    *fakeKMS
	parent *fakeParent
	client *route53.Client
	url    string
}

// newEnv starts an emulator on a virtual clock with throttling off (the
// clock does not move by itself) and a 60 s propagation delay.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clk: clock.NewVirtual(t0), kms: newFakeKMS(), parent: newFakeParent()}
	e.svc = New(Options{Clock: e.clk, KMS: e.kms, Parent: e.parent})
	e.svc.SetThrottle(0, 0)
	srv := httptest.NewServer(e.svc)
	t.Cleanup(func() {
		srv.Close()
		e.svc.Close()
	})
	e.url = srv.URL
	e.client = newClient(srv.URL)
	return e
}

func newClient(url string, opts ...func(*route53.Options)) *route53.Client {
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return route53.NewFromConfig(cfg, append([]func(*route53.Options){func(o *route53.Options) {
		o.BaseEndpoint = aws.String(url)
	}}, opts...)...)
}

// withBody replaces the request body the SDK built, to send documents the
// SDK never would (malformed XML).
func withBody(body string) func(*route53.Options) {
	return func(o *route53.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("replaceBody",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					req := in.Request.(*smithyhttp.Request)
					r, err := req.SetStream(strings.NewReader(body))
					if err != nil {
						return middleware.FinalizeOutput{}, middleware.Metadata{}, err
					}
					r.ContentLength = int64(len(body))
					r.Header.Set("Content-Length", fmt.Sprint(len(body)))
					in.Request = r
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

var refs atomic.Int64

// createZone creates a hosted zone and returns its ID (no prefix).
func (e *env) createZone(t *testing.T, name string) string {
	t.Helper()
	out, err := e.client.CreateHostedZone(context.Background(), &route53.CreateHostedZoneInput{
		Name: aws.String(name), CallerReference: aws.String(fmt.Sprintf("ref-%s-%d", name, refs.Add(1))),
	})
	if err != nil {
		t.Fatalf("CreateHostedZone(%s): %v", name, err)
	}
	return strings.TrimPrefix(*out.HostedZone.Id, "/hostedzone/")
}

// change submits one change batch.
func (e *env) change(ctx context.Context, zoneID string, changes ...types.Change) (*route53.ChangeResourceRecordSetsOutput, error) {
	return e.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Changes: changes},
	})
}

func rrChange(action types.ChangeAction, name string, typ types.RRType, ttl int64, values ...string) types.Change {
	rs := &types.ResourceRecordSet{Name: aws.String(name), Type: typ, TTL: aws.Int64(ttl)}
	for _, v := range values {
		rs.ResourceRecords = append(rs.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return types.Change{Action: action, ResourceRecordSet: rs}
}

// createKSK creates a KSK with a new fake KMS key and returns the key ARN.
func (e *env) createKSK(t *testing.T, zoneID, name, status string) string {
	t.Helper()
	arn := e.kms.addKey("key-" + name)
	_, err := e.client.CreateKeySigningKey(context.Background(), &route53.CreateKeySigningKeyInput{
		CallerReference: aws.String("ref-" + name), HostedZoneId: aws.String(zoneID),
		KeyManagementServiceArn: aws.String(arn), Name: aws.String(name), Status: aws.String(status),
	})
	if err != nil {
		t.Fatalf("CreateKeySigningKey(%s): %v", name, err)
	}
	return arn
}

func (e *env) enableSigning(t *testing.T, zoneID string) {
	t.Helper()
	if _, err := e.client.EnableHostedZoneDNSSEC(context.Background(), &route53.EnableHostedZoneDNSSECInput{HostedZoneId: aws.String(zoneID)}); err != nil {
		t.Fatalf("EnableHostedZoneDNSSEC: %v", err)
	}
}

// errCode returns the API error code of err ("" for nil).
func errCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}
