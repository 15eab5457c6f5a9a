package route53emu

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Route 53's defaults for the records it creates with a public hosted zone.
const (
	// nsTTL is the TTL of the apex NS RRset Route 53 creates.
	nsTTL = 172800
	// soaTTL is the TTL of the apex SOA RRset Route 53 creates.
	soaTTL = 900
	// soaHostmaster is the RNAME of every Route 53 SOA.
	soaHostmaster = "awsdns-hostmaster.amazon.com."
	// nameServersPerZone is the size of a Route 53 delegation set.
	nameServersPerZone = 4
	// defaultNameServerDomain is where the local delegation sets' name
	// servers live by default ("ns-123.awsdns-45.test.").
	defaultNameServerDomain = "test."
)

// zone is one hosted zone: its live state (what the API lists, including
// PENDING changes) and its versions (what the name servers serve once a
// change is INSYNC).
type zone struct {
	id, name    string // name in internal form
	callerRef   string
	comment     string
	nameServers []string // fully qualified
	tags        map[string]string
	rrsets      map[rrKey]*rrset
	ksks        []*ksk

	signing bool
	// disableChange is the DisableHostedZoneDNSSEC change; ServeSignature is
	// DELETING until it is INSYNC.
	disableChange *change
	// failure overrides ServeSignature (INTERNAL_FAILURE injected by a test).
	failure, failureMessage string

	versions   []*version
	lastInsync time.Time
}

// version is the state of a zone after one change, as the name servers
// serve it once the change is INSYNC.
type version struct {
	change  *change
	records []dns.RR
	signing bool
	ksks    []kskView
}

// change is one submitted change (ChangeInfo).
type change struct {
	id        string
	zoneID    string
	comment   string
	submitted time.Time
	insync    time.Time
}

func (c *change) status(now time.Time) string {
	if now.Before(c.insync) {
		return "PENDING"
	}
	return "INSYNC"
}

func (c *change) wire(now time.Time) wireChangeInfo {
	return wireChangeInfo{ID: "/change/" + c.id, Status: c.status(now), SubmittedAt: apiTime(c.submitted), Comment: c.comment}
}

// commit records a change of z: a new version for the name servers, a
// ChangeInfo that is PENDING for the propagation delay, and a notification
// of the subscribers when it becomes INSYNC. Callers hold s.mu.
func (s *Service) commit(z *zone, comment string) *change {
	now := s.clock.Now()
	insync := now.Add(s.delay)
	if insync.Before(z.lastInsync) {
		insync = z.lastInsync // changes of a zone become INSYNC in order
	}
	z.lastInsync = insync
	c := &change{id: s.newID("C", 20), zoneID: z.id, comment: comment, submitted: now, insync: insync}
	s.changes[c.id] = c
	s.addDue(z.id, insync)
	z.versions = append(z.versions, &version{change: c, records: z.flatRecords(), signing: z.signing, ksks: z.kskViews()})
	s.pruneVersions(z, now)
	wait := s.clock.After(insync.Sub(now))
	go func() {
		select {
		case <-wait:
			s.notify(z.id)
		case <-s.done:
		}
	}()
	return c
}

// visible returns the newest version of z that is INSYNC, or nil.
func (z *zone) visible(now time.Time) *version {
	for i := len(z.versions) - 1; i >= 0; i-- {
		if !now.Before(z.versions[i].change.insync) {
			return z.versions[i]
		}
	}
	return nil
}

// pruneVersions drops the versions older than the visible one.
func (s *Service) pruneVersions(z *zone, now time.Time) {
	for i := len(z.versions) - 1; i > 0; i-- {
		if !now.Before(z.versions[i].change.insync) {
			z.versions = slices.Clone(z.versions[i:])
			return
		}
	}
}

// settle applies what time has done to z: KSKs whose deletion is INSYNC go
// away, a finished disable stops being DELETING. Callers hold s.mu.
func (s *Service) settle(z *zone, now time.Time) {
	z.ksks = slices.DeleteFunc(z.ksks, func(k *ksk) bool {
		return k.status == KSKDeleting && k.deleteChange != nil && !now.Before(k.deleteChange.insync)
	})
	if z.disableChange != nil && !now.Before(z.disableChange.insync) {
		z.disableChange = nil
	}
	s.pruneVersions(z, now)
}

// lookupZone returns the zone with the given ID (with or without the
// "/hostedzone/" prefix), settled. Callers hold s.mu.
func (s *Service) lookupZone(id string) (*zone, *apiError) {
	z := s.zones[cleanID(id)]
	if z == nil {
		return nil, errorf(CodeNoSuchHostedZone, "No hosted zone found with ID: %s", cleanID(id))
	}
	s.settle(z, s.clock.Now())
	return z, nil
}

func (z *zone) wire() wireHostedZone {
	return wireHostedZone{
		ID:                     "/hostedzone/" + z.id,
		Name:                   apiName(z.name),
		CallerReference:        z.callerRef,
		Config:                 hostedZoneConfig{Comment: z.comment},
		ResourceRecordSetCount: len(z.rrsets),
	}
}

