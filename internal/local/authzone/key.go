package authzone

import (
	"crypto"
	"fmt"

	"github.com/miekg/dns"
)

// Role says which RRsets a key signs.
type Role uint8

const (
	// ZSK signs every authoritative RRset except the DNSKEY RRset.
	ZSK Role = iota + 1
	// KSK signs the DNSKEY RRset only; its DS is published in the parent.
	KSK
	// CSK (combined signing key) signs every RRset.
	CSK
)

func (r Role) String() string {
	switch r {
	case ZSK:
		return "ZSK"
	case KSK:
		return "KSK"
	case CSK:
		return "CSK"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Key flags (RFC 4034 section 2.1.1): a ZSK has the Zone Key bit, a KSK or
// CSK also has the Secure Entry Point bit.
const (
	flagsZSK = dns.ZONE
	flagsKSK = dns.ZONE | dns.SEP
)

// Key is a zone signing key: its public DNSKEY record and a signer for the
// matching private key. Signer may be any crypto.Signer (a KMS-backed one,
// for example) whose signatures are in the form crypto/ecdsa, crypto/rsa
// (PKCS #1 v1.5) or crypto/ed25519 produce.
type Key struct {
	DNSKEY *dns.DNSKEY
	Signer crypto.Signer
	Role   Role
}

// keyBits is the key size GenerateKey uses for each supported algorithm.
var keyBits = map[uint8]int{
	dns.RSASHA256:       2048,
	dns.ECDSAP256SHA256: 256,
	dns.ECDSAP384SHA384: 384,
	dns.ED25519:         256,
}

// GenerateKey makes a new key for zone with the given algorithm (8, 13, 14
// or 15) and role. The DNSKEY TTL is 3600; Sign overrides it.
func GenerateKey(zone string, alg uint8, role Role) (*Key, error) {
	bits, ok := keyBits[alg]
	if !ok {
		return nil, fmt.Errorf("authzone: generate key: unsupported algorithm %d", alg)
	}
	flags := uint16(flagsZSK)
	switch role {
	case ZSK:
	case KSK, CSK:
		flags = flagsKSK
	default:
		return nil, fmt.Errorf("authzone: generate key: unknown role %v", role)
	}
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flags,
		Protocol:  3,
		Algorithm: alg,
	}
	// Key tag 0 is valid (RFC 4034 appendix B) but miekg/dns refuses to
	// sign with it, so the local servers could never use such a key: about
	// one key in 65,536, a few times in a 10,000-zone fleet.
	var priv crypto.PrivateKey
	for {
		var err error
		if priv, err = k.Generate(bits); err != nil {
			return nil, fmt.Errorf("authzone: generate %v for %s: %w", role, zone, err)
		}
		if k.KeyTag() != 0 {
			break
		}
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("authzone: generate %v for %s: private key %T is not a crypto.Signer", role, zone, priv)
	}
	return &Key{DNSKEY: k, Signer: signer, Role: role}, nil
}

// MustGenerateKey is GenerateKey for tests and fixed setups; it panics on error.
func MustGenerateKey(zone string, alg uint8, role Role) *Key {
	k, err := GenerateKey(zone, alg, role)
	if err != nil {
		panic(err)
	}
	return k
}

// Tag returns the key tag (RFC 4034 Appendix B).
func (k *Key) Tag() uint16 { return k.DNSKEY.KeyTag() }

// DS returns the DS record for the key with the given digest type
// (dns.SHA256, dns.SHA384...).
func (k *Key) DS(digest uint8) *dns.DS { return k.DNSKEY.ToDS(digest) }

// signsKeys reports whether the key signs the DNSKEY RRset.
func (k *Key) signsKeys() bool { return k.Role == KSK || k.Role == CSK }

// signsData reports whether the key signs RRsets other than DNSKEY.
func (k *Key) signsData() bool { return k.Role == ZSK || k.Role == CSK }
