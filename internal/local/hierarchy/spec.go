package hierarchy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
)

// Signature timing.
const (
	// InceptionSkew back-dates every signature's inception so that a
	// validator whose clock is a little behind still accepts it.
	InceptionSkew = time.Hour
	// DefaultValidity is how long signatures last: Route 53's 14 days.
	DefaultValidity = 14 * 24 * time.Hour
)

// Zone defaults.
const (
	// DefaultTTL is short so that tools watching a live hierarchy see
	// changes within minutes.
	DefaultTTL = 300
	// DefaultNegativeTTL is the SOA MINIMUM: negative answers are cached
	// for a minute.
	DefaultNegativeTTL = 60
	// DefaultServers is the number of name servers of a zone.
	DefaultServers = 2
)

// DSMode says what the parent publishes for a zone.
type DSMode uint8

const (
	// DSSecure publishes the DS of every key that signs the zone's DNSKEY
	// RRset: a secure delegation.
	DSSecure DSMode = iota
	// DSNone publishes no DS: an insecure delegation, even of a signed zone.
	DSNone
	// DSBogus publishes a DS whose digest matches no key of the zone.
	DSBogus
	// DSOrphan publishes only the DS of a key that is in the zone's DNSKEY
	// RRset but signs nothing (the first of ZoneSpec.Publish, generated when
	// there is none), so no DS matches a key that signs the DNSKEY RRset.
	DSOrphan
)

// Spec describes a hierarchy to start.
type Spec struct {
	// Now is the signing time: signatures are valid from Now-InceptionSkew
	// to Now+Validity. Tests may fix it; outside validators need time.Now().
	Now      time.Time
	Validity time.Duration // 0: DefaultValidity
	// Zones must include the root "."; every other zone is delegated from
	// the deepest zone of the spec above it.
	Zones []ZoneSpec
	// Base, when valid, fixes the servers' addresses: the i-th name server
	// gets Base's /24 network address plus i. Otherwise Start picks a
	// random 127.x.y.0/24.
	Base netip.Addr
	// Port, when not 0, fixes the port every server listens on. Otherwise
	// Start picks a random high port.
	Port uint16
}

// ZoneSpec describes one zone of a hierarchy.
type ZoneSpec struct {
	Origin string
	// Servers is the number of name servers, named ns1.<origin>,
	// ns2.<origin>... (a.root-servers., b.root-servers.... for the root),
	// when NS is empty. 0 means DefaultServers.
	Servers int
	// NS are the zone's name server host names, in bailiwick or not; a host
	// name must be in a zone of the hierarchy, which gets its address
	// record. Zones that list the same host share its server.
	NS []string
	// Records is zone-file text added to the zone (names relative to
	// Origin); the SOA, the apex NS and the delegations to child zones of
	// the spec are generated.
	Records string
	TTL     uint32 // 0: DefaultTTL

	Unsigned  bool
	Algorithm uint8 // 0: 13 (ECDSAP256SHA256)
	CSK       bool  // one combined key instead of a KSK and a ZSK
	// Keys, when set, replace the generated keys.
	Keys []*authzone.Key
	// Publish are keys published in the DNSKEY RRset that sign nothing.
	Publish []*dns.DNSKEY
	Denial  authzone.Denial
	NSEC3   authzone.NSEC3Params
	DS      DSMode // what the parent publishes; an unsigned zone gets no DS
}

// DefaultSpec returns the hierarchy most tests run against, signed at now:
//
//	.                     2 servers (a.root-servers., b.root-servers.)
//	test.                 2 servers
//	example.test.         4 servers: www A/AAAA, alias CNAME www, a chain
//	                      chain1 -> chain2 -> www, dangling CNAME to a name that
//	                      does not exist, *.wild A/TXT, host.ent A (ent is an
//	                      empty non-terminal), MX, TXT, a large TXT RRset
//	                      (big) that needs TCP
//	sub.example.test.     2 servers, secure child, one CSK
//	insecure.test.        2 servers, unsigned, no DS
//	nsec3.test.           2 servers, NSEC3 with opt-out; unsigned.nsec3.test.
//	                      is an insecure delegation inside it
//	unsigned.nsec3.test.  2 servers, unsigned
//	rsa.test.             2 servers, algorithm 8 (RSASHA256), KSK + ZSK
//	ed25519.test.         2 servers, algorithm 15 (ED25519), one CSK
//	nsec3salt.test.       2 servers, NSEC3 without opt-out, 1 iteration, salt
//	oob.test.             2 servers with out-of-bailiwick names
//	                      ns1/ns2.oob-hosting.example.test. (no glue in test.)
//
// Every zone has "www A". Signed zones use NSEC unless said otherwise.
// Under opt-out, validators treat NXDOMAIN and wildcard answers of
// nsec3.test. as insecure (RFC 5155 section 9.2); nsec3salt.test. gives
// them secure.
func DefaultSpec(now time.Time) Spec {
	return Spec{
		Now: now,
		Zones: []ZoneSpec{
			{Origin: "."},
			{Origin: "test."},
			{Origin: "example.test.", Servers: 4, Records: exampleRecords},
			{Origin: "sub.example.test.", CSK: true, Records: "www A 192.0.2.20\n"},
			{Origin: "insecure.test.", Unsigned: true, Records: "www A 192.0.2.30\n"},
			{Origin: "nsec3.test.", Denial: authzone.DenialNSEC3, NSEC3: authzone.NSEC3Params{OptOut: true}, Records: nsec3Records},
			{Origin: "unsigned.nsec3.test.", Unsigned: true, Records: "www A 192.0.2.50\n"},
			{Origin: "rsa.test.", Algorithm: 8, Records: "www A 192.0.2.60\n"},
			{Origin: "ed25519.test.", Algorithm: 15, CSK: true, Records: "www A 192.0.2.70\n"},
			{Origin: "nsec3salt.test.", Denial: authzone.DenialNSEC3, NSEC3: authzone.NSEC3Params{Iterations: 1, Salt: "cafe"}, Records: nsec3Records},
			{Origin: "oob.test.", NS: []string{"ns1.oob-hosting.example.test.", "ns2.oob-hosting.example.test."}, Records: "www A 192.0.2.80\n"},
		},
	}
}

var exampleRecords = `
@        MX    10 mail
@        TXT   "v=spf1 -all"
www      A     192.0.2.1
www      AAAA  2001:db8::1
mail     A     192.0.2.2
alias    CNAME www
chain1   CNAME chain2
chain2   CNAME www
dangling CNAME nowhere
*.wild   A     192.0.2.10
*.wild   TXT   "wildcard"
host.ent A     192.0.2.3
txt      TXT   "hello"
` + bigTXT

const nsec3Records = `
www      A     192.0.2.40
*.wild   A     192.0.2.41
host.ent A     192.0.2.42
`

// bigTXT is an RRset too large for a 512-byte UDP answer.
var bigTXT = func() string {
	var s string
	for i := range 8 {
		s += fmt.Sprintf("big TXT \"%d %0100d\"\n", i, 0)
	}
	return s
}()
