package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/runbooks"
)

var uiNow = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func bugKeys(rows []bugRow) string {
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	return strings.Join(keys, ",")
}

func TestUIBugRows(t *testing.T) {
	at := func(h int) time.Time { return uiNow.Add(time.Duration(h) * time.Hour) }
	bugs := []*dedup.Bug{
		{Key: "a", Team: "payments", Count: 5, LastSeen: at(-3)},
		{Key: "b", Team: "platform", Count: 50, LastSeen: at(-5)},
		{Key: "c", Team: "payments", Count: 5, LastSeen: at(-1)},
		{Key: "d", Team: "platform", Count: 1, LastSeen: at(-1)},
		{Key: "e", Team: "search", Count: 7, LastSeen: at(-9)},
		{Key: "f", Team: "search", Count: 7, LastSeen: at(-9)},
	}
	// The page's fetch: its collector, fed a slice instead of a walk of
	// the bucket.
	top := func(team, order string, limit int) bugPage {
		c := newBugCollector(team, order, limit)
		for _, b := range bugs {
			if err := c.add(b); err != nil {
				t.Fatal(err)
			}
		}
		return c.page()
	}
	for _, tc := range []struct {
		name, team, sort string
		limit            int
		want             string
		total            int
	}{
		// The default: loudest first; a tie on count goes to the most
		// recent, then to the key.
		{"ByCount", "", "count", 10, "b,e,f,c,a,d", 6},
		// An empty or unknown ?sort= is by count, not an error.
		{"DefaultSort", "", "", 10, "b,e,f,c,a,d", 6},
		{"UnknownSort", "", "bogus", 10, "b,e,f,c,a,d", 6},
		// Most recent first; a tie on last seen goes to the higher count.
		{"ByLastSeen", "", "last_seen", 10, "c,d,a,b,e,f", 6},
		// ?team= keeps only that team's classes, in the order asked for.
		{"TeamByCount", "payments", "count", 10, "c,a", 2},
		{"TeamByLastSeen", "platform", "last_seen", 10, "d,b", 2},
		// A team without bug classes is an empty list.
		{"UnknownTeam", "nobody", "count", 10, "", 0},
		// Past the limit only the first are kept, whatever order they
		// came in; the total still counts them all.
		{"Limit", "", "count", 3, "b,e,f", 6},
		{"LimitByLastSeen", "", "last_seen", 2, "c,d", 6},
		{"LimitTeam", "search", "count", 1, "e", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := top(tc.team, tc.sort, tc.limit)
			if got := bugKeys(buildBugRows(l.Items)); got != tc.want {
				t.Fatalf("order=%q, want %q", got, tc.want)
			}
			if l.Total != tc.total {
				t.Errorf("total=%d, want %d", l.Total, tc.total)
			}
			// The team links list every team, whatever the filter.
			if got, want := strings.Join(l.Teams, ","), "payments,platform,search"; got != want {
				t.Errorf("teams=%q, want %q", got, want)
			}
		})
	}

	t.Run("Fields", func(t *testing.T) {
		b := &dedup.Bug{
			Key: "sentry:v1:issue:1", Title: "TypeError", Service: "web", Team: "payments", Status: dedup.BugOpen,
			Count: 1234567, FirstSeen: at(-48), LastSeen: at(-1),
			Links: []alertgate.Link{{Href: "javascript:alert(1)"}, {Href: "https://sentry.io/issues/1/"}},
		}
		rows := buildBugRows([]*dedup.Bug{b})
		if got, want := len(rows), 1; got != want {
			t.Fatalf("rows=%d, want %d", got, want)
		}
		r := rows[0]
		if got, want := r.Count, "1,234,567"; got != want {
			t.Errorf("count=%q, want %q", got, want)
		}
		// Only an http(s) link becomes the title's link.
		if got, want := r.Href, "https://sentry.io/issues/1/"; got != want {
			t.Errorf("href=%q, want %q", got, want)
		}
		if got, want := r.LastSeen.Text, "2026-03-14 11:00:00"; got != want {
			t.Errorf("last seen=%q, want %q", got, want)
		}
		if got, want := r.FirstSeen.ISO, "2026-03-12T12:00:00Z"; got != want {
			t.Errorf("first seen=%q, want %q", got, want)
		}
	})
}

