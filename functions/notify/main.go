// Command notify is the Lambda step that publishes the run's summary to SNS.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

func main() {
	h, err := steps.NewFromEnv(context.Background())
	if err != nil {
		log.Fatalf("notify: %v", err)
	}
	lambda.Start(h.Notify)
}
