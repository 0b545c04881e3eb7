// Package e2e runs alertgate end to end: the gateway in-process with
// embedded JetStream, webhooks over loopback HTTP, a loopback PagerDuty
// that enforces the Events API v2 contract.
package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// The incident rule for Alertmanager: one page per firing episode, re-sends
// never page twice, resolve resolves the same dedup_key, a new episode pages
// again.
func TestAlertmanagerEpisodes(t *testing.T) {
	g := harness.Start(t, harness.Options{})
	path := "/v1/ingest/alertmanager"
	firing := harness.AMWebhook(harness.AMAlert{Fingerprint: "0335742509d16c93", Status: "firing", StartsAt: t0})

	res := g.MustAccept(t, path, firing, nil)
	if got, want := res.Accepted, 1; got != want {
		t.Fatalf("accepted=%d, want %d", got, want)
	}
	g.Settle(t)
	triggers := g.PD.Actions("trigger")
	if got, want := len(triggers), 1; got != want {
		t.Fatalf("triggers=%d, want %d", got, want)
	}
	tr := triggers[0]
	if got, want := tr.RoutingKey, harness.PaymentsKey; got != want {
		t.Fatalf("routing key=%q, want the payments team's", got)
	}
	// The runbook matched by labels (examples/runbooks) rides along as a
	// link and as steps.
	wantLink := "http://alertgate.test/runbooks/checkout-high-error-rate"
	if !hasLink(tr, wantLink) {
		t.Fatalf("links=%+v, want %s", tr.Links, wantLink)
	}
	steps, _ := tr.Payload.CustomDetails["runbook"].(string)
	if !strings.Contains(steps, "kubectl") {
		t.Fatalf("custom_details.runbook=%q, want the runbook's steps", steps)
	}
	// The stored page names its runbook; the steps are read when it is sent.
	stored, err := g.Bus.Notify.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		Runbook map[string]any `json:"runbook"`
	}
	if err := json.Unmarshal(stored.Data, &n); err != nil {
		t.Fatal(err)
	}
	if _, steps := n.Runbook["steps"]; n.Runbook["id"] != "checkout-high-error-rate" || steps {
		t.Fatalf("stored runbook %v, want its id without its steps", n.Runbook)
	}

	for i := 0; i < 5; i++ {
		res := g.MustAccept(t, path, firing, nil)
		if got, want := res.Duplicates, 1; got != want {
			t.Fatalf("re-send %d: duplicates=%d, want %d", i, got, want)
		}
	}
	g.Settle(t)
	if got, want := len(g.PD.Accepted()), 1; got != want {
		t.Fatalf("after 5 re-sends: PagerDuty requests=%d, want %d", got, want)
	}

	g.MustAccept(t, path, harness.AMWebhook(harness.AMAlert{Fingerprint: "0335742509d16c93", Status: "resolved", StartsAt: t0}), nil)
	g.Settle(t)
	resolves := g.PD.Actions("resolve")
	if got, want := len(resolves), 1; got != want {
		t.Fatalf("resolves=%d, want %d", got, want)
	}
	if got, want := resolves[0].DedupKey, tr.DedupKey; got != want {
		t.Fatalf("resolve dedup_key=%q, want the trigger's %q", got, want)
	}
	if got, want := resolves[0].RoutingKey, tr.RoutingKey; got != want {
		t.Fatalf("resolve routing_key=%q, want the trigger's", got)
	}

	// Flapping: the same alert fires again with a new startsAt.
	g.MustAccept(t, path, harness.AMWebhook(harness.AMAlert{Fingerprint: "0335742509d16c93", Status: "firing", StartsAt: t0.Add(time.Hour)}), nil)
	g.Settle(t)
	triggers = g.PD.Actions("trigger")
	if got, want := len(triggers), 2; got != want {
		t.Fatalf("triggers=%d, want %d", got, want)
	}
	if triggers[1].DedupKey == tr.DedupKey {
		t.Fatalf("second episode reused dedup_key %q", tr.DedupKey)
	}
	if got, want := len(g.PD.Accepted()), 3; got != want {
		t.Fatalf("PagerDuty requests=%d, want %d (2 triggers, 1 resolve)", got, want)
	}
	if r := g.PD.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}
}

func hasLink(ev harness.PDEvent, href string) bool {
	for _, l := range ev.Links {
		if l.Href == href {
			return true
		}
	}
	return false
}

// The fixture from the contract, as `make run` users post it: a dry-run team
// lists the page with its runbook at /v1/notifications.
func TestFixtureDryRun(t *testing.T) {
	cfg := strings.Replace(harness.DefaultConfig, `pagerduty_routing_key: "`+harness.PaymentsKey+`"`, "", 1)
	g := harness.Start(t, harness.Options{Config: cfg})
	res := g.MustAccept(t, "/v1/ingest/alertmanager", harness.Testdata(t, "fixtures/alertmanager_v4.json"), nil)
	if got, want := res.Accepted, 2; got != want {
		t.Fatalf("accepted=%d, want %d", got, want)
	}
	g.Settle(t)
	if got := len(g.PD.Accepted()); got != 0 {
		t.Fatalf("PagerDuty got %d requests from a dry-run team", got)
	}
	var page map[string]any
	for _, n := range g.Notifications(t) {
		if n["sink"] == "pagerduty" && n["type"] == "page" {
			page = n
		}
	}
	if page == nil {
		t.Fatalf("no page listed at /v1/notifications")
	}
	for k, want := range map[string]any{"state": "dry_run", "team": "payments", "runbook": "http://alertgate.test/runbooks/checkout-high-error-rate"} {
		if got := page[k]; got != want {
			t.Errorf("%s=%v, want %v", k, got, want)
		}
	}
	// The runbook link resolves to an HTML page.
	resp, err := http.Get(g.URL() + "/runbooks/checkout-high-error-rate")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("GET runbook: %d", got)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("runbook Content-Type=%q", ct)
	}
}

