// Package web is alertgate's HTTP surface beside the ingest endpoints: the
// read API, the admin writes, runbook pages, health and metrics, on one
// gorilla/mux router, each route guarded by the rule it was registered
// with (auth.go) and every write by the JSON gate (write.go).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/httperr"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/runbooks"
)

// Server serves the read API, the admin writes, the status page, the
// runbook pages and health from the interfaces in deps.go; a nil one
// answers as unavailable.
type Server struct {
	// Ingest serves POST /v1/ingest/{source} (ingest.Handler.Endpoints).
	Ingest http.Handler
	States States
	// BugIndex answers GET /v1/bugs from memory once it has loaded (nil:
	// the list walks States).
	BugIndex      BugIndex
	Matcher       Matcher
	Runbooks      Runbooks
	Notifications Notifications
	DeadLetters   DeadLetters
	Readiness     Readiness
	Silences      Silences
	// Replayer answers POST /v1/replay (nil: unavailable).
	Replayer Replayer
	// Related lists an incident's related signals on /v1/incidents/{key},
	// explain and the status page (nil: none are shown).
	Related Correlator
	// SlackActions and SlackSigningSecret serve POST /v1/slack/interactions
	// when both are set (the Slack app mode); otherwise it is 404.
	SlackActions       SlackActions
	SlackSigningSecret string
	// Reporter builds the alert-fatigue report (GET /v1/report, /report).
	Reporter Reporter
	// Audit records every admin action; without it writes are refused.
	Audit   Audit
	Access  Access
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Now stamps audit records and is the clock of the silences (nil:
	// time.Now).
	Now func() time.Time

	bugViews bugViews
}

// Handler is Routes behind the Recoverer.
func (s *Server) Handler() http.Handler { return Recoverer(s.Logger, s.Metrics, s.Routes()) }

// Routes returns the router with every endpoint, without a recoverer: the
// gateway puts its error reporting between the two, where it sees a panic
// before it is recovered.
func (s *Server) Routes() http.Handler { return s.router() }

// router registers every endpoint with its rule (auth.go): open, read or
// admin; every write through addWrite.
func (s *Server) router() *router {
	rt := newRouter()
	if s.Ingest != nil {
		// Each source checks its own token (ingest.Sources).
		rt.add(rule{access: accessOpen}, http.MethodPost, "/v1/ingest/{source}", s.Ingest)
	}
	rt.read("/v1/notifications", s.notifications)
	rt.read("/v1/incidents", s.incidents)
	// A key may hold "/": sent escaped (%2F) it stays one segment, sent
	// raw the pattern takes the rest of the path.
	rt.read("/v1/incidents/{key:.+}", s.incident)
	rt.read("/v1/bugs", s.bugs)
	rt.read("/v1/explain", s.explain)
	rt.read("/v1/deadletters", s.deadLetters)
	addWrite(s, rt, "/v1/deadletters/replay", s.replay)
	rt.read("/v1/audit", s.audit)
	rt.read("/v1/silences", s.listSilences)
	addWrite(s, rt, "/v1/silences", s.addSilence)
	addDelete(s, rt, "/v1/silences/{id}", s.expireSilence)
	if s.SlackActions != nil && s.SlackSigningSecret != "" {
		// Slack signs its requests instead of sending a token, and posts
		// a form, not JSON: open, and not through the JSON gate.
		rt.add(rule{access: accessOpen}, http.MethodPost, "/v1/slack/interactions", http.HandlerFunc(s.slackInteraction))
	}
	// Its body is the candidate config, YAML: not a JSON write (replay.go).
	rt.add(rule{access: accessAdmin}, http.MethodPost, "/v1/replay", http.HandlerFunc(s.replayConfig))
	rt.page("/", s.ui)
	rt.read("/v1/report", s.report)
	rt.page("/report", s.reportPage)
	rt.read("/runbooks", s.runbookIndex)
	rt.page("/runbooks/{id}", s.runbook)
	rt.open("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	rt.open("/readyz", s.readyz)
	rt.add(rule{access: accessMetrics}, http.MethodGet, "/metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{Registry: s.Metrics.Registry}))
	rt.Use(s.authorize(rt.rules))
	rt.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, alertgate.Errorf(alertgate.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	rt.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": r.Method + " is not allowed on " + r.URL.Path})
	})
	return rt
}

// Recoverer turns a panic in a handler into a 500 and a log line: one bad
// request must never take the gateway down.
func Recoverer(log *slog.Logger, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				m.Panics.Inc()
				log.Error("panic in handler", "path", r.URL.Path, "panic", v)
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := errors.New("no readiness check configured")
	if s.Readiness != nil {
		err = s.Readiness.Ready(ctx)
	}
	if err != nil {
		s.Metrics.Ready.Set(0)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
		return
	}
	s.Metrics.Ready.Set(1)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) notifications(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r, 100)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if s.Notifications == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "notification log unavailable"))
		return
	}
	recs, err := s.Notifications.List(r.Context(), limit)
	if err != nil {
		httperr.Write(w, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "notification log unavailable"))
		return
	}
	out := make([]notificationView, 0, len(recs))
	for _, rec := range recs {
		out = append(out, viewOf(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": out})
}

// notificationView is the public shape of a record: the fields of the
// contract first, the event summarized.
type notificationView struct {
	ID        string                     `json:"id"`
	Sink      alertgate.Sink             `json:"sink"`
	Team      string                     `json:"team"`
	Type      alertgate.NotificationType `json:"type"`
	Key       string                     `json:"key"`
	Episode   string                     `json:"episode,omitempty"`
	DedupKey  string                     `json:"dedup_key,omitempty"`
	State     alertgate.DeliveryState    `json:"state"`
	Runbook   string                     `json:"runbook"`
	RunbookID string                     `json:"runbook_id,omitempty"`
	Title     string                     `json:"title"`
	Severity  alertgate.Severity         `json:"severity"`
	Service   string                     `json:"service,omitempty"`
	Source    alertgate.Source           `json:"source"`
	Reason    string                     `json:"reason,omitempty"`
	Attempts  int                        `json:"attempts"`
	LastError string                     `json:"last_error,omitempty"`
	RequestID string                     `json:"request_id,omitempty"`
	CreatedAt time.Time                  `json:"created_at"`
	UpdatedAt time.Time                  `json:"updated_at"`
	// Body is the rendered digest, for dry-run channels above all.
	Body json.RawMessage `json:"body,omitempty"`
}

func viewOf(r alertgate.Record) notificationView {
	v := notificationView{
		ID: r.ID, Sink: r.Sink, Team: r.Team, Type: r.Type, Key: r.Key, Episode: r.Episode,
		DedupKey: r.DedupKey, State: r.State, Title: r.Event.Title, Severity: r.Event.Severity,
		Service: r.Event.Service, Source: r.Event.Source, Reason: r.Reason, Attempts: r.Attempts,
		LastError: r.LastError, RequestID: r.Event.RequestID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Body: r.Body,
	}
	if r.Runbook != nil {
		v.Runbook, v.RunbookID = r.Runbook.URL, r.Runbook.ID
	}
	return v
}

func limitParam(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, alertgate.Errorf(alertgate.EINVALID, "limit: must be 1 to 10000, got %q", v)
	}
	return n, nil
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r, 100)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if s.DeadLetters == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "dead letters unavailable"))
		return
	}
	list, err := s.DeadLetters.List(r.Context(), limit)
	if err != nil {
		httperr.Write(w, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "dead letters unavailable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": list})
}

