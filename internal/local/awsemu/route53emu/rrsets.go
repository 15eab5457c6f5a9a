package route53emu

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Limits of one ChangeResourceRecordSets request (Route 53 quotas).
const (
	maxBatchRecords = 1000  // ResourceRecord elements
	maxBatchChars   = 32000 // characters of all values
	maxValueLength  = 4000  // characters of one value (RData)
	maxTTL          = 2147483647
	// maxListItems is the largest page ListResourceRecordSets returns.
	maxListItems = 300
)

// recordTypes are the types ChangeResourceRecordSets accepts (the RRType
// enum of the API).
var recordTypes = map[string]uint16{
	"SOA": dns.TypeSOA, "A": dns.TypeA, "TXT": dns.TypeTXT, "NS": dns.TypeNS,
	"CNAME": dns.TypeCNAME, "MX": dns.TypeMX, "NAPTR": dns.TypeNAPTR, "PTR": dns.TypePTR,
	"SRV": dns.TypeSRV, "SPF": dns.TypeSPF, "AAAA": dns.TypeAAAA, "CAA": dns.TypeCAA,
	"DS": dns.TypeDS, "TLSA": dns.TypeTLSA, "SSHFP": dns.TypeSSHFP, "SVCB": dns.TypeSVCB,
	"HTTPS": dns.TypeHTTPS,
}

type rrKey struct {
	name   string
	rrtype uint16
}

// rrset is one resource record set; its records share name, type and TTL.
type rrset struct {
	rrs []dns.RR
}

func (r *rrset) ttl() uint32 { return r.rrs[0].Header().Ttl }

// equal reports whether two sets have the same TTL and the same records.
func (r *rrset) equal(o *rrset) bool {
	if len(r.rrs) != len(o.rrs) || r.ttl() != o.ttl() {
		return false
	}
	for _, a := range r.rrs {
		if !slices.ContainsFunc(o.rrs, func(b dns.RR) bool { return dns.IsDuplicate(a, b) }) {
			return false
		}
	}
	return true
}

