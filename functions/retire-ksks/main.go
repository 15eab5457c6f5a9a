// Command retire-ksks is the Lambda step that deactivates and deletes every KSK of a zone whose signing is disabled.
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
		log.Fatalf("retire-ksks: %v", err)
	}
	lambda.Start(h.RetireKSKs)
}
