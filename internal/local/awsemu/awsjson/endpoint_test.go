package awsjson

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type testService struct{ region string }

type testError struct {
	code, message string
}

type testHandler func(s *testService, body []byte) (any, *testError)

func testEndpoint(regionMessage string) *Endpoint[*testService, testHandler, *testError] {
	return &Endpoint[*testService, testHandler, *testError]{
		Protocol:     JSON10,
		Name:         "testemu",
		Service:      "Test",
		TargetPrefix: "Test.",
		Operations: map[string]testHandler{
			"Echo": func(_ *testService, body []byte) (any, *testError) {
				return map[string]string{"Body": string(body)}, nil
			},
			"Fail": func(*testService, []byte) (any, *testError) { return nil, &testError{"NotFound", "no such thing"} },
		},
		Region:        func(s *testService) string { return s.region },
		RegionMessage: regionMessage,
		MaxBody:       8,
		BodyCode:      "BadBody",
		Errorf: func(code, format string, args ...any) *testError {
			return &testError{code, fmt.Sprintf(format, args...)}
		},
		WriteError: func(w http.ResponseWriter, e *testError) {
			JSON10.WriteError(w, http.StatusBadRequest, e.code, e.message)
		},
		Call: func(s *testService, op string, h testHandler, body []byte) (any, *testError) {
			if op == "Echo" && string(body) == "refuse" {
				return nil, &testError{"Refused", "by Call"}
			}
			return h(s, body)
		},
	}
}

func TestEndpointServe(t *testing.T) {
	const signed = "AWS4-HMAC-SHA256 Credential=AKID/20261127/%s/test/aws4_request, Signature=abc"
	tests := []struct {
		name, method, target, auth, body string
		regionMessage                    string
		wantStatus                       int
		wantBody                         string
	}{
		{"result", "POST", "Test.Echo", fmt.Sprintf(signed, "us-east-1"), "{}", "", 200, `{"Body":"{}"}`},
		{"unsigned", "POST", "Test.Echo", "", "", "", 200, `{"Body":""}`},
		{"handler error", "POST", "Test.Fail", "", "", "", 400, `{"__type":"NotFound","message":"no such thing"}`},
		{"refused by Call", "POST", "Test.Echo", "", "refuse", "", 400, `{"__type":"Refused","message":"by Call"}`},
		{"GET", "GET", "Test.Echo", "", "", "", 400,
			`{"__type":"UnknownOperationException","message":"testemu: method GET not allowed, Test takes POST"}`},
		{"unknown operation", "POST", "Test.Other", "", "", "", 400,
			`{"__type":"UnknownOperationException","message":"testemu: unknown operation \"Test.Other\""}`},
		{"other prefix", "POST", "Other.Echo", "", "", "", 400,
			`{"__type":"UnknownOperationException","message":"testemu: unknown operation \"Other.Echo\""}`},
		{"other region", "POST", "Test.Echo", fmt.Sprintf(signed, "eu-west-1"), "", "", 400,
			`{"__type":"UnrecognizedClientException","message":"testemu: this emulator serves us-east-1 only, the request was signed for eu-west-1"}`},
		{"other region, own message", "POST", "Test.Echo", fmt.Sprintf(signed, "eu-west-1"), "", "only %s, not %s", 400,
			`{"__type":"UnrecognizedClientException","message":"testemu: only us-east-1, not eu-west-1"}`},
		{"body at the limit", "POST", "Test.Echo", "", "12345678", "", 200, `{"Body":"12345678"}`},
		{"body past the limit", "POST", "Test.Echo", "", "123456789", "", 400,
			`{"__type":"BadBody","message":"testemu: request body larger than 8 bytes"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			r.Header.Set("X-Amz-Target", tt.target)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			testEndpoint(tt.regionMessage).Serve(&testService{region: "us-east-1"}, w, r)
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.wantBody {
				t.Errorf("body %s, want %s", got, tt.wantBody)
			}
		})
	}
}
