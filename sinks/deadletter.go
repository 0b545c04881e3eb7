package sinks

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/wire"
)

// DeadLetters lists and replays dead letters.
type DeadLetters struct {
	Bus *bus.Bus
	Log *Log
}

// List returns up to limit dead letters, newest first, with the state the
// notification log has for each (dead until replayed).
func (d *DeadLetters) List(ctx context.Context, limit int) ([]alertgate.DeadLetter, error) {
	out := []alertgate.DeadLetter{}
	err := bus.Backwards(ctx, d.Bus.DeadLetter, limit, func(m *jetstream.RawStreamMsg) bool {
		dl := alertgate.DeadLetter{Seq: m.Sequence, Reason: m.Header.Get(bus.HeaderError), DeadAt: m.Time, State: alertgate.StateDead}
		if wire.Unmarshal(m.Data, &dl.Notification) != nil {
			return false
		}
		if rec, ok := d.Log.Get(ctx, dl.Notification.ID); ok {
			dl.State = rec.State
		}
		out = append(out, dl)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Replay re-enqueues the dead letters whose notification ID is id (every
// one still dead when id is ""), after the cause was fixed. Each goes back
// to NOTIFY on its own subject (a digest on its team's digest subject)
// with a fresh Nats-Msg-Id and its log record reset to pending, so its
// sink's worker delivers it once more, with its original dedup key.
func (d *DeadLetters) Replay(ctx context.Context, id string) ([]string, error) {
	all, err := d.List(ctx, 1<<20)
	if err != nil {
		return nil, err
	}
	var replayed []string
	done := map[string]bool{}
	for _, dl := range all {
		n := dl.Notification
		if (id != "" && n.ID != id) || dl.State != alertgate.StateDead || done[n.ID] {
			continue
		}
		done[n.ID] = true
		d.Log.Put(ctx, alertgate.Record{Notification: n, State: alertgate.StatePending, UpdatedAt: time.Now()})
		m, err := bus.NotifyMsg(&n)
		if err != nil {
			return replayed, err
		}
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("replay:%d:%s", dl.Seq, n.ID))
		if _, err := d.Bus.JS.PublishMsg(ctx, m); err != nil {
			return replayed, fmt.Errorf("%s: %w", n.ID, err)
		}
		replayed = append(replayed, n.ID)
	}
	if id != "" && len(replayed) == 0 {
		return nil, alertgate.Errorf(alertgate.ENOTFOUND, "no dead letter %q waiting for a replay", id)
	}
	return replayed, nil
}
