package route53emu

import (
	"errors"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		in       string
		internal string // miekg/dns presentation
		api      string // as Route 53 returns it
		key      string // Route 53's sort key
	}{
		{"Example.TEST", "example.test.", "example.test.", "test.example."},
		{"www.example.test.", "www.example.test.", "www.example.test.", "test.example.www."},
		{"*.example.test", "*.example.test.", `\052.example.test.`, `test.example.\052.`},
		{`\052.example.test`, "*.example.test.", `\052.example.test.`, `test.example.\052.`},
		{`_dmarc.example.test`, "_dmarc.example.test.", "_dmarc.example.test.", "test.example._dmarc."},
		{`a\056b.example.test`, `a\046b.example.test.`, `a\056b.example.test.`, `test.example.a\056b.`},
		{`a\040b.example.test`, `a\032b.example.test.`, `a\040b.example.test.`, `test.example.a\040b.`},
		{`A\101.test`, "aa.test.", "aa.test.", "test.aa."},
		{".", ".", ".", "."},
	}
	for _, tt := range tests {
		got, err := normalizeAPIName(tt.in)
		if err != nil {
			t.Errorf("normalizeAPIName(%q): %v", tt.in, err)
			continue
		}
		if got != tt.internal {
			t.Errorf("normalizeAPIName(%q) = %q, want %q", tt.in, got, tt.internal)
		}
		if a := apiName(got); a != tt.api {
			t.Errorf("apiName(%q) = %q, want %q", got, a, tt.api)
		}
		if k := sortKey(got); k != tt.key {
			t.Errorf("sortKey(%q) = %q, want %q", got, k, tt.key)
		}
	}
	for _, bad := range []string{"", "a..b", ".a", "a b.test", `a\`, `a\400.test`, string(make([]byte, 64)) + ".test"} {
		if _, err := normalizeAPIName(bad); !errors.Is(err, errName) {
			t.Errorf("normalizeAPIName(%q) err = %v, want errName", bad, err)
		}
	}
	long := ""
	for range 50 {
		long += "abcd."
	}
	if _, err := normalizeAPIName(long + "test"); !errors.Is(err, errName) {
		t.Errorf("a 255+ byte name: err = %v, want errName", err)
	}
}

func TestInZone(t *testing.T) {
	tests := []struct {
		name, zone string
		want       bool
	}{
		{"example.test.", "example.test.", true},
		{"www.example.test.", "example.test.", true},
		{"wwwexample.test.", "example.test.", false},
		{`a\046example.test.`, "example.test.", false},
		{"test.", "example.test.", false},
		{"anything.", ".", true},
	}
	for _, tt := range tests {
		if got := inZone(tt.name, tt.zone); got != tt.want {
			t.Errorf("inZone(%q, %q) = %v, want %v", tt.name, tt.zone, got, tt.want)
		}
	}
}
