package kmsemu

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authzone"
	"github.com/miekg/dns"
)

// Key states, as KMS names them.
const (
	StateEnabled         = "Enabled"
	StateDisabled        = "Disabled"
	StatePendingDeletion = "PendingDeletion"
)

// Key usages and the key specs the emulator can create.
const (
	UsageSignVerify     = "SIGN_VERIFY"
	UsageEncryptDecrypt = "ENCRYPT_DECRYPT"

	SpecSymmetricDefault = "SYMMETRIC_DEFAULT"
	SpecRSA2048          = "RSA_2048"
	SpecECCNISTP256      = "ECC_NIST_P256"
	SpecECCNISTP384      = "ECC_NIST_P384"
)

// keySpec describes what a key spec allows.
type keySpec struct {
	usages     []string
	signing    []string // signing algorithms for SIGN_VERIFY
	encryption []string // encryption algorithms for ENCRYPT_DECRYPT
	generate   func() (crypto.Signer, error)
}

var specs = map[string]keySpec{
	SpecSymmetricDefault: {
		usages:     []string{UsageEncryptDecrypt},
		encryption: []string{"SYMMETRIC_DEFAULT"},
	},
	SpecRSA2048: {
		usages: []string{UsageEncryptDecrypt, UsageSignVerify},
		signing: []string{
			"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
			"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		},
		encryption: []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"},
		generate:   func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) },
	},
	SpecECCNISTP256: {
		usages:   []string{UsageSignVerify},
		signing:  []string{"ECDSA_SHA_256"},
		generate: generateP256,
	},
	SpecECCNISTP384: {
		usages:   []string{UsageSignVerify},
		signing:  []string{"ECDSA_SHA_384"},
		generate: func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) },
	},
}

// knownKeySpecs is KMS's KeySpec enumeration; the ones missing from specs
// are refused with UnsupportedOperationException.
var knownKeySpecs = []string{
	"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
	"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512",
	"SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519",
}

// signingHash maps a signing algorithm to its hash and, for RSA, whether
// it is PSS.
var signingHash = map[string]struct {
	hash crypto.Hash
	pss  bool
}{
	"ECDSA_SHA_256":             {hash: crypto.SHA256},
	"ECDSA_SHA_384":             {hash: crypto.SHA384},
	"ECDSA_SHA_512":             {hash: crypto.SHA512},
	"RSASSA_PSS_SHA_256":        {hash: crypto.SHA256, pss: true},
	"RSASSA_PSS_SHA_384":        {hash: crypto.SHA384, pss: true},
	"RSASSA_PSS_SHA_512":        {hash: crypto.SHA512, pss: true},
	"RSASSA_PKCS1_V1_5_SHA_256": {hash: crypto.SHA256},
	"RSASSA_PKCS1_V1_5_SHA_384": {hash: crypto.SHA384},
	"RSASSA_PKCS1_V1_5_SHA_512": {hash: crypto.SHA512},
}

type tag struct{ Key, Value string }

type key struct {
	id          string
	arn         string
	spec        string
	usage       string
	description string
	state       string
	created     time.Time
	deletion    time.Time // zero unless PendingDeletion
	window      int32
	policyDoc   string
	policy      *policy
	tags        []tag
	private     crypto.Signer // nil for symmetric keys
	publicDER   []byte
}

type alias struct {
	name    string
	target  string // key ID
	created time.Time
	updated time.Time
}

// newKeyID returns a random UUID (version 4), KMS's key ID format.
func newKeyID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func isKeyID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

func (s *Service) keyARN(id string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":key/" + id
}

func (s *Service) aliasARN(name string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":" + name
}

func (s *Service) rootARN() string { return "arn:aws:iam::" + s.account + ":root" }

// newKey generates key material for spec and builds an Enabled key
// without a policy.
func (s *Service) newKey(spec, usage, description string, now time.Time) (*key, error) {
	k := &key{
		id:          newKeyID(),
		spec:        spec,
		usage:       usage,
		description: description,
		state:       StateEnabled,
		created:     now,
	}
	k.arn = s.keyARN(k.id)
	if gen := specs[spec].generate; gen != nil {
		priv, err := gen()
		if err != nil {
			return nil, fmt.Errorf("kmsemu: generating %s key: %w", spec, err)
		}
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			return nil, fmt.Errorf("kmsemu: encoding %s public key: %w", spec, err)
		}
		k.private, k.publicDER = priv, der
	}
	return k, nil
}

