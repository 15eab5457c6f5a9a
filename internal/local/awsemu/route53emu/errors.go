package route53emu

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Error codes Route 53 answers with (botocore route53 service-2.json).
const (
	CodeConcurrentModification                = "ConcurrentModification"
	CodeDNSSECNotFound                        = "DNSSECNotFound"
	CodeHostedZoneAlreadyExists               = "HostedZoneAlreadyExists"
	CodeHostedZoneNotEmpty                    = "HostedZoneNotEmpty"
	CodeHostedZonePartiallyDelegated          = "HostedZonePartiallyDelegated"
	CodeInvalidArgument                       = "InvalidArgument"
	CodeInvalidChangeBatch                    = "InvalidChangeBatch"
	CodeInvalidDomainName                     = "InvalidDomainName"
	CodeInvalidInput                          = "InvalidInput"
	CodeInvalidKMSArn                         = "InvalidKMSArn"
	CodeInvalidKeySigningKeyName              = "InvalidKeySigningKeyName"
	CodeInvalidKeySigningKeyStatus            = "InvalidKeySigningKeyStatus"
	CodeInvalidSigningStatus                  = "InvalidSigningStatus"
	CodeKeySigningKeyAlreadyExists            = "KeySigningKeyAlreadyExists"
	CodeKeySigningKeyInParentDSRecord         = "KeySigningKeyInParentDSRecord"
	CodeKeySigningKeyInUse                    = "KeySigningKeyInUse"
	CodeKeySigningKeyWithActiveStatusNotFound = "KeySigningKeyWithActiveStatusNotFound"
	CodeNoSuchChange                          = "NoSuchChange"
	CodeNoSuchDelegationSet                   = "NoSuchDelegationSet"
	CodeNoSuchHostedZone                      = "NoSuchHostedZone"
	CodeNoSuchKeySigningKey                   = "NoSuchKeySigningKey"
	CodePriorRequestNotComplete               = "PriorRequestNotComplete"
	CodeThrottling                            = "Throttling"
	CodeTooManyKeySigningKeys                 = "TooManyKeySigningKeys"
	// CodeInvalidAction answers a request for an operation the emulator
	// does not serve.
	CodeInvalidAction = "InvalidAction"
)

// statusOf is the HTTP status Route 53 answers each error code with; the
// codes the model gives no status answer 400.
var statusOf = map[string]int{
	CodeHostedZoneAlreadyExists:    http.StatusConflict,
	CodeKeySigningKeyAlreadyExists: http.StatusConflict,
	CodeNoSuchChange:               http.StatusNotFound,
	CodeNoSuchHostedZone:           http.StatusNotFound,
	CodeNoSuchKeySigningKey:        http.StatusNotFound,
}

// defaultMessage is the message of an injected error.
var defaultMessage = map[string]string{
	CodeConcurrentModification:  "Another user submitted a request to create, update, or delete the object at the same time that you did. Retry the request.",
	CodePriorRequestNotComplete: "The request was rejected because Route 53 was still processing a prior request.",
	CodeThrottling:              "Rate exceeded",
}

// apiError is an error answer of the API.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return "route53emu: " + e.Code + ": " + e.Message }

func (e *apiError) status() int {
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// changeBatchError is InvalidChangeBatch with one message per failed
// change; Route 53 lists them in brackets, comma-separated.
func changeBatchError(msgs []string) *apiError {
	return &apiError{Code: CodeInvalidChangeBatch, Message: "[" + strings.Join(msgs, ", ") + "]"}
}

type errorResponse struct {
	XMLName   xml.Name    `xml:"ErrorResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	writeXML(w, e.status(), requestID, errorResponse{
		Xmlns:     xmlns,
		Error:     errorDetail{Type: "Sender", Code: e.Code, Message: e.Message},
		RequestID: requestID,
	})
}
