// Package sigv4 reads what the emulators need from a request's AWS
// Signature Version 4 Authorization header. It checks no signature: the
// local stack trusts its callers.
package sigv4

import (
	"net/http"
	"strings"
)

// Region returns the region of the Authorization header's credential scope
// ("Credential=AKID/20261127/us-east-1/kms/aws4_request, ..."), or "" when
// the request is not signed or the scope is malformed.
func Region(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[2]
}
