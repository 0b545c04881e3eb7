// Package alertgate holds the domain of the gateway: the normalized Event every
// source is turned into, the bug/incident vocabulary, the Notification the
// router hands to sinks, and coded errors. It depends on nothing but the
// standard library so that every adapter (ingest, routes, dedup, sinks, bus)
// can speak in these types without knowing each other.
package alertgate

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// Source names the tool an event came from.
type Source string

// Sources alertgate ingests.
const (
	SourceAlertmanager Source = "alertmanager"
	SourceSentry       Source = "sentry"
	SourceDatadog      Source = "datadog"
	SourceEvents       Source = "events"
)

// Kind is the half of the rule an event falls under.
type Kind string

const (
	// KindBug is a class of bug: it notifies once, again on regression or spike.
	KindBug Kind = "bug"
	// KindIncident is an operational incident: every firing episode pages.
	KindIncident Kind = "incident"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool { return k == KindBug || k == KindIncident }

// Status is what an event says about its key.
type Status string

const (
	// StatusFiring is an occurrence of a bug class or a firing incident episode.
	StatusFiring Status = "firing"
	// StatusResolved closes an incident episode or marks a bug class resolved.
	StatusResolved Status = "resolved"
	// StatusMuted silences a bug class until it is unresolved again (Sentry "ignored").
	StatusMuted Status = "muted"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == StatusFiring || s == StatusResolved || s == StatusMuted
}

// Severity is PagerDuty's severity enum, which every source is mapped onto.
type Severity string

// Severities, from most to least urgent.
const (
	SeverityCritical Severity = "critical"
	SeverityError    Severity = "error"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Valid reports whether s is in PagerDuty's enum.
func (s Severity) Valid() bool {
	switch s {
	case SeverityCritical, SeverityError, SeverityWarning, SeverityInfo:
		return true
	}
	return false
}

// ParseSeverity maps the severity words sources use onto PagerDuty's enum.
// Unknown words map to fallback.
func ParseSeverity(s string, fallback Severity) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "fatal", "emergency", "alert", "page", "p1", "high":
		return SeverityCritical
	case "error", "err", "major", "p2":
		return SeverityError
	case "warning", "warn", "minor", "p3", "medium":
		return SeverityWarning
	case "info", "informational", "debug", "low", "none", "p4", "p5", "ok":
		return SeverityInfo
	}
	return fallback
}

// Label names every event carries (when known) for route matchers.
const (
	LabelSource   = "source"
	LabelKind     = "kind"
	LabelSeverity = "severity"
	LabelService  = "service"
)

// Link is a URL attached to an event or a notification.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Event is one normalized occurrence from any source. Ingest publishes it to
// the ALERTS stream with ID as the Nats-Msg-Id, so a source's retries of the
// same delivery are stored once.
type Event struct {
	// ID is stable per occurrence: the same webhook delivered twice has the same ID.
	ID     string `json:"id"`
	Source Source `json:"source"`
	Kind   Kind   `json:"kind"`
	// Key is the identity of the bug class or incident, prefixed by source and
	// versioned (for example "alertmanager:v1:0335742509d16c93").
	Key string `json:"key"`
	// Episode identifies one firing episode of an incident; empty for bugs.
	Episode     string            `json:"episode,omitempty"`
	Status      Status            `json:"status"`
	Severity    Severity          `json:"severity"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Service     string            `json:"service,omitempty"`
	Labels      map[string]string `json:"labels"`
	Links       []Link            `json:"links,omitempty"`
	// RunbookURL is the source's own runbook link, used when no runbook matches.
	RunbookURL string    `json:"runbook_url,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// Count is how many occurrences this event stands for (at least 1).
	Count int `json:"count"`
	// Transition is the source's own word for what happened ("Re-Triggered",
	// "issue.resolved"), kept for explain and logs.
	Transition string `json:"transition,omitempty"`

	// ReceivedAt and RequestID are set by the ingest edge, not by parsers.
	ReceivedAt time.Time `json:"received_at,omitzero"`
	RequestID  string    `json:"request_id,omitempty"`
}

