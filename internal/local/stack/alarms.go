package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dnssec-autopilot/dnssec-autopilot/internal/local/awsemu/route53emu"
)

// The Route 53 DNSSEC metrics the stack emulates (namespace AWS/Route53,
// dimension HostedZoneId), as the Route 53 Developer Guide defines them
// ("Monitoring hosted zones using Amazon CloudWatch").
const (
	MetricNamespace = "AWS/Route53"
	// MetricInternalFailure is 1 when any object of the hosted zone (its
	// signing status or a KSK) is in INTERNAL_FAILURE, else 0.
	MetricInternalFailure = "DNSSECInternalFailure"
	// MetricKSKsNeedingAction is the number of KSKs in ACTION_NEEDED.
	MetricKSKsNeedingAction = "DNSSECKeySigningKeysNeedingAction"
	// DimensionHostedZoneID is the metrics' dimension.
	DimensionHostedZoneID = "HostedZoneId"
)

// The alarms over the DNSSEC metrics, one per metric and hosted zone, as
// the deployment creates them: Sum over one period >= 1, one datapoint out
// of one evaluation period, missing data not breaching.
const (
	// DefaultAlarmPeriod is one minute: the granularity at which Route 53
	// publishes hosted zone metrics, so an alarm fires within a minute or
	// two of a key becoming unusable, long before its signatures expire.
	DefaultAlarmPeriod = time.Minute
	// AlarmThreshold: one KSK needing action, or one internal failure, is
	// already an incident.
	AlarmThreshold = 1.0
	// AlarmEvaluationPeriods and AlarmDatapointsToAlarm: a single
	// breaching datapoint alarms; these metrics do not flap.
	AlarmEvaluationPeriods = 1
	AlarmDatapointsToAlarm = 1
	// AlarmStatistic is the statistic over each period.
	AlarmStatistic = "Sum"
	// AlarmComparison is the comparison with the threshold.
	AlarmComparison = "GreaterThanOrEqualToThreshold"
)

// Alarm states, as CloudWatch names them.
const (
	AlarmOK               = "OK"
	AlarmAlarm            = "ALARM"
	AlarmInsufficientData = "INSUFFICIENT_DATA"
)

// EventBridge fields of an alarm state change.
const (
	EventSource     = "aws.cloudwatch"
	EventDetailType = "CloudWatch Alarm State Change"
)

// AlarmName returns the name of the alarm over metric for zoneID.
func AlarmName(zoneID, metric string) string {
	return fmt.Sprintf("dnssec-autopilot-%s-%s", zoneID, metric)
}

// Alarm is one alarm's current state.
type Alarm struct {
	Name   string
	ZoneID string
	Metric string
	State  string    // AlarmOK, AlarmAlarm, AlarmInsufficientData
	Since  time.Time // of the last state change
	Value  float64   // the last datapoint
}

// AlarmDetail is the detail of a "CloudWatch Alarm State Change" event of
// a single-metric alarm, as CloudWatch sends it to EventBridge.
type AlarmDetail struct {
	AlarmName     string             `json:"alarmName"`
	State         AlarmStateDetail   `json:"state"`
	PreviousState AlarmStateDetail   `json:"previousState"`
	Configuration AlarmConfiguration `json:"configuration"`
}

// AlarmStateDetail is one state of an alarm in an event.
type AlarmStateDetail struct {
	Value      string `json:"value"`
	Reason     string `json:"reason"`
	ReasonData string `json:"reasonData,omitempty"`
	Timestamp  string `json:"timestamp"` // 2026-11-27T08:31:00.000+0000
}

// AlarmConfiguration is the alarm's configuration in an event.
type AlarmConfiguration struct {
	Description string        `json:"description,omitempty"`
	Metrics     []AlarmMetric `json:"metrics"`
}

// AlarmMetric is one metric query of an alarm.
type AlarmMetric struct {
	ID         string     `json:"id"`
	MetricStat MetricStat `json:"metricStat"`
	ReturnData bool       `json:"returnData"`
}

// MetricStat is a metric with its period and statistic.
type MetricStat struct {
	Metric MetricID `json:"metric"`
	Period int      `json:"period"`
	Stat   string   `json:"stat"`
}

// MetricID names a metric.
type MetricID struct {
	Namespace  string            `json:"namespace"`
	Name       string            `json:"name"`
	Dimensions map[string]string `json:"dimensions"`
}

// ParseAlarmDetail decodes the detail of an alarm state change event.
func ParseAlarmDetail(ev events.CloudWatchEvent) (AlarmDetail, error) {
	var d AlarmDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return d, fmt.Errorf("stack: alarm event detail: %w", err)
	}
	return d, nil
}

// cloudWatchTimestamp is the format of state timestamps in alarm events.
const cloudWatchTimestamp = "2006-01-02T15:04:05.000-0700"

type alarm struct {
	Alarm
	metricID string
	reason   string
	data     string
	stamp    time.Time
}

