package observe

import (
	"context"
	"testing"
	"time"
)

// BenchmarkObserve measures one Observe of example.test. (4 zone servers)
// below test. (6 parent servers) on the loopback hierarchy: discovery from
// the root, DS and NS at every parent address, DNSKEY, SOA and NS at every
// zone address.
func BenchmarkObserve(b *testing.B) {
	h := startHierarchy(b, smallSpec(6, 4))
	o := hierObserver(b, h)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var queries int
	for b.Loop() {
		snap, err := o.Observe(ctx, "example.test.")
		if err != nil {
			b.Fatalf("Observe: %v", err)
		}
		if len(snap.ParentServers) != 6 || len(snap.ZoneServers) != 4 || snap.ZoneServersAgree() != Agree {
			b.Fatalf("Observe saw %d parent and %d zone rows (agreement %v), want 6, 4, agree", len(snap.ParentServers), len(snap.ZoneServers), snap.ZoneServersAgree())
		}
		queries += snap.Queries
	}
	b.ReportMetric(float64(queries)/float64(b.N), "queries/op")
}
