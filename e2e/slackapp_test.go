package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

// appSecret is the signing secret of the loopback Slack app.
const appSecret = "loopback-signing-secret"

// appConfig puts payments and platform in app mode and leaves dryrun
// without Slack.
const appConfig = `
listen: "127.0.0.1:0"
public_url: "http://alertgate.test"
data_dir: "{{DATA}}"
runbooks_dir: "{{RUNBOOKS}}"
pagerduty:
  events_url: "{{PD}}"
slack:
  digest_interval: 15m
  bot_token: "` + harness.BotToken + `"
  signing_secret: "` + appSecret + `"
  api_url: "{{SLACKAPI}}"
delivery:
  attempts: 3
  min_backoff: 20ms
  max_backoff: 200ms
ingest:
  sentry: {client_secret: "test-client-secret"}
teams:
  - name: payments
    pagerduty_routing_key: "` + harness.PaymentsKey + `"
    slack_channel: "#payments-alerts"
  - name: platform
    slack_channel: "#platform-alerts"
  - name: dryrun
routes:
  - match: ['service=~"checkout|payments"']
    team: payments
  - match: ['service="dry"']
    team: dryrun
  - match: []
    team: platform
`

// appBlock is a block of a posted message, as much as the tests read.
type appBlock struct {
	Type    string `json:"type"`
	BlockID string `json:"block_id"`
	Text    *struct {
		Text string `json:"text"`
	} `json:"text"`
	Elements []struct {
		Type     string `json:"type"`
		Text     any    `json:"text"`
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"elements"`
}

type appButton struct{ blockID, actionID, value string }

// buttons lists a call's buttons.
func buttons(t *testing.T, c harness.SlackCall) []appButton {
	t.Helper()
	var bs []appBlock
	if err := json.Unmarshal(c.Blocks, &bs); err != nil {
		t.Fatal(err)
	}
	var out []appButton
	for _, b := range bs {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			out = append(out, appButton{b.BlockID, e.ActionID, e.Value})
		}
	}
	return out
}

// callText is the texts of a call's blocks.
func callText(t *testing.T, c harness.SlackCall) string {
	t.Helper()
	var bs []appBlock
	if err := json.Unmarshal(c.Blocks, &bs); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, b := range bs {
		if b.Text != nil {
			sb.WriteString(b.Text.Text + "\n")
		}
		for _, e := range b.Elements {
			if s, ok := e.Text.(string); ok {
				sb.WriteString(s + "\n")
			}
		}
	}
	return sb.String()
}

// press posts a block action of user ana signed as Slack signs it, at ts
// (Unix seconds), with secret.
func press(t *testing.T, g *harness.Gateway, b appButton, secret string, ts int64) (int, []byte) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions",
		"user": map[string]string{"id": "U0ANA", "name": "ana"},
		"actions": []map[string]string{{
			"type": "button", "block_id": b.blockID, "action_id": b.actionID, "value": b.value,
			"action_ts": strconv.FormatInt(time.Now().UnixNano(), 10),
		}},
	})
	body := "payload=" + url.QueryEscape(string(payload))
	stamp := strconv.FormatInt(ts, 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":" + body))
	req, _ := http.NewRequest(http.MethodPost, g.URL()+"/v1/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// appStream: for payments an Alertmanager incident firing; for platform
// a new Sentry bug class.
func appStream(t *testing.T, g *harness.Gateway, now func() time.Time) {
	s := harness.NewScript(t)
	s.Now = now
	s.Alertmanager(harness.AMAlert{Fingerprint: "a1a1", Status: "firing", StartsAt: t0})
	s.SentryIssue("created", "5151", 1)
	s.Post(t, g)
}

// startApp starts a gateway in app mode and waits for the first digests.
func startApp(t *testing.T, api *harness.SlackAPI, clock *harness.Clock) *harness.Gateway {
	t.Helper()
	return startAppConfig(t, appConfig, api, clock)
}

func startAppConfig(t *testing.T, config string, api *harness.SlackAPI, clock *harness.Clock) *harness.Gateway {
	t.Helper()
	g := harness.Start(t, harness.Options{Config: config, SlackAPI: api, Now: clock.Now})
	appStream(t, g, clock.Now)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "a digest per channel", func() bool { return len(api.Done("chat.postMessage")) == 2 })
	g.Settle(t)
	return g
}

// posted is the call that posted channel's digest.
func posted(t *testing.T, api *harness.SlackAPI, channel string) harness.SlackCall {
	t.Helper()
	for _, c := range api.Done("chat.postMessage") {
		if c.Channel == channel {
			return c
		}
	}
	t.Fatalf("no digest posted to %s", channel)
	return harness.SlackCall{}
}

func button(t *testing.T, c harness.SlackCall, action string) appButton {
	t.Helper()
	for _, b := range buttons(t, c) {
		if b.actionID == action {
			return b
		}
	}
	t.Fatalf("no %s button in %s", action, c.Blocks)
	return appButton{}
}

func noRejects(t *testing.T, api *harness.SlackAPI, pd *harness.PagerDuty) {
	t.Helper()
	if r := api.Rejected(); len(r) != 0 {
		t.Fatalf("Slack contract violations: %v", r)
	}
	if r := pd.Rejected(); len(r) != 0 {
		t.Fatalf("PagerDuty contract violations: %v", r)
	}
}

func TestSlackAppDigestWithButtons(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	api := harness.NewSlackAPI(t)
	g := startApp(t, api, clock)
	pay := posted(t, api, "#payments-alerts")
	var got []string
	for _, b := range buttons(t, pay) {
		got = append(got, b.actionID)
	}
	if want := "acknowledge silence_1h"; strings.Join(got, " ") != want {
		t.Fatalf("payments buttons %v, want %s", got, want)
	}
	if v := button(t, pay, "acknowledge").value; !strings.Contains(v, "alertmanager:v1:a1a1") {
		t.Fatalf("acknowledge value %s does not name the incident", v)
	}
	plat := posted(t, api, "#platform-alerts")
	if b := buttons(t, plat); len(b) != 1 || b[0].actionID != "mute" {
		t.Fatalf("platform buttons %v, want one mute", b)
	}
	golden(t, "testdata/slackapp_digest_payments.golden.json", pay.Blocks)
	noRejects(t, api, g.PD)
}

func TestSlackAppAcknowledge(t *testing.T) {
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	g := startApp(t, api, clock)
	pay := posted(t, api, "#payments-alerts")
	ack := button(t, pay, "acknowledge")
	if code, b := press(t, g, ack, appSecret, time.Now().Unix()); code != http.StatusOK {
		t.Fatalf("press: %d %s", code, b)
	}
	waitFor(t, 30*time.Second, "PagerDuty's acknowledge", func() bool { return len(g.PD.Actions("acknowledge")) == 1 })
	trig, acks := g.PD.Actions("trigger"), g.PD.Actions("acknowledge")
	if len(trig) != 1 || acks[0].DedupKey != trig[0].DedupKey || acks[0].RoutingKey != harness.PaymentsKey {
		t.Fatalf("acknowledge %+v does not match the page %+v", acks[0], trig)
	}
	waitFor(t, 30*time.Second, "the digest edited", func() bool { return len(api.Done("chat.update")) == 1 })
	up := api.Done("chat.update")[0]
	if up.TS != pay.TS || !strings.Contains(callText(t, up), "acknowledged by @ana") {
		t.Fatalf("edit of %s: %s", up.TS, callText(t, up))
	}
	var audit struct {
		Records []map[string]any `json:"audit"`
	}
	g.Get(t, "/v1/audit", &audit)
	found := false
	for _, r := range audit.Records {
		if r["action"] == "slack.acknowledge" && strings.Contains(r["actor"].(string), "U0ANA") && r["target"] == "alertmanager:v1:a1a1" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit record of the acknowledge: %v", audit.Records)
	}
	noRejects(t, api, g.PD)
}

func TestSlackAppSilenceHoldsNextEpisode(t *testing.T) {
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	g := startApp(t, api, clock)
	pay := posted(t, api, "#payments-alerts")
	if code, b := press(t, g, button(t, pay, "silence_1h"), appSecret, time.Now().Unix()); code != http.StatusOK {
		t.Fatalf("press: %d %s", code, b)
	}
	// The episode ends, the next one begins within the hour.
	s := harness.NewScript(t)
	s.Now = clock.Now
	s.Alertmanager(harness.AMAlert{Fingerprint: "a1a1", Status: "resolved", StartsAt: t0})
	s.Alertmanager(harness.AMAlert{Fingerprint: "a1a1", Status: "firing", StartsAt: t0.Add(time.Hour)})
	s.Post(t, g)
	g.Settle(t)
	if n := len(g.PD.Actions("trigger")); n != 1 {
		t.Fatalf("triggers=%d, want 1: the silence did not hold the next episode", n)
	}
	var sils struct {
		Silences []map[string]any `json:"silences"`
	}
	g.Get(t, "/v1/silences", &sils)
	if len(sils.Silences) != 1 || sils.Silences[0]["created_by"] != "@ana" {
		t.Fatalf("silences %v, want one by @ana", sils.Silences)
	}
	noRejects(t, api, g.PD)
}

func TestSlackAppResolveUpdatesMessage(t *testing.T) {
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	g := startApp(t, api, clock)
	pay := posted(t, api, "#payments-alerts")
	s := harness.NewScript(t)
	s.Now = clock.Now
	s.Alertmanager(harness.AMAlert{Fingerprint: "a1a1", Status: "resolved", StartsAt: t0})
	s.Post(t, g)
	waitFor(t, 30*time.Second, "the digest edited", func() bool { return len(api.Done("chat.update")) == 1 })
	g.Settle(t)
	up := api.Done("chat.update")[0]
	if up.TS != pay.TS || !strings.Contains(callText(t, up), "resolved at") {
		t.Fatalf("edit of %s: %s", up.TS, callText(t, up))
	}
	for _, b := range buttons(t, up) {
		if b.actionID == "acknowledge" {
			t.Fatalf("a resolved incident still offers Acknowledge")
		}
	}
	if n := len(api.Calls("chat.update")); n != 1 {
		t.Fatalf("chat.update called %d times, want 1", n)
	}
	noRejects(t, api, g.PD)
}

func TestSlackAppRefusesBadSignatures(t *testing.T) {
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	g := startApp(t, api, clock)
	pay := posted(t, api, "#payments-alerts")
	for _, tt := range []struct {
		name   string
		secret string
		at     int64
	}{
		{"wrong secret", "not-the-secret", time.Now().Unix()},
		{"six minutes old", appSecret, time.Now().Add(-6 * time.Minute).Unix()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, action := range []string{"acknowledge", "silence_1h"} {
				if code, _ := press(t, g, button(t, pay, action), tt.secret, tt.at); code != http.StatusUnauthorized {
					t.Fatalf("%s: status %d, want 401", action, code)
				}
			}
		})
	}
	g.Settle(t)
	var sils struct {
		Silences []map[string]any `json:"silences"`
	}
	g.Get(t, "/v1/silences", &sils)
	if n, acks, ups := len(sils.Silences), len(g.PD.Actions("acknowledge")), len(api.Calls("chat.update")); n+acks+ups != 0 {
		t.Fatalf("a refused press changed something: %d silences, %d acknowledges, %d edits", n, acks, ups)
	}
}

// A restart after the resolve was read and before Slack took the edit:
// the edit goes out once after the restart.
func TestSlackAppRestartBetweenResolveAndUpdate(t *testing.T) {
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	api.Fail = func(method string, _ int) string {
		if method == "chat.update" {
			return "internal_error"
		}
		return ""
	}
	// Attempts enough that the failing edit cannot be dead-lettered
	// before the restart.
	g := startAppConfig(t, strings.Replace(appConfig, "attempts: 3", "attempts: 1000", 1), api, clock)
	s := harness.NewScript(t)
	s.Now = clock.Now
	s.Alertmanager(harness.AMAlert{Fingerprint: "a1a1", Status: "resolved", StartsAt: t0})
	s.Post(t, g)
	waitFor(t, 30*time.Second, "an edit tried", func() bool { return len(api.Calls("chat.update")) >= 1 })
	g.Stop()
	api.Fail = nil
	g = g.Restart(t)
	waitFor(t, 30*time.Second, "the edit after the restart", func() bool { return len(api.Done("chat.update")) == 1 })
	g.Settle(t)
	if n := len(api.Done("chat.update")); n != 1 {
		t.Fatalf("edits taken=%d, want 1", n)
	}
	if !strings.Contains(callText(t, api.Done("chat.update")[0]), "resolved at") {
		t.Fatalf("the edit does not show the resolve")
	}
}

func TestSlackAppErrors(t *testing.T) {
	t.Run("ratelimited waits and succeeds", func(t *testing.T) {
		clock := harness.NewClock()
		api := harness.NewSlackAPI(t)
		api.Fail = func(method string, n int) string {
			if n == 1 {
				return "ratelimited"
			}
			return ""
		}
		g := harness.Start(t, harness.Options{Config: appConfig, SlackAPI: api, Now: clock.Now})
		appStream(t, g, clock.Now)
		g.Settle(t)
		clock.FastForward(15*time.Minute + time.Second)
		start := time.Now()
		waitFor(t, 30*time.Second, "both digests", func() bool { return len(api.Done("chat.postMessage")) == 2 })
		if took := time.Since(start); took < time.Second {
			t.Fatalf("posted %s after a ratelimited with Retry-After: 1", took)
		}
		if n := len(api.Calls("chat.postMessage")); n != 3 {
			t.Fatalf("calls=%d, want 3 (one ratelimited)", n)
		}
	})
	t.Run("channel_not_found dead-letters", func(t *testing.T) {
		clock := harness.NewClock()
		api := harness.NewSlackAPI(t)
		api.Fail = func(string, int) string { return "channel_not_found" }
		g := harness.Start(t, harness.Options{Config: appConfig, SlackAPI: api, Now: clock.Now})
		appStream(t, g, clock.Now)
		g.Settle(t)
		clock.FastForward(15*time.Minute + time.Second)
		var dl struct {
			DeadLetters []map[string]any `json:"dead_letters"`
		}
		waitFor(t, 30*time.Second, "two dead letters", func() bool {
			g.Get(t, "/v1/deadletters", &dl)
			return len(dl.DeadLetters) == 2
		})
		for _, d := range dl.DeadLetters {
			if r, _ := d["reason"].(string); !strings.Contains(r, "channel_not_found") {
				t.Fatalf("dead letter %v does not say channel_not_found", d)
			}
		}
		if n := len(api.Calls("chat.postMessage")); n != 2 {
			t.Fatalf("calls=%d, want 2: channel_not_found is not retried", n)
		}
	})
}

// bugClass is a class as GET /v1/bugs shows it.
type bugClass struct {
	Key, Status string
	Count       int
	Regressions int
}

func bugByKey(t *testing.T, g *harness.Gateway, key string) bugClass {
	t.Helper()
	var out struct{ Bugs []bugClass }
	if code := g.Get(t, "/v1/bugs", &out); code != http.StatusOK {
		t.Fatalf("GET /v1/bugs: %d", code)
	}
	for _, b := range out.Bugs {
		if b.Key == key {
			return b
		}
	}
	t.Fatalf("no bug class %s in %+v", key, out.Bugs)
	return bugClass{}
}

// bugNotes counts key's bug_* notifications, by type.
func bugNotes(t *testing.T, g *harness.Gateway, key string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, n := range g.Notifications(t) {
		if typ, _ := n["type"].(string); strings.HasPrefix(typ, "bug_") && n["key"] == key {
			got[typ]++
		}
	}
	return got
}

// Mute on a digest's bug class: the press is audited under the Slack user
// and shown on the message; the class's further occurrences, enough to
// spike, are counted and notify nothing; resolved at the source and seen
// again, it regresses and is announced, as Sentry's ignore-until-regressed.
func TestSlackAppMuteUntilRegression(t *testing.T) {
	const key = "sentry:v1:issue:5151"
	clock := harness.NewClock()
	api := harness.NewSlackAPI(t)
	// A spike threshold the occurrences below reach: were the class not
	// muted, they would notify a spike.
	config := strings.Replace(appConfig, "ingest:", "dedup:\n  bug_spike: {count: 3, within: 1h}\ningest:", 1)
	g := startAppConfig(t, config, api, clock)
	plat := posted(t, api, "#platform-alerts")
	mute := button(t, plat, "mute")
	if code, b := press(t, g, mute, appSecret, time.Now().Unix()); code != http.StatusOK {
		t.Fatalf("press: %d %s", code, b)
	}

	var audit struct {
		Records []struct{ Actor, Action, Target, Detail string } `json:"audit"`
	}
	g.Get(t, "/v1/audit", &audit)
	if n := len(audit.Records); n != 1 || audit.Records[0].Action != "slack.mute" || audit.Records[0].Target != key ||
		!strings.Contains(audit.Records[0].Actor, "ana") || !strings.Contains(audit.Records[0].Actor, "U0ANA") {
		t.Fatalf("audit trail %+v, want one slack.mute of %s by ana (U0ANA)", audit.Records, key)
	}
	waitFor(t, 30*time.Second, "the digest edited", func() bool { return len(api.Done("chat.update")) == 1 })
	up := api.Done("chat.update")[0]
	if up.TS != plat.TS || !strings.Contains(callText(t, up), "muted by @ana") {
		t.Fatalf("edit of %s (digest %s): %s", up.TS, plat.TS, callText(t, up))
	}
	for _, b := range buttons(t, up) {
		if b.actionID == "mute" {
			t.Fatalf("a muted class still offers Mute")
		}
	}
	g.Settle(t)
	if b := bugByKey(t, g, key); b.Status != "muted" {
		t.Fatalf("class %+v, want muted", b)
	}
	before := bugByKey(t, g, key).Count

	// Occurrences while muted: counted only.
	s := harness.NewScript(t)
	s.Now = clock.Now
	for i := range 4 {
		s.SentryEvent("5151", i)
	}
	s.Post(t, g)
	g.Settle(t)
	if b := bugByKey(t, g, key); b.Count != before+4 || b.Status != "muted" {
		t.Fatalf("class %+v, want muted with count %d", b, before+4)
	}
	if got := bugNotes(t, g, key); len(got) != 1 || got["bug_new"] != 1 {
		t.Fatalf("notifications of the muted class %v, want only its bug_new", got)
	}

	// Resolved at the source, then seen again: a regression.
	s = harness.NewScript(t)
	s.Now = clock.Now
	s.SentryIssue("resolved", "5151", before+4)
	s.SentryEvent("5151", 10)
	s.Post(t, g)
	g.Settle(t)
	if got := bugNotes(t, g, key); got["bug_regression"] != 1 || got["bug_spike"] != 0 {
		t.Fatalf("notifications after the resolve %v, want one bug_regression", got)
	}
	if b := bugByKey(t, g, key); b.Status != "open" || b.Regressions != 1 {
		t.Fatalf("class %+v, want open with 1 regression", b)
	}
	clock.FastForward(15*time.Minute + time.Second)
	var next harness.SlackCall
	waitFor(t, 30*time.Second, "the next platform digest", func() bool {
		for _, c := range api.Done("chat.postMessage") {
			if c.Channel == "#platform-alerts" && c.TS != plat.TS {
				next = c
				return true
			}
		}
		return false
	})
	if txt := callText(t, next); !strings.Contains(txt, "Regressions") {
		t.Fatalf("the next digest does not list the regression: %s", txt)
	}
	if b := button(t, next, "mute"); !strings.Contains(b.value, key) {
		t.Fatalf("the regressed class's Mute button %s does not name it", b.value)
	}
	noRejects(t, api, g.PD)
}