// alarms evaluates the DNSSEC metrics of every hosted zone each period and
// delivers the state changes.
type alarms struct {
	r53    *route53emu.Service
	period time.Duration

	evaluating sync.Mutex // one evaluation at a time, so events queue in order

	mu     sync.Mutex
	rng    *rand.Rand
	byName map[string]*alarm
	last   time.Time // end of the last period evaluated
	events []events.CloudWatchEvent
	subs   map[int]func(events.CloudWatchEvent)
	nextID int

	// queue hands the state changes into ALARM, in order, to the delivery
	// goroutine (run): subscribers never run on the goroutine that moved
	// the clock, which may hold locks of its own (the States Language
	// runner does while it advances a virtual clock).
	queue chan events.CloudWatchEvent
	done  <-chan struct{} // the stack is closing
}

func newAlarms(ctx context.Context, r53 *route53emu.Service, period time.Duration, seed uint64) *alarms {
	return &alarms{
		done:   ctx.Done(),
		r53:    r53,
		period: period,
		rng:    rand.New(rand.NewPCG(seed, seed^0xa1a2)),
		byName: map[string]*alarm{},
		subs:   map[int]func(events.CloudWatchEvent){},
		queue:  make(chan events.CloudWatchEvent, alarmQueue),
	}
}

// alarmQueue bounds the events waiting for delivery; an evaluation waits
// when subscribers are that far behind.
const alarmQueue = 1024

// run delivers queued events to the subscribers until ctx ends.
func (a *alarms) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-a.queue:
			a.mu.Lock()
			ids := make([]int, 0, len(a.subs))
			for id := range a.subs {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			subs := make([]func(events.CloudWatchEvent), 0, len(ids))
			for _, id := range ids {
				subs = append(subs, a.subs[id])
			}
			a.mu.Unlock()
			for _, f := range subs {
				f(ev)
			}
		}
	}
}

// nextEvaluation returns the end of the period after now's.
func (a *alarms) nextEvaluation(now time.Time) time.Time {
	return now.Truncate(a.period).Add(a.period)
}

// metrics computes the zone's DNSSEC metrics from what GetDNSSEC reports.
func (a *alarms) metrics(zoneID string) (internalFailure, needingAction float64, ok bool) {
	// A KMS change made just before the period ended counts in it, as it
	// does in Route 53's datapoint: check the keys now rather than wait
	// for the emulator's key events.
	a.r53.CheckKMSKeys(zoneID)
	status, _ := a.r53.SigningStatus(zoneID)
	if status == "" {
		return 0, 0, false
	}
	if status == route53emu.InternalFailure {
		internalFailure = 1
	}
	snap, err := a.r53.Snapshot(zoneID)
	if err == nil {
		for _, k := range snap.KSKs {
			switch k.Status {
			case route53emu.KSKActionNeeded:
				needingAction++
			case route53emu.KSKInternalFailure:
				internalFailure = 1
			}
		}
	}
	return internalFailure, needingAction, true
}

// evaluate evaluates every alarm once per period: the datapoint of the
// period that ended last is the metric's value now (the statuses are read
// when the clock reaches the period's end, as CloudWatch reads Route 53's
// published datapoint after it). Alarms are created for new hosted zones.
func (a *alarms) evaluate(now time.Time) {
	a.evaluating.Lock()
	defer a.evaluating.Unlock()
	end := now.Truncate(a.period)
	a.mu.Lock()
	if !end.After(a.last) {
		a.mu.Unlock()
		return
	}
	a.last = end
	a.mu.Unlock()

	var changed []events.CloudWatchEvent
	for _, z := range a.r53.Zones() {
		fail, action, ok := a.metrics(z.ID)
		if !ok {
			continue
		}
		for _, m := range []struct {
			name  string
			value float64
		}{{MetricInternalFailure, fail}, {MetricKSKsNeedingAction, action}} {
			if ev, ok := a.datapoint(z.ID, m.name, m.value, end, now); ok {
				changed = append(changed, ev)
			}
		}
	}
	if len(changed) == 0 {
		return
	}
	a.mu.Lock()
	a.events = append(a.events, changed...)
	a.mu.Unlock()
	for _, ev := range changed {
		if d, _ := ParseAlarmDetail(ev); d.State.Value == AlarmAlarm {
			select {
			case a.queue <- ev:
			case <-a.done:
				return
			}
		}
	}
}

