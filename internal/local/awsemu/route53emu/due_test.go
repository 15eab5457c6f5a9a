package route53emu

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// TestTakeDue: a change is due once its propagation delay has passed, and
// is reported once; the zones count what was ever created.
func TestTakeDue(t *testing.T) {
	e := newEnv(t)
	a := e.createZone(t, "a.example.")
	b := e.createZone(t, "b.example.")
	e.svc.TakeDue(e.clk.Now().Add(time.Hour)) // the creations
	if _, err := e.change(context.Background(), b, rrChange(types.ChangeActionCreate, "www.b.example.", types.RRTypeA, 60, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if got := e.svc.TakeDue(e.clk.Now()); len(got) != 0 {
		t.Errorf("due before the propagation delay: %v", got)
	}
	later := e.clk.Now().Add(2 * time.Minute)
	if got := e.svc.TakeDue(later); !slices.Equal(got, []string{b}) {
		t.Errorf("due after the delay: %v, want [%s]", got, b)
	}
	if got := e.svc.TakeDue(later); len(got) != 0 {
		t.Errorf("reported twice: %v", got)
	}
	if _, ok := e.svc.ZoneRef(a); !ok {
		t.Errorf("ZoneRef(%s) not found", a)
	}
	if _, ok := e.svc.ZoneRef("ZNOSUCH"); ok {
		t.Error("ZoneRef of an unknown zone found")
	}
	if n := e.svc.ZonesCreated(); n != 2 {
		t.Errorf("ZonesCreated = %d, want 2", n)
	}
}

// TestStats: admitted requests are counted by operation and minute,
// throttled ones apart.
func TestStats(t *testing.T) {
	e := newEnv(t)
	e.svc.SetThrottle(1, 1)
	e.createZone(t, "a.example.")
	if _, err := e.client.ListHostedZones(context.Background(), nil); err == nil {
		t.Fatal("a second request at the same instant passed a 1/s, burst 1 throttle")
	}
	s := e.svc.Stats()
	if s.Admitted != 1 || s.Throttled != 1 || s.ByOp["CreateHostedZone"] != 1 || s.PeakSecond != 1 || s.Between(s.First, s.Last) != 1 {
		t.Errorf("stats %+v", s)
	}
	e.svc.ResetStats()
	if s := e.svc.Stats(); s.Admitted != 0 || s.Throttled != 0 {
		t.Errorf("after reset: %+v", s)
	}
}
