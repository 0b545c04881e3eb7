// Command benchall runs alertgate's whole benchmark in one invocation and
// prints one table: the ceilings of the machine (raw JetStream publish on
// alertgate's own embedded-server settings, a bare net/http handler),
// alertgate's accepted alerts/s per workload, a real Alertmanager fed the
// same alerts, end-to-end latency to a loopback PagerDuty, the storm and
// end-to-end latency again with 1,000 silences and 100 inhibit rules
// against the same runs without them, and again with related signals on
// every page against the same runs with correlation off, memory and start
// time, the Go micro-benchmarks, and where the CPU time goes (pprof).
// Every figure is measured in the same run; none is hard-coded.
//
//	go build -o bin/alertgate ./cmd/alertgate && go run ./bench/cmd/benchall
//
// (`make bench-full`, see bench/bench.mk.) It also serves as its own child
// processes: `benchall bare-http ADDR` (the HTTP ceiling) and `benchall
// gateway CONFIG CPU HEAP` (alertgate in-process with pprof profiles).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alertgate/alertgate/bench/loadgen"
)

type options struct {
	root, alertgateBin, alertmanagerBin, out string
	// alertmanagerBaseline is a second, older Alertmanager measured on
	// the storm only (empty: none).
	alertmanagerBaseline              string
	duration, warmup, ceilingDuration time.Duration
	e2eDuration, e2eWait, memBudget   time.Duration
	e2eRate                           float64
	concurrency, bigBatch             int
	memClasses, memChunk              int
	abRounds                          int
	replayEvents                      int
	abProfile                         bool
	benchtime                         string
	skip                              map[string]bool
	logs                              bool
}

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "bare-http":
			err = serveBare(os.Args[2:])
		case "forward":
			err = serveForward(os.Args[2:])
		case "kv-floor":
			err = runKVFloor(os.Args[2:])
		case "gateway":
			err = serveProfiled(os.Args[2:])
		default:
			os.Exit(runAll(os.Args[1:]))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchall:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(runAll(nil))
}

func runAll(args []string) int {
	fs := flag.NewFlagSet("benchall", flag.ContinueOnError)
	var o options
	var skip string
	fs.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	fs.StringVar(&o.alertgateBin, "alertgate", "bin/alertgate", "alertgate binary (relative to the root)")
	fs.StringVar(&o.alertmanagerBin, "alertmanager", ".tools/bin/alertmanager", "Alertmanager binary (relative to the root; make tools)")
	fs.StringVar(&o.alertmanagerBaseline, "alertmanager-baseline", "", "an older Alertmanager binary, run on the 1 alert/request storm as a second column (empty: none)")
	fs.StringVar(&o.out, "out", "", "directory for profiles and results.json (default: a new temp dir)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured window of each load run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each window")
	fs.DurationVar(&o.ceilingDuration, "ceiling-duration", 3*time.Second, "measured window of each ceiling")
	fs.DurationVar(&o.e2eDuration, "e2e-duration", 5*time.Second, "paced load of the end-to-end runs")
	fs.DurationVar(&o.e2eWait, "e2e-wait", 30*time.Second, "how long to wait for the last notifications after the end-to-end load")
	fs.Float64Var(&o.e2eRate, "e2e-rate", 0, "alerts/s offered to alertgate and the floor in the end-to-end phase instead of half its storm maximum (to study latency without the ingest phase)")
	fs.DurationVar(&o.memBudget, "mem-budget", 240*time.Second, "time allowed to feed bug classes in the memory phase")
	fs.IntVar(&o.memClasses, "mem-classes", 1_000_000, "bug classes of the memory phase")
	fs.IntVar(&o.replayEvents, "replay-events", 1_000_000, "events stored and replayed in the replay phase")
	fs.IntVar(&o.memChunk, "mem-chunk", 20_000, "bug classes posted between RSS samples")
	fs.IntVar(&o.abRounds, "ab-rounds", abRounds, "rounds of each A/B phase (holds, related), each a run without then with the feature")
	fs.IntVar(&o.abRounds, "holds-rounds", abRounds, "the former name of --ab-rounds")
	fs.BoolVar(&o.abProfile, "ab-profile", false, "after each A/B phase's rounds, one more end-to-end run per variant on a CPU-profiled alertgate, and where \"with\" spends more")
	fs.IntVar(&o.concurrency, "concurrency", 8, "requests in flight of every load run")
	fs.IntVar(&o.bigBatch, "batch", 50, "alerts per request of the batched runs")
	fs.StringVar(&o.benchtime, "benchtime", "300ms", "go test -benchtime of the micro-benchmarks")
	fs.StringVar(&skip, "skip", "", "phases to skip, comma-separated: micro,ceiling,ingest,e2e,holds,related,memory,replay,profile; alertmanager skips the Alertmanager runs")
	fs.BoolVar(&o.logs, "logs", false, "keep each alertgate's JSON log in the out dir")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o.skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.skip[s] = true
		}
	}
	if o.root == "" {
		o.root = findRoot()
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(o.root, p)
	}
	o.alertgateBin, o.alertmanagerBin = abs(o.alertgateBin), abs(o.alertmanagerBin)
	if o.alertmanagerBaseline != "" {
		o.alertmanagerBaseline = abs(o.alertmanagerBaseline)
	}
	if o.out == "" {
		d, err := os.MkdirTemp("", "alertgate-bench-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchall:", err)
			return 1
		}
		o.out = d
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchall:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := &bench{o: o, t0: time.Now(), res: &results{Started: time.Now().UTC(), Command: strings.Join(os.Args, " ")}}
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "benchall:", err)
		return 1
	}
	return 0
}

