package alertgate_test

import (
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

func TestRecordExpand(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	page := alertgate.Record{Notification: alertgate.Notification{ID: "page:k:e:1", Sink: alertgate.SinkPagerDuty, Type: alertgate.TypePage}, State: alertgate.StateSent}
	if got := page.Expand(); len(got) != 1 || got[0].ID != page.ID {
		t.Fatalf("a record without items expanded to %+v", got)
	}

	digest := alertgate.Record{
		Notification: alertgate.Notification{
			ID: "digest:payments:9:1", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeDigest,
			Items: []alertgate.DigestItem{
				{ID: "digest:bug_new:a", Type: alertgate.TypeBugNew, Key: "a", Title: "TypeError", CreatedAt: at},
				{ID: "digest:bug_regression:b:1", Type: alertgate.TypeBugRegression, Key: "b", CreatedAt: at.Add(time.Minute)},
			},
		},
		State: alertgate.StateDead, Attempts: 3, LastError: "HTTP 404", UpdatedAt: at.Add(time.Hour),
	}
	got := digest.Expand()
	if len(got) != 3 {
		t.Fatalf("expanded to %d records, want 3 (2 items, then the digest)", len(got))
	}
	for i, it := range digest.Items {
		r := got[i]
		if r.ID != it.ID || r.Type != it.Type || r.Key != it.Key || r.Event.Title != it.Title || !r.CreatedAt.Equal(it.CreatedAt) {
			t.Errorf("item %d: %+v, want the fields of %+v", i, r.Notification, it)
		}
		// An item stands where its digest stands.
		if r.Sink != alertgate.SinkSlack || r.Team != "payments" || r.State != alertgate.StateDead || r.Attempts != 3 || r.LastError != "HTTP 404" || !r.UpdatedAt.Equal(digest.UpdatedAt) {
			t.Errorf("item %d: %+v, want the digest's sink, team and delivery state", i, r)
		}
	}
	if last := got[2]; last.ID != digest.ID || last.Items != nil {
		t.Fatalf("last record %s with %d items, want the digest without its items", last.ID, len(last.Items))
	}
	if len(digest.Items) != 2 {
		t.Fatal("Expand changed the record it was called on")
	}
}
