package kmsemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/awsjson"
)

// Limits KMS documents for the parameters below.
const (
	maxDescription   = 8192
	maxPolicy        = 32768 // bytes of a key policy document
	maxSignMessage   = 4096
	maxTagsPerKey    = 50
	defaultPageLimit = 50
	// Pending-deletion window bounds and default, in days.
	minPendingWindow     = 7
	maxPendingWindow     = 30
	defaultPendingWindow = 30
)

var (
	aliasNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	policyNamePattern = regexp.MustCompile(`^[\w]+$`)
)

type tagJSON struct {
	TagKey   string
	TagValue string
}

type keyMetadata struct {
	AWSAccountId          string
	KeyId                 string
	Arn                   string
	CreationDate          float64
	Enabled               bool
	Description           string
	KeyUsage              string
	KeyState              string
	DeletionDate          *float64 `json:",omitempty"`
	Origin                string
	KeyManager            string
	CustomerMasterKeySpec string
	KeySpec               string
	EncryptionAlgorithms  []string `json:",omitempty"`
	SigningAlgorithms     []string `json:",omitempty"`
	MultiRegion           bool
}

func (s *Service) metadata(k *key) keyMetadata {
	m := keyMetadata{
		AWSAccountId:          s.account,
		KeyId:                 k.id,
		Arn:                   k.arn,
		CreationDate:          awsjson.Timestamp(k.created),
		Enabled:               k.state == StateEnabled,
		Description:           k.description,
		KeyUsage:              k.usage,
		KeyState:              k.state,
		Origin:                "AWS_KMS",
		KeyManager:            "CUSTOMER",
		CustomerMasterKeySpec: k.spec,
		KeySpec:               k.spec,
		EncryptionAlgorithms:  k.encryptionAlgorithms(),
		SigningAlgorithms:     k.signingAlgorithms(),
	}
	if k.state == StatePendingDeletion {
		d := awsjson.Timestamp(k.deletion)
		m.DeletionDate = &d
	}
	return m
}

