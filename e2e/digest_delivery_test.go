package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/harness"
	"github.com/alertgate/alertgate/sinks/slack"
)

// postBug posts one occurrence of a bug class through the events source
// (unauthenticated in digestConfig): service "dry" routes to team dryrun,
// any other to platform.
func postBug(t *testing.T, g *harness.Gateway, id, key, title, service string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"id": id, "kind": "bug", "key": key, "title": title, "service": service, "severity": "error",
	})
	if err != nil {
		t.Fatal(err)
	}
	g.MustAccept(t, "/v1/ingest/events", body, nil)
}

// listed returns the records of /v1/notifications with this type and key
// (any key if ""), in the listing's order.
func listed(t *testing.T, g *harness.Gateway, typ, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, n := range g.Notifications(t) {
		if n["type"] == typ && (key == "" || n["key"] == key) {
			out = append(out, n)
		}
	}
	return out
}

// platformClass is the record of digestStream's one new bug class (a
// Sentry issue of team platform).
func platformClass(t *testing.T, g *harness.Gateway) map[string]any {
	t.Helper()
	var got []map[string]any
	for _, n := range listed(t, g, "bug_new", "") {
		if n["team"] == "platform" && strings.HasPrefix(n["key"].(string), "sentry:") {
			got = append(got, n)
		}
	}
	if len(got) != 1 {
		t.Fatalf("the new class is listed %d times: %v", len(got), got)
	}
	return got[0]
}

// A new bug class is listed at /v1/notifications as soon as it is decided,
// pending, newest first among the log's records, and then in its digest's
// state: dry_run for a team without a webhook, sent for one with it;
// listed once all along.
func TestDigestItemsPendingUntilDigested(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	slackSrv := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slackSrv, Now: clock.Now})

	postBug(t, g, "pend-1", "pend-dry", "PendingDryError", "dry")
	postBug(t, g, "pend-2", "pend-plat", "PendingPlatformError", "web")
	g.Settle(t)
	clock.FastForward(time.Minute)
	// A page delivered in between: its record is newer than the two
	// classes, older than the next one.
	g.MustAccept(t, "/v1/ingest/alertmanager", harness.AMWebhook(harness.AMAlert{Fingerprint: "pe01", Status: "firing", StartsAt: t0}), nil)
	g.Settle(t)
	clock.FastForward(time.Minute)
	postBug(t, g, "pend-3", "pend-later", "PendingLaterError", "dry")
	g.Settle(t)

	order := map[string]int{}
	for i, n := range g.Notifications(t) {
		switch {
		case n["type"] == "page":
			order["page"] = i
		case n["type"] == "bug_new":
			if n["state"] != "pending" {
				t.Fatalf("%v before any digest: state %v, want pending", n["key"], n["state"])
			}
			if _, twice := order[n["key"].(string)]; twice {
				t.Fatalf("%v listed twice", n["key"])
			}
			order[n["key"].(string)] = i
		}
	}
	for _, key := range []string{"events:pend-dry", "events:pend-plat", "events:pend-later", "page"} {
		if _, ok := order[key]; !ok {
			t.Fatalf("%s not listed: %v", key, g.Notifications(t))
		}
	}
	if !(order["events:pend-later"] < order["page"] && order["page"] < order["events:pend-dry"] && order["page"] < order["events:pend-plat"]) {
		t.Fatalf("not newest first: %v", order)
	}
	if dry := listed(t, g, "bug_new", "events:pend-dry")[0]; dry["team"] != "dryrun" || dry["sink"] != "slack" || dry["title"] != "PendingDryError" {
		t.Fatalf("pending item=%v, want team dryrun, sink slack and its title", dry)
	}

	clock.FastForward(15 * time.Minute)
	waitFor(t, 30*time.Second, "the classes in their digests' state", func() bool {
		d, p := listed(t, g, "bug_new", "events:pend-dry"), listed(t, g, "bug_new", "events:pend-plat")
		return len(d) == 1 && d[0]["state"] == "dry_run" && len(p) == 1 && p[0]["state"] == "sent"
	})
	g.Settle(t)
	for _, key := range []string{"events:pend-dry", "events:pend-plat", "events:pend-later"} {
		if got := listed(t, g, "bug_new", key); len(got) != 1 || got[0]["state"] == "pending" {
			t.Fatalf("%s after the digests: %v, want one record in its digest's state", key, got)
		}
	}
	var dryDigest map[string]any
	for _, n := range g.Notifications(t) {
		if n["type"] == "digest" && n["team"] == "dryrun" {
			dryDigest = n
		}
	}
	body, _ := json.Marshal(dryDigest["body"])
	if dryDigest["state"] != "dry_run" || !strings.Contains(string(body), "PendingDryError") || !strings.Contains(string(body), "PendingLaterError") {
		t.Fatalf("dry-run digest=%v", dryDigest)
	}
	if got := len(slackSrv.Accepted("platform")); got != 1 {
		t.Fatalf("platform digests=%d, want 1", got)
	}
	if len(slackSrv.Requests()) != len(slackSrv.Accepted("")) || len(slackSrv.Accepted("dryrun")) != 0 {
		t.Fatalf("Slack requests: %d, accepted %d, to dryrun %d", len(slackSrv.Requests()), len(slackSrv.Accepted("")), len(slackSrv.Accepted("dryrun")))
	}
}

