// Package alertmanager normalizes Prometheus Alertmanager webhook (version 4)
// deliveries: one incident event per entry in alerts[], keyed by the alert's
// fingerprint. groupKey and the summary text are never part of the identity:
// a group changes as alerts join and leave it, and a summary can carry a
// value that changes on every evaluation.
package alertmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/internal/jsondec"
	"github.com/alertgate/alertgate/internal/cut"
)

// message is the webhook body. Alertmanager's notify/webhook.Message embeds
// template.Data and adds these fields; importing that package would pull in
// the whole notifier, so the three fields are repeated here.
//
//	{"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0,
//	 "status":"firing","receiver":"alertgate","groupLabels":{…},"commonLabels":{…},
//	 "externalURL":"http://alertmanager:9093",
//	 "alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","service":"checkout",
//	   "severity":"critical"},"annotations":{"summary":"…","runbook_url":"…"},
//	   "startsAt":"2026-03-14T09:26:53.12Z","endsAt":"0001-01-01T00:00:00Z",
//	   "generatorURL":"http://prometheus:9090/graph?…","fingerprint":"0335742509d16c93"}]}
type message struct {
	*template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// KeyPrefix versions the identity scheme: a change to it must change the prefix.
const KeyPrefix = "alertmanager:v1:"

// Parse normalizes one webhook body.
func Parse(body []byte) ([]alertgate.Event, error) {
	var m message
	if err := jsondec.DecodeFirst(body, &m); err != nil {
		return nil, alertgate.WrapError(alertgate.EINVALID, err, "body: not an Alertmanager webhook: %v", jsonError(err))
	}
	if m.Data == nil {
		return nil, alertgate.Errorf(alertgate.EINVALID, "body: not an Alertmanager webhook")
	}
	if m.Version != "" && m.Version != "4" {
		return nil, alertgate.Errorf(alertgate.EINVALID, "version: %q is not supported (want \"4\")", m.Version)
	}
	if len(m.Alerts) == 0 {
		return nil, alertgate.Errorf(alertgate.EINVALID, "alerts: empty")
	}
	alertsURL := ""
	if m.ExternalURL != "" {
		alertsURL = strings.TrimRight(m.ExternalURL, "/") + "/#/alerts"
	}
	events := make([]alertgate.Event, 0, len(m.Alerts))
	for i, a := range m.Alerts {
		ev, err := normalize(a, alertsURL)
		if err != nil {
			return nil, alertgate.Errorf(alertgate.EINVALID, "alerts[%d].%s", i, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// normalize turns one alert into its event; alertsURL is the Alertmanager
// UI's alert list, "" when the webhook names no externalURL.
func normalize(a template.Alert, alertsURL string) (alertgate.Event, error) {
	if a.Fingerprint == "" {
		return alertgate.Event{}, fmt.Errorf("fingerprint: missing")
	}
	// The fingerprint is the key, the episode and most of the ID: checked
	// here so that the error names it rather than what it became.
	if err := alertgate.CheckField("fingerprint", a.Fingerprint); err != nil {
		return alertgate.Event{}, err
	}
	var status alertgate.Status
	switch a.Status {
	case "firing":
		status = alertgate.StatusFiring
	case "resolved":
		status = alertgate.StatusResolved
	default:
		return alertgate.Event{}, fmt.Errorf("status: %q is not firing or resolved", a.Status)
	}
	if a.StartsAt.IsZero() {
		return alertgate.Event{}, fmt.Errorf("startsAt: missing")
	}
	var stamp [len(time.RFC3339Nano)]byte
	episode := a.Fingerprint + "@" + string(a.StartsAt.UTC().AppendFormat(stamp[:0], time.RFC3339Nano))
	ev := alertgate.Event{
		// One ID per (episode, status): Alertmanager's repeats and retries of
		// the same state are stored once.
		ID:          "alertmanager:" + episode + ":" + a.Status,
		Source:      alertgate.SourceAlertmanager,
		Kind:        alertgate.KindIncident,
		Key:         KeyPrefix + a.Fingerprint,
		Episode:     episode,
		Status:      status,
		Severity:    alertgate.ParseSeverity(a.Labels["severity"], alertgate.SeverityError),
		Title:       title(a),
		Description: a.Annotations["description"],
		Service:     a.Labels["service"],
		// The decoded map belongs to this alert alone, so it becomes the
		// event's labels as it is; Finish then overwrites severity and
		// adds source and kind, after every read of a.Labels above.
		Labels:     a.Labels,
		Links:      links(a.GeneratorURL, alertsURL),
		RunbookURL: firstOf(a.Annotations, "runbook_url", "runbook"),
		OccurredAt: a.StartsAt.UTC(),
		Count:      1,
		Transition: a.Status,
	}
	if status == alertgate.StatusResolved && !a.EndsAt.IsZero() {
		ev.OccurredAt = a.EndsAt.UTC()
	}
	ev.Finish()
	if err := ev.Validate(); err != nil {
		return alertgate.Event{}, err
	}
	return ev, nil
}

// links returns the alert's links, nil when it has none.
func links(generatorURL, alertsURL string) []alertgate.Link {
	var l []alertgate.Link
	if generatorURL != "" || alertsURL != "" {
		l = make([]alertgate.Link, 0, 2)
	}
	if generatorURL != "" {
		l = append(l, alertgate.Link{Href: generatorURL, Text: "Source"})
	}
	if alertsURL != "" {
		l = append(l, alertgate.Link{Href: alertsURL, Text: "Alertmanager"})
	}
	return l
}

// title prefers the summary annotation; without it, the alert name and the
// labels that tell instances apart.
func title(a template.Alert) string {
	if s := firstOf(a.Annotations, "summary", "title", "message"); s != "" {
		return s
	}
	name := a.Labels["alertname"]
	if name == "" {
		name = "alert " + a.Fingerprint
	}
	var parts []string
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "alertname" && k != "severity" {
			parts = append(parts, k+"="+a.Labels[k])
		}
	}
	if len(parts) == 0 {
		return name
	}
	return cut.Bytes(name+" {"+strings.Join(parts, ", ")+"}", maxLabelTitle)
}

// maxLabelTitle bounds a title made of the labels. A label value may be as
// large as the body; copied whole into the title it would be in the event
// twice, and the event could pass JetStream's message limit (1 MiB by
// default) though the body did not. No sink shows more: PagerDuty's
// summary is at most 1024 bytes too.
const maxLabelTitle = 1024

func firstOf(kv template.KV, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(kv[k]); v != "" {
			return v
		}
	}
	return ""
}

// jsonError shortens encoding/json's messages to what helps a sender.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: want %s, got JSON %s", strings.TrimPrefix(te.Field, "Data."), te.Type, te.Value)
	}
	return err.Error()
}
