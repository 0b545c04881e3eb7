package sinks

import (
	"context"
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
// and the status page show. The event's labels, description and links and
// the runbook's steps stay in NOTIFY (and DEADLETTER, for replays): a page's
// record is a KV write on the paging path, and those made it three times
// larger.
func summary(n alertgate.Notification) alertgate.Notification {
	e := n.Event
	n.Event = alertgate.Event{
		ID: e.ID, Source: e.Source, Kind: e.Kind, Key: e.Key, Episode: e.Episode, Status: e.Status, Severity: e.Severity,
		Title: e.Title, Service: e.Service, OccurredAt: e.OccurredAt, Count: e.Count, ReceivedAt: e.ReceivedAt, RequestID: e.RequestID,
	}
	return n
}

// List returns up to limit records, most recently updated first, a
// digest's items just before the digest. It reads the bucket's stream
// backwards by sequence: with history 1 the surviving message of each key
// is its latest state.
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
	return out[:min(len(out), limit)], nil
}
