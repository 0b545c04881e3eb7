package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/backoff"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/sinks"
)

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   bool
	}{
		// Server trouble: try again.
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
		// Rate limited: try again later.
		{http.StatusTooManyRequests, true},
		// The server gave up waiting for the request.
		{http.StatusRequestTimeout, true},
		// The request itself is wrong: retrying cannot help.
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusNotFound, false},
		{http.StatusRequestEntityTooLarge, false},
	} {
		if got, want := sinks.Retryable(tc.status), tc.want; got != want {
			t.Errorf("Retryable(%d)=%v, want %v", tc.status, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		// Delay in seconds.
		{"seconds", "7", 7 * time.Second},
		// Zero seconds: retry at once.
		{"zero", "0", 0},
		// An HTTP date 30 s ahead.
		{"http date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		// A date in the past means no wait.
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		// Negative seconds are not a delay.
		{"negative", "-5", 0},
		// Garbage is ignored.
		{"garbage", "soon", 0},
		// No header.
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := sinks.ParseRetryAfter(tc.header, now), tc.want; got != want {
				t.Fatalf("ParseRetryAfter(%q)=%v, want %v", tc.header, got, want)
			}
		})
	}
}

// HTTPError says its status and body and carries the server's Retry-After.
func TestHTTPError(t *testing.T) {
	var err error = &sinks.HTTPError{Status: 429, Body: "slow down", After: 7 * time.Second}
	if got, want := err.Error(), "HTTP 429: slow down"; got != want {
		t.Fatalf("Error()=%q, want %q", got, want)
	}
	var ra sinks.RetryAfter
	if !errors.As(fmt.Errorf("wrapped: %w", err), &ra) {
		t.Fatal("a wrapped *HTTPError is not a RetryAfter")
	}
	if got, want := ra.RetryAfter(), 7*time.Second; got != want {
		t.Fatalf("RetryAfter()=%v, want %v", got, want)
	}
	if got, want := (&sinks.HTTPError{Status: 502}).Error(), "HTTP 502"; got != want {
		t.Fatalf("Error()=%q, want %q", got, want)
	}
}

// result is what one Notify call returns.
type result struct {
	retry bool
	err   error
}

// fakeNotifier returns scripted results, one per call (the last one again
// once the script runs out), and records the calls.
type fakeNotifier struct {
	disabled bool
	script   []result

	mu    sync.Mutex
	calls []alertgate.Notification
}

func (f *fakeNotifier) Enabled(string) bool { return !f.disabled }

func (f *fakeNotifier) Notify(_ context.Context, n alertgate.Notification) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, n)
	r := f.script[min(len(f.calls), len(f.script))-1]
	return r.retry, r.err
}

func (f *fakeNotifier) ncalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var _ sinks.Notifier = (*fakeNotifier)(nil)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func openBus(t *testing.T) *bus.Bus {
	t.Helper()
	return natstest.OpenBus(t, t.TempDir())
}

