package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/alertgate/alertgate/internal/harness"
)

// Tokens of the security test: distinctive, so they can be searched for.
const (
	secIngestToken = "INGEST-tok-alertmanager-7f3a"
	secReadToken   = "READ-tok-grafana-91c2"
	secAdminToken  = "ADMIN-tok-oncall-5d8e"
	secWrongToken  = "WRONG-tok-typo-0b4f"
)

// securityConfig pages through the loopback PagerDuty with an ingest token
// and the API behind a read and an admin token.
const securityConfig = harness.DefaultConfig + `
ingest:
  alertmanager: {token: "` + secIngestToken + `"}
api:
  tokens:
    - {name: grafana, token: "` + secReadToken + `", role: read}
    - {name: oncall, token: "` + secAdminToken + `", role: admin}
`

// secCall is one request the test made and what came back.
type secCall struct {
	what string
	code int
	hdr  http.Header
	body string
}

// The gateway with API tokens: each endpoint answers each caller as its
// role allows, a dead letter is replayed by the admin token and recorded
// under its name, and no token (nor its basic-auth form) shows in the
// logs, the audit trail, any answer or /metrics.
func TestNoTokenLeaks(t *testing.T) {
	logs := &syncBuffer{}
	pd := harness.NewPagerDuty(t)
	pd.Respond = func(_ int, ev harness.PDEvent) harness.PDResponse {
		if ev.Payload != nil && strings.Contains(ev.Payload.Summary, "f0001") {
			return harness.PDResponse{Status: http.StatusBadRequest}
		}
		return harness.PDResponse{}
	}
	g := harness.Start(t, harness.Options{PD: pd, Config: securityConfig, Log: logs})

	var calls []secCall
	do := func(what, method, path, contentType, body, auth string) secCall {
		t.Helper()
		req, err := http.NewRequest(method, g.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		c := secCall{what, resp.StatusCode, resp.Header, string(b)}
		calls = append(calls, c)
		return c
	}
	expect := func(c secCall, code int) {
		t.Helper()
		if c.code != code {
			t.Fatalf("%s: status %d, want %d: %s", c.what, c.code, code, c.body)
		}
	}
	bearer := func(tok string) string { return "Bearer " + tok }
	basicAuth := func(user, tok string) string { return "Basic " + basic(user, tok) }

	// Webhooks: the source's token as bearer and as basic password; wrong
	// ones refused.
	for i, fp := range []string{"f0000", "f0001"} {
		auth := []string{bearer(secIngestToken), basicAuth("alertmanager", secIngestToken)}[i]
		expect(do("webhook "+fp, "POST", "/v1/ingest/alertmanager", "application/json",
			string(harness.AMWebhook(harness.AMAlert{Fingerprint: fp, Status: "firing", StartsAt: t0})), auth), 202)
	}
	webhook := string(harness.AMWebhook(harness.AMAlert{Fingerprint: "f0009", Status: "firing", StartsAt: t0}))
	expect(do("webhook wrong token", "POST", "/v1/ingest/alertmanager", "application/json", webhook, bearer(secWrongToken)), 401)
	expect(do("webhook API token", "POST", "/v1/ingest/alertmanager", "application/json", webhook, bearer(secAdminToken)), 401)
	g.Settle(t)

	// Every read endpoint, with every kind of caller.
	for _, path := range []string{"/", "/v1/notifications", "/v1/incidents", "/v1/bugs", "/v1/deadletters", "/v1/audit",
		"/v1/explain?source=alertmanager&key=f0000", "/runbooks", "/runbooks/checkout-high-error-rate"} {
		expect(do("GET "+path+" no token", "GET", path, "", "", ""), 401)
		expect(do("GET "+path+" wrong token", "GET", path, "", "", bearer(secWrongToken)), 401)
		expect(do("GET "+path+" wrong basic", "GET", path, "", "", basicAuth("grafana", secWrongToken)), 401)
		expect(do("GET "+path+" ingest token", "GET", path, "", "", bearer(secIngestToken)), 401)
		expect(do("GET "+path+" read token", "GET", path, "", "", bearer(secReadToken)), 200)
		expect(do("GET "+path+" read basic", "GET", path, "", "", basicAuth("grafana", secReadToken)), 200)
		expect(do("GET "+path+" admin token", "GET", path, "", "", bearer(secAdminToken)), 200)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		expect(do("GET "+path+" no token", "GET", path, "", "", ""), 200)
	}
	if c := do("status page no token", "GET", "/", "", "", ""); !strings.HasPrefix(c.hdr.Get("WWW-Authenticate"), `Basic realm="alertgate"`) {
		t.Fatalf("status page 401 challenge %q, want Basic so the browser asks", c.hdr.Get("WWW-Authenticate"))
	}

	// The dead letter: refused to anyone but the admin token, and to a
	// form; replayed once by the admin token.
	var dl struct {
		DeadLetters []struct{ Notification struct{ ID string } } `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(do("dead letters", "GET", "/v1/deadletters", "", "", bearer(secReadToken)).body), &dl); err != nil || len(dl.DeadLetters) != 1 {
		t.Fatalf("dead letters: %v %+v", err, dl)
	}
	id := dl.DeadLetters[0].Notification.ID
	replay := `{"id":"` + id + `"}`
	expect(do("replay no token", "POST", "/v1/deadletters/replay", "application/json", replay, ""), 401)
	expect(do("replay wrong token", "POST", "/v1/deadletters/replay", "application/json", replay, bearer(secWrongToken)), 401)
	expect(do("replay read token", "POST", "/v1/deadletters/replay", "application/json", replay, bearer(secReadToken)), 403)
	expect(do("replay form", "POST", "/v1/deadletters/replay", "application/x-www-form-urlencoded", "id="+id, basicAuth("oncall", secAdminToken)), 415)
	expect(do("replay no body", "POST", "/v1/deadletters/replay", "application/json", "", bearer(secAdminToken)), 400)
	pd.Respond = nil
	expect(do("replay", "POST", "/v1/deadletters/replay", "application/json", replay, bearer(secAdminToken)), 200)
	g.Settle(t)
	onePagePerKey(t, pd, 2)

	// The audit trail has the replay, by the admin token's name, and
	// nothing of the refused attempts.
	var audit struct {
		Audit []struct{ Actor, Action, Target, Detail string } `json:"audit"`
	}
	auditCall := do("audit", "GET", "/v1/audit", "", "", bearer(secReadToken))
	if err := json.Unmarshal([]byte(auditCall.body), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Audit) != 1 || audit.Audit[0].Actor != "oncall" || audit.Audit[0].Action != "deadletter.replay" || audit.Audit[0].Target != id {
		t.Fatalf("audit trail %+v, want the one replay of %s by oncall", audit.Audit, id)
	}
	metrics := do("metrics", "GET", "/metrics", "", "", "")
	for _, want := range []string{`alertgate_api_auth_failures_total{code="401"}`, `alertgate_api_auth_failures_total{code="403"} 1`, `alertgate_admin_actions_total{action="deadletter.replay"} 1`} {
		if !strings.Contains(metrics.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	g.Stop()

	log := logs.String()
	for _, want := range []string{`"msg":"admin action","actor":"oncall","action":"deadletter.replay"`, `api request refused`, `"actor":"grafana"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	// Every form a token took on the wire.
	var leaks []string
	for _, tok := range []string{secIngestToken, secReadToken, secAdminToken, secWrongToken} {
		leaks = append(leaks, tok, base64.StdEncoding.EncodeToString([]byte(tok)))
		for _, user := range []string{"", "alertmanager", "grafana", "oncall"} {
			leaks = append(leaks, basic(user, tok))
		}
	}
	where := map[string]string{"the log": log, "the audit trail": auditCall.body, "/metrics": metrics.body}
	for _, c := range calls {
		where["the answer to "+c.what] += c.body
		for k, vs := range c.hdr {
			where["the answer to "+c.what] += k + ": " + strings.Join(vs, ",") + "\n"
		}
	}
	for name, text := range where {
		for _, s := range leaks {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %q", name, s)
			}
		}
	}
	if len(calls) < 70 {
		t.Fatalf("%d requests checked, want every endpoint with every caller", len(calls))
	}
}
