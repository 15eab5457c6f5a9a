package sfnemu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

var testStart = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

const role = "arn:aws:iam::123456789012:role/dnssec-autopilot"

// Toy definitions: a Pass machine, a Lambda that doubles, a Lambda that
// fails with a named error, and a Wait followed by a task-token callback.
const (
	passDef   = `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":true},"ResultPath":"$.pass","End":true}}}`
	doubleDef = `{"StartAt":"Double","States":{"Double":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"double","Payload.$":"$"},"OutputPath":"$.Payload","End":true}}}`
	failDef = `{"StartAt":"Check","States":{"Check":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"check","Payload.$":"$"},"End":true}}}`
	callbackDef = `{"StartAt":"Gate","States":{
		"Gate":{"Type":"Wait","Seconds":3600,"Next":"PublishDS"},
		"PublishDS":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
			"Parameters":{"FunctionName":"notify","Payload":{"token.$":"$$.Task.Token","zone.$":"$.zone"}},
			"HeartbeatSeconds":600,"End":true}}}`
)

// ZoneNotDelegatedError is a named handler error, as the step handlers
// return them.
type ZoneNotDelegatedError struct{ Zone string }

func (e ZoneNotDelegatedError) Error() string {
	return e.Zone + " is not delegated to its Route 53 name servers"
}

type stack struct {
	client *sfn.Client
	svc    *Service
	runner *asl.Runner
	clock  *clock.Virtual
	tokens chan string
	url    string
}

func newStack(t *testing.T, opts ...Option) *stack {
	t.Helper()
	st := &stack{clock: clock.NewVirtual(testStart), tokens: make(chan string, 16)}
	st.runner = asl.NewRunner(st.clock, asl.Options{OnEvent: func(e *asl.Execution, ev asl.Event) {
		if st.svc != nil {
			st.svc.OnEvent(e, ev)
		}
	}})
	st.runner.Register("double", func(in struct{ N int }) (struct{ N int }, error) { return struct{ N int }{in.N * 2}, nil })
	st.runner.Register("check", func(in struct{ Zone string }) (struct{}, error) {
		return struct{}{}, ZoneNotDelegatedError{in.Zone}
	})
	st.runner.Register("notify", func(in struct{ Token string }) error {
		st.tokens <- in.Token
		return nil
	})
	st.svc = New(st.clock, st.runner, opts...)
	srv := httptest.NewServer(st.svc)
	t.Cleanup(srv.Close)
	st.url = srv.URL
	st.client = newClient(srv.URL, "us-east-1")
	return st
}

func newClient(url, region string) *sfn.Client {
	return sfn.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "SECRETLOCAL", ""),
		BaseEndpoint: aws.String(url),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	})
}

func (st *stack) create(t *testing.T, name, def string) string {
	t.Helper()
	out, err := st.client.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatalf("CreateStateMachine(%s) = %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

func (st *stack) start(t *testing.T, smARN, name, input string) string {
	t.Helper()
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN), Input: aws.String(input)}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := st.client.StartExecution(context.Background(), in)
	if err != nil {
		t.Fatalf("StartExecution = %v", err)
	}
	return aws.ToString(out.ExecutionArn)
}

// waitStatus polls DescribeExecution until the execution leaves RUNNING.
func (st *stack) waitDone(t *testing.T, execARN string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		out, err := st.client.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execARN)})
		if err != nil {
			t.Fatalf("DescribeExecution = %v", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
	}
	t.Fatalf("execution %s still RUNNING after 5s", execARN)
	return nil
}

func (st *stack) token(t *testing.T) string {
	t.Helper()
	select {
	case tok := <-st.tokens:
		return tok
	case <-time.After(5 * time.Second):
		t.Fatal("no task token handed to the notify handler within 5s")
		return ""
	}
}

// wantCode checks that err is the typed SDK error T with the code.
func wantCode[T error](t *testing.T, what string, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Errorf("%s = %v (%T), want %T", what, err, err, target)
	}
}

func wantAPICode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s = %v, want API error %s", what, err, code)
	}
}

