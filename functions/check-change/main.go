// Command check-change is the Lambda step that polls a Route 53 change until it is INSYNC.
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
		log.Fatalf("check-change: %v", err)
	}
	lambda.Start(h.CheckChange)
}
