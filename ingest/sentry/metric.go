package sentry

import (
	"time"

	"github.com/alertgate/alertgate"
)

// metricPayload is a Sentry-Hook-Resource: metric_alert webhook (action
// critical, warning or resolved), trimmed to the fields used. metric_alert
// is the Sentry incident (one firing episode of the alert rule).
//
//	{
//	  "action": "resolved",
//	  "data": {
//	    "description_text": "1000 events in the last 10 minutes\nFilter: level:error",
//	    "description_title": "Resolved: Too many errors",
//	    "metric_alert": {
//	      "alert_rule": {
//	        "environment": null,
//	        "id": "7",
//	        "name": "Too many errors",
//	        "organization_id": "5",
//	        "projects": ["bar"]
//	      },
//	      "date_closed": null,
//	      "date_detected": "2020-09-13T12:26:40.000000Z",
//	      "date_started": "2020-09-13T12:26:40.000000Z",
//	      "id": "4",
//	      "identifier": "1",
//	      "organization_id": "5",
//	      "projects": ["bar"],
//	      "status": 2,
//	      "title": "Sacred Marmot"
//	    },
//	    "web_url": "https://sentry.io/organizations/baz/alerts/1/"
//	  },
//	  "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"}
//	}
type metricPayload struct {
	Action flexString `json:"action"`
	Data   struct {
		DescriptionText  flexString   `json:"description_text"`
		DescriptionTitle flexString   `json:"description_title"`
		WebURL           flexString   `json:"web_url"`
		MetricAlert      *metricAlert `json:"metric_alert"`
	} `json:"data"`
	Installation installation `json:"installation"`
}

// metricAlert is a serialized Sentry incident with its alert rule.
type metricAlert struct {
	ID             flexString   `json:"id"`
	Title          flexString   `json:"title"`
	OrganizationID flexString   `json:"organization_id"`
	Projects       []flexString `json:"projects"`
	DateDetected   flexString   `json:"date_detected"`
	DateStarted    flexString   `json:"date_started"`
	DateCreated    flexString   `json:"date_created"`
	DateClosed     flexString   `json:"date_closed"`
	AlertRule      *struct {
		ID             flexString   `json:"id"`
		Name           flexString   `json:"name"`
		OrganizationID flexString   `json:"organization_id"`
		Environment    flexString   `json:"environment"`
		Projects       []flexString `json:"projects"`
	} `json:"alert_rule"`
}

// parseMetricAlert normalizes a metric alert webhook into one incident
// event: critical and warning fire with that severity, resolved resolves.
func parseMetricAlert(body []byte) ([]alertgate.Event, error) {
	var p metricPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	action := p.Action.String()
	var status alertgate.Status
	var sev alertgate.Severity
	switch action {
	case "critical":
		status, sev = alertgate.StatusFiring, alertgate.SeverityCritical
	case "warning":
		status, sev = alertgate.StatusFiring, alertgate.SeverityWarning
	case "resolved":
		// Sentry does not say which level the incident had reached.
		status, sev = alertgate.StatusResolved, alertgate.SeverityInfo
	case "":
		return nil, errMissing("action")
	default:
		return nil, alertgate.Errorf(alertgate.EINVALID, "action: %q is not one of critical, warning, resolved", clip(action))
	}
	m := p.Data.MetricAlert
	if m == nil {
		return nil, errMissing("data.metric_alert")
	}
	incident, err := requireID("data.metric_alert.id", m.ID)
	if err != nil {
		return nil, err
	}
	if m.AlertRule == nil {
		return nil, errMissing("data.metric_alert.alert_rule")
	}
	rule, err := requireID("data.metric_alert.alert_rule.id", m.AlertRule.ID)
	if err != nil {
		return nil, err
	}

	// The organization: its id is in every metric alert payload (twice);
	// the slug in web_url and the installation are fallbacks.
	org := "-"
	for _, c := range []string{
		m.OrganizationID.String(), m.AlertRule.OrganizationID.String(),
		orgFromURL(p.Data.WebURL), p.Installation.UUID.String(),
	} {
		if isToken(c) {
			org = c
			break
		}
	}

	// The delivery's time: when the incident closed for a resolve, else
	// when it was detected.
	when := m.DateDetected
	occurred := parseTime(m.DateDetected, m.DateStarted, m.DateCreated)
	if action == "resolved" && m.DateClosed.String() != "" {
		when = m.DateClosed
		occurred = parseTime(m.DateClosed, m.DateDetected, m.DateStarted, m.DateCreated)
	}
	stamp := "-"
	if t := parseTime(when); !t.IsZero() {
		stamp = t.Format(time.RFC3339Nano)
	} else if when.String() != "" {
		stamp = alertgate.Hash(when.String())
	}

	project := ""
	for _, ps := range [][]flexString{m.Projects, m.AlertRule.Projects} {
		if len(ps) > 0 {
			project = slugOrEmpty(ps[0])
			break
		}
	}
	ev := alertgate.Event{
		ID:          "sentry:metric_alert:" + incident + ":" + action + ":" + stamp,
		Source:      alertgate.SourceSentry,
		Kind:        alertgate.KindIncident,
		Key:         keyPrefix + org + ":metric_alert:" + rule,
		Episode:     incident,
		Status:      status,
		Severity:    sev,
		Title:       firstOf(p.Data.DescriptionTitle, m.AlertRule.Name, m.Title, flexString("Sentry metric alert "+rule)),
		Description: p.Data.DescriptionText.String(),
		Service:     project,
		Labels:      map[string]string{},
		OccurredAt:  occurred,
		Count:       1,
		Transition:  "metric_alert." + action,
	}
	setLabel(ev.Labels, "project", flexString(project))
	setLabel(ev.Labels, "environment", m.AlertRule.Environment)
	if href := webURL(p.Data.WebURL); href != "" {
		ev.Links = []alertgate.Link{{Href: href, Text: "Sentry metric alert"}}
	}
	ev.Finish()
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return []alertgate.Event{ev}, nil
}
