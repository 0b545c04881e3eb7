package e2e

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertgate/alertgate/internal/harness"
)

// A byte-identical re-send of a webhook whose events are stored is
// answered from memory (no parse), exactly as the event IDs would answer
// it: same status, same counts, same metrics, and never before the
// request authenticates.
func TestResendAnsweredAsDuplicates(t *testing.T) {
	cfg := harness.DefaultConfig + `
ingest:
  alertmanager: {token: "am-token"}
`
	g := harness.Start(t, harness.Options{Config: cfg})
	auth := map[string]string{"Authorization": "Bearer am-token"}
	a := harness.AMAlert{Fingerprint: "rs01", Status: "firing", StartsAt: t0}
	b := harness.AMAlert{Fingerprint: "rs02", Status: "firing", StartsAt: t0}
	c := harness.AMAlert{Fingerprint: "rs03", Status: "firing", StartsAt: t0}
	body := harness.AMWebhook(a, b)
	duplicates := func() float64 {
		return testutil.ToFloat64(g.Metrics.IngestEvents.WithLabelValues("alertmanager", "duplicate"))
	}
	post := func(name string, body []byte, header map[string]string, wantCode, wantAccepted, wantDuplicates int) {
		t.Helper()
		code, resp := g.Post(t, "/v1/ingest/alertmanager", body, header)
		if code != wantCode {
			t.Fatalf("%s: HTTP %d, want %d: %s", name, code, wantCode, resp)
		}
		if code != 202 {
			return
		}
		var r struct{ Accepted, Duplicates int }
		if err := json.Unmarshal(resp, &r); err != nil {
			t.Fatal(err)
		}
		if r.Accepted != wantAccepted || r.Duplicates != wantDuplicates {
			t.Fatalf("%s: accepted=%d duplicates=%d, want %d and %d", name, r.Accepted, r.Duplicates, wantAccepted, wantDuplicates)
		}
	}

	post("first delivery", body, auth, 202, 2, 0)
	post("byte-identical re-send", body, auth, 202, 0, 2)
	if got := duplicates(); got != 2 {
		t.Fatalf("duplicate events counted %v, want 2", got)
	}
	// Memory never answers before authentication does.
	post("re-send without the token", body, nil, 401, 0, 0)
	post("re-send with a wrong token", body, map[string]string{"Authorization": "Bearer nope"}, 401, 0, 0)
	// The same events in other bytes: the event IDs answer.
	var indented bytes.Buffer
	if err := json.Indent(&indented, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	post("same events, other bytes", indented.Bytes(), auth, 202, 0, 2)
	// A body with one new event is stored normally; the new one is paged.
	mixed := harness.AMWebhook(a, c)
	post("one new, one known", mixed, auth, 202, 1, 1)
	post("that body again", mixed, auth, 202, 0, 2)
	if got := duplicates(); got != 7 {
		t.Fatalf("duplicate events counted %v, want 7", got)
	}
	g.Settle(t)
	if got, want := len(g.PD.Actions("trigger")), 3; got != want {
		t.Fatalf("PagerDuty triggers=%d, want %d (rs01, rs02, rs03 once each)", got, want)
	}
}