// With more items waiting than the list's limit (a storm of new classes
// before the window ends), the newest are listed, not the first decided.
func TestDigestPendingNewestWithinLimit(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: harness.NewSlack(t), Now: clock.Now})
	var storm []map[string]any
	for i := range 25 {
		storm = append(storm, map[string]any{"id": fmt.Sprintf("st-%02d", i), "kind": "bug", "key": fmt.Sprintf("storm-%02d", i), "title": "StormError", "service": "dry", "severity": "error"})
	}
	body, err := json.Marshal(storm)
	if err != nil {
		t.Fatal(err)
	}
	g.MustAccept(t, "/v1/ingest/events", body, nil)
	g.Settle(t)
	var want []string
	for i := range 5 {
		clock.FastForward(time.Second)
		postBug(t, g, fmt.Sprintf("nw-%d", i), fmt.Sprintf("newest-%d", i), "NewestError", "dry")
		g.Settle(t)
		want = append([]string{fmt.Sprintf("events:newest-%d=pending", i)}, want...)
	}
	var out struct {
		Notifications []map[string]any `json:"notifications"`
	}
	if code := g.Get(t, "/v1/notifications?limit=5", &out); code != http.StatusOK {
		t.Fatalf("GET /v1/notifications?limit=5: %d", code)
	}
	var got []string
	for _, n := range out.Notifications {
		got = append(got, fmt.Sprintf("%v=%v", n["key"], n["state"]))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if all := listed(t, g, "bug_new", ""); len(all) != 30 {
		t.Fatalf("listed %d classes with the default limit, want 30", len(all))
	}
}

