package route53emu

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

func tagsOf(sets []types.ResourceTagSet) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range sets {
		m := map[string]string{}
		for _, t := range s.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		out[aws.ToString(s.ResourceId)] = m
	}
	return out
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.createZone(t, "a.example."), e.createZone(t, "b.example.")
	_, err := e.client.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{
		ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(a),
		AddTags: []types.Tag{{Key: aws.String("dnssec-autopilot"), Value: aws.String("rotate")}, {Key: aws.String("team"), Value: aws.String("dns")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{
		ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(a), RemoveTagKeys: []string{"team"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.client.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{
		ResourceType: types.TagResourceTypeHostedzone, ResourceIds: []string{a, b},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{a: {"dnssec-autopilot": "rotate"}, b: {}}
	if diff := cmp.Diff(want, tagsOf(out.ResourceTagSets)); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	one, err := e.client.ListTagsForResource(ctx, &route53.ListTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(a)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]map[string]string{a: {"dnssec-autopilot": "rotate"}}, tagsOf([]types.ResourceTagSet{*one.ResourceTagSet})); diff != "" {
		t.Errorf("ListTagsForResource (-want +got):\n%s", diff)
	}
}

func TestTagErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.createZone(t, "a.example.")
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = a
	}
	tests := []struct {
		name string
		call func() error
		want string // the API error code
	}{
		{"unknown zone", func() error {
			_, err := e.client.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceType: types.TagResourceTypeHostedzone, ResourceIds: []string{"ZNOSUCHZONE"}})
			return err
		}, "NoSuchHostedZone"},
		{"more than 10 resources", func() error {
			_, err := e.client.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceType: types.TagResourceTypeHostedzone, ResourceIds: eleven})
			return err
		}, "InvalidInput"},
		{"health check", func() error {
			_, err := e.client.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceType: types.TagResourceTypeHealthcheck, ResourceIds: []string{a}})
			return err
		}, "InvalidInput"},
		{"nothing to change", func() error {
			_, err := e.client.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(a)})
			return err
		}, "InvalidInput"},
		{"empty key", func() error {
			_, err := e.client.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceType: types.TagResourceTypeHostedzone, ResourceId: aws.String(a), AddTags: []types.Tag{{Key: aws.String("")}}})
			return err
		}, "InvalidInput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
}