// resolveLocked finds the key a KeyId parameter names: a key ID, a key
// ARN and, when allowAlias, an alias name or alias ARN. Callers hold s.mu
// and have swept.
func (s *Service) resolveLocked(ref string, allowAlias bool) (*key, *apiError) {
	name := ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" || !strings.HasPrefix(parts[1], "aws") {
			return nil, errorf("InvalidArnException", "ARN %s is not a valid KMS ARN", ref)
		}
		if parts[3] != s.region {
			return nil, errorf("NotFoundException", "Invalid arn %s", parts[3])
		}
		if parts[4] != s.account {
			return nil, errorf("NotFoundException", "Key '%s' does not exist", ref)
		}
		res := parts[5]
		switch {
		case strings.HasPrefix(res, "key/"):
			name = strings.TrimPrefix(res, "key/")
			if !isKeyID(name) {
				return nil, errorf("NotFoundException", "Invalid keyId '%s'", ref)
			}
		case strings.HasPrefix(res, "alias/"):
			name = res
		default:
			return nil, errorf("InvalidArnException", "ARN %s names neither a key nor an alias", ref)
		}
	}
	if strings.HasPrefix(name, "alias/") {
		if !allowAlias {
			return nil, errorf("NotFoundException", "Invalid keyId '%s': this operation takes a key ID or key ARN, not an alias", ref)
		}
		a := s.aliases[name]
		if a == nil {
			return nil, errorf("NotFoundException", "Alias %s is not found.", s.aliasARN(name))
		}
		return s.keys[a.target], nil
	}
	if !isKeyID(name) {
		return nil, errorf("NotFoundException", "Invalid keyId '%s'", ref)
	}
	k := s.keys[strings.ToLower(name)]
	if k == nil {
		return nil, errorf("NotFoundException", "Key '%s' does not exist", s.keyARN(strings.ToLower(name)))
	}
	return k, nil
}

// sweepLocked deletes every key whose pending-deletion window has ended
// and returns the events to publish. Callers hold s.mu.
func (s *Service) sweepLocked(now time.Time) []KeyEvent {
	if s.sweepAt.IsZero() || now.Before(s.sweepAt) {
		return nil // no deletion window has ended
	}
	var evs []KeyEvent
	s.sweepAt = time.Time{}
	for id, k := range s.keys {
		if k.state == StatePendingDeletion && now.Before(k.deletion) && (s.sweepAt.IsZero() || k.deletion.Before(s.sweepAt)) {
			s.sweepAt = k.deletion
		}
		if k.state == StatePendingDeletion && !now.Before(k.deletion) {
			delete(s.keys, id)
			for name, a := range s.aliases {
				if a.target == id {
					delete(s.aliases, name)
				}
			}
			evs = append(evs, KeyEvent{ARN: k.arn, Kind: EventDeleted})
		}
	}
	slices.SortFunc(evs, func(a, b KeyEvent) int { return strings.Compare(a.ARN, b.ARN) })
	return evs
}

// authorizeLocked checks that the key policy lets the caller (the account
// root) perform action on k.
func (s *Service) authorizeLocked(k *key, action string) *apiError {
	req := request{
		PrincipalAWS:     s.rootARN(),
		PrincipalAccount: s.account,
		Action:           action,
		Resource:         k.arn,
		Context: map[string]string{
			"kms:CallerAccount":    s.account,
			"aws:PrincipalAccount": s.account,
			"aws:PrincipalArn":     s.rootARN(),
		},
	}
	if k.policy.evaluate(req) != allowed {
		return errorf("AccessDeniedException",
			"User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
			s.rootARN(), action, k.arn, action)
	}
	return nil
}

// lockoutCheck is KMS's policy lockout safety check: the new policy of
// the key keyARN must let the caller put a policy again.
func (s *Service) lockoutCheck(p *policy, keyARN string) *apiError {
	req := request{
		PrincipalAWS:     s.rootARN(),
		PrincipalAccount: s.account,
		Action:           "kms:PutKeyPolicy",
		Resource:         keyARN,
		Context: map[string]string{
			"kms:CallerAccount":    s.account,
			"aws:PrincipalAccount": s.account,
			"aws:PrincipalArn":     s.rootARN(),
		},
	}
	if p.evaluate(req) != allowed {
		return errorf("MalformedPolicyDocumentException",
			"The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}

func (s *Service) defaultPolicy() string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "` + s.rootARN() + `"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// stateError is the error KMS gives for a cryptographic operation on a key
// that is not Enabled.
func stateError(k *key) *apiError {
	switch k.state {
	case StateEnabled:
		return nil
	case StateDisabled:
		return errorf("DisabledException", "%s is disabled.", k.arn)
	case StatePendingDeletion:
		return errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
	}
	return errorf("KMSInvalidStateException", "%s is %s.", k.arn, k.state)
}

func (k *key) signingAlgorithms() []string {
	if k.usage != UsageSignVerify {
		return nil
	}
	return specs[k.spec].signing
}

func (k *key) encryptionAlgorithms() []string {
	if k.usage != UsageEncryptDecrypt {
		return nil
	}
	return specs[k.spec].encryption
}

// generateP256 makes a P-256 key as authzone.GenerateKey makes a KSK
// (flags 257, algorithm 13, as Route 53 publishes it): never with key tag
// 0, which miekg/dns, the local name servers' signer, refuses.
func generateP256() (crypto.Signer, error) {
	k, err := authzone.GenerateKey(".", dns.ECDSAP256SHA256, authzone.KSK)
	if err != nil {
		return nil, err
	}
	return k.Signer, nil
}