// sortedKeys lists z's RRsets in Route 53's order: names with the labels
// reversed, compared as ASCII, then types by name.
func (z *zone) sortedKeys() []rrKey {
	keys := make([]rrKey, 0, len(z.rrsets))
	for k := range z.rrsets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

func compareKeys(a, b rrKey) int {
	if c := strings.Compare(sortKey(a.name), sortKey(b.name)); c != 0 {
		return c
	}
	return strings.Compare(dns.TypeToString[a.rrtype], dns.TypeToString[b.rrtype])
}

// flatRecords copies every record of z, in Route 53's order.
func (z *zone) flatRecords() []dns.RR {
	var out []dns.RR
	for _, k := range z.sortedKeys() {
		for _, rr := range z.rrsets[k].rrs {
			out = append(out, dns.Copy(rr))
		}
	}
	return out
}

// rdata is the presentation of a record's data, as Route 53 lists a value.
func rdata(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// parsedChange is one change of a batch after decoding.
type parsedChange struct {
	action string
	key    rrKey
	set    *rrset
}

func (c parsedChange) describe() string {
	return fmt.Sprintf("[name='%s', type='%s']", apiName(c.key.name), dns.TypeToString[c.key.rrtype])
}

// parseChange decodes and checks one change on its own; zone-dependent
// checks come later. It returns an InvalidInput error for a malformed
// request and a change-batch message for an invalid record.
func parseChange(z *zone, wc wireChange) (parsedChange, string, *apiError) {
	var pc parsedChange
	if wc.Action == nil || wc.ResourceRecordSet == nil {
		return pc, "", errorf(CodeInvalidInput, "Invalid request: a Change needs Action and ResourceRecordSet")
	}
	switch *wc.Action {
	case "CREATE", "DELETE", "UPSERT":
		pc.action = *wc.Action
	default:
		return pc, "", errorf(CodeInvalidInput, "Invalid XML ; Value '%s' is not facet-valid with respect to enumeration '[CREATE, DELETE, UPSERT]'", *wc.Action)
	}
	rs := wc.ResourceRecordSet
	if rs.Name == nil || rs.Type == nil {
		return pc, "", errorf(CodeInvalidInput, "Invalid request: a ResourceRecordSet needs Name and Type")
	}
	t, ok := recordTypes[*rs.Type]
	if !ok {
		return pc, "", errorf(CodeInvalidInput, "Invalid XML ; Value '%s' is not facet-valid with respect to the enumeration of RRType", *rs.Type)
	}
	if rs.SetIdentifier != nil || rs.Weight != nil || rs.Region != nil || rs.GeoLocation != nil || rs.Failover != nil ||
		rs.MultiValueAnswer != nil || rs.AliasTarget != nil || rs.HealthCheckID != nil || rs.TrafficPolicyInstanceID != nil ||
		rs.CidrRoutingConfig != nil || rs.GeoProximityLocation != nil {
		return pc, "", errorf(CodeInvalidInput, "route53emu serves simple routing only: alias records, routing policies, health checks and traffic policies are not emulated (record %s %s)", *rs.Name, *rs.Type)
	}
	name, err := normalizeAPIName(*rs.Name)
	if err != nil {
		return pc, "", errorf(CodeInvalidInput, "Invalid request: %s is not a valid DNS name: %v", *rs.Name, err)
	}
	pc.key = rrKey{name: name, rrtype: t}
	if rs.TTL == nil || rs.ResourceRecords == nil || len(rs.ResourceRecords.Records) == 0 {
		return pc, "", errorf(CodeInvalidInput,
			"Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=null]",
			pc.action, *rs.Name, *rs.Type)
	}
	ttl, err := strconv.ParseInt(strings.TrimSpace(*rs.TTL), 10, 64)
	if err != nil || ttl < 0 || ttl > maxTTL {
		return pc, "", errorf(CodeInvalidInput, "Invalid XML ; TTL %q is not an integer between 0 and %d", *rs.TTL, maxTTL)
	}
	if !inZone(name, z.name) {
		return pc, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", apiName(name), apiName(z.name)), nil
	}
	pc.set = &rrset{}
	for _, rec := range rs.ResourceRecords.Records {
		v := rec.Value
		if v == nil {
			return pc, "", errorf(CodeInvalidInput, "Invalid request: a ResourceRecord needs a Value")
		}
		if len(*v) > maxValueLength {
			return pc, "", errorf(CodeInvalidInput, "Invalid XML ; a Value is longer than %d characters", maxValueLength)
		}
		rr, msg := parseValue(name, uint32(ttl), *rs.Type, *v)
		if msg != "" {
			return pc, msg, nil
		}
		if slices.ContainsFunc(pc.set.rrs, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
			return pc, fmt.Sprintf("Duplicate Resource Record: '%s'", *v), nil
		}
		pc.set.rrs = append(pc.set.rrs, rr)
	}
	if (t == dns.TypeCNAME || t == dns.TypeSOA) && len(pc.set.rrs) > 1 {
		return pc, fmt.Sprintf("RRSet of type %s with DNS name %s has more than one value; it must have exactly one", *rs.Type, apiName(name)), nil
	}
	return pc, "", nil
}

// parseValue reads one value as Route 53 does, returning a change-batch
// message when it is not valid record data for the type.
func parseValue(name string, ttl uint32, typ, value string) (dns.RR, string) {
	bad := func(reason string) (dns.RR, string) {
		return nil, fmt.Sprintf("Invalid Resource Record: 'FATAL problem: %s encountered with '%s''", reason, value)
	}
	if strings.TrimSpace(value) == "" {
		return bad("EmptyValue (Value is empty)")
	}
	if strings.ContainsAny(value, "\n\r;") && typ != "TXT" && typ != "SPF" {
		return bad("UnparseableValue (Value contains a line break or comment)")
	}
	if strings.ContainsAny(value, "\n\r") {
		return bad("UnparseableValue (Value contains a line break)")
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", name, ttl, typ, value))
	if err != nil || rr == nil {
		return bad(fmt.Sprintf("InvalidRData (Value is not valid %s record data: %v)", typ, err))
	}
	if ds, ok := rr.(*dns.DS); ok {
		want := map[uint8]int{dns.SHA1: 40, dns.SHA256: 64, dns.SHA384: 96}[ds.DigestType]
		if want == 0 || len(ds.Digest) != want {
			return bad(fmt.Sprintf("DSDigestMismatch (digest of %d hex digits for digest type %d)", len(ds.Digest), ds.DigestType))
		}
	}
	rr.Header().Name = name // keep the package's form of the owner name
	return rr, ""
}

func (s *Service) changeResourceRecordSets(r *http.Request, args []string) (reply, *apiError) {
	var req changeResourceRecordSetsRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return reply{}, aerr
	}
	if req.ChangeBatch == nil || len(req.ChangeBatch.Changes) == 0 {
		return reply{}, errorf(CodeInvalidInput, "Invalid request: the ChangeBatch needs at least one Change")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		return reply{}, aerr
	}
	records, chars := 0, 0
	for _, c := range req.ChangeBatch.Changes {
		if c.ResourceRecordSet != nil && c.ResourceRecordSet.ResourceRecords != nil {
			for _, rec := range c.ResourceRecordSet.ResourceRecords.Records {
				records++
				if rec.Value != nil {
					chars += len(*rec.Value)
				}
			}
		}
	}
	if records > maxBatchRecords {
		return reply{}, changeBatchError([]string{fmt.Sprintf("Number of records limit of %d exceeded.", maxBatchRecords)})
	}
	if chars > maxBatchChars {
		return reply{}, changeBatchError([]string{fmt.Sprintf("Number of characters limit of %d exceeded.", maxBatchChars)})
	}

	// Route 53 applies a batch in order on a copy and commits all of it or
	// nothing; every failing change adds a message.
	work := make(map[rrKey]*rrset, len(z.rrsets))
	for k, v := range z.rrsets {
		work[k] = v
	}
	var msgs []string
	seen := map[string]bool{}
	for _, wc := range req.ChangeBatch.Changes {
		pc, msg, aerr := parseChange(z, wc)
		if aerr != nil {
			return reply{}, aerr
		}
		if msg != "" {
			msgs = append(msgs, msg)
			continue
		}
		dup := pc.action + " " + pc.key.name + " " + dns.TypeToString[pc.key.rrtype]
		if seen[dup] {
			msgs = append(msgs, fmt.Sprintf("The request contains an invalid set of changes for a resource record set '%s %s'",
				dns.TypeToString[pc.key.rrtype], apiName(pc.key.name)))
			continue
		}
		seen[dup] = true
		if msg := applyChange(z, work, pc); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) > 0 {
		return reply{}, changeBatchError(msgs)
	}
	z.rrsets = work
	c := s.commit(z, req.ChangeBatch.Comment)
	return reply{status: http.StatusOK, body: changeResponse("ChangeResourceRecordSetsResponse", c, s.clock.Now())}, nil
}

// applyChange checks one change against the zone as the batch has left it
// so far and applies it to work; it returns Route 53's message when the
// change is refused.
func applyChange(z *zone, work map[rrKey]*rrset, pc parsedChange) string {
	name, t := pc.key.name, pc.key.rrtype
	tn := dns.TypeToString[t]
	apex := name == z.name
	cur := work[pc.key]
	switch pc.action {
	case "DELETE":
		switch {
		case cur == nil:
			return fmt.Sprintf("Tried to delete resource record set %s but it was not found", pc.describe())
		case !cur.equal(pc.set):
			return fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", pc.describe())
		case apex && t == dns.TypeSOA:
			return "A HostedZone must contain exactly one SOA record."
		case apex && t == dns.TypeNS:
			return "A HostedZone must contain at least one NS record for the zone itself."
		case t == dns.TypeNS && work[rrKey{name, dns.TypeDS}] != nil:
			return fmt.Sprintf("RRSet of type NS with DNS name %s cannot be deleted because an RRSet of type DS with the same DNS name exists in zone %s; delete the DS RRSet first",
				apiName(name), apiName(z.name))
		}
		delete(work, pc.key)
		return ""
	case "CREATE":
		if cur != nil {
			return fmt.Sprintf("Tried to create resource record set %s but it already exists", pc.describe())
		}
	}
	// CREATE or UPSERT.
	switch {
	case t == dns.TypeSOA && !apex:
		return fmt.Sprintf("RRSet of type SOA with DNS name %s is not permitted because it is not the apex of zone %s", apiName(name), apiName(z.name))
	case t == dns.TypeCNAME && apex:
		return fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted at apex in zone %s", apiName(name), apiName(z.name))
	case t == dns.TypeDS && apex:
		return fmt.Sprintf("RRSet of type DS with DNS name %s is not permitted at apex in zone %s", apiName(name), apiName(z.name))
	case t == dns.TypeDS && work[rrKey{name, dns.TypeNS}] == nil:
		return fmt.Sprintf("RRSet of type DS with DNS name %s is not permitted because no RRSet of type NS with the same DNS name exists in zone %s",
			apiName(name), apiName(z.name))
	case t == dns.TypeCNAME:
		for k := range work {
			if k.name == name && k.rrtype != dns.TypeCNAME {
				return fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone %s",
					apiName(name), apiName(z.name))
			}
		}
	case work[rrKey{name, dns.TypeCNAME}] != nil:
		return fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone %s",
			tn, apiName(name), apiName(z.name))
	}
	work[pc.key] = pc.set
	return ""
}

