// Package dedup applies alertgate's rule with durable state: a bug class
// notifies once (again on regression or spike), an incident pages once per
// firing episode and is resolved with the same dedup key. State lives in
// JetStream KV buckets, one entry per key, changed only by compare-and-set
// on the entry's revision, so several routers may race on one key safely.
//
// Decisions are pure functions of (state, event, route, config); Policy
// wraps them in a read-decide-write-emit loop. A decision's notifications
// are written into the new state (its outbox) by the same compare-and-set
// that stores the decision, and emitted only after that write succeeded:
// a router that loses the race has emitted nothing and decides again on
// the winner's state, so every notification in NOTIFY belongs to a state
// that was stored. A crash between the write and the emit leaves the
// event unacknowledged; its redelivery finds its notifications in the
// outbox and emits them, under the same IDs, instead of deciding again
// (which would find the episode open and page nothing).
//
// State is bounded: each write carries a JetStream per-key TTL, so a bug
// class unseen for Settings.BugClassTTL is forgotten (and new again when
// it recurs), as is an incident key without an open episode after
// Settings.IncidentTTL; a key with an open episode, or a bug class with an
// open page, is written without one and kept.
package dedup

import (
	"time"

	"github.com/alertgate/alertgate"
)

// Outcomes of a decision, as counted in metrics and shown by explain.
const (
	OutcomePaged      = "paged"      // a new incident episode: PagerDuty trigger
	OutcomeResolved   = "resolved"   // the open episode resolved: PagerDuty resolve
	OutcomeDuplicate  = "duplicate"  // a re-send of what is already known
	OutcomeStale      = "stale"      // arrived after the episode was resolved
	OutcomeUnknown    = "unknown"    // resolve of an episode never seen firing
	OutcomeNew        = "new"        // first occurrence of a bug class
	OutcomeRegression = "regression" // occurrence after the class was resolved
	OutcomeSpike      = "spike"      // rate above dedup.bug_spike
	OutcomeCounted    = "counted"    // any other occurrence
	OutcomeMuted      = "muted"      // bug class muted (or occurrence while muted)
	OutcomeUnmuted    = "unmuted"    // muted class unresolved by the source
	OutcomeBugClosed  = "bug_resolved"
	// Held pages: the outcome is the hold's reason.
	OutcomeSilenced   = alertgate.HoldSilenced
	OutcomeInhibited  = alertgate.HoldInhibited
	OutcomeMutedTime  = alertgate.HoldMutedTime
	OutcomeDigestOnly = alertgate.HoldDigestOnly
	OutcomeFlapping   = alertgate.HoldFlapping
)

// Episode states.
const (
	EpisodeOpen     = "open"
	EpisodeResolved = "resolved"
)

// Bug class states.
const (
	BugOpen     = "open"
	BugResolved = "resolved"
	BugMuted    = "muted"
)

// maxEpisodes bounds the episodes remembered per incident key: enough to
// recognise late re-sends of recent episodes, small enough for one KV entry.
const maxEpisodes = 16

// Incident is the state of one incident key.
type Incident struct {
	Key      string             `json:"key"`
	Source   alertgate.Source   `json:"source"`
	Title    string             `json:"title"`
	Service  string             `json:"service,omitempty"`
	Team     string             `json:"team"`
	Severity alertgate.Severity `json:"severity"`
	Episodes []Episode          `json:"episodes"`
	Last     Last               `json:"last"`
	// Flap is set while the key is flapping (dedup.flapping): its
	// episodes continue one open PagerDuty incident.
	Flap *Flap `json:"flap,omitempty"`
	// Outbox holds the notifications of the decisions on this key that may
	// not be emitted yet (see Pending).
	Outbox []Pending `json:"outbox,omitempty"`
}

