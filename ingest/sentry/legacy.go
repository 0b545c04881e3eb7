package sentry

import (
	"github.com/alertgate/alertgate"
)

// legacyPayload is the body the legacy WebHooks plugin posts when an alert
// rule fires (sentry/plugins/sentry_webhooks/plugin.py get_group_data),
// trimmed to the fields used. It has no resource header, no signature and no
// installation; the top-level id is the issue id.
//
//	{
//	  "id": "1170820242",
//	  "project": "front-end",
//	  "project_slug": "front-end",
//	  "level": "error",
//	  "culprit": "?(runner)",
//	  "message": "ReferenceError: blooopy is not defined",
//	  "url": "https://test-org.sentry.io/issues/1170820242/?referrer=webhooks_plugin",
//	  "triggering_rules": ["Send a notification for new issues"],
//	  "event": {
//	    "event_id": "bb78c1407cea4519aa397afc059c793d",
//	    "level": "error",
//	    "timestamp": 1566248317.391,
//	    "environment": "production",
//	    "release": null,
//	    "title": "ReferenceError: blooopy is not defined",
//	    "tags": [["browser", "Chrome 75.0.3770"], ["environment", "production"]]
//	  }
//	}
type legacyPayload struct {
	ID          flexString   `json:"id"`
	Project     flexString   `json:"project"`
	ProjectSlug flexString   `json:"project_slug"`
	Level       flexString   `json:"level"`
	Culprit     flexString   `json:"culprit"`
	Message     flexString   `json:"message"`
	URL         flexString   `json:"url"`
	Event       *sentryEvent `json:"event"`
}

// ParseLegacy normalizes one delivery of Sentry's legacy WebHooks plugin
// into one occurrence of the issue's bug class. Its Key is the one Parse
// gives the same issue ("sentry:v1:issue:<id>"), and its ID is
// "sentry:event:<event.event_id>" like an error or event_alert webhook of
// the same event, so one event arriving both ways is stored once; without
// an event id the ID is a hash of the body. Errors are as for Parse.
func ParseLegacy(body []byte) ([]alertgate.Event, error) {
	var p legacyPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	issueID, err := requireID("id", p.ID)
	if err != nil {
		return nil, err
	}
	e := p.Event
	if e == nil {
		e = &sentryEvent{}
	}
	var id string
	if raw := firstOf(e.EventID, e.ID); raw != "" {
		evID, err := requireID("event.event_id", flexString(raw))
		if err != nil {
			return nil, err
		}
		id = eventID(evID)
	} else {
		id = "sentry:legacy:" + alertgate.Hash(string(body)) // hashed only when there is no event id
	}
	project := slugOrEmpty(flexString(firstOf(p.ProjectSlug, p.Project)))
	if project == "" {
		// The plugin always names the project (get_group_data): without
		// one, this is some other tool's JSON.
		return nil, alertgate.Errorf(alertgate.EINVALID, "project_slug: missing: not a Sentry WebHooks plugin payload")
	}
	level := flexString(firstOf(e.Level, p.Level))
	labels := e.labels(project)
	setLabel(labels, "level", level)
	ev := alertgate.Event{
		ID:          id,
		Source:      alertgate.SourceSentry,
		Kind:        alertgate.KindBug,
		Key:         issueKey(issueID),
		Status:      alertgate.StatusFiring,
		Severity:    alertgate.ParseSeverity(level.String(), alertgate.SeverityError),
		Title:       firstOf(e.Title, p.Message, e.Message, flexString("Sentry issue "+issueID)),
		Description: firstOf(e.Culprit, p.Culprit),
		Service:     project,
		Labels:      labels,
		OccurredAt:  parseTime(e.Datetime, e.Timestamp),
		Count:       1,
		Transition:  "webhooks_plugin.triggered",
	}
	if href := webURL(p.URL); href != "" {
		ev.Links = []alertgate.Link{{Href: href, Text: "Sentry issue " + issueID}}
	}
	ev.Finish()
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return []alertgate.Event{ev}, nil
}
