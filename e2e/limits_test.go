package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/alertgate/alertgate/internal/contract"
	"github.com/alertgate/alertgate/internal/harness"
)

// A label value as large as the webhook allows is taken, and its page
// reaches PagerDuty within PagerDuty's 512 KB, the label cut and marked,
// the rest of the page as usual. Before, the page was 900 KB: refused by
// PagerDuty, dead-lettered, and refused again on replay.
func TestHugeLabelValuePages(t *testing.T) {
	g := harness.Start(t, harness.Options{})
	blob := strings.Repeat("0123456789abcdef", 900<<10/16)
	body := harness.AMWebhook(harness.AMAlert{
		Fingerprint: "9a3f00000000beef", Status: "firing", StartsAt: t0,
		Labels: map[string]string{"blob": blob},
	})
	if len(body) > 1<<20 {
		t.Fatalf("webhook of %d bytes, over the default max_body_bytes", len(body))
	}
	if res := g.MustAccept(t, "/v1/ingest/alertmanager", body, nil); res.Accepted != 1 {
		t.Fatalf("accepted=%d, want 1", res.Accepted)
	}
	g.Settle(t)

	if r := g.PD.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}
	triggers := g.PD.Actions("trigger")
	if got, want := len(triggers), 1; got != want {
		t.Fatalf("triggers=%d, want %d", got, want)
	}
	tr := triggers[0]
	// The loopback PagerDuty refuses a body over 512 KB (internal/contract);
	// asserted here too, so that this test does not depend on it.
	if got := len(tr.Raw); got > contract.PagerDutyMaxBody {
		t.Fatalf("PagerDuty body of %d bytes, over %d", got, contract.PagerDutyMaxBody)
	}
	labels, _ := tr.Payload.CustomDetails["labels"].(map[string]any)
	cut, _ := labels["blob"].(string)
	if !strings.HasPrefix(cut, "0123456789abcdef") || !strings.Contains(cut, "… [truncated ") {
		t.Fatalf("labels.blob=%.60q…, want its start and the cut marker", cut)
	}
	if got, want := tr.Payload.Summary, "[checkout] 5xx ratio above 5% on 9a3f00000000beef"; got != want {
		t.Fatalf("summary=%q, want %q", got, want)
	}
	if got, want := labels["alertname"], "HighErrorRate"; got != want {
		t.Fatalf("labels.alertname=%v, want %q", got, want)
	}
	if !hasLink(tr, "http://alertgate.test/runbooks/checkout-high-error-rate") {
		t.Fatalf("links=%+v, want the runbook", tr.Links)
	}
	for _, n := range g.Notifications(t) {
		if n["type"] == "page" && n["state"] != "sent" {
			t.Fatalf("page state=%v (%v), want sent", n["state"], n["last_error"])
		}
	}
}

// A fingerprint or an events key of 64 KB became a JetStream header
// JetStream refuses for good (err_code 10097), answered 503: the source
// retried forever. It is a 400 naming the field, and nothing is stored.
func TestOverLimitIdentityRejected(t *testing.T) {
	g := harness.Start(t, harness.Options{})
	big := strings.Repeat("f", 64<<10)
	evBody, err := json.Marshal(map[string]any{"events": []map[string]any{{
		"kind": "incident", "key": big, "episode": "e1", "status": "firing", "severity": "critical", "title": "t", "service": "checkout",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		body       []byte
		msg        string
	}{
		{"alertmanager fingerprint", "/v1/ingest/alertmanager",
			harness.AMWebhook(harness.AMAlert{Fingerprint: big, Status: "firing", StartsAt: t0}),
			"alerts[0].fingerprint: 65536 bytes, over the 1024-byte limit"},
		{"events key", "/v1/ingest/events", evBody, "events[0].key: 65536 bytes, over the 1024-byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A retrying source sends it again: the same answer each time.
			for range 2 {
				code, body := g.Post(t, tc.path, tc.body, nil)
				if code != http.StatusBadRequest {
					t.Fatalf("status=%d, want 400 (body %s)", code, body)
				}
				var e struct{ Error string }
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				if e.Error != tc.msg {
					t.Fatalf("error=%q, want %q", e.Error, tc.msg)
				}
			}
		})
	}
	info, err := g.Bus.Alerts.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Msgs; got != 0 {
		t.Fatalf("ALERTS holds %d messages, want none for a 400", got)
	}
	g.Settle(t)
	if got := g.PD.Requests(); got != 0 {
		t.Fatalf("PagerDuty got %d requests, want none", got)
	}
}
