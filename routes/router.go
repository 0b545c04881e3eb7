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
// decision is stored and its notifications emitted, so a crash anywhere
// redelivers it; the redelivery finds the stored decision's notifications
// in the state's outbox and emits them under the same IDs.
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
	// AckPoll is how often the consumer's ack floor is read (default 1s):
	// the policy drops an outbox entry once its message is acknowledged
	// (Acknowledged). Later only means entries stay a little longer, and a
	// resolve decided meanwhile sends its page ahead of it once more.
	AckPoll time.Duration
	// Silences and Inhibitor hold pages (nil: none). The route's notify
	// mode and time intervals come from Routes.
	Silences  Silencer
	Inhibitor Inhibitor
	// Related is told what the router decided: the index of what a page
	// lists as going on where it fires (nil: no correlation).
	Related Correlator
	// RecheckEvery is how often held keys are re-checked (default 5s): a
	// page whose hold ended goes out within it.
	RecheckEvery time.Duration
	// Now is the clock of the re-check (default time.Now). Events are
	// decided, holds included, at their arrival time.
	Now func() time.Time

	rechecked chan struct{}
	cc        jetstream.ConsumeContext
	parts     *bus.Partitions[item]
	// ackFloor is the router consumer's ack floor as last read: every
	// ALERTS message up to it is acknowledged. It is the consumer's, so it
	// covers the messages of every instance sharing it.
	ackFloor atomic.Uint64
	stopPoll context.CancelFunc
	polled   chan struct{}
	// publish replaces the publishing of notifications in tests (faults
	// between the state write and the emit); nil publishes to NOTIFY.
	publish func(context.Context, []alertgate.Notification) error
}

// item is one event of an ALERTS message, decided on its key's partition.
type item struct {
	ev  alertgate.Event
	del *delivery
}

// seq is the ALERTS stream sequence of the message holding the event.
func (it item) seq() uint64 { return it.del.seq }

// delivery is an ALERTS message in hand: acknowledged once every event it
// holds is decided, redelivered (whole) if any of them failed. The events
// decided before the failure are found decided then: their notifications
// are still in their key's outbox (emitted again under the same IDs), or,
// once settled, the episode is open and the class's last event the same.
type delivery struct {
	m       jetstream.Msg
	seq     uint64 // the message's stream sequence (0 if unknown)
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
	if r.AckPoll <= 0 {
		r.AckPoll = time.Second
	}
	if r.RecheckEvery <= 0 {
		r.RecheckEvery = 5 * time.Second
	}
	r.readAckFloor(ctx, cons)
	pctx, stop := context.WithCancel(ctx)
	r.stopPoll, r.polled, r.rechecked = stop, make(chan struct{}), make(chan struct{})
	go r.pollAckFloor(pctx, cons)
	go r.recheck(pctx)
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
	if r.stopPoll != nil {
		r.stopPoll()
		<-r.polled
		<-r.rechecked
	}
}

// Acknowledged reports whether the ALERTS message at seq was acknowledged
// (dedup.Acks): the router acknowledges a message only once the decisions
// of its events are stored and their notifications emitted.
func (r *Router) Acknowledged(seq uint64) bool { return seq <= r.ackFloor.Load() }

var _ dedup.Acks = (*Router)(nil)

func (r *Router) pollAckFloor(ctx context.Context, cons jetstream.Consumer) {
	defer close(r.polled)
	t := time.NewTicker(r.AckPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.readAckFloor(ctx, cons)
		}
	}
}

// readAckFloor reads the consumer's ack floor. A failed read keeps the
// last: entries are then only kept longer.
func (r *Router) readAckFloor(ctx context.Context, cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		return
	}
	// Only forward: a stale answer must not take back an acknowledgement.
	for {
		cur := r.ackFloor.Load()
		if info.AckFloor.Stream <= cur || r.ackFloor.CompareAndSwap(cur, info.AckFloor.Stream) {
			return
		}
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
	if md, err := m.Metadata(); err == nil {
		d.seq = md.Sequence.Stream
	}
	d.pending.Store(int32(len(evs)))
	for i := range evs {
		r.parts.Dispatch(item{ev: evs[i], del: d})
	}
}

func (r *Router) handle(ctx context.Context, it item) {
	ev := &it.ev
	res, err := r.process(ctx, *ev, it.seq())
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
	return r.process(ctx, ev, 0)
}

// process is Process for an event of the ALERTS message at sequence seq
// (0: none).
func (r *Router) process(ctx context.Context, ev alertgate.Event, seq uint64) (Result, error) {
	m := r.holder().Match(&ev)
	d, err := r.Policy.ApplyDelivered(ctx, ev, seq, m, r)
	if err != nil {
		return Result{}, err
	}
	if err := r.afterDecision(ctx, ev, d); err != nil {
		return Result{}, err
	}
	r.Metrics.Decisions.WithLabelValues(string(d.Kind), d.Outcome).Inc()
	return Result{Event: ev, KindWhy: m.KindWhy, Match: m, Decision: d}, nil
}

// EventTime is when the event arrived (when it happened, if unknown): the
// time its holds are evaluated at, as the policy decides it.
func EventTime(ev alertgate.Event) time.Time {
	if !ev.ReceivedAt.IsZero() {
		return ev.ReceivedAt
	}
	return ev.OccurredAt
}

// Emit publishes a decision's notifications to NOTIFY (the policy's
// dedup.Emitter). Nothing else is written here: a page's log record comes
// from its sink, and a digest item is pending for as long as it sits in
// NOTIFY after its team's digest cursor.
func (r *Router) Emit(ctx context.Context, ns []alertgate.Notification) error {
	if r.publish != nil {
		return r.publish(ctx, ns)
	}
	_, err := r.Bus.PublishNotifications(ctx, ns)
	return err
}

var _ dedup.Emitter = (*Router)(nil)

// Running reports whether the consumer is consuming.
func (r *Router) Running() error {
	return bus.Consuming(r.cc)
}
