package ingest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/internal/metrics"
)

// eventsParser returns its events for any body, unchecked: a parser that
// forgot Validate, so that what JetStream refuses reaches JetStream.
type eventsParser []alertgate.Event

func (p eventsParser) Parse(*http.Request, []byte) ([]alertgate.Event, error) {
	return append([]alertgate.Event(nil), p...), nil
}

// A publish JetStream refuses for good is a 4xx naming the problem, so the
// source stops retrying; one that may pass later is a 503 with
// Retry-After. The edge's answer on a real embedded JetStream.
func TestPublishRefusalStatus(t *testing.T) {
	b, err := bus.Open(t.Context(), bus.Options{DataDir: t.TempDir(), Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	h := &ingest.Handler{
		Publisher: b, MaxBodyBytes: 1 << 20,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New(), Now: time.Now,
	}
	event := func(id string) alertgate.Event {
		return alertgate.Event{
			ID: id, Source: alertgate.SourceEvents, Kind: alertgate.KindBug, Key: "events:" + id,
			Status: alertgate.StatusFiring, Severity: alertgate.SeverityError, Title: "t",
			Labels: map[string]string{"source": "events"}, Count: 1,
		}
	}
	longKey := event("long-key")
	longKey.Key = "events:" + strings.Repeat("k", 64<<10)
	post := func(t *testing.T, evs ...alertgate.Event) (int, string, http.Header) {
		t.Helper()
		srv := h.Serve(ingest.Source{Name: alertgate.SourceEvents, Parser: eventsParser(evs)})
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(`{}`))))
		var e struct{ Error string }
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		return w.Code, e.Error, w.Header()
	}
	// An event over the server's max_payload cannot reach it from here:
	// Bound keeps every event far under it, and the bus splits a webhook's
	// events into messages that fit. bus's own tests cover that refusal.
	for _, tc := range []struct {
		name string
		evs  []alertgate.Event
		code int
		msg  string
	}{
		{"header over 64 KiB", []alertgate.Event{longKey}, http.StatusBadRequest, "header size exceeds maximum allowed of 64k (an id or key is too long)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg, hdr := post(t, tc.evs...)
			if code != tc.code {
				t.Fatalf("status=%d (%q), want %d", code, msg, tc.code)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Fatalf("error=%q, want it to name %q", msg, tc.msg)
			}
			if hdr.Get("Retry-After") != "" {
				t.Fatalf("Retry-After=%q on a permanent refusal", hdr.Get("Retry-After"))
			}
		})
	}
	info, err := b.Alerts.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Msgs; got != 0 {
		t.Fatalf("ALERTS holds %d messages after refusals, want 0", got)
	}

	// A good event is still taken; then, with JetStream gone, 503.
	if code, msg, _ := post(t, event("good")); code != http.StatusAccepted {
		t.Fatalf("good event: status=%d (%q), want 202", code, msg)
	}
	b.NC.Close()
	code, msg, hdr := post(t, event("later"))
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(msg, "retry") {
		t.Fatalf("JetStream gone: status=%d, Retry-After=%q, error=%q; want 503 asking for a retry", code, hdr.Get("Retry-After"), msg)
	}
}