// newWorker builds a Worker as app.Start does, with a tiny backoff.
// deliverOne publishes n to NOTIFY and starts w on it; w stops with the
// test.
func deliverOne(t *testing.T, b *bus.Bus, w *sinks.Worker, n alertgate.Notification) {
	t.Helper()
	if _, err := b.PublishNotifications(t.Context(), []alertgate.Notification{n}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

// deliveredOnceUnacked takes the sink consumer's first delivery of the
// one notification in NOTIFY and gives it back unacknowledged, as a
// process that crashed after sending would: the worker then gets a
// redelivery.
func deliveredOnceUnacked(t *testing.T, b *bus.Bus) {
	t.Helper()
	cons, err := b.Notify.CreateOrUpdateConsumer(t.Context(), jetstream.ConsumerConfig{
		Durable:       sinks.ConsumerName(alertgate.SinkPagerDuty),
		FilterSubject: bus.DeliverySubject(alertgate.SinkPagerDuty, ">"),
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		got++
		if err := m.Nak(); err != nil {
			t.Fatal(err)
		}
	}
	if got != 1 {
		t.Fatalf("fetched %d notifications, want 1", got)
	}
}

func newWorker(b *bus.Bus, n sinks.Notifier, attempts int) *sinks.Worker {
	return &sinks.Worker{
		Sink: alertgate.SinkPagerDuty, Notifier: n, Bus: b,
		Log: &sinks.Log{KV: b.Notifications, Logger: discard}, Logger: discard, Metrics: metrics.New(),
		Attempts: attempts, Timeout: 5 * time.Second, Now: time.Now,
		Backoff: backoff.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
}

func page(id string) alertgate.Notification {
	return alertgate.Notification{
		ID: id, Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage,
		Key: "alertmanager:v1:abc", Episode: "ep1", DedupKey: "alertmanager:v1:abc/0123456789abcdef",
		Event: alertgate.Event{ID: "ev1", Source: alertgate.SourceAlertmanager, Kind: alertgate.KindIncident,
			Key: "alertmanager:v1:abc", Episode: "ep1", Status: alertgate.StatusFiring, Severity: alertgate.SeverityCritical, Title: "down"},
		CreatedAt: time.Now(),
	}
}

// waitAcked polls until the consumer has nothing pending or unacknowledged.
func waitAcked(t *testing.T, b *bus.Bus) {
	t.Helper()
	ctx := t.Context()
	cons, err := b.JS.Consumer(ctx, bus.StreamNotify, sinks.ConsumerName(alertgate.SinkPagerDuty))
	if err != nil {
		t.Fatal(err)
	}
	var info *jetstream.ConsumerInfo
	poll(t, func() bool {
		info, err = cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream > 0
	}, func() string { return fmt.Sprintf("consumer not drained: %+v, %v", info, err) })
}

// poll checks cond until it holds or 10 s pass.
func poll(t *testing.T, cond func() bool, msg func() string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing an assertion
	}
}

var (
	err503 = &sinks.HTTPError{Status: 503, Body: "maintenance"}
	err500 = &sinks.HTTPError{Status: 500}
	err400 = &sinks.HTTPError{Status: 400, Body: "Event object is invalid: 'payload.severity' is invalid"}
	ok     = result{}
)

func TestWorker(t *testing.T) {
	for _, tc := range []struct {
		name        string
		notifier    *fakeNotifier
		attempts    int
		before      alertgate.DeliveryState // the log's record before delivery, if any
		redelivered bool                    // the consumer delivered it once before, unacknowledged
		calls       int
		state       alertgate.DeliveryState
		restarted   bool          // the bus is reopened (the next process) before the worker starts
		age         time.Duration // the page was decided this long before it is stored
		dead        string        // the dead-letter's Alertgate-Error header; "" = not dead-lettered
		deadWhy     string        // the dead-letter metric's reason
		lastError   string
	}{
		{
			// Delivered at the first attempt.
			name:     "success",
			notifier: &fakeNotifier{script: []result{ok}},
			attempts: 5, calls: 1, state: alertgate.StateSent,
		},
		{
			// Two transient failures, then delivered, all through
			// JetStream redelivery.
			name:     "transient twice then success",
			notifier: &fakeNotifier{script: []result{{true, err503}, {true, err503}, ok}},
			attempts: 5, calls: 3, state: alertgate.StateSent,
		},
		{
			// A permanent failure is dead-lettered at once with the reason.
			name:     "permanent",
			notifier: &fakeNotifier{script: []result{{false, err400}}},
			attempts: 5, calls: 1, state: alertgate.StateDead,
			dead: err400.Error(), deadWhy: "permanent", lastError: err400.Error(),
		},
		{
			// Transient failures until the last attempt: dead-lettered as exhausted.
			name:     "exhausted",
			notifier: &fakeNotifier{script: []result{{true, err500}}},
			attempts: 3, calls: 3, state: alertgate.StateDead,
			dead: err500.Error(), deadWhy: "exhausted", lastError: err500.Error(),
		},
		{
			// A team without a destination: dry-run, nothing sent.
			name:     "dry run",
			notifier: &fakeNotifier{disabled: true, script: []result{ok}},
			attempts: 5, calls: 0, state: alertgate.StateDryRun,
		},
		{
			// Redelivered after a crash between sending and acking: the log
			// says sent, so it is acknowledged without a second send.
			name:     "already sent",
			notifier: &fakeNotifier{script: []result{ok}},
			attempts: 5, before: alertgate.StateSent, redelivered: true, calls: 0, state: alertgate.StateSent,
		},
		{
			// The same after a SIGKILL that lost the consumer's own record
			// of the delivery: in the next process it comes back as a first
			// delivery, and the log still stops the second send.
			name:     "already sent, delivery count lost",
			notifier: &fakeNotifier{script: []result{ok}},
			attempts: 5, before: alertgate.StateSent, restarted: true, calls: 0, state: alertgate.StateSent,
		},
		{
			// A second copy of a page already sent, stored after NOTIFY's
			// Msg-Id window (the router deciding its event again after a
			// long outage): a first delivery, and the log stops it.
			name:     "already sent, copy after the Msg-Id window",
			notifier: &fakeNotifier{script: []result{ok}},
			attempts: 5, before: alertgate.StateSent, age: 6 * time.Minute, calls: 0, state: alertgate.StateSent,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			b := natstest.OpenBus(t, dir)
			w := newWorker(b, tc.notifier, tc.attempts)
			n := page("page:alertmanager:v1:abc:ep1:1")
			n.CreatedAt = n.CreatedAt.Add(-tc.age)
			if tc.before != "" {
				w.Log.Put(ctx, alertgate.Record{Notification: n, State: tc.before, Attempts: 1, UpdatedAt: time.Now()})
			}
			if _, err := b.PublishNotifications(ctx, []alertgate.Notification{n}); err != nil {
				t.Fatal(err)
			}
			if tc.redelivered {
				deliveredOnceUnacked(t, b)
			}
			if tc.restarted {
				b.Close()
				b = natstest.OpenBus(t, dir)
				w = newWorker(b, tc.notifier, tc.attempts)
			}
			if err := w.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Stop)

			var rec alertgate.Record
			poll(t, func() bool {
				var found bool
				rec, found = w.Log.Get(ctx, n.ID)
				return found && rec.State == tc.state
			}, func() string { return fmt.Sprintf("record state=%q, want %q", rec.State, tc.state) })
			waitAcked(t, b)

			if got, want := tc.notifier.ncalls(), tc.calls; got != want {
				t.Fatalf("Notify calls=%v, want %v", got, want)
			}
			if tc.calls > 0 {
				if got, want := rec.Attempts, tc.calls; got != want {
					t.Fatalf("record Attempts=%v, want %v", got, want)
				}
				if got, want := tc.notifier.calls[0].DedupKey, n.DedupKey; got != want {
					t.Fatalf("notified DedupKey=%v, want %v", got, want)
				}
			}
			if got, want := rec.LastError, tc.lastError; got != want {
				t.Fatalf("record LastError=%q, want %q", got, want)
			}

			dl, err := b.DeadLetter.GetLastMsgForSubject(ctx, bus.SubjectDeadLetter+".pagerduty.payments")
			if tc.dead == "" {
				if !errors.Is(err, jetstream.ErrMsgNotFound) {
					t.Fatalf("DEADLETTER: %v, %v, want no message", dl, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DEADLETTER: %v", err)
			}
			if got, want := dl.Header.Get(bus.HeaderError), tc.dead; got != want {
				t.Fatalf("dead-letter %s=%q, want %q", bus.HeaderError, got, want)
			}
			if got, want := dl.Header.Get(jetstream.MsgIDHeader), "dead:"+n.ID; got != want {
				t.Fatalf("dead-letter Nats-Msg-Id=%q, want %q", got, want)
			}
			if got, want := testutil.ToFloat64(w.Metrics.DeadLetters.WithLabelValues("pagerduty", tc.deadWhy)), 1.0; got != want {
				t.Fatalf("dead letters{reason=%s}=%v, want %v", tc.deadWhy, got, want)
			}
		})
	}
}

// The Retry-After of a transient failure is honoured: a notification told
// to wait is not retried before the consumer redelivers it, and is still
// delivered.
func TestWorkerRetryAfter(t *testing.T) {
	ctx := t.Context()
	b := openBus(t)
	f := &fakeNotifier{script: []result{{true, &sinks.HTTPError{Status: 429, After: 200 * time.Millisecond}}, ok}}
	w := newWorker(b, f, 5)
	n := page("page:retry-after")
	start := time.Now()
	deliverOne(t, b, w, n)
	poll(t, func() bool { r, _ := w.Log.Get(ctx, n.ID); return r.State == alertgate.StateSent },
		func() string { return "not delivered" })
	// A lower bound only: the wait cannot be shorter than what the server asked.
	if got, want := time.Since(start) >= 200*time.Millisecond, true; got != want {
		t.Fatalf("delivered after %v, want ≥200ms (Retry-After)", time.Since(start))
	}
	if got, want := f.ncalls(), 2; got != want {
		t.Fatalf("Notify calls=%v, want %v", got, want)
	}
}

// throttledNotifier paces its sends: each Reserve takes the next of turns.
type throttledNotifier struct {
	fakeNotifier
	turns    []time.Duration
	reserved int
}

func (f *throttledNotifier) Reserve(alertgate.Notification) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.turns[min(f.reserved, len(f.turns)-1)]
	f.reserved++
	return d
}

var _ sinks.Throttle = (*throttledNotifier)(nil)

// Waiting for the sink's rate limit is not a failed attempt: a short wait
// is held in hand, a long one gives the message back until its turn, which
// is kept (not taken again) for the redelivery. With one attempt allowed,
// either way the page is delivered, not dead-lettered.
func TestWorkerThrottle(t *testing.T) {
	for _, tc := range []struct {
		name      string
		turns     []time.Duration
		throttled float64
		reserved  int
	}{
		{name: "short wait in hand", turns: []time.Duration{300 * time.Millisecond}, reserved: 1},
		{name: "long wait given back", turns: []time.Duration{2500 * time.Millisecond, time.Hour}, throttled: 1, reserved: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			b := openBus(t)
			nt := &throttledNotifier{fakeNotifier: fakeNotifier{script: []result{{}}}, turns: tc.turns}
			w := newWorker(b, nt, 1)
			n := page("page:alertmanager:v1:abc:ep1:1")
			start := time.Now()
			deliverOne(t, b, w, n)
			var rec alertgate.Record
			poll(t, func() bool {
				var ok bool
				rec, ok = w.Log.Get(ctx, n.ID)
				return ok && rec.State != alertgate.StatePending
			}, func() string { return "no delivery recorded" })
			waitAcked(t, b)
			if rec.State != alertgate.StateSent || rec.Attempts != 1 {
				t.Fatalf("record %s after %d attempts, want sent after 1", rec.State, rec.Attempts)
			}
			if took := time.Since(start); took < tc.turns[0] {
				t.Fatalf("sent after %v, before its turn (%v)", took, tc.turns[0])
			}
			if got := nt.ncalls(); got != 1 {
				t.Fatalf("Notify calls=%d, want 1", got)
			}
			if nt.reserved != tc.reserved {
				t.Fatalf("turns taken=%d, want %d (a kept turn is not taken again)", nt.reserved, tc.reserved)
			}
			if got := testutil.ToFloat64(w.Metrics.DeliveryAttempt.WithLabelValues("pagerduty", "throttled")); got != tc.throttled {
				t.Fatalf("throttled=%v, want %v", got, tc.throttled)
			}
		})
	}
}

// The Slack worker delivers digests and never their items, which share
// the sink but are read by the digester alone.
func TestWorkerSlackDeliversDigestsOnly(t *testing.T) {
	ctx := t.Context()
	b := openBus(t)
	f := &fakeNotifier{script: []result{ok}}
	w := newWorker(b, f, 3)
	w.Sink = alertgate.SinkSlack
	item := alertgate.Notification{ID: "digest:bug_new:k", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeBugNew, Key: "k", CreatedAt: time.Now()}
	digest := alertgate.Notification{ID: "digest:payments:1:1", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeDigest, Key: "digest:payments",
		CreatedAt: time.Now(), Body: []byte(`{"text":"digest"}`), Items: []alertgate.DigestItem{{ID: item.ID, Type: item.Type, Key: item.Key}}}
	if _, err := b.PublishNotifications(ctx, []alertgate.Notification{item, digest}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	poll(t, func() bool { r, _ := w.Log.Get(ctx, digest.ID); return r.State == alertgate.StateSent },
		func() string { return "digest not delivered" })
	cons, err := b.JS.Consumer(ctx, bus.StreamNotify, sinks.ConsumerName(alertgate.SinkSlack))
	if err != nil {
		t.Fatal(err)
	}
	poll(t, func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream > 0
	}, func() string { return "consumer not drained" })
	if got := f.ncalls(); got != 1 || f.calls[0].ID != digest.ID {
		t.Fatalf("Notify calls=%d (%v), want the digest only", got, f.calls)
	}
	if _, found := w.Log.Get(ctx, item.ID); found {
		t.Fatal("the item has a record of its own")
	}
}
