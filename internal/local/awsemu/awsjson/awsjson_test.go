package awsjson

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		p             Protocol
		status        int
		code, message string
		wantType      string
		wantBody      string
	}{
		{JSON11, http.StatusBadRequest, "NotFoundException", "Key 'x' does not exist", "application/x-amz-json-1.1",
			`{"__type":"NotFoundException","message":"Key 'x' does not exist"}` + "\n"},
		{JSON10, http.StatusServiceUnavailable, "ServiceUnavailable", "", "application/x-amz-json-1.0",
			`{"__type":"ServiceUnavailable","message":""}` + "\n"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		tt.p.WriteError(w, tt.status, tt.code, tt.message)
		if w.Code != tt.status {
			t.Errorf("%s WriteError(%s): status %d, want %d", tt.p, tt.code, w.Code, tt.status)
		}
		if got := w.Header().Get("Content-Type"); got != tt.wantType {
			t.Errorf("%s WriteError(%s): Content-Type %q, want %q", tt.p, tt.code, got, tt.wantType)
		}
		if got := w.Header().Get("X-Amzn-ErrorType"); got != tt.code {
			t.Errorf("%s WriteError(%s): X-Amzn-ErrorType %q, want %q", tt.p, tt.code, got, tt.code)
		}
		if got := w.Body.String(); got != tt.wantBody {
			t.Errorf("%s WriteError(%s): body %q, want %q", tt.p, tt.code, got, tt.wantBody)
		}
	}
}

func TestWriteResult(t *testing.T) {
	w := httptest.NewRecorder()
	JSON11.WriteResult(w, struct{ KeyID string }{"k1"})
	if w.Code != http.StatusOK {
		t.Errorf("WriteResult: status %d, want 200", w.Code)
	}
	if got, want := w.Header().Get("Content-Type"), "application/x-amz-json-1.1"; got != want {
		t.Errorf("WriteResult: Content-Type %q, want %q", got, want)
	}
	if got, want := w.Body.String(), `{"KeyID":"k1"}`+"\n"; got != want {
		t.Errorf("WriteResult: body %q, want %q", got, want)
	}
}

func TestDecode(t *testing.T) {
	type input struct{ KeyID string }
	tests := []struct {
		body    string
		want    input
		wantErr bool
	}{
		{"", input{KeyID: "unset"}, false},
		{" \n\t", input{KeyID: "unset"}, false},
		{"{}", input{KeyID: "unset"}, false},
		{`{"KeyID":"k1"}`, input{KeyID: "k1"}, false},
		{`{"KeyID":`, input{KeyID: "unset"}, true},
		{`{"KeyID":1}`, input{KeyID: "unset"}, true},
	}
	for _, tt := range tests {
		got := input{KeyID: "unset"}
		err := Decode([]byte(tt.body), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Decode(%q) error = %v, want error %v", tt.body, err, tt.wantErr)
		}
		if got != tt.want {
			t.Errorf("Decode(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		t    time.Time
		want float64
	}{
		{time.Unix(1764230400, 0), 1764230400},
		{time.Unix(1764230400, 123_456_789), 1764230400.123},
		{time.Unix(0, 0), 0},
	}
	for _, tt := range tests {
		if got := Timestamp(tt.t); got != tt.want {
			t.Errorf("Timestamp(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}
