package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
)

// The alert-fatigue report: GET /v1/report (JSON) and /report, the same
// figures as a page a team reviews after an incident. Like the status
// page it is rendered on the server, its charts as inline SVG, with no
// JavaScript; every number in a chart is also written as text.

var reportTemplate = template.Must(template.ParseFS(uiFiles, "ui/report.html"))

// defaultReportWindow is the window when ?since= is left out.
const defaultReportWindow = 7 * 24 * time.Hour

var daysRE = regexp.MustCompile(`^([0-9]{1,3})d$`)

// reportTime reads ?since= or ?until=: a Go duration back from now
// ("168h"), whole days back from now ("7d") or an RFC 3339 time.
func reportTime(name, v string, now time.Time) (time.Time, error) {
	if m := daysRE.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		return now.Add(-time.Duration(n) * 24 * time.Hour), nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, alertgate.Errorf(alertgate.EINVALID, "%s: %q is negative: give how far back, like 168h or 7d", name, v)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, alertgate.Errorf(alertgate.EINVALID, "%s: %q is not a duration (168h), a number of days (7d) or an RFC 3339 time", name, v)
}

// reportQuery reads ?since=, ?until= and ?team=.
func (s *Server) reportQuery(r *http.Request) (alertgate.ReportQuery, error) {
	now := s.now()
	q := alertgate.ReportQuery{Since: now.Add(-defaultReportWindow), Until: now, Team: r.URL.Query().Get("team")}
	var err error
	if v := r.URL.Query().Get("since"); v != "" {
		if q.Since, err = reportTime("since", v, now); err != nil {
			return q, err
		}
	}
	if v := r.URL.Query().Get("until"); v != "" {
		if q.Until, err = reportTime("until", v, now); err != nil {
			return q, err
		}
	}
	return q, nil
}

func (s *Server) buildReport(r *http.Request) (alertgate.ReportQuery, *alertgate.Report, error) {
	q, err := s.reportQuery(r)
	if err != nil {
		return q, nil, err
	}
	if s.Reporter == nil {
		return q, nil, alertgate.Errorf(alertgate.EUNAVAILABLE, "report unavailable")
	}
	rep, err := s.Reporter.Report(r.Context(), q)
	return q, rep, err
}

