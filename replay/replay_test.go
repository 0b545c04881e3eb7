package replay

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/routes"
)

// benchConfig routes History's services: checkout pages payments, disk is
// digest only, the rest pages platform; flap damping on.
const benchConfig = `
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

func runner(t testing.TB, now time.Time) *Runner {
	t.Helper()
	cfg, err := config.Load([]byte(benchConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Live: cfg, Routes: routes.New(cfg, nil), Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Now: func() time.Time { return now }}
}

// A second replay while one runs is refused at once, and counted.
func TestReplayOneAtATime(t *testing.T) {
	r := runner(t, time.Now())
	r.busy.Lock()
	_, err := r.Replay(t.Context(), []byte(benchConfig), alertgate.ReplayQuery{})
	if alertgate.ErrorCode(err) != alertgate.ECONFLICT {
		t.Fatalf("err=%v, want ECONFLICT", err)
	}
	if n := testutil.ToFloat64(r.Metrics.ReplayRuns.WithLabelValues("busy")); n != 1 {
		t.Fatalf("busy replays counted %v, want 1", n)
	}
}

// BenchmarkReplay replays a stored history of 100,000 events (2,000 keys)
// through two configs: what one core does per event, reading included.
func BenchmarkReplay(b *testing.B) {
	const n, keys = 100_000, 2_000
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	bs := natstest.OpenBus(b, b.TempDir())
	ctx, cancel := context.WithTimeout(b.Context(), 2*time.Minute)
	defer cancel()
	if err := loadgen.StoreHistory(ctx, bs, n, keys, start, time.Second); err != nil {
		b.Fatal(err)
	}
	now := start.Add(n * time.Second)
	r := runner(b, now)
	r.Bus = bs
	q := alertgate.ReplayQuery{Since: start, Until: now}
	b.ResetTimer()
	for b.Loop() {
		rep, err := r.Replay(ctx, []byte(benchConfig), q)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Events != n {
			b.Fatalf("replayed %d events, want %d", rep.Events, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
