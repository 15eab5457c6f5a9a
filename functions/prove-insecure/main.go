// Command prove-insecure is the Lambda step that proves a zone provably insecure from the root (an authenticated denial of its DS).
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
		log.Fatalf("prove-insecure: %v", err)
	}
	lambda.Start(h.ProveInsecure)
}