func TestCreateStateMachine(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	smARN := st.create(t, "rotate-ksk", passDef)
	if want := "arn:aws:states:us-east-1:123456789012:stateMachine:rotate-ksk"; smARN != want {
		t.Errorf("CreateStateMachine ARN = %s, want %s", smARN, want)
	}
	// Idempotent on the same name and definition, even with another role.
	again, err := st.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name: aws.String("rotate-ksk"), Definition: aws.String(passDef), RoleArn: aws.String("arn:aws:iam::123456789012:role/other")})
	if err != nil || aws.ToString(again.StateMachineArn) != smARN {
		t.Errorf("CreateStateMachine again = %v, %v, want the same ARN", again, err)
	}

	tests := []struct {
		name  string
		in    sfn.CreateStateMachineInput
		check func(t *testing.T, err error)
	}{
		{"same name, other definition", sfn.CreateStateMachineInput{Name: aws.String("rotate-ksk"), Definition: aws.String(doubleDef), RoleArn: aws.String(role)},
			func(t *testing.T, err error) {
				wantCode[*types.StateMachineAlreadyExists](t, "CreateStateMachine", err)
			}},
		{"definition not JSON", sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{"StartAt":`), RoleArn: aws.String(role)},
			func(t *testing.T, err error) { wantCode[*types.InvalidDefinition](t, "CreateStateMachine", err) }},
		{"unknown field names the state", sfn.CreateStateMachineInput{Name: aws.String("bad"), RoleArn: aws.String(role),
			Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","Bogus":1,"End":true}}}`)},
			func(t *testing.T, err error) {
				var id *types.InvalidDefinition
				if !errors.As(err, &id) || !strings.Contains(id.ErrorMessage(), "P") || !strings.Contains(id.ErrorMessage(), "Bogus") {
					t.Errorf("CreateStateMachine = %v, want InvalidDefinition naming state P and field Bogus", err)
				}
			}},
		{"invalid name", sfn.CreateStateMachineInput{Name: aws.String("rotate ksk"), Definition: aws.String(passDef), RoleArn: aws.String(role)},
			func(t *testing.T, err error) { wantCode[*types.InvalidName](t, "CreateStateMachine", err) }},
		{"name too long", sfn.CreateStateMachineInput{Name: aws.String(strings.Repeat("a", 81)), Definition: aws.String(passDef), RoleArn: aws.String(role)},
			func(t *testing.T, err error) { wantCode[*types.InvalidName](t, "CreateStateMachine", err) }},
		{"role not an IAM role ARN", sfn.CreateStateMachineInput{Name: aws.String("x"), Definition: aws.String(passDef), RoleArn: aws.String("role")},
			func(t *testing.T, err error) { wantCode[*types.InvalidArn](t, "CreateStateMachine", err) }},
		{"express", sfn.CreateStateMachineInput{Name: aws.String("x"), Definition: aws.String(passDef), RoleArn: aws.String(role), Type: types.StateMachineTypeExpress},
			func(t *testing.T, err error) {
				wantCode[*types.StateMachineTypeNotSupported](t, "CreateStateMachine", err)
			}},
		{"unknown type", sfn.CreateStateMachineInput{Name: aws.String("x"), Definition: aws.String(passDef), RoleArn: aws.String(role), Type: "BATCH"},
			func(t *testing.T, err error) { wantCode[*types.ValidationException](t, "CreateStateMachine", err) }},
		{"empty definition", sfn.CreateStateMachineInput{Name: aws.String("x"), Definition: aws.String(""), RoleArn: aws.String(role)},
			func(t *testing.T, err error) { wantCode[*types.ValidationException](t, "CreateStateMachine", err) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			_, err := st.client.CreateStateMachine(ctx, &in)
			tc.check(t, err)
		})
	}
}

