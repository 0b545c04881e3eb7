package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/internal/harness"
)

// holdsConfig pages payments for checkout and platform for the rest, with
// the noise controls of the README: a digest-only route, an office-hours
// route, an inhibit rule and flap damping.
const holdsConfig = `
listen: "127.0.0.1:0"
public_url: "http://alertgate.test"
data_dir: "{{DATA}}"
pagerduty:
  events_url: "{{PD}}"
  rate_limit: 600000
delivery: {attempts: 3, min_backoff: 20ms, max_backoff: 200ms, timeout: 5s}
ingest:
  events: {token: "ev-token"}
teams:
  - name: payments
    pagerduty_routing_key: "` + harness.PaymentsKey + `"
  - name: platform
    pagerduty_routing_key: "` + harness.PlatformKey + `"
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '18:00'}]
        location: Europe/Berlin
  - name: night-freeze
    time_intervals:
      - times: [{start_time: '02:00', end_time: '04:00'}]
        location: Europe/Berlin
inhibit_rules:
  - source_matchers: ['alertname="DatacenterDown"']
    target_matchers: ['severity!="critical"']
    equal: [datacenter]
dedup:
  flapping: {episodes: 4, within: 1h, quiet: 30m}
routes:
  - match: ['service="disk"']
    team: platform
    notify: digest
  - match: ['service="office"']
    team: payments
    active_time_intervals: [office-hours]
  - match: ['service="batch"']
    team: platform
    mute_time_intervals: [night-freeze]
  - match: ['service=~"checkout|payments"']
    team: payments
  - match: []
    team: platform
`

type holds struct {
	t     *testing.T
	g     *harness.Gateway
	clock *harness.Clock
}

func startHolds(t *testing.T, at time.Time, o harness.Options) *holds {
	clock := harness.NewClockAt(at)
	o.Config, o.Now = holdsConfig+o.Config, clock.Now
	return &holds{t: t, g: harness.Start(t, o), clock: clock}
}

// fire posts one incident event of key (an episode per call of fire).
func (h *holds) post(g *harness.Gateway, id, key, episode, status string, labels map[string]string) {
	h.t.Helper()
	ev := map[string]any{"id": id, "kind": "incident", "key": key, "episode": episode, "status": status,
		"title": "Trouble with " + key, "severity": "warning", "labels": labels}
	if s, ok := labels["severity"]; ok {
		ev["severity"] = s
	}
	if s, ok := labels["service"]; ok {
		ev["service"] = s
	}
	body, _ := json.Marshal([]any{ev})
	g.MustAccept(h.t, "/v1/ingest/events", body, map[string]string{"Authorization": "Bearer ev-token"})
	g.Settle(h.t)
}

func (h *holds) silence(g *harness.Gateway, body string) string {
	h.t.Helper()
	code, b := g.Post(h.t, "/v1/silences", []byte(body), nil)
	if code != http.StatusCreated {
		h.t.Fatalf("POST /v1/silences: %d %s", code, b)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		h.t.Fatalf("POST /v1/silences: %s", b)
	}
	return out.ID
}

func (h *holds) expire(g *harness.Gateway, id string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, g.URL()+"/v1/silences/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		h.t.Fatalf("DELETE /v1/silences/%s: %d", id, resp.StatusCode)
	}
}

// pd counts the loopback PagerDuty's events of an action for a key (all
// keys when key is "").
func (h *holds) pd(action, key string) int {
	n := 0
	for _, e := range h.g.PD.Actions(action) {
		if key == "" || strings.HasPrefix(e.DedupKey, events.KeyPrefix+key+"/") {
			n++
		}
	}
	return n
}

// outcome is the last decision's outcome and hold reason on key.
func (h *holds) outcome(key string) (string, string) {
	h.t.Helper()
	var ex struct {
		Last struct {
			Outcome string `json:"outcome"`
			Hold    *struct {
				Reason string `json:"reason"`
				By     string `json:"by"`
			} `json:"hold"`
		} `json:"last_decision"`
	}
	if code := h.g.Get(h.t, "/v1/explain?key="+events.KeyPrefix+key, &ex); code != http.StatusOK {
		h.t.Fatalf("explain %s: %d", key, code)
	}
	if ex.Last.Hold == nil {
		return ex.Last.Outcome, ""
	}
	return ex.Last.Outcome, ex.Last.Hold.Reason
}

