// Command withdraw-ds is the Lambda step that withdraws every DS of a zone through its DS publisher, one after the other.
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
		log.Fatalf("withdraw-ds: %v", err)
	}
	lambda.Start(h.WithdrawDS)
}
