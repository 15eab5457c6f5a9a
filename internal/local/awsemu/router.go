// Package awsemu puts the local stack's AWS API emulators behind one HTTP
// endpoint, as AWS_ENDPOINT_URL expects: every SDK client of the workflows
// talks to the same URL and the router hands each request to its service.
package awsemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Service names as they appear in a SigV4 credential scope.
const (
	ServiceRoute53  = "route53"
	ServiceKMS      = "kms"
	ServiceDomains  = "route53domains"
	ServiceResolver = "route53resolver"
	ServiceSNS      = "sns"
	ServiceSFN      = "states"
)

// Router dispatches requests to the emulator of the service they are for.
type Router struct {
	services map[string]http.Handler
}

// NewRouter returns a router over handlers keyed by service name (the
// Service* constants).
func NewRouter(handlers map[string]http.Handler) *Router {
	r := &Router{services: map[string]http.Handler{}}
	for name, h := range handlers {
		r.services[name] = h
	}
	return r
}

// credentialScope finds the service in "Credential=AKID/date/region/service/aws4_request".
var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request`)

// targetPrefixes map the JSON protocols' X-Amz-Target prefixes to services,
// for requests that carry no SigV4 signature.
var targetPrefixes = map[string]string{
	"TrentService.":             ServiceKMS,
	"Route53Domains_v20140515.": ServiceDomains,
	"Route53Resolver.":          ServiceResolver,
}

// serviceOf names the service a request is for: from the SigV4 credential
// scope (what the SDK always sends), else from the protocol's shape.
func serviceOf(r *http.Request) string {
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	target := r.Header.Get("X-Amz-Target")
	for prefix, svc := range targetPrefixes {
		if strings.HasPrefix(target, prefix) {
			return svc
		}
	}
	if strings.HasPrefix(r.URL.Path, "/2013-04-01/") {
		return ServiceRoute53
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return ServiceSNS
	}
	return ""
}

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc := serviceOf(r)
	h, ok := rt.services[svc]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{
			"__type":  "UnknownServiceException",
			"message": fmt.Sprintf("the local stack does not emulate service %q (%s %s)", svc, r.Method, r.URL.Path),
		})
		return
	}
	h.ServeHTTP(w, r)
}
