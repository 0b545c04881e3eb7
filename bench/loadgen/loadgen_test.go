package loadgen_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/ingest/alertmanager"
	"github.com/alertgate/alertgate/ingest/datadog"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/ingest/sentry"
)

const fixtures = "../../testdata/fixtures"

// Every rendered body is accepted by alertgate's own parser, and distinct
// seqs give distinct keys, episodes and IDs.
func TestPayloadsParse(t *testing.T) {
	parse := map[loadgen.Source]func([]byte) ([]alertgate.Event, error){
		loadgen.Alertmanager: alertmanager.Parse,
		loadgen.Datadog:      datadog.Parse,
		loadgen.Events:       events.Parse,
		loadgen.Sentry:       func(b []byte) ([]alertgate.Event, error) { return sentry.Parse("event_alert", b) },
	}
	for src, fn := range parse {
		t.Run(string(src), func(t *testing.T) {
			p, err := loadgen.NewPayloads(src, 7, fixtures, time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			batch := min(3, src.MaxBatch())
			keys, ids := map[string]bool{}, map[string]bool{}
			for start := uint64(0); start < 6; start += uint64(batch) {
				seqs := make([]uint64, batch)
				for i := range seqs {
					seqs[i] = start + uint64(i)
				}
				evs, err := fn(p.Render(nil, seqs))
				if err != nil {
					t.Fatalf("%s body rejected: %v", src, err)
				}
				if len(evs) != batch {
					t.Fatalf("%d events, want %d", len(evs), batch)
				}
				for _, ev := range evs {
					keys[ev.Key], ids[ev.ID] = true, true
				}
			}
			if len(keys) != 6 || len(ids) != 6 {
				t.Fatalf("keys %d, ids %d, want 6 distinct of each", len(keys), len(ids))
			}
			// The same seq renders the same body: a repeat is a re-send.
			a, b := p.Render(nil, []uint64{1}), p.Render(nil, []uint64{1})
			if string(a) != string(b) {
				t.Fatal("a repeat renders a different body")
			}
		})
	}
}

func TestAlertmanagerAPIPayload(t *testing.T) {
	p, err := loadgen.NewPayloads(loadgen.AlertmanagerAPI, 7, fixtures, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var alerts []struct {
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
	}
	if err := json.Unmarshal(p.Render(nil, []uint64{3, 4}), &alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 || alerts[0].Labels["key"] == alerts[1].Labels["key"] || alerts[0].StartsAt.IsZero() {
		t.Fatalf("alerts %+v", alerts)
	}
	run, seq, ok := loadgen.ParseKeyID(alerts[1].Labels["key"])
	if !ok || run != 7 || seq != 4 {
		t.Fatalf("key %q: run %d seq %d ok %v", alerts[1].Labels["key"], run, seq, ok)
	}
}

// Run counts requests and alerts; storm keys are never repeated. Counts
// only, never timings.
func TestRunCounts(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := alertmanager.Parse(body)
		if err != nil || r.Header.Get("Authorization") != "Bearer t" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, ev := range evs {
			seen[ev.Key]++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(alertgate.PublishResult{Accepted: len(evs)})
	}))
	defer srv.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URL: srv.URL, Source: loadgen.Alertmanager, Workload: loadgen.Storm, Batch: 5, Concurrency: 2,
		Duration: 100 * time.Millisecond, Fixtures: fixtures, Header: http.Header{"Authorization": {"Bearer t"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Failed != 0 || res.Alerts != 5*res.OK || res.Accepted != res.Alerts {
		t.Fatalf("result %s", res)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("storm key %s sent %d times", k, n)
		}
	}
}

// A request the end of the window cancels before its answer reports its
// new keys as cut off. The target answers the warm-up and holds every
// request sent after the first measured keys.
func TestRunCutOff(t *testing.T) {
	var measured atomic.Bool
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		if measured.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	defer close(release)
	var mu sync.Mutex
	sent, cut := map[uint64]bool{}, map[uint64]bool{}
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		URL: srv.URL, Source: loadgen.Alertmanager, Workload: loadgen.Storm, Batch: 2, Concurrency: 1,
		Warmup: 10 * time.Millisecond, Duration: 50 * time.Millisecond, Fixtures: fixtures,
		OnNew: func(seq uint64, _ time.Time) {
			measured.Store(true)
			mu.Lock()
			sent[seq] = true
			mu.Unlock()
		},
		OnCutOff: func(seqs []uint64) {
			mu.Lock()
			for _, s := range seqs {
				cut[s] = true
			}
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if res.OK != 0 || len(sent) != 2 || len(cut) != 2 {
		t.Fatalf("ok %d, sent %v, cut off %v: want the one measured request's 2 keys sent and cut off", res.OK, sent, cut)
	}
	for s := range sent {
		if !cut[s] {
			t.Fatalf("key %d sent, not cut off", s)
		}
	}
}