// datapoint records the datapoint of the period ending at end and returns
// the state change event it causes, if any.
func (a *alarms) datapoint(zoneID, metric string, value float64, end, now time.Time) (events.CloudWatchEvent, bool) {
	name := AlarmName(zoneID, metric)
	a.mu.Lock()
	defer a.mu.Unlock()
	al := a.byName[name]
	if al == nil {
		al = &alarm{
			Alarm:    Alarm{Name: name, ZoneID: zoneID, Metric: metric, State: AlarmInsufficientData, Since: now},
			metricID: a.uuid(),
			reason:   "Unchecked: Initial alarm creation",
			stamp:    now,
		}
		a.byName[name] = al
	}
	al.Value = value
	state := AlarmOK
	if value >= AlarmThreshold {
		state = AlarmAlarm
	}
	if state == al.State {
		return events.CloudWatchEvent{}, false
	}
	start := end.Add(-a.period)
	verb := "was not greater than or equal to"
	if state == AlarmAlarm {
		verb = "was greater than or equal to"
	}
	reason := fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s (%s)] %s the threshold (%s) (minimum %d datapoint for %s -> %s transition).",
		AlarmDatapointsToAlarm, AlarmEvaluationPeriods, number(value), start.UTC().Format("02/01/06 15:04:05"), verb,
		number(AlarmThreshold), AlarmDatapointsToAlarm, al.State, state)
	data, _ := json.Marshal(map[string]any{
		"version":          "1.0",
		"queryDate":        now.UTC().Format(cloudWatchTimestamp),
		"startDate":        start.UTC().Format(cloudWatchTimestamp),
		"statistic":        AlarmStatistic,
		"period":           int(a.period / time.Second),
		"recentDatapoints": []float64{value},
		"threshold":        AlarmThreshold,
		"evaluatedDatapoints": []map[string]any{{
			"timestamp": start.UTC().Format("2006-01-02T15:04:05.000Z"), "sampleCount": 1.0, "value": value,
		}},
	})
	prev := AlarmStateDetail{Value: al.State, Reason: al.reason, ReasonData: al.data, Timestamp: al.stamp.UTC().Format(cloudWatchTimestamp)}
	al.State, al.Since, al.reason, al.data, al.stamp = state, now, reason, string(data), now
	detail := AlarmDetail{
		AlarmName:     name,
		State:         AlarmStateDetail{Value: state, Reason: reason, ReasonData: string(data), Timestamp: now.UTC().Format(cloudWatchTimestamp)},
		PreviousState: prev,
		Configuration: AlarmConfiguration{
			Description: fmt.Sprintf("Route 53 DNSSEC %s of hosted zone %s", metric, zoneID),
			Metrics: []AlarmMetric{{
				ID: al.metricID,
				MetricStat: MetricStat{
					Metric: MetricID{Namespace: MetricNamespace, Name: metric, Dimensions: map[string]string{DimensionHostedZoneID: zoneID}},
					Period: int(a.period / time.Second),
					Stat:   AlarmStatistic,
				},
				ReturnData: true,
			}},
		},
	}
	raw, _ := json.Marshal(detail)
	return events.CloudWatchEvent{
		Version:    "0",
		ID:         a.uuid(),
		DetailType: EventDetailType,
		Source:     EventSource,
		AccountID:  AccountID,
		Time:       now.UTC().Truncate(time.Second),
		Region:     Region,
		Resources:  []string{fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", Region, AccountID, name)},
		Detail:     raw,
	}, true
}

// number formats a datapoint as CloudWatch does in reasons: 1.0, 2.0, 0.5.
func number(v float64) string {
	s := fmt.Sprintf("%g", v)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// uuid returns a random version 4 UUID string; callers hold a.mu.
func (a *alarms) uuid() string {
	hi, lo := a.rng.Uint64(), a.rng.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// SubscribeAlarms registers f to receive every alarm state change into
// ALARM, as the EventBridge rule of the deployment matches them
// (source aws.cloudwatch, detail-type "CloudWatch Alarm State Change",
// detail.state.value ALARM). f runs on the stack's delivery goroutine, one
// event at a time in order, shortly after the evaluation that raised it
// (on a virtual clock: after the move of the clock that ended the
// period); it may start an execution or move the clock. cancel
// unregisters it.
func (s *Stack) SubscribeAlarms(f func(events.CloudWatchEvent)) (cancel func()) {
	a := s.alarms
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.nextID
	a.nextID++
	a.subs[id] = f
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.subs, id)
	}
}

// AlarmEvents returns every alarm state change event so far, of any state,
// oldest first.
func (s *Stack) AlarmEvents() []events.CloudWatchEvent {
	s.alarms.mu.Lock()
	defer s.alarms.mu.Unlock()
	return slices.Clone(s.alarms.events)
}

// Alarms returns every alarm, by name.
func (s *Stack) Alarms() []Alarm {
	a := s.alarms
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Alarm, 0, len(a.byName))
	for _, al := range a.byName {
		out = append(out, al.Alarm)
	}
	slices.SortFunc(out, func(x, y Alarm) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// MetricValue returns the current value of a DNSSEC metric of zoneID
// (MetricInternalFailure or MetricKSKsNeedingAction); false for an unknown
// zone or metric.
func (s *Stack) MetricValue(zoneID, metric string) (float64, bool) {
	fail, action, ok := s.alarms.metrics(zoneID)
	switch {
	case !ok:
		return 0, false
	case metric == MetricInternalFailure:
		return fail, true
	case metric == MetricKSKsNeedingAction:
		return action, true
	}
	return 0, false
}

// EvaluateAlarms evaluates the alarms now, when a period has ended since
// the last evaluation. The stack does it by itself on either clock; tests
// on a frozen virtual clock may call it.
func (s *Stack) EvaluateAlarms() { s.alarms.evaluate(s.clk.Now()) }
