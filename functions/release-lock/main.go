// Command release-lock is the Lambda step that releases the zone's lock (also on failure paths).
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
		log.Fatalf("release-lock: %v", err)
	}
	lambda.Start(h.ReleaseLock)
}
