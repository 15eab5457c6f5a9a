package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/asl"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/clock"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/workflows"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/rollover"
	"github.com/dnssec-autopilot/dnssec-autopilot/internal/steps"
)

// timeline prints the executions of the demo as they run: each state
// entered with its virtual and wall time, a polling loop folded into one
// line, each gate's Wait with the terms (the TTLs it came from), and each
// Wait's duration. It records the gates of every execution for the
// summary.
type timeline struct {
	out       io.Writer
	clk       clock.Clock
	wallStart time.Time

	mu    sync.Mutex
	waits map[string]map[string]string // machine -> Wait state -> "TimestampPath" or "SecondsPath"...
	runs  map[string]*runRecord        // by execution name
}

// runRecord is one execution's timeline state.
type runRecord struct {
	machine string
	gates   map[rollover.Transition]steps.GateState // the last computed, by transition
	reached map[rollover.Transition]time.Time       // when the run first computed it
	order   []rollover.Transition

	loopState string        // the Task state a polling loop repeats
	loopCount int           // its repetitions after the first
	loopWait  time.Duration // the polling Waits in between
	waitStart time.Time
}

func newTimeline(out io.Writer, clk clock.Clock, wallStart time.Time) *timeline {
	return &timeline{out: out, clk: clk, wallStart: wallStart, waits: map[string]map[string]string{}, runs: map[string]*runRecord{}}
}

