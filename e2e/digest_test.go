package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/harness"
)

// digestConfig gives payments and platform a Slack webhook each and leaves
// team dryrun without one.
const digestConfig = `
listen: "127.0.0.1:0"
public_url: "http://alertgate.test"
data_dir: "{{DATA}}"
runbooks_dir: "{{RUNBOOKS}}"
pagerduty:
  events_url: "{{PD}}"
slack:
  digest_interval: 15m
delivery:
  attempts: 3
  min_backoff: 20ms
  max_backoff: 200ms
ingest:
  sentry: {client_secret: "test-client-secret"}
teams:
  - name: payments
    pagerduty_routing_key: "` + harness.PaymentsKey + `"
    slack_webhook_url: "{{SLACK}}/services/T000/B000/payments"
  - name: platform
    slack_webhook_url: "{{SLACK}}/services/T000/B000/platform"
  - name: dryrun
routes:
  - match: ['service=~"checkout|payments"']
    team: payments
  - match: ['service="dry"']
    team: dryrun
  - match: []
    team: platform
`

// digestStream: for payments an Alertmanager incident opened and resolved
// and a Datadog monitor opened; for platform a Sentry bug class with 10
// events; for dryrun one incident.
func digestStream(t *testing.T, now func() time.Time) *harness.Script {
	s := harness.NewScript(t)
	s.Now = now
	s.Alertmanager(harness.AMAlert{Fingerprint: "d1d1", Status: "firing", StartsAt: t0})
	s.Alertmanager(harness.AMAlert{Fingerprint: "d1d1", Status: "resolved", StartsAt: t0})
	s.Datadog(3001, 1, "Triggered", 1001)
	s.SentryIssue("created", "4242", 1)
	for n := 1; n < 10; n++ {
		s.SentryEvent("4242", n)
	}
	s.Alertmanager(harness.AMAlert{Fingerprint: "e2e2", Status: "firing", StartsAt: t0, Labels: map[string]string{"service": "dry", "alertname": "DryRunAlert"}})
	return s
}