func TestDescribeAndListStateMachines(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	sm, err := asl.Load([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"${Topic}","End":true}}}`),
		map[string]string{"Topic": "arn:aws:sns:us-east-1:123456789012:dnssec"})
	if err != nil {
		t.Fatal(err)
	}
	regARN, err := st.svc.RegisterStateMachine("enable-signing", sm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.svc.RegisterStateMachine("bad name", sm); err == nil {
		t.Error("RegisterStateMachine(\"bad name\") = nil error, want invalid name")
	}
	st.create(t, "rotate-ksk", passDef)
	st.create(t, "disable-signing", passDef)

	d, err := st.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(regARN)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.Name) != "enable-signing" || d.Status != types.StateMachineStatusActive || d.Type != types.StateMachineTypeStandard ||
		!strings.Contains(aws.ToString(d.Definition), "arn:aws:sns:us-east-1:123456789012:dnssec") || !d.CreationDate.Equal(testStart) {
		t.Errorf("DescribeStateMachine = name %s status %s type %s created %v definition %s, want the registered machine with its substitution",
			aws.ToString(d.Name), d.Status, d.Type, d.CreationDate, aws.ToString(d.Definition))
	}
	_, err = st.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:nope")})
	wantCode[*types.StateMachineDoesNotExist](t, "DescribeStateMachine(unknown)", err)
	_, err = st.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:eu-west-1:123456789012:stateMachine:rotate-ksk")})
	wantCode[*types.StateMachineDoesNotExist](t, "DescribeStateMachine(other region)", err)
	_, err = st.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("rotate-ksk")})
	wantCode[*types.InvalidArn](t, "DescribeStateMachine(name)", err)
	_, err = st.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:rotate-ksk:x")})
	wantCode[*types.InvalidArn](t, "DescribeStateMachine(execution ARN)", err)

	var names []string
	p := sfn.NewListStateMachinesPaginator(st.client, &sfn.ListStateMachinesInput{MaxResults: 2})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, m := range out.StateMachines {
			names = append(names, aws.ToString(m.Name))
		}
	}
	if want := []string{"disable-signing", "enable-signing", "rotate-ksk"}; !cmp.Equal(names, want) || pages != 2 {
		t.Errorf("ListStateMachines pages = %d, names %v, want 2 pages of %v", pages, names, want)
	}
	_, err = st.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{NextToken: aws.String("garbage")})
	wantCode[*types.InvalidToken](t, "ListStateMachines(bad token)", err)
	// ValidationException is not in ListStateMachines' model: the SDK
	// gives a generic API error with the code, as against AWS.
	_, err = st.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{MaxResults: 1001})
	wantAPICode(t, "ListStateMachines(MaxResults 1001)", err, "ValidationException")
}

func TestExecutions(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	doubleARN := st.create(t, "double", doubleDef)
	failARN := st.create(t, "check", failDef)
	cbARN := st.create(t, "callback", callbackDef)

	ok := st.start(t, doubleARN, "", `{"N":21}`)
	d := st.waitDone(t, ok)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"N":42}` || aws.ToString(d.Input) != `{"N":21}` ||
		aws.ToString(d.StateMachineArn) != doubleARN || d.StopDate == nil || !d.StartDate.Equal(testStart) {
		t.Errorf("DescribeExecution(double) = %s output %s input %s sm %s stop %v start %v, want SUCCEEDED {\"N\":42}",
			d.Status, aws.ToString(d.Output), aws.ToString(d.Input), aws.ToString(d.StateMachineArn), d.StopDate, d.StartDate)
	}

	bad := st.start(t, failARN, "check-1", `{"Zone":"example.test"}`)
	d = st.waitDone(t, bad)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "ZoneNotDelegatedError" ||
		!strings.Contains(aws.ToString(d.Cause), "example.test is not delegated") || d.Output != nil {
		t.Errorf("DescribeExecution(check) = %s error %s cause %s output %v, want FAILED ZoneNotDelegatedError",
			d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), d.Output)
	}

	// Same name: idempotent while running with the same input, refused
	// with another input or once closed.
	run1 := st.start(t, cbARN, "run-1", `{"zone":"example.test"}`)
	if again := st.start(t, cbARN, "run-1", `{"zone":"example.test"}`); again != run1 {
		t.Errorf("StartExecution(same name and input) = %s, want %s", again, run1)
	}
	tok := st.token(t)

	errTests := []struct {
		name  string
		in    sfn.StartExecutionInput
		check func(t *testing.T, err error)
	}{
		{"same name, other input", sfn.StartExecutionInput{StateMachineArn: aws.String(cbARN), Name: aws.String("run-1"), Input: aws.String(`{"zone":"other.test"}`)},
			func(t *testing.T, err error) { wantCode[*types.ExecutionAlreadyExists](t, "StartExecution", err) }},
		{"name of a closed execution", sfn.StartExecutionInput{StateMachineArn: aws.String(failARN), Name: aws.String("check-1"), Input: aws.String(`{"Zone":"example.test"}`)},
			func(t *testing.T, err error) { wantCode[*types.ExecutionAlreadyExists](t, "StartExecution", err) }},
		{"input not JSON", sfn.StartExecutionInput{StateMachineArn: aws.String(cbARN), Input: aws.String(`{zone}`)},
			func(t *testing.T, err error) { wantCode[*types.InvalidExecutionInput](t, "StartExecution", err) }},
		{"input over 256 KiB", sfn.StartExecutionInput{StateMachineArn: aws.String(cbARN), Input: aws.String(`"` + strings.Repeat("a", 256*1024) + `"`)},
			func(t *testing.T, err error) { wantCode[*types.ValidationException](t, "StartExecution", err) }},
		{"invalid name", sfn.StartExecutionInput{StateMachineArn: aws.String(cbARN), Name: aws.String("a:b")},
			func(t *testing.T, err error) { wantCode[*types.InvalidName](t, "StartExecution", err) }},
		{"unknown state machine", sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:nope")},
			func(t *testing.T, err error) { wantCode[*types.StateMachineDoesNotExist](t, "StartExecution", err) }},
		{"not an ARN", sfn.StartExecutionInput{StateMachineArn: aws.String("callback")},
			func(t *testing.T, err error) { wantCode[*types.InvalidArn](t, "StartExecution", err) }},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			_, err := st.client.StartExecution(ctx, &in)
			tc.check(t, err)
		})
	}

	// The Wait has passed on the virtual clock; the callback holds it.
	d, err := st.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(run1)})
	if err != nil || d.Status != types.ExecutionStatusRunning || d.StopDate != nil {
		t.Errorf("DescribeExecution(run-1) = %v, %v, want RUNNING without stopDate", d, err)
	}

	list := func(smARN string, status types.ExecutionStatus) []string {
		t.Helper()
		var arns []string
		p := sfn.NewListExecutionsPaginator(st.client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smARN), StatusFilter: status, MaxResults: 1})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListExecutions = %v", err)
			}
			for _, x := range out.Executions {
				arns = append(arns, aws.ToString(x.ExecutionArn))
			}
		}
		return arns
	}
	second := st.start(t, doubleARN, "second", `{"N":1}`)
	st.waitDone(t, second)
	if got, want := list(doubleARN, ""), []string{second, ok}; !cmp.Equal(got, want) {
		t.Errorf("ListExecutions(double) = %v, want most recent first %v", got, want)
	}
	if got, want := list(cbARN, types.ExecutionStatusRunning), []string{run1}; !cmp.Equal(got, want) {
		t.Errorf("ListExecutions(callback, RUNNING) = %v, want %v", got, want)
	}
	if got := list(cbARN, types.ExecutionStatusSucceeded); len(got) != 0 {
		t.Errorf("ListExecutions(callback, SUCCEEDED) = %v, want none", got)
	}
	_, err = st.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(doubleARN), StatusFilter: "DONE"})
	wantCode[*types.ValidationException](t, "ListExecutions(bad statusFilter)", err)
	_, err = st.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(doubleARN), NextToken: aws.String("bm9wZQ")})
	wantCode[*types.InvalidToken](t, "ListExecutions(bad token)", err)
	_, err = st.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:123456789012:stateMachine:nope")})
	wantCode[*types.StateMachineDoesNotExist](t, "ListExecutions(unknown)", err)
	_, err = st.client.ListExecutions(ctx, &sfn.ListExecutionsInput{})
	wantCode[*types.ValidationException](t, "ListExecutions(no ARN)", err)

	if _, err := st.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{"published":true}`)}); err != nil {
		t.Fatal(err)
	}
	if d := st.waitDone(t, run1); d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"published":true}` {
		t.Errorf("DescribeExecution(run-1) after SendTaskSuccess = %s %s, want SUCCEEDED with the task output", d.Status, aws.ToString(d.Output))
	}
	if !d.StartDate.Equal(testStart) {
		t.Errorf("run-1 startDate = %v, want %v", d.StartDate, testStart)
	}

	for _, tc := range []struct {
		name string
		arn  string
		want func(t *testing.T, err error)
	}{
		{"unknown", "arn:aws:states:us-east-1:123456789012:execution:callback:nope", func(t *testing.T, err error) {
			wantCode[*types.ExecutionDoesNotExist](t, "DescribeExecution", err)
		}},
		{"state machine ARN", cbARN, func(t *testing.T, err error) { wantCode[*types.InvalidArn](t, "DescribeExecution", err) }},
		{"garbage", "nope", func(t *testing.T, err error) { wantCode[*types.InvalidArn](t, "DescribeExecution", err) }},
	} {
		t.Run("describe "+tc.name, func(t *testing.T) {
			_, err := st.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(tc.arn)})
			tc.want(t, err)
		})
	}
}

