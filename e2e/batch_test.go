package e2e

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/ingest/alertmanager"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/internal/harness"
)

// A webhook of several alerts is stored as one ALERTS message, and the
// router decides each alert on its own. When one of them cannot be decided
// (here: its stored state is unreadable), the whole message comes back
// until it can; the alerts decided meanwhile are found known each time: no
// second page, no occurrence counted twice.
func TestBatchedWebhookOneFailingEvent(t *testing.T) {
	cfg := harness.DefaultConfig + `
ingest:
  events: {token: "ev-token"}
`
	g := harness.Start(t, harness.Options{Config: cfg})
	ctx := t.Context()
	// bt02's state is garbage: deciding it fails until the state is removed.
	broken := dedup.StateKey(alertmanager.KeyPrefix + "bt02")
	if _, err := g.Bus.Incidents.Put(ctx, broken, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	alerts := []harness.AMAlert{
		{Fingerprint: "bt01", Status: "firing", StartsAt: t0},
		{Fingerprint: "bt02", Status: "firing", StartsAt: t0},
		{Fingerprint: "bt03", Status: "firing", StartsAt: t0},
	}
	if r := g.MustAccept(t, "/v1/ingest/alertmanager", harness.AMWebhook(alerts...), nil); r.Accepted != 3 {
		t.Fatalf("accepted %d, want 3", r.Accepted)
	}
	// A bug occurrence batched with an incident whose state is broken too.
	evBody, err := json.Marshal([]map[string]any{
		{"id": "bt-bug-1", "kind": "bug", "key": "bt-bug", "title": "TypeError in cart", "service": "checkout", "severity": "error"},
		{"id": "bt-inc-1", "kind": "incident", "key": "bt02", "episode": "e1", "status": "firing", "title": "Queue stuck", "service": "checkout", "severity": "critical"},
	})
	if err != nil {
		t.Fatal(err)
	}
	brokenEvents := dedup.StateKey(events.KeyPrefix + "bt02")
	if _, err := g.Bus.Incidents.Put(ctx, brokenEvents, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if r := g.MustAccept(t, "/v1/ingest/events", evBody, map[string]string{"Authorization": "Bearer ev-token"}); r.Accepted != 2 {
		t.Fatalf("accepted %d, want 2", r.Accepted)
	}

	// Two webhooks, two messages; each names its number of events.
	info, err := g.Bus.Alerts.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.State.Msgs, uint64(2); got != want {
		t.Fatalf("ALERTS holds %d messages, want %d (one per webhook)", got, want)
	}
	var counts []int
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := g.Bus.Alerts.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(m.Header.Get(bus.HeaderEvents))
		evs, err := bus.DecodeEvents(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(evs) {
			t.Fatalf("message %d: %s=%d but it holds %d events", seq, bus.HeaderEvents, n, len(evs))
		}
		counts = append(counts, n)
	}
	if want := []int{3, 2}; !slices.Equal(counts, want) {
		t.Fatalf("events per message %v, want %v", counts, want)
	}

	// The healthy alerts page while the broken ones keep failing, and
	// both messages come back more than once.
	transient := func() float64 { return testutil.ToFloat64(g.Metrics.RouterErrors.WithLabelValues("transient")) }
	waitFor(t, 30*time.Second, "bt01 and bt03 paged, both messages redelivered twice", func() bool {
		return len(g.PD.Actions("trigger")) == 2 && transient() >= 4
	})
	for _, k := range []string{broken, brokenEvents} {
		if err := g.Bus.Incidents.Purge(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	g.Settle(t)

	var paged []string
	for _, e := range g.PD.Actions("trigger") {
		paged = append(paged, e.DedupKey)
	}
	slices.Sort(paged)
	if got, want := len(slices.Compact(slices.Clone(paged))), 4; got != want || len(paged) != want {
		t.Fatalf("%d pages of %d incidents, want %d of %d (none twice): %q", len(paged), got, want, want, paged)
	}
	bug, err := g.Policy.Bug(ctx, events.KeyPrefix+"bt-bug")
	if err != nil || bug == nil {
		t.Fatalf("bug state: %v, %v", bug, err)
	}
	if got, want := bug.Count, int64(1); got != want {
		t.Fatalf("bug class counted %d times, want %d (its message was delivered at least 3 times)", got, want)
	}
	if got := testutil.ToFloat64(g.Metrics.Decisions.WithLabelValues("bug", dedup.OutcomeDuplicate)); got < 2 {
		t.Fatalf("bug re-decisions found known %v times, want at least 2", got)
	}
}
