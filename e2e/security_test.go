package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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

// secSigningSecret is the Slack app's signing secret in the leak test:
// distinctive, so it can be searched for.
const secSigningSecret = "SIGNING-secret-slackapp-3e9b"

// The Slack app's bot token and signing secret: Slack refuses the token
// (invalid_auth) for every edit and for a later digest, a press comes
// with a bad signature, another too old; neither secret, in any form it
// took on the wire, shows in the logs, the audit trail, the dead letters'
// reasons, any answer of the API, the status page or /metrics.
func TestNoSlackSecretLeaks(t *testing.T) {
	logs := &syncBuffer{}
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	api.Fail = func(method string, n int) string {
		if method == "chat.update" || n > 2 {
			return "invalid_auth"
		}
		return ""
	}
	config := strings.Replace(appConfig, appSecret, secSigningSecret, 1)
	g := harness.Start(t, harness.Options{Config: config, SlackAPI: api, Now: clock.Now, Log: logs})
	appStream(t, g, clock.Now)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "a digest per channel", func() bool { return len(api.Done("chat.postMessage")) == 2 })
	g.Settle(t)

	var answers []secCall
	keep := func(what string, code int, body []byte) secCall {
		c := secCall{what: what, code: code, body: string(body)}
		answers = append(answers, c)
		return c
	}
	pay, plat := posted(t, api, "#payments-alerts"), posted(t, api, "#platform-alerts")
	for _, p := range []struct {
		what   string
		b      appButton
		secret string
		at     int64
		want   int
	}{
		{"acknowledge", button(t, pay, "acknowledge"), secSigningSecret, time.Now().Unix(), http.StatusOK},
		{"mute", button(t, plat, "mute"), secSigningSecret, time.Now().Unix(), http.StatusOK},
		{"silence signed with another secret", button(t, pay, "silence_1h"), "not-the-secret", time.Now().Unix(), http.StatusUnauthorized},
		{"silence signed six minutes ago", button(t, pay, "silence_1h"), secSigningSecret, time.Now().Add(-6 * time.Minute).Unix(), http.StatusUnauthorized},
	} {
		code, body := press(t, g, p.b, p.secret, p.at)
		if keep("press "+p.what, code, body); code != p.want {
			t.Fatalf("press %s: %d %s, want %d", p.what, code, body, p.want)
		}
	}
	// A new class for the next digest, which Slack refuses too.
	s := harness.NewScript(t)
	s.Now = clock.Now
	s.SentryIssue("created", "6262", 1)
	s.Post(t, g)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)

	// The two edits and the digest, dead-lettered with Slack's word.
	var dl struct {
		DeadLetters []struct{ Reason string } `json:"dead_letters"`
	}
	waitFor(t, 30*time.Second, "three dead letters", func() bool {
		g.Get(t, "/v1/deadletters", &dl)
		return len(dl.DeadLetters) == 3
	})
	g.Settle(t)
	for _, d := range dl.DeadLetters {
		if !strings.Contains(d.Reason, "invalid_auth") {
			t.Fatalf("dead letter reason %q does not say invalid_auth", d.Reason)
		}
	}
	if n := len(api.Calls("chat.postMessage")) + len(api.Calls("chat.update")); n != 5 {
		t.Fatalf("Slack called %d times, want 5: invalid_auth is not retried", n)
	}

	// Every read endpoint, the status page and /metrics.
	for _, path := range []string{"/", "/v1/notifications", "/v1/incidents", "/v1/bugs", "/v1/deadletters", "/v1/audit", "/v1/silences",
		"/v1/explain?source=sentry&key=5151", "/v1/incidents/" + url.PathEscape("alertmanager:v1:a1a1"), "/runbooks", "/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(g.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c := keep("GET "+path, resp.StatusCode, b); c.code != http.StatusOK {
			t.Fatalf("%s: %d %s", c.what, c.code, c.body)
		}
		for k, vs := range resp.Header {
			answers[len(answers)-1].body += k + ": " + strings.Join(vs, ",") + "\n"
		}
	}
	audit, metrics := "", ""
	for _, c := range answers {
		switch c.what {
		case "GET /v1/audit":
			audit = c.body
		case "GET /metrics":
			metrics = c.body
		}
	}
	for _, want := range []string{`"action": "slack.acknowledge"`, `"action": "slack.mute"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %s: %s", want, audit)
		}
	}
	for _, want := range []string{
		`alertgate_slack_api_errors_total{error="invalid_auth",method="chat.update"} 2`,
		`alertgate_slack_api_errors_total{error="invalid_auth",method="chat.postMessage"} 1`,
		`alertgate_slack_actions_total{action="-",result="refused"} 2`,
		`alertgate_slack_actions_total{action="mute",result="ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	g.Stop()
	log := logs.String()
	for _, want := range []string{"invalid_auth", "slack interaction refused"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}

	// Every form the secrets took on the wire.
	leaks := []string{strings.TrimPrefix(harness.BotToken, "xoxb-")}
	for _, sec := range []string{harness.BotToken, secSigningSecret} {
		leaks = append(leaks, sec, base64.StdEncoding.EncodeToString([]byte(sec)), hex.EncodeToString([]byte(sec)))
	}
	where := map[string]string{"the log": log}
	for _, d := range dl.DeadLetters {
		where["the dead letter reasons"] += d.Reason + "\n"
	}
	for _, c := range answers {
		where["the answer to "+c.what] += c.body
	}
	for name, text := range where {
		for _, s := range leaks {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %q", name, s)
			}
		}
	}
	if r := api.Rejected(); len(r) != 0 {
		t.Fatalf("Slack contract violations: %v", r)
	}
}
