package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/silences"
)

// The handlers against in-memory fakes of what they read: no JetStream.

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// fakeStates holds states in memory; err fails every read, panicMsg
// panics in every walk.
type fakeStates struct {
	incidents []*dedup.Incident
	bugs      []*dedup.Bug
	err       error
	panicMsg  string
}

func (f *fakeStates) Incident(_ context.Context, key string) (*dedup.Incident, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, in := range f.incidents {
		if in.Key == key {
			c := *in // a store decodes a fresh copy on every read
			return &c, nil
		}
	}
	return nil, nil
}

func (f *fakeStates) Bug(_ context.Context, key string) (*dedup.Bug, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, b := range f.bugs {
		if b.Key == key {
			c := *b
			return &c, nil
		}
	}
	return nil, nil
}

func (f *fakeStates) EachIncident(_ context.Context, fn func(*dedup.Incident) error) error {
	return each(f, f.incidents, fn)
}

func (f *fakeStates) EachBug(_ context.Context, fn func(*dedup.Bug) error) error {
	return each(f, f.bugs, fn)
}

func each[T any](f *fakeStates, all []*T, fn func(*T) error) error {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	if f.err != nil {
		return f.err
	}
	for _, v := range all {
		c := *v
		if err := fn(&c); errors.Is(err, dedup.ErrStop) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

type fakeNotifications struct {
	recs []alertgate.Record
	err  error
}

func (f *fakeNotifications) List(_ context.Context, limit int) ([]alertgate.Record, error) {
	return f.recs[:min(limit, len(f.recs))], f.err
}

type fakeDeadLetters struct {
	list     []alertgate.DeadLetter
	err      error
	replayed []string // ids replayed so far
}

func (f *fakeDeadLetters) List(_ context.Context, limit int) ([]alertgate.DeadLetter, error) {
	return f.list[:min(limit, len(f.list))], f.err
}

func (f *fakeDeadLetters) Replay(_ context.Context, id string) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []string
	for _, dl := range f.list {
		if id == "" || dl.Notification.ID == id {
			out = append(out, dl.Notification.ID)
		}
	}
	if id != "" && len(out) == 0 {
		return nil, alertgate.Errorf(alertgate.ENOTFOUND, "no dead letter %q waiting for a replay", id)
	}
	f.replayed = append(f.replayed, out...)
	return out, nil
}

// fakeMatcher routes service=checkout to payments, everything else to
// platform.
type fakeMatcher struct{}

func (fakeMatcher) Classify(ev *alertgate.Event) string {
	return "default for " + string(ev.Source) + " events"
}
func (fakeMatcher) Route(ev alertgate.Event) alertgate.Match {
	if ev.Labels["service"] == "checkout" {
		return alertgate.Match{Route: 0, Team: "payments", RouteWhy: "routes[0] matched"}
	}
	return alertgate.Match{Route: 1, Team: "platform", RouteWhy: "routes[1] is the catch-all"}
}

// fakeAudit keeps the trail in memory, newest last; err fails every call.
type fakeAudit struct {
	recs []alertgate.AuditRecord
	err  error
}

func (f *fakeAudit) Record(_ context.Context, rec alertgate.AuditRecord) error {
	if f.err != nil {
		return f.err
	}
	f.recs = append(f.recs, rec)
	return nil
}

func (f *fakeAudit) List(_ context.Context, limit int) ([]alertgate.AuditRecord, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := []alertgate.AuditRecord{}
	for i := len(f.recs) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, f.recs[i])
	}
	return out, nil
}

// fakeCorrelator relates to every incident of checkout one bug class and
// the open incidents of checkout but the one asked about, and nothing to
// an incident without a service label; it records what it was asked.
type fakeCorrelator struct {
	asked []string // "exclude@at"
}

func (f *fakeCorrelator) Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related {
	f.asked = append(f.asked, exclude+"@"+at.Format(time.RFC3339))
	if labels["service"] == "" {
		return nil
	}
	r := &alertgate.Related{On: map[string]string{"service": labels["service"]}, Window: "30m0s", Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{}}
	if labels["service"] != "checkout" {
		return r
	}
	r.Bugs = append(r.Bugs, alertgate.RelatedBug{Key: "sentry:v1:org:111", Title: "KeyError in cart", Source: alertgate.SourceSentry, Count: 12,
		FirstSeen: t0.Add(-time.Hour), LastSeen: at, Status: alertgate.RelatedRegression, Link: "https://sentry.io/organizations/org/issues/111/"})
	for _, k := range []string{"alertmanager:v1:aaa", "datadog:v1:4242:1e6b"} {
		if k != exclude {
			r.Incidents = append(r.Incidents, alertgate.RelatedIncident{Key: k, Title: "Incident " + k, Source: alertgate.SourceDatadog, OpenedAt: t0})
		}
	}
	return r
}

