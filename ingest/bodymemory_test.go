package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/internal/metrics"
)

// memoryPublisher stores every event as new and remembers bodies, as
// bus.Bus does (without the expiry).
type memoryPublisher struct {
	mu     sync.Mutex
	bodies map[string]int
}

func (p *memoryPublisher) PublishEvents(_ context.Context, evs []alertgate.Event) (alertgate.PublishResult, error) {
	return alertgate.PublishResult{Accepted: len(evs)}, nil
}

func (p *memoryPublisher) BodySeen(src alertgate.Source, body []byte) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.bodies[string(src)+"\x00"+string(body)]
	return n, ok
}

func (p *memoryPublisher) RememberBody(src alertgate.Source, body []byte, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bodies[string(src)+"\x00"+string(body)] = n
}

var _ ingest.BodyMemory = (*memoryPublisher)(nil)

// countingParser returns the same events for every body and counts the
// bodies it parsed.
type countingParser struct {
	events []alertgate.Event
	parses int
}

func (p *countingParser) Parse(*http.Request, []byte) ([]alertgate.Event, error) {
	p.parses++
	return append([]alertgate.Event(nil), p.events...), nil
}

// A re-sent body is answered from the publisher's memory without being
// parsed, for a source whose events depend on the body alone; any other
// source parses every request.
func TestBodyMemory(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bodyOnly   bool
		wantParses int
	}{
		{name: "body-only source", bodyOnly: true, wantParses: 1},
		{name: "source that reads headers", bodyOnly: false, wantParses: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parser := &countingParser{events: []alertgate.Event{{ID: "a"}, {ID: "b"}}}
			h := &ingest.Handler{
				Publisher: &memoryPublisher{bodies: map[string]int{}}, MaxBodyBytes: 1 << 20,
				Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New(), Now: time.Now,
			}
			srv := h.Serve(ingest.Source{
				Name: alertgate.SourceEvents, BodyOnly: tc.bodyOnly, Parser: parser,
			})
			var got []string
			for range 2 {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(`{"same":"bytes"}`))))
				if w.Code != http.StatusAccepted {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				var r alertgate.PublishResult
				_ = json.Unmarshal(w.Body.Bytes(), &r)
				got = append(got, string(must(json.Marshal(r))))
			}
			if parser.parses != tc.wantParses {
				t.Fatalf("parsed %d times, want %d", parser.parses, tc.wantParses)
			}
			if tc.bodyOnly && got[1] != `{"accepted":0,"duplicates":2}` {
				t.Fatalf("re-send answered %s, want both events as duplicates", got[1])
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
