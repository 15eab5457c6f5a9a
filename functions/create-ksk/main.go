// Command create-ksk is the Lambda step that creates the new KSK, ACTIVE.
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
		log.Fatalf("create-ksk: %v", err)
	}
	lambda.Start(h.CreateKSK)
}