func (z *zone) delegationSet() wireDelegationSet {
	ns := make([]string, len(z.nameServers))
	for i, n := range z.nameServers {
		ns[i] = strings.TrimSuffix(n, ".") // Route 53 lists them without the final dot
	}
	return wireDelegationSet{NameServers: ns}
}

// newNameServers picks a delegation set that shares no name server with a
// zone of the same name or a parent or child zone, as Route 53 guarantees.
// Callers hold s.mu.
func (s *Service) newNameServers(name string) []string {
	taken := map[string]bool{}
	for _, z := range s.zones {
		if inZone(z.name, name) || inZone(name, z.name) {
			for _, ns := range z.nameServers {
				taken[ns] = true
			}
		}
	}
	var out []string
	used := map[int]bool{}
	for len(out) < nameServersPerZone {
		n := s.rng.IntN(2048)
		// Route 53 spreads a set over four server groups; keep the four
		// "awsdns-NN" groups distinct too.
		if used[n/32] {
			continue
		}
		ns := fmt.Sprintf("ns-%d.awsdns-%02d.%s", n, n/32, s.nsDomains[len(out)%len(s.nsDomains)])
		if taken[ns] {
			continue
		}
		used[n/32] = true
		out = append(out, ns)
	}
	return out
}

func (s *Service) createHostedZone(r *http.Request, _ []string) (reply, *apiError) {
	var req createHostedZoneRequest
	if aerr := decodeBody(r, &req); aerr != nil {
		return reply{}, aerr
	}
	switch {
	case req.Name == nil || *req.Name == "":
		return reply{}, errorf(CodeInvalidInput, "Invalid request: missing required element Name")
	case req.CallerReference == nil || *req.CallerReference == "":
		return reply{}, errorf(CodeInvalidInput, "Invalid request: missing required element CallerReference")
	case len(*req.CallerReference) > 128:
		return reply{}, errorf(CodeInvalidInput, "1 validation error detected: Value at 'callerReference' failed to satisfy constraint: Member must have length less than or equal to 128")
	case req.VPC != nil || req.HostedZoneConfig != nil && req.HostedZoneConfig.PrivateZone:
		return reply{}, errorf(CodeInvalidInput, "route53emu serves public hosted zones only; private hosted zones (VPC) are not emulated")
	case req.DelegationSetID != nil:
		return reply{}, errorf(CodeNoSuchDelegationSet, "Delegation set %s does not exist (reusable delegation sets are not emulated)", *req.DelegationSetID)
	}
	labels, err := parseAPIName(*req.Name)
	if err != nil {
		return reply{}, errorf(CodeInvalidDomainName, "%s is not a valid domain name: %v", *req.Name, err)
	}
	if len(labels) < 2 {
		return reply{}, errorf(CodeInvalidDomainName, "%s is reserved by AWS and cannot be a hosted zone: a hosted zone cannot be a top-level domain", *req.Name)
	}
	name := internalName(labels)
	comment := ""
	if req.HostedZoneConfig != nil {
		comment = req.HostedZoneConfig.Comment
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.callerRefs[*req.CallerReference]; ok {
		return reply{}, errorf(CodeHostedZoneAlreadyExists,
			"A hosted zone has already been created with the specified caller reference: %s", *req.CallerReference)
	}
	z := &zone{
		id:          s.newID("Z", 20),
		name:        name,
		callerRef:   *req.CallerReference,
		comment:     comment,
		nameServers: s.newNameServers(name),
		rrsets:      map[rrKey]*rrset{},
	}
	soa := &dns.SOA{
		Hdr:     dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
		Ns:      z.nameServers[0],
		Mbox:    soaHostmaster,
		Serial:  1,
		Refresh: 7200,
		Retry:   900,
		Expire:  1209600,
		Minttl:  86400,
	}
	z.rrsets[rrKey{name, dns.TypeSOA}] = &rrset{rrs: []dns.RR{soa}}
	ns := &rrset{}
	for _, n := range z.nameServers {
		ns.rrs = append(ns.rrs, &dns.NS{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL}, Ns: n})
	}
	z.rrsets[rrKey{name, dns.TypeNS}] = ns
	s.zones[z.id] = z
	s.created++
	s.callerRefs[z.callerRef] = z.id
	c := s.commit(z, "")
	now := s.clock.Now()
	return reply{
		status:   http.StatusCreated,
		location: "https://route53.amazonaws.com/2013-04-01/hostedzone/" + z.id,
		body: createHostedZoneResponse{
			Xmlns:         xmlns,
			HostedZone:    z.wire(),
			ChangeInfo:    c.wire(now),
			DelegationSet: z.delegationSet(),
		},
	}, nil
}

func (s *Service) getHostedZone(_ *http.Request, args []string) (reply, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		return reply{}, aerr
	}
	return reply{status: http.StatusOK, body: getHostedZoneResponse{Xmlns: xmlns, HostedZone: z.wire(), DelegationSet: z.delegationSet()}}, nil
}

