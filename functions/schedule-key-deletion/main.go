// Command schedule-key-deletion is the Lambda step that schedules the deletion of a retired KSK's KMS key.
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
		log.Fatalf("schedule-key-deletion: %v", err)
	}
	lambda.Start(h.ScheduleKeyDeletion)
}
