package stack

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

// TestAddService: a service added after Start is reached through the real
// SDK client at the stack's endpoint; before, the router names it unknown;
// the services the stack started with still answer.
func TestAddService(t *testing.T) {
	s, err := Start(Options{Clock: clock.NewVirtual(t0)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := sfn.NewFromConfig(s.AWSConfig())

	_, err = client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	// The router answers 400 UnknownServiceException (its body does not
	// decode as JSON today: %q inside a JSON string).
	if err == nil || !strings.Contains(err.Error(), "StatusCode: 400") {
		t.Fatalf("ListStateMachines before AddService: err = %v, want the router's 400", err)
	}

	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{"stateMachines":[]}`))
	})
	tests := []struct {
		name    string
		service string
		h       http.Handler
		wantErr bool
	}{
		{"no name", "", h, true},
		{"no handler", awsemu.ServiceSFN, nil, true},
		{"states", awsemu.ServiceSFN, h, false},
	}
	for _, tt := range tests {
		if err := s.AddService(tt.service, tt.h); (err != nil) != tt.wantErr {
			t.Errorf("%s: AddService(%q) = %v, want error %v", tt.name, tt.service, err, tt.wantErr)
		}
	}
	if _, err := client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
		t.Fatalf("ListStateMachines after AddService: %v", err)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("added handler called %d times, want 1", got)
	}
	if _, err := route53.NewFromConfig(s.AWSConfig()).ListHostedZones(ctx, &route53.ListHostedZonesInput{}); err != nil {
		t.Errorf("Route 53 ListHostedZones after AddService: %v", err)
	}

	s.Close()
	if err := s.AddService(awsemu.ServiceSFN, h); err == nil {
		t.Error("AddService after Close = nil, want an error")
	}
}
