// Command preflight-disable is disable-signing's first step: input, zone signed, no signed children unless allowed, the DS records to withdraw, the zone's lock.
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
		log.Fatalf("preflight-disable: %v", err)
	}
	lambda.Start(h.PreflightDisable)
}