func TestGetExecutionHistory(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	cbARN := st.create(t, "callback", callbackDef)
	x := st.start(t, cbARN, "h", `{"zone":"example.test"}`)
	tok := st.token(t)
	if _, err := st.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{}`)}); err != nil {
		t.Fatal(err)
	}
	st.waitDone(t, x)

	history := func(reverse bool, size int32, include *bool) ([]types.HistoryEvent, int) {
		t.Helper()
		var evs []types.HistoryEvent
		pages := 0
		p := sfn.NewGetExecutionHistoryPaginator(st.client, &sfn.GetExecutionHistoryInput{
			ExecutionArn: aws.String(x), ReverseOrder: reverse, MaxResults: size, IncludeExecutionData: include})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("GetExecutionHistory = %v", err)
			}
			pages++
			evs = append(evs, out.Events...)
		}
		return evs, pages
	}
	all, pages := history(false, 0, nil)
	var typesSeen []string
	for _, ev := range all {
		typesSeen = append(typesSeen, string(ev.Type))
	}
	want := []string{"ExecutionStarted", "WaitStateEntered", "WaitStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted",
		"TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"}
	if !cmp.Equal(typesSeen, want) || pages != 1 {
		t.Fatalf("GetExecutionHistory types = %v in %d pages, want %v in 1", typesSeen, pages, want)
	}
	if in := aws.ToString(all[0].ExecutionStartedEventDetails.Input); in != `{"zone":"example.test"}` {
		t.Errorf("ExecutionStarted input = %s, want the execution input", in)
	}
	if e := all[1].StateEnteredEventDetails; e == nil || aws.ToString(e.Name) != "Gate" {
		t.Errorf("event 2 details = %+v, want state Gate entered", e)
	}
	if got := all[3].Timestamp.Sub(testStart); got != time.Hour {
		t.Errorf("PublishDS entered %v after the start, want 1h (the Wait on the virtual clock)", got)
	}
	if s := all[4].TaskScheduledEventDetails; s == nil || aws.ToInt64(s.HeartbeatInSeconds) != 600 || aws.ToString(s.Resource) != "invoke.waitForTaskToken" {
		t.Errorf("TaskScheduled details = %+v, want heartbeat 600 and resource invoke.waitForTaskToken", s)
	}

	paged, pages := history(false, 3, nil)
	if len(paged) != len(all) || pages != 4 {
		t.Errorf("GetExecutionHistory(MaxResults 3) = %d events in %d pages, want %d in 4", len(paged), pages, len(all))
	}
	rev, _ := history(true, 4, nil)
	for i := range rev {
		if rev[i].Id != all[len(all)-1-i].Id {
			t.Fatalf("GetExecutionHistory(reverse)[%d].Id = %d, want %d", i, rev[i].Id, all[len(all)-1-i].Id)
		}
	}
	bare, _ := history(false, 0, aws.Bool(false))
	if d := bare[0].ExecutionStartedEventDetails; d == nil || d.Input != nil || aws.ToString(d.RoleArn) == "" {
		t.Errorf("ExecutionStarted without execution data = %+v, want no input but the role", d)
	}

	_, err := st.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(x), NextToken: aws.String("bm9wZQ")})
	wantCode[*types.InvalidToken](t, "GetExecutionHistory(bad token)", err)
	first, err := st.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(x), MaxResults: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(x), ReverseOrder: true, NextToken: first.NextToken})
	wantCode[*types.InvalidToken](t, "GetExecutionHistory(forward token, reverse order)", err)
	_, err = st.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:callback:nope")})
	wantCode[*types.ExecutionDoesNotExist](t, "GetExecutionHistory(unknown)", err)
	_, err = st.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(cbARN)})
	wantCode[*types.InvalidArn](t, "GetExecutionHistory(state machine ARN)", err)
}

func TestTaskTokens(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	cbARN := st.create(t, "callback", callbackDef)

	x := st.start(t, cbARN, "fail", `{"zone":"example.test"}`)
	tok := st.token(t)
	if _, err := st.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(tok)}); err != nil {
		t.Errorf("SendTaskHeartbeat = %v", err)
	}
	_, err := st.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{not json`)})
	wantCode[*types.InvalidOutput](t, "SendTaskSuccess(output not JSON)", err)
	_, err = st.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(tok), Error: aws.String(strings.Repeat("E", 257))})
	wantAPICode(t, "SendTaskFailure(error too long)", err, "ValidationException")
	if _, err := st.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(tok),
		Error: aws.String("DSNotPublishedError"), Cause: aws.String("the registrar refused the DS")}); err != nil {
		t.Fatal(err)
	}
	d := st.waitDone(t, x)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "DSNotPublishedError" || aws.ToString(d.Cause) != "the registrar refused the DS" {
		t.Errorf("after SendTaskFailure: %s %s %s, want FAILED DSNotPublishedError with the cause", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}

	// The heartbeat lapses on the virtual clock. The runner arms the
	// heartbeat timer just after the handler returns: advance until it
	// has fired.
	y := st.start(t, cbARN, "lapse", `{"zone":"example.test"}`)
	lapsed := st.token(t)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		st.clock.Advance(601 * time.Second)
		if d, err := st.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(y)}); err != nil || d.Status != types.ExecutionStatusRunning {
			break
		}
	}
	if d := st.waitDone(t, y); d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != asl.ErrHeartbeatTimeout {
		t.Errorf("after the heartbeat lapsed: %s %s, want FAILED %s", d.Status, aws.ToString(d.Error), asl.ErrHeartbeatTimeout)
	}

	neverIssued := "MDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAwMDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAw"
	tests := []struct {
		name  string
		token string
		check func(t *testing.T, err error)
	}{
		{"answered", tok, func(t *testing.T, err error) { wantCode[*types.TaskTimedOut](t, "", err) }},
		{"heartbeat lapsed", lapsed, func(t *testing.T, err error) { wantCode[*types.TaskTimedOut](t, "", err) }},
		{"never issued", neverIssued, func(t *testing.T, err error) { wantCode[*types.TaskDoesNotExist](t, "", err) }},
		{"not a token", "hello", func(t *testing.T, err error) { wantCode[*types.InvalidToken](t, "", err) }},
		{"empty", "", func(t *testing.T, err error) { wantAPICode(t, "", err, "ValidationException") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tc.token), Output: aws.String(`{}`)})
			tc.check(t, err)
			_, err = st.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(tc.token)})
			tc.check(t, err)
			_, err = st.client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(tc.token)})
			tc.check(t, err)
		})
	}
}

