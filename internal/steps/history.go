package steps

import (
	"github.com/miekg/dns"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/dspublish"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/observe"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
)

// serverKey names one server address in a History: "name@addr".
func serverKey(r observe.ServerResult) string {
	if r.Addr.IsValid() {
		return r.Name + "@" + r.Addr.String()
	}
	return r.Name
}

// HistorySnapshot converts an observation into what rollover.History records:
// the DS answer of every parent server address and the DNSKEY answer of every
// zone server address (Unknown rows stay unknown).
func HistorySnapshot(s *observe.Snapshot) rollover.Snapshot {
	out := rollover.Snapshot{At: s.Time}
	for _, r := range s.ParentServers {
		a := rollover.DSAnswer{Server: serverKey(r), Unknown: true}
		if r.DS != nil && r.DS.State != observe.Unknown {
			a.Unknown = false
			a.TTL = r.DS.TTL
			if r.DS.State == observe.OK {
				a.Set, _ = rollover.DSSetFromRRs(r.DS.Records)
			}
		}
		out.Parent = append(out.Parent, a)
	}
	for _, r := range s.ZoneServers {
		a := rollover.DNSKEYAnswer{Server: serverKey(r), Unknown: true}
		if r.DNSKEY != nil && r.DNSKEY.State != observe.Unknown {
			a.Unknown = false
			if r.DNSKEY.State == observe.OK {
				rrs := append([]dns.RR{}, r.DNSKEY.Records...)
				for _, sig := range r.DNSKEY.Sigs {
					rrs = append(rrs, sig)
				}
				a.Set, _ = rollover.DNSKEYSetFromRRs(s.Zone, rrs, s.Time)
				a.TTL = r.DNSKEY.TTL
			} else {
				a.NegativeTTL = r.DNSKEY.TTL
			}
		}
		out.Zone = append(out.Zone, a)
	}
	return out
}

// verdictSnapshot converts a DS verification into the parent half of a
// History snapshot.
func verdictSnapshot(v dspublish.Verdict) rollover.Snapshot {
	out := rollover.Snapshot{At: v.Time}
	for _, c := range v.Servers {
		a := rollover.DSAnswer{Server: c.Name + "@" + c.Addr.String(), Unknown: c.State == observe.Unknown, TTL: c.TTL}
		if c.State == observe.OK {
			var rrs []dns.RR
			for _, ds := range c.DS {
				rrs = append(rrs, ds)
			}
			a.Set, _ = rollover.DSSetFromRRs(rrs)
		}
		out.Parent = append(out.Parent, a)
	}
	return out
}

// record folds a snapshot into the state's History, tolerating one that is
// not newer than the last (a re-run step observing at the same virtual
// instant): rollover.History requires time order.
func (s *State) record(snap rollover.Snapshot) error {
	if !s.History.LastObserved.IsZero() && !snap.At.After(s.History.LastObserved) {
		snap.At = s.History.LastObserved.Add(1)
	}
	return s.History.Record(snap)
}
