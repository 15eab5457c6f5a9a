package steps

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnssec"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

const manualTopic = "arn:aws:sns:us-east-1:123456789012:dnssec-manual"

// fakeSNS records the messages published, or fails every call with fail.
type fakeSNS struct {
	mu   sync.Mutex
	fail error
	msgs []string
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	f.msgs = append(f.msgs, aws.ToString(in.Message))
	return &sns.PublishOutput{MessageId: aws.String("m1")}, nil
}

// manualState is the state of enable-signing at publish-ds with the given
// publisher, over a handler whose SNS client is f.
func manualState(t *testing.T, f *fakeSNS, pub dspublish.Settings) (*Handler, *State) {
	t.Helper()
	h, err := New(Config{AccountID: account}, Deps{
		Clients:     Clients{Route53: newFakeRoute53(), KMS: newFakeKMS(), SNS: f},
		Observer:    &fakeObserver{snap: delegated(zoneNS...)},
		NewResolver: func() (Resolver, error) { return &fakeResolver{status: map[string]dnssec.Status{}}, nil },
		Now:         func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := newRotKey(t, 257).ref(newName, "arn:aws:kms:us-east-1:123456789012:key/new")
	return h, &State{Workflow: rollover.WorkflowEnable, ExecutionARN: execution.ARN, StartTime: execution.StartTime, HostedZoneID: zoneID, Zone: zone,
		Publisher: pub, MarginSeconds: 3600, LockHeld: true, KSK: &ref, History: rollover.NewHistory(zone)}
}

// TestPublishDSTaskToken: with a task token (waitForCallback), publish-ds
// sends the token and the commands that answer it once; a call given the
// state it returned sends nothing more, a new token (a retried Task state)
// is sent again, a busy SNS is a ServiceBusyError (nobody would answer a
// token never sent), and a token is refused for a publisher a person does
// not run.
func TestPublishDSTaskToken(t *testing.T) {
	manual := dspublish.Settings{Kind: dspublish.KindManual, TopicARN: manualTopic, WaitForCallback: true}
	ctx := context.Background()
	t.Run("sent once", func(t *testing.T) {
		f := &fakeSNS{}
		h, s := manualState(t, f, manual)
		ev := Event{Execution: execution, State: s, Action: ActionAdd, Key: KeyNew, TaskToken: "AQCEtoken-1=="}
		got, err := h.PublishDS(ctx, ev)
		if err != nil {
			t.Fatalf("PublishDS: %v", err)
		}
		if len(f.msgs) != 1 {
			t.Fatalf("published %d messages, want 1", len(f.msgs))
		}
		for _, want := range []string{
			"dnssecctl task success --token 'AQCEtoken-1=='",
			"aws stepfunctions send-task-success --task-token 'AQCEtoken-1=='",
			"dnssecctl task failure --token 'AQCEtoken-1=='",
			"still observes every parent server",
			strings.ToUpper(s.KSK.DSRR(zone).Digest),
		} {
			if !strings.Contains(strings.ToUpper(f.msgs[0]), strings.ToUpper(want)) {
				t.Errorf("message lacks %q:\n%s", want, f.msgs[0])
			}
		}
		if got.DSOperation == "" {
			t.Errorf("DSOperation empty: a retry could not know the message was sent")
		}
		key := got.DSOperation
		ev.State = &got
		if _, err := h.PublishDS(ctx, ev); err != nil {
			t.Fatalf("PublishDS again: %v", err)
		}
		if len(f.msgs) != 1 {
			t.Errorf("the second call published: %d messages, want 1", len(f.msgs))
		}
		ev2 := Event{Execution: execution, State: &got, Action: ActionAdd, Key: KeyNew, TaskToken: "AQCEtoken-2=="}
		third, err := h.PublishDS(ctx, ev2)
		if err != nil {
			t.Fatalf("PublishDS with a new token: %v", err)
		}
		if len(f.msgs) != 2 || !strings.Contains(f.msgs[1], "AQCEtoken-2==") {
			t.Errorf("a new token was not sent: %d messages", len(f.msgs))
		}
		if third.DSOperation == key {
			t.Errorf("a new token kept the message key %s: a FIFO topic would drop the message with the live token", key)
		}
	})
	t.Run("sns busy", func(t *testing.T) {
		f := &fakeSNS{fail: apiErr("Throttling")}
		h, s := manualState(t, f, manual)
		_, err := h.PublishDS(ctx, Event{Execution: execution, State: s, Action: ActionAdd, Key: KeyNew, TaskToken: "AQCEtoken-1=="})
		if errName(err) != "ServiceBusyError" {
			t.Errorf("PublishDS with SNS busy = %v (%s), want ServiceBusyError", err, errName(err))
		}
	})
	t.Run("without a token the busy topic is polled", func(t *testing.T) {
		f := &fakeSNS{fail: apiErr("Throttling")}
		h, s := manualState(t, f, dspublish.Settings{Kind: dspublish.KindManual, TopicARN: manualTopic})
		if _, err := h.PublishDS(ctx, Event{Execution: execution, State: s, Action: ActionAdd, Key: KeyNew}); err != nil {
			t.Errorf("PublishDS without a token, SNS busy = %v, want nil (verify-ds observes the parent)", err)
		}
	})
	t.Run("not manual", func(t *testing.T) {
		f := &fakeSNS{}
		h, s := manualState(t, f, *publisherSettings())
		_, err := h.PublishDS(ctx, Event{Execution: execution, State: s, Action: ActionAdd, Key: KeyNew, TaskToken: "AQCEtoken-1=="})
		if errName(err) != "StateError" {
			t.Errorf("PublishDS with a token for %s = %v (%s), want StateError", publisherSettings().Kind, err, errName(err))
		}
	})
}
