// Package awsjson holds what the emulators of the AWS JSON protocols (KMS,
// Route 53 Domains, Route 53 Resolver: JSON 1.1; Step Functions: JSON 1.0)
// dispatch, write and read the same way: the checks in front of an
// operation (Endpoint), a result, an error in the {"__type", "message"}
// shape, a request body where blank means {}, and timestamps as epoch
// seconds.
package awsjson

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Protocol is a version of the AWS JSON protocol, named by its content
// type.
type Protocol string

// The versions of the protocol the emulated services speak.
const (
	JSON10 Protocol = "application/x-amz-json-1.0"
	JSON11 Protocol = "application/x-amz-json-1.1"
)

// WriteResult answers 200 with v as the JSON body.
func (p Protocol) WriteResult(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", string(p))
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers an error with status: the code in the X-Amzn-ErrorType
// header and as the body's __type, with message, which is what the SDKs
// read to build their typed errors.
func (p Protocol) WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", string(p))
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, message})
}

// Decode unmarshals a request body into v. A blank body is an empty
// object: the SDKs send nothing for an operation without input members.
// The error is encoding/json's, for the caller to answer with its
// service's code.
func Decode(body []byte, v any) error {
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	return json.Unmarshal(body, v)
}

// Timestamp renders t as the JSON protocols' timestamp: seconds since the
// epoch with millisecond precision.
func Timestamp(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