func TestUIBugLinks(t *testing.T) {
	teams := []string{"payments", "platform"}
	for _, tc := range []struct {
		name, team, sort string
		teams, sorts     string // text=href, current marked with *
	}{
		// All teams, by name, each link keeping the default sort implicit.
		{"Default", "", "count",
			"*all=./ payments=?team=payments platform=?team=platform",
			"*count=./ last seen=?sort=last_seen"},
		// A team chosen: team links keep the sort, sort links keep the team.
		{"TeamAndSort", "payments", "last_seen",
			"all=?sort=last_seen *payments=?sort=last_seen&team=payments platform=?sort=last_seen&team=platform",
			"count=?team=payments *last seen=?sort=last_seen&team=payments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			teams, sorts := bugLinks(teams, tc.team, tc.sort)
			str := func(ls []navLink) string {
				var out []string
				for _, l := range ls {
					s := l.Text + "=" + l.Href
					if l.Current {
						s = "*" + s
					}
					out = append(out, s)
				}
				return strings.Join(out, " ")
			}
			if got := str(teams); got != tc.teams {
				t.Errorf("teams=%q, want %q", got, tc.teams)
			}
			if got := str(sorts); got != tc.sorts {
				t.Errorf("sorts=%q, want %q", got, tc.sorts)
			}
		})
	}
}

func TestUIHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "0s"}, // a source clock ahead of ours
		{0, "0s"},
		{59 * time.Second, "59s"},
		{time.Minute, "1m"},
		{59*time.Minute + 59*time.Second, "59m"},
		{time.Hour + 5*time.Minute, "1h 05m"},
		{23*time.Hour + 59*time.Minute, "23h 59m"},
		{24 * time.Hour, "1d 0h"},
		{50*time.Hour + 30*time.Minute, "2d 2h"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%s)=%q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestUIFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d)=%q, want %q", n, got, want)
		}
	}
}

