package alertgate

import "time"

// Related is what else is going on where an incident fires: the bug
// classes with occurrences within the correlation window and the other
// open incidents, of any source, that share its correlation label values
// (config correlation.labels, service by default). A page carries it in
// custom_details.related; explain and /v1/incidents/{key} show it.
type Related struct {
	// On is the label values they share, as {"service": "checkout"}.
	On map[string]string `json:"on"`
	// Window is the correlation window, as "30m0s".
	Window    string            `json:"window"`
	Bugs      []RelatedBug      `json:"bugs"`
	Incidents []RelatedIncident `json:"incidents"`
	// MoreBugs and MoreIncidents count what did not fit in the lists
	// (at most MaxRelated each).
	MoreBugs      int `json:"more_bugs,omitempty"`
	MoreIncidents int `json:"more_incidents,omitempty"`
}

// MaxRelated is how many bug classes, and how many incidents, a Related
// lists at most.
const MaxRelated = 5

// Empty reports whether nothing is related.
func (r *Related) Empty() bool { return r == nil || len(r.Bugs)+len(r.Incidents) == 0 }

// RelatedBug is a bug class with occurrences inside the window.
type RelatedBug struct {
	Key    string `json:"key"`
	Title  string `json:"title"`
	Source Source `json:"source"`
	// Count is its occurrences inside the window.
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Status is "new" (first seen inside the window), "regression" (came
	// back inside the window after being resolved) or "recurring".
	Status string `json:"status"`
	// Link is the class at its source (a Sentry issue), if the source
	// gave one.
	Link string `json:"link,omitempty"`
}

// Related bug statuses.
const (
	RelatedNew        = "new"
	RelatedRegression = "regression"
	RelatedRecurring  = "recurring"
)

// RelatedIncident is another incident with an open episode.
type RelatedIncident struct {
	Key      string    `json:"key"`
	Title    string    `json:"title"`
	Source   Source    `json:"source"`
	Severity Severity  `json:"severity,omitempty"`
	OpenedAt time.Time `json:"opened_at"`
	// Link is the incident at its source (a Datadog monitor, an
	// Alertmanager query), else its page on this gateway.
	Link string `json:"link,omitempty"`
}
