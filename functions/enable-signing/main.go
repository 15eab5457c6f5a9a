// Command enable-signing is the Lambda step that enables DNSSEC signing of the hosted zone.
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
		log.Fatalf("enable-signing: %v", err)
	}
	lambda.Start(h.EnableSigning)
}