type fakeReadiness struct{ err error }

func (f fakeReadiness) Ready(context.Context) error { return f.err }

func fixtureServer() (*Server, *fakeStates, *fakeNotifications, *fakeDeadLetters) {
	st := &fakeStates{
		incidents: []*dedup.Incident{
			{Key: "alertmanager:v1:aaa", Source: alertgate.SourceAlertmanager, Title: "Checkout 5xx", Team: "payments",
				Episodes: []dedup.Episode{{ID: "e1", Status: dedup.EpisodeOpen, OpenedAt: t0, DedupKey: "alertmanager:v1:aaa/1"}},
				Last:     dedup.Last{At: t0.Add(2 * time.Minute), Outcome: dedup.OutcomePaged, Episode: "e1", Labels: map[string]string{"service": "checkout"}}},
			{Key: "datadog:v1:bbb", Source: alertgate.SourceDatadog, Title: "Disk full", Team: "platform",
				Episodes: []dedup.Episode{{ID: "e2", Status: dedup.EpisodeResolved, OpenedAt: t0, ResolvedAt: t0.Add(time.Minute)}},
				Last:     dedup.Last{At: t0.Add(time.Minute), Outcome: dedup.OutcomeResolved}},
			{Key: "alertmanager:v1:ccc", Source: alertgate.SourceAlertmanager, Title: "Checkout latency", Team: "payments",
				Episodes: []dedup.Episode{{ID: "e3", Status: dedup.EpisodeOpen, OpenedAt: t0}},
				Last:     dedup.Last{At: t0.Add(3 * time.Minute), Outcome: dedup.OutcomePaged}},
		},
		bugs: []*dedup.Bug{
			{Key: "sentry:v1:org:111", Source: alertgate.SourceSentry, Title: "KeyError in cart", Team: "payments", Status: dedup.BugOpen, Count: 7, FirstSeen: t0, LastSeen: t0},
			{Key: "sentry:v1:org:222", Source: alertgate.SourceSentry, Title: "TypeError in search", Team: "platform", Status: dedup.BugOpen, Count: 40, FirstSeen: t0, LastSeen: t0},
			{Key: "sentry:v1:org:333", Source: alertgate.SourceSentry, Title: "Timeout in cart", Team: "payments", Status: dedup.BugResolved, Count: 3, FirstSeen: t0, LastSeen: t0},
		},
	}
	page := alertgate.Notification{ID: "n1", Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage, Key: "alertmanager:v1:aaa",
		DedupKey: "alertmanager:v1:aaa/1", Runbook: &alertgate.Runbook{ID: "checkout", URL: "http://gw/runbooks/checkout"}, CreatedAt: t0}
	page.Event.Title = "Checkout 5xx"
	bug := alertgate.Notification{ID: "n2", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeBugNew, Key: "sentry:v1:org:111", CreatedAt: t0}
	nl := &fakeNotifications{recs: []alertgate.Record{
		{Notification: bug, State: alertgate.StatePending, UpdatedAt: t0},
		{Notification: page, State: alertgate.StateSent, Attempts: 1, UpdatedAt: t0},
	}}
	dl := &fakeDeadLetters{list: []alertgate.DeadLetter{{Seq: 3, Reason: "HTTP 400: invalid routing key", DeadAt: t0, State: alertgate.StateDead, Notification: page}}}
	sils := &fakeSilences{list: []silences.Silence{
		{ID: "S2", Matchers: []string{`service="search"`}, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour), CreatedBy: "bob", Comment: "search index rebuild"},
		{ID: "S1", Matchers: []string{`service="checkout"`}, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), CreatedBy: "alice", Comment: "checkout deploy"},
	}}
	s := &Server{
		States: st, Matcher: fakeMatcher{}, Notifications: nl, DeadLetters: dl, Readiness: fakeReadiness{}, Audit: &fakeAudit{}, Silences: sils,
		Related: &fakeCorrelator{}, Reporter: fakeReporter{}, Replayer: &fakeReplayer{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New(), Now: func() time.Time { return t0 },
	}
	return s, st, nl, dl
}

