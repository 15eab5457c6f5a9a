// Command prepare-kms-key is the Lambda step that creates (or verifies) the KMS key of a new KSK.
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
		log.Fatalf("prepare-kms-key: %v", err)
	}
	lambda.Start(h.PrepareKMSKey)
}
