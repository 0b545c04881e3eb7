package sinks

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/wire"
)

// Log is the notification log: the latest delivery state of every
// notification, in a KV bucket keyed by notification ID. It answers "was
// this already delivered?" before a send (so a redelivery after a crash
// does not send twice) and backs GET /v1/notifications.
type Log struct {
	KV jetstream.KeyValue
	// JS reads the bucket's stream for List.
	JS     jetstream.JetStream
	Logger *slog.Logger
	// Pending, if set, lists the notifications decided that no delivery
	// carries yet, for List: they have no record of their own.
	Pending PendingLister
}

// PendingLister lists notifications that wait, without a log record, for
// a delivery to carry them: the digest items after each team's digest
// cursor. A record per item would cost a KV subject per bug class.
type PendingLister interface {
	// Pending returns up to limit of them, newest first.
	Pending(ctx context.Context, limit int) ([]alertgate.Notification, error)
}

func logKey(id string) string { return alertgate.Hash(id) }

// Get returns the record of a notification.
func (l *Log) Get(ctx context.Context, id string) (alertgate.Record, bool) {
	e, err := l.KV.Get(ctx, logKey(id))
	if err != nil {
		return alertgate.Record{}, false
	}
	var r alertgate.Record
	if wire.Unmarshal(e.Value(), &r) != nil {
		return alertgate.Record{}, false
	}
	return r, true
}

// Put records a state. A failure is logged, not returned: the log is for
// reading and for avoiding duplicates; delivery must not stop for it.
func (l *Log) Put(ctx context.Context, r alertgate.Record) {
	r.Notification = summary(r.Notification)
	b, err := wire.Marshal(&r)
	if err == nil {
		_, err = l.KV.Put(ctx, logKey(r.ID), b)
	}
	if err != nil {
		l.Logger.Warn("notification log write failed", "notification", r.ID, "err", err)
	}
}

// summary is what the log keeps of a notification: what /v1/notifications
// and the status page show. The event's labels, description and links stay
// in NOTIFY (and DEADLETTER, for replays): a page's record is a KV write on
// the paging path, so it carries no more than the lists need.
func summary(n alertgate.Notification) alertgate.Notification {
	e := n.Event
	n.Event = alertgate.Event{
		ID: e.ID, Source: e.Source, Kind: e.Kind, Key: e.Key, Episode: e.Episode, Status: e.Status, Severity: e.Severity,
		Title: e.Title, Service: e.Service, OccurredAt: e.OccurredAt, Count: e.Count, ReceivedAt: e.ReceivedAt, RequestID: e.RequestID,
	}
	return n
}

// List returns up to limit records, newest first: the log's, most
// recently updated first with a digest's items just before the digest,
// and the pending notifications (state pending, as of their decision)
// merged in by time. It reads the bucket's stream backwards by sequence:
// with history 1 the surviving message of each key is its latest state.
func (l *Log) List(ctx context.Context, limit int) ([]alertgate.Record, error) {
	s, err := l.JS.Stream(ctx, "KV_"+l.KV.Bucket())
	if err != nil {
		return nil, err
	}
	out := []alertgate.Record{}
	err = bus.Backwards(ctx, s, limit, func(m *jetstream.RawStreamMsg) bool {
		var r alertgate.Record
		if len(m.Data) == 0 || wire.Unmarshal(m.Data, &r) != nil {
			return false // a delete marker or foreign data
		}
		out = append(out, r.Expand()...)
		return true
	})
	if err != nil {
		return nil, err
	}
	// A digest counts once toward the read limit but lists its items too.
	out = out[:min(len(out), limit)]
	if l.Pending == nil {
		return out, nil
	}
	pending, err := l.Pending.Pending(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("pending notifications: %w", err)
	}
	return mergePending(out, pending, limit), nil
}

// mergePending merges recs (newest first) with the pending notifications
// (newest first) into at most limit records. A pending notification the
// log already lists is left out: a digest is recorded (pending) just
// before it is stored, and its items are still after the cursor until it
// moves.
func mergePending(recs []alertgate.Record, pending []alertgate.Notification, limit int) []alertgate.Record {
	listed := make(map[string]bool, len(recs))
	for _, r := range recs {
		listed[r.ID] = true
	}
	out := make([]alertgate.Record, 0, min(limit, len(recs)+len(pending)))
	i := 0
	for _, n := range pending {
		if listed[n.ID] {
			continue
		}
		for i < len(recs) && !recs[i].UpdatedAt.Before(n.CreatedAt) && len(out) < limit {
			out = append(out, recs[i])
			i++
		}
		if len(out) == limit {
			return out
		}
		listed[n.ID] = true
		out = append(out, alertgate.Record{Notification: summary(n), State: alertgate.StatePending, UpdatedAt: n.CreatedAt})
	}
	for ; i < len(recs) && len(out) < limit; i++ {
		out = append(out, recs[i])
	}
	return out
}
