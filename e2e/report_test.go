package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/harness"
)

// reportConfig pages payments for checkout and payments, platform for the
// rest, with flap damping and a low spike threshold; office hours are the
// default (Monday to Friday 09:00–18:00 UTC).
const reportConfig = `
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
teams:
  - name: payments
    pagerduty_routing_key: "` + harness.PaymentsKey + `"
  - name: platform
    pagerduty_routing_key: "` + harness.PlatformKey + `"
dedup:
  flapping: {episodes: 3, within: 1h, quiet: 30m}
  bug_spike: {count: 5, within: 1h}
routes:
  - match: ['service=~"checkout|payments"']
    team: payments
  - match: []
    team: platform
`

// reportMonday is the scripted week's first day (a Monday, UTC); the
// report is asked for on the next Monday at 00:00, over 168h.
var reportMonday = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// week drives a gateway through a scripted week on a fake clock.
type week struct {
	t     *testing.T
	g     *harness.Gateway
	clock *harness.Clock
}

// at sets the clock to day (0 is Monday) at hh:mm.
func (w *week) at(day, hh, mm int) {
	want := reportMonday.Add(time.Duration(day)*24*time.Hour + time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	w.clock.FastForward(want.Sub(w.clock.Now()))
}

// event posts one event of the events source.
func (w *week) event(id, kind, key, episode, status, service string, count int, labels map[string]string) {
	w.t.Helper()
	ev := map[string]any{"id": id, "kind": kind, "key": key, "status": status, "title": "Trouble with " + key,
		"severity": "warning", "service": service, "labels": labels}
	if episode != "" {
		ev["episode"] = episode
	}
	if count > 0 {
		ev["count"] = count
	}
	body, _ := json.Marshal([]any{ev})
	w.g.MustAccept(w.t, "/v1/ingest/events", body, map[string]string{"Authorization": "Bearer ev-token"})
	w.g.Settle(w.t)
}

func (w *week) incident(id, key, episode, status, service string) {
	w.t.Helper()
	w.event(id, "incident", key, episode, status, service, 0, nil)
}

func (w *week) bug(id, key, status string, count int) {
	w.t.Helper()
	w.event(id, "bug", key, "", status, "checkout", count, nil)
}

func (w *week) alertmanager(fp, status string, startsAt time.Time) {
	w.t.Helper()
	w.g.MustAccept(w.t, "/v1/ingest/alertmanager", harness.AMWebhook(harness.AMAlert{Fingerprint: fp, Status: status, StartsAt: startsAt}), nil)
	w.g.Settle(w.t)
}

// reportWeek runs the scripted week and leaves the clock at the next
// Monday 00:00:
//
//	payments (office hours Mon–Fri 09–18 UTC):
//	  Mon 10:00 Alertmanager a1 pages (runbook), resolved 10:30           30m
//	  Tue 03:00 db-latency pages off hours (no runbook), resolved 04:00   1h
//	  Wed 14:00–14:35 flappy: four episodes; the first three page, the
//	      third starts the flapping, the fourth is held; the open
//	      incident is resolved after 30m quiet, at 15:10               5m, 5m, 50m
//	  Thu 09:45 disk-full is silenced (held), resolved 10:00
//	  Sat 11:00 Alertmanager a2 pages on the weekend, never resolved
//	  bugs: bug-npe new Mon (1) and 2 more Tue; bug-regress new Mon,
//	      resolved Tue, regressed Thu; bug-timeout new Tue (1), 6 at
//	      once Wed: a spike
//	platform:
//	  Fri 20:00 cpu pages off hours, resolved 20:20                       20m
//	  Fri 21:00 plat-bug new with 4 occurrences
func reportWeek(t *testing.T) *week {
	clock := harness.NewClockAt(reportMonday)
	w := &week{t: t, clock: clock, g: harness.Start(t, harness.Options{Config: reportConfig, Now: clock.Now})}

	w.at(0, 10, 0)
	a1 := w.clock.Now()
	w.alertmanager("a1a1a1a1a1a1a1a1", "firing", a1)
	w.at(0, 10, 30)
	w.alertmanager("a1a1a1a1a1a1a1a1", "resolved", a1)
	w.at(0, 11, 0)
	w.bug("npe-1", "bug-npe", "firing", 1)
	w.at(0, 12, 0)
	w.bug("regress-1", "bug-regress", "firing", 1)

	w.at(1, 3, 0)
	w.incident("db-1", "db-latency", "e1", "firing", "payments")
	w.at(1, 4, 0)
	w.incident("db-2", "db-latency", "e1", "resolved", "payments")
	w.at(1, 11, 0)
	w.bug("npe-2", "bug-npe", "firing", 1)
	w.bug("npe-3", "bug-npe", "firing", 1)
	w.at(1, 12, 0)
	w.bug("regress-2", "bug-regress", "resolved", 1)
	w.at(1, 15, 0)
	w.bug("timeout-1", "bug-timeout", "firing", 1)

	for i, ep := range []string{"f1", "f2", "f3", "f4"} {
		w.at(2, 14, 10*i)
		w.incident("flap-fire-"+ep, "flappy", ep, "firing", "checkout")
		w.at(2, 14, 10*i+5)
		w.incident("flap-res-"+ep, "flappy", ep, "resolved", "checkout")
	}
	w.at(2, 15, 0)
	w.bug("timeout-2", "bug-timeout", "firing", 6)
	// The flapping incident's resolve comes due at 15:05 (30m after the
	// last resolve); the router's re-check sends it at the clock's time.
	w.at(2, 15, 10)
	waitFor(t, 30*time.Second, "the flapping incident's resolve", func() bool {
		n := 0 // f1's, f2's, and the flapping incident's
		for _, e := range w.g.PD.Actions("resolve") {
			if strings.HasPrefix(e.DedupKey, "events:flappy/") {
				n++
			}
		}
		return n == 3
	})
	w.g.Settle(t)

	w.at(3, 9, 30)
	code, b := w.g.Post(t, "/v1/silences", []byte(`{"matchers": ["alertname=\"Disk\""], "duration": "1h", "created_by": "ana", "comment": "disk swap"}`), nil)
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/silences: %d %s", code, b)
	}
	w.at(3, 9, 45)
	w.event("disk-1", "incident", "disk-full", "d1", "firing", "payments", 0, map[string]string{"alertname": "Disk"})
	w.at(3, 10, 0)
	w.event("disk-2", "incident", "disk-full", "d1", "resolved", "payments", 0, map[string]string{"alertname": "Disk"})
	w.at(3, 12, 0)
	w.bug("regress-3", "bug-regress", "firing", 1)

	w.at(4, 20, 0)
	w.event("cpu-1", "incident", "cpu", "c1", "firing", "search", 0, nil)
	w.at(4, 20, 20)
	w.event("cpu-2", "incident", "cpu", "c1", "resolved", "search", 0, nil)
	w.at(4, 21, 0)
	w.event("plat-1", "bug", "plat-bug", "", "firing", "search", 4, nil)

	w.at(5, 11, 0)
	w.alertmanager("a2a2a2a2a2a2a2a2", "firing", w.clock.Now())

	w.at(7, 0, 0)
	w.g.Settle(t)
	return w
}

