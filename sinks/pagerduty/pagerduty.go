// Package pagerduty delivers pages and resolves to PagerDuty's Events API v2
// through go-pagerduty, one routing key per team.
package pagerduty

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/cut"
	"github.com/alertgate/alertgate/sinks"
)

// Limits of the Events API v2.
const (
	maxSummary    = 1024
	maxDetailText = 8 << 10
)

// Notifier sends to PagerDuty.
type Notifier struct {
	// client is go-pagerduty's client set up for the Events API; each
	// request goes through a copy of it (see send).
	client *pd.Client
	hc     *http.Client      // sends every request (send.Do)
	keys   map[string]string // team -> routing key
	// pace is the rate limit per routing key (PagerDuty allows about 120
	// events a minute).
	pace *sinks.Pace
	now  func() time.Time
	// client names alertgate in PagerDuty; clientURL links back to it.
	clientURL string
	// Runbooks gives the steps of the runbook a page names, attached when
	// the page is sent (a notification names its runbook by id). Nil: none
	// are loaded, and a page naming one says so.
	Runbooks Runbooks
	// Related lists what else goes on where a page fires, attached when
	// the page is sent, as of its decision. Nil: pages list nothing.
	Related Correlator
}

// Correlator answers what shares an incident's correlation labels
// (related.Index): bug classes seen within the window and other open
// incidents, as of at, but the key exclude itself; nil when its labels
// lack a correlation label or correlation is off.
type Correlator interface {
	Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related
}

// Runbooks are the runbooks loaded where pages are sent (runbooks.Set).
type Runbooks interface {
	// Steps returns the text of runbook id as a page carries it; false
	// when no runbook has that id.
	Steps(id string) (string, bool)
}

// New returns a Notifier for eventsURL (e.g. https://events.pagerduty.com)
// with each team's routing key. Teams with an empty key are not Enabled.
func New(eventsURL string, keys map[string]string, perMinute int, publicURL string, hc *http.Client) *Notifier {
	if hc == nil {
		hc = &http.Client{}
	}
	c := pd.NewClient("", pd.WithV2EventsAPIEndpoint(strings.TrimRight(eventsURL, "/")))
	c.HTTPClient = hc
	if perMinute < 1 {
		perMinute = 120
	}
	// A burst of a sixth of the minute: an outage's first pages go out at
	// once, a storm is spread to stay under PagerDuty's limit.
	pace := sinks.NewPace(time.Minute/time.Duration(perMinute), perMinute/6)
	return &Notifier{client: c, hc: hc, keys: keys, pace: pace, now: time.Now, clientURL: strings.TrimRight(publicURL, "/")}
}

// Enabled reports whether team has a routing key.
func (n *Notifier) Enabled(team string) bool { return n.keys[team] != "" }

// Reserve takes note's turn under its routing key's rate limit (the
// Worker waits for it before Notify; sinks.Throttle).
func (n *Notifier) Reserve(note alertgate.Notification) time.Duration {
	return n.pace.Reserve(n.keys[note.Team])
}

// Notify sends one trigger or resolve now; the rate limit is the caller's
// (Reserve).
func (n *Notifier) Notify(ctx context.Context, note alertgate.Notification) (bool, error) {
	key := n.keys[note.Team]
	if key == "" {
		return false, fmt.Errorf("team %q has no routing key", note.Team)
	}
	ev, err := n.Event(key, note)
	if err != nil {
		return false, err
	}
	s := n.newSend()
	_, err = s.client.ManageEventWithContext(ctx, ev)
	if err == nil {
		return false, nil
	}
	var apiErr pd.APIError
	if errors.As(err, &apiErr) {
		text := s.text
		if text == "" {
			text = apiErrorText(apiErr)
		}
		// The error goes to logs, the notification log and DEADLETTER: it
		// must not carry the secret even if the server echoes it back.
		// Redact before cutting, or a cut could leave part of the key.
		text = cut.Bytes(strings.ReplaceAll(text, key, "[routing key]"), maxErrorText)
		herr := &sinks.HTTPError{Status: apiErr.StatusCode, After: s.after, Body: text}
		return sinks.Retryable(apiErr.StatusCode), herr
	}
	// Network errors, timeouts, undecodable answers: worth another try.
	return true, err
}

func apiErrorText(e pd.APIError) string {
	if !e.APIError.Valid {
		return ""
	}
	o := e.APIError.ErrorObject
	s := o.Message
	if len(o.Errors) > 0 {
		s += ": " + strings.Join(o.Errors, "; ")
	}
	return s
}

