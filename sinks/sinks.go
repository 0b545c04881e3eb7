// Package sinks delivers notifications from the NOTIFY stream to external
// systems, one subpackage per system (pagerduty, slack), each with a
// Notifier. The Worker here is shared: it consumes what its sink delivers
// (bus.DeliverySubject: PagerDuty's pages and resolves, Slack's digests) on
// a durable consumer, asks the notifier to deliver, retries transient failures
// with exponential backoff scheduled through JetStream redelivery (so a
// restart keeps the schedule), and dead-letters permanent failures and
// exhausted retries.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/backoff"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/wire"
)

// Notifier delivers to one external system.
type Notifier interface {
	// Enabled reports whether the team has a destination on this sink; a
	// team without one runs in dry-run.
	Enabled(team string) bool
	// Notify delivers n. On failure, retry says whether trying again may help.
	Notify(ctx context.Context, n alertgate.Notification) (retry bool, err error)
}

// Throttle is implemented by a Notifier that paces its sends (PagerDuty's
// limit per routing key).
type Throttle interface {
	// Reserve takes the next turn for n and says how long until it comes.
	Reserve(n alertgate.Notification) time.Duration
}

// maxHold is the longest a delivery waits for its turn in hand; a longer
// wait gives the message back to JetStream until the turn comes.
const maxHold = 2 * time.Second

// turn returns how long n must wait for the sink's rate limit. A turn taken
// for a message given back is kept for its redelivery, so waiting does not
// push it further back.
func (w *Worker) turn(n alertgate.Notification) time.Duration {
	th, ok := w.Notifier.(Throttle)
	if !ok {
		return 0
	}
	w.turnsMu.Lock()
	defer w.turnsMu.Unlock()
	at, kept := w.turns[n.ID]
	if !kept {
		at = time.Now().Add(th.Reserve(n))
	}
	wait := time.Until(at)
	if wait > maxHold {
		if w.turns == nil {
			w.turns = map[string]time.Time{}
		}
		w.turns[n.ID] = at
		w.pruneTurns()
	} else {
		delete(w.turns, n.ID)
	}
	return wait
}

// pruneTurns forgets turns long past: their message went to another
// instance sharing the consumer, or was acknowledged there. Called with
// turnsMu held.
func (w *Worker) pruneTurns() {
	now := time.Now()
	if len(w.turns) < 1024 || now.Sub(w.pruned) < time.Minute {
		return
	}
	w.pruned = now
	stale := now.Add(-5 * time.Minute)
	for id, at := range w.turns {
		if at.Before(stale) {
			delete(w.turns, id)
		}
	}
}

// RetryAfter is implemented by errors that carry the server's Retry-After.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// HTTPError is a non-2xx answer from a sink's API.
type HTTPError struct {
	Status int
	Body   string
	After  time.Duration
}

func (e *HTTPError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// RetryAfter returns the wait the server asked for (0 if none).
func (e *HTTPError) RetryAfter() time.Duration { return e.After }

var _ RetryAfter = (*HTTPError)(nil)

// Retryable classifies an HTTP status: 5xx and 429 are worth retrying, any
// other 4xx is permanent (the request itself is wrong).
func Retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func ParseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Worker consumes one sink's notifications.
type Worker struct {
	Sink     alertgate.Sink
	Notifier Notifier
	Bus      *bus.Bus
	Log      *Log
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	// Attempts before a notification is dead-lettered (at least 1).
	Attempts int
	Backoff  backoff.Backoff
	// Timeout of one delivery attempt.
	Timeout time.Duration
	// MaxAge: past it, a failing notification is dead-lettered even with
	// attempts left (0: no limit).
	MaxAge time.Duration
	Now    func() time.Time
	// Concurrency is how many notifications are delivered at once (one
	// incident's trigger and resolve stay in order). Default 32: each
	// delivery is mostly waiting (the sink's answer, the log write, the
	// confirmed ack), so it takes many in flight to keep a core busy.
	Concurrency int

	cc    jetstream.ConsumeContext
	parts *bus.Partitions[jetstream.Msg]
	// turns are the rate-limit turns of messages given back to wait.
	turnsMu sync.Mutex
	turns   map[string]time.Time
	pruned  time.Time
}

// ConsumerName is the durable consumer of a sink, shared by every instance.
func ConsumerName(s alertgate.Sink) string { return "sink-" + string(s) }

// Start creates (or binds to) the durable consumer and starts consuming.
func (w *Worker) Start(ctx context.Context) error {
	cons, err := w.Bus.Notify.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName(w.Sink),
		FilterSubject: bus.DeliverySubject(w.Sink, ">"),
		AckPolicy:     jetstream.AckExplicitPolicy,
		// A delivery in hand sends InProgress (handle's heartbeat), so the
		// ack wait only has to cover a message lost on its way to us (a
		// node failing over): short. The backoff is NakWithDelay.
		AckWait:    w.ackWait(),
		MaxDeliver: -1,
		// Few in hand: each waits its turn in a partition queue, and the
		// per-key rate limit can make that turn slow.
		MaxAckPending: 4 * max(w.Concurrency, 32),
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ConsumerName(w.Sink), err)
	}
	if w.Concurrency < 1 {
		w.Concurrency = 32
	}
	w.parts = bus.NewPartitions(w.Concurrency, 16, bus.MsgKey, func(m jetstream.Msg) { w.handle(ctx, m) })
	w.cc, err = cons.Consume(w.parts.Dispatch)
	return err
}

