package dnssec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestRootAnchors(t *testing.T) {
	var tags []uint16
	for _, rr := range RootAnchors() {
		ds := rr.(*dns.DS)
		if ds.Hdr.Name != "." || ds.Algorithm != dns.RSASHA256 || ds.DigestType != dns.SHA256 {
			t.Errorf("root anchor %v, want an owner-. RSASHA256 SHA-256 DS", ds)
		}
		tags = append(tags, ds.KeyTag)
	}
	if len(tags) != 2 || tags[0] != 20326 || tags[1] != 38696 {
		t.Errorf("root anchor key tags = %v, want [20326 38696] (KSK-2017, KSK-2024)", tags)
	}
}

func TestParseAnchors(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    int
		wantErr string
	}{
		{"DS and DNSKEY", rfc6605DS + "\n" + rfc6605DNSKEY + "\n", 2, ""},
		{"relative owner", "@ 3600 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17\n", 1, ""},
		{"not a zone key", "example.net. 3600 IN DNSKEY 0 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==\n", 0, "is not a zone key"},
		{"other type", "example.net. 3600 IN A 192.0.2.1\n", 0, "is not a DS or DNSKEY"},
		{"empty", "; nothing\n", 0, "no DS or DNSKEY record"},
		{"syntax error", "example.net. IN DS nonsense\n", 0, "anchor test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAnchors(strings.NewReader(tt.text), "test")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseAnchors() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Errorf("ParseAnchors() = %d records, %v; want %d, nil", len(got), err, tt.want)
			}
		})
	}
	if _, err := LoadAnchorFile("/nonexistent/anchor"); err == nil || !strings.HasPrefix(err.Error(), "dnssec: anchor file:") {
		t.Errorf("LoadAnchorFile(missing) error = %v, want dnssec: anchor file: ...", err)
	}
}

func TestStatusJSON(t *testing.T) {
	for _, s := range []Status{Secure, Insecure, Bogus, Indeterminate} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + s.String() + `"`; string(b) != want {
			t.Errorf("json.Marshal(%v) = %s, want %s", s, b, want)
		}
		var got Status
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("json.Unmarshal(%s) = %v, %v; want %v", b, got, err, s)
		}
	}
	var s Status
	if err := json.Unmarshal([]byte(`"valid"`), &s); err == nil {
		t.Errorf(`json.Unmarshal("valid") = nil error, want one`)
	}
}