func TestStopExecution(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	cbARN := st.create(t, "callback", callbackDef)
	x := st.start(t, cbARN, "stop-me", `{"zone":"example.test"}`)
	tok := st.token(t)
	out, err := st.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(x), Error: aws.String("Operator"), Cause: aws.String("wrong zone")})
	if err != nil {
		t.Fatal(err)
	}
	d := st.waitDone(t, x)
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Operator" || aws.ToString(d.Cause) != "wrong zone" || !d.StopDate.Equal(*out.StopDate) {
		t.Errorf("after StopExecution: %s %s %s stop %v, want ABORTED Operator: wrong zone at %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), d.StopDate, out.StopDate)
	}
	again, err := st.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(x)})
	if err != nil || !again.StopDate.Equal(*out.StopDate) {
		t.Errorf("StopExecution(closed) = %v, %v, want the first stop date", again, err)
	}
	_, err = st.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(tok), Output: aws.String(`{}`)})
	wantCode[*types.TaskTimedOut](t, "SendTaskSuccess(execution stopped)", err)
	_, err = st.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:callback:nope")})
	wantCode[*types.ExecutionDoesNotExist](t, "StopExecution(unknown)", err)
	_, err = st.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String("nope")})
	wantCode[*types.InvalidArn](t, "StopExecution(garbage)", err)
	_, err = st.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(x), Cause: aws.String(strings.Repeat("c", 32769))})
	wantCode[*types.ValidationException](t, "StopExecution(cause too long)", err)
}