// withKey runs f on the key named by ref under the lock, after the sweep
// and the caller's key policy check for action ("" for an operation
// authorized by IAM alone).
func (s *Service) withKey(ref string, allowAlias bool, action string, f func(k *key, now time.Time) (any, []KeyEvent, *apiError)) (any, *apiError) {
	if ref == "" {
		return nil, validationf("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	if len(ref) > 2048 {
		return nil, validationf("1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	var (
		out  any
		aerr *apiError
	)
	s.locked(func() []KeyEvent {
		k, e := s.resolveLocked(ref, allowAlias)
		if e != nil {
			aerr = e
			return nil
		}
		if action != "" {
			if e := s.authorizeLocked(k, action); e != nil {
				aerr = e
				return nil
			}
		}
		var evs []KeyEvent
		out, evs, aerr = f(k, s.clk.Now())
		return evs
	})
	return out, aerr
}

func validateTags(tags []tagJSON) *apiError {
	for _, t := range tags {
		switch {
		case t.TagKey == "" || len(t.TagKey) > 128:
			return validationf("1 validation error detected: Value '%s' at 'tags.member.tagKey' failed to satisfy constraint: Member must have length between 1 and 128", t.TagKey)
		case len(t.TagValue) > 256:
			return validationf("1 validation error detected: Value at 'tags.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256")
		case strings.HasPrefix(strings.ToLower(t.TagKey), "aws:"):
			return errorf("TagException", "Tags beginning with aws: are reserved")
		}
	}
	return nil
}

func mergeTags(have []tag, add []tagJSON) []tag {
	for _, t := range add {
		i := slices.IndexFunc(have, func(h tag) bool { return h.Key == t.TagKey })
		if i >= 0 {
			have[i].Value = t.TagValue
		} else {
			have = append(have, tag{Key: t.TagKey, Value: t.TagValue})
		}
	}
	return have
}

// parsePolicyParam validates a policy document for the key keyARN and,
// unless bypass, applies the lockout safety check.
func (s *Service) parsePolicyParam(doc, keyARN string, bypass bool) (*policy, *apiError) {
	if len(doc) > maxPolicy {
		return nil, errorf("LimitExceededException", "Policy document is larger than %d bytes", maxPolicy)
	}
	p, err := parsePolicy(doc)
	if err != nil {
		return nil, errorf("MalformedPolicyDocumentException", "%v", err)
	}
	if !bypass {
		if e := s.lockoutCheck(p, keyARN); e != nil {
			return nil, e
		}
	}
	return p, nil
}

func (s *Service) createKey(body []byte) (any, *apiError) {
	var in struct {
		Policy                         *string
		Description                    string
		KeyUsage                       string
		CustomerMasterKeySpec          string
		KeySpec                        string
		Origin                         string
		CustomKeyStoreId               string
		BypassPolicyLockoutSafetyCheck bool
		Tags                           []tagJSON
		MultiRegion                    bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	spec := in.KeySpec
	if in.CustomerMasterKeySpec != "" {
		if spec != "" {
			return nil, validationf("You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
		}
		spec = in.CustomerMasterKeySpec
	}
	if spec == "" {
		spec = SpecSymmetricDefault
	}
	if !slices.Contains(knownKeySpecs, spec) {
		return nil, validationf("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: %v", spec, knownKeySpecs)
	}
	ks, ok := specs[spec]
	if !ok {
		return nil, errorf("UnsupportedOperationException", "kmsemu: KeySpec %s is not emulated; use one of SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, ECC_NIST_P384", spec)
	}
	usage := in.KeyUsage
	if usage == "" {
		usage = UsageEncryptDecrypt
	}
	switch usage {
	case UsageEncryptDecrypt, UsageSignVerify, "GENERATE_VERIFY_MAC", "KEY_AGREEMENT":
	default:
		return nil, validationf("1 validation error detected: Value '%s' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT]", usage)
	}
	if !slices.Contains(ks.usages, usage) {
		return nil, validationf("KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		if in.Origin != "EXTERNAL" && in.Origin != "AWS_CLOUDHSM" && in.Origin != "EXTERNAL_KEY_STORE" {
			return nil, validationf("1 validation error detected: Value '%s' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL, EXTERNAL_KEY_STORE, AWS_KMS]", in.Origin)
		}
		return nil, errorf("UnsupportedOperationException", "kmsemu: Origin %s is not emulated", in.Origin)
	}
	if in.CustomKeyStoreId != "" {
		return nil, errorf("CustomKeyStoreNotFoundException", "Custom key store %s does not exist", in.CustomKeyStoreId)
	}
	if in.MultiRegion {
		return nil, errorf("UnsupportedOperationException", "kmsemu: multi-Region keys are not emulated")
	}
	if len(in.Description) > maxDescription {
		return nil, validationf("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxDescription)
	}
	if e := validateTags(in.Tags); e != nil {
		return nil, e
	}
	if len(in.Tags) > maxTagsPerKey {
		return nil, errorf("TagException", "Too many tags: at most %d", maxTagsPerKey)
	}
	doc := s.defaultPolicy()
	if in.Policy != nil {
		doc = *in.Policy
	}
	// Refuse a bad document before generating key material.
	if len(doc) > maxPolicy {
		return nil, errorf("LimitExceededException", "Policy document is larger than %d bytes", maxPolicy)
	}
	if _, err := parsePolicy(doc); err != nil {
		return nil, errorf("MalformedPolicyDocumentException", "%v", err)
	}
	k, err := s.newKey(spec, usage, in.Description, s.clk.Now())
	if err != nil {
		return nil, errorf("KMSInternalException", "%v", err)
	}
	pol, e := s.parsePolicyParam(doc, k.arn, in.BypassPolicyLockoutSafetyCheck)
	if e != nil {
		return nil, e
	}
	k.policyDoc, k.policy = doc, pol
	k.tags = mergeTags(nil, in.Tags)
	var out any
	s.locked(func() []KeyEvent {
		s.keys[k.id] = k
		out = struct{ KeyMetadata keyMetadata }{s.metadata(k)}
		return []KeyEvent{{ARN: k.arn, Kind: EventCreated}}
	})
	return out, nil
}

type keyIDInput struct{ KeyId string }

func (s *Service) describeKey(body []byte) (any, *apiError) {
	var in keyIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withKey(in.KeyId, true, "kms:DescribeKey", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		return struct{ KeyMetadata keyMetadata }{s.metadata(k)}, nil, nil
	})
}

func (s *Service) getPublicKey(body []byte) (any, *apiError) {
	var in keyIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withKey(in.KeyId, true, "kms:GetPublicKey", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if e := stateError(k); e != nil {
			return nil, nil, e
		}
		if k.private == nil {
			return nil, nil, errorf("UnsupportedOperationException", "%s key usage is %s and key spec is %s, which has no public key", k.arn, k.usage, k.spec)
		}
		return struct {
			KeyId                 string
			PublicKey             []byte
			CustomerMasterKeySpec string
			KeySpec               string
			KeyUsage              string
			SigningAlgorithms     []string `json:",omitempty"`
			EncryptionAlgorithms  []string `json:",omitempty"`
		}{k.arn, k.publicDER, k.spec, k.spec, k.usage, k.signingAlgorithms(), k.encryptionAlgorithms()}, nil, nil
	})
}

func (s *Service) sign(body []byte) (any, *apiError) {
	var in struct {
		KeyId            string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
		GrantTokens      []string
		DryRun           bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch {
	case in.Message == nil:
		return nil, validationf("1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null")
	case len(in.Message) == 0 || len(in.Message) > maxSignMessage:
		return nil, validationf("1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length between 1 and %d", maxSignMessage)
	case in.SigningAlgorithm == "":
		return nil, validationf("1 validation error detected: Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null")
	}
	alg, known := signingHash[in.SigningAlgorithm]
	if !known {
		return nil, validationf("1 validation error detected: Value '%s' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set", in.SigningAlgorithm)
	}
	msgType := in.MessageType
	if msgType == "" {
		msgType = "RAW"
	}
	if msgType != "RAW" && msgType != "DIGEST" && msgType != "EXTERNAL_MU" {
		return nil, validationf("1 validation error detected: Value '%s' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]", msgType)
	}
	return s.withKey(in.KeyId, true, "kms:Sign", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if e := stateError(k); e != nil {
			return nil, nil, e
		}
		if k.usage != UsageSignVerify {
			return nil, nil, errorf("InvalidKeyUsageException", "%s key usage is %s which is not valid for Sign.", k.arn, k.usage)
		}
		if !slices.Contains(k.signingAlgorithms(), in.SigningAlgorithm) {
			return nil, nil, errorf("InvalidKeyUsageException", "Algorithm %s is incompatible with key spec %s.", in.SigningAlgorithm, k.spec)
		}
		if msgType == "EXTERNAL_MU" {
			return nil, nil, errorf("InvalidKeyUsageException", "MessageType EXTERNAL_MU is only valid for ML-DSA keys.")
		}
		if in.DryRun {
			return nil, nil, errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
		}
		digest := in.Message
		if msgType == "RAW" {
			h := alg.hash.New()
			h.Write(in.Message)
			digest = h.Sum(nil)
		} else if len(digest) != alg.hash.Size() {
			return nil, nil, validationf("Digest is invalid length for algorithm %s.", in.SigningAlgorithm)
		}
		var opts crypto.SignerOpts = alg.hash
		if alg.pss {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.hash}
		}
		sig, err := k.private.Sign(rand.Reader, digest, opts)
		if err != nil {
			return nil, nil, errorf("KMSInternalException", "kmsemu: signing: %v", err)
		}
		return struct {
			KeyId            string
			Signature        []byte
			SigningAlgorithm string
		}{k.arn, sig, in.SigningAlgorithm}, nil, nil
	})
}

func (s *Service) enableKey(body []byte) (any, *apiError) {
	return s.setEnabled(body, true)
}

func (s *Service) disableKey(body []byte) (any, *apiError) {
	return s.setEnabled(body, false)
}

func (s *Service) setEnabled(body []byte, enable bool) (any, *apiError) {
	var in keyIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	action, state, kind := "kms:DisableKey", StateDisabled, EventDisabled
	if enable {
		action, state, kind = "kms:EnableKey", StateEnabled, EventEnabled
	}
	return s.withKey(in.KeyId, false, action, func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if k.state == StatePendingDeletion {
			return nil, nil, errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
		}
		if k.state == state {
			return struct{}{}, nil, nil
		}
		k.state = state
		return struct{}{}, []KeyEvent{{ARN: k.arn, Kind: kind}}, nil
	})
}

func (s *Service) scheduleKeyDeletion(body []byte) (any, *apiError) {
	var in struct {
		KeyId               string
		PendingWindowInDays *int32
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	window := int32(defaultPendingWindow)
	if in.PendingWindowInDays != nil {
		window = *in.PendingWindowInDays
		if window < minPendingWindow || window > maxPendingWindow {
			return nil, validationf("PendingWindowInDays value must be between %d and %d.", minPendingWindow, maxPendingWindow)
		}
	}
	return s.withKey(in.KeyId, false, "kms:ScheduleKeyDeletion", func(k *key, now time.Time) (any, []KeyEvent, *apiError) {
		if k.state == StatePendingDeletion {
			return nil, nil, errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
		}
		k.state = StatePendingDeletion
		k.deletion = now.Add(time.Duration(window) * 24 * time.Hour)
		if s.sweepAt.IsZero() || k.deletion.Before(s.sweepAt) {
			s.sweepAt = k.deletion
		}
		k.window = window
		return struct {
			KeyId               string
			DeletionDate        float64
			KeyState            string
			PendingWindowInDays int32
		}{k.arn, awsjson.Timestamp(k.deletion), k.state, window}, []KeyEvent{{ARN: k.arn, Kind: EventPendingDeletion}}, nil
	})
}

func (s *Service) cancelKeyDeletion(body []byte) (any, *apiError) {
	var in keyIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withKey(in.KeyId, false, "kms:CancelKeyDeletion", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if k.state != StatePendingDeletion {
			return nil, nil, errorf("KMSInvalidStateException", "%s is not pending deletion.", k.arn)
		}
		k.state = StateDisabled
		k.deletion = time.Time{}
		k.window = 0
		return struct{ KeyId string }{k.arn}, []KeyEvent{{ARN: k.arn, Kind: EventDeletionCanceled}}, nil
	})
}

func checkPolicyName(name *string) *apiError {
	if name == nil || *name == "default" {
		return nil
	}
	if *name == "" || len(*name) > 128 || !policyNamePattern.MatchString(*name) {
		return validationf("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+", *name)
	}
	return errorf("NotFoundException", "No such policy exists: %s (the only key policy name is default)", *name)
}

func (s *Service) getKeyPolicy(body []byte) (any, *apiError) {
	var in struct {
		KeyId      string
		PolicyName *string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withKey(in.KeyId, false, "kms:GetKeyPolicy", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if e := checkPolicyName(in.PolicyName); e != nil {
			return nil, nil, e
		}
		return struct{ Policy, PolicyName string }{k.policyDoc, "default"}, nil, nil
	})
}

func (s *Service) putKeyPolicy(body []byte) (any, *apiError) {
	var in struct {
		KeyId                          string
		PolicyName                     *string
		Policy                         *string
		BypassPolicyLockoutSafetyCheck bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Policy == nil {
		return nil, validationf("1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null")
	}
	return s.withKey(in.KeyId, false, "kms:PutKeyPolicy", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if e := checkPolicyName(in.PolicyName); e != nil {
			return nil, nil, e
		}
		p, e := s.parsePolicyParam(*in.Policy, k.arn, in.BypassPolicyLockoutSafetyCheck)
		if e != nil {
			return nil, nil, e
		}
		k.policyDoc, k.policy = *in.Policy, p
		return struct{}{}, []KeyEvent{{ARN: k.arn, Kind: EventPolicyChanged}}, nil
	})
}

func (s *Service) createAlias(body []byte) (any, *apiError) {
	var in struct {
		AliasName   string
		TargetKeyId string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name := in.AliasName
	switch {
	case name == "":
		return nil, validationf("1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null")
	case len(name) > 256 || !aliasNamePattern.MatchString(name):
		return nil, validationf("1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", name)
	case !strings.HasPrefix(name, "alias/"):
		return nil, validationf("Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
	case strings.HasPrefix(name, "alias/aws/"):
		return nil, errorf("NotAuthorizedException", "%s is not authorized to create an alias with the reserved prefix alias/aws/", s.rootARN())
	case name == "alias/" || strings.Contains(name, ":"):
		return nil, errorf("InvalidAliasNameException", "Alias name %s is not valid", name)
	}
	if strings.HasPrefix(in.TargetKeyId, "alias/") || strings.Contains(in.TargetKeyId, ":alias/") {
		return nil, validationf("Aliases must refer to keys. Not aliases")
	}
	return s.withKey(in.TargetKeyId, false, "kms:CreateAlias", func(k *key, now time.Time) (any, []KeyEvent, *apiError) {
		if _, dup := s.aliases[name]; dup {
			return nil, nil, errorf("AlreadyExistsException", "An alias with the name %s already exists", s.aliasARN(name))
		}
		if k.state == StatePendingDeletion {
			return nil, nil, errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
		}
		s.aliases[name] = &alias{name: name, target: k.id, created: now, updated: now}
		return struct{}{}, nil, nil
	})
}

// page cuts a sorted list of n items at an opaque marker (the index of
// the next item, as a decimal string).
func page(n int, limit *int32, marker string) (start, end int, next string, e *apiError) {
	lim := defaultPageLimit
	if limit != nil {
		if *limit < 1 || *limit > 1000 {
			return 0, 0, "", validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", *limit)
		}
		lim = int(*limit)
	}
	if marker != "" {
		i, err := strconv.Atoi(marker)
		if err != nil || i < 0 || i > n {
			return 0, 0, "", errorf("InvalidMarkerException", "Invalid marker: %s", marker)
		}
		start = i
	}
	end = min(n, start+lim)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

type aliasEntry struct {
	AliasName       string
	AliasArn        string
	TargetKeyId     string
	CreationDate    float64
	LastUpdatedDate float64
}

func (s *Service) listAliases(body []byte) (any, *apiError) {
	var in struct {
		KeyId  string
		Limit  *int32
		Marker string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	build := func(filter string) (any, *apiError) {
		var names []string
		for name, a := range s.aliases {
			if filter == "" || a.target == filter {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		start, end, next, e := page(len(names), in.Limit, in.Marker)
		if e != nil {
			return nil, e
		}
		out := struct {
			Aliases    []aliasEntry
			NextMarker string `json:",omitempty"`
			Truncated  bool
		}{Aliases: []aliasEntry{}, NextMarker: next, Truncated: next != ""}
		for _, name := range names[start:end] {
			a := s.aliases[name]
			out.Aliases = append(out.Aliases, aliasEntry{name, s.aliasARN(name), a.target, awsjson.Timestamp(a.created), awsjson.Timestamp(a.updated)})
		}
		return out, nil
	}
	if in.KeyId != "" {
		return s.withKey(in.KeyId, false, "", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
			out, e := build(k.id)
			return out, nil, e
		})
	}
	var (
		out any
		e   *apiError
	)
	s.locked(func() []KeyEvent {
		out, e = build("")
		return nil
	})
	return out, e
}

func (s *Service) tagResource(body []byte) (any, *apiError) {
	var in struct {
		KeyId string
		Tags  []tagJSON
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Tags == nil {
		return nil, validationf("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	if e := validateTags(in.Tags); e != nil {
		return nil, e
	}
	return s.withKey(in.KeyId, false, "kms:TagResource", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		if k.state == StatePendingDeletion {
			return nil, nil, errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
		}
		merged := mergeTags(slices.Clone(k.tags), in.Tags)
		if len(merged) > maxTagsPerKey {
			return nil, nil, errorf("LimitExceededException", "The request would exceed the limit of %d tags for %s", maxTagsPerKey, k.arn)
		}
		k.tags = merged
		return struct{}{}, nil, nil
	})
}

func (s *Service) listResourceTags(body []byte) (any, *apiError) {
	var in struct {
		KeyId  string
		Limit  *int32
		Marker string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.withKey(in.KeyId, false, "kms:ListResourceTags", func(k *key, _ time.Time) (any, []KeyEvent, *apiError) {
		tags := slices.Clone(k.tags)
		slices.SortFunc(tags, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
		start, end, next, e := page(len(tags), in.Limit, in.Marker)
		if e != nil {
			return nil, nil, e
		}
		out := struct {
			Tags       []tagJSON
			NextMarker string `json:",omitempty"`
			Truncated  bool
		}{Tags: []tagJSON{}, NextMarker: next, Truncated: next != ""}
		for _, t := range tags[start:end] {
			out.Tags = append(out.Tags, tagJSON{t.Key, t.Value})
		}
		return out, nil, nil
	})
}