// State survives a restart between firing and resolved: the resolve still
// resolves the same dedup_key.
func TestRestartKeepsState(t *testing.T) {
	g := harness.Start(t, harness.Options{})
	path := "/v1/ingest/alertmanager"
	g.MustAccept(t, path, harness.AMWebhook(harness.AMAlert{Fingerprint: "aaaa", Status: "firing", StartsAt: t0}), nil)
	g.Settle(t)
	g = g.Restart(t)
	// A re-send after the restart does not page again either.
	g.MustAccept(t, path, harness.AMWebhook(harness.AMAlert{Fingerprint: "aaaa", Status: "firing", StartsAt: t0}), nil)
	g.MustAccept(t, path, harness.AMWebhook(harness.AMAlert{Fingerprint: "aaaa", Status: "resolved", StartsAt: t0}), nil)
	g.Settle(t)
	oneTriggerOneResolve(t, g.PD)
}

// oneTriggerOneResolve fails unless PagerDuty got exactly one trigger and
// one resolve of the same dedup_key; it returns the trigger.
func oneTriggerOneResolve(t *testing.T, pd *harness.PagerDuty) harness.PDEvent {
	t.Helper()
	tr, rs := pd.Actions("trigger"), pd.Actions("resolve")
	if got, want := len(tr), 1; got != want {
		t.Fatalf("triggers=%d, want %d", got, want)
	}
	if got, want := len(rs), 1; got != want {
		t.Fatalf("resolves=%d, want %d", got, want)
	}
	if got, want := rs[0].DedupKey, tr[0].DedupKey; got != want {
		t.Fatalf("resolve dedup_key=%q, want %q", got, want)
	}
	return tr[0]
}

// Bad input gets the status and message of the contract, and does not stop
// the next good request.
func TestBadInput(t *testing.T) {
	cfg := harness.DefaultConfig + `
ingest:
  max_body_bytes: 2048
  alertmanager: {token: "s3cret-token"}
`
	g := harness.Start(t, harness.Options{Config: cfg})
	path := "/v1/ingest/alertmanager"
	auth := map[string]string{"Authorization": "Bearer s3cret-token"}
	good := harness.AMWebhook(harness.AMAlert{Fingerprint: "bbbb", Status: "firing", StartsAt: t0})
	tests := []struct {
		name   string
		body   []byte
		header map[string]string
		code   int
		msg    string // substring of {"error": …}
	}{
		// truncated JSON
		{"malformed", []byte(`{"version":"4","alerts":[`), auth, 400, "not an Alertmanager webhook"},
		// valid JSON, wrong content
		{"wrong content", []byte(`{"version":"4","alerts":[{"status":"firing","labels":{}}]}`), auth, 400, "alerts[0].fingerprint: missing"},
		// a field of the wrong type
		{"wrong type", []byte(`{"version":"4","alerts":"none"}`), auth, 400, "alerts"},
		// not JSON at all
		{"content type", good, map[string]string{"Authorization": "Bearer s3cret-token", "Content-Type": "text/plain"}, 400, "Content-Type"},
		// no credentials
		{"missing auth", good, nil, 401, "unauthorized"},
		// wrong token
		{"bad token", good, map[string]string{"Authorization": "Bearer nope"}, 401, "unauthorized"},
		// basic auth with the token as password works
		{"basic auth", good, map[string]string{"Authorization": "Basic " + basic("alertmanager", "s3cret-token")}, 202, ""},
		// over max_body_bytes
		{"oversize", []byte(`{"pad":"` + strings.Repeat("x", 4096) + `"}`), auth, 413, "over the limit"},
		// empty body
		{"empty", []byte{}, auth, 400, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := g.Post(t, path, tt.body, tt.header)
			if code != tt.code {
				t.Fatalf("status=%d, want %d (body %s)", code, tt.code, body)
			}
			if tt.msg == "" {
				return
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if !strings.Contains(e.Error, tt.msg) {
				t.Fatalf("error=%q, want it to contain %q", e.Error, tt.msg)
			}
			if strings.Contains(string(body), "s3cret") {
				t.Fatalf("the token leaked into the response: %s", body)
			}
		})
	}
	// Unknown source: 404 naming the sources.
	if code, body := g.Post(t, "/v1/ingest/nagios", good, auth); code != 404 || !strings.Contains(string(body), "alertmanager") {
		t.Fatalf("unknown source: %d %s", code, body)
	}
	// After all that, the gateway still takes a good webhook and pages once.
	g.MustAccept(t, path, good, auth)
	g.Settle(t)
	if got, want := len(g.PD.Actions("trigger")), 1; got != want {
		t.Fatalf("triggers=%d, want %d", got, want)
	}
}
