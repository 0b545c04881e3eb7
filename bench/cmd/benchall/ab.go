package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/alertgate/alertgate/bench/loadgen"
)

// An A/B phase runs the storm and end-to-end runs of a feature's two
// variants back to back: for each round "without", then "with", each a
// storm (alertmanager source, 1 alert/request) on a fresh alertgate, then
// an end-to-end run at one fixed rate on another fresh one. Each variant
// is the bench config with some YAML appended and a setup run against each
// fresh process before its load; a probe, read before and after each load,
// feeds a sanity check that the variant did what it is there for (no
// decision held; pages listing related signals). The verdict compares the
// medians of the rounds.
const (
	// abRounds of without, with (--ab-rounds).
	abRounds = 2
	// abTolerance: "with" within 10% of "without".
	abTolerance = 0.10
)

// abVariant is one side of an A/B phase.
type abVariant struct {
	// name calls it in logs and errors ("without holds"); short in the
	// report's rounds ("without").
	name, short string
	// config is YAML appended to bench/alertgate.yaml.
	config string
	// setup readies each fresh process before its load; the count it
	// returns is recorded (active silences). Nil: nothing to do.
	setup func(ctx context.Context, url string) (int, error)
	// probe is a counter read before and after each load: the run records
	// its growth (decisions held, pages carrying related signals). Nil:
	// nothing to count.
	probe func(ctx context.Context, url string) float64
	// probeName names the probe in the log ("held").
	probeName string
}

// abSpec is an A/B phase.
type abSpec struct {
	// phase names the processes and log lines ("holds").
	phase         string
	without, with abVariant
	// check says what is wrong with a completed run (its probes), or nil.
	check func(r abRun) error
}

func (s abSpec) variant(with bool) abVariant {
	if with {
		return s.with
	}
	return s.without
}

// abRun is one variant's runs on fresh processes: the storm, then the
// end-to-end run.
type abRun struct {
	Round int  `json:"round"`
	With  bool `json:"with"`
	// Setup is the time the variant's setup took, before the storm run's
	// process took load, and SetupCount what it returned.
	Setup      time.Duration  `json:"setup,omitempty"`
	SetupCount int            `json:"setup_count,omitempty"`
	Storm      loadgen.Result `json:"storm"`
	StormPages int64          `json:"storm_pages"`
	StormCPU   time.Duration  `json:"storm_cpu"`
	// StormCPUPerAlert is StormCPU over the alerts of the warm-up and
	// window (at the window's rate): what an alert cost alertgate.
	StormCPUPerAlert time.Duration `json:"storm_cpu_per_alert"`
	// StormProbe and E2EProbe are how much the variant's probe grew
	// during the storm's load and the end-to-end load.
	StormProbe float64 `json:"storm_probe"`
	E2EProbe   float64 `json:"e2e_probe"`
	// E2EPages are the pages of the end-to-end run (its warm-up's too).
	E2EPages int64      `json:"e2e_pages"`
	E2E      *e2eResult `json:"e2e,omitempty"`
	Err      string     `json:"err,omitempty"`
}

// abResult is an A/B phase's runs.
type abResult struct {
	Rate      float64 `json:"e2e_rate"`
	RateBasis string  `json:"e2e_rate_basis"`
	Runs      []abRun `json:"runs"`
	// Profiles are the CPU profiles of --ab-profile.
	Profiles *abProfiles `json:"profiles,omitempty"`
}

// abProfiles is one more end-to-end run of each variant at the phase's
// rate on the profiling child (benchall gateway: app.Gateway with a CPU
// profile from start to stop), and where "with" spent more CPU than
// "without" (go tool pprof -diff_base): at one rate both handle the same
// alerts, so the difference is the variant's cost.
type abProfiles struct {
	Without, With string `json:"-"`
	// Files and Totals are each variant's profile and its total samples
	// (pprof's header), without then with.
	Files  [2]string `json:"files"`
	Totals [2]string `json:"totals"`
	Sent   [2]int    `json:"sent"`
	// Stages are the profile phase's stages, and DiffFlat the functions,
	// by how much more CPU "with" spent in them, in percent of without's
	// total.
	Stages   []stageShare `json:"diff_stages"`
	DiffFlat []pprofEntry `json:"diff_flat"`
	Err      string       `json:"err,omitempty"`
}

// abSummary is one variant's figures: the median of its rounds.
type abSummary struct {
	Runs      int
	StormRate float64
	StormP99  time.Duration
	// CPUPerAlert is alertgate's CPU per storm alert.
	CPUPerAlert time.Duration
	E2ERate     float64
	Sent        int
	Delivered   int
	P50, P99    time.Duration
	// Undelivered: some run did not deliver every page.
	Undelivered bool
}