// Stop stops consuming and waits for the message in hand.
func (w *Worker) Stop() {
	if w.cc != nil {
		w.cc.Drain()
		<-w.cc.Closed()
		w.parts.Close()
	}
}

func (w *Worker) ackWait() time.Duration { return max(30*time.Second, 2*w.Timeout) }

func (w *Worker) handle(ctx context.Context, m jetstream.Msg) {
	// Heartbeat while the delivery is in hand (rate-limit waits, a slow
	// sink): the server must not redeliver it meanwhile.
	hb := startHeartbeat(w.ackWait()/3, func() { _ = m.InProgress() })
	defer hb.stop()
	var n alertgate.Notification
	if err := wire.Unmarshal(m.Data(), &n); err != nil {
		w.Logger.Error("undecodable notification terminated", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	// The log is read on every delivery that is not certainly the
	// notification's first (bus.FirstDelivery), not only when JetStream
	// counts a redelivery: after a SIGKILL the consumer's delivery counts
	// and acks of the last moments can be lost (its state is flushed
	// asynchronously), so a page already sent comes back as a first
	// delivery; and the router deciding an event again after the Msg-Id
	// window stores a second copy of the page. The attempt number comes
	// from the log too: a redelivery that only waited for its turn
	// (throttled below) or a crash mid-attempt does not use up an attempt.
	// Skipping the read on a first delivery takes a round trip off every
	// page's path.
	attempt := 1
	var rec alertgate.Record
	found := false
	if !w.Bus.FirstDelivery(m, n.ID, n.CreatedAt) {
		rec, found = w.Log.Get(ctx, n.ID)
	}
	if found && rec.State == alertgate.StateRetrying {
		attempt = rec.Attempts + 1
	}
	log := &deliveryLog{l: w.Logger, attrs: [...]slog.Attr{
		slog.String("sink", string(w.Sink)), slog.String("team", n.Team), slog.String("type", string(n.Type)), slog.String("key", n.Key),
		slog.String("notification", n.ID), slog.String("request_id", n.Event.RequestID), slog.Int("attempt", attempt),
	}}

	// A redelivery after a crash between delivery and ack: the log says
	// it was delivered, so do not deliver twice.
	if found && (rec.State == alertgate.StateSent || rec.State == alertgate.StateDryRun || rec.State == alertgate.StateDead) {
		log.Info("already delivered, acknowledging", "state", rec.State)
		_ = m.Ack()
		return
	}

	if !w.Notifier.Enabled(n.Team) {
		log.Info("dry-run: team has no destination on this sink", "summary", n.Event.Title)
		w.Log.Put(ctx, alertgate.Record{Notification: n, State: alertgate.StateDryRun, Attempts: attempt, UpdatedAt: w.Now()})
		w.Metrics.Notifications.WithLabelValues(string(w.Sink), string(n.Type), string(alertgate.StateDryRun)).Inc()
		_ = m.Ack()
		return
	}

	if wait := w.turn(n); wait > 0 {
		if wait > maxHold {
			// Its turn is far off: give the message back until then rather
			// than hold a partition (and the other teams' pages queued in
			// it). Not an attempt: nothing was sent.
			w.Metrics.DeliveryAttempt.WithLabelValues(string(w.Sink), "throttled").Inc()
			log.Debug("throttled: waiting for the sink's rate limit", "retry_in", wait)
			_ = m.NakWithDelay(wait)
			return
		}
		select {
		case <-ctx.Done():
			_ = m.NakWithDelay(time.Second)
			return
		case <-time.After(wait):
		}
	}

	actx, cancel := context.WithTimeout(ctx, w.Timeout)
	start := w.Now()
	retry, err := w.Notifier.Notify(actx, n)
	cancel()
	w.Metrics.DeliverySeconds.WithLabelValues(string(w.Sink)).Observe(w.Now().Sub(start).Seconds())

	if err == nil {
		w.Metrics.DeliveryAttempt.WithLabelValues(string(w.Sink), "ok").Inc()
		w.Metrics.Notifications.WithLabelValues(string(w.Sink), string(n.Type), string(alertgate.StateSent)).Inc()
		if w.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypePage && !n.Event.ReceivedAt.IsZero() {
			w.Metrics.PageLatency.Observe(w.Now().Sub(n.Event.ReceivedAt).Seconds())
		}
		if n.Type == alertgate.TypePage && n.Runbook == nil {
			w.Metrics.NoRunbook.WithLabelValues(n.Team).Inc()
			log.Warn("page sent without a runbook")
		}
		w.Log.Put(ctx, alertgate.Record{Notification: n, State: alertgate.StateSent, Attempts: attempt, UpdatedAt: w.Now()})
		log.Info("delivered", "dedup_key", n.DedupKey)
		if err := bus.Ack(ctx, m); err != nil {
			log.Warn("ack not confirmed: a redelivery will find it delivered", "err", err)
		}
		return
	}

	if ctx.Err() != nil {
		// Shutting down: leave it for redelivery without counting a failure.
		_ = m.NakWithDelay(time.Second)
		return
	}
	tooOld := w.MaxAge > 0 && !n.CreatedAt.IsZero() && w.Now().Sub(n.CreatedAt) >= w.MaxAge
	if !retry || attempt >= w.Attempts || tooOld {
		reason := "permanent"
		switch {
		case retry && tooOld && attempt < w.Attempts:
			reason = "expired"
		case retry:
			reason = "exhausted"
		}
		w.Metrics.DeliveryAttempt.WithLabelValues(string(w.Sink), map[bool]string{true: "retry", false: "permanent"}[retry]).Inc()
		w.deadLetter(ctx, m, n, attempt, reason, err, log)
		return
	}
	delay := w.Backoff.Delay(attempt)
	var ra RetryAfter
	if errors.As(err, &ra) && ra.RetryAfter() > delay {
		delay = ra.RetryAfter()
	}
	w.Metrics.DeliveryAttempt.WithLabelValues(string(w.Sink), "retry").Inc()
	w.Metrics.Notifications.WithLabelValues(string(w.Sink), string(n.Type), string(alertgate.StateRetrying)).Inc()
	w.Log.Put(ctx, alertgate.Record{Notification: n, State: alertgate.StateRetrying, Attempts: attempt, LastError: err.Error(), UpdatedAt: w.Now()})
	log.Warn("delivery failed, will retry", "err", err, "retry_in", delay)
	_ = m.NakWithDelay(delay)
}

func (w *Worker) deadLetter(ctx context.Context, m jetstream.Msg, n alertgate.Notification, attempt int, reason string, cause error, log *deliveryLog) {
	if err := w.Bus.PublishDeadLetter(ctx, n, cause.Error()); err != nil {
		// Not stored in DEADLETTER: keep it in NOTIFY and try again later
		// rather than lose it.
		log.Error("dead-letter publish failed, will retry", "err", err)
		_ = m.NakWithDelay(w.Backoff.Max)
		return
	}
	w.Metrics.DeadLetters.WithLabelValues(string(w.Sink), reason).Inc()
	w.Metrics.Notifications.WithLabelValues(string(w.Sink), string(n.Type), string(alertgate.StateDead)).Inc()
	w.Log.Put(ctx, alertgate.Record{Notification: n, State: alertgate.StateDead, Attempts: attempt, LastError: cause.Error(), UpdatedAt: w.Now()})
	log.Error("notification dead-lettered", "reason", reason, "err", cause)
	_ = m.Term()
}

// heartbeat calls beat every interval until stopped: a timer rather than a
// goroutine per delivery, since nearly every delivery ends before the
// first beat.
type heartbeat struct {
	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func startHeartbeat(every time.Duration, beat func()) *heartbeat {
	h := &heartbeat{}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.t = time.AfterFunc(every, func() {
		beat()
		h.mu.Lock()
		defer h.mu.Unlock()
		if !h.stopped {
			h.t.Reset(every)
		}
	})
	return h
}

func (h *heartbeat) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.t.Stop()
}

// deliveryLog writes the lines about one delivery with the fields that
// identify it, formatted once per line written rather than once per
// delivery (as a logger made with With would).
type deliveryLog struct {
	l     *slog.Logger
	attrs [7]slog.Attr
}

func (d *deliveryLog) log(level slog.Level, msg string, args ...any) {
	ctx := context.Background()
	if !d.l.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(d.attrs[:]...)
	r.Add(args...)
	_ = d.l.Handler().Handle(ctx, r)
}

func (d *deliveryLog) Debug(msg string, args ...any) { d.log(slog.LevelDebug, msg, args...) }
func (d *deliveryLog) Info(msg string, args ...any)  { d.log(slog.LevelInfo, msg, args...) }
func (d *deliveryLog) Warn(msg string, args ...any)  { d.log(slog.LevelWarn, msg, args...) }
func (d *deliveryLog) Error(msg string, args ...any) { d.log(slog.LevelError, msg, args...) }

// Running reports whether the consumer is consuming.
func (w *Worker) Running() error {
	return bus.Consuming(w.cc)
}
