// Command update-resolver-validation is the Lambda step of enable-validation
// that checks the input, sets Route 53 Resolver DNSSEC validation of one VPC
// and polls its status, and summarizes the run (Event.Action).
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
		log.Fatalf("update-resolver-validation: %v", err)
	}
	lambda.Start(h.UpdateResolverValidation)
}
