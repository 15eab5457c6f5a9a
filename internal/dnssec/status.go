package dnssec

import "fmt"

// Status is a validation verdict (RFC 4033 section 5).
type Status int

// The four verdicts. The zero value is Indeterminate so that a result that was
// never decided is never mistaken for secure.
const (
	Indeterminate Status = iota // no trust anchor covers the name, or servers could not be reached
	Secure                      // every link from a trust anchor validated
	Insecure                    // provably unsigned below a secure cut, or an unsupported algorithm
	Bogus                       // should validate and does not
)

func (s Status) String() string {
	switch s {
	case Secure:
		return "secure"
	case Insecure:
		return "insecure"
	case Bogus:
		return "bogus"
	default:
		return "indeterminate"
	}
}

// MarshalText makes a Status appear as its word in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses the word written by MarshalText.
func (s *Status) UnmarshalText(b []byte) error {
	switch string(b) {
	case "secure":
		*s = Secure
	case "insecure":
		*s = Insecure
	case "bogus":
		*s = Bogus
	case "indeterminate":
		*s = Indeterminate
	default:
		return fmt.Errorf("dnssec: unknown status %q", b)
	}
	return nil
}