// eventually waits (real time) for the re-check to do something.
func (h *holds) eventually(what string, cond func() bool) {
	h.t.Helper()
	h.g.Settle(h.t)
	waitFor(h.t, 30*time.Second, what, func() bool {
		if !cond() {
			return false
		}
		h.g.Settle(h.t)
		return true
	})
}

var (
	checkout = map[string]string{"service": "checkout"}
	weekday  = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) // a Wednesday, 11:00 in Berlin
)

func TestSilences(t *testing.T) {
	h := startHolds(t, weekday, harness.Options{})
	g := h.g

	t.Run("before firing: no trigger; expiry while firing: one trigger", func(t *testing.T) {
		id := h.silence(g, `{"matchers": ["service=\"checkout\"", "alertname=\"Latency\""], "duration": "2h", "created_by": "ana", "comment": "deploy"}`)
		lbl := map[string]string{"service": "checkout", "alertname": "Latency"}
		h.post(g, "s1", "latency", "e1", "firing", lbl)
		h.post(g, "s1b", "latency", "e1", "firing", lbl) // a re-send while silenced
		if n := h.pd("trigger", "latency"); n != 0 {
			t.Fatalf("triggers while silenced: %d", n)
		}
		if o, r := h.outcome("latency"); r != "silenced" {
			t.Fatalf("explain: outcome %s hold %q, want the silence named", o, r)
		}
		// The status page shows the held page and what holds it.
		resp, err := http.Get(g.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "held: silenced") || !strings.Contains(string(page), "silence "+id) {
			t.Fatalf("the status page does not show the held page and its silence %s", id)
		}
		h.expire(g, id)
		h.eventually("the page after the silence expired", func() bool { return h.pd("trigger", "latency") == 1 })
		time.Sleep(200 * time.Millisecond) // several re-checks
		if n := h.pd("trigger", "latency"); n != 1 {
			t.Fatalf("triggers after expiry: %d, want 1", n)
		}
		h.post(g, "s2", "latency", "e1", "resolved", lbl)
		if n := h.pd("resolve", "latency"); n != 1 {
			t.Fatalf("resolves: %d, want 1", n)
		}
	})

	t.Run("resolve while silenced: PagerDuty gets nothing", func(t *testing.T) {
		id := h.silence(g, `{"matchers": ["alertname=\"Saturation\""], "duration": "1h"}`)
		lbl := map[string]string{"service": "checkout", "alertname": "Saturation"}
		h.post(g, "r1", "saturation", "e1", "firing", lbl)
		h.post(g, "r2", "saturation", "e1", "resolved", lbl)
		h.expire(g, id)
		time.Sleep(300 * time.Millisecond)
		g.Settle(t)
		if n := h.pd("trigger", "saturation") + h.pd("resolve", "saturation"); n != 0 {
			t.Fatalf("PagerDuty events for an episode resolved while silenced: %d", n)
		}
	})

	t.Run("a maintenance window starts later", func(t *testing.T) {
		start := h.clock.Now().Add(time.Hour).Format(time.RFC3339)
		h.silence(g, fmt.Sprintf(`{"matchers": ["alertname=\"Window\""], "starts_at": %q, "duration": "1h"}`, start))
		lbl := map[string]string{"service": "checkout", "alertname": "Window"}
		h.post(g, "w1", "window", "e1", "firing", lbl)
		if n := h.pd("trigger", "window"); n != 1 {
			t.Fatalf("a pending silence holds nothing: triggers %d", n)
		}
		h.clock.FastForward(90 * time.Minute)
		h.post(g, "w2", "window", "e2", "firing", lbl)
		if n := h.pd("trigger", "window"); n != 1 {
			t.Fatalf("inside the window: triggers %d, want still 1", n)
		}
	})

	t.Run("restart keeps silences", func(t *testing.T) {
		h.silence(g, `{"matchers": ["alertname=\"AfterRestart\""], "duration": "3h", "comment": "kept"}`)
		g = g.Restart(t)
		h.g = g
		var list struct {
			Silences []struct{ Comment, State string } `json:"silences"`
		}
		g.Get(t, "/v1/silences?state=active", &list)
		found := false
		for _, s := range list.Silences {
			found = found || s.Comment == "kept"
		}
		if !found {
			t.Fatalf("after a restart: %+v", list.Silences)
		}
		h.post(g, "k1", "restarted", "e1", "firing", map[string]string{"service": "checkout", "alertname": "AfterRestart"})
		if n := h.pd("trigger", "restarted"); n != 0 {
			t.Fatalf("silence lost on restart: %d triggers", n)
		}
	})
}

