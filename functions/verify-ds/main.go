// Command verify-ds is the Lambda step that observes every parent server until the DS is served (or withdrawn).
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
		log.Fatalf("verify-ds: %v", err)
	}
	lambda.Start(h.VerifyDS)
}
