// Command observe-zone is the Lambda step that observes every parent and zone server, records the history, computes a gate.
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
		log.Fatalf("observe-zone: %v", err)
	}
	lambda.Start(h.ObserveZone)
}
