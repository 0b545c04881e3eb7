package routes_test

import (
	"os"
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/runbooks"
)

// benchRouter is the example config's classify rules, routes and runbooks.
func benchRouter(b *testing.B) *routes.Table {
	b.Helper()
	raw, err := os.ReadFile("../examples/alertgate.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(raw, func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	rb, err := runbooks.LoadDir("../examples/runbooks")
	if err != nil {
		b.Fatal(err)
	}
	return routes.New(cfg, rb)
}

func benchEvent(src alertgate.Source, kind alertgate.Kind, labels map[string]string) alertgate.Event {
	ev := alertgate.Event{Source: src, Kind: kind, Key: string(src) + ":v1:bench", Episode: "e1", Status: alertgate.StatusFiring,
		Severity: alertgate.SeverityCritical, Labels: labels}
	ev.Finish()
	return ev
}

// BenchmarkClassifyRoute is the router's per-event matching: classify
// rules, the first matching route, the runbook choice.
func BenchmarkClassifyRoute(b *testing.B) {
	r := benchRouter(b)
	for _, c := range []struct {
		name string
		ev   alertgate.Event
		team string
	}{
		{"alertmanager_first_route", benchEvent(alertgate.SourceAlertmanager, alertgate.KindIncident, map[string]string{
			"alertname": "HighErrorRate", "service": "checkout", "instance": "10.0.3.17:8080", "job": "checkout-api", "namespace": "shop"}), "payments"},
		{"sentry_third_route", benchEvent(alertgate.SourceSentry, alertgate.KindBug, map[string]string{
			"service": "front-end", "environment": "production", "level": "error", "release": "front-end@2026.03.14", "browser": "Chrome 75"}), "frontend"},
		{"datadog_error_tracking", benchEvent(alertgate.SourceDatadog, alertgate.KindIncident, map[string]string{
			"service": "search", "env": "prod", "team": "search", "event_type": "error_tracking_alert", "host": "i-0abc", "priority": "P2"}), "platform"},
		{"catch_all", benchEvent(alertgate.SourceAlertmanager, alertgate.KindIncident, map[string]string{
			"alertname": "InstanceDown", "job": "node", "instance": "10.0.9.1:9100"}), "platform"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ev := c.ev
				r.Classify(&ev)
				if m := r.Route(ev); m.Team != c.team {
					b.Fatalf("team %q, want %q", m.Team, c.team)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
