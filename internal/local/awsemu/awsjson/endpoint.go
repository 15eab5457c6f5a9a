package awsjson

import (
	"cmp"
	"io"
	"net/http"
	"strings"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/sigv4"
)

// Endpoint is the request dispatch every JSON-protocol emulator shares:
// POST only, the operation from X-Amz-Target, the region of the SigV4
// scope, a bounded body, then the answer. S is the service, H its handlers'
// type and E its error type, a pointer whose nil is no error; errors are
// made and written by the service, which keeps its statuses and shape.
type Endpoint[S any, H any, E comparable] struct {
	Protocol Protocol
	// Name prefixes the messages ("kmsemu"); Service names the AWS
	// service in them ("KMS"); TargetPrefix comes before the operation in
	// X-Amz-Target ("TrentService.").
	Name, Service, TargetPrefix string
	Operations                  map[string]H
	// Region is the one region served: a request signed for another is
	// refused with UnrecognizedClientException, worded by RegionMessage
	// from the served and the signed region (blank: the default below).
	Region        func(S) string
	RegionMessage string
	// MaxBody bounds a request body; BodyCode is the error code of a body
	// that is larger or cannot be read.
	MaxBody    int
	BodyCode   string
	Errorf     func(code, format string, args ...any) E
	WriteError func(http.ResponseWriter, E)
	// Call runs the handler h of op on body with whatever the service puts
	// around it (throttling, injected faults, locking, events).
	Call func(s S, op string, h H, body []byte) (any, E)
}

// Serve answers r for s.
func (e *Endpoint[S, H, E]) Serve(s S, w http.ResponseWriter, r *http.Request) {
	fail := func(code, format string, args ...any) {
		e.WriteError(w, e.Errorf(code, e.Name+": "+format, args...))
	}
	if r.Method != http.MethodPost {
		fail("UnknownOperationException", "method %s not allowed, %s takes POST", r.Method, e.Service)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, e.TargetPrefix)
	h, known := e.Operations[op]
	if !ok || !known {
		fail("UnknownOperationException", "unknown operation %q", target)
		return
	}
	if region, served := sigv4.Region(r), e.Region(s); region != "" && region != served {
		msg := cmp.Or(e.RegionMessage, "this emulator serves %s only, the request was signed for %s")
		fail("UnrecognizedClientException", msg, served, region)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(e.MaxBody)+1))
	if err != nil {
		fail(e.BodyCode, "reading request body: %v", err)
		return
	}
	if len(body) > e.MaxBody {
		fail(e.BodyCode, "request body larger than %d bytes", e.MaxBody)
		return
	}
	out, aerr := e.Call(s, op, h, body)
	var none E
	if aerr != none {
		e.WriteError(w, aerr)
		return
	}
	e.Protocol.WriteResult(w, out)
}
