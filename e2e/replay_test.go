package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/harness"
)

// replayConfig has every hold a replay must reproduce: a digest-only
// route, flap damping, bug spikes, Sentry signatures and the events
// source for scripted incidents.
const replayConfig = `
listen: "127.0.0.1:0"
public_url: "http://alertgate.test"
data_dir: "{{DATA}}"
runbooks_dir: "{{RUNBOOKS}}"
pagerduty:
  events_url: "{{PD}}"
  rate_limit: 600000
delivery: {attempts: 3, min_backoff: 20ms, max_backoff: 200ms, timeout: 5s}
ingest:
  events: {token: "ev-token"}
  sentry: {client_secret: "` + harness.SentrySecret + `", max_age: 5m}
teams:
  - name: payments
    pagerduty_routing_key: "` + harness.PaymentsKey + `"
  - name: platform
    pagerduty_routing_key: "` + harness.PlatformKey + `"
dedup:
  bug_spike: {count: 5, within: 1h}
  flapping: {episodes: 3, within: 1h, quiet: 30m}
routes:
  - match: ['service="disk"']
    team: platform
    notify: digest
  - match: ['service=~"checkout|payments"']
    team: payments
  - match: []
    team: platform
`

// checkoutRoute is the route the candidates change.
const checkoutRoute = "  - match: ['service=~\"checkout|payments\"']\n    team: payments\n"

// replayed is a gateway that went through the scripted stream.
type replayed struct {
	*holds
	live string // the live config's YAML, as the gateway read it
}

// replayStream runs the scripted stream of every source through a live
// gateway on a fake clock: Sentry bug classes (new, a spike, resolved,
// a regression), an Alertmanager alert firing and resolved, a Datadog
// monitor triggered and recovered, a page held by a silence that ends
// mid-episode, a flapping key whose held resolve goes out after quiet,
// and an incident on a digest-only route.
func replayStream(t *testing.T) *replayed {
	t.Helper()
	clock := harness.NewClockAt(weekday)
	data := t.TempDir()
	g := harness.Start(t, harness.Options{Config: replayConfig, DataDir: data, Now: clock.Now})
	h := &holds{t: t, g: g, clock: clock}
	live := strings.NewReplacer("{{SLACK}}", "", "{{PD}}", g.PD.URL, "{{RUNBOOKS}}", filepath.Join(harness.Root(), "examples", "runbooks"), "{{DATA}}", data).Replace(replayConfig)
	tick := func() { clock.FastForward(time.Minute) }
	post := func(s *harness.Script) {
		t.Helper()
		s.Post(t, g)
		g.Settle(t)
		s.Steps = nil
		tick()
	}
	s := harness.NewScript(t)
	s.Now = clock.Now

	// Sentry: a new class, a spike (5 within the hour), resolved, then a
	// regression.
	s.SentryIssue("created", "501", 1)
	post(s)
	for n := 1; n <= 5; n++ {
		s.SentryEvent("501", n)
	}
	post(s)
	s.SentryIssue("resolved", "501", 6)
	post(s)
	s.SentryIssue("unresolved", "501", 7)
	s.SentryEvent("501", 7)
	post(s)

	// Alertmanager and Datadog on checkout: pages to payments.
	am := harness.AMAlert{Fingerprint: "a1a1a1a1", Status: "firing", StartsAt: weekday}
	s.Alertmanager(am)
	s.Datadog(1001, 1, "Triggered", 1)
	post(s)
	am.Status = "resolved"
	s.Alertmanager(am)
	s.Datadog(1001, 1, "Recovered", 2)
	post(s)

	// A silence that ends while its episode fires: the page goes out then.
	search := map[string]string{"service": "search", "alertname": "Latency"}
	id := h.silence(g, `{"matchers": ["service=\"search\""], "duration": "2h", "created_by": "ana", "comment": "reindex"}`)
	tick()
	h.post(g, "q1", "search-latency", "s1", "firing", search)
	tick()
	h.expire(g, id)
	h.eventually("the page after the silence ended", func() bool { return h.pd("trigger", "search-latency") == 1 })
	tick()
	h.post(g, "q2", "search-latency", "s1", "resolved", search)
	tick()

	// A flapping key: the third episode in the hour pages and flaps, the
	// fourth continues it, its resolve waits for 30 minutes of quiet.
	api := map[string]string{"service": "api"}
	for ep := 1; ep <= 4; ep++ {
		h.post(g, fmt.Sprintf("f%df", ep), "flappy", fmt.Sprintf("f%d", ep), "firing", api)
		tick()
		h.post(g, fmt.Sprintf("f%dr", ep), "flappy", fmt.Sprintf("f%d", ep), "resolved", api)
		tick()
	}
	clock.FastForward(31 * time.Minute)
	h.eventually("the flapping incident's resolve after quiet", func() bool { return h.pd("resolve", "flappy") == 3 })

	// A digest-only route: listed, never paged.
	h.post(g, "d1", "disk-full", "d1", "firing", map[string]string{"service": "disk"})
	tick()
	g.Settle(t)
	return &replayed{holds: h, live: live}
}

