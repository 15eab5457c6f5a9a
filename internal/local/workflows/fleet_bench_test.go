package workflows

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// BenchmarkFleetRotate rotates a fleet (1,000 zones; DNSSEC_FLEET_ZONES
// overrides it, `make bench-fleet` runs 10,000) on the virtual clock with
// Route 53's 5 requests/s limit on, and reports: the achieved Route 53
// rate as a fraction of the limit over the fleet's start window and over
// its whole run, the throttled share of requests, the failed executions
// (must be 0), the wall time per zone against the same run's baseline (one
// rotation alone, before the fleet), and the peak heap.
func BenchmarkFleetRotate(b *testing.B) {
	n := 1000
	if v := os.Getenv("DNSSEC_FLEET_ZONES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		benchFleet(b, n)
	}
}

// writeHeapProfile writes what is live at the fleet's end (every
// execution, zone, key and record still held) for `go tool pprof`.
func writeHeapProfile(b *testing.B, path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

func benchFleet(b *testing.B, n int) {
	b.StopTimer()
	st, _ := newStack(b)
	w, err := Start(st, Options{HistoryLimit: 20})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	zones, err := SetupFleet(ctx, w, n+1)
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, input map[string]any) (asl.Result, time.Duration) {
		start := time.Now()
		ex, err := w.Start(ctx, FleetRotate, name, input)
		if err != nil {
			b.Fatal(err)
		}
		<-ex.Done()
		return ex.Wait(), time.Since(start)
	}
	// Baseline: the last zone rotated alone, through the same fleet-rotate.
	alone := map[string]any{"zones": []map[string]any{{"hostedZoneId": zones[n].ID, "safetyMarginSeconds": 600,
		"dsPublisher": map[string]any{"kind": "parentHostedZone", "parentHostedZoneId": zones[n].ParentID}}}}
	if res, _ := run("baseline", alone); res.Status != asl.StatusSucceeded {
		b.Fatalf("baseline: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	// The baseline's wall time, measured again now that the clock is
	// where the fleet starts (the first run also warmed the caches).
	_, baseWall := run("baseline-2", alone)
	st.Route53().ResetStats()
	b.StartTimer()
	res, wall := run("fleet", map[string]any{"tag": FleetTag, "defaults": map[string]any{"safetyMarginSeconds": 600}})
	b.StopTimer()
	close(stop)
	if path := os.Getenv("DNSSEC_FLEET_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	stats := st.Route53().Stats()
	if res.Status != asl.StatusSucceeded {
		logFleetFailures(b, w)
		b.Fatalf("fleet: %s %s: %s", res.Status, res.Error, res.Cause)
	}
	var sum steps.FleetSummary
	if err := json.Unmarshal(res.Output, &sum); err != nil {
		b.Fatal(err)
	}
	failed := sum.Failed + len(sum.FailedBatches)
	span := stats.Last.Sub(stats.First).Seconds()
	// The start window: from the first start to the last, when the
	// paced starts keep the fleet's demand at its planned rate.
	window := time.Duration(float64(n-1) * float64(steps.RotationRoute53Calls) / steps.DefaultFleetRequestsPerSecond * float64(time.Second))
	windowEnd := stats.First.Add(window)
	b.ReportMetric(float64(sum.Rotated), "zones")
	b.ReportMetric(float64(stats.Between(stats.First, windowEnd))/window.Seconds()/route53emu.DefaultThrottleRate, "rate/limit")
	b.ReportMetric(float64(stats.Admitted)/span/route53emu.DefaultThrottleRate, "rate/limit-run")
	b.ReportMetric(float64(stats.Throttled)/float64(stats.Admitted+stats.Throttled), "throttled/req")
	b.ReportMetric(float64(stats.PeakSecond), "peak-req/s")
	b.ReportMetric(float64(failed), "failed-executions")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(wall.Seconds()/float64(n)/baseWall.Seconds(), "wall/zone/baseline")
	b.ReportMetric(span/3600, "virtual-h")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.Logf("fleet of %d: wall %s (one rotation alone: %s), virtual %.1f h, Route 53 %d admitted (%v), %d throttled, peak %d/s",
		n, wall.Round(time.Millisecond), baseWall.Round(time.Millisecond), span/3600, stats.Admitted, stats.ByOp, stats.Throttled, stats.PeakSecond)
}
