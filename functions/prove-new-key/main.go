// Command prove-new-key is the Lambda step that checks that the new KSK alone validates on every zone server before the old DS is removed.
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
		log.Fatalf("prove-new-key: %v", err)
	}
	lambda.Start(h.ProveNewKey)
}
