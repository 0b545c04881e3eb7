package routes

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/metrics"
)

// ConsumerName is the durable consumer of ALERTS.
const ConsumerName = "router"

// Router is the stage between ALERTS and NOTIFY: it consumes events on a
// durable consumer shared by every alertgate instance, classifies and routes
// each (Table), applies the policy with durable state (dedup), and publishes
// the resulting notifications. An event is acknowledged only after its
// decision is stored, so a crash anywhere redelivers it, and the policy's
// idempotent notification IDs make the redelivery harmless.
type Router struct {
	Bus     *bus.Bus
	Routes  *Table
	Policy  *dedup.Policy
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Concurrency is how many events are decided at once (different keys
	// only: one key's events stay in order). Default 32, for the same
	// reason as the sinks': each event is mostly round trips to JetStream.
	Concurrency int

	cc    jetstream.ConsumeContext
	parts *bus.Partitions[item]
}

// item is one event of an ALERTS message, decided on its key's partition.
type item struct {
	ev  alertgate.Event
	del *delivery
}

// delivery is an ALERTS message in hand: acknowledged once every event it
// holds is decided, redelivered (whole) if any of them failed. The events
// decided before the failure are decided again then, and found known:
// an incident's episode is already open, a bug class's last event is the
// same.
type delivery struct {
	m       jetstream.Msg
	pending atomic.Int32
	failed  atomic.Bool
}

// Start creates (or binds to) the durable consumer and starts consuming.
func (r *Router) Start(ctx context.Context) error {
	cons, err := r.Bus.Alerts.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		FilterSubject: bus.SubjectAlerts + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		// Per-key order matters (firing before resolved): Partitions keeps
		// one key's messages on one goroutine; redeliveries are rare and the
		// policy tolerates them (a resolve before its firing is remembered).
		MaxAckPending: 1024,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ConsumerName, err)
	}
	if r.Concurrency < 1 {
		r.Concurrency = 32
	}
	r.parts = bus.NewPartitions(r.Concurrency, 64, func(it item) string { return it.ev.Key }, func(it item) { r.handle(ctx, it) })
	// A message holds up to a webhook's worth of events: bound the pull
	// buffer by bytes, not messages (twice the largest message the server
	// takes, so one always fits).
	r.cc, err = cons.Consume(func(m jetstream.Msg) { r.receive(ctx, m) },
		jetstream.PullMaxBytes(int(2*r.Bus.NC.MaxPayload())))
	return err
}

// Stop stops consuming and waits for the message in hand.
func (r *Router) Stop() {
	if r.cc != nil {
		r.cc.Drain()
		<-r.cc.Closed()
		r.parts.Close()
	}
}

// receive splits an ALERTS message into its events and queues each on its
// key's partition.
func (r *Router) receive(ctx context.Context, m jetstream.Msg) {
	evs, err := bus.DecodeEvents(m.Data())
	if err != nil {
		r.Metrics.RouterErrors.WithLabelValues("undecodable").Inc()
		r.Logger.Error("undecodable event terminated", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	if len(evs) == 0 {
		_ = bus.Ack(ctx, m)
		return
	}
	d := &delivery{m: m}
	d.pending.Store(int32(len(evs)))
	for i := range evs {
		r.parts.Dispatch(item{ev: evs[i], del: d})
	}
}

func (r *Router) handle(ctx context.Context, it item) {
	ev := &it.ev
	res, err := r.Process(ctx, *ev)
	if !ev.ReceivedAt.IsZero() {
		r.Metrics.DecisionLag.Observe(time.Since(ev.ReceivedAt).Seconds())
	}
	if err != nil {
		r.Metrics.RouterErrors.WithLabelValues("transient").Inc()
		r.Logger.Error("event not routed, will retry", "key", ev.Key, "event", ev.ID, "request_id", ev.RequestID, "err", err)
		it.del.failed.Store(true)
	} else {
		// Typed attributes: one line per event, so no boxing into any.
		r.Logger.LogAttrs(ctx, slog.LevelInfo, "decision",
			slog.String("request_id", ev.RequestID), slog.String("event", ev.ID), slog.String("source", string(ev.Source)), slog.String("key", ev.Key),
			slog.String("episode", ev.Episode), slog.String("status", string(ev.Status)), slog.String("kind", string(res.Decision.Kind)),
			slog.String("team", res.Match.Team), slog.Int("route", res.Match.Route), slog.String("outcome", res.Decision.Outcome),
			slog.String("reason", res.Decision.Reason), slog.Int("notifications", len(res.Decision.Notifications)))
	}
	if it.del.pending.Add(-1) > 0 {
		return
	}
	m := it.del.m
	if it.del.failed.Load() {
		_ = m.NakWithDelay(time.Second)
		return
	}
	if err := bus.Ack(ctx, m); err != nil {
		r.Logger.Warn("ack not confirmed: the events will be redelivered and found already decided", "event", ev.ID, "request_id", ev.RequestID, "err", err)
	}
}

// Result is what happened to one event.
type Result struct {
	Event    alertgate.Event `json:"event"`
	KindWhy  string          `json:"kind_why"`
	Match    alertgate.Match `json:"match"`
	Decision dedup.Decision  `json:"decision"`
}

// Process classifies, routes and decides one event, emitting its
// notifications. Exported for tests and for replays.
func (r *Router) Process(ctx context.Context, ev alertgate.Event) (Result, error) {
	if ev.Labels == nil {
		ev.Labels = map[string]string{}
	}
	why := r.Routes.Classify(&ev)
	m := r.Routes.Route(ev)
	m.KindWhy = why
	d, err := r.Policy.Apply(ctx, ev, m, r)
	if err != nil {
		return Result{}, err
	}
	r.Metrics.Decisions.WithLabelValues(string(d.Kind), d.Outcome).Inc()
	return Result{Event: ev, KindWhy: why, Match: m, Decision: d}, nil
}

// Emit publishes a decision's notifications to NOTIFY (the policy's
// dedup.Emitter). Nothing else is written here: a page's log record comes
// from its sink, and a digest item is pending for as long as it sits in
// NOTIFY after its team's digest cursor.
func (r *Router) Emit(ctx context.Context, ns []alertgate.Notification) error {
	_, err := r.Bus.PublishNotifications(ctx, ns)
	return err
}

var _ dedup.Emitter = (*Router)(nil)

// Running reports whether the consumer is consuming.
func (r *Router) Running() error {
	return bus.Consuming(r.cc)
}