// report serves GET /v1/report.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	_, rep, err := s.buildReport(r)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// reportPage serves /report.
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	q, rep, err := s.buildReport(r)
	page := reportView{CSS: uiCSS, Team: q.Team, Since: r.URL.Query().Get("since")}
	code := http.StatusOK
	if err != nil {
		code = httperr.Status(err)
		page.Err = alertgate.ErrorMessage(err)
	} else {
		page = buildReportView(rep, q.Team, page.Since)
	}
	var buf bytes.Buffer
	if err := reportTemplate.ExecuteTemplate(&buf, "report.html", page); err != nil {
		s.Logger.Error("report page render failed", "err", err)
		http.Error(w, "report page render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// reportView is the view model of /report.
type reportView struct {
	CSS         template.CSS
	Err         string
	Team, Since string
	From, To    string
	Location    string
	OfficeHours string
	TeamLinks   []navLink
	WindowLinks []navLink
	Teams       []teamView
	Read        string
}

type teamView struct {
	Name                               string
	Pages, OffHours, NoRunbook         string
	OffHoursShare                      string
	Chart                              barChart
	Noisiest                           []noisyRow
	Resolved, Unresolved, Median, P90  string
	New, Regressed, Spiking            bugChangeView
	Recurring                          []recurringRow
	Approximate                        bool
	Held                               []heldRow
	Noise                              barChart
	NoiseRows                          []noiseRow
	EventsTotal, SentTotal, RemovedPct string
}

type noisyRow struct {
	Key, Title, Href, Kind string
	Pages, Episodes        int
	Flapping               int
	Runbook                bool
}

type bugChangeView struct {
	Count int
	Keys  []keyLink
}

type keyLink struct{ Key, Title, Href string }

type recurringRow struct {
	Key, Title, Href string
	Occurrences      string
}

type heldRow struct {
	Reason string
	Count  int
}

type noiseRow struct {
	Source                string
	Events, Notifications string
	Removed               string
}

// barChart is an SVG bar chart laid out on the server: bars stacked in
// two series, a label under each and its total above.
type barChart struct {
	ID, Title, Desc string
	Width, Height   int
	Bars            []bar
	// Legend names the two series.
	Legend [2]string
	// Gridlines are the value axis marks.
	Gridlines []gridline
}

type bar struct {
	X, W          int
	Y1, H1        int // the first series (bottom)
	Y2, H2        int // the second series, stacked on it
	Label, Value  string
	LabelX, TextY int
	Tip           string
}

type gridline struct {
	Y     int
	Label string
}

// Chart geometry, in SVG user units.
const (
	chartHeight = 200
	chartTop    = 18 // room for the values above the bars
	chartBottom = 34 // room for two lines of labels
	chartLeft   = 30
	chartPlot   = chartHeight - chartTop - chartBottom
)

// buildChart lays out bars of (first, second) values with labels.
func buildChart(id, title, desc string, legend [2]string, labels []string, tips []string, first, second []int, barWidth int) barChart {
	peak := 1
	for i := range first {
		peak = max(peak, first[i]+second[i])
	}
	peak = niceCeil(peak)
	slot := barWidth + max(barWidth/2, 8)
	c := barChart{ID: id, Title: title, Desc: desc, Legend: legend, Height: chartHeight, Width: chartLeft + slot*len(labels) + 8}
	scale := func(v int) int { return v * chartPlot / peak }
	base := chartTop + chartPlot
	marks := []int{0, peak}
	if peak%2 == 0 {
		marks = []int{0, peak / 2, peak}
	}
	for _, v := range marks {
		c.Gridlines = append(c.Gridlines, gridline{Y: base - scale(v), Label: strconv.Itoa(v)})
	}
	for i, l := range labels {
		h1, h2 := scale(first[i]), scale(second[i])
		x := chartLeft + i*slot + (slot-barWidth)/2
		c.Bars = append(c.Bars, bar{
			X: x, W: barWidth, Y1: base - h1, H1: h1, Y2: base - h1 - h2, H2: h2,
			Label: l, Value: strconv.Itoa(first[i] + second[i]), LabelX: x + barWidth/2, TextY: base - h1 - h2 - 4, Tip: tips[i],
		})
	}
	return c
}

// niceCeil rounds a chart's peak up to 1, 2 or 5 times a power of ten.
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

func explainHref(key string) string { return "v1/explain?key=" + url.QueryEscape(key) }

// buildReportView turns a report into the page's view model.
func buildReportView(rep *alertgate.Report, team, since string) reportView {
	v := reportView{CSS: uiCSS, Team: team, Since: since, From: stampOf(rep.Since).Text, To: stampOf(rep.Until).Text,
		Location: rep.Location, OfficeHours: rep.OfficeHours,
		Read: fmt.Sprintf("%s ALERTS and %s NOTIFY messages read", formatCount(int64(rep.Read.Alerts)), formatCount(int64(rep.Read.Notify)))}
	names := make([]string, 0, len(rep.Teams))
	for n := range rep.Teams {
		names = append(names, n)
	}
	slices.Sort(names)
	href := func(team, since string) string {
		q := url.Values{}
		if team != "" {
			q.Set("team", team)
		}
		if since != "" {
			q.Set("since", since)
		}
		if len(q) == 0 {
			return "report"
		}
		return "report?" + q.Encode()
	}
	v.TeamLinks = append(v.TeamLinks, navLink{Text: "all", Href: href("", since), Current: team == ""})
	links := names
	if team != "" {
		links = []string{team} // a one-team report knows no other names
	}
	for _, n := range links {
		v.TeamLinks = append(v.TeamLinks, navLink{Text: n, Value: n, Href: href(n, since), Current: n == team})
	}
	for _, w := range []string{"1d", "7d", "14d"} {
		v.WindowLinks = append(v.WindowLinks, navLink{Text: w, Value: w, Href: href(team, w), Current: w == since || (since == "" && w == "7d")})
	}
	for _, n := range names {
		v.Teams = append(v.Teams, buildTeamView(n, rep.Teams[n]))
	}
	return v
}

func buildTeamView(name string, t *alertgate.TeamReport) teamView {
	tv := teamView{Name: name, Pages: formatCount(int64(t.Pages)), OffHours: formatCount(int64(t.PagesOffHours)),
		NoRunbook: formatCount(int64(t.PagesWithoutRunbook)), Approximate: t.Bugs.Approximate}
	if t.Pages > 0 {
		tv.OffHoursShare = strconv.Itoa((t.PagesOffHours*100+t.Pages/2)/t.Pages) + "%"
	}
	var labels, tips []string
	var office, off []int
	for _, d := range t.PagesPerDay {
		day, _ := time.Parse(time.DateOnly, d.Date)
		labels = append(labels, day.Format("Mon 02"))
		tips = append(tips, fmt.Sprintf("%s: %d pages, %d off hours", d.Date, d.Pages, d.OffHours))
		office, off = append(office, d.Pages-d.OffHours), append(off, d.OffHours)
	}
	width := 28
	if len(labels) > 16 {
		width = 12
	}
	tv.Chart = buildChart("pages-"+name, name+": pages per day",
		fmt.Sprintf("%d pages in %d days, %d of them outside office hours.", t.Pages, len(t.PagesPerDay), t.PagesOffHours),
		[2]string{"office hours", "off hours"}, labels, tips, office, off, width)
	for _, k := range t.Noisiest {
		tv.Noisiest = append(tv.Noisiest, noisyRow{Key: k.Key, Title: cmpOr(k.Title, k.Key), Href: explainHref(k.Key), Kind: string(k.Kind),
			Pages: k.Pages, Episodes: k.Episodes, Flapping: k.Flapping, Runbook: k.Runbook})
	}
	tt := t.TimeToResolve
	tv.Resolved, tv.Unresolved = formatCount(int64(tt.Resolved)), formatCount(int64(tt.Unresolved))
	if tt.Resolved > 0 {
		tv.Median, tv.P90 = humanDuration(time.Duration(tt.MedianSeconds)*time.Second), humanDuration(time.Duration(tt.P90Seconds)*time.Second)
	}
	change := func(c alertgate.BugChanges) bugChangeView {
		out := bugChangeView{Count: c.Count}
		for _, k := range c.Keys {
			out.Keys = append(out.Keys, keyLink{Key: k.Key, Title: cmpOr(k.Title, k.Key), Href: explainHref(k.Key)})
		}
		return out
	}
	tv.New, tv.Regressed, tv.Spiking = change(t.Bugs.New), change(t.Bugs.Regressed), change(t.Bugs.Spiking)
	for _, b := range t.Bugs.Recurring {
		tv.Recurring = append(tv.Recurring, recurringRow{Key: b.Key, Title: cmpOr(b.Title, b.Key), Href: explainHref(b.Key), Occurrences: formatCount(b.Occurrences)})
	}
	for reason, n := range t.Held {
		tv.Held = append(tv.Held, heldRow{Reason: reason, Count: n})
	}
	slices.SortFunc(tv.Held, func(a, b heldRow) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	sources := make([]string, 0, len(t.Noise))
	for src := range t.Noise {
		sources = append(sources, string(src))
	}
	slices.Sort(sources)
	var events, sent int
	var nl, ntips []string
	var nsent, nremoved []int
	for _, src := range sources {
		n := t.Noise[alertgate.Source(src)]
		events, sent = events+n.Events, sent+n.Notifications
		tv.NoiseRows = append(tv.NoiseRows, noiseRow{Source: src, Events: formatCount(int64(n.Events)), Notifications: formatCount(int64(n.Notifications)), Removed: removed(n.Events, n.Notifications)})
		nl = append(nl, src)
		ntips = append(ntips, fmt.Sprintf("%s: %d events, %d notifications", src, n.Events, n.Notifications))
		nsent, nremoved = append(nsent, min(n.Notifications, n.Events)), append(nremoved, max(n.Events-n.Notifications, 0))
	}
	tv.EventsTotal, tv.SentTotal, tv.RemovedPct = formatCount(int64(events)), formatCount(int64(sent)), removed(events, sent)
	tv.Noise = buildChart("noise-"+name, name+": events received and notifications sent, per source",
		fmt.Sprintf("%d events received, %d notifications sent: %s of the events removed.", events, sent, tv.RemovedPct),
		[2]string{"notified", "removed"}, nl, ntips, nsent, nremoved, 40)
	return tv
}

// removed is the share of events that sent nothing, as "87.5%".
func removed(events, sent int) string {
	if events == 0 {
		return "—"
	}
	pct := float64(max(events-sent, 0)) * 100 / float64(events)
	return strconv.FormatFloat(pct, 'f', 1, 64) + "%"
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
