package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/internal/harness"
)

// State expires, with TTLs of seconds: a bug class unseen past
// dedup.bug_class_ttl is forgotten and pages as new again (page_bugs); an
// incident key without an open episode is gone after dedup.incident_ttl;
// one with an open episode stays however long, and its resolve resolves
// the page with its dedup_key.
func TestStateTTL(t *testing.T) {
	cfg := strings.Replace(harness.DefaultConfig, "routes:\n", `routes:
  - match: ['service="ttl-bugs"']
    team: payments
    page_bugs: true
`, 1) + `
ingest:
  events: {token: "ev-token"}
dedup:
  duplicate_window: 1s
  bug_class_ttl: 2s
  incident_ttl: 2s
`
	g := harness.Start(t, harness.Options{Config: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	post := func(evs ...map[string]any) {
		t.Helper()
		body, err := json.Marshal(evs)
		if err != nil {
			t.Fatal(err)
		}
		if r := g.MustAccept(t, "/v1/ingest/events", body, map[string]string{"Authorization": "Bearer ev-token"}); r.Accepted != len(evs) {
			t.Fatalf("accepted %d of %d", r.Accepted, len(evs))
		}
		g.Settle(t)
	}
	incident := func(id, key, status string) map[string]any {
		return map[string]any{"id": id, "kind": "incident", "key": key, "episode": "e1", "status": status, "title": "Queue stuck " + key, "service": "checkout", "severity": "critical"}
	}
	bug := func(id string) map[string]any {
		return map[string]any{"id": id, "kind": "bug", "key": "ttl-bug", "title": "TypeError in cart", "service": "ttl-bugs", "severity": "error"}
	}
	actions := func(action, dedupKey string) (n int) {
		for _, e := range g.PD.Actions(action) {
			if e.DedupKey == dedupKey {
				n++
			}
		}
		return n
	}

	post(bug("b1"), incident("c1", "ttl-closed", "firing"), incident("o1", "ttl-open", "firing"))
	post(incident("c2", "ttl-closed", "resolved"))
	opened := time.Now()
	bugState, err := g.Policy.Bug(ctx, events.KeyPrefix+"ttl-bug")
	if err != nil || bugState == nil || bugState.PageDedupKey == "" {
		t.Fatalf("bug state %+v, %v: want a class with an open page", bugState, err)
	}
	bugPage := bugState.PageDedupKey
	open, err := g.Policy.Incident(ctx, events.KeyPrefix+"ttl-open")
	if err != nil || open == nil || len(open.Open()) != 1 {
		t.Fatalf("incident state %+v, %v: want one open episode", open, err)
	}
	openKey := open.Open()[0].DedupKey
	if got, want := len(g.PD.Actions("trigger")), 3; got != want {
		t.Fatalf("triggers=%d, want %d (the class, both incidents)", got, want)
	}

	// The class's page is open: the class is kept past its TTL. Its resolve
	// at the source resolves the page, and then the class expires.
	time.Sleep(3 * time.Second)
	if st, err := g.Policy.Bug(ctx, events.KeyPrefix+"ttl-bug"); err != nil || st == nil {
		t.Fatalf("bug class with an open page after its TTL: %v, %v, want it kept", st, err)
	}
	post(map[string]any{"id": "b2", "kind": "bug", "key": "ttl-bug", "status": "resolved", "title": "TypeError in cart", "service": "ttl-bugs", "severity": "error"})
	if got, want := actions("resolve", bugPage), 1; got != want {
		t.Fatalf("resolves of the class's page=%d, want %d", got, want)
	}

	// The closed incident and the class, once unseen for their TTL, go.
	waitFor(t, 15*time.Second, "the closed incident and the bug class to expire", func() bool {
		inc, err1 := g.Policy.Incident(ctx, events.KeyPrefix+"ttl-closed")
		bg, err2 := g.Policy.Bug(ctx, events.KeyPrefix+"ttl-bug")
		if err1 != nil || err2 != nil {
			t.Fatalf("read state: %v %v", err1, err2)
		}
		return inc == nil && bg == nil
	})
	// The open one stays, well past its TTL since its last write.
	time.Sleep(time.Until(opened.Add(5 * time.Second)))
	if st, err := g.Policy.Incident(ctx, events.KeyPrefix+"ttl-open"); err != nil || st == nil || len(st.Open()) != 1 {
		t.Fatalf("incident with an open episode after 2.5×TTL: %+v, %v, want it kept open", st, err)
	}

	// The class occurs again: new again, paged again.
	post(bug("b3"))
	if got, want := actions("trigger", bugPage), 2; got != want {
		t.Fatalf("triggers of the class's dedup_key=%d, want %d (paged as new again)", got, want)
	}
	if st, err := g.Policy.Bug(ctx, events.KeyPrefix+"ttl-bug"); err != nil || st == nil || st.Last.Outcome != "new" {
		t.Fatalf("bug state after it occurred again: %+v, %v, want outcome new", st, err)
	}

	// The open incident's resolve still resolves its page.
	post(incident("o2", "ttl-open", "resolved"))
	if got, want := actions("resolve", openKey), 1; got != want {
		t.Fatalf("resolves of the open episode's dedup_key %s=%d, want %d", openKey, got, want)
	}
	if got, want := actions("trigger", openKey), 1; got != want {
		t.Fatalf("triggers of the open episode's dedup_key=%d, want %d", got, want)
	}
}
