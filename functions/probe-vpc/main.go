// Command probe-vpc is the Lambda step of enable-validation that runs inside
// one VPC (one function per VPC) and queries the VPC's resolver
// (VPC_RESOLVER, 169.254.169.253 by default) for a signed, an unsigned and
// a bogus name: the compatibility table.
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
		log.Fatalf("probe-vpc: %v", err)
	}
	lambda.Start(h.ProbeVPC)
}
