package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Policy numbers of 'run' and 'task'.
const (
	// defaultRegion is where the project deploys (Route 53's DNSSEC
	// metrics and the KSKs' KMS keys live in us-east-1).
	defaultRegion = "us-east-1"
	// maxInput is Step Functions' quota for an execution input (256 KiB).
	maxInput = 256 * 1024
	// maxPollFailures is how many polls in a row may fail (network,
	// throttling beyond the SDK's retries) before 'run' gives up following.
	maxPollFailures = 5
)

// pace sets how 'run' follows an execution. Tests shorten it.
type pace struct {
	// first is the first poll gap, and the gap after a poll that saw
	// new events: short steps show up at once.
	first time.Duration
	// max caps the doubling gap during long Waits: a multi-day rotation
	// costs a few thousand GetExecutionHistory calls, far below the
	// account's quota, and a new state shows within half a minute.
	max time.Duration
	// call bounds one API call, the SDK's retries included.
	call time.Duration
}

var followPace = pace{first: time.Second, max: 30 * time.Second, call: 30 * time.Second}

// stdin is where '--input -' and '--token -' read; tests replace it.
var stdin io.Reader = os.Stdin

// awsFlags select the Step Functions endpoint: AWS by default, or any
// endpoint (the local stack) with --endpoint or AWS_ENDPOINT_URL.
type awsFlags struct {
	endpoint string
	region   string
}

func (a *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.endpoint, "endpoint", "", "Step Functions endpoint `URL` (default $AWS_ENDPOINT_URL_SFN, $AWS_ENDPOINT_URL, else AWS)")
	fs.StringVar(&a.region, "region", "", "AWS region (default from the AWS configuration, else "+defaultRegion+")")
}

// client builds the SDK client. A loopback endpoint is the local stack: it
// gets static credentials instead of the default chain, which would probe
// the instance metadata service when no credentials are configured.
func (a *awsFlags) client(ctx context.Context) (*sfn.Client, string, error) {
	endpoint := a.endpoint
	for _, env := range []string{"AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL"} {
		if endpoint == "" {
			endpoint = os.Getenv(env)
		}
	}
	var local bool
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", usageError{fmt.Sprintf("--endpoint %q: want an http or https URL such as http://127.0.0.1:4566", endpoint)}
		}
		local = isLoopback(u.Hostname())
	}
	if local {
		region := a.region
		if region == "" {
			region = defaultRegion
		}
		return sfn.NewFromConfig(aws.Config{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
			BaseEndpoint: aws.String(endpoint),
		}), endpoint, nil
	}
	var opts []func(*config.LoadOptions) error
	if a.region != "" {
		opts = append(opts, config.WithRegion(a.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("aws configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	where := "AWS Step Functions in " + cfg.Region
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
		where = endpoint
	}
	return sfn.NewFromConfig(cfg), where, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// runRun implements 'dnssecctl run WORKFLOW --input FILE|-'.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run [flags] WORKFLOW --input FILE|-", stdout)
	var af awsFlags
	af.register(fs)
	input := fs.String("input", "", "execution input: a JSON `FILE`, or - for standard input (required)")
	name := fs.String("name", "", "execution `NAME` (default a UUID); reusing a running execution's name and input is idempotent")
	smARN := fs.String("state-machine-arn", "", "state machine `ARN` (default: looked up by WORKFLOW name)")
	noWait := fs.Bool("no-wait", false, "print the execution ARN and return at once")
	asJSON := fs.Bool("json", false, "print the final DescribeExecution as JSON (progress goes to stderr)")
	timeout := fs.Duration("timeout", 0, "give up following after this long (0: until the execution ends); the execution goes on")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	var workflow string
	switch len(positional) {
	case 0:
		if *smARN == "" {
			return usageError{"run: want WORKFLOW (a state machine name such as rotate-ksk) or --state-machine-arn"}
		}
	case 1:
		workflow = positional[0]
	default:
		return usageError{fmt.Sprintf("run: want one WORKFLOW, got %q", positional)}
	}
	if *timeout < 0 {
		return usageError{"run: --timeout must not be negative"}
	}
	in, err := readInput(*input)
	if err != nil {
		return err
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	client, where, err := af.client(ctx)
	if err != nil {
		return err
	}
	if *smARN == "" {
		if *smARN, err = findStateMachine(ctx, client, workflow, where); err != nil {
			return err
		}
	}
	start := &sfn.StartExecutionInput{StateMachineArn: smARN, Input: aws.String(in)}
	if *name != "" {
		start.Name = name
	}
	cctx, cancel := context.WithTimeout(ctx, followPace.call)
	started, err := client.StartExecution(cctx, start)
	cancel()
	if err != nil {
		return startError(ctx, err, *smARN, where)
	}
	execARN := aws.ToString(started.ExecutionArn)
	if *noWait {
		if *asJSON {
			return writeJSON(stdout, map[string]any{"executionArn": execARN, "startDate": aws.ToTime(started.StartDate).UTC()})
		}
		fmt.Fprintln(stdout, execARN)
		return nil
	}
	progress := stdout
	if *asJSON {
		progress = stderr
	}
	fmt.Fprintf(progress, "started %s\n", execARN)
	final, err := follow(ctx, client, execARN, progress)
	if err != nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded) && *timeout > 0:
			return exitError{code: exitFailure, line: fmt.Sprintf("run: %s still RUNNING after --timeout %s; it goes on (follow it in the console, or stop it with StopExecution)", execARN, *timeout)}
		case ctx.Err() != nil:
			return exitError{code: exitFailure, line: fmt.Sprintf("run: stopped following %s; the execution goes on", execARN)}
		}
		return err
	}
	status := final.Status
	took := aws.ToTime(final.StopDate).Sub(aws.ToTime(final.StartDate))
	fmt.Fprintf(progress, "%s %s after %s\n", status, execARN, took)
	if *asJSON {
		if err := writeJSON(stdout, describeJSON(final)); err != nil {
			return err
		}
	}
	if status != types.ExecutionStatusSucceeded {
		return exitError{code: exitFailure, line: oneLine(fmt.Sprintf("execution %s %s: %s: %s",
			aws.ToString(final.Name), status, aws.ToString(final.Error), aws.ToString(final.Cause)))}
	}
	return nil
}