// A silence made on one instance holds the page on the other.
func TestSilenceAcrossInstances(t *testing.T) {
	port := freePort(t)
	pd := harness.NewPagerDuty(t)
	clock := harness.NewClockAt(weekday)
	a := harness.Start(t, harness.Options{PD: pd, Now: clock.Now, Config: holdsConfig + fmt.Sprintf("nats:\n  listen: \"127.0.0.1:%d\"\n", port)})
	b := harness.Start(t, harness.Options{PD: pd, Now: clock.Now, Config: holdsConfig + fmt.Sprintf("nats:\n  url: \"nats://127.0.0.1:%d\"\n", port)})
	h := &holds{t: t, g: a, clock: clock}
	h.silence(a, `{"matchers": ["service=\"checkout\""], "duration": "1h", "created_by": "ana"}`)
	waitFor(t, 5*time.Second, "the silence on the other instance", func() bool {
		var list struct{ Silences []any }
		b.Get(t, "/v1/silences?state=active", &list)
		return len(list.Silences) == 1
	})
	for i, g := range []*harness.Gateway{b, a, b} {
		h.post(g, fmt.Sprintf("x%d", i), "shared", fmt.Sprintf("e%d", i), "firing", checkout)
	}
	if n := h.pd("trigger", ""); n != 0 {
		t.Fatalf("triggers under a silence made on the other instance: %d", n)
	}
}

func TestNotifyDigestNeverPages(t *testing.T) {
	h := startHolds(t, weekday, harness.Options{})
	lbl := map[string]string{"service": "disk"}
	h.post(h.g, "d1", "disk", "e1", "firing", lbl)
	h.post(h.g, "d2", "disk", "e1", "resolved", lbl)
	h.post(h.g, "d3", "disk", "e2", "firing", lbl)
	time.Sleep(200 * time.Millisecond)
	h.g.Settle(t)
	if n := len(h.g.PD.Accepted()); n != 0 {
		t.Fatalf("PagerDuty events for a notify: digest route: %d", n)
	}
	if o, r := h.outcome("disk"); o != "digest_only" || r != "digest_only" {
		t.Fatalf("explain: %s %s", o, r)
	}
	// Listed in the team's digest, opened and resolved: pending items.
	held := 0
	for _, n := range h.g.Notifications(t) {
		if n["key"] == events.KeyPrefix+"disk" && n["sink"] == "slack" {
			held++
		}
	}
	if held != 3 {
		t.Fatalf("digest items of the digest-only incident: %d, want 3 (opened, resolved, opened)", held)
	}
}

// active_time_intervals: outside office hours the page is held, and goes
// out when office hours begin, by Berlin's wall clock on both sides of
// the end of summer time (2026-10-25).
func TestActiveTimeIntervalEdgesAndDST(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start time.Time // one second before 09:00 in Berlin
	}{
		{"summer time (UTC+2)", time.Date(2026, 10, 23, 6, 59, 59, 0, time.UTC)},
		{"winter time (UTC+1)", time.Date(2026, 10, 26, 7, 59, 59, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startHolds(t, tc.start, harness.Options{})
			lbl := map[string]string{"service": "office"}
			h.post(h.g, "o1", "office", "e1", "firing", lbl)
			if n := h.pd("trigger", "office"); n != 0 {
				t.Fatalf("08:59:59: triggers %d, want 0", n)
			}
			if _, r := h.outcome("office"); r != "muted_time" {
				t.Fatalf("explain hold %q, want muted_time", r)
			}
			h.clock.FastForward(time.Second) // 09:00:00: inside
			h.eventually("the page at 09:00", func() bool { return h.pd("trigger", "office") == 1 })
			// 18:00 is outside: a new episode then is held.
			h.clock.FastForward(9 * time.Hour)
			h.post(h.g, "o2", "office", "e2", "firing", lbl)
			if n := h.pd("trigger", "office"); n != 1 {
				t.Fatalf("18:00: triggers %d, want still 1", n)
			}
		})
	}
}

