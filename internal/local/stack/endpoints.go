package stack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/dnstree"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/hierarchy"
)

// Endpoints describe a running stack for people and tools: what
// `dnssecctl local up --endpoints FILE` writes.
type Endpoints struct {
	Clock string `json:"clock"` // "real" or "virtual"
	AWS   AWS    `json:"aws"`
	DNS   DNS    `json:"dns"`
	VPCs  []VPC  `json:"vpcs"`
	Zones []Zone `json:"zones"`
	// SNSTopicARN is the scenario's notification topic.
	SNSTopicARN string `json:"snsTopicArn,omitempty"`
}

// AWS is how SDK clients and the AWS CLI reach the emulators.
type AWS struct {
	EndpointURL     string `json:"endpointUrl"` // AWS_ENDPOINT_URL
	Region          string `json:"region"`
	AccountID       string `json:"accountId"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// DNS is how resolvers and validators reach the DNS tree.
type DNS struct {
	// Port is the port every authoritative server listens on.
	Port        uint16   `json:"port"`
	RootServers []string `json:"rootServers"` // addr:port
	TLD         string   `json:"tld"`
	TLDServers  []string `json:"tldServers"`
	// TrustAnchorFile holds the root's DS and DNSKEY records in zone-file
	// format (dnssecctl --anchor, unbound trust-anchor-file).
	TrustAnchorFile string `json:"trustAnchorFile,omitempty"`
	// DelvAnchorFile holds the trust-anchors statement delv -a reads.
	DelvAnchorFile string `json:"delvAnchorFile,omitempty"`
	// UnboundConfig is an unbound.conf that validates the local tree,
	// listening on UnboundListen.
	UnboundConfig string `json:"unboundConfig,omitempty"`
	UnboundListen string `json:"unboundListen,omitempty"`
	// BogusZone is the zone that must fail validation.
	BogusZone        string            `json:"bogusZone"`
	BogusNameServers map[string]string `json:"bogusNameServers"`
}

// VPC is one VPC's resolver.
type VPC struct {
	ID         string `json:"id"`
	Resolver   string `json:"resolver"`   // addr:port
	Validation string `json:"validation"` // Resolver DNSSEC status
}

// Zone is one hosted zone.
type Zone struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// NameServers maps the delegation set's host names to addr:port.
	NameServers map[string]string `json:"nameServers"`
}

// Endpoints describes the stack as it is now (without files; see
// WriteFiles).
func (s *Stack) Endpoints() Endpoints {
	e := Endpoints{
		Clock: "real",
		AWS: AWS{
			EndpointURL: s.endpoint, Region: Region, AccountID: AccountID,
			AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey,
		},
		DNS: DNS{
			Port:             s.tree.Port(),
			RootServers:      addrs(s.tree.RootServers()),
			TLD:              dnstree.TLD,
			TLDServers:       addrs(s.tree.TLDServers()),
			BogusZone:        BogusZone,
			BogusNameServers: map[string]string{s.bogus.ns: s.bogus.addr().String()},
		},
	}
	if s.virtual != nil {
		e.Clock = "virtual"
	}
	for _, id := range s.VPCs() {
		a, _ := s.VPCResolver(id)
		e.VPCs = append(e.VPCs, VPC{ID: id, Resolver: a.String(), Validation: s.res.Status(id)})
	}
	s.tree.Sync()
	for _, z := range s.tree.Route53().Zones() {
		ns := map[string]string{}
		for _, sv := range z.Servers {
			ns[sv.Name] = sv.Addr.String()
		}
		e.Zones = append(e.Zones, Zone{Name: z.Name, ID: z.ID, NameServers: ns})
	}
	if sc := s.Scenario(); sc != nil {
		e.SNSTopicARN = sc.TopicARN
	}
	return e
}

func addrs(in []netip.AddrPort) []string {
	out := make([]string, len(in))
	for i, a := range in {
		out[i] = a.String()
	}
	return out
}

// WriteFiles writes into dir the trust anchor (root.anchor), delv's
// anchors (delv.anchors), an unbound configuration that validates the
// tree (unbound/unbound.conf, with stub zones for every hosted zone known
// now: write again after creating zones) and endpoints.json, and returns
// the endpoints with those paths.
func (s *Stack) WriteFiles(dir string) (Endpoints, error) {
	e := s.Endpoints()
	if err := os.MkdirAll(filepath.Join(dir, "unbound"), 0o755); err != nil {
		return e, fmt.Errorf("stack: %w", err)
	}
	e.DNS.TrustAnchorFile = filepath.Join(dir, "root.anchor")
	e.DNS.DelvAnchorFile = filepath.Join(dir, "delv.anchors")
	if err := writeFile(e.DNS.TrustAnchorFile, s.tree.WriteTrustAnchor); err != nil {
		return e, err
	}
	if err := writeFile(e.DNS.DelvAnchorFile, s.tree.WriteDelvAnchors); err != nil {
		return e, err
	}
	listen := s.UnboundListen()
	conf, err := s.WriteUnboundConfig(filepath.Join(dir, "unbound"), listen)
	if err != nil {
		return e, err
	}
	e.DNS.UnboundConfig, e.DNS.UnboundListen = conf, listen.String()
	err = writeFile(filepath.Join(dir, "endpoints.json"), func(w io.Writer) error { return WriteJSON(w, e) })
	return e, err
}

// UnboundListen is the address the unbound configuration of WriteFiles
// listens on: .254 in the root servers' /24, on the tree's port.
func (s *Stack) UnboundListen() netip.AddrPort {
	root := s.tree.RootServers()[0].Addr().As4()
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{root[0], root[1], root[2], 254}), s.tree.Port())
}

// WriteUnboundConfig writes an unbound.conf (and its trust anchor) into
// dir for a validating unbound listening on listen, and returns its path.
// Every hosted zone known now and the bogus zone get a stub zone (unbound
// would otherwise send queries to glue addresses on port 53). On the real
// clock unbound is told to allow no signature clock skew, so that it sees
// signatures expire when they do.
func (s *Stack) WriteUnboundConfig(dir string, listen netip.AddrPort) (string, error) {
	conf, err := s.tree.WriteUnboundConfig(hierarchy.UnboundConfig{Listen: listen, Dir: dir})
	if err != nil {
		return "", fmt.Errorf("stack: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nstub-zone:\n\tname: %q\n\tstub-addr: %s@%d\n", BogusZone, s.bogus.addr().Addr(), s.bogus.addr().Port())
	if s.virtual == nil {
		// Unbound accepts signatures up to val-sig-skew-min (an hour)
		// past their expiry by default.
		b.WriteString("\nserver:\n\tval-sig-skew-min: 0\n\tval-sig-skew-max: 0\n")
	}
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", fmt.Errorf("stack: unbound config: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return "", fmt.Errorf("stack: unbound config: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("stack: unbound config: %w", err)
	}
	return conf, nil
}

// WriteJSON writes e as indented JSON.
func WriteJSON(w io.Writer, e Endpoints) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e); err != nil {
		return fmt.Errorf("stack: endpoints: %w", err)
	}
	return nil
}

// ReadEndpoints reads an endpoints file.
func ReadEndpoints(path string) (Endpoints, error) {
	var e Endpoints
	b, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("stack: endpoints: %w", err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("stack: endpoints %s: %w", path, err)
	}
	return e, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("stack: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("stack: %w", err)
	}
	return nil
}