// Finish fills the labels every event must carry from the typed fields and
// sets defaults parsers may leave out. Parsers call it last.
func (e *Event) Finish() {
	if e.Labels == nil {
		e.Labels = map[string]string{}
	}
	if e.Service == "" {
		e.Service = e.Labels[LabelService]
	}
	e.Labels[LabelSource] = string(e.Source)
	e.Labels[LabelKind] = string(e.Kind)
	e.Labels[LabelSeverity] = string(e.Severity)
	if e.Service != "" {
		e.Labels[LabelService] = e.Service
	}
	if e.Count < 1 {
		e.Count = 1
	}
}

// Limits on what identifies an event: the one place they are set. An
// event's id travels as the Nats-Msg-Id of its ALERTS message, its key as
// the Alertgate-Key header, and both (with the episode) make up the IDs of
// its notifications ("page:<key>:<episode>:<cycle>"), which are the
// Nats-Msg-Id of NOTIFY and DEADLETTER messages. JetStream refuses a
// message whose headers pass 64 KiB for good (err_code 10097): within
// these limits every such header stays a few KiB, and an event over them
// is answered 400 naming the field instead of being retried forever. They
// are generous for every real source: Alertmanager's fingerprints are 16
// hex digits, Sentry's and Datadog's ids are numbers. Label values and
// texts are cut rather than refused (Bound).
const (
	// MaxFieldBytes bounds a source's own field that becomes part of an
	// id, key or episode (an Alertmanager fingerprint, an events key, id
	// or episode, a Datadog alert_id), and a label name.
	MaxFieldBytes = 1024
	// MaxIdentityBytes bounds an event's id, key and episode: a source's
	// field with room for the prefix and suffix its parser adds.
	MaxIdentityBytes = 2 * MaxFieldBytes
)

// CheckField returns an EINVALID error naming field ("fingerprint: 65536
// bytes, over the 1024-byte limit") when value is over MaxFieldBytes.
// Parsers check the source fields an id, key or episode is made of, so
// that the error names what the sender sent; Validate checks the result.
func CheckField(field, value string) error {
	return checkLen(field, value, MaxFieldBytes)
}

func checkLen(field, value string, limit int) error {
	if len(value) > limit {
		return Errorf(EINVALID, "%s: %d bytes, over the %d-byte limit", field, len(value), limit)
	}
	return nil
}

// Validate checks what the pipeline relies on; parsers and the events
// endpoint return its error as a 400.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return Errorf(EINVALID, "id: missing")
	case e.Key == "":
		return Errorf(EINVALID, "key: missing")
	case !e.Kind.Valid():
		return Errorf(EINVALID, "kind: %q is not bug or incident", e.Kind)
	case !e.Status.Valid():
		return Errorf(EINVALID, "status: %q is not firing, resolved or muted", e.Status)
	case !e.Severity.Valid():
		return Errorf(EINVALID, "severity: %q is not critical, error, warning or info", e.Severity)
	case e.Kind == KindIncident && e.Episode == "":
		return Errorf(EINVALID, "episode: missing for an incident")
	}
	if err := checkLen("id", e.ID, MaxIdentityBytes); err != nil {
		return err
	}
	if err := checkLen("key", e.Key, MaxIdentityBytes); err != nil {
		return err
	}
	if err := checkLen("episode", e.Episode, MaxIdentityBytes); err != nil {
		return err
	}
	return checkLabelNames(e.Labels)
}

// checkLabelNames returns an EINVALID error naming the first label name,
// in sorted order, over MaxFieldBytes (the first, so that the message does
// not depend on map order).
func checkLabelNames(labels map[string]string) error {
	long, total := "", 0
	for name := range labels {
		total += len(name)
		if len(name) > MaxFieldBytes && (long == "" || name < long) {
			long = name
		}
	}
	if long == "" {
		if total > MaxLabelsBytes/2 {
			// Bound cuts values, never names: they are what routes match.
			return Errorf(EINVALID, "labels: %d labels whose names take %d bytes, over the %d-byte limit", len(labels), total, MaxLabelsBytes/2)
		}
		return nil
	}
	return Errorf(EINVALID, "labels: the name %q… is %d bytes, over the %d-byte limit", clip(long, 32), len(long), MaxFieldBytes)
}

// clip returns at most n bytes of s, cut at a rune boundary, to quote
// untrusted text in an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Hash returns a short, stable hex digest of parts, used to build IDs and keys
// from source fields that may be long or contain any character.
func Hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// PublishResult counts what JetStream stored of a batch.
type PublishResult struct {
	Accepted   int `json:"accepted"`   // stored now
	Duplicates int `json:"duplicates"` // already stored within the duplicate window
}
