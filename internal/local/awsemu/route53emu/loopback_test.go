package route53emu

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dnsquery"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/authserver"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// dnsParent is a Parent that asks every server of the parent zone over DNS,
// as the local stack's does: a DS or NS any server serves counts, and a
// server that does not answer makes the answer unknown (an error).
type dnsParent struct {
	servers []netip.AddrPort
	client  dnsquery.Client
}

func (p *dnsParent) ask(ctx context.Context, zone string, qtype uint16) ([]dns.RR, error) {
	var out []dns.RR
	for _, s := range p.servers {
		r, err := p.client.Exchange(ctx, s, zone, qtype)
		if err != nil {
			return nil, fmt.Errorf("parent server %v: %w", s, err)
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			return nil, fmt.Errorf("parent server %v: %s", s, dns.RcodeToString[r.Rcode])
		}
		for _, rr := range append(r.Answer, r.Ns...) {
			if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, zone) &&
				!slices.ContainsFunc(out, func(o dns.RR) bool { return dns.IsDuplicate(o, rr) }) {
				out = append(out, rr)
			}
		}
	}
	return out, nil
}

func (p *dnsParent) DSServed(ctx context.Context, zone string) ([]*dns.DS, error) {
	rrs, err := p.ask(ctx, zone, dns.TypeDS)
	var out []*dns.DS
	for _, rr := range rrs {
		out = append(out, rr.(*dns.DS))
	}
	return out, err
}

func (p *dnsParent) NSServed(ctx context.Context, zone string) ([]string, error) {
	rrs, err := p.ask(ctx, zone, dns.TypeNS)
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.(*dns.NS).Ns)
	}
	return out, err
}

// TestParentGuardsOverDNS runs the guards that ask the parent against the
// loopback hierarchy: example.test. is delegated from test., whose servers
// are asked for the delegation and the DS.
func TestParentGuardsOverDNS(t *testing.T) {
	h, err := hierarchy.Start(hierarchy.DefaultSpec(t0))
	if err != nil {
		t.Fatalf("hierarchy.Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	parentZone := h.Zone("test.")
	var servers []netip.AddrPort
	for _, ns := range parentZone.Servers {
		servers = append(servers, ns.Addr)
	}
	e := newEnv(t)
	e.svc.parent = &dnsParent{servers: servers, client: dnsquery.Client{Timeout: 300 * time.Millisecond, Attempts: 1}}
	e.svc.SetPropagationDelay(0)
	ctx := context.Background()
	id := e.createZone(t, "example.test")
	zid := aws.String(id)
	e.createKSK(t, id, "ksk_a", "ACTIVE")

	// test. still delegates example.test. to the hierarchy's own servers.
	_, err = e.client.EnableHostedZoneDNSSEC(ctx, &route53.EnableHostedZoneDNSSECInput{HostedZoneId: zid})
	var partial *types.HostedZonePartiallyDelegated
	if !errors.As(err, &partial) {
		t.Fatalf("EnableHostedZoneDNSSEC while test. delegates elsewhere: err = %v, want HostedZonePartiallyDelegated", err)
	}
	// Delegate example.test. to the hosted zone's name servers.
	var nsSet []dns.RR
	for _, n := range e.svc.NameServers(id) {
		nsSet = append(nsSet, &dns.NS{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 172800}, Ns: n})
	}
	if err := parentZone.Zone.SetRRset("example.test.", dns.TypeNS, nsSet...); err != nil {
		t.Fatal(err)
	}
	e.enableSigning(t, id)
	e.createKSK(t, id, "ksk_b", "ACTIVE")

	deactivateA := func() error {
		_, err := e.client.DeactivateKeySigningKey(ctx, &route53.DeactivateKeySigningKeyInput{HostedZoneId: zid, Name: aws.String("ksk_a")})
		return err
	}
	dsA, dsB := dsOf(t, e, id, "ksk_a"), dsOf(t, e, id, "ksk_b")
	if err := h.PublishDS("example.test.", dsA, dsB); err != nil {
		t.Fatal(err)
	}
	var inDS *types.KeySigningKeyInParentDSRecord
	if err := deactivateA(); !errors.As(err, &inDS) {
		t.Fatalf("deactivating ksk_a while test. serves its DS: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	// One parent server lags behind with the old DS RRset: still refused.
	stale := parentZone.Zone.Clone()
	if err := h.PublishDS("example.test.", dsB); err != nil {
		t.Fatal(err)
	}
	parentZone.Servers[1].Server.SetZone(stale)
	if err := deactivateA(); !errors.As(err, &inDS) {
		t.Fatalf("deactivating ksk_a while one parent server still serves its DS: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	parentZone.Servers[1].Server.SetZone(parentZone.Zone)
	// A parent server that does not answer leaves the question open.
	parentZone.Servers[0].Server.SetFaults(authserver.Faults{Drop: true})
	if err := deactivateA(); !errors.As(err, &inDS) {
		t.Fatalf("deactivating ksk_a while a parent server is silent: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	parentZone.Servers[0].Server.SetFaults(authserver.Faults{})
	if err := deactivateA(); err != nil {
		t.Fatalf("DeactivateKeySigningKey once no parent server serves the DS of ksk_a: %v", err)
	}
	_, err = e.client.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: zid})
	if !errors.As(err, &inDS) {
		t.Fatalf("DisableHostedZoneDNSSEC while test. serves the DS of ksk_b: err = %v, want KeySigningKeyInParentDSRecord", err)
	}
	if err := h.PublishDS("example.test."); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DisableHostedZoneDNSSEC(ctx, &route53.DisableHostedZoneDNSSECInput{HostedZoneId: zid}); err != nil {
		t.Fatalf("DisableHostedZoneDNSSEC once test. serves no DS: %v", err)
	}
}
