// Command rollback-gate is the Lambda step that computes when a rolled-back rotation may retire its new KSK.
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
		log.Fatalf("rollback-gate: %v", err)
	}
	lambda.Start(h.RollbackGate)
}
