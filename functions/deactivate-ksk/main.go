// Command deactivate-ksk is the Lambda step that deactivates a KSK once no parent server serves its DS.
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
		log.Fatalf("deactivate-ksk: %v", err)
	}
	lambda.Start(h.DeactivateKSK)
}
