package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/alertgate/alertgate/bench/loadgen"
)

// The holds phase: the storm and end-to-end runs with 1,000 active
// silences and 100 inhibit rules ("with"), back to back with the same runs
// without them ("without"), each on a fresh alertgate.
const (
	// holdsRules inhibit rules, each with one firing source.
	holdsRules = 100
	// holdsIndexed silences have equality matchers (the store indexes
	// them); holdsScanned have only regex and negative matchers (checked
	// one by one for every event).
	holdsIndexed = 900
	holdsScanned = 100
	// holdsRounds of without, with (--holds-rounds).
	holdsRounds = 2
	// holdsTolerance: "with" within 10% of "without".
	holdsTolerance = 0.10
)

// inhibitRulesYAML is the inhibit_rules section appended to
// bench/alertgate.yaml for the "with" runs: n rules whose target matchers
// all match the storm's alerts (bench/loadgen: service checkout, severity
// critical), so every rule is evaluated for every storm event, each with
// the source alertname BenchSource<i> and equal: [instance].
func inhibitRulesYAML(n int) string {
	var b strings.Builder
	b.WriteString("\n# Added by benchall's holds phase: every rule's target matchers match the\n")
	b.WriteString("# storm's alerts; each rule's one firing source is on another instance.\n")
	b.WriteString("inhibit_rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - source_matchers: ['alertname=\"BenchSource%d\"']\n", i)
		b.WriteString("    target_matchers: ['service=\"checkout\"', 'severity=~\"critical|error\"']\n")
		b.WriteString("    equal: [instance]\n")
	}
	return b.String()
}

// holdsSourceEvent is one incident of the events source
// (/v1/ingest/events).
type holdsSourceEvent struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Key      string            `json:"key"`
	Episode  string            `json:"episode"`
	Status   string            `json:"status"`
	Title    string            `json:"title"`
	Severity string            `json:"severity"`
	Service  string            `json:"service"`
	Labels   map[string]string `json:"labels"`
}

// inhibitSources is the body that makes each of the n rules' source fire:
// incident i has alertname BenchSource<i> and instance 10.9.<i>.1:8080,
// never the storm's, so each rule's lookup is computed and finds nothing.
func inhibitSources(n int) []byte {
	evs := make([]holdsSourceEvent, n)
	for i := range evs {
		instance := fmt.Sprintf("10.9.%d.1:8080", i)
		evs[i] = holdsSourceEvent{
			ID: fmt.Sprintf("bench-inhibit-source-%d", i), Kind: "incident",
			Key: fmt.Sprintf("bench:inhibit-source:%d", i), Episode: "1", Status: "firing",
			Title: fmt.Sprintf("BenchSource%d on %s", i, instance), Severity: "critical", Service: "bench-holds",
			Labels: map[string]string{"alertname": fmt.Sprintf("BenchSource%d", i), "instance": instance},
		}
	}
	b, _ := json.Marshal(evs)
	return b
}

// silenceBody is the body of POST /v1/silences.
type silenceBody struct {
	Matchers  []string `json:"matchers"`
	Duration  string   `json:"duration"`
	CreatedBy string   `json:"created_by"`
	Comment   string   `json:"comment"`
}

// holdSilences are the silences of the "with" runs, none of which matches
// a storm alert: indexed ones on a maintenance alertname and another
// service, then scanned ones with only a regex on another subnet (and, for
// every other one, a negative matcher).
func holdSilences(indexed, scanned int) []silenceBody {
	out := make([]silenceBody, 0, indexed+scanned)
	for i := range indexed {
		out = append(out, silenceBody{
			Matchers: []string{`alertname="Maintenance"`, fmt.Sprintf(`service="svc-%d"`, i)},
			Duration: "2h", CreatedBy: "bench", Comment: fmt.Sprintf("maintenance of svc-%d", i),
		})
	}
	for i := range scanned {
		ms := []string{fmt.Sprintf(`instance=~"10\\.8\\.%d\\..*"`, i)}
		if i%2 == 0 {
			ms = append(ms, `severity!="info"`)
		}
		out = append(out, silenceBody{Matchers: ms, Duration: "2h", CreatedBy: "bench", Comment: fmt.Sprintf("subnet 10.8.%d.0/24 rewired", i)})
	}
	return out
}