// summarize is the median of the runs of one variant that completed.
func summarize(runs []abRun, with bool) abSummary {
	var s abSummary
	var rates, e2eRates []float64
	var p99s, cpus, e2e50, e2e99 []time.Duration
	for _, r := range runs {
		if r.With != with || r.Err != "" || r.E2E == nil {
			continue
		}
		s.Runs++
		rates = append(rates, r.Storm.AlertsPerSec())
		p99s = append(p99s, r.Storm.P99)
		cpus = append(cpus, r.StormCPUPerAlert)
		e2eRates = append(e2eRates, r.E2E.Rate)
		e2e50, e2e99 = append(e2e50, r.E2E.P50), append(e2e99, r.E2E.P99)
		s.Sent += r.E2E.Sent
		s.Delivered += r.E2E.Delivered
		s.Undelivered = s.Undelivered || r.E2E.P99Undelivered || r.E2E.Delivered < r.E2E.Sent
	}
	s.StormRate, s.E2ERate = medianF(rates), medianF(e2eRates)
	s.StormP99, s.CPUPerAlert, s.P50, s.P99 = medianD(p99s), medianD(cpus), medianD(e2e50), medianD(e2e99)
	return s
}

// abVerdict compares "with" to "without": storm alerts/s at least 90% of
// without's, end-to-end p99 at most 110% of it, every page delivered.
func abVerdict(without, with abSummary) (stormRatio, p99Ratio float64, ok bool) {
	if without.StormRate > 0 {
		stormRatio = with.StormRate / without.StormRate
	}
	if without.P99 > 0 {
		p99Ratio = float64(with.P99) / float64(without.P99)
	}
	ok = without.Runs > 0 && with.Runs > 0 && !without.Undelivered && !with.Undelivered &&
		stormRatio >= 1-abTolerance && p99Ratio > 0 && p99Ratio <= 1+abTolerance
	return stormRatio, p99Ratio, ok
}

// medianF is the median (the mean of the middle two of an even count).
func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func medianD(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(medianF(f))
}

// abPhase runs spec's rounds into res: without, with, without, with…
// The end-to-end rate is --e2e-rate, else the end-to-end phase's, else
// half the first "without" storm's.
func (b *bench) abPhase(ctx context.Context, spec abSpec, res *abResult) error {
	switch {
	case b.o.e2eRate > 0:
		res.Rate, res.RateBasis = b.o.e2eRate, "--e2e-rate"
	case b.res.E2EAlertgate != nil && b.res.E2EAlertgate.Rate > 0 && b.res.E2EAlertgate.Err == "":
		res.Rate, res.RateBasis = b.res.E2EAlertgate.Rate, "the end-to-end phase's alertgate rate ("+b.res.E2EAlertgate.Basis+")"
	}
	var errs []error
	for round := 1; round <= max(b.o.abRounds, 1); round++ {
		for _, with := range []bool{false, true} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			run, err := b.abRound(ctx, spec, res, round, with)
			if err != nil {
				run.Err = err.Error()
				errs = append(errs, fmt.Errorf("%s round %d: %w", spec.variant(with).name, round, err))
			}
			res.Runs = append(res.Runs, run)
		}
	}
	if b.o.abProfile && ctx.Err() == nil {
		res.Profiles = b.abProfile(ctx, spec, res.Rate)
		if res.Profiles.Err != "" {
			errs = append(errs, fmt.Errorf("profiles: %s", res.Profiles.Err))
		}
	}
	// Every page must still arrive, and each variant do what it is for.
	for _, r := range res.Runs {
		var err error
		if r.Err == "" && spec.check != nil {
			err = spec.check(r)
		}
		switch {
		case r.Err != "":
		case err != nil:
			errs = append(errs, fmt.Errorf("%s round %d: %w", spec.variant(r.With).name, r.Round, err))
		case r.E2E != nil && r.E2E.Delivered < r.E2E.Sent:
			errs = append(errs, fmt.Errorf("%s round %d: end to end delivered %d of %d pages", spec.variant(r.With).name, r.Round, r.E2E.Delivered, r.E2E.Sent))
		}
	}
	return errors.Join(errs...)
}

