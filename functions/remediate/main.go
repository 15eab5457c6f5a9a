// Command remediate is alarm-response's Lambda step that repairs what is
// safe, verifies the repair and notifies the report (Event.Action).
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
		log.Fatalf("remediate: %v", err)
	}
	lambda.Start(h.Remediate)
}
