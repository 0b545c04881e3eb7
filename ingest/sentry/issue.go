package sentry

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/alertgate/alertgate"
)

// issuePayload is a Sentry-Hook-Resource: issue webhook, trimmed to the
// fields used. issue.created carries url, web_url and project_url; the other
// actions (resolved, ignored, assigned, unresolved) carry the bare
// serialized issue without them.
//
//	{
//	  "action": "created",
//	  "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
//	  "data": {
//	    "issue": {
//	      "url": "https://sentry.io/api/0/organizations/test-org/issues/1170820242/",
//	      "web_url": "https://sentry.io/organizations/test-org/issues/1170820242/",
//	      "count": "1",
//	      "culprit": "?(runner)",
//	      "firstSeen": "2019-08-19T20:58:37.391000Z",
//	      "id": "1170820242",
//	      "lastSeen": "2019-08-19T20:58:37.391000Z",
//	      "level": "error",
//	      "permalink": null,
//	      "project": {"id": "1", "name": "front-end", "platform": "", "slug": "front-end"},
//	      "shortId": "FRONT-END-9",
//	      "status": "unresolved",
//	      "statusDetails": {},
//	      "substatus": "new",
//	      "title": "ReferenceError: blooopy is not defined"
//	    }
//	  },
//	  "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}
//	}
type issuePayload struct {
	Action flexString `json:"action"`
	Actor  actor      `json:"actor"`
	Data   struct {
		Issue *issue `json:"issue"`
	} `json:"data"`
	Installation installation `json:"installation"`
}

// issue is a serialized Sentry issue (a "group").
type issue struct {
	ID            flexString      `json:"id"`
	ShortID       flexString      `json:"shortId"`
	Title         flexString      `json:"title"`
	Culprit       flexString      `json:"culprit"`
	Level         flexString      `json:"level"`
	Status        flexString      `json:"status"`
	Substatus     flexString      `json:"substatus"`
	StatusDetails json.RawMessage `json:"statusDetails"`
	Count         flexString      `json:"count"`
	FirstSeen     flexString      `json:"firstSeen"`
	LastSeen      flexString      `json:"lastSeen"`
	URL           flexString      `json:"url"`
	WebURL        flexString      `json:"web_url"`
	Permalink     flexString      `json:"permalink"`
	Project       struct {
		ID   flexString `json:"id"`
		Slug flexString `json:"slug"`
	} `json:"project"`
}

// parseIssue normalizes an issue webhook: created and unresolved are
// occurrences (unresolved is how a regression arrives), resolved resolves,
// ignored mutes ("archived" in Sentry's UI and docs, tolerated as an action
// name too), assigned is not an occurrence and yields nothing.
func parseIssue(body []byte) ([]alertgate.Event, error) {
	var p issuePayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	action := p.Action.String()
	var status alertgate.Status
	switch action {
	case "created", "unresolved":
		status = alertgate.StatusFiring
	case "resolved":
		status = alertgate.StatusResolved
	case "ignored", "archived":
		status = alertgate.StatusMuted
	case "assigned":
	case "":
		return nil, errMissing("action")
	default:
		return nil, alertgate.Errorf(alertgate.EINVALID,
			"action: %q is not one of created, resolved, assigned, ignored, archived, unresolved", clip(action))
	}
	is := p.Data.Issue
	if is == nil {
		return nil, errMissing("data.issue")
	}
	id, err := requireID("data.issue.id", is.ID)
	if err != nil {
		return nil, err
	}
	if action == "assigned" {
		return []alertgate.Event{}, nil
	}

	var details bytes.Buffer
	if json.Compact(&details, is.StatusDetails) != nil {
		details.Reset()
	}
	ev := alertgate.Event{
		ID: "sentry:issue:" + id + ":" + action + ":" + alertgate.Hash(
			action, is.Status.String(), is.Substatus.String(), details.String(),
			is.LastSeen.String(), is.Count.String(), p.Actor.Type.String(), p.Actor.ID.String()),
		Source:      alertgate.SourceSentry,
		Kind:        alertgate.KindBug,
		Key:         issueKey(id),
		Status:      status,
		Severity:    alertgate.ParseSeverity(is.Level.String(), alertgate.SeverityError),
		Title:       firstOf(is.Title, flexString("Sentry issue "+firstOf(is.ShortID, flexString(id)))),
		Description: is.Culprit.String(),
		Service:     slugOrEmpty(is.Project.Slug),
		Labels:      map[string]string{},
		OccurredAt:  parseTime(is.LastSeen, is.FirstSeen),
		Count:       1,
		Transition:  "issue." + action,
	}
	// The issue's count is cumulative. Only on created is it the number of
	// occurrences this event stands for; a regression (unresolved) is one
	// new occurrence and resolved/ignored are none (Event.Count is at least 1).
	if action == "created" {
		if n, err := strconv.Atoi(is.Count.String()); err == nil && n > 1 {
			ev.Count = n
		}
	}
	setLabel(ev.Labels, "level", is.Level)
	setLabel(ev.Labels, "project", flexString(ev.Service))
	if href := webURL(flexString(firstOf(is.WebURL, is.Permalink))); href != "" {
		ev.Links = []alertgate.Link{{Href: href, Text: "Sentry " + firstOf(is.ShortID, flexString("issue "+id))}}
	}
	ev.Finish()
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return []alertgate.Event{ev}, nil
}

// slugOrEmpty returns v when it is a slug, else "".
func slugOrEmpty(v flexString) string {
	if s := v.String(); isSlug(s) {
		return s
	}
	return ""
}
