package slack

// Edits of posted digests. A change to show (an incident resolved, a
// button pressed) is written into the digest's record (Messages) and
// then published to NOTIFY as a digest_update notification whose ID, the
// Nats-Msg-Id, follows from the digest and the change: a resolve read
// twice, or by two instances, publishes one edit. The Slack worker
// delivers it with its retries and dead letters (App.update), pacing the
// channel. The Updater reads the resolves from NOTIFY on a durable
// consumer, so a restart between a resolve and its edit still edits the
// message: the resolve is read again after the restart.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/wire"
)

// UpdaterConsumer is the Updater's durable consumer on NOTIFY.
const UpdaterConsumer = "slack-digest-updates"

// Updater marks the incidents resolved in the posted digests that list
// them, and publishes their edits.
type Updater struct {
	Bus      *bus.Bus
	Messages *Messages
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	Now      func() time.Time

	cc jetstream.ConsumeContext
}

// Start creates (or binds to) the consumer of the teams' PagerDuty
// notifications (the resolves are among them) and starts reading.
func (u *Updater) Start(ctx context.Context) error {
	cons, err := u.Bus.Notify.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       UpdaterConsumer,
		FilterSubject: bus.NotifySubject(alertgate.SinkPagerDuty, "*"),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		// Only what comes after: digests posted before app mode was on
		// list nothing to edit.
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", UpdaterConsumer, err)
	}
	u.cc, err = cons.Consume(func(m jetstream.Msg) { u.handle(ctx, m) })
	return err
}

// Stop stops reading after the message in hand.
func (u *Updater) Stop() {
	if u.cc != nil {
		u.cc.Drain()
		<-u.cc.Closed()
	}
}

// Running reports whether the consumer consumes.
func (u *Updater) Running() error { return bus.Consuming(u.cc) }

func (u *Updater) handle(ctx context.Context, m jetstream.Msg) {
	var n alertgate.Notification
	if err := wire.Unmarshal(m.Data(), &n); err != nil || n.Type != alertgate.TypeResolve {
		_ = m.Ack()
		return
	}
	if err := u.resolved(ctx, n); err != nil {
		u.Logger.Warn("digest edit for a resolve not published, will retry", "key", n.Key, "notification", n.ID, "err", err)
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	_ = m.Ack()
}

// resolved marks n's incident resolved in every posted digest listing its
// episode as paged, and publishes their edits.
func (u *Updater) resolved(ctx context.Context, n alertgate.Notification) error {
	ids, err := u.Messages.Listing(ctx, n.Key)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rec, _, err := u.Messages.Change(ctx, id, func(m *Message) bool {
			listed := slices.ContainsFunc(m.Digest.Opened, func(in Incident) bool {
				return in.Key == n.Key && (n.DedupKey == "" || in.DedupKey == n.DedupKey)
			})
			if !listed || !m.Digest.States[n.Key].ResolvedAt.IsZero() {
				return false
			}
			setState(m, n.Key, func(st *ItemState) { st.ResolvedAt = n.CreatedAt })
			return true
		})
		if err != nil {
			return err
		}
		// Published whether this read changed the record or an earlier
		// one did (and stopped before publishing): the ID makes it once.
		if rec != nil && !rec.Digest.States[n.Key].ResolvedAt.IsZero() {
			if err := PublishUpdate(ctx, u.Bus, rec, "resolve:"+n.ID, u.Now()); err != nil {
				return err
			}
			u.Metrics.SlackUpdates.WithLabelValues("published").Inc()
		}
	}
	return nil
}

// setState changes the state of key in m's digest and counts a version.
func setState(m *Message, key string, change func(*ItemState)) {
	if m.Digest.States == nil {
		m.Digest.States = map[string]ItemState{}
	}
	st := m.Digest.States[key]
	change(&st)
	m.Digest.States[key] = st
	m.Version++
}

// PublishUpdate stores the edit of a posted digest in NOTIFY; cause names
// the change, so the same change publishes the same ID.
func PublishUpdate(ctx context.Context, b *bus.Bus, m *Message, cause string, now time.Time) error {
	n := alertgate.Notification{
		ID: "digest_update:" + m.ID + ":" + cause, Sink: alertgate.SinkSlack, Team: m.Team, Type: alertgate.TypeDigestUpdate,
		Key: m.ID, CreatedAt: now,
	}
	n.Event.Title = "edit of digest " + m.ID
	_, err := b.PublishNotifications(ctx, []alertgate.Notification{n})
	return err
}
