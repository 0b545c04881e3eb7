package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/alertgate/alertgate/internal/harness"
)

// The state lists and the status page hold only what they show: with more
// bug classes than fit, /v1/bugs returns the loudest ?limit= of them and
// says how many there are, and the page shows the first 200 and says so;
// /v1/incidents the same, latest first. Explain still finds a class by the
// source's own id among them all.
func TestStateListsBounded(t *testing.T) {
	cfg := harness.DefaultConfig + `
ingest:
  events: {token: "ev-token"}
`
	g := harness.Start(t, harness.Options{Config: cfg})
	const classes = 205
	var evs []map[string]any
	occur := func(class, n int) {
		evs = append(evs, map[string]any{
			"id": fmt.Sprintf("bl-%03d-%d", class, n), "kind": "bug", "key": fmt.Sprintf("bl-%03d", class),
			"title": fmt.Sprintf("Error %03d", class), "service": "checkout", "severity": "error",
		})
	}
	for c := range classes {
		occur(c, 0)
	}
	// Two classes occur again: the loudest two, in this order.
	for n := 1; n <= 3; n++ {
		occur(7, n)
	}
	occur(150, 1)
	body, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	if r := g.MustAccept(t, "/v1/ingest/events", body, map[string]string{"Authorization": "Bearer ev-token"}); r.Accepted != len(evs) {
		t.Fatalf("accepted %d, want %d", r.Accepted, len(evs))
	}
	g.Settle(t)

	type list struct {
		Bugs []struct {
			Key   string
			Count int
		}
		Total, Limit int
	}
	var top list
	if code := g.Get(t, "/v1/bugs?limit=2", &top); code != http.StatusOK {
		t.Fatalf("GET /v1/bugs?limit=2: HTTP %d", code)
	}
	var got []string
	for _, b := range top.Bugs {
		got = append(got, fmt.Sprintf("%s=%d", b.Key, b.Count))
	}
	if want := "events:bl-007=4,events:bl-150=2"; strings.Join(got, ",") != want {
		t.Fatalf("top 2=%v, want %s", got, want)
	}
	if top.Total != classes || top.Limit != 2 {
		t.Fatalf("total=%d limit=%d, want %d and 2", top.Total, top.Limit, classes)
	}
	// The list came from the index, which holds every class.
	if got := value(scrape(t, g), "alertgate_bug_index_classes", nil); got != classes {
		t.Fatalf("alertgate_bug_index_classes=%v, want %d", got, classes)
	}

	// The default limit is above this many: all of them.
	var all list
	g.Get(t, "/v1/bugs", &all)
	if len(all.Bugs) != classes || all.Total != classes || all.Limit != 1000 {
		t.Fatalf("default list: %d classes, total %d, limit %d; want %d, %d, 1000", len(all.Bugs), all.Total, all.Limit, classes, classes)
	}
	// A filter counts what it kept.
	var none list
	g.Get(t, "/v1/bugs?team=nobody", &none)
	if len(none.Bugs) != 0 || none.Total != 0 {
		t.Fatalf("team=nobody: %d classes, total %d; want none", len(none.Bugs), none.Total)
	}

	for _, bad := range []string{"0", "-1", "10001", "ten"} {
		var e struct{ Error string }
		if code := g.Get(t, "/v1/bugs?limit="+bad, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "limit") {
			t.Errorf("limit=%s: HTTP %d %q, want 400 naming the limit", bad, code, e.Error)
		}
	}

	resp, err := http.Get(g.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := "The first 200 of 205, by count"; !strings.Contains(string(page), want) {
		t.Errorf("status page does not say %q", want)
	}
	if got := strings.Count(string(page), `<tr data-key="events:bl-`); got != 200 {
		t.Errorf("status page shows %d bug classes, want 200", got)
	}
	if !strings.Contains(string(page), "<b>205</b> bug classes") {
		t.Error("status page summary does not count all 205 bug classes")
	}

	// Incident keys likewise, the most recently received first.
	g.MustAccept(t, "/v1/ingest/alertmanager", harness.AMWebhook(
		harness.AMAlert{Fingerprint: "bl01", Status: "firing", StartsAt: t0},
		harness.AMAlert{Fingerprint: "bl02", Status: "resolved", StartsAt: t0}), nil)
	g.Settle(t)
	g.MustAccept(t, "/v1/ingest/alertmanager", harness.AMWebhook(harness.AMAlert{Fingerprint: "bl03", Status: "firing", StartsAt: t0}), nil)
	g.Settle(t)
	var incs struct {
		Incidents []struct{ Key string }
		Total     int
		Limit     int
	}
	g.Get(t, "/v1/incidents?limit=1", &incs)
	if len(incs.Incidents) != 1 || !strings.HasSuffix(incs.Incidents[0].Key, "bl03") || incs.Total != 3 || incs.Limit != 1 {
		t.Fatalf("incidents?limit=1: %+v, want the latest (bl03) of 3", incs)
	}
	g.Get(t, "/v1/incidents?state=open", &incs)
	if len(incs.Incidents) != 2 || incs.Total != 2 || incs.Limit != 1000 {
		t.Fatalf("open incidents: %+v, want bl03 and bl01", incs)
	}
	var e struct{ Error string }
	if code := g.Get(t, "/v1/incidents?limit=0", &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "limit") {
		t.Errorf("incidents?limit=0: HTTP %d %q, want 400 naming the limit", code, e.Error)
	}

	// Explain by the source's own id walks the classes until it finds it.
	var ex struct{ Key string }
	if code := g.Get(t, "/v1/explain?source=events&key=bl-204", &ex); code != http.StatusOK || ex.Key != "events:bl-204" {
		t.Fatalf("explain bl-204: HTTP %d key %q", code, ex.Key)
	}
}
