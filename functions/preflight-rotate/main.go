// Command preflight-rotate is the Lambda step that starts rotate-ksk: input, zone, one ACTIVE KSK, chain secure, lock (or the plan of a dry run).
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
		log.Fatalf("preflight-rotate: %v", err)
	}
	lambda.Start(h.PreflightRotate)
}
