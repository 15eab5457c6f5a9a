// Command publish-ds is the Lambda step that adds or removes a DS through the zone's DS publisher.
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
		log.Fatalf("publish-ds: %v", err)
	}
	lambda.Start(h.PublishDS)
}