// Flap is a flapping key's open PagerDuty incident: the episode that made
// the key flapping paged it; later episodes continue it (no new trigger),
// and its resolve goes out once the key has been quiet for
// Settings.FlapQuiet with no episode open.
type Flap struct {
	Since time.Time `json:"since"`
	// The paged episode whose incident the key's episodes continue.
	Episode  string `json:"episode"`
	Cycle    int    `json:"cycle"`
	DedupKey string `json:"dedup_key"`
	Team     string `json:"team"`
	// Episodes counts the episodes since the key started flapping, the
	// paged one included.
	Episodes int `json:"episodes"`
	// ResolveDue is when the held resolve goes out: set when the last open
	// episode resolves, cleared when another opens.
	ResolveDue time.Time `json:"resolve_due,omitzero"`
}

// Watched reports whether the key has a hold the router must re-check
// over time: an open episode whose page is held by something that can end
// (a silence, an inhibiting incident, a time interval; not notify: digest),
// or a flapping incident's resolve waiting for quiet.
func (s *Incident) Watched() bool {
	if s == nil {
		return false
	}
	if s.Flap != nil && !s.Flap.ResolveDue.IsZero() {
		return true
	}
	for _, e := range s.Episodes {
		if e.Status == EpisodeOpen && !e.Paged && e.Hold != nil && e.Hold.Reason != alertgate.HoldDigestOnly && e.Hold.Reason != alertgate.HoldFlapping {
			return true
		}
	}
	return false
}

// Since is when the newest open episode opened (zero for none).
func (s *Incident) Since() time.Time {
	var at time.Time
	if s != nil {
		for _, e := range s.Episodes {
			if e.Status == EpisodeOpen && e.OpenedAt.After(at) {
				at = e.OpenedAt
			}
		}
	}
	return at
}

// Firing reports whether the key has an open episode (paged or held).
func (s *Incident) Firing() bool {
	if s == nil {
		return false
	}
	for _, e := range s.Episodes {
		if e.Status == EpisodeOpen {
			return true
		}
	}
	return false
}