// findRoot walks up to the directory holding go.mod.
func findRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

type bench struct {
	o      options
	t0     time.Time
	res    *results
	self   string
	pd     *pagerDuty
	hook   *webhookReceiver
	tokens tokens
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(b.t0).Seconds(), fmt.Sprintf(format, args...))
}

func randomToken() string {
	var buf [16]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

func (b *bench) run(ctx context.Context) error {
	o := b.o
	for _, p := range []string{o.alertgateBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: %w (build it: go build -o bin/alertgate ./cmd/alertgate)", p, err)
		}
	}
	if !o.skip["alertmanager"] {
		if _, err := os.Stat(o.alertmanagerBin); err != nil {
			return fmt.Errorf("%s: %w (make tools installs it)", o.alertmanagerBin, err)
		}
		if o.alertmanagerBaseline != "" {
			if _, err := os.Stat(o.alertmanagerBaseline); err != nil {
				return fmt.Errorf("%s: %w (make bench installs it)", o.alertmanagerBaseline, err)
			}
		}
	}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	b.tokens = tokens{Alertmanager: randomToken(), Datadog: randomToken(), Events: randomToken(), SentrySecret: randomToken()}
	b.pd = newPagerDuty()
	defer b.pd.Close()
	b.hook = newWebhookReceiver()
	defer b.hook.Close()
	b.res.Machine = machine(o.root, o.alertgateBin, o.alertmanagerBin)
	if o.alertmanagerBaseline != "" && !o.skip["alertmanager"] {
		b.res.Machine.AlertmanagerBaseline = moduleVersion(o.alertmanagerBaseline)
	}
	b.res.Settings = settings{Concurrency: o.concurrency, Batch: o.bigBatch, Duration: o.duration, Warmup: o.warmup,
		CeilingDuration: o.ceilingDuration, E2EDuration: o.e2eDuration}
	b.logf("machine: %s", b.res.Machine.String())
	b.logf("out dir: %s", o.out)

	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"micro", b.microPhase},
		{"ceiling", b.ceilingPhase},
		{"ingest", b.ingestPhase},
		{"e2e", b.e2ePhase},
		{"holds", b.holdsPhase},
		{"related", b.relatedPhase},
		{"memory", b.memoryPhase},
		{"replay", b.replayPhase},
		{"profile", b.profilePhase},
	}
	for _, p := range phases {
		if o.skip[p.name] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.Now()
		b.logf("phase %s", p.name)
		if err := p.fn(ctx); err != nil {
			b.logf("phase %s failed: %v", p.name, err)
			b.res.Errors = append(b.res.Errors, p.name+": "+err.Error())
		}
		b.res.PhaseTimes = append(b.res.PhaseTimes, phaseTime{p.name, time.Since(t)})
	}
	b.res.Total = time.Since(b.t0)
	if f, err := os.Create(filepath.Join(o.out, "results.json")); err == nil {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		_ = enc.Encode(b.res)
		f.Close()
	}
	printReport(os.Stdout, b.res, o)
	return nil
}

func (b *bench) fixtures() string { return filepath.Join(b.o.root, "testdata", "fixtures") }

// load runs one load against url with the bench's settings.
func (b *bench) load(ctx context.Context, url string, src loadgen.Source, w loadgen.Workload, batch int, mod func(*loadgen.Config)) (loadgen.Result, error) {
	cfg := loadgen.Config{
		URL: url, Source: src, Workload: w, Batch: batch, Concurrency: b.o.concurrency,
		Duration: b.o.duration, Warmup: b.o.warmup, Fixtures: b.fixtures(),
	}
	switch src {
	case loadgen.Alertmanager:
		cfg.Header = http.Header{"Authorization": {"Bearer " + b.tokens.Alertmanager}}
	case loadgen.Datadog:
		cfg.Header = http.Header{"Authorization": {"Bearer " + b.tokens.Datadog}}
	case loadgen.Events:
		cfg.Header = http.Header{"Authorization": {"Bearer " + b.tokens.Events}}
	case loadgen.Sentry:
		cfg.SentrySecret = b.tokens.SentrySecret
	}
	if mod != nil {
		mod(&cfg)
	}
	res, err := loadgen.Run(ctx, cfg)
	if err == nil && res.OK == 0 {
		err = fmt.Errorf("no request succeeded: %s", res.FirstError)
	}
	return res, err
}

func (b *bench) agOpts(name string) alertgateOpts {
	logFile := ""
	if b.o.logs && name != "" {
		logFile = filepath.Join(b.o.out, "alertgate-"+name+".log")
	}
	return alertgateOpts{
		bin: b.o.alertgateBin, root: b.o.root, configTemplate: filepath.Join(b.o.root, "bench", "alertgate.yaml"),
		pdURL: b.pd.URL, tokens: b.tokens, logFile: logFile,
	}
}

func (b *bench) startAlertgate(name string) (*proc, error) {
	return startAlertgate(b.agOpts(name))
}

// ---- phases ----