// Event builds the Events API v2 body of a notification.
func (n *Notifier) Event(routingKey string, note alertgate.Notification) (*pd.V2Event, error) {
	if note.DedupKey == "" {
		return nil, fmt.Errorf("notification %s has no dedup key", note.ID)
	}
	ev := &pd.V2Event{RoutingKey: routingKey, DedupKey: note.DedupKey}
	switch note.Type {
	case alertgate.TypeResolve:
		ev.Action = "resolve"
		return ev, nil
	case alertgate.TypeAcknowledge:
		// Someone acknowledged it from a Slack digest: PagerDuty stops
		// escalating; the source's resolve still resolves it.
		ev.Action = "acknowledge"
		return ev, nil
	case alertgate.TypePage:
		ev.Action = "trigger"
	default:
		return nil, fmt.Errorf("notification type %q does not go to PagerDuty", note.Type)
	}
	e := note.Event
	ev.Client = "alertgate"
	if n.clientURL != "" && linkable(n.clientURL) {
		ev.ClientURL = n.clientURL + "/v1/explain?source=" + string(e.Source) + "&key=" + url.QueryEscape(e.Key)
	}
	source := e.Service
	if source == "" {
		source = string(e.Source)
	}
	summary := e.Title
	if e.Service != "" && !strings.Contains(summary, e.Service) {
		summary = "[" + e.Service + "] " + summary
	}
	details := map[string]any{
		"alertgate_key": e.Key,
		"source":        string(e.Source),
		"kind":          string(e.Kind),
		"labels":        e.Labels,
		"reason":        note.Reason,
	}
	if e.Episode != "" {
		details["episode"] = e.Episode
	}
	if e.Description != "" {
		details["description"] = cut.Bytes(e.Description, maxDetailText)
	}
	if e.Transition != "" {
		details["transition"] = e.Transition
	}
	if n.Related != nil {
		// What else goes on where it fires, as of the decision: at most
		// MaxRelated bug classes and incidents, titles cut short; a few KB
		// at most. Read here, not stored with the page: the index is in
		// every instance's memory, and the page stays small in NOTIFY.
		if rel := n.Related.Related(e.Labels, e.Key, note.CreatedAt); rel != nil {
			details["related"] = rel
		}
	}
	if note.Runbook != nil {
		details["runbook_url"] = note.Runbook.URL
		if id := note.Runbook.ID; id != "" {
			steps, ok := "", false
			if n.Runbooks != nil {
				steps, ok = n.Runbooks.Steps(id)
			}
			if !ok {
				steps = "runbook " + id + " is no longer loaded here: see runbook_url"
			}
			if steps != "" {
				details["runbook"] = steps
			}
		}
		text := "Runbook"
		if note.Runbook.Title != "" {
			text = "Runbook: " + note.Runbook.Title
		}
		if linkable(note.Runbook.URL) {
			ev.Links = append(ev.Links, map[string]string{"href": note.Runbook.URL, "text": text})
		}
	} else {
		details["runbook"] = "none: add a runbook matching these labels (see alertgate check)"
	}
	for _, l := range e.Links {
		if linkable(l.Href) {
			ev.Links = append(ev.Links, map[string]string{"href": l.Href, "text": l.Text})
		}
	}
	ev.Payload = &pd.V2Payload{
		Summary:   cut.Bytes(summary, maxSummary),
		Source:    source,
		Severity:  string(e.Severity),
		Component: e.Labels["alertname"],
		Group:     e.Service,
		Class:     string(e.Kind),
		Details:   details,
	}
	if !e.OccurredAt.IsZero() {
		ev.Payload.Timestamp = e.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	if ev.Payload.Summary == "" {
		ev.Payload.Summary = e.Key
	}
	// A label or description as large as the webhook would make a body
	// PagerDuty refuses (over 512 KB): cut it so that the page goes out.
	if err := fit(ev, maxBody); err != nil {
		return nil, fmt.Errorf("notification %s: %w", note.ID, err)
	}
	return ev, nil
}

// linkable reports whether u may be a PagerDuty link: the Events API wants
// an absolute URI, and a link that is not one gets the whole event rejected
// with a 400 — a page lost for a bad link. A source's runbook annotation is
// often a relative path or plain text; it stays in custom_details.
func linkable(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// send is one request to the Events API. go-pagerduty drops the headers of
// an error response and misreads the Events API's error body (it is
// {"status","message","errors"}, which go-pagerduty decodes as a REST API
// error wrapped in "error" and so finds nothing in). A send is the HTTP
// client of its own copy of the notifier's go-pagerduty client, so that
// it sees the response of its request, and only that one, and keeps the
// Retry-After and the error text for Notify.
type send struct {
	client pd.Client
	hc     *http.Client
	after  time.Duration
	text   string
}

// newSend returns a send through a copy of n's client. pd.Client holds its
// shared state behind pointers and has no lock, so a copy is a client that
// differs only by its HTTP client.
func (n *Notifier) newSend() *send {
	s := &send{client: *n.client, hc: n.hc}
	s.client.HTTPClient = s
	return s
}

// maxErrorBody bounds how much of an error response is read, maxErrorText
// how much of it an error carries.
const (
	maxErrorBody = 64 << 10
	maxErrorText = 1024
)

// Do sends req and records what go-pagerduty drops from a non-2xx answer.
func (s *send) Do(req *http.Request) (*http.Response, error) {
	resp, err := s.hc.Do(req)
	if err != nil || resp.StatusCode < 300 {
		return resp, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		s.after = sinks.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr == nil {
		s.text = eventsErrorText(body)
	}
	return resp, nil
}

// eventsErrorText reads an Events API v2 error body
// ({"status":"invalid event","message":"Event object is invalid","errors":["…"]}).
func eventsErrorText(body []byte) string {
	var e struct {
		Status  string   `json:"status"`
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	parts := []string{cmp.Or(e.Message, e.Status)}
	if len(e.Errors) > 0 {
		parts = append(parts, strings.Join(e.Errors, "; "))
	}
	if parts[0] == "" {
		parts = parts[1:]
	}
	return strings.Join(parts, ": ")
}

// Teams lists the teams with a routing key, for logs at start.
func (n *Notifier) Teams() []string {
	var out []string
	for t, k := range n.keys {
		if k != "" {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

var (
	_ sinks.Notifier = (*Notifier)(nil)
	_ sinks.Throttle = (*Notifier)(nil)
	_ pd.HTTPClient  = (*send)(nil)
)