// parseInterspersed parses flags placed before, between or after the
// positional arguments ('run WORKFLOW --input FILE'), which it returns;
// "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// readInput reads --input: a file or standard input, which must be JSON.
func readInput(path string) (string, error) {
	var b []byte
	var err error
	switch path {
	case "":
		return "", usageError{"run: --input FILE|- is required (the workflow's JSON input; a file holding {} for none)"}
	case "-":
		b, err = io.ReadAll(io.LimitReader(stdin, maxInput+1))
		path = "standard input"
	default:
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", usageError{fmt.Sprintf("run: --input: %v", err)}
	}
	if len(b) > maxInput {
		return "", usageError{fmt.Sprintf("run: --input %s: larger than Step Functions' %d-byte input quota", path, maxInput)}
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", usageError{fmt.Sprintf("run: --input %s is not JSON: %v", path, err)}
	}
	return string(b), nil
}

// findStateMachine looks the workflow up by name: an exact match, else the
// one state machine whose name ends in "-WORKFLOW" (a deployment prefix).
func findStateMachine(ctx context.Context, client *sfn.Client, workflow, where string) (string, error) {
	var names []string
	var suffixed []types.StateMachineListItem
	p := sfn.NewListStateMachinesPaginator(client, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		cctx, cancel := context.WithTimeout(ctx, followPace.call)
		out, err := p.NextPage(cctx)
		cancel()
		if err != nil {
			return "", fmt.Errorf("run: listing the state machines at %s: %w", where, err)
		}
		for _, m := range out.StateMachines {
			n := aws.ToString(m.Name)
			if n == workflow {
				return aws.ToString(m.StateMachineArn), nil
			}
			if strings.HasSuffix(n, "-"+workflow) {
				suffixed = append(suffixed, m)
			}
			names = append(names, n)
		}
	}
	if len(suffixed) == 1 {
		return aws.ToString(suffixed[0].StateMachineArn), nil
	}
	slices.Sort(names)
	known := "there is none"
	if len(names) > 0 {
		known = "there are: " + strings.Join(names, ", ")
	}
	if len(suffixed) > 1 {
		return "", usageError{fmt.Sprintf("run: workflow %q is ambiguous at %s (%s); give --state-machine-arn", workflow, where, known)}
	}
	return "", usageError{fmt.Sprintf("run: unknown workflow %q: no state machine of that name at %s (%s)", workflow, where, known)}
}

// startError turns a StartExecution refusal caused by the command line into
// a usage error.
func startError(ctx context.Context, err error, smARN, where string) error {
	var (
		noSM     *types.StateMachineDoesNotExist
		badARN   *types.InvalidArn
		badInput *types.InvalidExecutionInput
		badName  *types.InvalidName
		exists   *types.ExecutionAlreadyExists
	)
	switch {
	case errors.As(err, &noSM), errors.As(err, &badARN):
		return usageError{fmt.Sprintf("run: state machine %s at %s: %s", smARN, where, apiMessage(err))}
	case errors.As(err, &badInput), errors.As(err, &badName), errors.As(err, &exists):
		return usageError{"run: " + apiMessage(err)}
	case ctx.Err() != nil:
		return exitError{code: exitUnexpectedErr, line: fmt.Sprintf("run: no answer from %s when starting an execution: %v", where, ctx.Err())}
	}
	return fmt.Errorf("run: starting an execution at %s: %w", where, err)
}