// replayRequest is the body of POST /v1/deadletters/replay: {"id": "…"}
// replays that notification, {} every dead letter still dead.
type replayRequest struct {
	// ID is a pointer so that an empty id (a script's unset variable) is
	// an error rather than a replay of everything.
	ID *string `json:"id"`
}

// Audit trail actions.
const actionReplay = "deadletter.replay"

// maxDetailIDs bounds the notification ids an audit record lists.
const maxDetailIDs = 20

// replay re-enqueues dead letters once their cause is fixed.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, req replayRequest) {
	if s.DeadLetters == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "dead letters unavailable"))
		return
	}
	id, target := "", "*"
	if req.ID != nil {
		if *req.ID == "" {
			httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, `body.id: empty: leave id out ({}) to replay every dead letter`))
			return
		}
		id, target = *req.ID, *req.ID
	}
	ids, err := s.DeadLetters.Replay(r.Context(), id)
	rec := alertgate.AuditRecord{At: s.now(), Actor: Actor(r.Context()), Action: actionReplay, Target: target, Detail: replayDetail(ids)}
	if err != nil {
		if alertgate.ErrorCode(err) == alertgate.EINTERNAL {
			// The cause names infrastructure (a NATS URL): the log has it,
			// the answer does not.
			s.Logger.Error("dead letter replay failed", "id", id, "err", err)
			err = alertgate.WrapError(alertgate.EUNAVAILABLE, err, "replay failed: dead letters unavailable (the gateway log has the error)")
		}
		rec.Detail = "failed: " + alertgate.ErrorMessage(err) + "; " + rec.Detail
	}
	s.record(r, rec)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if ids == nil {
		ids = []string{} // nothing was dead: an empty list, not null
	}
	writeJSON(w, http.StatusOK, map[string]any{"replayed": ids})
}

