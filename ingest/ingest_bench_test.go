package ingest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/internal/metrics"
)

// stored acknowledges every event at once, so that the benchmark measures
// the edge and the parser, not JetStream.
type stored struct{}

func (stored) PublishEvents(_ context.Context, evs []alertgate.Event) (alertgate.PublishResult, error) {
	return alertgate.PublishResult{Accepted: len(evs)}, nil
}

// payloadParser parses a source's bodies as the CLI reads saved ones.
type payloadParser alertgate.Source

func (p payloadParser) Parse(_ *http.Request, body []byte) ([]alertgate.Event, error) {
	return ingest.ParsePayload(alertgate.Source(p), "", body)
}

// BenchmarkServe is one Alertmanager webhook through the HTTP edge: request
// id, body read, auth, parse, publish and the 202 response.
func BenchmarkServe(b *testing.B) {
	body, err := os.ReadFile("../testdata/fixtures/alertmanager_v4.json")
	if err != nil {
		b.Fatal(err)
	}
	h := &ingest.Handler{
		Publisher:    stored{},
		MaxBodyBytes: 1 << 20,
		Log:          slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:      metrics.New(),
		Now:          time.Now,
	}
	srv := h.Serve(ingest.Source{
		Name:   alertgate.SourceAlertmanager,
		Auth:   ingest.TokenAuth("bench-token"),
		Parser: payloadParser(alertgate.SourceAlertmanager),
	})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/ingest/alertmanager", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer bench-token")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