func (b *bench) microPhase(ctx context.Context) error {
	res, out, err := runMicro(b.o.root, b.o.benchtime)
	_ = os.WriteFile(filepath.Join(b.o.out, "micro.txt"), []byte(out), 0o644)
	b.res.Micro = res
	b.logf("micro-benchmarks: %d results", len(res))
	if err != nil {
		return fmt.Errorf("go test -bench: %w\n%s", err, lastLines(out, 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (b *bench) ceilingPhase(ctx context.Context) error {
	data, key, err := sampleEvent(b.fixtures())
	if err != nil {
		return err
	}
	for _, mode := range []string{"sync", "async"} {
		r := jetStreamCeiling(ctx, mode, b.o.concurrency, b.o.bigBatch, b.o.ceilingDuration, b.o.warmup/2, data, key)
		b.logf("JetStream %s publish: %.0f msg/s (%d B messages) %s", mode, r.PerSec(), r.MsgSize, r.Err)
		if mode == "sync" {
			b.res.JSSync = r
		} else {
			b.res.JSAsync = r
		}
	}
	// A batched webhook is stored as one message holding its events: the
	// same sync publish, with a message of bigBatch events.
	batched := append([]byte{'['}, data...)
	for range b.o.bigBatch - 1 {
		batched = append(append(batched, ','), data...)
	}
	batched = append(batched, ']')
	r := jetStreamCeiling(ctx, "sync", b.o.concurrency, b.o.bigBatch, b.o.ceilingDuration, b.o.warmup/2, batched, key)
	b.logf("JetStream sync publish of %d-event messages: %.0f msg/s (%d B messages) %s", b.o.bigBatch, r.PerSec(), r.MsgSize, r.Err)
	b.res.JSSyncBatched = r
	bare, err := startBare(b.self)
	if err != nil {
		return err
	}
	defer bare.stop()
	b.res.BareReady = bare.ready
	b.res.BareIdle = bare.mem()
	b.res.Bare = map[int]loadgen.Result{}
	for _, batch := range []int{1, b.o.bigBatch} {
		r, err := b.load(ctx, bare.url+"/v1/ingest/alertmanager", loadgen.Alertmanager, loadgen.Storm, batch, func(c *loadgen.Config) {
			c.Duration = b.o.ceilingDuration
			c.Warmup = b.o.warmup / 2
		})
		if err != nil {
			return err
		}
		b.logf("bare net/http: %s", r)
		b.res.Bare[batch] = r
	}
	return nil
}

// ingestRun is one load run against a fresh process.
type ingestRun struct {
	Source   loadgen.Source   `json:"source"`
	Workload loadgen.Workload `json:"workload"`
	Batch    int              `json:"batch"`
	Result   loadgen.Result   `json:"result"`
	Ready    time.Duration    `json:"ready"`
	Mem      mem              `json:"mem_after"`
	CPU      time.Duration    `json:"cpu"` // target's CPU time over warm-up and window
	Notified int64            `json:"notified"`
	Err      string           `json:"err,omitempty"`
}

// ingestPhase runs every workload on a fresh alertgate and, for the
// Alertmanager payloads, right after it on a fresh real Alertmanager fed
// the same alerts: the two runs of a pair are adjacent, so a drift in the
// machine's speed moves both.
func (b *bench) ingestPhase(ctx context.Context) error {
	type job struct {
		src   loadgen.Source
		w     loadgen.Workload
		batch int
		// baseline: the run is the older Alertmanager's.
		baseline bool
	}
	var jobs []job
	for _, batch := range []int{1, b.o.bigBatch} {
		for _, w := range loadgen.Workloads {
			jobs = append(jobs, job{src: loadgen.Alertmanager, w: w, batch: batch})
			if !b.o.skip["alertmanager"] {
				jobs = append(jobs, job{src: loadgen.AlertmanagerAPI, w: w, batch: batch})
				if b.o.alertmanagerBaseline != "" && w == loadgen.Storm && batch == 1 {
					jobs = append(jobs, job{src: loadgen.AlertmanagerAPI, w: w, batch: batch, baseline: true})
				}
			}
		}
	}
	for _, src := range []loadgen.Source{loadgen.Sentry, loadgen.Datadog} {
		for _, w := range loadgen.Workloads {
			jobs = append(jobs, job{src: src, w: w, batch: 1})
		}
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		switch {
		case j.baseline:
			err = b.alertmanagerRun(ctx, b.o.alertmanagerBaseline, &b.res.AlertmanagerBaseline, j.w, j.batch)
		case j.src == loadgen.AlertmanagerAPI:
			err = b.alertmanagerRun(ctx, b.o.alertmanagerBin, &b.res.Alertmanager, j.w, j.batch)
		default:
			err = b.alertgateRun(ctx, j.src, j.w, j.batch)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) alertgateRun(ctx context.Context, src loadgen.Source, w loadgen.Workload, batch int) error {
	p, err := b.startAlertgate(fmt.Sprintf("%s-%s-%d", src, w, batch))
	if err != nil {
		return err
	}
	defer p.stop()
	b.res.AlertgateReady = append(b.res.AlertgateReady, p.ready)
	var pages0 int64
	var cpu0 time.Duration
	r, err := b.load(ctx, p.url, src, w, batch, func(c *loadgen.Config) {
		c.AfterPrime = b.primed(p.url, c.Pool)
		// CPU and pages are counted from the warm-up on (after the pool).
		c.OnWarmup = func() { pages0, cpu0 = b.pd.events.Load(), cpuTime(p.pid()) }
	})
	run := ingestRun{Source: src, Workload: w, Batch: batch, Result: r, Ready: p.ready, Mem: p.mem(),
		CPU: cpuTime(p.pid()) - cpu0, Notified: b.pd.events.Load() - pages0}
	if err != nil {
		run.Err = err.Error()
	}
	b.res.Ingest = append(b.res.Ingest, run)
	b.logf("alertgate %s (rss %s, cpu %.1fs)", r, mb(run.Mem.RSS), run.CPU.Seconds())
	return nil
}

// alertmanagerRun runs workload w on a fresh Alertmanager bin and appends
// the run to runs.
func (b *bench) alertmanagerRun(ctx context.Context, bin string, runs *[]ingestRun, w loadgen.Workload, batch int) error {
	p, err := startAlertmanager(bin, filepath.Join(b.o.root, "bench", "alertmanager.yml"), b.hook.URL)
	if err != nil {
		return err
	}
	defer p.stop()
	b.res.AlertmanagerReady = append(b.res.AlertmanagerReady, p.ready)
	if b.res.AlertmanagerIdle.RSS == 0 {
		time.Sleep(2 * time.Second)
		b.res.AlertmanagerIdle = p.mem()
	}
	var hooks0 int64
	var cpu0 time.Duration
	r, err := b.load(ctx, p.url, loadgen.AlertmanagerAPI, w, batch, func(c *loadgen.Config) {
		// Alertmanager notifies the pool's new groups at once
		// (group_wait 0s): wait until those webhooks stop.
		c.AfterPrime = func(ctx context.Context) error { return waitQuiet(ctx, &b.hook.alerts, time.Second, 15*time.Second) }
		c.OnWarmup = func() { hooks0, cpu0 = b.hook.alerts.Load(), cpuTime(p.pid()) }
	})
	run := ingestRun{Source: loadgen.AlertmanagerAPI, Workload: w, Batch: batch, Result: r, Ready: p.ready,
		Mem: p.mem(), CPU: cpuTime(p.pid()) - cpu0, Notified: b.hook.alerts.Load() - hooks0}
	if err != nil {
		run.Err = err.Error()
	}
	*runs = append(*runs, run)
	b.logf("Alertmanager %s %s (rss %s, cpu %.1fs)", moduleVersion(bin), r, mb(run.Mem.RSS), run.CPU.Seconds())
	return nil
}

// primed waits until alertgate has routed the repeat pool and delivered
// its pages, so that a repeat window measures repeats only.
func (b *bench) primed(url string, pool int) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := waitDecisions(ctx, url, pool, 30*time.Second); err != nil {
			return err
		}
		return waitQuiet(ctx, &b.pd.events, 500*time.Millisecond, 30*time.Second)
	}
}

// waitDecisions waits until the router made at least n decisions.
func waitDecisions(ctx context.Context, url string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		d, err := metricSum(ctx, url, "alertgate_router_decisions_total")
		if err == nil && int(d) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router decided %.0f of %d events in %s", d, n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitQuiet waits until counter did not move for quiet (at most limit).
func waitQuiet(ctx context.Context, counter *atomic.Int64, quiet, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	last, since := counter.Load(), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if v := counter.Load(); v != last {
			last, since = v, time.Now()
		}
	}
	return nil
}

// e2eResult is the end-to-end latency of one system.
type e2eResult struct {
	Rate      float64        `json:"rate"` // alerts/s offered
	Basis     string         `json:"basis"`
	Load      loadgen.Result `json:"load"`
	Sent      int            `json:"sent"`
	Delivered int            `json:"delivered"`
	Waited    time.Duration  `json:"waited"`
	P50       time.Duration  `json:"p50"`
	P99       time.Duration  `json:"p99"`
	Max       time.Duration  `json:"max"`
	// Undelivered keys count as slower than Max: a p99 among them is
	// reported as "over Waited".
	P99Undelivered bool  `json:"p99_undelivered"`
	Invalid        int64 `json:"invalid_pagerduty_requests"`
	// CutOff keys were in requests the end of the load cancelled before
	// their answer: not in Sent (alertgate may or may not have taken them).
	CutOff int    `json:"cut_off,omitempty"`
	Err    string `json:"err,omitempty"`
}

func (b *bench) maxRate(runs []ingestRun, src loadgen.Source) float64 {
	for _, r := range runs {
		if r.Source == src && r.Workload == loadgen.Storm && r.Batch == 1 && r.Err == "" {
			return r.Result.AlertsPerSec()
		}
	}
	return 0
}

func (b *bench) e2ePhase(ctx context.Context) error {
	var errs []error
	// alertgate
	rate, basis := b.maxRate(b.res.Ingest, loadgen.Alertmanager), "50%% of alertgate's storm max (%.0f alerts/s, 1 per request)"
	if b.o.e2eRate > 0 {
		rate, basis = 2*b.o.e2eRate, "--e2e-rate (half of it: %.0f alerts/s)"
	}
	if rate > 0 {
		r, err := b.e2eAlertgate(ctx, rate/2)
		r.Basis = fmt.Sprintf(basis, rate)
		b.res.E2EAlertgate = &r
		errs = append(errs, err)
		// The same rate through a process that stores and decides nothing:
		// the floor the harness and the machine set.
		if ctx.Err() == nil {
			f, err := b.e2eFloor(ctx, rate/2)
			f.Basis = "alertgate's rate, through a bare forwarder (webhook → 202, one PagerDuty request per alert; nothing stored)"
			b.res.E2EFloor = &f
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, errors.New("no alertgate storm rate measured (ingest phase)"))
	}
	// Also at half the rate alertgate delivered pages during that storm:
	// the latency of the pipeline when it is not queueing.
	if pages := b.pageRate(); pages > 0 && ctx.Err() == nil {
		r, err := b.e2eAlertgate(ctx, pages/2)
		r.Basis = fmt.Sprintf("50%% of the pages/s alertgate delivered during its storm run (%.0f pages/s)", pages)
		b.res.E2EAlertgateSustained = &r
		errs = append(errs, err)
	}
	if rate := b.maxRate(b.res.Alertmanager, loadgen.AlertmanagerAPI); rate > 0 {
		r, err := b.e2eAlertmanager(ctx, rate/2)
		r.Basis = fmt.Sprintf("50%% of Alertmanager's storm max (%.0f alerts/s, 1 per request)", rate)
		b.res.E2EAlertmanager = &r
		errs = append(errs, err)
	} else if !b.o.skip["alertmanager"] {
		errs = append(errs, errors.New("no Alertmanager storm rate measured"))
	}
	return errors.Join(errs...)
}

// pageRate is pages/s that reached the loopback PagerDuty during
// alertgate's storm run of 1 alert per request (warm-up and window).
func (b *bench) pageRate() float64 {
	for _, r := range b.res.Ingest {
		if r.Source == loadgen.Alertmanager && r.Workload == loadgen.Storm && r.Batch == 1 && r.Err == "" {
			return float64(r.Notified) / (b.o.warmup + r.Result.Elapsed).Seconds()
		}
	}
	return 0
}

func (b *bench) paced(ctx context.Context, url string, src loadgen.Source, rate float64, tr *tracker) (loadgen.Result, error) {
	return b.load(ctx, url, src, loadgen.Storm, 1, func(c *loadgen.Config) {
		c.Rate, c.Duration, c.Run, c.OnNew, c.OnCutOff = rate, b.o.e2eDuration, tr.run, tr.Sent, tr.CutOff
	})
}

// waitDelivered waits until every tracked key arrived, or nothing arrived
// for 5 s, or e2eWait passed.
func (b *bench) waitDelivered(tr *tracker) time.Duration {
	t0 := time.Now()
	last, lastChange := -1, time.Now()
	for time.Since(t0) < b.o.e2eWait {
		sent, arrived := tr.Counts()
		if arrived >= sent {
			break
		}
		if arrived != last {
			last, lastChange = arrived, time.Now()
		} else if time.Since(lastChange) > 5*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(t0)
}

func (r *e2eResult) fill(tr *tracker, load loadgen.Result, waited time.Duration) {
	r.Load, r.Waited = load, waited
	r.Sent, r.Delivered = tr.Counts()
	r.CutOff = tr.CutOffs()
	lat := tr.Latencies()
	r.P50, _, r.Max = loadgen.Percentiles(lat)
	// p99 over every sent key, undelivered ones counting as infinitely slow.
	if r.Sent > 0 {
		i := int(0.99*float64(r.Sent-1) + 0.5)
		if i < len(lat) {
			r.P99 = lat[i]
		} else {
			r.P99, r.P99Undelivered = waited, true
		}
		if j := int(0.5*float64(r.Sent-1) + 0.5); j >= len(lat) {
			r.P50 = waited
		}
	}
}

func runID() uint64 { return uint64(time.Now().UnixNano()>>20)&0xffe | 1 }

func (b *bench) e2eAlertgate(ctx context.Context, rate float64) (e2eResult, error) {
	p, err := b.startAlertgate("e2e")
	if err != nil {
		return e2eResult{Rate: rate}, err
	}
	defer p.stop()
	return b.e2eToPagerDuty(ctx, "alertgate", p.url, rate)
}

// e2eToPagerDuty sends Alertmanager webhooks to url at rate and times each
// alert until its page reaches the loopback PagerDuty, which validates
// every request meanwhile.
func (b *bench) e2eToPagerDuty(ctx context.Context, name, url string, rate float64) (e2eResult, error) {
	res := e2eResult{Rate: rate}
	tr := newTracker(runID())
	b.pd.validate.Store(true)
	b.pd.track.Store(tr)
	inv0 := b.pd.invalid.Load()
	defer func() { b.pd.track.Store(nil); b.pd.validate.Store(false) }()
	load, err := b.paced(ctx, url, loadgen.Alertmanager, rate, tr)
	if err != nil {
		return res, err
	}
	res.fill(tr, load, b.waitDelivered(tr))
	res.Invalid = b.pd.invalid.Load() - inv0
	b.logf("e2e %s @ %.0f/s: sent %d delivered %d p50 %s p99 %s max %s (invalid PD requests %d)", name, rate, res.Sent, res.Delivered, res.P50, res.P99, res.Max, res.Invalid)
	return res, nil
}

func (b *bench) e2eAlertmanager(ctx context.Context, rate float64) (e2eResult, error) {
	res := e2eResult{Rate: rate}
	p, err := startAlertmanager(b.o.alertmanagerBin, filepath.Join(b.o.root, "bench", "alertmanager.yml"), b.hook.URL)
	if err != nil {
		return res, err
	}
	defer p.stop()
	tr := newTracker(runID())
	b.hook.track.Store(tr)
	defer b.hook.track.Store(nil)
	load, err := b.paced(ctx, p.url, loadgen.AlertmanagerAPI, rate, tr)
	if err != nil {
		return res, err
	}
	res.fill(tr, load, b.waitDelivered(tr))
	b.logf("e2e Alertmanager @ %.0f/s: sent %d delivered %d p50 %s p99 %s max %s", rate, res.Sent, res.Delivered, res.P50, res.P99, res.Max)
	return res, nil
}

// memResult is the memory and start phase.
type memResult struct {
	Ready      []time.Duration `json:"ready"`
	Idle       mem             `json:"idle"`
	Samples    []memSample     `json:"samples"`
	Target     int             `json:"target"`
	Classes    int             `json:"classes"` // decided by the router
	Elapsed    time.Duration   `json:"elapsed"`
	Final      mem             `json:"final"`
	Projected  int64           `json:"projected_rss"` // at Target, linear fit; 0 if Target was reached
	FitFrom    int             `json:"fit_from"`
	SlopeBytes float64         `json:"slope_bytes_per_class"`
	DiskBytes  int64           `json:"disk_bytes"`
	// Heap is the heap profile taken at the end, and HeapTop its largest
	// in-use entries.
	Heap       string       `json:"heap,omitempty"`
	HeapTop    []pprofEntry `json:"heap_top,omitempty"`
	HeapHeader []string     `json:"heap_header,omitempty"`
	// Reads are the operator's views of the bug classes, fetched once
	// the classes are in, and AfterReads the RSS after them.
	Reads      []memRead `json:"reads,omitempty"`
	AfterReads mem       `json:"after_reads"`
	// Floor is the same number of classes' state entries alone in an
	// embedded JetStream (benchall kv-floor); nil if it did not run.
	// FloorCapped is the same with GOMEMLIMIT=floorMemLimit.
	Floor       *kvFloor `json:"floor,omitempty"`
	FloorCapped *kvFloor `json:"floor_capped,omitempty"`
	FloorErr    string   `json:"floor_err,omitempty"`
	Err         string   `json:"err,omitempty"`
}

// memRead is one GET of a view that reads every bug class.
type memRead struct {
	Path  string        `json:"path"`
	Code  int           `json:"code"`
	Bytes int64         `json:"bytes"`
	Took  time.Duration `json:"took"`
	// Failed names a section the page could not read (its fetch timed out).
	Failed string `json:"failed,omitempty"`
	Err    string `json:"err,omitempty"`
}

type memSample struct {
	Classes int           `json:"classes"`
	RSS     int64         `json:"rss"`
	At      time.Duration `json:"at"`
}

func (b *bench) memoryPhase(ctx context.Context) error {
	res := &memResult{Target: b.o.memClasses}
	b.res.Memory = res
	// Start three times: start-to-ready is short and noisy.
	var p *proc
	port, err := freePort()
	if err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		var err error
		if p != nil {
			p.stop()
		}
		o := b.agOpts("memory")
		if i == 2 {
			// The run that is fed serves pprof, for a heap profile at the end.
			o.debugListen = fmt.Sprintf("127.0.0.1:%d", port)
		}
		if p, err = startAlertgate(o); err != nil {
			return err
		}
		res.Ready = append(res.Ready, p.ready)
	}
	defer p.stop()
	time.Sleep(2 * time.Second)
	res.Idle = p.mem()
	b.logf("alertgate idle RSS %s, start→ready %v", mb(res.Idle.RSS), res.Ready)

	payloads, err := loadgen.NewPayloads(loadgen.Events, runID(), b.fixtures(), time.Now())
	if err != nil {
		return err
	}
	client := loadgen.NewClient(b.o.concurrency)
	post := func(from, n int) error {
		const per = classesPerRequest
		ch := make(chan int)
		errc := make(chan error, b.o.concurrency)
		for w := 0; w < b.o.concurrency; w++ {
			go func() {
				var body []byte
				var seqs []uint64
				for start := range ch {
					body, seqs = renderClasses(payloads, body, seqs, start, min(start+per, from+n))
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/v1/ingest/events", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+b.tokens.Events)
					resp, err := client.Do(req)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusAccepted {
							err = fmt.Errorf("POST /v1/ingest/events: HTTP %d", resp.StatusCode)
						}
					}
					if err != nil {
						select {
						case errc <- err:
						default:
						}
					}
				}
				errc <- nil
			}()
		}
		for s := from; s < from+n; s += per {
			ch <- s
		}
		close(ch)
		var first error
		for w := 0; w < b.o.concurrency; w++ {
			if err := <-errc; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	t0 := time.Now()
	total := 0
	for total < res.Target && time.Since(t0) < b.o.memBudget && ctx.Err() == nil {
		n := min(b.o.memChunk, res.Target-total)
		if err := post(total, n); err != nil {
			res.Err = err.Error()
			break
		}
		total += n
		// Wait until the router decided every class (or the budget ends).
		for ctx.Err() == nil {
			d, err := metricSum(ctx, p.url, "alertgate_router_decisions_total")
			if err == nil && int(d) >= total {
				res.Classes = int(d)
				break
			}
			if err == nil {
				res.Classes = int(d)
			}
			if time.Since(t0) > b.o.memBudget {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		m := p.mem()
		res.Samples = append(res.Samples, memSample{Classes: res.Classes, RSS: m.RSS, At: time.Since(t0)})
		b.logf("bug classes decided %d (posted %d): RSS %s", res.Classes, total, mb(m.RSS))
	}
	res.Elapsed = time.Since(t0)
	res.Final = p.mem()
	res.DiskBytes = dirSize(p.dir)
	if err := fetch(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", port), filepath.Join(b.o.out, "heap-memory.pprof")); err != nil {
		b.logf("heap profile of the memory phase: %v", err)
	} else {
		res.Heap = filepath.Join(b.o.out, "heap-memory.pprof")
		if top, header, err := pprofTop(res.Heap, false, "-sample_index=inuse_space"); err == nil {
			res.HeapTop, res.HeapHeader = top[:min(len(top), 10)], header
		}
	}
	// The views an operator opens, at this many classes: each walks every
	// class and keeps what it shows.
	read := func(path string) memRead {
		r := readView(ctx, p.url+path, path)
		b.logf("GET %s: HTTP %d, %s in %s %s%s", path, r.Code, mbs(r.Bytes), ms(r.Took), r.Failed, r.Err)
		res.Reads = append(res.Reads, r)
		return r
	}
	read("/v1/bugs?limit=1000")
	// The status page waits 5 s for its walk, which goes on without it;
	// its refreshes show the view the walk left.
	for r, start := read("/"), time.Now(); r.Failed != "" && r.Err == "" && time.Since(start) < time.Minute; {
		time.Sleep(2 * time.Second)
		r = readView(ctx, p.url+"/", "/ (a later refresh)")
		if r.Failed == "" {
			b.logf("GET / (a later refresh): HTTP %d, %s in %s", r.Code, mbs(r.Bytes), ms(r.Took))
			res.Reads = append(res.Reads, r)
		}
	}
	res.AfterReads = p.mem()
	p.stop()
	for _, limit := range []string{"", floorMemLimit} {
		f, err := b.kvFloor(ctx, res.Target, limit)
		if err != nil {
			res.FloorErr = err.Error()
			b.logf("memory floor (GOMEMLIMIT %q): %v", limit, err)
			break
		}
		b.logf("memory floor (GOMEMLIMIT %q): %d bug-class entries alone in JetStream KV: RSS %s after %s, live heap %s", limit, f.Entries, mb(f.RSS), ms(f.Took), mb(int64(f.HeapLive)))
		if limit == "" {
			res.Floor = f
		} else {
			res.FloorCapped = f
		}
	}
	if res.Classes < res.Target {
		res.Projected, res.FitFrom, res.SlopeBytes = project(res.Samples, res.Target)
	}
	return nil
}

// classesPerRequest is how many bug classes the memory phase posts in one
// webhook (and the floor stores between waits for acknowledgements).
const classesPerRequest = 1000

// renderClasses renders the events of bug classes [from, to) into body,
// reusing body and seqs.
func renderClasses(p *loadgen.Payloads, body []byte, seqs []uint64, from, to int) ([]byte, []uint64) {
	seqs = seqs[:0]
	for s := from; s < to; s++ {
		seqs = append(seqs, uint64(s))
	}
	return p.Render(body[:0], seqs), seqs
}

// readView times one GET of path and notes a status page section that
// could not be read.
func readView(ctx context.Context, url, path string) memRead {
	r := memRead{Path: path}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	r.Took, r.Code, r.Bytes = time.Since(start), resp.StatusCode, int64(len(body))
	if err != nil {
		r.Err = err.Error()
	}
	switch {
	case bytes.Contains(body, []byte("Bug classes could not be read")):
		r.Failed = "bug classes section: could not be read"
	case bytes.Contains(body, []byte("Bug classes are still being read")):
		r.Failed = "bug classes section: still being read after the page's 5 s wait"
	}
	return r
}

// fetch saves url's body to path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// project fits RSS = a + b·classes over the second half of the samples
// and evaluates it at target.
func project(s []memSample, target int) (int64, int, float64) {
	if len(s) < 2 {
		return 0, 0, 0
	}
	half := s[len(s)/2:]
	if len(half) < 2 {
		half = s
	}
	var sx, sy, sxx, sxy float64
	for _, p := range half {
		x, y := float64(p.Classes), float64(p.RSS)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	n := float64(len(half))
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, 0, 0
	}
	slope := (n*sxy - sx*sy) / den
	icpt := (sy - slope*sx) / n
	return int64(icpt + slope*float64(target)), half[0].Classes, slope
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// profileResult is one profiled run of alertgate in-process.
type profileResult struct {
	Name    string         `json:"name"`
	Load    string         `json:"load"`
	CPUFile string         `json:"cpu_file"`
	Heap    string         `json:"heap_file"`
	Header  []string       `json:"header"`
	Stages  []stageShare   `json:"stages"`
	Flat    []stageShare   `json:"flat"`
	Top     []pprofEntry   `json:"top"`
	HeapTop []pprofEntry   `json:"heap_top"`
	Result  loadgen.Result `json:"result"`
	Err     string         `json:"err,omitempty"`
}

func (b *bench) profilePhase(ctx context.Context) error {
	runs := []struct {
		name, load string
		src        loadgen.Source
		w          loadgen.Workload
		batch      int
	}{
		{"storm-1", "alertmanager storm, 1 alert/request", loadgen.Alertmanager, loadgen.Storm, 1},
		{"storm-50", fmt.Sprintf("alertmanager storm, %d alerts/request", b.o.bigBatch), loadgen.Alertmanager, loadgen.Storm, b.o.bigBatch},
		{"repeat-1", "alertmanager repeat, 1 alert/request", loadgen.Alertmanager, loadgen.Repeat, 1},
		{"repeat-50", fmt.Sprintf("alertmanager repeat, %d alerts/request", b.o.bigBatch), loadgen.Alertmanager, loadgen.Repeat, b.o.bigBatch},
		{"bugs", "bug classes (events, 1000/request) until the router decided them", loadgen.Events, loadgen.Storm, 1000},
	}
	var errs []error
	for _, r := range runs {
		pr, err := b.profileRun(ctx, r.name, r.load, r.src, r.w, r.batch)
		if err != nil {
			pr.Err = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
		b.res.Profiles = append(b.res.Profiles, pr)
	}
	return errors.Join(errs...)
}

func (b *bench) profileRun(ctx context.Context, name, load string, src loadgen.Source, w loadgen.Workload, batch int) (profileResult, error) {
	pr := profileResult{Name: name, Load: load, CPUFile: filepath.Join(b.o.out, "cpu-"+name+".pprof"), Heap: filepath.Join(b.o.out, "heap-"+name+".pprof")}
	// The same config alertgate gets, given to the profiling child.
	dir, cfgPath, listen, err := writeConfig(b.agOpts(""))
	if err != nil {
		return pr, err
	}
	p, err := start("gateway", b.self, []string{"gateway", cfgPath, pr.CPUFile, pr.Heap}, dir, "http://"+listen, "/readyz", "", 30*time.Second)
	if err != nil {
		return pr, err
	}
	if src == loadgen.Events {
		// Bug classes: post a fixed number, wait for the router.
		n := b.o.memChunk
		pr.Result, err = b.load(ctx, p.url, src, w, batch, func(c *loadgen.Config) { c.Warmup = 0; c.Duration = time.Second })
		if err == nil {
			n = int(pr.Result.Alerts)
			deadline := time.Now().Add(b.o.duration * 6)
			for time.Now().Before(deadline) {
				d, _ := metricSum(ctx, p.url, "alertgate_router_decisions_total")
				if int(d) >= n {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	} else {
		pr.Result, err = b.load(ctx, p.url, src, w, batch, func(c *loadgen.Config) { c.AfterPrime = b.primed(p.url, c.Pool) })
	}
	stopProfiled(p)
	if err != nil {
		return pr, err
	}
	pr.Stages, pr.Flat, pr.Top, pr.Header, err = cpuBreakdown(pr.CPUFile)
	if err != nil {
		return pr, err
	}
	if heap, _, err := pprofTop(pr.Heap, false, "-sample_index=inuse_space"); err == nil {
		if len(heap) > 10 {
			heap = heap[:10]
		}
		pr.HeapTop = heap
	}
	b.logf("profile %s: %s", name, pr.Result)
	return pr, nil
}

// ---- machine ----

type machineInfo struct {
	CPU          string `json:"cpu"`
	Cores        int    `json:"cores"`
	MemTotal     int64  `json:"mem_total"`
	OS           string `json:"os"`
	Go           string `json:"go"`
	Alertgate    string `json:"alertgate"`
	Alertmanager string `json:"alertmanager"`
	// AlertmanagerBaseline is the older Alertmanager of the second column.
	AlertmanagerBaseline string `json:"alertmanager_baseline,omitempty"`
}

func (m machineInfo) String() string {
	s := fmt.Sprintf("%s, %d cores (nproc), %.1f GiB RAM, %s, %s; alertgate %s; Alertmanager %s",
		m.CPU, m.Cores, float64(m.MemTotal)/(1<<30), m.OS, m.Go, m.Alertgate, m.Alertmanager)
	if m.AlertmanagerBaseline != "" {
		s += "; baseline Alertmanager " + m.AlertmanagerBaseline
	}
	return s
}

func machine(root, agBin, amBin string) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPU = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemTotal = kb << 10
		}
	}
	if out, err := exec.Command("git", "-C", root, "describe", "--always", "--dirty").Output(); err == nil {
		m.Alertgate = strings.TrimSpace(string(out))
	}
	m.Alertmanager = moduleVersion(amBin)
	return m
}

// ---- results ----

type phaseTime struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took"`
}

type settings struct {
	Concurrency     int           `json:"concurrency"`
	Batch           int           `json:"batch"`
	Duration        time.Duration `json:"duration"`
	Warmup          time.Duration `json:"warmup"`
	CeilingDuration time.Duration `json:"ceiling_duration"`
	E2EDuration     time.Duration `json:"e2e_duration"`
}

type results struct {
	Started           time.Time              `json:"started"`
	Command           string                 `json:"command"`
	Machine           machineInfo            `json:"machine"`
	Settings          settings               `json:"settings"`
	Micro             []micro                `json:"micro"`
	JSSync            jsResult               `json:"js_sync"`
	JSAsync           jsResult               `json:"js_async"`
	JSSyncBatched     jsResult               `json:"js_sync_batched"`
	Bare              map[int]loadgen.Result `json:"bare"`
	BareReady         time.Duration          `json:"bare_ready"`
	BareIdle          mem                    `json:"bare_idle"`
	Ingest            []ingestRun            `json:"ingest"`
	AlertgateReady    []time.Duration        `json:"alertgate_ready"`
	Alertmanager      []ingestRun            `json:"alertmanager"`
	AlertmanagerReady []time.Duration        `json:"alertmanager_ready"`
	AlertmanagerIdle  mem                    `json:"alertmanager_idle"`
	// AlertmanagerBaseline: the older Alertmanager's storm run.
	AlertmanagerBaseline []ingestRun `json:"alertmanager_baseline,omitempty"`
	E2EAlertgate         *e2eResult  `json:"e2e_alertgate"`
	// E2EAlertgateSustained is at half the paging rate, for reference.
	E2EAlertgateSustained *e2eResult `json:"e2e_alertgate_sustained"`
	// E2EFloor is the same rate through serveForward.
	E2EFloor        *e2eResult      `json:"e2e_floor"`
	E2EAlertmanager *e2eResult      `json:"e2e_alertmanager"`
	Holds           *holdsResult    `json:"holds"`
	Related         *relatedResult  `json:"related"`
	Memory          *memResult      `json:"memory"`
	Replay          *replayResult   `json:"replay"`
	Profiles        []profileResult `json:"profiles"`
	PhaseTimes      []phaseTime     `json:"phase_times"`
	Total           time.Duration   `json:"total"`
	Errors          []string        `json:"errors"`
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }
