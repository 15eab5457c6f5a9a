package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
)

func itemsJSON(n int) json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"zone":"z%d.example.test","n":%d}`, i, i)
	}
	b.WriteString(`]}`)
	return json.RawMessage(b.String())
}

const benchProcessor = `"StartAt":"C","States":{
	"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThanEquals":500,"Next":"Big"}],"Default":"Small"},
	"Big":{"Type":"Pass","Parameters":{"zone.$":"$.zone","size":"big"},"End":true},
	"Small":{"Type":"Pass","Parameters":{"zone.$":"$.zone","size":"small"},"End":true}}`

// BenchmarkMapTransitions: state transitions per second through a
// 1,000-item inline Map of Choice and Pass states.
func BenchmarkMapTransitions(b *testing.B) {
	sm, err := Load([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{`+benchProcessor+`},"End":true}}}`), nil)
	if err != nil {
		b.Fatal(err)
	}
	input := itemsJSON(1000)
	r := NewRunner(clock.NewVirtual(testStart), Options{})
	var transitions int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res := r.Start(context.Background(), sm, "", input).Wait()
		if res.Status != StatusSucceeded {
			b.Fatalf("Status = %s %s", res.Status, res.Cause)
		}
		transitions += res.Transitions
	}
	b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
}

// BenchmarkDistributedMapMemory: bytes allocated and peak heap of a
// 10,000-item Distributed Map (every item a child execution). Its results
// are discarded (ResultPath null): 10,000 results exceed the 256 KiB
// payload quota, as they would in AWS without a ResultWriter.
func BenchmarkDistributedMapMemory(b *testing.B) {
	sm, err := Load([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
		"StartAt":"C","States":{
		"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericGreaterThanEquals":5000,"Next":"Big"}],"Default":"Small"},
		"Big":{"Type":"Pass","Parameters":{"n.$":"$","size":"big"},"End":true},
		"Small":{"Type":"Pass","Parameters":{"n.$":"$","size":"small"},"End":true}}},"ResultPath":null,"End":true}}}`), nil)
	if err != nil {
		b.Fatal(err)
	}
	// Without an ItemReader the items come in the input, which has the
	// same 256 KiB quota: 10,000 numbers fit.
	var items strings.Builder
	items.WriteString(`{"items":[`)
	for i := range 10000 {
		if i > 0 {
			items.WriteByte(',')
		}
		fmt.Fprint(&items, i)
	}
	items.WriteString(`]}`)
	input := json.RawMessage(items.String())
	var peak uint64
	var allocated uint64
	for range b.N {
		r := NewRunner(clock.NewVirtual(testStart), Options{})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		e := r.Start(context.Background(), sm, "", input)
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				select {
				case <-done:
					return
				default:
				}
				runtime.ReadMemStats(&m)
				if h := m.HeapAlloc - min(m.HeapAlloc, before.HeapAlloc); h > peak {
					peak = h
				}
				runtime.Gosched()
			}
		}()
		res := e.Wait()
		close(done)
		<-sampled
		if res.Status != StatusSucceeded {
			b.Fatalf("Status = %s %s", res.Status, res.Cause)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		allocated += after.TotalAlloc - before.TotalAlloc
	}
	b.ReportMetric(float64(allocated)/float64(b.N), "alloc-bytes/op")
	b.ReportMetric(float64(peak), "peak-heap-bytes")
}
