// Package asl runs Amazon States Language state machines (the JSONPath
// query language) locally, with the results AWS Step Functions gives:
// the data flow (InputPath, Parameters with "x.$" paths, the context object
// and every intrinsic function, ResultSelector, ResultPath, OutputPath),
// Task, Pass, Choice, Wait, Succeed, Fail, Parallel and Map (inline and
// distributed) states, Retry and Catch, top-level and task timeouts, task
// tokens, and an execution history shaped like GetExecutionHistory.
//
// Task resources are lambda:invoke (and plain Lambda ARNs) mapped to Go
// handlers registered in process and called through aws-lambda-go's
// handler reflection, so error names are those the Lambda Go runtime
// reports; sns:publish to a Publisher; and states:startExecution
// (.sync, .sync:2) of state machines added to the same Runner.
//
// Waits and retry intervals sleep on a clock.Clock. With a
// *clock.Virtual the runner moves the clock to the next deadline as soon
// as every running branch waits on it, so a two-day Wait takes
// milliseconds.
//
// Load refuses, with the state's name and the reason, anything it does not
// execute as AWS documents it: JSONata, variables, ItemReader, ResultWriter,
// ItemBatcher, unknown fields or resources. Lint adds the project's rules
// (placeholders, the standard Lambda retry, reachability).
//
// Where the AWS documentation is silent or ambiguous the code says so in a
// comment. The conformance test compares the runner with
// aws-local-stepfunctions (conformance/), recording that tool's known
// deviations from the documentation instead of copying them.
package asl
