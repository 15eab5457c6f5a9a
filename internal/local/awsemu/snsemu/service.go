// Package snsemu emulates the Amazon SNS operations the workflows use to
// notify operators (CreateTopic, ListTopics, Publish) over the AWS Query
// protocol (form-encoded Action=...&Version=2010-03-31, XML responses), so
// that the unchanged aws-sdk-go-v2 SNS client can talk to it. Published
// messages are kept in memory and read back with Messages, for the CLI and
// tests; nothing is delivered anywhere.
package snsemu

import (
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/guard"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/sigv4"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

const (
	// DefaultAccount is the local account ID.
	DefaultAccount = "123456789012"
	// DefaultRegion is the region of the topics' ARNs.
	DefaultRegion = "us-east-1"

	xmlNamespace = "http://sns.amazonaws.com/doc/2010-03-31/"
	maxBody      = 1 << 20
	// maxMessage is SNS's limit on a message body (256 KiB).
	maxMessage = 256 * 1024
	// maxSubject is SNS's limit on a subject.
	maxSubject = 100
	// listPage is the number of topics ListTopics returns per page.
	listPage = 100
	// DefaultTopicLimit is SNS's default topics-per-account quota.
	DefaultTopicLimit = 100000
)

// Message is one published message.
type Message struct {
	MessageID  string
	TopicARN   string
	Subject    string
	Body       string
	Attributes map[string]string // message attribute name -> string value
	Published  time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithAccount sets the account ID (default DefaultAccount).
func WithAccount(id string) Option { return func(s *Service) { s.account = id } }

// WithRegion sets the region of topic ARNs (default DefaultRegion).
func WithRegion(region string) Option { return func(s *Service) { s.region = region } }

// WithTopicLimit sets the topics-per-account quota (default
// DefaultTopicLimit); CreateTopic past it fails with TopicLimitExceeded.
func WithTopicLimit(n int) Option { return func(s *Service) { s.topicLimit = n } }

// WithThrottle turns on a token bucket for the account: ratePerSecond
// tokens per second of the clock, up to burst; past it requests fail with
// the Query protocol's Throttling error (HTTP 400, "Rate exceeded").
// As with SetThrottle, ratePerSecond <= 0 leaves throttling off.
func WithThrottle(ratePerSecond float64, burst int) Option {
	return func(s *Service) { s.throttle.Set(ratePerSecond, burst, s.clk.Now()) }
}

// Service is the SNS emulator. It is safe for concurrent use.
type Service struct {
	clk        clock.Clock
	account    string
	region     string
	topicLimit int

	throttle guard.Throttle
	faults   guard.Faults

	mu       sync.Mutex
	topics   map[string]*topic // by ARN
	messages []Message
}

type topic struct {
	arn        string
	name       string
	attributes map[string]string
	tags       map[string]string
}

// New returns an SNS emulator with no topics.
func New(clk clock.Clock, opts ...Option) *Service {
	s := &Service{
		clk:        clk,
		account:    DefaultAccount,
		region:     DefaultRegion,
		topicLimit: DefaultTopicLimit,
		topics:     map[string]*topic{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) topicARN(name string) string {
	return "arn:aws:sns:" + s.region + ":" + s.account + ":" + name
}

// CreateTopic creates the topic name if it does not exist and returns its
// ARN, as the CreateTopic operation does.
func (s *Service) CreateTopic(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn, e := s.createTopicLocked(name, nil, nil)
	if e != nil {
		return "", fmt.Errorf("snsemu: create topic %q: %s", name, e.Message)
	}
	return arn, nil
}

// Messages returns the messages published to topicARN, oldest first.
func (s *Service) Messages(topicARN string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.TopicARN == topicARN {
			m.Attributes = cloneMap(m.Attributes)
			out = append(out, m)
		}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// InjectError makes the next n calls of action (e.g. "Publish") fail with
// the Query error code (e.g. "InternalError", "NotFound",
// "AuthorizationError", "Throttling"). n <= 0 clears the faults of action.
func (s *Service) InjectError(action, code string, n int) {
	s.faults.Inject(action, code, n)
}

// SetThrottle changes the token bucket; ratePerSecond <= 0 turns it off.
func (s *Service) SetThrottle(ratePerSecond float64, burst int) {
	s.throttle.Set(ratePerSecond, burst, s.clk.Now())
}

// apiError is a Query protocol error.
type apiError struct {
	Code    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return "snsemu: " + e.Code + ": " + e.Message }

// statusFor is the HTTP status SNS gives an error code.
func statusFor(code string) int {
	switch code {
	case "NotFound", "ResourceNotFound":
		return http.StatusNotFound
	case "AuthorizationError", "TopicLimitExceeded", "KMSAccessDenied", "InvalidSecurity", "InvalidClientTokenId":
		return http.StatusForbidden
	case "InternalError":
		return http.StatusInternalServerError
	case "Throttled":
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: statusFor(code), Message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *apiError {
	return errorf("InvalidParameter", "Invalid parameter: "+format, args...)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	body := struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}{Xmlns: xmlNamespace, RequestID: newRequestID()}
	body.Error.Type, body.Error.Code, body.Error.Message = typ, e.Code, e.Message
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(body)
}

// writeResult writes <ActionResponse><ActionResult>result</ActionResult>
// <ResponseMetadata/></ActionResponse>.
func writeResult(w http.ResponseWriter, action string, result any) {
	type wrapper struct {
		XMLName  xml.Name
		Xmlns    string `xml:"xmlns,attr"`
		Result   any
		Metadata responseMetadata `xml:"ResponseMetadata"`
	}
	resp := wrapper{XMLName: xml.Name{Local: action + "Response"}, Xmlns: xmlNamespace, Metadata: responseMetadata{newRequestID()}}
	resp.Result = result
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(resp)
}

type handler func(s *Service, form url.Values) (any, *apiError)

var actions = map[string]handler{
	"CreateTopic": (*Service).createTopic,
	"ListTopics":  (*Service).listTopics,
	"Publish":     (*Service).publish,
}

// ServeHTTP serves the SNS Query protocol (POST form or GET query). A
// request signed for another region than the Service's is refused with
// InvalidClientTokenId (HTTP 403).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeError(w, errorf("MalformedQueryString", "snsemu: cannot parse the request: %v", err))
		return
	}
	action := r.Form.Get("Action")
	h := actions[action]
	if h == nil {
		writeError(w, errorf("InvalidAction", "snsemu: the action %q is not valid for this endpoint", action))
		return
	}
	if region := sigv4.Region(r); region != "" && region != s.region {
		writeError(w, errorf("InvalidClientTokenId", "snsemu: this emulator serves %s only, the request was signed for %s", s.region, region))
		return
	}
	if v := r.Form.Get("Version"); v != "" && v != "2010-03-31" {
		writeError(w, errorf("InvalidParameterValue", "snsemu: unsupported Version %q, SNS speaks 2010-03-31", v))
		return
	}
	s.mu.Lock()
	var aerr *apiError
	if !s.throttle.Allow(s.clk.Now()) {
		aerr = errorf("Throttling", "Rate exceeded")
	} else if code := s.faults.Take(action); code != "" {
		aerr = errorf(code, "snsemu: injected fault for %s", action)
	}
	var result any
	if aerr == nil {
		result, aerr = h(s, r.Form)
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeResult(w, action, result)
}

var topicNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// members collects a Query protocol map or list encoded as
// prefix.N.sub=value (prefix "Attributes.entry", sub "key"/"value").
func members(form url.Values, prefix, keyField, valueField string) (map[string]string, *apiError) {
	out := map[string]string{}
	for i := 1; ; i++ {
		base := prefix + "." + strconv.Itoa(i) + "."
		k, ok := form[base+keyField]
		if !ok {
			break
		}
		if len(k) == 0 || k[0] == "" {
			return nil, invalidParameter("%s%s is empty", base, keyField)
		}
		out[k[0]] = form.Get(base + valueField)
	}
	return out, nil
}

func (s *Service) createTopicLocked(name string, attrs, tags map[string]string) (string, *apiError) {
	if strings.HasSuffix(name, ".fifo") {
		return "", invalidParameter("Topic Name: FIFO topics are not emulated")
	}
	if !topicNamePattern.MatchString(name) {
		return "", invalidParameter("Topic Name")
	}
	for k := range attrs {
		switch k {
		case "DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "TracingConfig", "SignatureVersion", "ArchivePolicy":
		default:
			return "", invalidParameter("Attributes Reason: Unknown attribute %s", k)
		}
	}
	arn := s.topicARN(name)
	if t := s.topics[arn]; t != nil {
		for k, v := range attrs {
			if t.attributes[k] != v {
				return "", invalidParameter("Attributes Reason: Topic already exists with different attributes")
			}
		}
		return arn, nil
	}
	if len(s.topics) >= s.topicLimit {
		return "", errorf("TopicLimitExceeded", "Topic limit exceeded")
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	s.topics[arn] = &topic{arn: arn, name: name, attributes: attrs, tags: tags}
	return arn, nil
}

func (s *Service) createTopic(form url.Values) (any, *apiError) {
	attrs, e := members(form, "Attributes.entry", "key", "value")
	if e != nil {
		return nil, e
	}
	tags, e := members(form, "Tags.member", "Key", "Value")
	if e != nil {
		return nil, e
	}
	arn, e := s.createTopicLocked(form.Get("Name"), attrs, tags)
	if e != nil {
		return nil, e
	}
	return struct {
		XMLName  xml.Name `xml:"CreateTopicResult"`
		TopicArn string
	}{TopicArn: arn}, nil
}

func (s *Service) listTopics(form url.Values) (any, *apiError) {
	arns := make([]string, 0, len(s.topics))
	for arn := range s.topics {
		arns = append(arns, arn)
	}
	slices.Sort(arns)
	start := 0
	if tok := form.Get("NextToken"); tok != "" {
		i, err := strconv.Atoi(tok)
		if err != nil || i < 0 || i > len(arns) {
			return nil, invalidParameter("NextToken")
		}
		start = i
	}
	end := min(len(arns), start+listPage)
	type member struct{ TopicArn string }
	out := struct {
		XMLName   xml.Name `xml:"ListTopicsResult"`
		Topics    []member `xml:"Topics>member"`
		NextToken string   `xml:",omitempty"`
	}{}
	for _, a := range arns[start:end] {
		out.Topics = append(out.Topics, member{a})
	}
	if end < len(arns) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Service) publish(form url.Values) (any, *apiError) {
	targets := 0
	for _, k := range []string{"TopicArn", "TargetArn", "PhoneNumber"} {
		if form.Get(k) != "" {
			targets++
		}
	}
	if targets != 1 {
		return nil, invalidParameter("TopicArn or TargetArn Reason: exactly one of TopicArn, TargetArn or PhoneNumber must be given")
	}
	if form.Get("PhoneNumber") != "" {
		return nil, invalidParameter("PhoneNumber Reason: SMS is not emulated")
	}
	arn := form.Get("TopicArn")
	if arn == "" {
		arn = form.Get("TargetArn")
	}
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[3] != s.region {
		return nil, invalidParameter("TopicArn")
	}
	t := s.topics[arn]
	if t == nil {
		return nil, errorf("NotFound", "Topic does not exist")
	}
	msg, ok := form["Message"]
	if !ok || len(msg) == 0 || msg[0] == "" {
		return nil, invalidParameter("Empty message")
	}
	body := msg[0]
	if len(body) > maxMessage {
		return nil, invalidParameter("Message too long")
	}
	if form.Get("MessageStructure") != "" {
		if form.Get("MessageStructure") != "json" {
			return nil, invalidParameter("MessageStructure")
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			return nil, invalidParameter("Message Structure - JSON message body failed to parse")
		}
		if _, ok := m["default"].(string); !ok {
			return nil, invalidParameter("Message Structure - No default entry in JSON message body")
		}
	}
	subject := form.Get("Subject")
	if _, ok := form["Subject"]; ok {
		if subject == "" || len(subject) > maxSubject || strings.ContainsAny(subject, "\r\n") || !printableASCII(subject) {
			return nil, invalidParameter("Subject")
		}
	}
	attrs := map[string]string{}
	for i := 1; ; i++ {
		base := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		name, ok := form[base+"Name"]
		if !ok {
			break
		}
		dt := form.Get(base + "Value.DataType")
		if len(name) == 0 || name[0] == "" || dt == "" {
			return nil, invalidParameter("MessageAttributes Reason: attribute %d needs a name and a data type", i)
		}
		attrs[name[0]] = form.Get(base + "Value.StringValue")
	}
	m := Message{MessageID: newRequestID(), TopicARN: arn, Subject: subject, Body: body, Published: s.clk.Now()}
	if len(attrs) > 0 {
		m.Attributes = attrs
	}
	s.messages = append(s.messages, m)
	return struct {
		XMLName   xml.Name `xml:"PublishResult"`
		MessageId string
	}{MessageId: m.MessageID}, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