// holdsRun is one variant's runs on fresh processes: the storm, then the
// end-to-end run.
type holdsRun struct {
	Round int  `json:"round"`
	Holds bool `json:"holds"` // the "with" variant
	// Setup is the time taken to make the sources fire and add the
	// silences, before the storm run's process took load.
	Setup      time.Duration  `json:"setup,omitempty"`
	Silences   int            `json:"active_silences"`
	Storm      loadgen.Result `json:"storm"`
	StormPages int64          `json:"storm_pages"`
	StormCPU   time.Duration  `json:"storm_cpu"`
	// StormCPUPerAlert is StormCPU over the alerts of the warm-up and
	// window (at the window's rate): what an alert cost alertgate.
	StormCPUPerAlert time.Duration `json:"storm_cpu_per_alert"`
	// Held is how many decisions of the storm's process (and of the
	// end-to-end one) a silence or an inhibit rule held: 0, or the holds
	// matched storm alerts.
	Held float64    `json:"held"`
	E2E  *e2eResult `json:"e2e,omitempty"`
	Err  string     `json:"err,omitempty"`
}

// holdsResult is the holds phase.
type holdsResult struct {
	Rules     int        `json:"inhibit_rules"`
	Indexed   int        `json:"silences_indexed"`
	Scanned   int        `json:"silences_scanned"`
	Rate      float64    `json:"e2e_rate"`
	RateBasis string     `json:"e2e_rate_basis"`
	Runs      []holdsRun `json:"runs"`
}