// replay posts a candidate to POST /v1/replay.
func (r *replayed) replay(query, candidate, contentType string) (int, []byte) {
	r.t.Helper()
	return r.g.Post(r.t, "/v1/replay"+query, []byte(candidate), map[string]string{"Content-Type": contentType})
}

func (r *replayed) mustReplay(query, candidate string) alertgate.ReplayReport {
	r.t.Helper()
	code, b := r.replay(query, candidate, "application/yaml")
	if code != http.StatusOK {
		r.t.Fatalf("POST /v1/replay: %d %s", code, b)
	}
	var rep alertgate.ReplayReport
	if err := json.Unmarshal(b, &rep); err != nil {
		r.t.Fatalf("replay report: %v in %s", err, b)
	}
	return rep
}

// notifyPages are the pages NOTIFY holds: notification ID → dedup_key.
func notifyPages(t *testing.T, g *harness.Gateway) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	info, err := g.Bus.Notify.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := g.Bus.Notify.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		var n alertgate.Notification
		if err := json.Unmarshal(m.Data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypePage {
			out[n.ID] = n.DedupKey
		}
	}
	return out
}

// snapshot is what a replay must leave as it was: every stream's (and so
// every KV bucket's) sequences, message count and bytes, and the requests
// PagerDuty got.
func snapshot(t *testing.T, g *harness.Gateway) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out := map[string]string{"pagerduty requests": fmt.Sprint(g.PD.Requests())}
	names := g.Bus.JS.StreamNames(ctx)
	for name := range names.Name() {
		s, err := g.Bus.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st := info.State
		out[name] = fmt.Sprintf("first=%d last=%d msgs=%d bytes=%d deleted=%d", st.FirstSeq, st.LastSeq, st.Msgs, st.Bytes, st.NumDeleted)
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 8 {
		t.Fatalf("snapshot lists %d streams: %v", len(out), out)
	}
	return out
}