// The report over the scripted week: every figure exactly.
func TestReportWeek(t *testing.T) {
	w := reportWeek(t)
	g := w.g

	var rep alertgate.Report
	if code := g.Get(t, "/v1/report?since=168h", &rep); code != http.StatusOK {
		t.Fatalf("GET /v1/report: %d", code)
	}
	if got, want := rep.Since, reportMonday; !got.Equal(want) {
		t.Errorf("since=%s, want %s", got, want)
	}
	if got, want := rep.Until, reportMonday.Add(7*24*time.Hour); !got.Equal(want) {
		t.Errorf("until=%s, want %s", got, want)
	}
	if rep.Location != "UTC" || rep.OfficeHours != "Monday–Friday 09:00–18:00 UTC" {
		t.Errorf("location=%q office_hours=%q", rep.Location, rep.OfficeHours)
	}
	if len(rep.Teams) != 2 {
		t.Fatalf("teams=%d, want payments and platform", len(rep.Teams))
	}
	days := func(pages ...int) []alertgate.DayPages {
		out := make([]alertgate.DayPages, 7)
		for i := range out {
			out[i] = alertgate.DayPages{Date: reportMonday.AddDate(0, 0, i).Format(time.DateOnly), Pages: pages[2*i], OffHours: pages[2*i+1]}
		}
		return out
	}
	amTitle := func(fp string) string { return "5xx ratio above 5% on " + fp }
	want := map[string]*alertgate.TeamReport{
		"payments": {
			Pages: 6, PagesOffHours: 2, PagesWithoutRunbook: 4,
			//                  Mon   Tue   Wed   Thu   Fri   Sat   Sun
			PagesPerDay: days(1, 0, 1, 1, 3, 0, 0, 0, 0, 0, 1, 1, 0, 0),
			Noisiest: []alertgate.NoisyKey{
				{Key: "events:flappy", Title: "Trouble with flappy", Kind: alertgate.KindIncident, Pages: 3, Episodes: 4, Flapping: 1},
				{Key: "alertmanager:v1:a1a1a1a1a1a1a1a1", Title: amTitle("a1a1a1a1a1a1a1a1"), Kind: alertgate.KindIncident, Pages: 1, Episodes: 1, Runbook: true},
				{Key: "alertmanager:v1:a2a2a2a2a2a2a2a2", Title: amTitle("a2a2a2a2a2a2a2a2"), Kind: alertgate.KindIncident, Pages: 1, Episodes: 1, Runbook: true},
				{Key: "events:db-latency", Title: "Trouble with db-latency", Kind: alertgate.KindIncident, Pages: 1, Episodes: 1},
				{Key: "events:disk-full", Title: "Trouble with disk-full", Kind: alertgate.KindIncident, Episodes: 1},
			},
			// 5m, 5m, 30m, 50m, 1h: the median is the third, p90 the fifth.
			TimeToResolve: alertgate.TimeToResolve{Resolved: 5, Unresolved: 1, MedianSeconds: 1800, P90Seconds: 3600},
			Bugs: alertgate.BugFigures{
				New: alertgate.BugChanges{Count: 3, Keys: []alertgate.BugKey{
					{Key: "events:bug-npe", Title: "Trouble with bug-npe"}, {Key: "events:bug-regress", Title: "Trouble with bug-regress"}, {Key: "events:bug-timeout", Title: "Trouble with bug-timeout"}}},
				Regressed: alertgate.BugChanges{Count: 1, Keys: []alertgate.BugKey{{Key: "events:bug-regress", Title: "Trouble with bug-regress"}}},
				Spiking:   alertgate.BugChanges{Count: 1, Keys: []alertgate.BugKey{{Key: "events:bug-timeout", Title: "Trouble with bug-timeout"}}},
				Recurring: []alertgate.BugCount{
					{Key: "events:bug-timeout", Title: "Trouble with bug-timeout", Occurrences: 7},
					{Key: "events:bug-npe", Title: "Trouble with bug-npe", Occurrences: 3},
					{Key: "events:bug-regress", Title: "Trouble with bug-regress", Occurrences: 2},
				},
			},
			Held: map[string]int{alertgate.HoldSilenced: 1, alertgate.HoldFlapping: 1},
			Noise: map[alertgate.Source]*alertgate.SourceNoise{
				// a1 firing and resolved, a2 firing; both paged.
				alertgate.SourceAlertmanager: {Events: 3, Notifications: 2, Ratio: 1.5},
				// db-latency 2, flappy 8, disk-full 2, bug-npe 3,
				// bug-regress 3, bug-timeout 2; 4 pages, 3 new, 1
				// regression, 1 spike.
				alertgate.SourceEvents: {Events: 20, Notifications: 9, Ratio: 2.22},
			},
		},
		"platform": {
			Pages: 1, PagesOffHours: 1, PagesWithoutRunbook: 1,
			PagesPerDay: days(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0),
			Noisiest: []alertgate.NoisyKey{
				{Key: "events:cpu", Title: "Trouble with cpu", Kind: alertgate.KindIncident, Pages: 1, Episodes: 1},
			},
			TimeToResolve: alertgate.TimeToResolve{Resolved: 1, MedianSeconds: 1200, P90Seconds: 1200},
			Bugs: alertgate.BugFigures{
				New:       alertgate.BugChanges{Count: 1, Keys: []alertgate.BugKey{{Key: "events:plat-bug", Title: "Trouble with plat-bug"}}},
				Regressed: alertgate.BugChanges{Keys: []alertgate.BugKey{}},
				Spiking:   alertgate.BugChanges{Keys: []alertgate.BugKey{}},
				Recurring: []alertgate.BugCount{{Key: "events:plat-bug", Title: "Trouble with plat-bug", Occurrences: 4}},
			},
			Held: map[string]int{},
			Noise: map[alertgate.Source]*alertgate.SourceNoise{
				alertgate.SourceEvents: {Events: 3, Notifications: 2, Ratio: 1.5},
			},
		},
	}
	for team, w := range want {
		got := rep.Teams[team]
		if !reflect.DeepEqual(got, w) {
			gj, _ := json.MarshalIndent(got, "", "  ")
			wj, _ := json.MarshalIndent(w, "", "  ")
			t.Errorf("team %s:\ngot  %s\nwant %s", team, gj, wj)
		}
	}
	if os.Getenv("UPDATE_REPORT_SAMPLE") == "1" {
		// The README's sample: payments' figures from this test.
		b, _ := json.MarshalIndent(map[string]any{"teams": map[string]any{"payments": rep.Teams["payments"]}}, "", "  ")
		t.Logf("%s", b)
	}

	t.Run("one team", func(t *testing.T) {
		var one alertgate.Report
		if code := g.Get(t, "/v1/report?since=7d&team=platform", &one); code != http.StatusOK {
			t.Fatalf("GET /v1/report?team=platform: %d", code)
		}
		if len(one.Teams) != 1 || !reflect.DeepEqual(one.Teams["platform"], want["platform"]) {
			t.Errorf("teams=%v, want platform's figures alone", one.Teams)
		}
	})
	t.Run("a window in RFC 3339", func(t *testing.T) {
		// Tuesday and Wednesday only: db-latency and flappy's pages.
		var two alertgate.Report
		if code := g.Get(t, "/v1/report?team=payments&since=2026-11-03T00:00:00Z&until=2026-11-05T00:00:00Z", &two); code != http.StatusOK {
			t.Fatalf("GET: %d", code)
		}
		p := two.Teams["payments"]
		if p.Pages != 4 || len(p.PagesPerDay) != 2 || p.PagesPerDay[1].Pages != 3 || p.TimeToResolve.Resolved != 4 || p.Bugs.New.Count != 1 {
			t.Errorf("Tue–Wed: pages=%d days=%v resolved=%d new bugs=%d, want 4 pages, [1 3], 4 resolved, 1 new", p.Pages, p.PagesPerDay, p.TimeToResolve.Resolved, p.Bugs.New.Count)
		}
	})
	t.Run("bad input is named", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			code  int
			want  string
		}{
			{"since=yesterday", http.StatusBadRequest, `since: "yesterday" is not a duration`},
			{"since=-5h", http.StatusBadRequest, "since: \"-5h\" is negative"},
			{"until=soon", http.StatusBadRequest, `until: "soon"`},
			{"since=3000h", http.StatusBadRequest, "since: the window is at most 92 days"},
			{"since=1h&until=2h", http.StatusBadRequest, "since: "},
			{"team=nobody", http.StatusNotFound, `team: unknown team "nobody"`},
		} {
			var body struct{ Error string }
			if code := g.Get(t, "/v1/report?"+tt.query, &body); code != tt.code || !strings.Contains(body.Error, tt.want) {
				t.Errorf("?%s: %d %q, want %d with %q", tt.query, code, body.Error, tt.code, tt.want)
			}
		}
	})
	t.Run("page", func(t *testing.T) {
		resp, err := http.Get(g.URL() + "/report?since=7d")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /report: %d %s", resp.StatusCode, page)
		}
		for _, want := range []string{
			`<svg id="pages-payments" role="img"`,
			`<title id="pages-payments-title">payments: pages per day</title>`,
			`<desc id="pages-payments-desc">6 pages in 7 days, 2 of them outside office hours.</desc>`,
			`<g class="bar" data-label="Wed 04" data-value="3"><title>2026-11-04: 3 pages, 0 off hours</title>`,
			`<g class="bar" data-label="Sat 07" data-value="1"><title>2026-11-07: 1 pages, 1 off hours</title>`,
			`<desc id="noise-payments-desc">23 events received, 11 notifications sent: 52.2% of the events removed.</desc>`,
			`<a class="title" href="v1/explain?key=events%3Aflappy">Trouble with flappy</a>`,
			`<a href="v1/explain?key=events%3Abug-regress" title="events:bug-regress">Trouble with bug-regress</a>`,
			`<li data-reason="flapping"><span class="badge held">flapping</span> 1</li>`,
			`<div class="tile" data-figure="median"><b>30m</b> median to resolve</div>`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("/report lacks %s", want)
			}
		}
		if strings.Contains(page, "<script") {
			t.Error("/report has a script")
		}
		resp, err = http.Get(g.URL() + "/report?team=nobody")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), `team: unknown team &#34;nobody&#34;`) {
			t.Errorf("/report?team=nobody: %d, want 404 naming the team", resp.StatusCode)
		}
	})
}

// The report page in Chromium: the charts draw (their bars have a size),
// a key's link opens explain. UPDATE_SCREENSHOT=1 rewrites docs/report.png.
func TestBrowserReport(t *testing.T) {
	b := startChromium(t)
	w := reportWeek(t)
	page := w.g.URL() + "/report?since=7d"
	b.open(page)
	if h := tabRun(b, chromedp.Evaluate[float64](`document.querySelector('#pages-payments g[data-label="Wed 04"] rect.s1').getBBox().height`)); h <= 0 {
		t.Errorf("Wednesday's bar has height %v: the chart did not draw", h)
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		tabRun(b, chromedp.EmulateViewport(1280, 900))
		b.open(page + "&team=payments")
		png := tabRun(b, chromedp.FullScreenshot(100))
		out := filepath.Join(harness.Root(), "docs", "report.png")
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", out, len(png))
	}
	b.follow(`#team-payments table.noisiest tr[data-key="events:flappy"] a.title`)
	if loc := b.location(); loc.Path != "/v1/explain" || loc.Query().Get("key") != "events:flappy" {
		t.Errorf("the key's link went to %s, want explain of events:flappy", loc)
	}
}
