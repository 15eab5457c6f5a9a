package kmsemu

import (
	"errors"
	"fmt"
	"testing"
)

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"kms:*", "kms:Sign", true},
		{"kms:Get*", "kms:GetPublicKey", true},
		{"kms:Get*", "kms:Sign", false},
		{"kms:?ign", "kms:Sign", true},
		{"kms:?ign", "kms:ign", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"abc", "abcd", false},
		{"", "", true},
		{"**", "x", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestArnMatch(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"arn:aws:route53:::hostedzone/*", "arn:aws:route53:::hostedzone/Z1", true},
		{"arn:aws:route53:::hostedzone/*", "arn:aws:route53:::healthcheck/Z1", false},
		{"arn:aws:route53:::hostedzone/Z1", "arn:aws:route53:::hostedzone/Z1", true},
		{"arn:aws:route53:::hostedzone/Z1", "arn:aws:route53:::hostedzone/Z2", false},
		{"arn:aws:*:*:*:*", "arn:aws:s3:::b", true},
		// The wildcard of one component does not run into the next.
		{"arn:aws:route53*", "arn:aws:route53:::hostedzone/Z1", false},
		{"arn:aws:route53:::hostedzone/*", "not-an-arn", false},
		// Everything after the fifth colon is the resource, colons and all.
		{"arn:aws:logs:us-east-1:1:log-group:*", "arn:aws:logs:us-east-1:1:log-group:a:b", true},
	}
	for _, tt := range tests {
		if got := arnMatch(tt.pattern, tt.arn); got != tt.want {
			t.Errorf("arnMatch(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"not JSON", `{`},
		{"trailing data", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}} {}`},
		{"no Statement", `{"Version":"2012-10-17"}`},
		{"empty Statement list", `{"Statement":[]}`},
		{"bad Version", `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
		{"bad Effect", `{"Statement":{"Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*"}}`},
		{"no Principal", `{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}`},
		{"Principal string not *", `{"Statement":{"Effect":"Allow","Principal":"me","Action":"kms:*","Resource":"*"}}`},
		{"unknown principal type", `{"Statement":{"Effect":"Allow","Principal":{"Robot":"r2"},"Action":"kms:*","Resource":"*"}}`},
		{"invalid AWS principal", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}}`},
		{"no Action", `{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}`},
		{"Action and NotAction", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Sign","Resource":"*"}}`},
		{"Action without prefix", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"Sign","Resource":"*"}}`},
		{"Action not a string", `{"Statement":{"Effect":"Allow","Principal":"*","Action":5,"Resource":"*"}}`},
		{"no Resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*"}}`},
		{"unknown operator", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringSortOf":{"a":"b"}}}}`},
		{"NullIfExists", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"a":"true"}}}}`},
		{"object condition value", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a":{"b":"c"}}}}}`},
	}
	for _, tt := range tests {
		if _, err := parsePolicy(tt.doc); !errors.Is(err, errMalformedPolicy) {
			t.Errorf("parsePolicy(%s) error = %v, want errMalformedPolicy", tt.name, err)
		}
	}
}