type slackMsg struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Text string `json:"text"`
		} `json:"fields"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	} `json:"blocks"`
}

// allText is every text of a message, for content assertions.
func allText(t *testing.T, body []byte) string {
	t.Helper()
	var m slackMsg
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(m.Text + "\n")
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			b.WriteString(bl.Text.Text + "\n")
		}
		for _, f := range bl.Fields {
			b.WriteString(f.Text + "\n")
		}
		for _, e := range bl.Elements {
			b.WriteString(e.Text + "\n")
		}
	}
	return b.String()
}

func TestDigest(t *testing.T) {
	// A fixed clock makes the whole digest reproducible: it is compared
	// with testdata/digest_<team>.golden.json byte for byte.
	clock := harness.NewClockAt(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	slack := harness.NewSlack(t)
	// The first call of every channel is rate limited.
	slack.Respond = func(_ string, n int) (int, string) {
		if n == 1 {
			return http.StatusTooManyRequests, "1"
		}
		return 0, ""
	}
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slack, Now: clock.Now})
	digestStream(t, clock.Now).Post(t, g)
	g.Settle(t)
	if n := len(slack.Requests()); n != 0 {
		t.Fatalf("%d Slack requests before the interval ended", n)
	}

	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "a digest per channel", func() bool {
		return len(slack.Accepted("payments")) == 1 && len(slack.Accepted("platform")) == 1
	})

	// 429 honoured: exactly one refused and one accepted request per
	// channel, the second at least Retry-After later.
	for _, ch := range []string{"payments", "platform"} {
		var reqs []harness.SlackRequest
		for _, r := range slack.Requests() {
			if r.Channel == ch {
				reqs = append(reqs, r)
			}
		}
		if got, want := len(reqs), 2; got != want {
			t.Fatalf("%s: %d requests, want %d (429, then ok)", ch, got, want)
		}
		if reqs[0].Status != http.StatusTooManyRequests || reqs[1].Status != http.StatusOK {
			t.Fatalf("%s: statuses %d, %d", ch, reqs[0].Status, reqs[1].Status)
		}
		if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
			t.Fatalf("%s: retried after %s, Retry-After said 1s", ch, gap)
		}
	}
	if r := slack.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}

	for _, ch := range []string{"payments", "platform"} {
		golden(t, "testdata/digest_"+ch+".golden.json", slack.Accepted(ch)[0].Body)
	}
	pay := allText(t, slack.Accepted("payments")[0].Body)
	for _, want := range []string{"5xx ratio above 5% on d1d1", "Monitor 3001", "resolved"} {
		if !strings.Contains(pay, want) {
			t.Errorf("payments digest lacks %q:\n%s", want, pay)
		}
	}
	for _, unwanted := range []string{"blooopy", "DryRunAlert"} {
		if strings.Contains(pay, unwanted) {
			t.Errorf("payments digest has %q", unwanted)
		}
	}
	plat := allText(t, slack.Accepted("platform")[0].Body)
	if !strings.Contains(plat, "blooopy is not defined") {
		t.Errorf("platform digest lacks the new bug class:\n%s", plat)
	}
	if strings.Contains(plat, "d1d1") {
		t.Errorf("platform digest has a payments incident")
	}

	// The dry-run channel's digest is listed, rendered, at /v1/notifications.
	// (The loop flushes channels one after another: wait for the last.)
	var dry map[string]any
	waitFor(t, 30*time.Second, "the dry-run digest", func() bool {
		for _, n := range g.Notifications(t) {
			if n["type"] == "digest" && n["team"] == "dryrun" {
				dry = n
			}
		}
		return dry != nil
	})
	if dry["state"] != "dry_run" {
		t.Fatalf("dry-run digest=%v", dry)
	}
	body, _ := json.Marshal(dry["body"])
	if !strings.Contains(allText(t, body), "DryRunAlert") && !strings.Contains(string(body), "e2e2") {
		t.Fatalf("dry-run digest body lacks its incident: %s", body)
	}

	// Nothing new: the next interval sends nothing.
	digestsIdle(t, g)
	before := len(slack.Requests())
	clock.FastForward(15*time.Minute + time.Second)
	checkDigests(t, g)
	if got := len(slack.Requests()); got != before {
		t.Fatalf("an empty window sent %d messages", got-before)
	}
}

// Items decided, gateway stopped before the flush: after the restart the
// next digest has them exactly once.
func TestDigestSurvivesRestart(t *testing.T) {
	clock := harness.NewClock()
	slack := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slack, Now: clock.Now})
	digestStream(t, clock.Now).Post(t, g)
	g.Settle(t)
	g = g.Restart(t)
	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "digests after restart", func() bool {
		return len(slack.Accepted("payments")) == 1 && len(slack.Accepted("platform")) == 1
	})
	pay := allText(t, slack.Accepted("payments")[0].Body)
	if got := strings.Count(pay, "Monitor 3001"); got != 1 {
		t.Fatalf("Monitor 3001 appears %d times in:\n%s", got, pay)
	}
	digestsIdle(t, g)
	clock.FastForward(15*time.Minute + time.Second)
	checkDigests(t, g)
	if got, want := len(slack.Accepted("")), 2; got != want {
		for _, r := range slack.Accepted("") {
			t.Logf("%s: %s", r.Channel, allText(t, r.Body))
		}
		t.Fatalf("accepted=%d, want %d: items sent twice", got, want)
	}
}

// A backlog larger than one message's share goes out in several messages
// at the window's end, each item exactly once, and the window closes once.
func TestDigestBacklogInChunks(t *testing.T) {
	clock := harness.NewClock()
	slack := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slack, Now: clock.Now, DigestMaxItems: 2})
	digestStream(t, clock.Now).Post(t, g)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)
	// payments has three items (d1d1 opened and resolved, Monitor 3001):
	// two messages.
	waitFor(t, 30*time.Second, "payments' backlog in two messages", func() bool {
		return len(slack.Accepted("payments")) == 2
	})
	digestsIdle(t, g)
	var all strings.Builder
	for _, r := range slack.Accepted("payments") {
		all.WriteString(allText(t, r.Body))
	}
	text := all.String()
	if got := strings.Count(text, "Monitor 3001"); got != 1 {
		t.Fatalf("Monitor 3001 appears %d times in:\n%s", got, text)
	}
	if !strings.Contains(text, "resolved") {
		t.Fatalf("the resolve of d1d1 is missing:\n%s", text)
	}
	if r := slack.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}
	// The window closed after the last chunk: nothing more until the next.
	before := len(slack.Accepted("payments"))
	checkDigests(t, g)
	clock.FastForward(15*time.Minute + time.Second)
	checkDigests(t, g)
	if got := len(slack.Accepted("payments")); got != before {
		t.Fatalf("payments got %d more messages after its backlog", got-before)
	}
}

// Many pending items flush a channel before its window ends, at most once a
// minute: a storm makes one message a minute, not one per tick.
func TestDigestEarlyFlush(t *testing.T) {
	clock := harness.NewClock()
	slack := harness.NewSlack(t)
	// PagerDuty's own pace (120 a minute) is not what this test is about.
	cfg := strings.Replace(digestConfig, `events_url: "{{PD}}"`, `events_url: "{{PD}}"`+"\n  rate_limit: 100000", 1)
	g := harness.Start(t, harness.Options{Config: cfg, Slack: slack, Now: clock.Now})
	storm := func(from int) {
		s := harness.NewScript(t)
		s.Now = clock.Now
		for i := from; i < from+45; i++ { // EarlyAt is 40
			s.Alertmanager(harness.AMAlert{Fingerprint: fmt.Sprintf("ea%04d", i), Status: "firing", StartsAt: t0})
		}
		s.Post(t, g)
		g.Settle(t)
	}
	storm(0)
	waitFor(t, 30*time.Second, "an early digest", func() bool { return len(slack.Accepted("payments")) == 1 })
	digestsIdle(t, g)

	// 45 more within the minute: they wait.
	storm(45)
	checkDigests(t, g)
	if got := len(slack.Accepted("payments")); got != 1 {
		t.Fatalf("%d digests within a minute, want 1", got)
	}
	clock.FastForward(time.Minute + time.Second)
	waitFor(t, 30*time.Second, "the second early digest", func() bool { return len(slack.Accepted("payments")) == 2 })
	for i, r := range slack.Accepted("payments") {
		if !strings.Contains(allText(t, r.Body), "45") {
			t.Errorf("digest %d does not count its 45 incidents:\n%s", i+1, allText(t, r.Body))
		}
	}
	if r := slack.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}
}

// checkDigests waits until no flush is under way, then runs one digest
// check to completion, as the loop would on its next tick, and waits for
// the Slack worker to deliver what it stored.
func checkDigests(t *testing.T, g *harness.Gateway) {
	t.Helper()
	digestsIdle(t, g)
	if err := g.Digester.CheckAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.Settle(t)
}

// flushDigests stores every team's digest now, whether or not its window
// has ended, and waits for the Slack worker to deliver them.
func flushDigests(t *testing.T, g *harness.Gateway) {
	t.Helper()
	digestsIdle(t, g)
	for _, team := range g.Digester.Teams {
		if err := g.Digester.Flush(context.Background(), team); err != nil {
			t.Fatalf("flush %s: %v", team, err)
		}
	}
	g.Settle(t)
}

// digestsIdle waits until no instance holds a flush lock: a message Slack
// accepted may still have its cursor to advance.
func digestsIdle(t *testing.T, g *harness.Gateway) {
	t.Helper()
	waitFor(t, 30*time.Second, "digest flushes to finish", func() bool {
		busy, err := g.Digester.Busy(context.Background())
		return err == nil && !busy
	})
}

// Two gateways on one NATS: each channel's digest is flushed by one of them,
// once per window.
func TestDigestTwoInstances(t *testing.T) {
	port := freePort(t)
	clock := harness.NewClock()
	slack := harness.NewSlack(t)
	pd := harness.NewPagerDuty(t)
	a := harness.Start(t, harness.Options{PD: pd, Slack: slack, Now: clock.Now, Config: digestConfig + fmt.Sprintf("nats:\n  listen: \"127.0.0.1:%d\"\n", port)})
	b := harness.Start(t, harness.Options{PD: pd, Slack: slack, Now: clock.Now, Config: digestConfig + fmt.Sprintf("nats:\n  url: \"nats://127.0.0.1:%d\"\n", port)})
	digestStream(t, clock.Now).Post(t, a)
	a.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "a digest per channel", func() bool {
		return len(slack.Accepted("payments")) >= 1 && len(slack.Accepted("platform")) >= 1
	})
	// Both instances check again: nothing more goes out this window.
	digestsIdle(t, a)
	checkDigests(t, a)
	checkDigests(t, b)
	if got, want := len(slack.Accepted("")), 2; got != want {
		t.Fatalf("digests accepted=%d, want %d (one per channel)", got, want)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got (JSON) with a golden file, indented; -update rewrites it.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%s differs (run with -update after checking):\n--- got\n%s", path, buf.Bytes())
	}
}

// Occurrences counted after a digest come back in the next one as
// recurring, with the count since the last digest; a window with nothing
// new sends nothing.
func TestDigestRecurring(t *testing.T) {
	clock := harness.NewClock()
	slack := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slack, Now: clock.Now})
	digestStream(t, clock.Now).Post(t, g)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "the first platform digest", func() bool { return len(slack.Accepted("platform")) == 1 })
	digestsIdle(t, g)

	s := harness.NewScript(t)
	s.Now = clock.Now
	for n := 100; n < 103; n++ {
		s.SentryEvent("4242", n)
	}
	s.Post(t, g)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "the second platform digest", func() bool { return len(slack.Accepted("platform")) == 2 })
	digestsIdle(t, g)
	second := allText(t, slack.Accepted("platform")[1].Body)
	if !strings.Contains(second, "Recurring") || !strings.Contains(second, "×3 since the last digest") {
		t.Fatalf("second digest lacks the recurring class:\n%s", second)
	}
	clock.FastForward(15*time.Minute + time.Second)
	checkDigests(t, g)
	if got, want := len(slack.Accepted("platform")), 2; got != want {
		t.Fatalf("platform digests=%d, want %d", got, want)
	}
}

// A Slack item carries no Nats-Msg-Id (a million new classes would keep a
// million IDs in the server's memory), so deciding an event again after a
// crash stores a second copy: the digest lists the class once.
func TestDigestItemStoredTwice(t *testing.T) {
	clock := harness.NewClock()
	slack := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slack, Now: clock.Now})
	s := harness.NewScript(t)
	s.Now = clock.Now
	s.SentryIssue("created", "7070", 1)
	s.Post(t, g)
	g.Settle(t)

	ctx := t.Context()
	subject := bus.NotifySubject(alertgate.SinkSlack, "platform")
	m, err := g.Bus.Notify.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("the new class's item: %v", err)
	}
	var item alertgate.Notification
	if err := json.Unmarshal(m.Data, &item); err != nil {
		t.Fatal(err)
	}
	if item.Type != alertgate.TypeBugNew {
		t.Fatalf("item type %s, want %s", item.Type, alertgate.TypeBugNew)
	}
	// The router's emit, as on a redelivery before the state write.
	res, err := g.Bus.PublishNotifications(ctx, []alertgate.Notification{item})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("publish the copy: %+v, %v", res, err)
	}
	info, err := g.Bus.Notify.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects[subject]; got != 2 {
		t.Fatalf("%s holds %d items, want the item and its copy", subject, got)
	}

	flushDigests(t, g)
	got := slack.Accepted("platform")
	if len(got) != 1 {
		t.Fatalf("platform digests=%d, want 1", len(got))
	}
	text := allText(t, got[0].Body)
	if !strings.Contains(text, "1 new bug class") || strings.Count(text, item.Event.Title) != 1 {
		t.Fatalf("the class is not listed exactly once:\n%s", text)
	}
}
