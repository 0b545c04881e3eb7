package routes

import (
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/runbooks"
)

const cfgYAML = `
public_url: "https://alertgate.example.com/"
teams:
  - name: payments
  - name: frontend
  - name: platform
classify:
  - match: ['source="datadog"', 'event_type="error_tracking_alert"']
    kind: bug
  - match: ['source="sentry"', 'project="billing-cron"']
    kind: incident
routes:
  - match: ['alertname="HighErrorRate"', 'service=~"checkout|payments"']
    team: payments
    runbook: checkout-high-error-rate
  - match: ['service=~"checkout|payments"']
    team: payments
    page_bugs: true
  - match: ['source="sentry"', 'service="front-end"']
    team: frontend
  - match: []
    team: platform
`

func newRouter(t *testing.T) *Table {
	t.Helper()
	cfg, err := config.Load([]byte(cfgYAML), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rb, err := runbooks.LoadDir("../examples/runbooks")
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, rb)
}

func event(src alertgate.Source, kind alertgate.Kind, labels map[string]string) alertgate.Event {
	ev := alertgate.Event{Source: src, Kind: kind, Key: string(src) + ":v1:k", Severity: alertgate.SeverityCritical, Labels: labels, Status: alertgate.StatusFiring}
	if kind == alertgate.KindIncident {
		ev.Episode = "e1"
	}
	ev.Finish()
	return ev
}

func TestClassify(t *testing.T) {
	r := newRouter(t)
	tests := []struct {
		name    string
		ev      alertgate.Event
		want    alertgate.Kind
		episode string
	}{
		// a Datadog error-tracking monitor is a bug class
		{"datadog error tracking", event(alertgate.SourceDatadog, alertgate.KindIncident, map[string]string{"event_type": "error_tracking_alert"}), alertgate.KindBug, "e1"},
		// any other Datadog monitor keeps the source's kind
		{"datadog monitor", event(alertgate.SourceDatadog, alertgate.KindIncident, map[string]string{"event_type": "query_alert_monitor"}), alertgate.KindIncident, "e1"},
		// a Sentry project made an incident gets its key as episode
		{"sentry made incident", event(alertgate.SourceSentry, alertgate.KindBug, map[string]string{"project": "billing-cron"}), alertgate.KindIncident, "sentry:v1:k"},
		// Sentry by default is a bug
		{"sentry default", event(alertgate.SourceSentry, alertgate.KindBug, map[string]string{"project": "front-end"}), alertgate.KindBug, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			why := r.Classify(&ev)
			if got := ev.Kind; got != tt.want {
				t.Fatalf("kind=%s, want %s (%s)", got, tt.want, why)
			}
			if got := ev.Labels["kind"]; got != string(tt.want) {
				t.Fatalf("kind label=%s, want %s", got, tt.want)
			}
			if got := ev.Episode; got != tt.episode {
				t.Fatalf("episode=%q, want %q", got, tt.episode)
			}
			if why == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestRoute(t *testing.T) {
	r := newRouter(t)
	tests := []struct {
		name      string
		ev        alertgate.Event
		route     int
		team      string
		pageBugs  bool
		runbook   string // runbook ID, "" for none or a source URL
		why       string // runbook Why
		sourceURL string
	}{
		// the first match wins and its runbook is pinned
		{"pinned runbook", event(alertgate.SourceAlertmanager, alertgate.KindIncident, map[string]string{"alertname": "HighErrorRate", "service": "checkout"}), 0, "payments", false, "checkout-high-error-rate", "route", ""},
		// the second route: runbook chosen by the most specific match
		{"matched runbook", event(alertgate.SourceDatadog, alertgate.KindIncident, map[string]string{"service": "checkout"}), 1, "payments", true, "checkout-latency-high", "match", ""},
		// frontend route, bug, runbook for new Sentry bug classes
		{"sentry bug", event(alertgate.SourceSentry, alertgate.KindBug, map[string]string{"service": "front-end"}), 2, "frontend", false, "sentry-new-bug-class", "match", ""},
		// catch-all; no runbook matches a warning InstanceUp
		{"catch-all no runbook", func() alertgate.Event {
			ev := event(alertgate.SourceAlertmanager, alertgate.KindIncident, map[string]string{"alertname": "DiskFilling", "service": "db"})
			ev.Labels["severity"] = "warning"
			return ev
		}(), 3, "platform", false, "", "", ""},
		// catch-all with the source's own runbook_url
		{"source runbook", func() alertgate.Event {
			ev := event(alertgate.SourceAlertmanager, alertgate.KindIncident, map[string]string{"alertname": "DiskFilling"})
			ev.Labels["severity"] = "warning"
			ev.RunbookURL = "https://wiki.example.com/disk"
			return ev
		}(), 3, "platform", false, "", "source", "https://wiki.example.com/disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := r.Route(tt.ev)
			if got, want := m.Route, tt.route; got != want {
				t.Fatalf("route=%d, want %d (%s)", got, want, m.RouteWhy)
			}
			if got, want := m.Team, tt.team; got != want {
				t.Fatalf("team=%s, want %s", got, want)
			}
			if got, want := m.PageBugs, tt.pageBugs; got != want {
				t.Fatalf("page_bugs=%v, want %v", got, want)
			}
			switch {
			case tt.why == "" && m.Runbook != nil:
				t.Fatalf("runbook=%+v, want none", m.Runbook)
			case tt.why != "" && m.Runbook == nil:
				t.Fatalf("no runbook, want %s", tt.runbook)
			case tt.why != "":
				if got, want := m.Runbook.ID, tt.runbook; got != want {
					t.Fatalf("runbook=%s, want %s", got, want)
				}
				if got, want := m.Runbook.Why, tt.why; got != want {
					t.Fatalf("why=%s, want %s", got, want)
				}
				if tt.runbook != "" {
					if got, want := m.Runbook.URL, "https://alertgate.example.com/runbooks/"+tt.runbook; got != want {
						t.Fatalf("url=%s, want %s", got, want)
					}
				} else if got, want := m.Runbook.URL, tt.sourceURL; got != want {
					t.Fatalf("url=%s, want %s", got, want)
				}
			}
		})
	}
}
