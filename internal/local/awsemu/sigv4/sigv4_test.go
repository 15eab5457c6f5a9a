package sigv4

import (
	"net/http"
	"testing"
)

func TestRegion(t *testing.T) {
	tests := []struct {
		name string
		auth string
		want string
	}{
		{"signed", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/eu-west-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", "eu-west-1"},
		{"scope last", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/sns/aws4_request", "us-east-1"},
		{"unsigned", "", ""},
		{"no credential", "Bearer token", ""},
		{"short scope", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1, Signature=abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if got := Region(r); got != tt.want {
				t.Errorf("Region(%q) = %q, want %q", tt.auth, got, tt.want)
			}
		})
	}
}