// Episode is one firing episode of an incident.
type Episode struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Cycle      int       `json:"cycle"` // times this episode id was opened
	OpenedAt   time.Time `json:"opened_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	DedupKey   string    `json:"dedup_key"`
	Runbook    string    `json:"runbook,omitempty"`
	Paged      bool      `json:"paged"`
	// Team that was paged: the resolve must go to the same routing key even
	// if the key's route changed since (empty in state written before it
	// was recorded; Incident.Team is used then).
	Team string `json:"team,omitempty"`
	// Hold says why the episode's page was held (Paged false): it pages
	// when the hold ends while it still fires (not for notify: digest).
	Hold *alertgate.Hold `json:"hold,omitempty"`
	// Event is the firing event of an episode whose page is held, kept
	// until it pages or resolves: the page, if it comes, carries it.
	Event *alertgate.Event `json:"event,omitempty"`
}

// Open returns the open episodes.
func (s *Incident) Open() []Episode {
	var out []Episode
	for _, e := range s.Episodes {
		if e.Status == EpisodeOpen {
			out = append(out, e)
		}
	}
	return out
}

// Bug is the state of one bug class.
type Bug struct {
	Key       string             `json:"key"`
	Source    alertgate.Source   `json:"source"`
	Title     string             `json:"title"`
	Service   string             `json:"service,omitempty"`
	Team      string             `json:"team"`
	Severity  alertgate.Severity `json:"severity"`
	Links     []alertgate.Link   `json:"links,omitempty"`
	Status    string             `json:"status"`
	FirstSeen time.Time          `json:"first_seen"`
	LastSeen  time.Time          `json:"last_seen"`
	Count     int64              `json:"count"`
	// Notified is false until a new-class notification went out (a class
	// first seen as resolved or muted has not been announced).
	Notified    bool `json:"notified"`
	Resolutions int  `json:"resolutions"`
	Regressions int  `json:"regressions"`
	// The spike window: WindowCount occurrences since WindowStart.
	WindowStart   time.Time `json:"window_start"`
	WindowCount   int64     `json:"window_count"`
	SpikeNotified bool      `json:"spike_notified"`
	Spikes        int       `json:"spikes"`
	// PageDedupKey is set while a page_bugs page is open; PageTeam is the
	// team it went to, whose routing key must resolve it.
	PageDedupKey string `json:"page_dedup_key,omitempty"`
	PageTeam     string `json:"page_team,omitempty"`
	// Digested is Count as of the last Slack digest that covered the class:
	// Count - Digested is what the next digest reports as recurring.
	Digested int64 `json:"digested"`
	// HeldBy is the silence that last held a notification of the class:
	// the digest lists a class held once per silence, not per occurrence.
	HeldBy string `json:"held_by,omitempty"`
	Last   Last   `json:"last"`
	// Outbox: as Incident's.
	Outbox []Pending `json:"outbox,omitempty"`
}

// Pending is the outbox entry of one decision: the notifications it made,
// stored with the state that decision wrote and emitted after that write.
// It stays in the state until the ALERTS message holding its event is
// acknowledged (the router acknowledges only after emitting), so that
//   - a redelivery of the event (a crash between the write and the emit)
//     finds it and emits it again, under the same IDs;
//   - a later decision on the key that pages (a resolve) first emits the
//     PagerDuty notifications still pending before it (the page), so a
//     resolve never reaches NOTIFY before its page, whichever router was
//     slower.
//
// The next write of the key drops the entries found acknowledged.
type Pending struct {
	// EventID is the event that was decided.
	EventID string `json:"event_id"`
	// Seq is the ALERTS stream sequence of the message holding the event;
	// 0 when it was decided outside a delivery (Policy.Apply).
	Seq uint64 `json:"seq,omitempty"`
	// At is when a re-check decided the entry (Policy.Recheck), which
	// has no event of its own.
	At time.Time `json:"at,omitzero"`
	// Event is the deciding event, stored once for all Notifications,
	// whose own Event is left empty in storage. It is stored only with
	// a PagerDuty notification: an entry of Slack items alone is emitted
	// again only for its own event's redelivery, which brings the event
	// (a bug class's first write would otherwise carry its event twice,
	// in its state and in its outbox, until the key is written again).
	Event         alertgate.Event          `json:"event"`
	Notifications []alertgate.Notification `json:"notifications"`
}

// pend makes the outbox entry of a decision on ev.
func pend(ev alertgate.Event, seq uint64, ns []alertgate.Notification) Pending {
	stored := make([]alertgate.Notification, len(ns))
	paging := false
	for i, n := range ns {
		paging = paging || n.Sink == alertgate.SinkPagerDuty
		n.Event = alertgate.Event{}
		stored[i] = n
	}
	e := Pending{EventID: ev.ID, Seq: seq, Notifications: stored}
	if paging {
		e.Event = ev
	}
	return e
}

// notificationsOf returns the entry's notifications as they were decided
// on ev, its event delivered again (the entry may not hold it).
func (e Pending) notificationsOf(ev alertgate.Event) []alertgate.Notification {
	if e.Event.ID == "" && ev.ID == e.EventID {
		e.Event = ev
	}
	return e.notifications()
}

// notifications returns the entry's notifications as they were decided.
func (e Pending) notifications() []alertgate.Notification {
	ns := make([]alertgate.Notification, len(e.Notifications))
	for i, n := range e.Notifications {
		n.Event = e.Event
		ns[i] = n
	}
	return ns
}

// Last is the most recent decision on a key, for explain.
type Last struct {
	EventID    string    `json:"event_id"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason"`
	Route      int       `json:"route"`
	Runbook    string    `json:"runbook,omitempty"`
	At         time.Time `json:"at"`
	Transition string    `json:"transition,omitempty"`
	Episode    string    `json:"episode,omitempty"`
	// Hold is what held the decision's page or notification, if anything.
	Hold *alertgate.Hold `json:"hold,omitempty"`
	// Labels of the event, so explain can re-run classify and routes.
	Labels map[string]string `json:"labels,omitempty"`
}
