package asl

import (
	"encoding/json"
	"time"
)

// Event is one entry of the execution history, with the fields that
// GetExecutionHistory returns: id, previousEventId, timestamp, type and one
// details object whose key depends on the type (executionStartedEventDetails,
// stateEnteredEventDetails, taskScheduledEventDetails, ...).
type Event struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string
	DetailsKey      string
	Details         map[string]any
}

// MarshalJSON writes the event as GetExecutionHistory does.
func (ev Event) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id":              ev.ID,
		"previousEventId": ev.PreviousEventID,
		"timestamp":       ev.Timestamp.UTC().Format(time.RFC3339Nano),
		"type":            ev.Type,
	}
	if ev.DetailsKey != "" {
		m[ev.DetailsKey] = ev.Details
	}
	return json.Marshal(m)
}

// History returns a copy of the events so far, oldest first.
func (e *Execution) History() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}
