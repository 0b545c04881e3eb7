// Package loadgen posts real webhook payloads (Alertmanager v4, Sentry,
// Datadog, alertgate's own events, or Alertmanager's /api/v2/alerts) over
// HTTP at a fixed concurrency or a fixed rate, counts the 2xx answers and
// the events they carry, and measures latency. cmd/alertgate-load is its
// CLI; bench/cmd/benchall drives it for `make bench-full`.
package loadgen

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one load run.
type Config struct {
	// URL is the base URL of the target (http://127.0.0.1:8080); the
	// source's endpoint path is added unless URL already has a path.
	URL      string
	Source   Source
	Workload Workload
	// Batch is the number of alerts per request.
	Batch int
	// Concurrency is the number of requests in flight at most.
	Concurrency int
	// Duration of the measured window.
	Duration time.Duration
	// Warmup runs the workload unmeasured before the window (the repeat
	// pool is always sent once first, so repeats are repeats).
	Warmup time.Duration
	// Rate, if > 0, is the target in alerts per second (open loop, paced);
	// else the run is closed-loop at Concurrency.
	Rate float64
	// Pool is the number of keys repeats come from (default 1000).
	Pool int
	// NewFraction is the share of new keys in Mix (default 0.1).
	NewFraction float64
	// Run distinguishes the keys of this run from other runs' (12 bits).
	Run uint64
	// Fixtures is the directory of Sentry and Datadog fixtures.
	Fixtures string
	// StartsAt is the firing time of Alertmanager alerts (default now).
	StartsAt time.Time
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// SentrySecret, if set, signs Sentry bodies (Sentry-Hook-Signature,
	// Sentry-Hook-Timestamp) as Sentry's integration platform does.
	SentrySecret string
	// AfterPrime, if set, runs after the repeat pool was sent and before
	// the warm-up (e.g. to wait until the target has processed the pool).
	AfterPrime func(ctx context.Context) error
	// OnWarmup, if set, is called when the warm-up starts (after the pool).
	OnWarmup func()
	// OnNew, if set, is called with each new key's seq and the time the
	// request carrying it was sent (measured window only).
	OnNew func(seq uint64, sent time.Time)
	// OnCutOff, if set, is called with the new keys of a measured request
	// that the end of the window cancelled before its answer: the target
	// may or may not have taken them (their OnNew was called).
	OnCutOff func(seqs []uint64)
	// Client, if set, replaces the default keep-alive client.
	Client *http.Client
}

// Result of a run.
type Result struct {
	Config   Config        `json:"-"`
	Elapsed  time.Duration `json:"elapsed"`
	Requests int64         `json:"requests"` // completed in the window
	OK       int64         `json:"ok"`       // 2xx
	Failed   int64         `json:"failed"`   // non-2xx or transport error
	// Alerts is the alerts carried by 2xx requests; Accepted and
	// Duplicates split them when the target says so (alertgate).
	Alerts     int64         `json:"alerts"`
	Accepted   int64         `json:"accepted"`
	Duplicates int64         `json:"duplicates"`
	Codes      map[int]int64 `json:"codes"`
	FirstError string        `json:"first_error,omitempty"`
	// Latency of 2xx requests; in rate mode measured from the intended
	// send time, so a stalled target is not hidden (coordinated omission).
	P50, P99, Max time.Duration
}

// AlertsPerSec is the rate of alerts in 2xx answers.
func (r Result) AlertsPerSec() float64 { return float64(r.Alerts) / r.Elapsed.Seconds() }