// maxItems reads a maxitems parameter: default def, at most limit.
func maxItems(r *http.Request, def, limit int) (int, string, *apiError) {
	v := r.URL.Query().Get("maxitems")
	if v == "" {
		return def, strconv.Itoa(def), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, "", errorf(CodeInvalidInput, "Invalid value for maxitems: %q is not a positive integer", v)
	}
	return min(n, limit), v, nil
}

func (s *Service) listHostedZones(r *http.Request, _ []string) (reply, *apiError) {
	q := r.URL.Query()
	if q.Get("delegationsetid") != "" {
		return reply{}, errorf(CodeNoSuchDelegationSet, "Delegation set %s does not exist", q.Get("delegationsetid"))
	}
	if t := q.Get("hostedzonetype"); t != "" && t != "PrivateHostedZone" {
		return reply{}, errorf(CodeInvalidInput, "Invalid value for hostedzonetype: %q", t)
	}
	n, echo, aerr := maxItems(r, 100, 100)
	if aerr != nil {
		return reply{}, aerr
	}
	marker := q.Get("marker")
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := listHostedZonesResponse{Xmlns: xmlns, Marker: marker, MaxItems: echo}
	if q.Get("hostedzonetype") == "PrivateHostedZone" {
		return reply{status: http.StatusOK, body: resp}, nil // no private zones here
	}
	ids := make([]string, 0, len(s.zones))
	for id := range s.zones {
		if id >= marker {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if marker != "" && (len(ids) == 0 || ids[0] != marker) {
		return reply{}, errorf(CodeInvalidInput, "Invalid marker: %s is not a hosted zone ID of this account", marker)
	}
	for i, id := range ids {
		if i == n {
			resp.IsTruncated = true
			resp.NextMarker = id
			break
		}
		resp.HostedZones = append(resp.HostedZones, s.zones[id].wire())
	}
	return reply{status: http.StatusOK, body: resp}, nil
}

func (s *Service) listHostedZonesByName(r *http.Request, _ []string) (reply, *apiError) {
	q := r.URL.Query()
	n, echo, aerr := maxItems(r, 100, 100)
	if aerr != nil {
		return reply{}, aerr
	}
	startName, startID := q.Get("dnsname"), cleanID(q.Get("hostedzoneid"))
	if startName == "" && startID != "" {
		return reply{}, errorf(CodeInvalidInput, "Invalid request: hostedzoneid requires dnsname")
	}
	startKey := ""
	if startName != "" {
		name, err := normalizeAPIName(startName)
		if err != nil {
			return reply{}, errorf(CodeInvalidDomainName, "%s is not a valid domain name: %v", startName, err)
		}
		startKey = sortKey(name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	zs := make([]*zone, 0, len(s.zones))
	for _, z := range s.zones {
		k := sortKey(z.name)
		if k > startKey || k == startKey && z.id >= startID {
			zs = append(zs, z)
		}
	}
	slices.SortFunc(zs, func(a, b *zone) int {
		if c := strings.Compare(sortKey(a.name), sortKey(b.name)); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	resp := listHostedZonesByNameResponse{Xmlns: xmlns, DNSName: startName, HostedZoneID: q.Get("hostedzoneid"), MaxItems: echo}
	for i, z := range zs {
		if i == n {
			resp.IsTruncated = true
			resp.NextDNSName = apiName(z.name)
			resp.NextHostedZoneID = z.id
			break
		}
		resp.HostedZones = append(resp.HostedZones, z.wire())
	}
	return reply{status: http.StatusOK, body: resp}, nil
}

func (s *Service) deleteHostedZone(_ *http.Request, args []string) (reply, *apiError) {
	s.mu.Lock()
	z, aerr := s.lookupZone(args[0])
	if aerr != nil {
		s.mu.Unlock()
		return reply{}, aerr
	}
	for k := range z.rrsets {
		if k.name != z.name || k.rrtype != dns.TypeSOA && k.rrtype != dns.TypeNS {
			s.mu.Unlock()
			return reply{}, errorf(CodeHostedZoneNotEmpty,
				"The specified hosted zone contains non-required resource record sets and so cannot be deleted.")
		}
	}
	if z.signing {
		s.mu.Unlock()
		return reply{}, errorf(CodeHostedZoneNotEmpty,
			"The specified hosted zone has DNSSEC signing enabled and so cannot be deleted; disable DNSSEC signing first.")
	}
	c := s.commit(z, "")
	delete(s.zones, z.id) // its caller reference stays used, as in Route 53
	now := s.clock.Now()
	s.mu.Unlock()
	s.notify(z.id)
	return reply{status: http.StatusOK, body: changeResponse("DeleteHostedZoneResponse", c, now)}, nil
}

func (s *Service) getChange(_ *http.Request, args []string) (reply, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.changes[cleanID(args[0])]
	if c == nil {
		return reply{}, errorf(CodeNoSuchChange, "A change with the specified change ID does not exist: %s", cleanID(args[0]))
	}
	return reply{status: http.StatusOK, body: getChangeResponse{Xmlns: xmlns, ChangeInfo: c.wire(s.clock.Now())}}, nil
}
