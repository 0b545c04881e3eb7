// Command alertgate-load posts real webhook payloads at alertgate (or the
// same alerts at a real Alertmanager) at a fixed concurrency or rate, and
// prints accepted alerts per second and latency.
//
//	alertgate-load --url http://127.0.0.1:8080 --source alertmanager \
//	    --workload storm --batch 50 --concurrency 8 --duration 10s
//	alertgate-load --url http://127.0.0.1:9093 --source amapi --workload repeat --rate 5000
//
// Sources: alertmanager (v4 webhook), sentry (event_alert), datadog
// (monitor webhook), events (alertgate's JSON, kind bug), amapi
// (Alertmanager's /api/v2/alerts). Workloads: storm (every alert a new
// key), repeat (1,000 keys re-sent), mix (90% repeats, 10% new).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alertgate/alertgate/bench/loadgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alertgate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url      = fs.String("url", "http://127.0.0.1:8080", "target base URL (the source's path is added) or full endpoint URL")
		source   = fs.String("source", "alertmanager", "payload: alertmanager, sentry, datadog, events or amapi (Alertmanager /api/v2/alerts)")
		workload = fs.String("workload", "storm", "storm (every alert new), repeat (pool re-sent) or mix (90% repeats, 10% new)")
		batch    = fs.Int("batch", 1, "alerts per request (sentry and datadog: 1)")
		conc     = fs.Int("concurrency", 8, "requests in flight")
		duration = fs.Duration("duration", 10*time.Second, "measured window")
		warmup   = fs.Duration("warmup", time.Second, "unmeasured load before the window")
		rate     = fs.Float64("rate", 0, "alerts per second (paced, open loop); 0 = as fast as --concurrency allows")
		pool     = fs.Int("pool", 1000, "keys repeats come from")
		newFrac  = fs.Float64("new-fraction", 0.1, "share of new keys in mix")
		fixtures = fs.String("fixtures", "", "directory of the Sentry and Datadog fixtures (default: testdata/fixtures of the repository)")
		token    = fs.String("token", "", "bearer token (Authorization header)")
		secret   = fs.String("sentry-secret", "", "sign Sentry bodies with this client secret")
		asJSON   = fs.Bool("json", false, "print the result as JSON")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *fixtures == "" {
		*fixtures = findFixtures()
	}
	cfg := loadgen.Config{
		URL: *url, Source: loadgen.Source(*source), Workload: loadgen.Workload(*workload), Batch: *batch,
		Concurrency: *conc, Duration: *duration, Warmup: *warmup, Rate: *rate, Pool: *pool,
		NewFraction: *newFrac, Fixtures: *fixtures, SentrySecret: *secret,
	}
	if *token != "" {
		cfg.Header = http.Header{"Authorization": {"Bearer " + *token}}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "alertgate-load:", err)
		return 1
	}
	if *asJSON {
		out := map[string]any{
			"source": cfg.Source, "workload": cfg.Workload, "batch": cfg.Batch, "concurrency": cfg.Concurrency,
			"rate": cfg.Rate, "alerts_per_sec": res.AlertsPerSec(), "requests_per_sec": res.RequestsPerSec(),
			"result": res, "p50_ms": ms(res.P50), "p99_ms": ms(res.P99), "max_ms": ms(res.Max),
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		fmt.Fprintln(stdout, res.String())
	}
	if res.OK == 0 {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// findFixtures walks up from the working directory to the repository's
// testdata/fixtures.
func findFixtures() string {
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, "testdata", "fixtures")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir || strings.TrimSpace(parent) == "" {
			return filepath.Join("testdata", "fixtures")
		}
		dir = parent
	}
}
