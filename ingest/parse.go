package ingest

import (
	"encoding/json"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/alertmanager"
	"github.com/alertgate/alertgate/ingest/datadog"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/ingest/sentry"
)

// ParsePayload normalizes a payload read from a file, as the CLI's explain
// and route test do: no auth, and for Sentry the resource is taken from
// resource or, when empty, guessed from the body's shape.
func ParsePayload(source alertgate.Source, resource string, body []byte) ([]alertgate.Event, error) {
	switch source {
	case alertgate.SourceAlertmanager:
		return alertmanager.Parse(body)
	case alertgate.SourceDatadog:
		return datadog.Parse(body)
	case alertgate.SourceEvents:
		return events.Parse(body)
	case alertgate.SourceSentry:
		if resource == "" {
			resource = guessSentryResource(body)
		}
		if resource == "legacy" {
			return sentry.ParseLegacy(body)
		}
		return sentry.Parse(resource, body)
	}
	return nil, alertgate.Errorf(alertgate.EINVALID, "source: %q is not alertmanager, sentry, datadog or events", source)
}

// guessSentryResource reads the shape of an integration-platform body
// (Sentry says the resource in a header, which a saved file lacks).
func guessSentryResource(body []byte) string {
	var b struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &b) != nil || b.Data == nil {
		return "legacy"
	}
	for _, k := range []string{"metric_alert", "issue", "error", "installation", "comment"} {
		if _, ok := b.Data[k]; ok {
			return k
		}
	}
	if _, ok := b.Data["event"]; ok {
		return "event_alert"
	}
	return "legacy"
}
