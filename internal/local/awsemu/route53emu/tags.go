package route53emu

import (
	"encoding/xml"
	"maps"
	"net/http"
	"slices"
)

// Tags of hosted zones: ChangeTagsForResource, ListTagsForResource and
// ListTagsForResources (fleet-rotate selects the zones that carry a tag).
// Health checks are not emulated: their resource type is refused.

// Route 53's documented tag limits.
const (
	maxTagsPerResource = 50
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
	maxTagResources    = 10 // ResourceIds of one ListTagsForResources
)

type wireTag struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

type changeTagsRequest struct {
	XMLName       xml.Name  `xml:"ChangeTagsForResourceRequest"`
	AddTags       []wireTag `xml:"AddTags>Tag"`
	RemoveTagKeys []string  `xml:"RemoveTagKeys>Key"`
}

type listTagsRequest struct {
	XMLName     xml.Name `xml:"ListTagsForResourcesRequest"`
	ResourceIDs []string `xml:"ResourceIds>ResourceId"`
}

type outTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type resourceTagSet struct {
	ResourceType string   `xml:"ResourceType"`
	ResourceID   string   `xml:"ResourceId"`
	Tags         []outTag `xml:"Tags>Tag"`
}

type changeTagsResponse struct {
	XMLName xml.Name `xml:"ChangeTagsForResourceResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
}

type listTagsForResourceResponse struct {
	XMLName        xml.Name       `xml:"ListTagsForResourceResponse"`
	Xmlns          string         `xml:"xmlns,attr"`
	ResourceTagSet resourceTagSet `xml:"ResourceTagSet"`
}

type listTagsForResourcesResponse struct {
	XMLName         xml.Name         `xml:"ListTagsForResourcesResponse"`
	Xmlns           string           `xml:"xmlns,attr"`
	ResourceTagSets []resourceTagSet `xml:"ResourceTagSets>ResourceTagSet"`
}

func checkTagResourceType(t string) *apiError {
	if t != "hostedzone" {
		return errorf(CodeInvalidInput, "route53emu tags only hosted zones, not resource type %q", t)
	}
	return nil
}

func (z *zone) tagSet() resourceTagSet {
	ts := resourceTagSet{ResourceType: "hostedzone", ResourceID: z.id}
	for _, k := range slices.Sorted(maps.Keys(z.tags)) {
		ts.Tags = append(ts.Tags, outTag{Key: k, Value: z.tags[k]})
	}
	return ts
}

func (s *Service) changeTagsForResource(r *http.Request, args []string) (reply, *apiError) {
	if aerr := checkTagResourceType(args[0]); aerr != nil {
		return reply{}, aerr
	}
	var req changeTagsRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return reply{}, aerr
	}
	if len(req.AddTags) == 0 && len(req.RemoveTagKeys) == 0 {
		return reply{}, errorf(CodeInvalidInput, "1 validation error detected: AddTags or RemoveTagKeys must not be empty")
	}
	for _, t := range req.AddTags {
		if t.Key == nil || *t.Key == "" || len(*t.Key) > maxTagKeyLen {
			return reply{}, errorf(CodeInvalidInput, "1 validation error detected: Value at 'addTags.member.key' failed to satisfy constraint: Member must have length between 1 and %d", maxTagKeyLen)
		}
		if t.Value != nil && len(*t.Value) > maxTagValueLen {
			return reply{}, errorf(CodeInvalidInput, "1 validation error detected: Value at 'addTags.member.value' failed to satisfy constraint: Member must have length less than or equal to %d", maxTagValueLen)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.taggedZone(args[1])
	if aerr != nil {
		return reply{}, aerr
	}
	next := maps.Clone(z.tags)
	if next == nil {
		next = map[string]string{}
	}
	for _, k := range req.RemoveTagKeys {
		delete(next, k)
	}
	for _, t := range req.AddTags {
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		next[*t.Key] = v
	}
	if len(next) > maxTagsPerResource {
		return reply{}, errorf(CodeInvalidInput, "A resource can have at most %d tags", maxTagsPerResource)
	}
	z.tags = next
	return reply{status: http.StatusOK, body: changeTagsResponse{Xmlns: xmlns}}, nil
}

func (s *Service) listTagsForResource(_ *http.Request, args []string) (reply, *apiError) {
	if aerr := checkTagResourceType(args[0]); aerr != nil {
		return reply{}, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.taggedZone(args[1])
	if aerr != nil {
		return reply{}, aerr
	}
	return reply{status: http.StatusOK, body: listTagsForResourceResponse{Xmlns: xmlns, ResourceTagSet: z.tagSet()}}, nil
}

func (s *Service) listTagsForResources(r *http.Request, args []string) (reply, *apiError) {
	if aerr := checkTagResourceType(args[0]); aerr != nil {
		return reply{}, aerr
	}
	var req listTagsRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return reply{}, aerr
	}
	if n := len(req.ResourceIDs); n == 0 || n > maxTagResources {
		return reply{}, errorf(CodeInvalidInput, "1 validation error detected: Value at 'resourceIds' failed to satisfy constraint: Member must have length between 1 and %d", maxTagResources)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := listTagsForResourcesResponse{Xmlns: xmlns}
	for _, id := range req.ResourceIDs {
		z, aerr := s.taggedZone(id)
		if aerr != nil {
			return reply{}, aerr
		}
		resp.ResourceTagSets = append(resp.ResourceTagSets, z.tagSet())
	}
	return reply{status: http.StatusOK, body: resp}, nil
}

// taggedZone finds a zone by ID without settling it (tags are not part of
// its DNS state). Callers hold s.mu.
func (s *Service) taggedZone(id string) (*zone, *apiError) {
	z := s.zones[cleanID(id)]
	if z == nil {
		return nil, errorf(CodeNoSuchHostedZone, "No hosted zone found with ID: %s", cleanID(id))
	}
	return z, nil
}