// replayDetail says what a replay re-enqueued.
func replayDetail(ids []string) string {
	d := fmt.Sprintf("replayed %d", len(ids))
	if len(ids) == 0 {
		return d
	}
	d += ": " + strings.Join(ids[:min(len(ids), maxDetailIDs)], ", ")
	if len(ids) > maxDetailIDs {
		d += fmt.Sprintf(" and %d more", len(ids)-maxDetailIDs)
	}
	return d
}

// audit lists the audit trail, newest first.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	limit, err := limitParam(r, 100)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if s.Audit == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "audit trail unavailable"))
		return
	}
	recs, err := s.Audit.List(r.Context(), limit)
	if err != nil {
		httperr.Write(w, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "audit trail unavailable"))
		return
	}
	if recs == nil {
		recs = []alertgate.AuditRecord{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"audit": recs})
}

// Bounds of ?limit= on GET /v1/bugs and /v1/incidents.
const (
	defaultListLimit = 1000
	maxListLimit     = 10000
)

// listLimit reads ?limit=.
func listLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, alertgate.Errorf(alertgate.EINVALID, "limit must be a number from 1 to %d, not %q", maxListLimit, v)
	}
	return n, nil
}

// incidents lists incident keys, the most recently received first, at most
// ?limit= of them (default 1000), with the number that matched the
// filters in "total".
func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	team := r.URL.Query().Get("team")
	keep := func(in *dedup.Incident) bool {
		switch state {
		case "open":
			if !in.Firing() {
				return false
			}
		case "held": // an open episode whose page is held, or a flapping key
			if in.Flap == nil && !slices.ContainsFunc(in.Episodes, func(e dedup.Episode) bool { return e.Status == dedup.EpisodeOpen && !e.Paged }) {
				return false
			}
		}
		return team == "" || in.Team == team
	}
	latest := func(a, b *dedup.Incident) int {
		if c := b.Last.At.Compare(a.Last.At); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	}
	listPage(w, r, "incidents", "incident state unavailable", func(ctx context.Context, limit int) (dedup.Page[dedup.Incident], error) {
		page, err := top(ctx, s.States, States.EachIncident, keep, latest, limit)
		for _, in := range page.Items {
			in.Outbox = nil
		}
		return page, err
	})
}

