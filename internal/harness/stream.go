package harness

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Step is one webhook delivery of a scripted stream.
type Step struct {
	Path   string
	Body   []byte
	Header map[string]string
}

// SentrySecret signs the Sentry webhooks of scripts (config
// ingest.sentry.client_secret).
const SentrySecret = "test-client-secret"

// Script builds webhook deliveries from the fixtures in testdata/fixtures.
type Script struct {
	t     testing.TB
	Steps []Step
	// Now stamps Sentry-Hook-Timestamp.
	Now func() time.Time
	// SentryProject, when set, is the project (alertgate's service) of
	// the Sentry issues added; the fixture's otherwise.
	SentryProject string
}

// NewScript returns an empty script.
func NewScript(t testing.TB) *Script { return &Script{t: t, Now: time.Now} }

func (s *Script) fixture(name string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(Testdata(s.t, "fixtures/"+name), &m); err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *Script) add(path string, v any, header map[string]string) {
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	s.Steps = append(s.Steps, Step{Path: path, Body: b, Header: header})
}

func (s *Script) sentry(resource string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(SentrySecret))
	mac.Write(b)
	s.Steps = append(s.Steps, Step{Path: "/v1/ingest/sentry", Body: b, Header: map[string]string{
		"Sentry-Hook-Resource":  resource,
		"Sentry-Hook-Signature": hex.EncodeToString(mac.Sum(nil)),
		"Sentry-Hook-Timestamp": strconv.FormatInt(s.Now().Unix(), 10),
	}})
}

// SentryIssue adds an issue webhook (created, resolved, unresolved,
// ignored) for issue id with Sentry's running count.
func (s *Script) SentryIssue(action, id string, count int) {
	m := s.fixture("sentry_issue_created.json")
	m["action"] = action
	issue := m["data"].(map[string]any)["issue"].(map[string]any)
	issue["id"] = id
	issue["count"] = strconv.Itoa(count)
	if s.SentryProject != "" {
		issue["project"] = map[string]any{"id": "7", "name": s.SentryProject, "slug": s.SentryProject, "platform": ""}
		issue["title"] = "TypeError in " + s.SentryProject + " (issue " + id + ")"
		issue["web_url"] = "https://sentry.io/organizations/test-org/issues/" + id + "/"
		issue["shortId"] = fmt.Sprintf("%s-%s", strings.ToUpper(s.SentryProject), id)
	}
	issue["lastSeen"] = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC).Add(time.Duration(count) * time.Second).Format(time.RFC3339Nano)
	switch action {
	case "resolved":
		issue["status"] = "resolved"
	case "ignored":
		issue["status"] = "ignored"
	default:
		issue["status"] = "unresolved"
	}
	s.sentry("issue", m)
}

// SentryEvent adds an event_alert "triggered" webhook: one occurrence of
// issue id, event n.
func (s *Script) SentryEvent(issueID string, n int) {
	m := s.fixture("sentry_event_alert_triggered_min.json")
	ev := m["data"].(map[string]any)["event"].(map[string]any)
	ev["issue_id"] = issueID
	ev["issue_url"] = "https://sentry.io/api/0/issues/" + issueID + "/"
	ev["event_id"] = fmt.Sprintf("%032x", n+1)
	s.sentry("event_alert", m)
}

// Datadog adds a monitor webhook in alertgate's template: monitor alertID,
// cycle, transition (Triggered, Re-Triggered, Renotify, Recovered, …);
// delivery is Datadog's $ID, distinct for every delivery.
func (s *Script) Datadog(alertID, cycle int, transition string, delivery int) {
	m := s.fixture("datadog_triggered.json")
	m["id"] = strconv.Itoa(7476158253014412345 + delivery)
	m["alert_id"] = strconv.Itoa(alertID)
	m["alert_cycle_key"] = strconv.Itoa(7476158253014400000 + alertID*100 + cycle)
	m["alert_transition"] = transition
	m["alert_title"] = fmt.Sprintf("[%s on {env:prod,service:checkout}] Monitor %d", transition, alertID)
	if transition == "Recovered" {
		m["alert_type"] = "success"
	}
	s.add("/v1/ingest/datadog", m, nil)
}

// Alertmanager adds one Alertmanager webhook with one alert.
func (s *Script) Alertmanager(a AMAlert) {
	s.Steps = append(s.Steps, Step{Path: "/v1/ingest/alertmanager", Body: AMWebhook(a)})
}

// Post delivers every step to g, each answered 202, and returns the totals.
func (s *Script) Post(t testing.TB, g *Gateway) (accepted, duplicates int) {
	t.Helper()
	for _, st := range s.Steps {
		r := g.MustAccept(t, st.Path, st.Body, st.Header)
		accepted += r.Accepted
		duplicates += r.Duplicates
	}
	return accepted, duplicates
}
