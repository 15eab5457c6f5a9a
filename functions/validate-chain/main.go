// Command validate-chain is the Lambda step that validates the zone from the root.
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
		log.Fatalf("validate-chain: %v", err)
	}
	lambda.Start(h.ValidateChain)
}
