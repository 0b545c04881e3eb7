package replay

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/natstest"
)

// TestExactFindsEveryDifference: a page made as NOTIFY recorded it is no
// finding; one made with another dedup_key, one NOTIFY recorded that the
// replay does not make, and one the replay makes that NOTIFY lacks are,
// each named with NOTIFY's own strings where it has them.
func TestExactFindsEveryDifference(t *testing.T) {
	bs := natstest.OpenBus(t, t.TempDir())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	win := window{since: at.Add(-time.Hour), until: at.Add(time.Hour)}
	pg := func(id, key, dk string) alertgate.Notification {
		return alertgate.Notification{ID: id, Sink: alertgate.SinkPagerDuty, Type: alertgate.TypePage, Team: "payments",
			Key: key, DedupKey: dk, CreatedAt: at}
	}
	recorded := []alertgate.Notification{pg("page:a", "a", "a/1"), pg("page:b", "b", "b/1"), pg("page:c", "c", "c/1")}
	if _, err := bs.PublishNotifications(ctx, recorded); err != nil {
		t.Fatal(err)
	}
	x := newExact()
	for i := range recorded {
		x.recorded(&recorded[i])
	}
	for _, n := range []alertgate.Notification{pg("page:a", "a", "a/1"), pg("page:b", "b", "b/2"), pg("page:d", "d", "d/1")} {
		x.made(&n)
	}
	if len(x.sent) != 1 || len(x.differ) != 1 {
		t.Fatalf("after the replay: %d of NOTIFY's pages unmade, %d differing, want 1 and 1", len(x.sent), len(x.differ))
	}
	if err := x.finish(ctx, &Runner{Bus: bs}, win); err != nil {
		t.Fatal(err)
	}
	rep := &alertgate.ReplayReport{}
	x.report(rep, 100)
	if rep.Exact || rep.FindingsTotal != 3 || rep.PagesCompared != 3 {
		t.Fatalf("exact %t, %d findings of %d pages compared: %+v", rep.Exact, rep.FindingsTotal, rep.PagesCompared, rep.Findings)
	}
	want := map[string]string{
		"page:b": `NOTIFY recorded dedup_key "b/1"; replaying the live config makes "b/2"`,
		"page:c": "NOTIFY recorded this page; replaying the live config does not make it",
		"page:d": "replaying the live config makes this page; NOTIFY has no record of it",
	}
	for i, f := range rep.Findings {
		if f.Problem != want[f.ID] {
			t.Errorf("finding %d %+v: want problem %q", i, f, want[f.ID])
		}
		if i > 0 && strings.Compare(rep.Findings[i-1].ID, f.ID) >= 0 {
			t.Errorf("findings not sorted by ID: %+v", rep.Findings)
		}
	}
	if f := rep.Findings[0]; f.DedupKey != "b/1" || f.Key != "b" {
		t.Errorf("the differing page is named with NOTIFY's dedup_key: %+v", f)
	}

	// Made as recorded, nothing is kept and NOTIFY is not read again.
	y := newExact()
	y.recorded(&recorded[0])
	y.made(&recorded[0])
	if err := y.finish(ctx, &Runner{}, win); err != nil {
		t.Fatal(err)
	}
	rep = &alertgate.ReplayReport{}
	y.report(rep, 100)
	if !rep.Exact || rep.FindingsTotal != 0 || len(rep.Findings) != 0 || rep.PagesCompared != 1 {
		t.Fatalf("an exact replay: %+v", rep)
	}
}
