// Command summarize-fleet is the Lambda step of fleet-rotate that summarizes a batch, then the fleet, and notifies.
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
		log.Fatalf("summarize-fleet: %v", err)
	}
	lambda.Start(h.SummarizeFleet)
}
