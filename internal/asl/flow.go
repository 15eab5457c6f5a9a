package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// Concurrency limits when MaxConcurrency is 0.
const (
	// inlineMapConcurrency: the guide says an inline Map runs "up to 40"
	// iterations at once.
	inlineMapConcurrency = 40
	// distributedMapConcurrency: a Distributed Map runs up to 10,000
	// child executions at once.
	distributedMapConcurrency = 10000
)

func aborted() *StateError {
	return &StateError{Name: "States.Aborted", Cause: "the execution was stopped"}
}

func isAborted(e *StateError) bool { return e != nil && e.Name == "States.Aborted" }

// lastEventID returns the id of the newest event of the execution.
func (e *Execution) lastEventID() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.eventCount
}

// firstError keeps the first real failure among concurrent children.
type firstError struct {
	mu  sync.Mutex
	err *StateError
}

func (f *firstError) set(e *StateError) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || isAborted(f.err) && !isAborted(e) {
		f.err = e
		return true
	}
	return false
}

func (f *firstError) get() *StateError {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// parallel runs every branch on the same input; the result is the array of
// branch outputs. A failing branch stops the others and the state fails with
// the branch's Error and Cause (which is what AWS reports; the spec's
// States.BranchFailed is not what a Catch sees).
func (th *thread) parallel(ctx context.Context, st *state, eff any) (any, *StateError) {
	r := th.e.r
	th.event("ParallelStateStarted", "", nil)
	start := th.prev
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(st.branches))
	var fe firstError
	j := r.newJoin(len(st.branches))
	for i, b := range st.branches {
		go func() {
			defer j.finish(r)
			bt := &thread{e: th.e, prev: start}
			out, err := bt.runMachine(gctx, b, eff)
			if err != nil {
				fe.set(err)
				cancel()
				return
			}
			results[i] = out
		}()
	}
	j.wait(r)
	th.prev = th.e.lastEventID()
	if err := fe.get(); err != nil {
		if isAborted(err) {
			th.event("ParallelStateAborted", "", nil)
		} else {
			th.event("ParallelStateFailed", "", nil)
		}
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, aborted()
	}
	th.event("ParallelStateSucceeded", "", nil)
	return results, nil
}

// mapState runs the item processor over the items.
func (th *thread) mapState(ctx context.Context, st *state, eff any, cobj map[string]any) (any, *StateError) {
	r := th.e.r
	itemsV := eff
	if st.itemsPath != nil {
		v, ok := st.itemsPath.get(eff, cobj)
		if !ok {
			return nil, runtimeError("Invalid path '%s' : No results for path: %s", st.itemsPath.src, st.itemsPath.src)
		}
		itemsV = v
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, runtimeError("Map state %q: the ItemsPath did not give an array but %s", st.name, typeName(itemsV))
	}
	conc := st.maxConcurrency
	if st.maxConcPath != nil {
		v, ok := st.maxConcPath.get(eff, cobj)
		n, isN := intArg(v)
		if !ok || !isN || n < 0 {
			return nil, runtimeError("Map state %q: MaxConcurrencyPath %s is not a non-negative integer", st.name, st.maxConcPath.src)
		}
		conc = n
	}
	limit := inlineMapConcurrency
	if st.distributed {
		limit = distributedMapConcurrency
	}
	if conc == 0 || conc > limit {
		conc = limit
	}
	if conc > len(items) {
		conc = len(items)
	}
	// Each iteration's input: ItemSelector (or the legacy Parameters) with
	// $$.Map.Item, else the item itself.
	inputs := make([]any, len(items))
	for i, item := range items {
		if st.itemSelector == nil {
			inputs[i] = item
			continue
		}
		c := make(map[string]any, len(cobj)+1)
		for k, v := range cobj {
			c[k] = v
		}
		c["Map"] = map[string]any{"Item": map[string]any{"Index": json.Number(strconv.Itoa(i)), "Value": item}}
		v, err := st.itemSelector.eval(eff, c, "ItemSelector")
		if err != nil {
			return nil, err
		}
		inputs[i] = v
	}
	if st.distributed {
		return th.distributedMap(ctx, st, eff, inputs, conc)
	}
	th.event("MapStateStarted", "mapStateStartedEventDetails", map[string]any{"length": len(items)})
	start := th.prev
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(items))
	var fe firstError
	var nextItem atomic.Int64
	j := r.newJoin(conc)
	for range conc {
		go func() {
			defer j.finish(r)
			for {
				if gctx.Err() != nil {
					return
				}
				i := int(nextItem.Add(1) - 1)
				if i >= len(items) {
					return
				}
				it := &thread{e: th.e, prev: start}
				details := map[string]any{"name": st.name, "index": i}
				it.event("MapIterationStarted", "mapIterationStartedEventDetails", details)
				out, err := it.runMachine(gctx, st.processor, inputs[i])
				switch {
				case err == nil:
					it.event("MapIterationSucceeded", "mapIterationSucceededEventDetails", details)
					results[i] = out
				case isAborted(err):
					it.event("MapIterationAborted", "mapIterationAbortedEventDetails", details)
					fe.set(err)
					return
				default:
					it.event("MapIterationFailed", "mapIterationFailedEventDetails", details)
					fe.set(err)
					cancel()
					return
				}
			}
		}()
	}
	j.wait(r)
	th.prev = th.e.lastEventID()
	if err := fe.get(); err != nil {
		if isAborted(err) {
			th.event("MapStateAborted", "", nil)
		} else {
			th.event("MapStateFailed", "", nil)
		}
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, aborted()
	}
	th.event("MapStateSucceeded", "", nil)
	return results, nil
}

