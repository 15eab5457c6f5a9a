// Command plan-fleet is the Lambda step of fleet-rotate that checks the input and cuts the fleet into paced batches.
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
		log.Fatalf("plan-fleet: %v", err)
	}
	lambda.Start(h.PlanFleet)
}