// addMachine reads which Wait states of m wait for a gate time.
func (t *timeline) addMachine(m workflows.Machine) error {
	b, err := m.SM.MarshalJSON()
	if err != nil {
		return fmt.Errorf("timeline: %s: %w", m.Name, err)
	}
	var def struct {
		States map[string]map[string]any `json:"States"`
	}
	if err := json.Unmarshal(b, &def); err != nil {
		return fmt.Errorf("timeline: %s: %w", m.Name, err)
	}
	kinds := map[string]string{}
	for name, s := range def.States {
		if s["Type"] != "Wait" {
			continue
		}
		for _, k := range []string{"TimestampPath", "SecondsPath", "Seconds", "Timestamp"} {
			if _, ok := s[k]; ok {
				kinds[name] = k
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waits[m.Name] = kinds
	return nil
}

func (t *timeline) begin(execName, machine string) *runRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &runRecord{machine: machine, gates: map[rollover.Transition]steps.GateState{}, reached: map[rollover.Transition]time.Time{}}
	t.runs[execName] = r
	return r
}

func (t *timeline) end(execName string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.runs[execName]; r != nil {
		t.flushLoop(r)
	}
}

// line prints one timeline line at the event's virtual time.
func (t *timeline) line(at time.Time, format string, a ...any) {
	fmt.Fprintf(t.out, "   %s  %7.2fs  %s\n", stamp(at), time.Since(t.wallStart).Seconds(), fmt.Sprintf(format, a...))
}

// flushLoop prints the folded polling loop, if any.
func (t *timeline) flushLoop(r *runRecord) {
	if r.loopCount > 0 {
		fmt.Fprintf(t.out, "   %19s  %8s    ... %s again %d times, polling over %s\n", "", "", r.loopState, r.loopCount, roundDuration(r.loopWait))
	}
	r.loopState, r.loopCount, r.loopWait = "", 0, 0
}

// stateDoc is the part of a state's input or output the timeline reads.
type stateDoc struct {
	State struct {
		Gate steps.GateState `json:"gate"`
	} `json:"state"`
}

func parseStateDoc(details map[string]any, key string) (stateDoc, bool) {
	s, _ := details[key].(string)
	var d stateDoc
	if s == "" || json.Unmarshal([]byte(s), &d) != nil {
		return d, false
	}
	return d, true
}

// onEvent is the runner's OnEvent: it must not block for long.
func (t *timeline) onEvent(e *asl.Execution, ev asl.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.runs[e.Name]
	if r == nil {
		return // not a demo execution (an alarm's, say)
	}
	name, _ := ev.Details["name"].(string)
	switch ev.Type {
	case "TaskStateEntered":
		if name == r.loopState {
			r.loopCount++
			return
		}
		t.flushLoop(r)
		r.loopState = name
		t.line(ev.Timestamp, "%s", name)
	case "TaskStateExited":
		if d, ok := parseStateDoc(ev.Details, "output"); ok && d.State.Gate.Transition != "" {
			g := d.State.Gate
			if _, seen := r.gates[g.Transition]; !seen {
				r.order = append(r.order, g.Transition)
				r.reached[g.Transition] = ev.Timestamp
			}
			r.gates[g.Transition] = g
		}
	case "WaitStateEntered":
		r.waitStart = ev.Timestamp
		if t.waits[r.machine][name] != "TimestampPath" {
			return // a polling back-off: folded into its loop
		}
		t.flushLoop(r)
		d, _ := parseStateDoc(ev.Details, "input")
		g := d.State.Gate
		t.line(ev.Timestamp, "%s: gate %s at %s", name, g.Transition, g.At)
		for _, term := range g.Terms {
			fmt.Fprintf(t.out, "   %19s  %8s      %s\n", "", "", term)
		}
		if len(g.Terms) == 0 {
			fmt.Fprintf(t.out, "   %19s  %8s      (no cache constrains it)\n", "", "")
		}
	case "WaitStateExited":
		waited := ev.Timestamp.Sub(r.waitStart)
		if t.waits[r.machine][name] != "TimestampPath" {
			r.loopWait += waited
			return
		}
		t.line(ev.Timestamp, "%s: waited %s", name, roundDuration(waited))
		r.loopState = ""
	case "SucceedStateEntered", "FailStateEntered":
		t.flushLoop(r)
		t.line(ev.Timestamp, "%s", name)
	case "ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut":
		t.flushLoop(r)
		t.line(ev.Timestamp, "%s", ev.Type)
	}
}

// gateSummary is one gate of a run. MinimumSafeSeconds is how long the
// run had to wait at the gate for the TTLs observed, without the safety
// margin: from when the run reached the gate to the latest Since + TTL of
// its terms (zero when nothing constrains it, or the caches had already
// expired). Their sum over a run is the least time any safe procedure
// could have taken with those TTLs.
type gateSummary struct {
	Transition         rollover.Transition `json:"transition"`
	Reached            time.Time           `json:"reached"`
	At                 string              `json:"at"`
	TTLSeconds         int64               `json:"ttlSeconds"` // the largest TTL of its terms
	MarginSeconds      int64               `json:"marginSeconds"`
	MinimumSafeSeconds int64               `json:"minimumSafeSeconds"`
	Terms              []string            `json:"terms,omitempty"`
}

// termNumbers reads a term as rollover.Term.String writes it: "EVENT SINCE
// + TTLNAME TTLs + margin MARGINs = AT".
var termNumbers = regexp.MustCompile(` (\S+) \+ (.+) (\d+)s \+ margin (-?\d+)s = \S+$`)

// parseTerm returns the time, TTL and margin of a term.
func parseTerm(term string) (since time.Time, ttl, margin int64, ok bool) {
	m := termNumbers.FindStringSubmatch(term)
	if m == nil {
		return time.Time{}, 0, 0, false
	}
	since, err := time.Parse(time.RFC3339, m[1])
	ttl, err1 := strconv.ParseInt(m[3], 10, 64)
	margin, err2 := strconv.ParseInt(m[4], 10, 64)
	return since, ttl, margin, err == nil && err1 == nil && err2 == nil
}

// gateSummaries are the run's gates in the order first computed.
func (r *runRecord) gateSummaries() []gateSummary {
	var out []gateSummary
	for _, tr := range r.order {
		g := r.gates[tr]
		gs := gateSummary{Transition: tr, Reached: r.reached[tr], At: g.At, Terms: slices.Clone(g.Terms)}
		var latest time.Time
		for _, term := range g.Terms {
			since, ttl, margin, ok := parseTerm(term)
			if !ok {
				continue
			}
			gs.TTLSeconds = max(gs.TTLSeconds, ttl)
			gs.MarginSeconds = max(gs.MarginSeconds, margin)
			if end := since.Add(time.Duration(ttl) * time.Second); end.After(latest) {
				latest = end
			}
		}
		if latest.After(gs.Reached) {
			gs.MinimumSafeSeconds = int64(latest.Sub(gs.Reached).Round(time.Second) / time.Second)
		}
		out = append(out, gs)
	}
	return out
}
