// Command disable-signing is the Lambda step that disables DNSSEC signing of a hosted zone once its gate has passed.
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
		log.Fatalf("disable-signing: %v", err)
	}
	lambda.Start(h.DisableSigning)
}