// Slack refuses a channel's digest (404 channel_not_found): it is
// dead-lettered with its items, like any notification; after the fix, a
// replay puts it back in NOTIFY and the Slack worker delivers the same
// message once.
func TestDigestDeadLetterReplay(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	slackSrv := harness.NewSlack(t)
	var fixed atomic.Bool
	slackSrv.Respond = func(channel string, _ int) (int, string) {
		if channel == "platform" && !fixed.Load() {
			return http.StatusNotFound, ""
		}
		return 0, ""
	}
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slackSrv, Now: clock.Now})
	digestStream(t, clock.Now).Post(t, g)
	g.Settle(t)
	clock.FastForward(15*time.Minute + time.Second)

	var dl struct {
		DeadLetters []struct {
			Reason       string
			State        string
			Notification struct{ ID, Type, Team string }
		} `json:"dead_letters"`
	}
	waitFor(t, 30*time.Second, "the platform digest dead-lettered", func() bool {
		g.Get(t, "/v1/deadletters", &dl)
		return len(dl.DeadLetters) == 1
	})
	d := dl.DeadLetters[0]
	if d.Notification.Type != "digest" || d.Notification.Team != "platform" || d.State != "dead" || !strings.Contains(d.Reason, "404") {
		t.Fatalf("dead letter=%+v, want platform's digest, dead, reason naming HTTP 404", d)
	}
	g.Settle(t)
	if got := len(slackSrv.Requests()); got != 2 { // payments' digest, platform's refused once
		t.Fatalf("Slack requests=%d, want 2: a permanent refusal is not retried", got)
	}
	if st := platformClass(t, g)["state"]; st != "dead" {
		t.Fatalf("the dead digest's item: state %v, want dead", st)
	}

	fixed.Store(true)
	code, body := g.Post(t, "/v1/deadletters/replay", []byte(`{}`), nil)
	if code != http.StatusOK {
		t.Fatalf("replay: %d %s", code, body)
	}
	g.Settle(t)
	got := slackSrv.Accepted("platform")
	if len(got) != 1 {
		t.Fatalf("platform digests accepted=%d, want 1", len(got))
	}
	golden(t, "testdata/digest_platform.golden.json", got[0].Body)
	if st := platformClass(t, g)["state"]; st != "sent" {
		t.Fatalf("the replayed digest's item: state %v, want sent", st)
	}
	if code, body := g.Post(t, "/v1/deadletters/replay", []byte(`{"id":"`+d.Notification.ID+`"}`), nil); code != http.StatusNotFound {
		t.Fatalf("second replay: %d %s", code, body)
	}
	g.Settle(t)
	if got := len(slackSrv.Accepted("platform")); got != 1 {
		t.Fatalf("platform digests accepted=%d after a second replay, want 1", got)
	}
}

// A flush that stored its digest and stopped before moving the cursor (a
// crash in between) is repeated from the same state: the digest is found
// and committed, not stored again, even with more items waiting by then;
// those go out in the next digest, each item once.
func TestDigestFlushRepeatedAfterCrash(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC))
	slackSrv := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slackSrv, Now: clock.Now})
	digestStream(t, clock.Now).Post(t, g)
	g.Settle(t)
	digestsIdle(t, g)

	ctx := context.Background()
	states, err := g.Bus.JS.KeyValue(ctx, slack.BucketDigests)
	if err != nil {
		t.Fatal(err)
	}
	before, err := states.Get(ctx, "platform")
	if err != nil {
		t.Fatal(err)
	}
	// One message to platform in all: after the flush, and after its
	// repeat.
	flush := func(when string) {
		t.Helper()
		if err := g.Digester.Flush(ctx, "platform"); err != nil {
			t.Fatal(err)
		}
		g.Settle(t)
		if got := len(slackSrv.Accepted("platform")); got != 1 {
			t.Fatalf("%s: platform digests=%d, want 1", when, got)
		}
	}
	flush("the flush")
	// The crash: the cursor is where it was before the flush.
	if _, err := states.Put(ctx, "platform", before.Value()); err != nil {
		t.Fatal(err)
	}
	// Still listed once, in the stored digest's state, not pending again.
	if got := platformClass(t, g); got["state"] != "sent" {
		t.Fatalf("the class with the cursor behind its digest: %v, want sent", got)
	}
	postBug(t, g, "rep-1", "repeat-later", "LaterError", "web")
	g.Settle(t)

	flush("the repeated flush")
	info, err := g.Bus.Notify.Info(ctx, jetstream.WithSubjectFilter(bus.DigestSubject("platform")))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects[bus.DigestSubject("platform")]; got != 1 {
		t.Fatalf("platform digests stored=%d, want 1", got)
	}
	if got := listed(t, g, "bug_new", "events:repeat-later"); len(got) != 1 || got[0]["state"] != "pending" {
		t.Fatalf("the class decided after the store: %v, want pending", got)
	}

	flushDigests(t, g)
	sent := slackSrv.Accepted("platform")
	if len(sent) != 2 {
		t.Fatalf("platform digests=%d, want 2", len(sent))
	}
	first, second := allText(t, sent[0].Body), allText(t, sent[1].Body)
	if !strings.Contains(first, "blooopy") || strings.Contains(first, "LaterError") {
		t.Fatalf("first digest:\n%s", first)
	}
	if !strings.Contains(second, "LaterError") || strings.Contains(second, "blooopy") {
		t.Fatalf("second digest:\n%s", second)
	}
}