// TestChildExecutionsListed: a states:startExecution.sync:2 task starts a
// child execution that ListExecutions and DescribeExecution know.
func TestChildExecutionsListed(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	childARN := st.create(t, "child", doubleDef)
	parent := st.create(t, "parent", `{"StartAt":"Run","States":{"Run":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
		"Parameters":{"StateMachineArn":"`+childARN+`","Input":{"N":2}},"OutputPath":"$.Output","End":true}}}`)
	x := st.start(t, parent, "", `{}`)
	if d := st.waitDone(t, x); d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"N":4}` {
		t.Fatalf("parent = %s %s %s, want SUCCEEDED {\"N\":4}", d.Status, aws.ToString(d.Output), aws.ToString(d.Cause))
	}
	out, err := st.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(childARN)})
	if err != nil || len(out.Executions) != 1 {
		t.Fatalf("ListExecutions(child) = %v, %v, want the one child execution", out, err)
	}
	d, err := st.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.Executions[0].ExecutionArn})
	if err != nil || d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.StateMachineArn) != childARN {
		t.Errorf("DescribeExecution(child) = %v, %v, want SUCCEEDED of the child machine", d, err)
	}
}

func TestProtocolErrors(t *testing.T) {
	st := newStack(t, WithThrottle(1, 2))
	ctx := context.Background()

	post := func(target, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, st.url, strings.NewReader(body))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", string(awsjson.JSON10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Type
	}
	st.clock.Advance(time.Hour) // refill the bucket between raw requests
	for _, tc := range []struct {
		name, target, body string
		wantStatus         int
		wantCode           string
	}{
		{"unknown operation", "AWSStepFunctions.CreateActivity", `{}`, 400, "UnknownOperationException"},
		{"other service", "TrentService.Sign", `{}`, 400, "UnknownOperationException"},
		{"malformed body", "AWSStepFunctions.StartExecution", `{"stateMachineArn":`, 400, "SerializationException"},
		{"missing required member", "AWSStepFunctions.DescribeExecution", `{}`, 400, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st.clock.Advance(time.Hour)
			status, code := post(tc.target, tc.body)
			if status != tc.wantStatus || code != tc.wantCode {
				t.Errorf("POST %s %s = %d %s, want %d %s", tc.target, tc.body, status, code, tc.wantStatus, tc.wantCode)
			}
		})
	}

	st.clock.Advance(time.Hour)
	_, err := newClient(st.url, "eu-west-1").ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	wantAPICode(t, "ListStateMachines(eu-west-1)", err, "UnrecognizedClientException")

	st.clock.Advance(time.Hour)
	st.svc.InjectError("StartExecution", "ExecutionLimitExceeded", 1)
	smARN := st.create(t, "pass", passDef)
	_, err = st.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN)})
	wantCode[*types.ExecutionLimitExceeded](t, "StartExecution(injected)", err)
	st.svc.InjectError("StartExecution", "ServiceUnavailable", 1)
	st.svc.InjectError("StartExecution", "", 0)
	st.clock.Advance(time.Hour)
	if _, err := st.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smARN)}); err != nil {
		t.Errorf("StartExecution after clearing faults = %v", err)
	}

	st.clock.Advance(time.Hour)
	var throttled error
	for range 3 {
		if _, err := st.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
			throttled = err
		}
	}
	wantAPICode(t, "ListStateMachines past the bucket", throttled, "ThrottlingException")
	st.svc.SetThrottle(0, 0)
	if _, err := st.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
		t.Errorf("ListStateMachines without throttle = %v", err)
	}
}

// TestMisconfiguredRunner: a service and a runner that disagree on the
// region are refused loudly, never half-working.
func TestMisconfiguredRunner(t *testing.T) {
	clk := clock.NewVirtual(testStart)
	runner := asl.NewRunner(clk, asl.Options{}) // us-east-1
	svc := New(clk, runner, WithRegion("eu-west-1"))
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	_, err := newClient(srv.URL, "eu-west-1").CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name: aws.String("x"), Definition: aws.String(passDef), RoleArn: aws.String(role)})
	wantAPICode(t, "CreateStateMachine", err, "InternalFailure")
	sm, err := asl.Load([]byte(passDef), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterStateMachine("x", sm); err == nil {
		t.Error("RegisterStateMachine with a runner of another region = nil error")
	}
	out, err := newClient(srv.URL, "eu-west-1").ListStateMachines(context.Background(), &sfn.ListStateMachinesInput{})
	if err != nil || len(out.StateMachines) != 0 {
		t.Errorf("ListStateMachines = %v, %v, want no half-created state machine", out, err)
	}
}