// distributedMap runs every item as a child execution of the item
// processor (a Map Run). Failed children count against
// ToleratedFailureCount/Percentage; over the threshold the state fails with
// States.ExceedToleratedFailureThreshold. Without a ResultWriter the output
// is the array of child outputs; the guide does not say what stands in the
// slot of a tolerated failure: this runner puts the child's {"Error",
// "Cause"} there.
func (th *thread) distributedMap(ctx context.Context, st *state, eff any, inputs []any, conc int) (any, *StateError) {
	r := th.e.r
	parent := th.e
	tolCount, tolPct, hasCount, hasPct := st.toleratedCount, st.toleratedPct, st.hasToleratedCount, st.hasToleratedPct
	if st.tolCountPath != nil {
		v, ok := st.tolCountPath.get(eff, nil)
		n, isN := intArg(v)
		if !ok || !isN || n < 0 {
			return nil, runtimeError("Map state %q: ToleratedFailureCountPath is not a non-negative integer", st.name)
		}
		tolCount, hasCount = n, true
	}
	if st.tolPctPath != nil {
		v, ok := st.tolPctPath.get(eff, nil)
		f, isN := numArg(v)
		if !ok || !isN || f < 0 || f > 100 {
			return nil, runtimeError("Map state %q: ToleratedFailurePercentagePath is not a number from 0 to 100", st.name)
		}
		tolPct, hasPct = f, true
	}
	runName := newUUID()
	mapRunARN := fmt.Sprintf("arn:aws:states:%s:%s:mapRun:%s/%s:%s", r.opts.Region, r.opts.AccountID, parent.smName, st.name, runName)
	th.event("MapStateStarted", "mapStateStartedEventDetails", map[string]any{"length": len(inputs)})
	th.event("MapRunStarted", "mapRunStartedEventDetails", map[string]any{"mapRunArn": mapRunARN})
	reg := &registered{
		name: parent.smName + "/" + st.name,
		arn:  fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s/%s", r.opts.Region, r.opts.AccountID, parent.smName, st.name),
		sm:   &StateMachine{top: st.processor},
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(inputs))
	var failed, transitions atomic.Int64
	var exceeded atomic.Bool
	var nextItem atomic.Int64
	// The run fails when the failures exceed either threshold given; with
	// none given, one failure is too many.
	over := func(f int64) bool {
		return hasCount && f > int64(tolCount) ||
			hasPct && float64(f)*100 > tolPct*float64(len(inputs)) ||
			!hasCount && !hasPct && f > 0
	}
	j := r.newJoin(conc)
	for range conc {
		go func() {
			defer j.finish(r)
			for gctx.Err() == nil {
				i := int(nextItem.Add(1) - 1)
				if i >= len(inputs) {
					return
				}
				child := r.childExecution(gctx, reg, newUUID(), inputs[i])
				res := child.runInline()
				transitions.Add(res.Transitions)
				if res.Status == StatusSucceeded {
					v, _ := decodeJSON(res.Output)
					results[i] = v
					continue
				}
				results[i] = map[string]any{"Error": res.Error, "Cause": res.Cause}
				if over(failed.Add(1)) {
					exceeded.Store(true)
					cancel()
					return
				}
			}
		}()
	}
	j.wait(r)
	th.prev = th.e.lastEventID()
	parent.mu.Lock()
	parent.transitions += transitions.Load()
	parent.mu.Unlock()
	if exceeded.Load() {
		cause := fmt.Sprintf("The specified tolerated failure threshold was exceeded: %d of %d child executions failed", failed.Load(), len(inputs))
		th.event("MapRunFailed", "mapRunFailedEventDetails", map[string]any{"error": ErrExceedToleratedFailures, "cause": cause})
		th.event("MapStateFailed", "", nil)
		return nil, &StateError{Name: ErrExceedToleratedFailures, Cause: cause}
	}
	if ctx.Err() != nil {
		th.event("MapRunAborted", "", nil)
		return nil, aborted()
	}
	th.event("MapRunSucceeded", "", nil)
	th.event("MapStateSucceeded", "", nil)
	return results, nil
}