// apiMessage is the code and message of an API error, without the SDK's
// operation and request-ID wrapping.
func apiMessage(err error) string {
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// follow polls the execution until it ends, printing each state entered
// and exited, task failures and callbacks waited for. Polls back off from
// followPace.first to followPace.max while nothing happens.
func follow(ctx context.Context, client *sfn.Client, execARN string, progress io.Writer) (*sfn.DescribeExecutionOutput, error) {
	var lastID int64
	gap := followPace.first
	failures := 0
	for {
		d, events, err := poll(ctx, client, execARN, lastID)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			if failures++; failures >= maxPollFailures {
				return nil, fmt.Errorf("run: following %s: %d polls failed in a row: %w", execARN, failures, err)
			}
		default:
			failures = 0
			for _, ev := range events {
				printEvent(progress, ev)
				lastID = ev.Id
			}
			if len(events) > 0 {
				gap = followPace.first
			}
			if d.Status != types.ExecutionStatusRunning {
				return d, nil
			}
		}
		t := time.NewTimer(gap)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		gap = min(2*gap, followPace.max)
	}
}

// poll describes the execution, then reads the events after lastID: newest
// first, page by page, until it reaches one already seen, so a long
// history costs one page per poll.
func poll(ctx context.Context, client *sfn.Client, execARN string, lastID int64) (*sfn.DescribeExecutionOutput, []types.HistoryEvent, error) {
	cctx, cancel := context.WithTimeout(ctx, followPace.call)
	defer cancel()
	d, err := client.DescribeExecution(cctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execARN)})
	if err != nil {
		return nil, nil, err
	}
	var fresh []types.HistoryEvent
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(execARN), ReverseOrder: true, MaxResults: 100, IncludeExecutionData: aws.Bool(false)}
	for {
		out, err := client.GetExecutionHistory(cctx, in)
		if err != nil {
			return nil, nil, err
		}
		done := false
		for _, ev := range out.Events {
			if ev.Id <= lastID {
				done = true
				break
			}
			fresh = append(fresh, ev)
		}
		if done || out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	slices.Reverse(fresh)
	return d, fresh, nil
}

// printEvent writes one progress line for the events a person follows.
func printEvent(w io.Writer, ev types.HistoryEvent) {
	at := aws.ToTime(ev.Timestamp).UTC().Format(time.RFC3339)
	typ := string(ev.Type)
	switch {
	case strings.HasSuffix(typ, "StateEntered") && ev.StateEnteredEventDetails != nil:
		fmt.Fprintf(w, "%s  entered  %s (%s)\n", at, aws.ToString(ev.StateEnteredEventDetails.Name), strings.TrimSuffix(typ, "StateEntered"))
	case strings.HasSuffix(typ, "StateExited") && ev.StateExitedEventDetails != nil:
		fmt.Fprintf(w, "%s  exited   %s\n", at, aws.ToString(ev.StateExitedEventDetails.Name))
	case ev.Type == types.HistoryEventTypeTaskSubmitted && ev.TaskSubmittedEventDetails != nil &&
		strings.HasSuffix(aws.ToString(ev.TaskSubmittedEventDetails.Resource), ".waitForTaskToken"):
		fmt.Fprintf(w, "%s  waiting  for a task token callback (answer with 'dnssecctl task success|failure --token TOKEN')\n", at)
	case ev.Type == types.HistoryEventTypeTaskFailed && ev.TaskFailedEventDetails != nil:
		d := ev.TaskFailedEventDetails
		fmt.Fprintf(w, "%s  failed   %s: %s\n", at, aws.ToString(d.Error), oneLine(aws.ToString(d.Cause)))
	case ev.Type == types.HistoryEventTypeTaskTimedOut && ev.TaskTimedOutEventDetails != nil:
		d := ev.TaskTimedOutEventDetails
		fmt.Fprintf(w, "%s  timedout %s: %s\n", at, aws.ToString(d.Error), oneLine(aws.ToString(d.Cause)))
	case ev.Type == types.HistoryEventTypeLambdaFunctionFailed && ev.LambdaFunctionFailedEventDetails != nil:
		d := ev.LambdaFunctionFailedEventDetails
		fmt.Fprintf(w, "%s  failed   %s: %s\n", at, aws.ToString(d.Error), oneLine(aws.ToString(d.Cause)))
	}
}

