package sentry

import (
	"github.com/alertgate/alertgate"
)

// occurrencePayload is a Sentry-Hook-Resource: event_alert webhook (an issue
// alert rule fired, the event under data.event) or error webhook (an error
// event was stored, under data.error), trimmed to the fields used.
//
//	{
//	  "action": "triggered",
//	  "data": {
//	    "event": {
//	      "culprit": "?(<anonymous>)",
//	      "datetime": "2019-08-19T21:06:17.677000Z",
//	      "environment": "production",
//	      "event_id": "e4874d664c3540c1a32eab185f12c5ab",
//	      "issue_url": "https://sentry.io/api/0/issues/1117540176/",
//	      "issue_id": "1117540176",
//	      "level": "error",
//	      "project": 1,
//	      "release": null,
//	      "tags": [["browser", "Chrome 75.0.3770"], ["handled", "no"], ["level", "error"]],
//	      "timestamp": 1566248777.677,
//	      "title": "ReferenceError: heck is not defined",
//	      "url": "https://sentry.io/api/0/projects/test-org/front-end/events/e4874d664c3540c1a32eab185f12c5ab/",
//	      "web_url": "https://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/"
//	    },
//	    "triggered_rule": "Very Important Alert Rule!"
//	  },
//	  "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}
//	}
type occurrencePayload struct {
	Action flexString `json:"action"`
	Data   struct {
		Event         *sentryEvent `json:"event"`
		Error         *sentryEvent `json:"error"`
		TriggeredRule flexString   `json:"triggered_rule"`
	} `json:"data"`
	Installation installation `json:"installation"`
}

// sentryEvent is one Sentry event as webhooks serialize it (event.as_dict()
// plus url, web_url, issue_url and issue_id); the legacy plugin's "event"
// has the same shape without the URLs and issue fields.
type sentryEvent struct {
	EventID     flexString `json:"event_id"`
	ID          flexString `json:"id"`
	IssueID     flexString `json:"issue_id"`
	IssueURL    flexString `json:"issue_url"`
	URL         flexString `json:"url"`
	WebURL      flexString `json:"web_url"`
	Title       flexString `json:"title"`
	Message     flexString `json:"message"`
	Culprit     flexString `json:"culprit"`
	Level       flexString `json:"level"`
	Environment flexString `json:"environment"`
	Release     flexString `json:"release"`
	Project     flexString `json:"project"`
	Datetime    flexString `json:"datetime"`
	Timestamp   flexString `json:"timestamp"`
	Tags        tagList    `json:"tags"`
}

// labels returns the routing labels of an event: its tags, then level,
// environment, release and project, which win over tags of the same name.
func (e *sentryEvent) labels(project string) map[string]string {
	l := map[string]string{}
	addTags(l, e.Tags)
	setLabel(l, "level", e.Level)
	setLabel(l, "environment", e.Environment)
	setLabel(l, "release", e.Release)
	setLabel(l, "project", flexString(project))
	return l
}

// title returns the event's title, else its message, else fallback.
func (e *sentryEvent) title(fallback string) string {
	return firstOf(e.Title, e.Message, flexString(fallback))
}

// parseOccurrence normalizes an event_alert (action triggered) or error
// (action created) webhook into one occurrence of the event's issue.
func parseOccurrence(body []byte, resource, wantAction string) ([]alertgate.Event, error) {
	var p occurrencePayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	switch action := p.Action.String(); action {
	case wantAction:
	case "":
		return nil, errMissing("action")
	default:
		return nil, alertgate.Errorf(alertgate.EINVALID, "action: %q is not %s", clip(action), wantAction)
	}
	// Sentry documents the error resource's event under data.error (and, in
	// one attribute heading, data.event); take either.
	path, e := "data.event", p.Data.Event
	if resource == "error" {
		path = "data.error"
		if p.Data.Error != nil {
			e = p.Data.Error
		} else if e != nil {
			path = "data.event"
		}
	}
	if e == nil {
		return nil, errMissing(path)
	}
	issueID, err := requireID(path+".issue_id", e.IssueID)
	if err != nil {
		return nil, err
	}
	evID, err := requireID(path+".event_id", e.EventID)
	if err != nil {
		return nil, err
	}
	project := projectFromURL(e.URL)
	if project == "" {
		project = slugOrEmpty(e.Project)
	}
	ev := alertgate.Event{
		ID:          eventID(evID),
		Source:      alertgate.SourceSentry,
		Kind:        alertgate.KindBug,
		Key:         issueKey(issueID),
		Status:      alertgate.StatusFiring,
		Severity:    alertgate.ParseSeverity(e.Level.String(), alertgate.SeverityError),
		Title:       e.title("Sentry event " + evID),
		Description: e.Culprit.String(),
		Service:     project,
		Labels:      e.labels(project),
		OccurredAt:  parseTime(e.Datetime, e.Timestamp),
		Count:       1,
		Transition:  resource + "." + wantAction,
	}
	if href := webURL(e.WebURL); href != "" {
		ev.Links = []alertgate.Link{{Href: href, Text: "Sentry event"}}
	}
	ev.Finish()
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return []alertgate.Event{ev}, nil
}