// RequestsPerSec is the rate of 2xx answers.
func (r Result) RequestsPerSec() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// String is a one-line summary.
func (r Result) String() string {
	c := r.Config
	s := fmt.Sprintf("%s %s batch=%d conc=%d: %.0f alerts/s (%.0f req/s) ok=%d failed=%d accepted=%d duplicates=%d p50=%s p99=%s max=%s",
		c.Source, c.Workload, c.Batch, c.Concurrency, r.AlertsPerSec(), r.RequestsPerSec(), r.OK, r.Failed, r.Accepted, r.Duplicates,
		round(r.P50), round(r.P99), round(r.Max))
	if r.FirstError != "" {
		s += " first_error=" + r.FirstError
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// NewClient returns a keep-alive client sized for conc connections.
func NewClient(conc int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conc * 2,
		MaxIdleConnsPerHost: conc * 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func (c *Config) defaults() error {
	if c.Batch < 1 {
		c.Batch = 1
	}
	if c.Batch > c.Source.MaxBatch() {
		return fmt.Errorf("%s sends at most %d alert(s) per request, not %d", c.Source, c.Source.MaxBatch(), c.Batch)
	}
	if c.Concurrency < 1 {
		c.Concurrency = 1
	}
	if c.Pool < 1 {
		c.Pool = 1000
	}
	if c.NewFraction <= 0 {
		c.NewFraction = 0.1
	}
	if c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.StartsAt.IsZero() {
		c.StartsAt = time.Now().Add(-time.Minute).Truncate(time.Second)
	}
	if c.Run == 0 {
		c.Run = uint64(time.Now().UnixNano()>>10)&0xfff | 1
	}
	c.Run &= 0xfff
	switch c.Workload {
	case Storm, Repeat, Mix:
	default:
		return fmt.Errorf("unknown workload %q (storm, repeat, mix)", c.Workload)
	}
	if c.Client == nil {
		c.Client = NewClient(c.Concurrency)
	}
	return nil
}

// Endpoint is the URL requests go to.
func (c *Config) Endpoint() string {
	u := strings.TrimRight(c.URL, "/")
	if i := strings.Index(u, "://"); i >= 0 && strings.Contains(u[i+3:], "/") {
		return u
	}
	return u + c.Source.DefaultPath()
}

type runner struct {
	cfg      Config
	payloads *Payloads
	endpoint string
	next     atomic.Uint64 // next new key
	repeat   atomic.Uint64 // cursor over the pool for Repeat
}

// keys picks the keys of one request.
func (r *runner) keys(rng *rand.Rand, out []uint64) (fresh []uint64) {
	pool := uint64(r.cfg.Pool)
	switch r.cfg.Workload {
	case Storm:
		first := r.next.Add(uint64(len(out))) - uint64(len(out))
		for i := range out {
			out[i] = pool + first + uint64(i)
		}
		return out
	case Repeat:
		// Walk the pool in request-sized slices, as a repeat interval
		// re-sends the same groups.
		start := r.repeat.Add(uint64(len(out))) - uint64(len(out))
		for i := range out {
			out[i] = (start + uint64(i)) % pool
		}
		return nil
	default:
		for i := range out {
			if rng.Float64() < r.cfg.NewFraction {
				out[i] = pool + r.next.Add(1) - 1
				fresh = append(fresh, out[i])
			} else {
				out[i] = rng.Uint64N(pool)
			}
		}
		return fresh
	}
}

type answer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

type tally struct {
	requests, ok, failed, alerts, accepted, duplicates int64
	codes                                              map[int]int64
	lat                                                []time.Duration
	firstErr                                           string
}

func (t *tally) add(o *tally) {
	t.requests += o.requests
	t.ok += o.ok
	t.failed += o.failed
	t.alerts += o.alerts
	t.accepted += o.accepted
	t.duplicates += o.duplicates
	for k, v := range o.codes {
		t.codes[k] += v
	}
	t.lat = append(t.lat, o.lat...)
	if t.firstErr == "" {
		t.firstErr = o.firstErr
	}
}

// post sends one body; it returns the status (0 on a transport error).
func (r *runner) post(ctx context.Context, body []byte, buf *bytes.Buffer) (int, answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.cfg.Source == Sentry {
		req.Header.Set("Sentry-Hook-Resource", "event_alert")
		if r.cfg.SentrySecret != "" {
			mac := hmac.New(sha256.New, []byte(r.cfg.SentrySecret))
			mac.Write(body)
			req.Header.Set("Sentry-Hook-Signature", hex.EncodeToString(mac.Sum(nil)))
			req.Header.Set("Sentry-Hook-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
		}
	}
	for k, v := range r.cfg.Header {
		req.Header[k] = v
	}
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return 0, answer{}, err
	}
	buf.Reset()
	_, err = io.Copy(buf, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return 0, answer{}, err
	}
	var a answer
	if resp.StatusCode/100 == 2 && buf.Len() > 0 && buf.Bytes()[0] == '{' {
		_ = json.Unmarshal(buf.Bytes(), &a)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, a, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(truncate(buf.String(), 200)))
	}
	return resp.StatusCode, a, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Prime sends every pool key once (batched), so that Repeat and Mix
// measure repeats of keys the target already knows.
func (r *runner) prime(ctx context.Context) error {
	if r.cfg.Workload == Storm {
		return nil
	}
	batch := r.cfg.Batch
	if batch < 50 && r.cfg.Source.MaxBatch() >= 50 {
		batch = 50
	}
	var mu sync.Mutex
	var firstErr error
	ch := make(chan []uint64)
	var wg sync.WaitGroup
	for w := 0; w < r.cfg.Concurrency; w++ {
		wg.Go(func() {
			var body []byte
			var buf bytes.Buffer
			for seqs := range ch {
				body = r.payloads.Render(body[:0], seqs)
				if _, _, err := r.post(ctx, body, &buf); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := 0; i < r.cfg.Pool; i += batch {
		n := min(batch, r.cfg.Pool-i)
		seqs := make([]uint64, n)
		for j := range seqs {
			seqs[j] = uint64(i + j)
		}
		select {
		case ch <- seqs:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("sending the repeat pool: %w", firstErr)
	}
	return ctx.Err()
}

// Run runs the load and returns what was measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	p, err := NewPayloads(cfg.Source, cfg.Run, cfg.Fixtures, cfg.StartsAt)
	if err != nil {
		return Result{}, err
	}
	r := &runner{cfg: cfg, payloads: p, endpoint: cfg.Endpoint()}
	if err := r.prime(ctx); err != nil {
		return Result{}, err
	}
	if cfg.AfterPrime != nil && cfg.Workload != Storm {
		if err := cfg.AfterPrime(ctx); err != nil {
			return Result{}, fmt.Errorf("after sending the repeat pool: %w", err)
		}
	}

	if cfg.OnWarmup != nil {
		cfg.OnWarmup()
	}
	var measuring atomic.Bool
	var windowStart, windowEnd atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Rate mode: a pacer hands out intended send times.
	var slots chan time.Time
	if cfg.Rate > 0 {
		slots = make(chan time.Time, cfg.Concurrency)
		perReq := time.Duration(float64(time.Second) * float64(cfg.Batch) / cfg.Rate)
		go func() {
			defer close(slots)
			t0 := time.Now()
			for i := int64(0); ; i++ {
				at := t0.Add(time.Duration(i) * perReq)
				if d := time.Until(at); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				select {
				case slots <- at:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	tallies := make([]*tally, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		t := &tally{codes: map[int]int64{}}
		tallies[w] = t
		rng := rand.New(rand.NewPCG(cfg.Run, uint64(w)+1))
		wg.Go(func() {
			seqs := make([]uint64, cfg.Batch)
			var body []byte
			var buf bytes.Buffer
			for ctx.Err() == nil {
				intended := time.Time{}
				if slots != nil {
					at, ok := <-slots
					if !ok {
						return
					}
					intended = at
				}
				fresh := r.keys(rng, seqs)
				body = p.Render(body[:0], seqs)
				sent := time.Now()
				if intended.IsZero() {
					intended = sent
				}
				on := measuring.Load()
				if on && cfg.OnNew != nil {
					for _, s := range fresh {
						cfg.OnNew(s, sent)
					}
				}
				code, a, err := r.post(ctx, body, &buf)
				done := time.Now()
				if on && err != nil && ctx.Err() != nil && cfg.OnCutOff != nil && len(fresh) > 0 {
					cfg.OnCutOff(fresh)
				}
				if !on || !measuring.Load() || ctx.Err() != nil {
					continue
				}
				t.requests++
				t.codes[code]++
				if err != nil {
					t.failed++
					if t.firstErr == "" {
						t.firstErr = err.Error()
					}
					continue
				}
				t.ok++
				t.alerts += int64(len(seqs))
				t.accepted += int64(a.Accepted)
				t.duplicates += int64(a.Duplicates)
				t.lat = append(t.lat, done.Sub(intended))
			}
		})
	}

	sleep := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	if cfg.Warmup > 0 {
		sleep(cfg.Warmup)
	}
	windowStart.Store(time.Now().UnixNano())
	measuring.Store(true)
	// A cancelled ctx ends the window early: what was measured is reported.
	sleep(cfg.Duration)
	measuring.Store(false)
	windowEnd.Store(time.Now().UnixNano())
	cancel()
	wg.Wait()

	total := &tally{codes: map[int]int64{}}
	for _, t := range tallies {
		total.add(t)
	}
	res := Result{
		Config: cfg, Elapsed: time.Duration(windowEnd.Load() - windowStart.Load()),
		Requests: total.requests, OK: total.ok, Failed: total.failed, Alerts: total.alerts,
		Accepted: total.accepted, Duplicates: total.duplicates, Codes: total.codes, FirstError: total.firstErr,
	}
	res.P50, res.P99, res.Max = Percentiles(total.lat)
	return res, nil
}

// Percentiles returns p50, p99 and max of ds (sorted in place).
func Percentiles(ds []time.Duration) (p50, p99, max time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds)-1) + 0.5)
		return ds[i]
	}
	return at(0.50), at(0.99), ds[len(ds)-1]
}