func TestConditions(t *testing.T) {
	const stmt = `{"Statement":{"Effect":"Allow","Principal":{"Service":"svc.amazonaws.com"},"Action":"kms:Sign","Resource":"*","Condition":%s}}`
	tests := []struct {
		name string
		cond string
		ctx  map[string]string
		want bool
	}{
		{"StringEquals match", `{"StringEquals":{"k":"v"}}`, map[string]string{"k": "v"}, true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"k":"v"}}`, map[string]string{"k": "V"}, false},
		{"StringEquals missing key", `{"StringEquals":{"k":"v"}}`, nil, false},
		{"StringEqualsIfExists missing key", `{"StringEqualsIfExists":{"k":"v"}}`, nil, true},
		{"StringEqualsIfExists wrong value", `{"StringEqualsIfExists":{"k":"v"}}`, map[string]string{"k": "w"}, false},
		{"values are ORed", `{"StringEquals":{"k":["a","b"]}}`, map[string]string{"k": "b"}, true},
		{"keys are ANDed", `{"StringEquals":{"k":"a","l":"b"}}`, map[string]string{"k": "a", "l": "c"}, false},
		{"operators are ANDed", `{"StringEquals":{"k":"a"},"StringLike":{"l":"b*"}}`, map[string]string{"k": "a", "l": "bcd"}, true},
		{"StringNotEquals", `{"StringNotEquals":{"k":"a"}}`, map[string]string{"k": "b"}, true},
		{"StringNotEquals missing key", `{"StringNotEquals":{"k":"a"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"k":"ABC"}}`, map[string]string{"k": "abc"}, true},
		{"StringLike", `{"StringLike":{"k":"arn:*:zone/?1"}}`, map[string]string{"k": "arn:x:zone/Z1"}, true},
		{"StringNotLike", `{"StringNotLike":{"k":"a*"}}`, map[string]string{"k": "abc"}, false},
		{"ArnLike", `{"ArnLike":{"aws:SourceArn":"arn:aws:route53:::hostedzone/*"}}`, map[string]string{"aws:SourceArn": "arn:aws:route53:::hostedzone/Z9"}, true},
		{"ArnEquals", `{"ArnEquals":{"aws:SourceArn":"arn:aws:route53:::hostedzone/Z9"}}`, map[string]string{"aws:SourceArn": "arn:aws:route53:::hostedzone/Z8"}, false},
		{"ArnNotLike", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:route53:::hostedzone/*"}}`, map[string]string{"aws:SourceArn": "arn:aws:s3:::b"}, true},
		{"ArnLikeIfExists missing key", `{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:route53:::hostedzone/*"}}`, nil, true},
		{"Bool true", `{"Bool":{"kms:GrantIsForAWSResource":true}}`, map[string]string{"kms:GrantIsForAWSResource": "TRUE"}, true},
		{"Bool false", `{"Bool":{"kms:GrantIsForAWSResource":"true"}}`, map[string]string{"kms:GrantIsForAWSResource": "false"}, false},
		{"BoolIfExists missing key", `{"BoolIfExists":{"kms:GrantIsForAWSResource":"true"}}`, nil, true},
		{"Null true, key absent", `{"Null":{"k":"true"}}`, nil, true},
		{"Null true, key present", `{"Null":{"k":"true"}}`, map[string]string{"k": "x"}, false},
		{"Null false, key present", `{"Null":{"k":"false"}}`, map[string]string{"k": "x"}, true},
		{"key names are case-insensitive", `{"StringEquals":{"AWS:SourceAccount":"1"}}`, map[string]string{"aws:sourceaccount": "1"}, true},
		{"numbers compare as strings", `{"StringEquals":{"aws:SourceAccount":123456789012}}`, map[string]string{"aws:SourceAccount": "123456789012"}, true},
	}
	for _, tt := range tests {
		p, err := parsePolicy(fmt.Sprintf(stmt, tt.cond))
		if err != nil {
			t.Fatalf("%s: parsePolicy: %v", tt.name, err)
		}
		req := request{PrincipalService: "svc.amazonaws.com", Action: "kms:Sign", Resource: "arn:aws:kms:us-east-1:1:key/k", Context: tt.ctx}
		if got := p.evaluate(req) == allowed; got != tt.want {
			t.Errorf("%s: allowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEvaluatePrincipalsAndResources(t *testing.T) {
	const keyARN = "arn:aws:kms:us-east-1:123456789012:key/k"
	root := request{PrincipalAWS: "arn:aws:iam::123456789012:root", PrincipalAccount: "123456789012", Action: "kms:PutKeyPolicy", Resource: keyARN}
	svc := request{PrincipalService: "dnssec-route53.amazonaws.com", Action: "kms:Sign", Resource: keyARN}
	tests := []struct {
		name string
		doc  string
		req  request
		want decision
	}{
		{"root by ARN", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}}`, root, allowed},
		{"root by account ID", `{"Statement":{"Effect":"Allow","Principal":{"AWS":["111111111111","123456789012"]},"Action":"kms:*","Resource":"*"}}`, root, allowed},
		{"another account", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}}`, root, implicitDeny},
		{"everyone", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, svc, allowed},
		{"AWS * covers services", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Sign","Resource":"*"}}`, svc, allowed},
		{"AWS principal does not cover a service", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}}`, svc, implicitDeny},
		{"service list", `{"Statement":{"Effect":"Allow","Principal":{"Service":["s3.amazonaws.com","dnssec-route53.amazonaws.com"]},"Action":"kms:Sign","Resource":"*"}}`, svc, allowed},
		{"NotAction", `{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"kms:Sign","Resource":"*"}}`, svc, implicitDeny},
		{"NotPrincipal", `{"Statement":{"Effect":"Deny","NotPrincipal":{"Service":"dnssec-route53.amazonaws.com"},"Action":"kms:*","Resource":"*"}}`, svc, implicitDeny},
		{"resource is the key", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"arn:aws:kms:*:123456789012:key/*"}}`, svc, allowed},
		{"resource is another key", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"arn:aws:kms:*:*:key/other"}}`, svc, implicitDeny},
		{"NotResource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Sign","NotResource":"arn:aws:kms:*:*:key/other"}}`, svc, allowed},
		{"explicit deny wins in either order", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"kms:Sign","Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`, svc, explicitDeny},
		{"explicit deny after allow", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"kms:S*","Resource":"*"}]}`, svc, explicitDeny},
	}
	for _, tt := range tests {
		p, err := parsePolicy(tt.doc)
		if err != nil {
			t.Fatalf("%s: parsePolicy: %v", tt.name, err)
		}
		if got := p.evaluate(tt.req); got != tt.want {
			t.Errorf("%s: evaluate = %v, want %v", tt.name, got, tt.want)
		}
	}
}