// fakeReporter answers every report with the window asked and one team
// with one page.
type fakeReporter struct{}

func (fakeReporter) Report(_ context.Context, q alertgate.ReportQuery) (*alertgate.Report, error) {
	return &alertgate.Report{Since: q.Since, Until: q.Until, Location: "UTC", OfficeHours: "office",
		Teams: map[string]*alertgate.TeamReport{"payments": {Pages: 1}}}, nil
}

type answer struct {
	code int
	body string
	hdr  http.Header
}

func serve(s *Server, method, target string) answer {
	return serveReq(s, httptest.NewRequest(method, target, nil))
}

// post sends a JSON body, as every write takes it.
func post(s *Server, target, body string) answer {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return serveReq(s, r)
}

func serveReq(s *Server, r *http.Request) answer {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	return answer{rec.Code, rec.Body.String(), rec.Header()}
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return v
}

func TestHandlerErrors(t *testing.T) {
	storeDown := errors.New("nats: connection closed")
	for _, tc := range []struct {
		name         string
		break_       func(s *Server, st *fakeStates, nl *fakeNotifications, dl *fakeDeadLetters)
		method, path string
		// body, when set, is posted as application/json.
		body string
		code int
		// wantErr is in the JSON error; a 503 also carries Retry-After.
		wantErr string
	}{
		// ?limit= is checked before any read, and named.
		{name: "notifications bad limit", method: "GET", path: "/v1/notifications?limit=abc", code: 400, wantErr: "limit"},
		{name: "incidents limit zero", method: "GET", path: "/v1/incidents?limit=0", code: 400, wantErr: "limit"},
		{name: "bugs limit too large", method: "GET", path: "/v1/bugs?limit=10001", code: 400, wantErr: "limit"},
		{name: "deadletters bad limit", method: "GET", path: "/v1/deadletters?limit=-1", code: 400, wantErr: "limit"},
		// A store that cannot answer is a 503 the client may retry; its
		// error text (infrastructure) stays in the log.
		{name: "notifications store down", break_: func(_ *Server, _ *fakeStates, nl *fakeNotifications, _ *fakeDeadLetters) { nl.err = storeDown },
			method: "GET", path: "/v1/notifications", code: 503, wantErr: "notification log unavailable"},
		{name: "incidents store down", break_: func(_ *Server, st *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { st.err = storeDown },
			method: "GET", path: "/v1/incidents", code: 503, wantErr: "incident state unavailable"},
		{name: "bugs store down", break_: func(_ *Server, st *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { st.err = storeDown },
			method: "GET", path: "/v1/bugs", code: 503, wantErr: "bug state unavailable"},
		{name: "incident store down", break_: func(_ *Server, st *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { st.err = storeDown },
			method: "GET", path: "/v1/incidents/alertmanager:v1:aaa", code: 503, wantErr: "incident state unavailable"},
		{name: "incident without state", break_: func(s *Server, _ *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { s.States = nil },
			method: "GET", path: "/v1/incidents/alertmanager:v1:aaa", code: 503, wantErr: "incident state unavailable"},
		{name: "explain store down", break_: func(_ *Server, st *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { st.err = storeDown },
			method: "GET", path: "/v1/explain?key=x", code: 503, wantErr: "state unavailable"},
		{name: "deadletters store down", break_: func(_ *Server, _ *fakeStates, _ *fakeNotifications, dl *fakeDeadLetters) { dl.err = storeDown },
			method: "GET", path: "/v1/deadletters", code: 503, wantErr: "dead letters unavailable"},
		{name: "replay store down", break_: func(_ *Server, _ *fakeStates, _ *fakeNotifications, dl *fakeDeadLetters) { dl.err = storeDown },
			method: "POST", path: "/v1/deadletters/replay", body: `{}`, code: 503, wantErr: "replay failed"},
		// Nothing wired: unavailable, never a nil dereference.
		{name: "no notification log", break_: func(s *Server, _ *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { s.Notifications = nil },
			method: "GET", path: "/v1/notifications", code: 503, wantErr: "notification log unavailable"},
		{name: "no state", break_: func(s *Server, _ *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { s.States = nil },
			method: "GET", path: "/v1/bugs", code: 503, wantErr: "bug state unavailable"},
		// Explain needs a key, and says when it never saw one.
		{name: "explain without key", method: "GET", path: "/v1/explain", code: 400, wantErr: "key: missing"},
		{name: "explain unknown key", method: "GET", path: "/v1/explain?key=nope", code: 404, wantErr: `"nope"`},
		{name: "replay unknown id", method: "POST", path: "/v1/deadletters/replay", body: `{"id":"nope"}`, code: 404, wantErr: `"nope"`},
		// An admin action is not taken unless it can be recorded.
		{name: "replay without audit trail", break_: func(s *Server, _ *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { s.Audit = nil },
			method: "POST", path: "/v1/deadletters/replay", body: `{}`, code: 503, wantErr: "audit trail unavailable"},
		{name: "audit store down", break_: func(s *Server, _ *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) {
			s.Audit = &fakeAudit{err: storeDown}
		},
			method: "GET", path: "/v1/audit", code: 503, wantErr: "audit trail unavailable"},
		{name: "audit bad limit", method: "GET", path: "/v1/audit?limit=0", code: 400, wantErr: "limit"},
		{name: "unknown endpoint", method: "GET", path: "/v1/nope", code: 404, wantErr: "no such endpoint: GET /v1/nope"},
		{name: "wrong method", method: "DELETE", path: "/v1/incidents", code: 405, wantErr: "DELETE is not allowed on /v1/incidents"},
		{name: "runbook unknown", method: "GET", path: "/runbooks/nope", code: 404},
		// A panic in a handler is a 500 and a log line, not a dead process.
		{name: "panic", break_: func(_ *Server, st *fakeStates, _ *fakeNotifications, _ *fakeDeadLetters) { st.panicMsg = "boom" },
			method: "GET", path: "/v1/incidents", code: 500, wantErr: "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, nl, dl := fixtureServer()
			if tc.break_ != nil {
				tc.break_(s, st, nl, dl)
			}
			a := serve(s, tc.method, tc.path)
			if tc.body != "" {
				a = post(s, tc.path, tc.body)
			}
			if a.code != tc.code {
				t.Fatalf("status=%d, want %d (body %s)", a.code, tc.code, a.body)
			}
			if tc.wantErr != "" {
				got := decode[map[string]string](t, a)["error"]
				if !strings.Contains(got, tc.wantErr) {
					t.Fatalf("error=%q, want it to contain %q", got, tc.wantErr)
				}
				if strings.Contains(got, "nats") {
					t.Fatalf("error %q shows the store's own error", got)
				}
			}
			if got := a.hdr.Get("Retry-After"); (tc.code == 503) != (got != "") {
				t.Fatalf("Retry-After=%q with status %d", got, tc.code)
			}
		})
	}
}

func TestNotificationsList(t *testing.T) {
	s, _, _, _ := fixtureServer()
	a := serve(s, "GET", "/v1/notifications?limit=1")
	if a.code != 200 {
		t.Fatalf("status=%d: %s", a.code, a.body)
	}
	got := decode[struct{ Notifications []notificationView }](t, a).Notifications
	if len(got) != 1 {
		t.Fatalf("%d notifications, want the 1 asked for", len(got))
	}
	if n := got[0]; n.ID != "n2" || n.State != alertgate.StatePending || n.Type != alertgate.TypeBugNew {
		t.Fatalf("first=%+v, want the pending bug_new n2", n)
	}
	a = serve(s, "GET", "/v1/notifications")
	got = decode[struct{ Notifications []notificationView }](t, a).Notifications
	if len(got) != 2 || got[1].Runbook != "http://gw/runbooks/checkout" || got[1].RunbookID != "checkout" || got[1].DedupKey != "alertmanager:v1:aaa/1" {
		t.Fatalf("page=%+v, want its runbook URL, id and dedup key", got[1])
	}
}

func TestIncidentsAndBugsLists(t *testing.T) {
	s, _, _, _ := fixtureServer()
	type incidents struct {
		Incidents    []dedup.Incident
		Total, Limit int
	}
	// Newest decision first; ?state=open keeps open episodes only.
	in := decode[incidents](t, serve(s, "GET", "/v1/incidents"))
	if got := keys(in.Incidents, func(i dedup.Incident) string { return i.Key }); got != "alertmanager:v1:ccc alertmanager:v1:aaa datadog:v1:bbb" {
		t.Fatalf("order=%s", got)
	}
	in = decode[incidents](t, serve(s, "GET", "/v1/incidents?state=open&team=payments&limit=1"))
	if got := keys(in.Incidents, func(i dedup.Incident) string { return i.Key }); got != "alertmanager:v1:ccc" || in.Total != 2 || in.Limit != 1 {
		t.Fatalf("open payments, limit 1: %s total=%d limit=%d, want ccc of 2", got, in.Total, in.Limit)
	}
	type bugs struct {
		Bugs         []dedup.Bug
		Total, Limit int
	}
	// Loudest first; ?team= and ?status= filter.
	b := decode[bugs](t, serve(s, "GET", "/v1/bugs"))
	if got := keys(b.Bugs, func(b dedup.Bug) string { return b.Key }); got != "sentry:v1:org:222 sentry:v1:org:111 sentry:v1:org:333" || b.Total != 3 || b.Limit != defaultListLimit {
		t.Fatalf("bugs=%s total=%d limit=%d", got, b.Total, b.Limit)
	}
	b = decode[bugs](t, serve(s, "GET", "/v1/bugs?team=payments&status=open"))
	if got := keys(b.Bugs, func(b dedup.Bug) string { return b.Key }); got != "sentry:v1:org:111" || b.Total != 1 {
		t.Fatalf("open payments bugs=%s total=%d", got, b.Total)
	}
}

func keys[T any](vs []T, key func(T) string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = key(v)
	}
	return strings.Join(out, " ")
}

// The outbox is the router's bookkeeping, not the key's state: never shown.
func TestStateViewsHideOutbox(t *testing.T) {
	s, st, _, _ := fixtureServer()
	pending := []dedup.Pending{{EventID: "ev-1", Notifications: []alertgate.Notification{{ID: "page:x"}}}}
	for _, in := range st.incidents {
		in.Outbox = pending
	}
	for _, b := range st.bugs {
		b.Outbox = pending
	}
	for _, path := range []string{"/v1/incidents", "/v1/incidents/alertmanager:v1:aaa", "/v1/bugs", "/v1/explain?key=alertmanager:v1:aaa", "/v1/explain?key=sentry:v1:org:111"} {
		a := serve(s, "GET", path)
		if a.code != 200 || strings.Contains(a.body, "outbox") || strings.Contains(a.body, "page:x") {
			t.Errorf("GET %s: status %d, body shows the outbox: %s", path, a.code, a.body)
		}
	}
}

func TestExplain(t *testing.T) {
	s, _, _, _ := fixtureServer()
	for _, tc := range []struct {
		name, query string
		key, team   string
	}{
		// The full key.
		{"full key", "key=alertmanager:v1:aaa", "alertmanager:v1:aaa", "payments"},
		// The source's own id: the versioned prefix is added.
		{"source id", "source=alertmanager&key=aaa", "alertmanager:v1:aaa", "payments"},
		// The end of a longer key (a Sentry issue id), found by a walk.
		{"suffix", "source=sentry&key=222", "sentry:v1:org:222", "platform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := serve(s, "GET", "/v1/explain?"+tc.query)
			if a.code != 200 {
				t.Fatalf("status=%d: %s", a.code, a.body)
			}
			ex := decode[Explanation](t, a)
			if ex.Key != tc.key || ex.Route.Team != tc.team {
				t.Fatalf("key=%q team=%q, want %q %q", ex.Key, ex.Route.Team, tc.key, tc.team)
			}
		})
	}
}

// GET /v1/incidents/{key}: the incident's state and what is related to it
// now, its own key left out; the key path-escaped or, with ?source=, the
// source's own id.
func TestIncidentByKey(t *testing.T) {
	s, st, _, _ := fixtureServer()
	st.incidents = append(st.incidents,
		&dedup.Incident{Key: "datadog:v1:4242:1e6b", Source: alertgate.SourceDatadog, Title: "Monitor 4242", Team: "payments",
			Episodes: []dedup.Episode{{ID: "e4", Status: dedup.EpisodeOpen, OpenedAt: t0}},
			Last:     dedup.Last{At: t0, Outcome: dedup.OutcomePaged, Labels: map[string]string{"service": "checkout"}}},
		// A sender's own key may hold "/", even "//".
		&dedup.Incident{Key: "events:deploy/checkout//canary", Source: alertgate.SourceEvents, Title: "Canary failing", Team: "payments",
			Episodes: []dedup.Episode{{ID: "e5", Status: dedup.EpisodeOpen, OpenedAt: t0}},
			Last:     dedup.Last{At: t0, Outcome: dedup.OutcomePaged, Labels: map[string]string{"service": "search"}}},
		&dedup.Incident{Key: "events:deploy/search", Source: alertgate.SourceEvents, Title: "Deploy failed", Team: "platform",
			Episodes: []dedup.Episode{{ID: "e6", Status: dedup.EpisodeOpen, OpenedAt: t0}}},
	)
	for _, tc := range []struct {
		name, path, key string
	}{
		{"full key", "/v1/incidents/alertmanager:v1:aaa", "alertmanager:v1:aaa"},
		{"escaped colons", "/v1/incidents/alertmanager%3Av1%3Aaaa", "alertmanager:v1:aaa"},
		{"datadog key", "/v1/incidents/" + url.PathEscape("datadog:v1:4242:1e6b"), "datadog:v1:4242:1e6b"},
		{"escaped slashes", "/v1/incidents/" + url.PathEscape("events:deploy/checkout//canary"), "events:deploy/checkout//canary"},
		{"raw slash", "/v1/incidents/events:deploy/search", "events:deploy/search"},
		{"source's own id", "/v1/incidents/aaa?source=alertmanager", "alertmanager:v1:aaa"},
		{"end of a longer key", "/v1/incidents/1e6b?source=datadog", "datadog:v1:4242:1e6b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := serve(s, "GET", tc.path)
			if a.code != 200 {
				t.Fatalf("status=%d: %s", a.code, a.body)
			}
			if got := decode[IncidentView](t, a).Incident; got == nil || got.Key != tc.key || len(got.Episodes) != 1 {
				t.Fatalf("incident=%+v, want %s with its episode", got, tc.key)
			}
		})
	}

	corr := s.Related.(*fakeCorrelator)
	corr.asked = nil
	v := decode[IncidentView](t, serve(s, "GET", "/v1/incidents/alertmanager:v1:aaa"))
	if got := strings.Join(corr.asked, " "); got != "alertmanager:v1:aaa@2026-12-04T10:00:00Z" {
		t.Fatalf("correlator asked %q, want the key itself left out as of the server's now", got)
	}
	r := v.Related
	if r == nil || r.On["service"] != "checkout" || len(r.Bugs) != 1 || r.Bugs[0].Count != 12 || r.Bugs[0].Status != alertgate.RelatedRegression {
		t.Fatalf("related=%+v, want the checkout bug class ×12 regression", r)
	}
	if got := keys(r.Incidents, func(i alertgate.RelatedIncident) string { return i.Key }); got != "datadog:v1:4242:1e6b" {
		t.Fatalf("related incidents %s, want the Datadog monitor and not the incident itself", got)
	}
	v = decode[IncidentView](t, serve(s, "GET", "/v1/incidents/datadog:v1:4242:1e6b"))
	if got := keys(v.Related.Incidents, func(i alertgate.RelatedIncident) string { return i.Key }); got != "alertmanager:v1:aaa" {
		t.Fatalf("the monitor's related incidents %s, want the Alertmanager incident", got)
	}

	// No correlation label in its last labels, or no correlation: no
	// "related" at all.
	if a := serve(s, "GET", "/v1/incidents/alertmanager:v1:ccc"); a.code != 200 || strings.Contains(a.body, `"related"`) {
		t.Fatalf("incident without a service label: %d %s", a.code, a.body)
	}
	s.Related = nil
	if a := serve(s, "GET", "/v1/incidents/alertmanager:v1:aaa"); a.code != 200 || strings.Contains(a.body, `"related"`) || !strings.Contains(a.body, `"episodes"`) {
		t.Fatalf("without a correlator: %d %s", a.code, a.body)
	}
}

func TestIncidentByKeyNotFound(t *testing.T) {
	s, _, _, _ := fixtureServer()
	for _, tc := range []struct{ name, path, wantErr string }{
		{"unknown", "/v1/incidents/alertmanager:v1:nope", `no incident with key "alertmanager:v1:nope"`},
		// Escaped, the error names the key as it is.
		{"unknown escaped", "/v1/incidents/" + url.PathEscape("events:a/b c"), `"events:a/b c"`},
		// The source's own id needs ?source=.
		{"own id without source", "/v1/incidents/aaa", `"aaa"`},
		{"own id of another source", "/v1/incidents/aaa?source=datadog", `"aaa"`},
		{"bug class", "/v1/incidents/sentry:v1:org:111", "is a bug class, not an incident: GET /v1/explain?key=sentry%3Av1%3Aorg%3A111"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := serve(s, "GET", tc.path)
			if a.code != 404 {
				t.Fatalf("status=%d, want 404: %s", a.code, a.body)
			}
			if got := decode[map[string]string](t, a)["error"]; !strings.Contains(got, tc.wantErr) {
				t.Fatalf("error=%q, want it to contain %s", got, tc.wantErr)
			}
		})
	}
	// The list endpoint and an empty key are not it.
	if a := serve(s, "GET", "/v1/incidents/"); a.code != 404 || !strings.Contains(a.body, "no such endpoint") {
		t.Fatalf("GET /v1/incidents/: %d %s", a.code, a.body)
	}
}

// Explain shows an incident's related signals, as /v1/incidents/{key}
// does; a bug class has none.
func TestExplainRelated(t *testing.T) {
	s, _, _, _ := fixtureServer()
	ex := decode[Explanation](t, serve(s, "GET", "/v1/explain?source=alertmanager&key=aaa"))
	if r := ex.Related; r == nil || len(r.Bugs) != 1 || r.Bugs[0].Key != "sentry:v1:org:111" || len(r.Incidents) != 1 || r.Incidents[0].Key != "datadog:v1:4242:1e6b" {
		t.Fatalf("explain related=%+v, want the bug class and the other incident", ex.Related)
	}
	if got := strings.Join(s.Related.(*fakeCorrelator).asked, " "); got != "alertmanager:v1:aaa@2026-12-04T10:00:00Z" {
		t.Fatalf("correlator asked %q", got)
	}
	for _, path := range []string{"/v1/explain?key=sentry:v1:org:111", "/v1/explain?key=alertmanager:v1:ccc"} {
		if a := serve(s, "GET", path); a.code != 200 || strings.Contains(a.body, `"related"`) {
			t.Errorf("GET %s: %d, want no related: %s", path, a.code, a.body)
		}
	}
	s.Related = nil
	if a := serve(s, "GET", "/v1/explain?key=alertmanager:v1:aaa"); a.code != 200 || strings.Contains(a.body, `"related"`) {
		t.Errorf("explain without a correlator: %d %s", a.code, a.body)
	}
}

func TestDeadLettersAndReplay(t *testing.T) {
	s, _, _, dl := fixtureServer()
	a := serve(s, "GET", "/v1/deadletters")
	got := decode[struct {
		DeadLetters []alertgate.DeadLetter `json:"dead_letters"`
	}](t, a).DeadLetters
	if a.code != 200 || len(got) != 1 || got[0].Reason != "HTTP 400: invalid routing key" {
		t.Fatalf("status=%d dead letters=%+v", a.code, got)
	}
	a = post(s, "/v1/deadletters/replay", `{"id":"n1"}`)
	if a.code != 200 || strings.Join(decode[struct{ Replayed []string }](t, a).Replayed, ",") != "n1" || strings.Join(dl.replayed, ",") != "n1" {
		t.Fatalf("replay: status=%d body=%s replayed=%v", a.code, a.body, dl.replayed)
	}
	// A read is not a replay.
	if a := serve(s, "GET", "/v1/deadletters/replay"); a.code != 405 || len(dl.replayed) != 1 {
		t.Fatalf("GET replay: status=%d replayed=%v", a.code, dl.replayed)
	}
}

func TestHealth(t *testing.T) {
	s, _, _, _ := fixtureServer()
	if a := serve(s, "GET", "/healthz"); a.code != 200 {
		t.Fatalf("healthz=%d", a.code)
	}
	if a := serve(s, "GET", "/readyz"); a.code != 200 || decode[map[string]string](t, a)["status"] != "ready" {
		t.Fatalf("readyz=%d %s", a.code, a.body)
	}
	s.Readiness = fakeReadiness{err: errors.New("router: stopped consuming")}
	a := serve(s, "GET", "/readyz")
	if got := decode[map[string]string](t, a); a.code != 503 || got["status"] != "not ready" || got["error"] != "router: stopped consuming" {
		t.Fatalf("not ready: %d %s", a.code, a.body)
	}
	if a := serve(s, "GET", "/metrics"); a.code != 200 || !strings.Contains(a.body, "alertgate_ready 0") {
		t.Fatalf("metrics after a failed readyz: %d, want alertgate_ready 0", a.code)
	}
}

func TestStatusPageFromInterfaces(t *testing.T) {
	s, _, _, _ := fixtureServer()
	a := serve(s, "GET", "/")
	if a.code != 200 {
		t.Fatalf("status=%d: %s", a.code, a.body)
	}
	for _, want := range []string{
		"Checkout 5xx", "Checkout latency", // the open incidents
		"TypeError in search", "KeyError in cart", // bug classes
		"HTTP 400: invalid routing key",           // the dead letter
		"checkout deploy", "search index rebuild", // the active and the pending silence
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(a.body, "Disk full") {
		t.Errorf("page lists a resolved incident")
	}
	// Each title links to the incident's page; its related signals are
	// under it.
	for _, want := range []string{
		`<a class="title" href="v1/incidents/alertmanager:v1:aaa">Checkout 5xx</a>`,
		`1 bug class (<a href="https://sentry.io/organizations/org/issues/111/"`,
		`>KeyError in cart</a> ×12 <span class="rel-status rel-regression">regression</span>)`,
		`1 incident (<a href="v1/incidents/datadog:v1:4242:1e6b"`,
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// fakeBugIndex answers from a fixed list once loaded, and remembers what
// it was asked.
type fakeBugIndex struct {
	loaded bool
	asked  []dedup.BugQuery
}

func (f *fakeBugIndex) Bugs(_ context.Context, q dedup.BugQuery) (dedup.BugList, bool, error) {
	f.asked = append(f.asked, q)
	if !f.loaded {
		return dedup.BugList{}, false, nil
	}
	return dedup.BugList{Page: dedup.Page[dedup.Bug]{Items: []*dedup.Bug{{Key: "sentry:v1:from-index", Team: "storage", Count: 9}}, Total: 77, Limit: q.Limit},
		Teams: []string{"storage"}}, true, nil
}

// The list and the status page answer from the index once it has loaded,
// with the request's filters, order and limit, and walk the states before.
func TestBugsFromIndex(t *testing.T) {
	s, _, _, _ := fixtureServer()
	idx := &fakeBugIndex{}
	s.BugIndex = idx
	type bugs struct {
		Bugs         []dedup.Bug
		Total, Limit int
	}
	b := decode[bugs](t, serve(s, "GET", "/v1/bugs?team=payments&status=open&limit=5"))
	if got := keys(b.Bugs, func(b dedup.Bug) string { return b.Key }); got != "sentry:v1:org:111" || b.Total != 1 {
		t.Fatalf("before the index loaded: bugs=%s total=%d, want the walk's sentry:v1:org:111", got, b.Total)
	}
	idx.loaded = true
	b = decode[bugs](t, serve(s, "GET", "/v1/bugs?team=payments&status=open&limit=5"))
	if got := keys(b.Bugs, func(b dedup.Bug) string { return b.Key }); got != "sentry:v1:from-index" || b.Total != 77 || b.Limit != 5 {
		t.Fatalf("from the index: bugs=%s total=%d limit=%d", got, b.Total, b.Limit)
	}
	page := serve(s, "GET", "/?sort=last_seen&team=storage")
	if page.code != 200 || !strings.Contains(page.body, "from-index") {
		t.Fatalf("the status page does not show the index's class: %d", page.code)
	}
	want := []dedup.BugQuery{
		{Team: "payments", Status: "open", Limit: 5},
		{Team: "payments", Status: "open", Limit: 5},
		{Team: "storage", ByLastSeen: true, Limit: uiBugLimit},
	}
	if !slices.Equal(idx.asked, want) {
		t.Fatalf("asked the index %+v, want %+v", idx.asked, want)
	}
}
