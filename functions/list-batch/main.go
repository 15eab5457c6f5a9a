// Command list-batch is the Lambda step of fleet-rotate that lists one batch's zones with their rotate-ksk inputs and start times.
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
		log.Fatalf("list-batch: %v", err)
	}
	lambda.Start(h.ListBatch)
}
