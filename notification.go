package alertgate

import (
	"encoding/json"
	"time"
)

// Sink names where a notification goes.
type Sink string

// Sinks.
const (
	SinkPagerDuty Sink = "pagerduty"
	SinkSlack     Sink = "slack"
)

// NotificationType says what a notification is about.
type NotificationType string

// Notification types, as listed at GET /v1/notifications.
const (
	TypePage          NotificationType = "page"
	TypeResolve       NotificationType = "resolve"
	TypeBugNew        NotificationType = "bug_new"
	TypeBugRegression NotificationType = "bug_regression"
	TypeBugSpike      NotificationType = "bug_spike"
	TypeIncident      NotificationType = "incident" // an incident opened or resolved, as a digest item
	TypeDigest        NotificationType = "digest"
	// TypeAcknowledge acknowledges an incident episode at PagerDuty (its
	// DedupKey), on behalf of someone who pressed Acknowledge in Slack.
	TypeAcknowledge NotificationType = "acknowledge"
	// TypeDigestUpdate edits a digest already posted by a Slack app (its
	// Key is the digest's ID) to show what changed since: an incident
	// resolved, acknowledged, silenced, a bug class muted.
	TypeDigestUpdate NotificationType = "digest_update"
)

// DeliveryState is where a notification stands.
type DeliveryState string

// Delivery states.
const (
	StatePending  DeliveryState = "pending"
	StateSent     DeliveryState = "sent"
	StateDryRun   DeliveryState = "dry_run"
	StateRetrying DeliveryState = "retrying"
	StateDead     DeliveryState = "dead"
)

// Runbook names the playbook attached to a page. It is a reference: the
// PagerDuty sink attaches the runbook's steps by ID when it sends the page,
// so the text, often the largest part of a page, is not copied through
// every stage, and a page sent late goes out with the runbook as it is then.
type Runbook struct {
	// ID names a runbook of runbooks_dir; empty for the source's own link.
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
	URL   string `json:"url"`
	// Why says how it was chosen: "route", "match" or "source".
	Why string `json:"why,omitempty"`
}

// Notification is what the router decided to send. It is published to the
// NOTIFY stream with ID as the Nats-Msg-Id, so a decision taken twice (a
// redelivered event, two routers racing) is stored once.
type Notification struct {
	ID   string           `json:"id"`
	Sink Sink             `json:"sink"`
	Team string           `json:"team"`
	Type NotificationType `json:"type"`
	Key  string           `json:"key"`
	// Episode of the incident, for pages and resolves.
	Episode string `json:"episode,omitempty"`
	// DedupKey is PagerDuty's dedup_key: one per incident episode.
	DedupKey string   `json:"dedup_key,omitempty"`
	Runbook  *Runbook `json:"runbook,omitempty"`
	Event    Event    `json:"event"`
	// Hold is set on a digest item of an incident whose page was held:
	// the digest lists it as held, with why.
	Hold *Hold `json:"hold,omitempty"`
	// Reason is the policy's words for the decision ("first occurrence").
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Body is the rendered message of a digest (Slack's JSON).
	Body json.RawMessage `json:"body,omitempty"`
	// Items are the bug items a digest carries. They have no log record
	// of their own (one per bug class would cost a KV subject each): the
	// notification log lists them from their digest's record, and as
	// pending, from NOTIFY, until a digest carries them.
	Items []DigestItem `json:"items,omitempty"`
}

// DigestItem is a Slack-only notification as its digest remembers it.
type DigestItem struct {
	ID        string           `json:"id"`
	Type      NotificationType `json:"type"`
	Key       string           `json:"key"`
	Title     string           `json:"title,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
}

// Expand returns the records of a digest's items, in the digest's state,
// followed by the digest's own record without them. Any other record is
// returned as it is.
func (r Record) Expand() []Record {
	if len(r.Items) == 0 {
		return []Record{r}
	}
	out := make([]Record, 0, len(r.Items)+1)
	for _, it := range r.Items {
		n := Notification{ID: it.ID, Sink: r.Sink, Team: r.Team, Type: it.Type, Key: it.Key, CreatedAt: it.CreatedAt}
		n.Event.Title = it.Title
		out = append(out, Record{Notification: n, State: r.State, Attempts: r.Attempts, LastError: r.LastError, UpdatedAt: r.UpdatedAt})
	}
	r.Items = nil
	return append(out, r)
}

// Record is a notification with where its delivery stands, as listed at
// GET /v1/notifications.
type Record struct {
	Notification
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error,omitempty"`
	UpdatedAt time.Time     `json:"updated_at"`
}