// holdsSummary is one variant's figures: the median of its rounds.
type holdsSummary struct {
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
func summarize(runs []holdsRun, holds bool) holdsSummary {
	var s holdsSummary
	var rates, e2eRates []float64
	var p99s, cpus, e2e50, e2e99 []time.Duration
	for _, r := range runs {
		if r.Holds != holds || r.Err != "" || r.E2E == nil {
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

// holdsVerdict compares "with" to "without": storm alerts/s at least 90%
// of without's, end-to-end p99 at most 110% of it, every page delivered.
func holdsVerdict(without, with holdsSummary) (stormRatio, p99Ratio float64, ok bool) {
	if without.StormRate > 0 {
		stormRatio = with.StormRate / without.StormRate
	}
	if without.P99 > 0 {
		p99Ratio = float64(with.P99) / float64(without.P99)
	}
	ok = without.Runs > 0 && with.Runs > 0 && !without.Undelivered && !with.Undelivered &&
		stormRatio >= 1-holdsTolerance && p99Ratio > 0 && p99Ratio <= 1+holdsTolerance
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

// holdsPhase runs without, with, without, with: each a storm on a fresh
// alertgate, then an end-to-end run at a fixed rate on another fresh one.
func (b *bench) holdsPhase(ctx context.Context) error {
	res := &holdsResult{Rules: holdsRules, Indexed: holdsIndexed, Scanned: holdsScanned}
	b.res.Holds = res
	switch {
	case b.o.e2eRate > 0:
		res.Rate, res.RateBasis = b.o.e2eRate, "--e2e-rate"
	case b.res.E2EAlertgate != nil && b.res.E2EAlertgate.Rate > 0 && b.res.E2EAlertgate.Err == "":
		res.Rate, res.RateBasis = b.res.E2EAlertgate.Rate, "the end-to-end phase's alertgate rate ("+b.res.E2EAlertgate.Basis+")"
	}
	var errs []error
	for round := 1; round <= max(b.o.holdsRounds, 1); round++ {
		for _, holds := range []bool{false, true} {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			run, err := b.holdsRound(ctx, res, round, holds)
			if err != nil {
				run.Err = err.Error()
				errs = append(errs, fmt.Errorf("%s round %d: %w", variantName(holds), round, err))
			}
			res.Runs = append(res.Runs, run)
		}
	}
	// Every page must still arrive: the holds match none of the alerts.
	for _, r := range res.Runs {
		switch {
		case r.Err != "":
		case r.Held > 0:
			errs = append(errs, fmt.Errorf("%s round %d: %.0f decisions held by a silence or an inhibit rule (none should match the storm)", variantName(r.Holds), r.Round, r.Held))
		case r.E2E != nil && r.E2E.Delivered < r.E2E.Sent:
			errs = append(errs, fmt.Errorf("%s round %d: end to end delivered %d of %d pages", variantName(r.Holds), r.Round, r.E2E.Delivered, r.E2E.Sent))
		}
	}
	return errors.Join(errs...)
}

func variantName(holds bool) string {
	if holds {
		return "with holds"
	}
	return "without holds"
}

// holdsRound is one variant's storm run and end-to-end run, each on a
// fresh process.
func (b *bench) holdsRound(ctx context.Context, res *holdsResult, round int, holds bool) (holdsRun, error) {
	run := holdsRun{Round: round, Holds: holds}
	name := fmt.Sprintf("holds-%d-without", round)
	if holds {
		name = fmt.Sprintf("holds-%d-with", round)
	}
	start := func(suffix string) (*proc, error) {
		o := b.agOpts(name + suffix)
		if holds {
			o.extraConfig = inhibitRulesYAML(holdsRules)
		}
		p, err := startAlertgate(o)
		if err != nil {
			return nil, err
		}
		if holds {
			t := time.Now()
			n, err := b.setupHolds(ctx, p.url)
			if run.Setup == 0 {
				// The storm process's: the end-to-end one's is the same.
				run.Setup, run.Silences = time.Since(t), n
			}
			if err != nil {
				p.stop()
				return nil, err
			}
		}
		return p, nil
	}
	held := func(p *proc) float64 {
		v, _ := metricSumWhere(ctx, p.url, "alertgate_router_decisions_total", func(line string) bool {
			return strings.Contains(line, `outcome="silenced"`) || strings.Contains(line, `outcome="inhibited"`)
		})
		return v
	}

	// The storm, as the ingest phase's (alertmanager, 1 alert/request).
	p, err := start("-storm")
	if err != nil {
		return run, err
	}
	var pages0 int64
	var cpu0 time.Duration
	r, err := b.load(ctx, p.url, loadgen.Alertmanager, loadgen.Storm, 1, func(c *loadgen.Config) {
		c.OnWarmup = func() { pages0, cpu0 = b.pd.events.Load(), cpuTime(p.pid()) }
	})
	run.Storm, run.StormCPU, run.StormPages = r, cpuTime(p.pid())-cpu0, b.pd.events.Load()-pages0
	if n := r.AlertsPerSec() * (b.o.warmup + r.Elapsed).Seconds(); n > 0 {
		run.StormCPUPerAlert = time.Duration(float64(run.StormCPU) / n)
	}
	run.Held = held(p)
	p.stop()
	if err != nil {
		return run, err
	}
	b.logf("holds %s round %d: storm %s (held %.0f)", variantName(holds), round, r, run.Held)
	if res.Rate <= 0 {
		res.Rate, res.RateBasis = r.AlertsPerSec()/2, fmt.Sprintf("50%% of the first storm run without holds (%.0f alerts/s, 1 per request)", r.AlertsPerSec())
	}

	// End to end at the same rate for both variants.
	p, err = start("-e2e")
	if err != nil {
		return run, err
	}
	defer p.stop()
	e, err := b.e2eToPagerDuty(ctx, fmt.Sprintf("alertgate %s round %d", variantName(holds), round), p.url, res.Rate)
	run.E2E = &e
	run.Held += held(p)
	return run, err
}

// setupHolds makes every inhibit rule's source fire and adds the
// silences, then checks that they are all active. It returns how many
// silences are active.
func (b *bench) setupHolds(ctx context.Context, url string) (int, error) {
	pages0 := b.pd.events.Load()
	d0, err := metricSum(ctx, url, "alertgate_router_decisions_total")
	if err != nil {
		return 0, err
	}
	// The sources: one request of the events source.
	if err := b.post(ctx, url+"/v1/ingest/events", "Bearer "+b.tokens.Events, inhibitSources(holdsRules), http.StatusAccepted); err != nil {
		return 0, err
	}
	// The silences, b.o.concurrency at a time. The bench config sets no
	// api.tokens: the API is open.
	sils := holdSilences(holdsIndexed, holdsScanned)
	ch := make(chan []byte)
	errc := make(chan error, b.o.concurrency)
	for range b.o.concurrency {
		go func() {
			var first error
			for body := range ch {
				if err := b.post(ctx, url+"/v1/silences", "", body, http.StatusCreated); err != nil && first == nil {
					first = err
				}
			}
			errc <- first
		}()
	}
	for _, s := range sils {
		body, _ := json.Marshal(s)
		ch <- body
	}
	close(ch)
	var errs []error
	for range b.o.concurrency {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	active, err := activeSilences(ctx, url)
	if err != nil {
		return active, err
	}
	if active != len(sils) {
		return active, fmt.Errorf("GET /v1/silences?state=active: %d active, want %d", active, len(sils))
	}
	// Every source decided (and so recorded as firing) and paged, before
	// the load starts.
	if err := waitDecisions(ctx, url, int(d0)+holdsRules, 30*time.Second); err != nil {
		return active, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.pd.events.Load()-pages0 < holdsRules {
		if time.Now().After(deadline) {
			return active, fmt.Errorf("%d of the %d inhibit sources paged", b.pd.events.Load()-pages0, holdsRules)
		}
		select {
		case <-ctx.Done():
			return active, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return active, waitQuiet(ctx, &b.pd.events, 500*time.Millisecond, 10*time.Second)
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

// activeSilences counts GET /v1/silences?state=active.
func activeSilences(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/silences?state=active", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/silences?state=active: HTTP %d", resp.StatusCode)
	}
	var list struct {
		Silences []struct {
			State string `json:"state"`
		} `json:"silences"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return 0, fmt.Errorf("GET /v1/silences?state=active: %w", err)
	}
	n := 0
	for _, s := range list.Silences {
		if s.State == "active" {
			n++
		}
	}
	return n, nil
}