// mute_time_intervals: inside the night freeze the page is held and a
// resolve within it sends nothing; after it a new episode pages.
func TestMuteTimeInterval(t *testing.T) {
	h := startHolds(t, time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC), harness.Options{}) // 02:30 in Berlin
	lbl := map[string]string{"service": "batch"}
	h.post(h.g, "b1", "batch", "e1", "firing", lbl)
	h.post(h.g, "b2", "batch", "e1", "resolved", lbl)
	h.clock.FastForward(30 * time.Minute) // 03:00
	h.post(h.g, "b3", "batch", "e2", "firing", lbl)
	if n := len(h.g.PD.Accepted()); n != 0 {
		t.Fatalf("inside the mute interval: %d PagerDuty events", n)
	}
	h.clock.FastForward(time.Hour) // 04:00: the freeze is over, e2 still fires
	h.eventually("the held episode to page after the freeze", func() bool { return h.pd("trigger", "batch") == 1 })
	if n := h.pd("resolve", "batch"); n != 0 {
		t.Fatalf("a resolve for the episode that never paged: %d", n)
	}
}

// A DatacenterDown holds the warnings of its datacenter (not another's,
// not critical ones); when it resolves the held warning still firing pages.
func TestInhibition(t *testing.T) {
	h := startHolds(t, weekday, harness.Options{})
	g := h.g
	h.post(g, "i1", "dc-fra", "e1", "firing", map[string]string{"alertname": "DatacenterDown", "datacenter": "fra", "severity": "critical", "service": "network"})
	h.post(g, "i2", "api-fra", "e1", "firing", map[string]string{"alertname": "APIErrors", "datacenter": "fra", "severity": "warning", "service": "api"})
	h.post(g, "i3", "api-ams", "e1", "firing", map[string]string{"alertname": "APIErrors", "datacenter": "ams", "severity": "warning", "service": "api"})
	h.post(g, "i4", "db-fra", "e1", "firing", map[string]string{"alertname": "DBDown", "datacenter": "fra", "severity": "critical", "service": "db"})
	for key, want := range map[string]int{"dc-fra": 1, "api-fra": 0, "api-ams": 1, "db-fra": 1} {
		if n := h.pd("trigger", key); n != want {
			t.Fatalf("%s: triggers %d, want %d", key, n, want)
		}
	}
	if o, r := h.outcome("api-fra"); o != "inhibited" || r != "inhibited" {
		t.Fatalf("explain api-fra: %s %s", o, r)
	}
	h.post(g, "i5", "dc-fra", "e1", "resolved", map[string]string{"alertname": "DatacenterDown", "datacenter": "fra", "severity": "critical", "service": "network"})
	h.eventually("the inhibited warning to page once its source resolved", func() bool { return h.pd("trigger", "api-fra") == 1 })
}

// Ten flapping episodes in ten minutes with flapping {episodes: 4,
// within: 1h, quiet: 30m}: four triggers (the first three resolved as
// they come), the fourth's incident continued by the rest and resolved
// once, after 30 quiet minutes.
func TestFlapDamping(t *testing.T) {
	h := startHolds(t, weekday, harness.Options{})
	for i := range 10 {
		ep := fmt.Sprintf("e%d", i)
		h.post(h.g, "f"+ep, "flappy", ep, "firing", checkout)
		h.clock.FastForward(30 * time.Second)
		h.post(h.g, "r"+ep, "flappy", ep, "resolved", checkout)
		h.clock.FastForward(30 * time.Second)
	}
	if tr, rs := h.pd("trigger", "flappy"), h.pd("resolve", "flappy"); tr != 4 || rs != 3 {
		t.Fatalf("during the flapping: %d triggers, %d resolves; want 4 and 3", tr, rs)
	}
	var list struct {
		Incidents []struct {
			Key  string
			Flap *struct{ Episodes int } `json:"flap"`
		} `json:"incidents"`
	}
	h.g.Get(t, "/v1/incidents?state=held", &list)
	if len(list.Incidents) != 1 || list.Incidents[0].Flap == nil || list.Incidents[0].Flap.Episodes != 7 {
		t.Fatalf("/v1/incidents?state=held: %+v", list.Incidents)
	}
	h.clock.FastForward(29 * time.Minute)
	time.Sleep(200 * time.Millisecond)
	h.g.Settle(t)
	if rs := h.pd("resolve", "flappy"); rs != 3 {
		t.Fatalf("resolved before the quiet period: %d", rs)
	}
	h.clock.FastForward(time.Minute)
	h.eventually("the flapping incident's resolve after 30 quiet minutes", func() bool { return h.pd("resolve", "flappy") == 4 })
	last := h.g.PD.Actions("resolve")
	trig := h.g.PD.Actions("trigger")
	if last[len(last)-1].DedupKey != trig[3].DedupKey {
		t.Fatalf("the last resolve is for %s, want the fourth trigger's %s", last[len(last)-1].DedupKey, trig[3].DedupKey)
	}
}
