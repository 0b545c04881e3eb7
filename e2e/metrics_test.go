package e2e

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/alertgate/alertgate/internal/harness"
)

// scrape reads /metrics into families.
func scrape(t *testing.T, g *harness.Gateway) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(g.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the sample of name with exactly these labels (-1 if absent).
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels) {
			continue
		}
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// After the scripted stream, /metrics says what happened, exactly.
func TestMetricsAfterStream(t *testing.T) {
	g := harness.Start(t, harness.Options{Config: streamConfig(100)})
	s := mixedStream(t)
	s.Post(t, g)
	// One bad request and one unauthorized one.
	g.Post(t, "/v1/ingest/alertmanager", []byte(`{"alerts":`), nil)
	g.Post(t, "/v1/ingest/sentry", []byte(`{}`), map[string]string{"Sentry-Hook-Resource": "issue"})
	g.Settle(t)
	if code := g.Get(t, "/readyz", nil); code != http.StatusOK {
		t.Fatalf("readyz=%d", code)
	}

	perSource := map[string]int{}
	for _, st := range s.Steps {
		perSource[st.Path[len("/v1/ingest/"):]]++
	}
	fams := scrape(t, g)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"alertgate_ingest_requests_total", map[string]string{"source": "alertmanager", "code": "202"}, float64(perSource["alertmanager"])},
		{"alertgate_ingest_requests_total", map[string]string{"source": "sentry", "code": "202"}, float64(perSource["sentry"])},
		{"alertgate_ingest_requests_total", map[string]string{"source": "datadog", "code": "202"}, float64(perSource["datadog"])},
		{"alertgate_ingest_requests_total", map[string]string{"source": "alertmanager", "code": "400"}, 1},
		{"alertgate_ingest_requests_total", map[string]string{"source": "sentry", "code": "401"}, 1},
		{"alertgate_ingest_auth_failures_total", map[string]string{"source": "sentry"}, 1},
		{"alertgate_ingest_events_total", map[string]string{"source": "datadog", "result": "accepted"}, float64(perSource["datadog"])},
		{"alertgate_router_decisions_total", map[string]string{"kind": "incident", "outcome": "paged"}, wantEpisodes},
		{"alertgate_router_decisions_total", map[string]string{"kind": "incident", "outcome": "resolved"}, wantEpisodes},
		// Datadog Re-Triggered and Renotify, twice per cycle.
		{"alertgate_router_decisions_total", map[string]string{"kind": "incident", "outcome": "duplicate"}, 2 * 2 * 2},
		{"alertgate_router_decisions_total", map[string]string{"kind": "bug", "outcome": "new"}, 1},
		{"alertgate_router_decisions_total", map[string]string{"kind": "bug", "outcome": "regression"}, 1},
		{"alertgate_router_decisions_total", map[string]string{"kind": "bug", "outcome": "spike"}, 1},
		{"alertgate_notifications_total", map[string]string{"sink": "pagerduty", "type": "page", "state": "sent"}, wantEpisodes},
		{"alertgate_notifications_total", map[string]string{"sink": "pagerduty", "type": "resolve", "state": "sent"}, wantEpisodes},
		{"alertgate_delivery_attempts_total", map[string]string{"sink": "pagerduty", "result": "ok"}, 2 * wantEpisodes},
		{"alertgate_delivery_attempts_total", map[string]string{"sink": "pagerduty", "result": "retry"}, 0},
		{"alertgate_dead_letters_total", map[string]string{"sink": "pagerduty", "reason": "permanent"}, 0},
		{"alertgate_page_latency_seconds", nil, wantEpisodes},
		{"alertgate_pages_without_runbook_total", map[string]string{"team": "payments"}, 0},
		{"alertgate_http_panics_total", nil, 0},
		{"alertgate_ready", nil, 1},
	} {
		if got := value(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v=%v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
