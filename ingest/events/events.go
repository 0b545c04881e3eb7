// Package events parses alertgate's own event JSON, for any tool that is not
// one of the sources alertgate knows: the sender states kind, key, episode
// and status itself.
package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
)

// event is what a sender posts, one object or {"events": [ … ]}:
//
//	{"id":"deploy-bot-1234","kind":"incident","key":"deploybot:rollout:checkout",
//	 "episode":"rollout-981","status":"firing","severity":"critical",
//	 "title":"Rollout of checkout stuck","service":"checkout",
//	 "labels":{"team":"payments"},"runbook_url":"https://…"}
type event struct {
	ID          string            `json:"id"`
	Kind        alertgate.Kind    `json:"kind"`
	Key         string            `json:"key"`
	Episode     string            `json:"episode"`
	Status      alertgate.Status  `json:"status"`
	Severity    string            `json:"severity"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Service     string            `json:"service"`
	Labels      map[string]string `json:"labels"`
	Links       []alertgate.Link  `json:"links"`
	RunbookURL  string            `json:"runbook_url"`
	OccurredAt  time.Time         `json:"occurred_at"`
	Count       int               `json:"count"`
}

// KeyPrefix namespaces senders' keys away from the other sources'.
const KeyPrefix = "events:"

// MaxEvents bounds one request.
const MaxEvents = 1000

// Parse normalizes one request body.
func Parse(body []byte) ([]alertgate.Event, error) {
	body = bytes.TrimSpace(body)
	var in []event
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := strict(body, &in); err != nil {
			return nil, err
		}
	case bytes.Contains(body, []byte(`"events"`)):
		var wrap struct {
			Events []event `json:"events"`
		}
		if err := strict(body, &wrap); err != nil {
			return nil, err
		}
		in = wrap.Events
	default:
		var one event
		if err := strict(body, &one); err != nil {
			return nil, err
		}
		in = []event{one}
	}
	if len(in) == 0 {
		return nil, alertgate.Errorf(alertgate.EINVALID, "events: empty")
	}
	if len(in) > MaxEvents {
		return nil, alertgate.Errorf(alertgate.EINVALID, "events: %d is over the limit of %d per request", len(in), MaxEvents)
	}
	out := make([]alertgate.Event, 0, len(in))
	for i, e := range in {
		ev, err := e.normalize()
		if err != nil {
			return nil, alertgate.Errorf(alertgate.EINVALID, "events[%d].%s", i, alertgate.ErrorMessage(err))
		}
		out = append(out, ev)
	}
	return out, nil
}

func strict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return alertgate.WrapError(alertgate.EINVALID, err, "body: %v", err)
	}
	return nil
}

func (e event) normalize() (alertgate.Event, error) {
	if strings.TrimSpace(e.Key) == "" {
		return alertgate.Event{}, alertgate.Errorf(alertgate.EINVALID, "key: missing")
	}
	// The sender's id, key and episode become the event's with a prefix:
	// checked as sent, so that the error names the sender's field and size.
	for _, f := range [...]struct{ name, value string }{{"id", e.ID}, {"key", e.Key}, {"episode", e.Episode}} {
		if err := alertgate.CheckField(f.name, f.value); err != nil {
			return alertgate.Event{}, err
		}
	}
	if e.Status == "" {
		e.Status = alertgate.StatusFiring
	}
	sev := alertgate.SeverityError
	if e.Severity != "" {
		sev = alertgate.Severity(strings.ToLower(e.Severity))
		if !sev.Valid() {
			return alertgate.Event{}, alertgate.Errorf(alertgate.EINVALID, "severity: %q is not critical, error, warning or info", e.Severity)
		}
	}
	if e.Title == "" {
		e.Title = e.Key
	}
	ev := alertgate.Event{
		ID:          e.ID,
		Source:      alertgate.SourceEvents,
		Kind:        e.Kind,
		Key:         KeyPrefix + e.Key,
		Episode:     e.Episode,
		Status:      e.Status,
		Severity:    sev,
		Title:       e.Title,
		Description: e.Description,
		Service:     e.Service,
		Labels:      map[string]string{},
		Links:       e.Links,
		RunbookURL:  e.RunbookURL,
		OccurredAt:  e.OccurredAt.UTC(),
		Count:       e.Count,
		Transition:  string(e.Status),
	}
	for k, v := range e.Labels {
		ev.Labels[k] = v
	}
	if ev.ID == "" {
		// Without a sender's id, the content is the identity: a retry of the
		// same body is stored once.
		ev.ID = "events:" + alertgate.Hash(e.Key, e.Episode, string(e.Status), e.OccurredAt.String(), fmt.Sprint(e.Count))
	} else {
		ev.ID = "events:" + ev.ID
	}
	ev.Finish()
	if err := ev.Validate(); err != nil {
		return alertgate.Event{}, err
	}
	return ev, nil
}