func TestReplay(t *testing.T) {
	r := replayStream(t)
	g := r.g
	sent := notifyPages(t, g)
	var triggers []string
	for _, e := range g.PD.Actions("trigger") {
		triggers = append(triggers, e.DedupKey)
	}
	// The stream paged: Alertmanager, Datadog, the silenced page at its
	// end, and the flapping key's first three episodes.
	if got, want := len(triggers), 6; got != want {
		t.Fatalf("PagerDuty triggers %d, want %d: %v", got, want, triggers)
	}

	t.Run("the live config reproduces NOTIFY's pages exactly", func(t *testing.T) {
		before := snapshot(t, g)
		rep := r.mustReplay("", r.live)
		if !rep.Exact || rep.FindingsTotal != 0 || len(rep.Findings) != 0 {
			t.Fatalf("findings replaying the live config: %+v", rep.Findings)
		}
		if got, want := rep.PagesCompared, len(sent); got != want || got != len(triggers) {
			t.Fatalf("pages compared %d, NOTIFY holds %d, PagerDuty got %d", got, want, len(triggers))
		}
		var dedupKeys []string
		for _, k := range sent {
			dedupKeys = append(dedupKeys, k)
		}
		if slices.Sort(dedupKeys); !slices.Equal(dedupKeys, slices.Sorted(slices.Values(triggers))) {
			t.Fatalf("NOTIFY's dedup_keys %v, PagerDuty's %v", dedupKeys, triggers)
		}
		if rep.DifferencesTotal != 0 || len(rep.Differences) != 0 {
			t.Fatalf("the live config against itself differs: %+v", rep.Differences)
		}
		for name, team := range rep.Teams {
			if !equalCounts(team.Actual, team.Candidate) {
				t.Errorf("team %s: actual %+v, candidate %+v", name, team.Actual, team.Candidate)
			}
		}
		pay, plat := rep.Teams["payments"].Actual, rep.Teams["platform"].Actual
		if pay.Pages != 2 || pay.Resolves != 2 || plat.Pages != 4 || plat.Resolves != 4 {
			t.Fatalf("actual pages/resolves: payments %+v, platform %+v", pay, plat)
		}
		if plat.HeldByReason[alertgate.HoldDigestOnly] != 1 || plat.HeldByReason[alertgate.HoldFlapping] != 1 || plat.HeldByReason[alertgate.HoldSilenced] != 1 {
			t.Fatalf("platform held %v, want one digest_only, one flapping, one silenced", plat.HeldByReason)
		}
		if bugs := pay.BugNotifications + plat.BugNotifications; bugs != 3 {
			t.Fatalf("bug notifications %d, want new, spike and regression", bugs)
		}
		if rep.Events == 0 || rep.Events != rep.InWindow {
			t.Fatalf("events %d, in the window %d", rep.Events, rep.InWindow)
		}

		// Nothing changed: no stream, no bucket, no request to PagerDuty.
		if after := snapshot(t, g); !mapsEqual(before, after) {
			t.Fatalf("replay changed the live state:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("a route turned to notify: digest moves its pages to held", func(t *testing.T) {
		cand := strings.Replace(r.live, checkoutRoute, checkoutRoute+"    notify: digest\n", 1)
		rep := r.mustReplay("?since=7d", cand)
		pay := rep.Teams["payments"]
		if pay.Actual.Pages != 2 || pay.Candidate.Pages != 0 || pay.Candidate.HeldByReason[alertgate.HoldDigestOnly] != 2 || pay.Candidate.Resolves != 0 {
			t.Fatalf("payments: actual %+v, candidate %+v", pay.Actual, pay.Candidate)
		}
		if rep.DifferencesTotal != 2 {
			t.Fatalf("differences %d, want the Alertmanager and Datadog keys: %+v", rep.DifferencesTotal, rep.Differences)
		}
		for _, d := range rep.Differences {
			if d.Rule != "routes[1] notify: digest" || !strings.HasPrefix(d.Actual, "paged 1×, resolved 1×") || !strings.HasPrefix(d.Candidate, "held 1× (digest_only)") {
				t.Errorf("difference %+v, want the page held by routes[1] notify: digest", d)
			}
		}
		if got := rep.Routes.Candidate[1]; got.Notify != alertgate.NotifyDigest || got.Events != 4 {
			t.Fatalf("routes[1] of the candidate: %+v, want digest, 4 events", got)
		}
	})

	t.Run("a new route changes the team of the keys it matches", func(t *testing.T) {
		cand := strings.Replace(r.live, "routes:\n", "routes:\n  - match: ['service=\"search\"']\n    team: payments\n", 1)
		rep := r.mustReplay("", cand)
		if rep.DifferencesTotal != 1 {
			t.Fatalf("differences %d, want the search key only: %+v", rep.DifferencesTotal, rep.Differences)
		}
		d := rep.Differences[0]
		if d.Key != "events:search-latency" || d.Rule != `routes[0] {service="search"} matched (was routes[2], the catch-all)` ||
			!strings.HasSuffix(d.Actual, "to platform") || !strings.HasSuffix(d.Candidate, "to payments") {
			t.Fatalf("difference %+v", d)
		}
		if p := rep.Teams["payments"]; p.Candidate.Pages != p.Actual.Pages+1 {
			t.Fatalf("payments pages %d → %d, want one more", p.Actual.Pages, p.Candidate.Pages)
		}
		if got := rep.Routes.Candidate[0].Events; got != 2 {
			t.Fatalf("the new route matched %d events, want 2", got)
		}
	})

	t.Run("without the silence the page goes out when it fires", func(t *testing.T) {
		rep := r.mustReplay("?ignore_silences=true&limit=5", r.live)
		plat := rep.Teams["platform"]
		if plat.Candidate.HeldByReason[alertgate.HoldSilenced] != 0 || plat.Actual.HeldByReason[alertgate.HoldSilenced] != 1 {
			t.Fatalf("platform: actual %+v, candidate %+v", plat.Actual, plat.Candidate)
		}
		if len(rep.Notes) == 0 || !strings.Contains(strings.Join(rep.Notes, " "), "silences ignored") {
			t.Fatalf("notes %q do not say silences were ignored", rep.Notes)
		}
	})

	t.Run("bad requests are refused naming the problem", func(t *testing.T) {
		for _, c := range []struct {
			name, query, body, ct string
			code                  int
			want                  string
		}{
			{"a config with an unknown team", "", strings.Replace(r.live, "team: payments\n", "team: nobody\n", 1), "application/yaml", 400, "routes[1].team"},
			{"not YAML", "", "routes: [", "application/x-yaml", 400, "candidate config"},
			{"a bad since", "?since=lastweek", r.live, "application/yaml", 400, "since"},
			{"an unknown parameter", "?dry=1", r.live, "application/yaml", 400, "dry"},
			{"JSON", "", `{"routes": []}`, "application/json", 415, "application/yaml"},
			{"a form's text/plain", "", r.live, "text/plain", 415, "application/yaml"},
		} {
			code, b := r.replay(c.query, c.body, c.ct)
			if code != c.code || !strings.Contains(string(b), c.want) {
				t.Errorf("%s: %d %s, want %d naming %q", c.name, code, b, c.code, c.want)
			}
		}
		// A candidate's secrets are never echoed, refused or answered.
		secret := strings.Repeat("S3CRET", 6)[:32]
		withSecret := strings.Replace(r.live, harness.PaymentsKey, secret, 1)
		for _, cand := range []string{withSecret, strings.Replace(withSecret, "team: payments\n", "team: nobody\n", 1)} {
			code, b := r.replay("", cand, "application/yaml")
			if code != http.StatusOK && code != http.StatusBadRequest || strings.Contains(string(b), secret) {
				t.Errorf("a candidate's routing key: %d, answer shows it: %v", code, strings.Contains(string(b), secret))
			}
		}
	})

	t.Run("a page NOTIFY lacks, or one it has that the config does not make, is a finding", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		// Remove the Alertmanager page from NOTIFY, add one nobody decided.
		var gone string
		for id := range sent {
			if strings.HasPrefix(id, "page:alertmanager:") {
				gone = id
			}
		}
		info, err := g.Bus.Notify.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			if m, err := g.Bus.Notify.GetMsg(ctx, seq); err == nil && m.Header.Get("Nats-Msg-Id") == gone {
				if err := g.Bus.Notify.DeleteMsg(ctx, seq); err != nil {
					t.Fatal(err)
				}
			}
		}
		bogus := alertgate.Notification{ID: "page:events:ghost:g1:1", Sink: alertgate.SinkPagerDuty, Team: "platform", Type: alertgate.TypePage,
			Key: "events:ghost", DedupKey: "events:ghost/0000", CreatedAt: r.clock.Now().Add(-time.Minute)}
		if _, err := g.Bus.PublishNotifications(ctx, []alertgate.Notification{bogus}); err != nil {
			t.Fatal(err)
		}
		rep := r.mustReplay("", r.live)
		if rep.Exact || rep.FindingsTotal != 2 {
			t.Fatalf("findings %+v, want the deleted page and the bogus one", rep.Findings)
		}
		byID := map[string]alertgate.ReplayFinding{}
		for _, f := range rep.Findings {
			byID[f.ID] = f
		}
		if f := byID[gone]; !strings.Contains(f.Problem, "NOTIFY has no record") || f.DedupKey != sent[gone] {
			t.Errorf("finding for the deleted page: %+v", f)
		}
		if f := byID[bogus.ID]; !strings.Contains(f.Problem, "does not make it") || f.DedupKey != bogus.DedupKey {
			t.Errorf("finding for the page nobody decided: %+v", f)
		}
	})
}

// equalCounts compares counts, an empty reason map as none.
func equalCounts(a, b alertgate.ReplayCounts) bool {
	if len(a.HeldByReason) == 0 && len(b.HeldByReason) == 0 {
		a.HeldByReason, b.HeldByReason = nil, nil
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