// abRound is one variant's storm run and end-to-end run, each on a fresh
// process.
func (b *bench) abRound(ctx context.Context, spec abSpec, res *abResult, round int, with bool) (abRun, error) {
	v := spec.variant(with)
	run := abRun{Round: round, With: with}
	name := fmt.Sprintf("%s-%d-without", spec.phase, round)
	if with {
		name = fmt.Sprintf("%s-%d-with", spec.phase, round)
	}
	start := func(suffix string) (*proc, error) {
		o := b.agOpts(name + suffix)
		o.extraConfig = v.config
		p, err := startAlertgate(o)
		if err != nil {
			return nil, err
		}
		if v.setup != nil {
			t := time.Now()
			n, err := v.setup(ctx, p.url)
			if run.Setup == 0 {
				// The storm process's: the end-to-end one's is the same.
				run.Setup, run.SetupCount = time.Since(t), n
			}
			if err != nil {
				p.stop()
				return nil, err
			}
		}
		return p, nil
	}
	probe := func(p *proc) float64 {
		if v.probe == nil {
			return 0
		}
		return v.probe(ctx, p.url)
	}

	// The storm, as the ingest phase's (alertmanager, 1 alert/request).
	p, err := start("-storm")
	if err != nil {
		return run, err
	}
	var pages0 int64
	var cpu0 time.Duration
	probe0 := probe(p)
	r, err := b.load(ctx, p.url, loadgen.Alertmanager, loadgen.Storm, 1, func(c *loadgen.Config) {
		c.OnWarmup = func() { pages0, cpu0 = b.pd.events.Load(), cpuTime(p.pid()) }
	})
	run.Storm, run.StormCPU, run.StormPages = r, cpuTime(p.pid())-cpu0, b.pd.events.Load()-pages0
	run.StormProbe = probe(p) - probe0
	if n := r.AlertsPerSec() * (b.o.warmup + r.Elapsed).Seconds(); n > 0 {
		run.StormCPUPerAlert = time.Duration(float64(run.StormCPU) / n)
	}
	p.stop()
	if err != nil {
		return run, err
	}
	b.logf("%s %s round %d: storm %s (%s %.0f)", spec.phase, v.name, round, r, v.probeName, run.StormProbe)
	if res.Rate <= 0 {
		res.Rate, res.RateBasis = r.AlertsPerSec()/2, fmt.Sprintf("50%% of the first storm run %s (%.0f alerts/s, 1 per request)", v.name, r.AlertsPerSec())
	}

	// End to end at the same rate for both variants.
	p, err = start("-e2e")
	if err != nil {
		return run, err
	}
	defer p.stop()
	probe0, pages0 = probe(p), b.pd.events.Load()
	e, err := b.e2eToPagerDuty(ctx, fmt.Sprintf("alertgate %s round %d", v.name, round), p.url, res.Rate)
	run.E2E = &e
	run.E2EProbe, run.E2EPages = probe(p)-probe0, b.pd.events.Load()-pages0
	return run, err
}

// post sends a JSON body and wants the status code want.
func (b *bench) post(ctx context.Context, url, auth string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: HTTP %d: %s", req.URL.Path, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// abProfile runs each variant end to end at rate on the profiling child,
// set up as its processes are, and compares the CPU profiles.
func (b *bench) abProfile(ctx context.Context, spec abSpec, rate float64) *abProfiles {
	pr := &abProfiles{Without: spec.without.short, With: spec.with.short}
	for i, with := range []bool{false, true} {
		v := spec.variant(with)
		file := filepath.Join(b.o.out, fmt.Sprintf("cpu-%s-%s.pprof", spec.phase, v.short))
		heap := filepath.Join(b.o.out, fmt.Sprintf("heap-%s-%s.pprof", spec.phase, v.short))
		e, err := b.profiledE2E(ctx, v, file, heap, rate)
		if err != nil {
			pr.Err = fmt.Sprintf("%s: %v", v.name, err)
			return pr
		}
		pr.Files[i], pr.Sent[i] = file, e.Sent
		if _, header, err := pprofTop(file, false); err == nil {
			for _, h := range header {
				if strings.Contains(h, "Total samples") {
					pr.Totals[i] = h
				}
			}
		}
	}
	cum, _, err := pprofTop(pr.Files[1], true, "-diff_base="+pr.Files[0])
	if err != nil {
		pr.Err = err.Error()
		return pr
	}
	for _, st := range stageShares(cum) {
		if st.Share != 0 {
			pr.Stages = append(pr.Stages, st)
		}
	}
	flat, _, err := pprofTop(pr.Files[1], false, "-diff_base="+pr.Files[0])
	if err != nil {
		pr.Err = err.Error()
		return pr
	}
	sort.SliceStable(flat, func(i, j int) bool { return flat[i].Flat > flat[j].Flat })
	pr.DiffFlat = flat[:min(len(flat), 12)]
	return pr
}

// profiledE2E is one end-to-end run of v at rate on the profiling child.
func (b *bench) profiledE2E(ctx context.Context, v abVariant, cpuFile, heapFile string, rate float64) (e2eResult, error) {
	o := b.agOpts("")
	o.extraConfig = v.config
	dir, cfgPath, listen, err := writeConfig(o)
	if err != nil {
		return e2eResult{}, err
	}
	p, err := start("gateway", b.self, []string{"gateway", cfgPath, cpuFile, heapFile}, dir, "http://"+listen, "/readyz", "", 30*time.Second)
	if err != nil {
		_ = os.RemoveAll(dir)
		return e2eResult{}, err
	}
	defer stopProfiled(p)
	if v.setup != nil {
		if _, err := v.setup(ctx, p.url); err != nil {
			return e2eResult{}, err
		}
	}
	return b.e2eToPagerDuty(ctx, fmt.Sprintf("alertgate %s, profiled", v.name), p.url, rate)
}