// oneLine folds a message onto one line, for the one stderr line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// executionJSON is the shape of 'run --json': DescribeExecution's members.
type executionJSON struct {
	ExecutionARN    string     `json:"executionArn"`
	StateMachineARN string     `json:"stateMachineArn"`
	Name            string     `json:"name"`
	Status          string     `json:"status"`
	StartDate       time.Time  `json:"startDate"`
	StopDate        *time.Time `json:"stopDate,omitempty"`
	Input           string     `json:"input,omitempty"`
	Output          string     `json:"output,omitempty"`
	Error           string     `json:"error,omitempty"`
	Cause           string     `json:"cause,omitempty"`
}

func describeJSON(d *sfn.DescribeExecutionOutput) executionJSON {
	out := executionJSON{
		ExecutionARN:    aws.ToString(d.ExecutionArn),
		StateMachineARN: aws.ToString(d.StateMachineArn),
		Name:            aws.ToString(d.Name),
		Status:          string(d.Status),
		StartDate:       aws.ToTime(d.StartDate).UTC(),
		Input:           aws.ToString(d.Input),
		Output:          aws.ToString(d.Output),
		Error:           aws.ToString(d.Error),
		Cause:           aws.ToString(d.Cause),
	}
	if d.StopDate != nil {
		t := d.StopDate.UTC()
		out.StopDate = &t
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runTask implements 'dnssecctl task success|failure|heartbeat': the answer
// to a .waitForTaskToken task, such as the manual DS publisher's callback.
func runTask(ctx context.Context, args []string, stdout io.Writer) error {
	const synopsis = "task success|failure|heartbeat --token TOKEN [--output JSON | --error NAME --cause TEXT]"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(stdout, "Usage: dnssecctl %s\n", synopsis)
			return flag.ErrHelp
		}
		return usageError{"task: want success, failure or heartbeat (Usage: dnssecctl " + synopsis + ")"}
	}
	verb := args[0]
	fs := newFlagSet("task "+verb, synopsis, stdout)
	var af awsFlags
	af.register(fs)
	token := fs.String("token", "", "the task `TOKEN` ($$.Task.Token), or - to read it from standard input (required)")
	var output, errName, cause *string
	switch verb {
	case "success":
		output = fs.String("output", "{}", "the task's result, `JSON`")
	case "failure":
		errName = fs.String("error", "", "error `NAME` that the state machine's Catch and Retry match")
		cause = fs.String("cause", "", "cause `TEXT` for a person")
	case "heartbeat":
	default:
		return usageError{fmt.Sprintf("task: unknown action %q: want success, failure or heartbeat", verb)}
	}
	timeout := fs.Duration("timeout", followPace.call, "give up the call after this long")
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError{fmt.Sprintf("task %s: unexpected argument %q", verb, positional[0])}
	}
	if *token == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return usageError{fmt.Sprintf("task %s: reading the token from standard input: %v", verb, err)}
		}
		*token = strings.TrimSpace(string(b))
	}
	if *token == "" {
		return usageError{fmt.Sprintf("task %s: --token TOKEN is required", verb)}
	}
	if output != nil && !json.Valid([]byte(*output)) {
		return usageError{fmt.Sprintf("task success: --output %q is not JSON", *output)}
	}
	if *timeout <= 0 {
		return usageError{fmt.Sprintf("task %s: --timeout must be positive", verb)}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client, where, err := af.client(ctx)
	if err != nil {
		return err
	}
	switch verb {
	case "success":
		_, err = client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: token, Output: output})
	case "failure":
		in := &sfn.SendTaskFailureInput{TaskToken: token}
		if *errName != "" {
			in.Error = errName
		}
		if *cause != "" {
			in.Cause = cause
		}
		_, err = client.SendTaskFailure(ctx, in)
	case "heartbeat":
		_, err = client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: token})
	}
	if err != nil {
		return taskError(ctx, err, verb, where)
	}
	fmt.Fprintf(stdout, "task %s sent\n", verb)
	return nil
}

func taskError(ctx context.Context, err error, verb, where string) error {
	var (
		badToken  *types.InvalidToken
		badOutput *types.InvalidOutput
		closed    *types.TaskTimedOut
		noTask    *types.TaskDoesNotExist
	)
	switch {
	case errors.As(err, &badToken), errors.As(err, &badOutput):
		return usageError{fmt.Sprintf("task %s: %s", verb, apiMessage(err))}
	case errors.As(err, &closed):
		return exitError{code: exitFailure, line: fmt.Sprintf("task %s: the task is closed (answered, timed out, or its execution ended): %s", verb, apiMessage(err))}
	case errors.As(err, &noTask):
		return exitError{code: exitFailure, line: fmt.Sprintf("task %s: no task at %s has this token: %s", verb, where, apiMessage(err))}
	case ctx.Err() != nil:
		return exitError{code: exitUnexpectedErr, line: fmt.Sprintf("task %s: no answer from %s: %v", verb, where, ctx.Err())}
	}
	return fmt.Errorf("task %s at %s: %w", verb, where, err)
}