func (s *Service) listResourceRecordSets(r *http.Request, args []string) (reply, *apiError) {
	q := r.URL.Query()
	n, echo, aerr := maxItems(r, maxListItems, maxListItems)
	if aerr != nil {
		return reply{}, aerr
	}
	if q.Get("identifier") != "" {
		return reply{}, errorf(CodeInvalidInput, "route53emu does not emulate set identifiers (routing policies)")
	}
	startName, startType := q.Get("name"), q.Get("type")
	if startType != "" && startName == "" {
		return reply{}, errorf(CodeInvalidInput, "The input is not valid: a StartRecordType requires a StartRecordName")
	}
	if _, ok := recordTypes[startType]; startType != "" && !ok {
		return reply{}, errorf(CodeInvalidInput, "Invalid type %q for StartRecordType", startType)
	}
	startKey := ""
	if startName != "" {
		name, err := normalizeAPIName(startName)
		if err != nil {
			return reply{}, errorf(CodeInvalidInput, "Invalid StartRecordName %q: %v", startName, err)
		}
		startKey = sortKey(name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		return reply{}, aerr
	}
	resp := listResourceRecordSetsResponse{Xmlns: xmlns, MaxItems: echo}
	count := 0
	for _, k := range z.sortedKeys() {
		sk := sortKey(k.name)
		if sk < startKey || sk == startKey && dns.TypeToString[k.rrtype] < startType {
			continue
		}
		if count == n {
			resp.IsTruncated = true
			resp.NextRecordName = apiName(k.name)
			resp.NextRecordType = dns.TypeToString[k.rrtype]
			break
		}
		set := z.rrsets[k]
		w := wireRRSet{Name: apiName(k.name), Type: dns.TypeToString[k.rrtype], TTL: set.ttl()}
		for _, rr := range set.rrs {
			w.ResourceRecords = append(w.ResourceRecords, wireRR{Value: rdata(rr)})
		}
		resp.ResourceRecordSets = append(resp.ResourceRecordSets, w)
		count++
	}
	return reply{status: http.StatusOK, body: resp}, nil
}
