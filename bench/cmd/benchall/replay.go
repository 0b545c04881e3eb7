package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/replay"
	"github.com/alertgate/alertgate/routes"
)

// Targets of the replay phase: a million stored events in under a minute
// on this machine, and at least 50,000 events/s.
const (
	targetReplayMillion = 60 * time.Second
	targetReplayRate    = 50_000
)

// replayKeys are the keys of the replayed history: a busy gateway's week.
const replayKeys = 20_000

// replayConfig is the live config of the replay phase; the candidate
// turns the checkout route to notify: digest.
const replayConfig = `
teams: [{name: payments}, {name: platform}]
dedup:
  flapping: {episodes: 4, within: 1h, quiet: 30m}
routes:
  - match: ['service="checkout"']
    team: payments
  - match: ['service="disk"']
    team: platform
    notify: digest
  - match: []
    team: platform
`

// replayResult is the replay phase: a history stored straight to ALERTS
// on alertgate's own embedded JetStream, then replayed through the live
// config and a candidate, in this process.
type replayResult struct {
	Events   int64         `json:"events"`
	Keys     int           `json:"keys"`
	Store    time.Duration `json:"store"`
	Took     time.Duration `json:"took"`
	PeakHeap uint64        `json:"peak_heap"`
	// LiveBefore is the live heap (as of the last collection) of this
	// process, the embedded server with the stored history included,
	// before the replay; PeakLive its peak during it.
	LiveBefore uint64 `json:"live_heap_before"`
	PeakLive   uint64 `json:"peak_live_heap"`
	Pages      int    `json:"pages_candidate"`
	Err        string `json:"error,omitempty"`
}

func (r *replayResult) perSec() float64 {
	if r.Took <= 0 {
		return 0
	}
	return float64(r.Events) / r.Took.Seconds()
}

func (b *bench) replayPhase(ctx context.Context) error {
	res := &replayResult{Keys: replayKeys}
	b.res.Replay = res
	err := runReplay(ctx, b.o.replayEvents, res, b.logf)
	if err != nil {
		res.Err = err.Error()
	}
	return err
}

func runReplay(ctx context.Context, n int, res *replayResult, logf func(string, ...any)) error {
	dir, err := os.MkdirTemp("", "alertgate-replay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.DiscardHandler)
	bs, err := bus.Open(ctx, bus.Options{DataDir: dir}, log)
	if err != nil {
		return err
	}
	defer bs.Close()
	start := time.Now().Add(-6 * 24 * time.Hour)
	t := time.Now()
	// One event every half second: a million events span six days.
	if err := loadgen.StoreHistory(ctx, bs, n, replayKeys, start, 500*time.Millisecond); err != nil {
		return fmt.Errorf("store the history: %w", err)
	}
	res.Store = time.Since(t)
	logf("replay: stored %d events in %s", n, res.Store.Round(time.Millisecond))
	cfg, err := config.Load([]byte(replayConfig), nil)
	if err != nil {
		return err
	}
	r := &replay.Runner{Bus: bs, Live: cfg, Routes: routes.New(cfg, nil), Logger: log, Metrics: metrics.New()}
	// The candidate turns the checkout route to notify: digest.
	candidate := []byte(strings.Replace(replayConfig, "    team: payments\n", "    team: payments\n    notify: digest\n", 1))

	// The heap's peak while it runs (garbage included), and the live
	// heap's (as of each collection): the replay keeps per-key state and
	// the window's pages, nothing per event.
	live := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	runtime.GC()
	rtmetrics.Read(live)
	res.LiveBefore = live[0].Value.Uint64()
	var peak, peakLive atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			rtmetrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peakLive.Load() {
				peakLive.Store(v)
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
	t = time.Now()
	rep, err := r.Replay(ctx, candidate, alertgate.ReplayQuery{Since: start, Limit: 100})
	res.Took = time.Since(t)
	close(done)
	if err != nil {
		return err
	}
	res.Events, res.PeakHeap, res.PeakLive = rep.Events, peak.Load(), peakLive.Load()
	for _, tm := range rep.Teams {
		res.Pages += tm.Candidate.Pages
	}
	if rep.Events != int64(n) {
		return fmt.Errorf("replayed %d events of %d", rep.Events, n)
	}
	logf("replay: %d events in %s (%s events/s), peak heap %s, live heap %s before, peak %s", n, res.Took.Round(time.Millisecond), num(res.perSec()), mb(int64(res.PeakHeap)), mb(int64(res.LiveBefore)), mb(int64(res.PeakLive)))
	return nil
}

// printReplay is the replay section and its checks.
func printReplay(w io.Writer, r *replayResult) []check {
	if r == nil {
		return nil
	}
	fmt.Fprintln(w, "### Replay: the stored history through the live config and a candidate")
	fmt.Fprintln(w)
	t := &table{head: []string{"events", "keys", "stored in", "replayed in", "events/s", "peak heap", "live heap before → peak", "target"}}
	if r.Err != "" {
		t.add(num(float64(r.Events)), fmt.Sprint(r.Keys), "error: "+truncate(r.Err, 80))
		t.print(w)
		return nil
	}
	million := time.Duration(float64(r.Took) * 1e6 / float64(max(r.Events, 1)))
	within := million < targetReplayMillion
	fast := r.perSec() >= targetReplayRate
	scaled := ""
	if r.Events != 1_000_000 {
		scaled = fmt.Sprintf(" (%s for 1M, scaled)", ms(million))
	}
	t.add(num(float64(r.Events)), fmt.Sprint(r.Keys), ms(r.Store), ms(r.Took)+scaled, num(r.perSec()), mb(int64(r.PeakHeap)),
		fmt.Sprintf("%s → %s", mb(int64(r.LiveBefore)), mb(int64(r.PeakLive))),
		fmt.Sprintf("1M in < 60 s: %s; ≥ 50,000 events/s: %s", verdict(within), verdict(fast)))
	t.print(w)
	fmt.Fprintln(w, "Stored straight to ALERTS (alertgate's bus, embedded JetStream, in batches), then one POST /v1/replay's work in this process: read with an ordered consumer, decoded, decided under both configs. Peak heap: HeapAlloc sampled every 100 ms, garbage included; live heap: as of the last collection (runtime/metrics /gc/heap/live:bytes), before the replay (the embedded server holding the stored history) and its peak during it.")
	fmt.Fprintln(w)
	return []check{
		{"replay: 1,000,000 stored events in under 60 s", ms(million) + scaled, within},
		{"replay: ≥ 50,000 events/s", num(r.perSec()) + " events/s", fast},
	}
}
