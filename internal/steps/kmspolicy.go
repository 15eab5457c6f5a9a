package steps

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The key policy of a KMS key backing a KSK, as the Route 53 Developer Guide
// documents it ("Working with customer managed keys for DNSSEC"): the DNSSEC
// service principal may describe the key, read its public key and sign,
// for this account's hosted zone only (confused-deputy conditions); it may
// create grants for AWS resources; and the account keeps full control through
// IAM (without that statement nobody could manage or delete the key).

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a key policy. Principal, Action and
// Resource keep the JSON shapes IAM accepts (a string or a list).
type PolicyStatement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal"`
	Action    any                       `json:"Action"`
	Resource  any                       `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// The actions Route 53 needs on the key to sign a zone.
var dnssecKeyActions = []string{"kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"}

// HostedZoneARN is the aws:SourceArn Route 53 signs with for a hosted zone.
func HostedZoneARN(hostedZoneID string) string {
	return "arn:aws:route53:::hostedzone/" + NormalizeHostedZoneID(hostedZoneID)
}

// KeyPolicy returns the key policy for a key that backs KSKs of hostedZoneID
// in accountID.
func KeyPolicy(accountID, hostedZoneID string) PolicyDocument {
	service := map[string]any{"Service": DNSSECServicePrincipal}
	return PolicyDocument{
		Version: "2012-10-17",
		Statement: []PolicyStatement{
			{
				Sid:       "Allow Route 53 DNSSEC Service",
				Effect:    "Allow",
				Principal: service,
				Action:    dnssecKeyActions,
				Resource:  "*",
				Condition: map[string]map[string]any{
					"StringEquals": {"aws:SourceAccount": accountID},
					"ArnLike":      {"aws:SourceArn": HostedZoneARN(hostedZoneID)},
				},
			},
			{
				Sid:       "Allow Route 53 DNSSEC to CreateGrant",
				Effect:    "Allow",
				Principal: service,
				Action:    "kms:CreateGrant",
				Resource:  "*",
				Condition: map[string]map[string]any{
					"Bool": {"kms:GrantIsForAWSResource": true},
				},
			},
			{
				Sid:       "Enable IAM User Permissions",
				Effect:    "Allow",
				Principal: map[string]any{"AWS": "arn:aws:iam::" + accountID + ":root"},
				Action:    "kms:*",
				Resource:  "*",
			},
		},
	}
}

// String returns the policy as JSON.
func (p PolicyDocument) String() string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // only strings, lists and booleans: cannot fail
	}
	return string(b)
}

// CheckKeyPolicy reports why the key policy doc would not let Route 53 sign
// hostedZoneID of accountID with the key, or "" when it does. It is
// conservative: an Allow counts only when every condition of its statement is
// one it can evaluate and holds (aws:SourceAccount, aws:SourceArn), and any
// Deny that may apply to the DNSSEC service is a refusal.
func CheckKeyPolicy(doc, accountID, hostedZoneID string) string {
	var raw struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return fmt.Sprintf("the policy is not JSON: %v", err)
	}
	var stmts []PolicyStatement
	if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
		var one PolicyStatement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return fmt.Sprintf("the policy's Statement is malformed: %v", err)
		}
		stmts = []PolicyStatement{one}
	}
	ctx := map[string]string{"aws:sourceaccount": accountID, "aws:sourcearn": HostedZoneARN(hostedZoneID)}
	for _, action := range dnssecKeyActions {
		allowed, denied := false, ""
		for _, st := range stmts {
			if !principalMatches(st.Principal, DNSSECServicePrincipal) || !matchesAny(st.Action, action) {
				continue
			}
			switch st.Effect {
			case "Deny":
				denied = fmt.Sprintf("statement %q denies %s", st.Sid, action)
			case "Allow":
				if conditionsHold(st.Condition, ctx) {
					allowed = true
				}
			}
		}
		switch {
		case denied != "":
			return denied
		case !allowed:
			return fmt.Sprintf("no statement allows %s to %s for %s in account %s", DNSSECServicePrincipal, action, HostedZoneARN(hostedZoneID), accountID)
		}
	}
	return ""
}

// principalMatches reports whether a Principal element names service.
func principalMatches(p map[string]any, service string) bool {
	for k, v := range p {
		if k == "Service" && matchesAny(v, service) {
			return true
		}
		if k == "AWS" && matchesAny(v, "*") {
			return true
		}
	}
	return false
}

// matchesAny reports whether an IAM string-or-list value matches s, with
// IAM wildcards (case-insensitively, as IAM compares actions).
func matchesAny(v any, s string) bool {
	var list []string
	switch x := v.(type) {
	case string:
		list = []string{x}
	case []any:
		for _, e := range x {
			if es, ok := e.(string); ok {
				list = append(list, es)
			}
		}
	case []string:
		list = x
	}
	for _, pat := range list {
		if pat == "*" {
			return true
		}
		if globMatch(strings.ToLower(pat), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// conditionsHold evaluates a Condition block against ctx; an operator or a
// key it does not know makes it false.
func conditionsHold(cond map[string]map[string]any, ctx map[string]string) bool {
	for op, kv := range cond {
		for key, want := range kv {
			got, known := ctx[strings.ToLower(key)]
			if !known {
				return false
			}
			switch op {
			case "StringEquals", "ArnEquals":
				if !equalsAny(want, got) {
					return false
				}
			case "StringLike", "ArnLike":
				if !matchesAny(want, got) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

func equalsAny(v any, s string) bool {
	switch x := v.(type) {
	case string:
		return x == s
	case []any:
		for _, e := range x {
			if e == s {
				return true
			}
		}
	}
	return false
}

// globMatch matches s against an IAM pattern: * is any run of characters
// (including '/'), ? any one character.
func globMatch(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if globMatch(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}
