package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/sinks"
)

// pendingList is a PendingLister with a fixed answer.
type pendingList struct {
	items []alertgate.Notification
	err   error
	limit int // the limit it was asked for
}

func (p *pendingList) Pending(_ context.Context, limit int) ([]alertgate.Notification, error) {
	p.limit = limit
	return p.items[:min(len(p.items), limit)], p.err
}

var _ sinks.PendingLister = (*pendingList)(nil)

// List merges the pending notifications, newest first, with the log's
// records by time; a pending notification the log lists already (a digest
// recorded just before its cursor moved) is listed once, as the log has
// it; the limit bounds the whole list.
func TestLogListPending(t *testing.T) {
	ctx := t.Context()
	b := openBus(t)
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	item := func(id string, m int) alertgate.Notification {
		return alertgate.Notification{ID: id, Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeBugNew, Key: "k-" + id, CreatedAt: at(m),
			Event: alertgate.Event{Title: "title " + id, Labels: map[string]string{"service": "checkout"}, Description: "long"}}
	}
	pending := &pendingList{items: []alertgate.Notification{item("p9", 9), item("p5", 5), item("in-digest", 4), item("p1", 1)}}
	log := &sinks.Log{KV: b.Notifications, JS: b.JS, Logger: discard, Pending: pending}
	// Written as they happen: the log lists in write order.
	digest := alertgate.Notification{ID: "digest-3", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeDigest, Key: "digest:payments", CreatedAt: at(3),
		Items: []alertgate.DigestItem{{ID: "in-digest", Type: alertgate.TypeBugNew, Key: "k-in-digest", CreatedAt: at(2)}}}
	log.Put(ctx, alertgate.Record{Notification: digest, State: alertgate.StatePending, UpdatedAt: at(3)})
	log.Put(ctx, alertgate.Record{Notification: page("page-7"), State: alertgate.StateSent, Attempts: 1, UpdatedAt: at(7)})

	list := func(limit int) string {
		t.Helper()
		recs, err := log.List(ctx, limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s=%s", r.ID, r.State))
		}
		return strings.Join(got, " ")
	}
	want := "p9=pending page-7=sent p5=pending in-digest=pending digest-3=pending p1=pending"
	if got := list(10); got != want {
		t.Fatalf("List(10)=%s\nwant       %s", got, want)
	}
	if got, want := list(3), "p9=pending page-7=sent p5=pending"; got != want {
		t.Fatalf("List(3)=%s, want %s", got, want)
	}
	if pending.limit != 3 {
		t.Fatalf("pending asked for %d, want the list's limit 3", pending.limit)
	}

	// A pending record is summarized as the log's are, as of its decision.
	recs, err := log.List(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := recs[0]; r.Event.Title != "title p9" || r.Event.Labels != nil || r.Event.Description != "" || !r.UpdatedAt.Equal(at(9)) || r.Attempts != 0 {
		t.Fatalf("pending record=%+v, want the summary as of its decision", r)
	}

	pending.err = errors.New("stream unavailable")
	if _, err := log.List(ctx, 10); err == nil || !strings.Contains(err.Error(), "stream unavailable") {
		t.Fatalf("List with pending unreadable: err=%v, want it", err)
	}
}
