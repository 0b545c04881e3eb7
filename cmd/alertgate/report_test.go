package main

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/report"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/web"
)

// alertgate report through the API of a gateway whose streams hold one
// event, its page (at 03:00, off hours) and its resolve 45 minutes later.
func TestReportCommand(t *testing.T) {
	cfg, err := config.Load([]byte("teams: [{name: payments}, {name: platform}]\nroutes: [{match: ['service=\"checkout\"'], team: payments}, {team: platform}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := natstest.OpenBus(t, t.TempDir())
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(-24*time.Hour + 3*time.Hour) // yesterday 03:00
	ev := alertgate.Event{ID: "e1", Source: alertgate.SourceEvents, Kind: alertgate.KindIncident, Key: "events:db", Episode: "1",
		Status: alertgate.StatusFiring, Severity: alertgate.SeverityWarning, Title: "DB slow", Service: "checkout", OccurredAt: now, ReceivedAt: now}
	ev.Finish()
	if _, err := b.PublishEvents(t.Context(), []alertgate.Event{ev}); err != nil {
		t.Fatal(err)
	}
	page := alertgate.Notification{ID: "page:events:db:1:1", Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage,
		Key: ev.Key, DedupKey: "events:db/1", Event: ev, CreatedAt: now}
	resolve := page
	resolve.ID, resolve.Type, resolve.CreatedAt = "resolve:events:db:1:1", alertgate.TypeResolve, now.Add(45*time.Minute)
	for _, n := range []alertgate.Notification{page, resolve} {
		if _, err := b.PublishNotifications(t.Context(), []alertgate.Notification{n}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	m := metrics.New()
	rep := report.New(cfg, b, routes.New(cfg, nil), m, log)
	srv := &web.Server{Reporter: rep, Logger: log, Metrics: m,
		Access: web.Access{Tokens: []web.Token{web.NewToken("grafana", cliReadToken, web.RoleRead)}}}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	t.Setenv(tokenEnv, cliReadToken)
	code, out, errs := run(t, "report", "--team", "payments", "--url", hs.URL)
	if code != 0 {
		t.Fatalf("report: exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{
		"payments: 1 pages, 1 off hours, 1 without a runbook",
		"time to resolve: 1 resolved, median 45m0s, p90 45m0s; 0 still open",
		"events:db", "DB slow",
		"events        1       1              1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "platform") {
		t.Errorf("--team payments printed platform:\n%s", out)
	}

	code, out, _ = run(t, "report", "--since", "48h", "--json", "--url", hs.URL)
	if code != 0 || !strings.Contains(out, `"pages_off_hours": 1`) || !strings.Contains(out, `"platform"`) {
		t.Errorf("--json: exit %d:\n%s", code, out)
	}

	code, _, errs = run(t, "report", "--team", "nobody", "--url", hs.URL)
	if code != 1 || !strings.Contains(errs, `404 Not Found: team: unknown team "nobody"`) {
		t.Errorf("unknown team: exit %d: %s", code, errs)
	}
	code, _, errs = run(t, "report", "--since", "last week", "--url", hs.URL)
	if code != 1 || !strings.Contains(errs, `since: "last week" is not a duration`) {
		t.Errorf("bad --since: exit %d: %s", code, errs)
	}
	t.Setenv(tokenEnv, "")
	code, _, errs = run(t, "report", "--url", hs.URL)
	if code != 1 || !strings.Contains(errs, "set ALERTGATE_TOKEN to one of its api.tokens with role read") {
		t.Errorf("no token: exit %d: %s", code, errs)
	}
}
