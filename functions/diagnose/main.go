// Command diagnose is alarm-response's first Lambda step: it reads what is
// wrong with a zone's DNSSEC signing (KSKs, KMS keys, signature expiry).
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
		log.Fatalf("diagnose: %v", err)
	}
	lambda.Start(h.Diagnose)
}
