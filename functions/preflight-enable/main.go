// Command preflight-enable is the Lambda step that enable-signing's first step: checks the input and the zone, takes the zone's lock.
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
		log.Fatalf("preflight-enable: %v", err)
	}
	lambda.Start(h.PreflightEnable)
}
