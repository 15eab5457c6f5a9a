package steps

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
)

// repairKMS is fakeKMS with the repairs of alarm-response, counted.
type repairKMS struct {
	*fakeKMS
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]error // operation -> error
}

func (f *repairKMS) count(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[op]; err != nil {
		return err
	}
	f.calls[op]++
	return nil
}

func (f *repairKMS) set(id string, change func(k *fakeKey)) error {
	f.fakeKMS.mu.Lock()
	defer f.fakeKMS.mu.Unlock()
	k, err := f.lookup(id)
	if err != nil {
		return err
	}
	change(k)
	return nil
}

func (f *repairKMS) EnableKey(_ context.Context, in *kms.EnableKeyInput, _ ...func(*kms.Options)) (*kms.EnableKeyOutput, error) {
	if err := f.count("EnableKey"); err != nil {
		return nil, err
	}
	return &kms.EnableKeyOutput{}, f.set(aws.ToString(in.KeyId), func(k *fakeKey) { k.md.KeyState = kmstypes.KeyStateEnabled })
}

func (f *repairKMS) CancelKeyDeletion(_ context.Context, in *kms.CancelKeyDeletionInput, _ ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error) {
	if err := f.count("CancelKeyDeletion"); err != nil {
		return nil, err
	}
	return &kms.CancelKeyDeletionOutput{}, f.set(aws.ToString(in.KeyId), func(k *fakeKey) {
		k.md.KeyState, k.md.DeletionDate = kmstypes.KeyStateDisabled, nil
	})
}

func (f *repairKMS) PutKeyPolicy(_ context.Context, in *kms.PutKeyPolicyInput, _ ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error) {
	if err := f.count("PutKeyPolicy"); err != nil {
		return nil, err
	}
	return &kms.PutKeyPolicyOutput{}, f.set(aws.ToString(in.KeyId), func(k *fakeKey) { k.policy = aws.ToString(in.Policy) })
}

// alarmSNS keeps what is published.
type alarmSNS struct {
	mu   sync.Mutex
	msgs []*sns.PublishInput
}

func (f *alarmSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, in)
	return &sns.PublishOutput{MessageId: aws.String("m1")}, nil
}

// alarmFixture is a Handler over the fakes with the repairs and SNS.
type alarmFixture struct {
	*fixture
	kms *repairKMS
	sns *alarmSNS
	now time.Time
}

const topic = "arn:aws:sns:us-east-1:123456789012:dnssec"

func newAlarmFixture(t *testing.T, off ...string) *alarmFixture {
	t.Helper()
	f := &alarmFixture{fixture: newFixture(t), sns: &alarmSNS{}, now: t0}
	f.kms = &repairKMS{fakeKMS: f.fixture.kms, calls: map[string]int{}, fail: map[string]error{}}
	h, err := New(Config{AccountID: account, DefaultTopicARN: topic, AlarmRepairsOff: off}, Deps{
		Clients:     Clients{Route53: f.r53, KMS: f.kms, SNS: f.sns},
		Observer:    f.obs,
		NewResolver: func() (Resolver, error) { return f.res, nil },
		Now:         func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.res.status = map[string]dnssec.Status{}
	return f
}

// workflowKey adds an enabled key with the documented policy, tagged as the
// workflows tag the keys they create (untagged when tagged is false).
func (f *alarmFixture) key(state kmstypes.KeyState, tagged bool) string {
	var tags []kmstypes.Tag
	if tagged {
		tags = []kmstypes.Tag{{TagKey: aws.String(TagZone), TagValue: aws.String("example.test")}, {TagKey: aws.String(TagHostedZoneID), TagValue: aws.String(zoneID)}}
	}
	return f.kms.add(kmstypes.KeySpecEccNistP256, kmstypes.KeyUsageTypeSignVerify, state, KeyPolicy(account, zoneID).String(), tags...)
}