// bugs lists bug classes, most occurrences first (then the most recently
// seen), at most ?limit= of them (default 1000), with the number that
// matched the filters in "total". The index answers once it has loaded;
// before, the list walks every class.
func (s *Server) bugs(w http.ResponseWriter, r *http.Request) {
	team, status := r.URL.Query().Get("team"), r.URL.Query().Get("status")
	keep := func(b *dedup.Bug) bool { return (team == "" || b.Team == team) && (status == "" || b.Status == status) }
	listPage(w, r, "bugs", "bug state unavailable", func(ctx context.Context, limit int) (dedup.Page[dedup.Bug], error) {
		if s.BugIndex != nil {
			if list, ok, err := s.BugIndex.Bugs(ctx, dedup.BugQuery{Team: team, Status: status, Limit: limit}); ok {
				return list.Page, err
			}
		}
		page, err := top(ctx, s.States, States.EachBug, keep, dedup.Loudest, limit)
		for _, b := range page.Items {
			b.Outbox = nil
		}
		return page, err
	})
}

// The lists and explain show a key's state, not the router's bookkeeping:
// the outbox (notifications of a decision whose event is not yet
// acknowledged) is left out.

// listPage answers a state list: ?limit= read, the walk of the bucket
// (which holds only the page), and the page under name with its total and
// limit; unavailable is the error's text when the walk fails. Each
// request walks every state once.
func listPage[T any](w http.ResponseWriter, r *http.Request, name, unavailable string, walk func(ctx context.Context, limit int) (dedup.Page[T], error)) {
	limit, err := listLimit(r)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	page, err := walk(r.Context(), limit)
	if err != nil {
		httperr.Write(w, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "%s", unavailable))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{name: page.Items, "total": page.Total, "limit": page.Limit})
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	source, key := r.URL.Query().Get("source"), r.URL.Query().Get("key")
	if key == "" {
		httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "key: missing (the event key, e.g. alertmanager:v1:<fingerprint>)"))
		return
	}
	if s.States == nil || s.Matcher == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "state unavailable"))
		return
	}
	ex, err := Explain(r.Context(), s.States, s.Matcher, alertgate.Source(source), key)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if ex.Kind == alertgate.KindIncident {
		ex.Related = s.relatedTo(ex.Key, ex.Last.Labels)
	}
	writeJSON(w, http.StatusOK, ex)
}

func (s *Server) runbookIndex(w http.ResponseWriter, _ *http.Request) {
	type item struct {
		ID, Title, Owner string
		Match            []string
	}
	out := []item{}
	for _, rb := range s.allRunbooks() {
		it := item{ID: rb.ID, Title: rb.Title, Owner: rb.Owner}
		for _, m := range rb.Match {
			it.Match = append(it.Match, m.String())
		}
		out = append(out, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runbooks": out})
}

func (s *Server) runbook(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(pathVar(r, "id"), ".html")
	rb, ok := s.getRunbook(id)
	if !ok {
		http.Error(w, "no runbook "+strconv.Quote(id), http.StatusNotFound)
		return
	}
	page, err := rb.HTML()
	if err != nil {
		s.Logger.Error("runbook render failed", "runbook", id, "err", err)
		http.Error(w, "runbook render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:")
	_, _ = w.Write(page)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// getRunbook and allRunbooks read s.Runbooks, which may be unset (no
// runbooks_dir): no runbooks then.
func (s *Server) getRunbook(id string) (*runbooks.Runbook, bool) {
	if s.Runbooks == nil {
		return nil, false
	}
	rb, ok := s.Runbooks.Get(id)
	return rb, ok && rb != nil
}

func (s *Server) allRunbooks() []*runbooks.Runbook {
	if s.Runbooks == nil {
		return nil
	}
	return s.Runbooks.All()
}

// top walks one kind of state with each and keeps, of those keep accepts
// (nil: all), the first limit in the order cmp gives: memory is that of
// limit states, whatever the number of keys.
func top[T any](ctx context.Context, st States, each func(States, context.Context, func(*T) error) error, keep func(*T) bool, cmp func(a, b *T) int, limit int) (dedup.Page[T], error) {
	if st == nil {
		return dedup.Page[T]{}, errors.New("no state configured")
	}
	t := dedup.NewTop(cmp, limit)
	err := each(st, ctx, func(v *T) error {
		if keep == nil || keep(v) {
			t.Add(v)
		}
		return nil
	})
	if err != nil {
		return dedup.Page[T]{}, err
	}
	return t.Page(), nil
}
