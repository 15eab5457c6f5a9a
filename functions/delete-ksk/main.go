// Command delete-ksk is the Lambda step that deletes an INACTIVE KSK no cached DS refers to.
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
		log.Fatalf("delete-ksk: %v", err)
	}
	lambda.Start(h.DeleteKSK)
}
