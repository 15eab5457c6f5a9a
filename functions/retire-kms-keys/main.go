// Command retire-kms-keys is the Lambda step that schedules the deletion of the KMS keys dnssec-autopilot created for retired KSKs.
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
		log.Fatalf("retire-kms-keys: %v", err)
	}
	lambda.Start(h.RetireKMSKeys)
}