func TestUIRunbookLink(t *testing.T) {
	known := func(id string) bool { return id == "host-down" }
	for _, tc := range []struct {
		name, url string
		want      link
	}{
		{"None", "", link{}},
		// Ours (whatever public_url is): relative, so it works from this page.
		{"Ours", "http://alertgate.test/runbooks/host-down", link{Text: "host-down", Href: "runbooks/host-down"}},
		{"OursBehindPrefix", "https://ops.example.com/alertgate/runbooks/host-down", link{Text: "host-down", Href: "runbooks/host-down"}},
		// An id this gateway does not serve is someone else's page.
		{"UnknownID", "https://wiki.example.com/runbooks/db", link{Text: "wiki.example.com ↗", Href: "https://wiki.example.com/runbooks/db"}},
		// A source's runbook_url annotation.
		{"External", "https://wiki.example.com/x?y=1", link{Text: "wiki.example.com ↗", Href: "https://wiki.example.com/x?y=1"}},
		// Not a web address: shown, not linked.
		{"NotHTTP", "javascript:alert(1)", link{Text: "javascript:alert(1)"}},
		{"Relative", "see the wiki", link{Text: "see the wiki"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runbookLink(tc.url, known); got != tc.want {
				t.Fatalf("link=%+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestUIIncidentRows(t *testing.T) {
	incs := []*dedup.Incident{
		{Key: "k1", Title: "Resolved only", Team: "payments", Last: dedup.Last{Labels: map[string]string{"service": "checkout"}}, Episodes: []dedup.Episode{
			{ID: "e1", Status: dedup.EpisodeResolved, OpenedAt: uiNow.Add(-5 * time.Hour)},
		}},
		{Key: "k2", Title: "Open long", Team: "payments", Service: "checkout", Last: dedup.Last{Labels: map[string]string{"service": "checkout"}}, Episodes: []dedup.Episode{
			{ID: "e1", Status: dedup.EpisodeResolved, OpenedAt: uiNow.Add(-50 * time.Hour)},
			{ID: "e2", Status: dedup.EpisodeOpen, OpenedAt: uiNow.Add(-26 * time.Hour), DedupKey: "k2/x",
				Runbook: "http://alertgate.test/runbooks/host-down"},
		}},
		nil,
		{Key: "k3", Title: "Open recently", Team: "platform", Last: dedup.Last{Labels: map[string]string{"service": "search"}}, Episodes: []dedup.Episode{
			// The team that was paged, not the key's current route, owns it.
			{ID: "e1", Status: dedup.EpisodeOpen, OpenedAt: uiNow.Add(-90 * time.Second), Team: "search"},
		}},
		{Key: "k4", Title: "Held", Team: "platform", Episodes: []dedup.Episode{
			{ID: "e1", Status: dedup.EpisodeOpen, OpenedAt: uiNow.Add(-2 * time.Hour), Hold: &alertgate.Hold{Reason: alertgate.HoldSilenced, By: "01SIL", Detail: "silence 01SIL by ana: deploy"}},
		}},
		{Key: "k5", Title: "Paged after its hold", Team: "platform", Episodes: []dedup.Episode{
			{ID: "e1", Status: dedup.EpisodeOpen, OpenedAt: uiNow.Add(-3 * time.Hour), Paged: true, Hold: &alertgate.Hold{Reason: alertgate.HoldSilenced}},
		}},
	}
	corr := &fakeCorrelator{}
	rows := buildIncidentRows(incs, uiNow, func(id string) bool { return id == "host-down" },
		func(in *dedup.Incident) *alertgate.Related { return corr.Related(in.Last.Labels, in.Key, uiNow) })
	if got, want := len(rows), 4; got != want {
		t.Fatalf("rows=%d, want %d (open episodes only): %+v", got, want, rows)
	}
	// Most recently opened first.
	if got, want := rows[0].Key+","+rows[1].Key+","+rows[2].Key+","+rows[3].Key, "k3,k4,k5,k2"; got != want {
		t.Fatalf("order=%s, want %s", got, want)
	}
	for _, c := range []struct{ name, got, want string }{
		{"team of the paged episode", rows[0].Team, "search"},
		{"open for, seconds", rows[0].OpenFor, "1m"},
		{"open for, days", rows[3].OpenFor, "1d 2h"},
		{"opened at", rows[3].OpenedAt.Text, "2026-03-13 10:00:00"},
		{"episode", rows[3].Episode, "e2"},
		{"dedup key", rows[3].DedupKey, "k2/x"},
		{"runbook link", rows[3].Runbook.Href, "runbooks/host-down"},
		{"held", rows[1].Held + ": " + rows[1].HeldWhy, "silenced: silence 01SIL by ana: deploy"},
		{"paged after its hold", rows[2].Held, ""},
		{"paged", rows[0].Held, ""},
		{"no runbook", rows[0].Runbook.Text, ""},
		{"incident page", rows[3].Href, "v1/incidents/k2"},
		// Related, once per incident: its bug class and the other open
		// incidents of checkout.
		{"related", relatedText(rows[3].Related), "1 bug class (KeyError in cart ×12 regression → https://sentry.io/organizations/org/issues/111/), " +
			"2 incidents (Incident alertmanager:v1:aaa → v1/incidents/alertmanager:v1:aaa, Incident datadog:v1:4242:1e6b → v1/incidents/datadog:v1:4242:1e6b)"},
		// Nothing related to search; no service label, nothing asked.
		{"nothing related", relatedText(rows[0].Related), ""},
		{"no correlation label", relatedText(rows[1].Related), ""},
		{"asked", strings.Join(corr.asked, " "), "k2@2026-03-14T12:00:00Z k3@2026-03-14T12:00:00Z k4@2026-03-14T12:00:00Z k5@2026-03-14T12:00:00Z"},
	} {
		if c.got != c.want {
			t.Errorf("%s=%q, want %q", c.name, c.got, c.want)
		}
	}
	if rows := buildIncidentRows(incs, uiNow, nil, nil); len(rows) != 4 || rows[3].Related != nil {
		t.Errorf("without correlation: %+v", rows)
	}
}

// relatedText is the related line of a row as text, with each link.
func relatedText(groups []relatedGroup) string {
	var gs []string
	for _, g := range groups {
		var items []string
		for _, it := range g.Items {
			s := it.Text
			if it.Count != "" {
				s += " " + it.Count
			}
			if it.Status != "" {
				s += " " + it.Status
			}
			items = append(items, s+" → "+it.Href)
		}
		if g.More != "" {
			items = append(items, g.More)
		}
		gs = append(gs, g.Count+" ("+strings.Join(items, ", ")+")")
	}
	return strings.Join(gs, ", ")
}

// The related line: counts that include what the list leaves out, at
// most uiRelatedItems of each listed, titles cut, links to the source
// when it gave an http(s) one, else to the gateway's own pages.
func TestUIRelatedLine(t *testing.T) {
	long := "TypeError: Cannot read properties of undefined (reading 'total') in cart"
	r := &alertgate.Related{
		On: map[string]string{"service": "checkout"}, Window: "30m0s",
		Bugs: []alertgate.RelatedBug{
			{Key: "sentry:v1:issue:1", Title: long, Count: 1234, Status: alertgate.RelatedRegression, Link: "https://sentry.io/issues/1/"},
			{Key: "events:bug/2", Title: "Bug 2", Count: 3, Status: alertgate.RelatedNew},
			{Key: "sentry:v1:issue:3", Title: "Bug 3", Count: 2, Status: alertgate.RelatedRecurring, Link: "javascript:alert(1)"},
			{Key: "b4", Title: "Bug 4", Count: 1, Status: alertgate.RelatedRecurring},
			{Key: "b5", Title: "Bug 5", Count: 1, Status: alertgate.RelatedRecurring},
			{Key: "b6", Title: "Bug 6", Count: 1, Status: alertgate.RelatedRecurring},
		},
		MoreBugs: 2,
		Incidents: []alertgate.RelatedIncident{
			{Key: "datadog:v1:4242:1e6b", Title: "Monitor 4242", Link: "https://app.datadoghq.com/monitors/4242"},
			// Its page on this gateway (public_url): relative instead.
			{Key: "events:deploy/checkout", Title: "Deploy failed", Link: "https://alertgate.example.com/v1/incidents/events:deploy%2Fcheckout"},
		},
	}
	got := relatedText(buildRelated(r))
	want := "8 bug classes (TypeError: Cannot read properties of undefine… ×1,234 regression → https://sentry.io/issues/1/, " +
		"Bug 2 ×3 new → v1/explain?key=events%3Abug%2F2, Bug 3 ×2 recurring → v1/explain?key=sentry%3Av1%3Aissue%3A3, " +
		"Bug 4 ×1 recurring → v1/explain?key=b4, Bug 5 ×1 recurring → v1/explain?key=b5, +3 more), " +
		"2 incidents (Monitor 4242 → https://app.datadoghq.com/monitors/4242, Deploy failed → v1/incidents/events:deploy%2Fcheckout)"
	if got != want {
		t.Errorf("related line\n got %s\nwant %s", got, want)
	}
	g := buildRelated(r)
	if it := g[0].Items[0]; !it.Out || it.Tip != long+" (sentry:v1:issue:1)" || len(it.Text) > uiRelatedTitleBytes {
		t.Errorf("first bug class: %+v, want a link out with the whole title as its tip", it)
	}
	if it := g[1].Items[1]; it.Out {
		t.Errorf("the gateway's own incident page counted as a link out: %+v", it)
	}

	one := &alertgate.Related{Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{{Key: "k", Title: "Only one"}}, MoreIncidents: 1}
	if got, want := relatedText(buildRelated(one)), "2 incidents (Only one → v1/incidents/k, +1 more)"; got != want {
		t.Errorf("incidents only: %s, want %s", got, want)
	}
	for _, empty := range []*alertgate.Related{nil, {Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{}}} {
		if g := buildRelated(empty); g != nil {
			t.Errorf("nothing related: %+v", g)
		}
	}
}

func TestUINotificationRows(t *testing.T) {
	rec := func(id string, min int, st alertgate.DeliveryState) alertgate.Record {
		return alertgate.Record{Notification: alertgate.Notification{ID: id, CreatedAt: uiNow.Add(time.Duration(min) * time.Minute)}, State: st}
	}
	recs := []alertgate.Record{rec("old", -30, alertgate.StateSent), rec("new", -1, alertgate.StateDryRun), rec("mid", -10, alertgate.StateDead)}
	rows := buildNotificationRows(recs, 2)
	var got []string
	for _, r := range rows {
		got = append(got, r.ID+":"+r.StateText)
	}
	// Newest first, cut at the limit; states in words.
	if got, want := strings.Join(got, ","), "new:dry run,mid:dead"; got != want {
		t.Fatalf("rows=%s, want %s", got, want)
	}
	if got, want := recs[0].ID, "old"; got != want {
		t.Fatalf("input reordered: first=%s", got)
	}
}

func TestUIDeadLetterRows(t *testing.T) {
	dls := []alertgate.DeadLetter{{Seq: 2}, {Seq: 9, State: alertgate.StateDead, Reason: "HTTP 400"}, {Seq: 5, State: alertgate.StatePending}}
	rows := buildDeadLetterRows(dls, 2)
	if got, want := len(rows), 2; got != want {
		t.Fatalf("rows=%d, want %d", got, want)
	}
	if rows[0].Seq != 9 || rows[1].Seq != 5 || rows[0].StateText != "dead" || rows[1].StateText != "pending" {
		t.Fatalf("rows=%+v, want seq 9 (dead), then 5 (pending)", rows)
	}
}

// A hand-built page: every value is escaped, and a javascript: link is
// neutralised, wherever it appears.
func TestUIRenderEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	p := uiPage{CSS: uiCSS, Now: stampOf(uiNow), Refresh: uiRefreshSeconds}
	p.Incidents.Rows = []incidentRow{{Key: "k\"><b>", Title: evil, Team: "payments", Href: "javascript:alert(4)", Runbook: link{Text: evil, Href: "javascript:alert(1)"},
		Related: []relatedGroup{{Kind: "bugs", Count: "1 bug class", Items: []relatedItem{{Key: evil, Text: evil, Tip: evil, Href: "javascript:alert(3)", Status: evil}}}}}}
	p.Bugs.Sort = sortCount
	p.Bugs.Rows = []bugRow{{Key: "b", Title: evil, Href: "javascript:alert(2)", Status: "open"}}
	p.Notifications.Rows = []notificationRow{{ID: "n", Title: evil, LastError: evil, State: "dead", StateText: "dead"}}
	p.DeadLetters.Rows = []deadLetterRow{{Seq: 1, ID: evil, Reason: evil, State: "dead", StateText: "dead"}}
	p.Runbooks.Rows = []runbookRow{{ID: "a/../b", Title: evil, Match: []string{`x=~"<script>"`}}}
	p.Silences.Rows = []silenceRow{{ID: "s", State: "active", Matchers: []string{`x=~"<script>"`}, CreatedBy: evil, Comment: evil}}

	var buf bytes.Buffer
	if err := renderUI(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Fatalf("unescaped <script> in page:\n%s", out)
	}
	if strings.Contains(out, "javascript:") {
		t.Fatalf("javascript: URL in page:\n%s", out)
	}
	// Incident title and runbook text, a related item's text, tip, key
	// and status (text and class), bug title, notification title and last error, dead
	// letter id (text and data-id) and reason, runbook title, a silence's
	// author and comment.
	if got, want := strings.Count(out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"), 16; got != want {
		t.Errorf("escaped titles=%d, want %d", got, want)
	}
	for _, want := range []string{
		`data-key="k&#34;&gt;&lt;b&gt;"`,
		`<meta http-equiv="refresh" content="15">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		"refreshes every 15 seconds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if !strings.HasPrefix(out, "<!doctype html>") {
		t.Errorf("page starts with %q", out[:min(len(out), 40)])
	}
}

// Empty sections say so in words.
func TestUIRenderEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := renderUI(&buf, uiPage{CSS: uiCSS, Bugs: bugSection{Sort: sortCount}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No open incidents.", "No bug classes yet.", "No notifications yet.", "No dead letters.", "No runbooks loaded", "No active or pending silences."} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
	buf.Reset()
	if err := renderUI(&buf, uiPage{CSS: uiCSS, Bugs: bugSection{Sort: sortCount, Team: "payments"}}); err != nil {
		t.Fatal(err)
	}
	if want := "No bug classes for team payments."; !strings.Contains(buf.String(), want) {
		t.Errorf("filtered page lacks %q", want)
	}
}

// Nothing to read from (every fetch fails): still a 200 page, an error line
// in each data section, each failure logged, and the runbooks shown.
func TestUIHandlerFetchErrors(t *testing.T) {
	var logs bytes.Buffer
	set, err := runbooks.LoadDir("../examples/runbooks")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Runbooks: set}
	rec := httptest.NewRecorder()
	s.ui(rec, httptest.NewRequest(http.MethodGet, "/?team=payments&sort=last_seen", nil))
	if got, want := rec.Code, http.StatusOK; got != want {
		t.Fatalf("status=%d, want %d", got, want)
	}
	body := rec.Body.String()
	for _, id := range []string{"incidents", "silences", "bugs", "notifications", "deadletters"} {
		sec := sectionHTML(t, body, id)
		if !strings.Contains(sec, `class="error"`) {
			t.Errorf("section %s has no error line:\n%s", id, sec)
		}
	}
	if got, want := strings.Count(logs.String(), "status page: fetch failed"), 5; got != want {
		t.Errorf("logged failures=%d, want %d:\n%s", got, want, logs.String())
	}
	if !strings.Contains(sectionHTML(t, body, "runbooks"), `href="runbooks/checkout-high-error-rate"`) {
		t.Errorf("runbooks section lacks the example runbook")
	}
	if !strings.Contains(body, `data-sort="last_seen" data-team="payments"`) {
		t.Errorf("the bug section does not carry the query's sort and team")
	}
	if got, want := rec.Header().Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("content type=%q, want %q", got, want)
	}
}

// The Content-Security-Policy allows exactly the inline stylesheet the page
// carries: a change to the CSS cannot silently unstyle the page.
func TestUICSPMatchesStyle(t *testing.T) {
	rec := httptest.NewRecorder()
	(&Server{Logger: slog.New(slog.DiscardHandler)}).ui(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatal("no <style> in page")
	}
	csp := rec.Header().Get("Content-Security-Policy")
	if want := "style-src 'sha256-" + sha256Base64(m[1]) + "'"; !strings.Contains(csp, want) {
		t.Fatalf("CSP %q lacks %q", csp, want)
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q does not default to none", csp)
	}
}

// sectionHTML returns the <section id="id"> of a page.
func sectionHTML(t *testing.T, page, id string) string {
	t.Helper()
	start := strings.Index(page, `<section id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no section %s", id)
	}
	end := strings.Index(page[start:], "</section>")
	if end < 0 {
		t.Fatalf("section %s not closed", id)
	}
	return page[start : start+end]
}
