package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/cut"
	"github.com/alertgate/alertgate/runbooks"
	"github.com/alertgate/alertgate/silences"
)

// The status page at GET / is what on-call opens on a phone: what is open,
// which bug classes are loud, what was sent and what is stuck. It is one
// server-rendered page (html/template escapes every value; there is no
// JavaScript), built in two steps so the second can be tested without a
// gateway: the handler fetches, pure build* functions turn the data into a
// view model of display strings, and the template only lays it out.

//go:embed ui
var uiFiles embed.FS

var (
	uiTemplate = template.Must(template.ParseFS(uiFiles, "ui/index.html"))
	// uiCSS is inlined in a <style> element: the page is one request, and
	// the Content-Security-Policy allows exactly this stylesheet by hash.
	uiCSS = template.CSS(mustRead(uiFiles, "ui/style.css"))
	uiCSP = "default-src 'none'; style-src 'sha256-" + sha256Base64(string(uiCSS)) + "'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

const (
	// uiRefreshSeconds is the page's <meta http-equiv="refresh">.
	uiRefreshSeconds = 15
	// uiListLimit bounds the notifications and dead letters shown.
	uiListLimit = 50
	// uiBugLimit bounds the bug classes shown (the loudest or latest).
	uiBugLimit = 200
	// uiFetchTimeout bounds each data fetch, which run concurrently: with
	// JetStream down the page still renders (with errors) before the next
	// refresh.
	uiFetchTimeout = 5 * time.Second
	uiTimeLayout   = "2006-01-02 15:04:05"
	// uiRelatedItems bounds the bug classes, and the incidents, listed
	// under an incident; uiRelatedTitleBytes cuts their titles.
	uiRelatedItems      = 5
	uiRelatedTitleBytes = 48
)

// Bug class orders, as ?sort= takes them.
const (
	sortCount    = "count"
	sortLastSeen = "last_seen"
)

func mustRead(fsys embed.FS, name string) string {
	b, err := fsys.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func sha256Base64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// uiPage is the view model of the status page: display strings only.
type uiPage struct {
	CSS           template.CSS
	Now           stamp
	Refresh       int
	Incidents     section[incidentRow]
	Silences      section[silenceRow]
	Bugs          bugSection
	Notifications section[notificationRow]
	DeadLetters   section[deadLetterRow]
	Runbooks      section[runbookRow]
}

// section is one part of the page: its rows, or why they could not be read.
type section[T any] struct {
	Rows []T
	Err  string
}

// Count is what the summary shows: the number of rows, "?" on error.
func (s section[T]) Count() string {
	if s.Err != "" {
		return "?"
	}
	return strconv.Itoa(len(s.Rows))
}

type bugSection struct {
	section[bugRow]
	// Total is the number of classes (of the team), of which Rows are
	// the first uiBugLimit.
	Total int
	// AsOf is when the classes shown were read, if not for this request
	// (a walk of every class is kept for a while: see bugViews).
	AsOf stamp
	// Team is the ?team= filter ("" for all), Sort the order in force.
	Team, Sort string
	TeamLinks  []navLink
	SortLinks  []navLink
}

// Count is the number of classes (of the team), shown or not; "?" on error.
func (b bugSection) Count() string {
	if b.Err != "" {
		return "?"
	}
	return formatCount(int64(b.Total))
}

// Partial reports that more classes exist than the rows show.
func (b bugSection) Partial() bool { return b.Total > len(b.Rows) }

// navLink is a filter or sort link; Current marks the one in force.
type navLink struct {
	Text, Href, Value string
	Current           bool
}

// stamp is a time as shown (UTC) and as machine-readable RFC 3339.
type stamp struct{ Text, ISO string }

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	t = t.UTC()
	return stamp{Text: t.Format(uiTimeLayout), ISO: t.Format(time.RFC3339)}
}

// link is an optional hyperlink; Href is empty when Text is plain text.
type link struct{ Text, Href string }

type incidentRow struct {
	Key, Episode, Title, Service, Team, Severity string
	// Href is the incident's JSON page, v1/incidents/<escaped key>.
	Href     string
	OpenedAt stamp
	OpenFor  string
	DedupKey string
	Runbook  link
	// Held is the reason the episode's page is held (silenced, inhibited,
	// muted_time, digest_only, flapping), "" once paged; HeldWhy says by
	// what and until when.
	Held, HeldWhy string
	// Related is what else goes on where it fires: a group of bug classes,
	// then one of incidents, each left out when empty.
	Related []relatedGroup
}

// relatedGroup is "2 bug classes (a ×12 regression, b ×3 new)": the
// count, the first few listed, how many more.
type relatedGroup struct {
	Kind  string // "bugs" or "incidents"
	Count string // "2 bug classes", "1 incident"
	Items []relatedItem
	More  string // "+3 more", or ""
}

// relatedItem is one related bug class or incident on the status page.
type relatedItem struct {
	Key   string
	Text  string // the title, cut to uiRelatedTitleBytes
	Tip   string // the whole title and the key
	Href  string
	Out   bool   // Href leaves the gateway (Sentry, Datadog)
	Count string // a bug class's occurrences in the window: "×12"
	// Status is a bug class's: new, regression or recurring.
	Status string
}

type bugRow struct {
	Key, Title, Href, Service, Team, Status string
	Count                                   string
	FirstSeen, LastSeen                     stamp
}

type notificationRow struct {
	ID                string
	At                stamp
	Sink, Team, Type  string
	Key, Title        string
	State, StateText  string
	Attempts          int
	LastError, Reason string
}

type deadLetterRow struct {
	Seq              uint64
	At               stamp
	Sink, Team, Type string
	ID, Key, Title   string
	Reason           string
	State, StateText string
}

// silenceRow is an active or pending silence.
type silenceRow struct {
	ID, State          string
	Matchers           []string
	StartsAt, EndsAt   stamp
	When               string // "ends in 1h 05m", "starts in 2h 00m"
	CreatedBy, Comment string
}

type runbookRow struct {
	ID, Title, Owner string
	Match            []string
}

// ui serves the status page. Each fetch that fails leaves an error line in
// its section (and the log): the rest of the page is still worth reading.
func (s *Server) ui(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	q := r.URL.Query()
	ctx, cancel := context.WithTimeout(r.Context(), uiFetchTimeout)
	defer cancel()

	var (
		wg                     sync.WaitGroup
		incs                   []*dedup.Incident
		bugs                   bugPage
		recs                   []alertgate.Record
		dead                   []alertgate.DeadLetter
		incErr, bugErr, recErr error
		deadErr                error
	)
	wg.Go(func() {
		incs, incErr = guard(func() ([]*dedup.Incident, error) {
			if s.States == nil {
				return nil, errors.New("no incident state configured")
			}
			// Only the open ones are shown: only they are kept.
			var open []*dedup.Incident
			err := s.States.EachIncident(ctx, func(in *dedup.Incident) error {
				if len(in.Open()) > 0 {
					open = append(open, in)
				}
				return nil
			})
			return open, err
		})
	})
	team, order := q.Get("team"), bugSort(q.Get("sort"))
	var bugsAt time.Time
	wg.Go(func() {
		bugs, bugsAt, bugErr = s.bugViews.get(ctx, team+"\x00"+order, func(ctx context.Context) (bugPage, error) {
			if s.BugIndex != nil {
				list, ok, err := s.BugIndex.Bugs(ctx, dedup.BugQuery{Team: team, ByLastSeen: order == sortLastSeen, Limit: uiBugLimit})
				if ok {
					return bugPage{Page: list.Page, Teams: list.Teams}, err
				}
			}
			if s.States == nil {
				return bugPage{}, errors.New("no bug state configured")
			}
			c := newBugCollector(team, order, uiBugLimit)
			err := s.States.EachBug(ctx, c.add)
			return c.page(), err
		})
	})
	wg.Go(func() {
		recs, recErr = guard(func() ([]alertgate.Record, error) {
			if s.Notifications == nil {
				return nil, errors.New("no notification log configured")
			}
			return s.Notifications.List(ctx, uiListLimit)
		})
	})
	wg.Go(func() {
		dead, deadErr = guard(func() ([]alertgate.DeadLetter, error) {
			if s.DeadLetters == nil {
				return nil, errors.New("no dead letters configured")
			}
			return s.DeadLetters.List(ctx, uiListLimit)
		})
	})
	// Silences are shown as of the server's clock, as the API lists them.
	var (
		sils   []silences.Silence
		silErr error
		silNow = s.now()
	)
	wg.Go(func() {
		sils, silErr = guard(func() ([]silences.Silence, error) {
			if s.Silences == nil {
				return nil, errors.New("no silences configured")
			}
			return s.Silences.List("", silNow), nil
		})
	})
	wg.Wait()

	page := uiPage{CSS: uiCSS, Now: stampOf(now), Refresh: uiRefreshSeconds}
	known := func(id string) bool { _, ok := s.getRunbook(id); return ok }
	// Related signals are as of the server's clock, as the API shows them.
	related := func(in *dedup.Incident) *alertgate.Related { return s.relatedTo(in.Key, in.Last.Labels) }
	page.Incidents.Rows = buildIncidentRows(incs, now, known, related)
	page.Incidents.Err = s.uiError("incidents", "Open incidents could not be read", incErr)

	page.Silences.Rows = buildSilenceRows(sils, silNow)
	page.Silences.Err = s.uiError("silences", "Silences could not be read", silErr)

	page.Bugs.Team, page.Bugs.Sort = team, order
	page.Bugs.Rows, page.Bugs.Total = buildBugRows(bugs.Items), bugs.Total
	page.Bugs.TeamLinks, page.Bugs.SortLinks = bugLinks(bugs.Teams, team, order)
	switch {
	case errors.Is(bugErr, errBugsReading):
		page.Bugs.Err = "Bug classes are still being read (every class, once); they show on the page's next refresh."
	default:
		page.Bugs.Err = s.uiError("bugs", "Bug classes could not be read", bugErr)
	}
	if !bugsAt.IsZero() && now.Sub(bugsAt) >= time.Second {
		page.Bugs.AsOf = stampOf(bugsAt)
	}

	page.Notifications.Rows = buildNotificationRows(recs, uiListLimit)
	page.Notifications.Err = s.uiError("notifications", "The notification log could not be read", recErr)
	page.DeadLetters.Rows = buildDeadLetterRows(dead, uiListLimit)
	page.DeadLetters.Err = s.uiError("deadletters", "Dead letters could not be read", deadErr)
	page.Runbooks.Rows = buildRunbookRows(s.allRunbooks())

	var buf bytes.Buffer
	if err := renderUI(&buf, page); err != nil {
		s.Logger.Error("status page render failed", "err", err)
		http.Error(w, "status page render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

// guard runs a fetch in a goroutine of the handler, where the recoverer
// cannot see a panic: one would take the process down with it.
func guard[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// uiError logs a failed fetch and returns the words the page shows. The
// error itself stays in the log: its text may name infrastructure (a NATS
// URL) that does not belong on a page anyone on the network can open.
func (s *Server) uiError(section, msg string, err error) string {
	if err == nil {
		return ""
	}
	s.Logger.Error("status page: fetch failed", "section", section, "err", err)
	return msg + " (the gateway log has the error)."
}

// renderUI writes the page for a view model.
func renderUI(w io.Writer, p uiPage) error {
	return uiTemplate.ExecuteTemplate(w, "index.html", p)
}

// buildIncidentRows returns one row per open episode, the most recently
// opened first. known says whether a runbook id is served here, so its link
// can stay on this host whatever public_url says; related, if not nil,
// what is related to an incident.
func buildIncidentRows(incs []*dedup.Incident, now time.Time, known func(id string) bool, related func(*dedup.Incident) *alertgate.Related) []incidentRow {
	var out []incidentRow
	for _, in := range incs {
		if in == nil {
			continue
		}
		open := in.Open()
		var rel []relatedGroup
		if len(open) > 0 && related != nil {
			rel = buildRelated(related(in))
		}
		for _, ep := range open {
			team := ep.Team
			if team == "" {
				team = in.Team
			}
			row := incidentRow{
				Key: in.Key, Episode: ep.ID, Title: in.Title, Service: in.Service, Team: team,
				Severity: string(in.Severity), OpenedAt: stampOf(ep.OpenedAt), OpenFor: humanDuration(now.Sub(ep.OpenedAt)),
				DedupKey: ep.DedupKey, Runbook: runbookLink(ep.Runbook, known),
				Href: incidentHref(in.Key), Related: rel,
			}
			if !ep.Paged && ep.Hold != nil {
				row.Held, row.HeldWhy = ep.Hold.Reason, ep.Hold.Detail
			}
			out = append(out, row)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].OpenedAt.ISO != out[j].OpenedAt.ISO {
			return out[i].OpenedAt.ISO > out[j].OpenedAt.ISO // RFC 3339 in UTC sorts as time
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// incidentHref is the incident's JSON page, relative to the status page.
func incidentHref(key string) string { return "v1/incidents/" + url.PathEscape(key) }

// buildRelated is the line under an incident: its related bug classes,
// then its related incidents, each group with its count, its first
// uiRelatedItems and how many more. Nil when nothing is related.
func buildRelated(r *alertgate.Related) []relatedGroup {
	if r.Empty() {
		return nil
	}
	var out []relatedGroup
	if len(r.Bugs) > 0 {
		g := relatedGroup{Kind: "bugs", Count: plural(len(r.Bugs)+r.MoreBugs, "bug class", "bug classes")}
		for _, b := range r.Bugs[:min(len(r.Bugs), uiRelatedItems)] {
			href, ext := externalLink(b.Link)
			if href == "" {
				href = "v1/explain?key=" + url.QueryEscape(b.Key)
			}
			g.Items = append(g.Items, relatedItem{
				Key: b.Key, Text: cut.Bytes(b.Title, uiRelatedTitleBytes), Tip: b.Title + " (" + b.Key + ")",
				Href: href, Out: ext, Count: "×" + formatCount(b.Count), Status: b.Status,
			})
		}
		g.More = more(len(r.Bugs) + r.MoreBugs - len(g.Items))
		out = append(out, g)
	}
	if len(r.Incidents) > 0 {
		g := relatedGroup{Kind: "incidents", Count: plural(len(r.Incidents)+r.MoreIncidents, "incident", "incidents")}
		for _, in := range r.Incidents[:min(len(r.Incidents), uiRelatedItems)] {
			href, ext := externalLink(in.Link)
			if href == "" || strings.HasSuffix(href, "/"+incidentHref(in.Key)) {
				// No link at its source, or its page on this gateway:
				// relative, whatever public_url says.
				href, ext = incidentHref(in.Key), false
			}
			g.Items = append(g.Items, relatedItem{
				Key: in.Key, Text: cut.Bytes(in.Title, uiRelatedTitleBytes), Tip: in.Title + " (" + in.Key + ")", Href: href, Out: ext,
			})
		}
		g.More = more(len(r.Incidents) + r.MoreIncidents - len(g.Items))
		out = append(out, g)
	}
	return out
}

// externalLink is raw if it is an http(s) URL, else "".
func externalLink(raw string) (href string, ok bool) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return raw, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return formatCount(int64(n)) + " " + many
}

func more(n int) string {
	if n <= 0 {
		return ""
	}
	return "+" + formatCount(int64(n)) + " more"
}

// runbookLink turns a page's runbook URL into a link: a runbook served by
// this gateway (…/runbooks/<id>) links relative to the page, anything else
// http(s) links out, the rest is shown as text.
func runbookLink(raw string, known func(id string) bool) link {
	if raw == "" {
		return link{}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return link{Text: raw}
	}
	if dir, id := path.Split(u.Path); strings.HasSuffix(dir, "/runbooks/") && id != "" && known != nil && known(id) {
		return link{Text: id, Href: "runbooks/" + url.PathEscape(id)}
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return link{Text: u.Host + " ↗", Href: raw}
	}
	return link{Text: raw}
}

// bugSort returns the order ?sort= asks for; anything unknown is by count.
func bugSort(v string) string {
	if v == sortLastSeen {
		return sortLastSeen
	}
	return sortCount
}

// bugPage is the page's view of the bug classes: the first of a team's
// (or all) in the order asked for, and every team that has a class, for
// the filter links.
type bugPage struct {
	dedup.Page[dedup.Bug]
	Teams []string
}

// bugCollector builds a bugPage from a walk of every class, holding no
// more than the page shows.
type bugCollector struct {
	team  string
	top   *dedup.Top[dedup.Bug]
	teams map[string]bool
}

func newBugCollector(team, order string, limit int) *bugCollector {
	return &bugCollector{team: team, top: dedup.NewTop(bugOrder(order), limit), teams: map[string]bool{}}
}

func (c *bugCollector) add(b *dedup.Bug) error {
	if b.Team != "" {
		c.teams[b.Team] = true
	}
	if c.team == "" || b.Team == c.team {
		c.top.Add(b)
	}
	return nil
}

func (c *bugCollector) page() bugPage {
	return bugPage{Page: c.top.Page(), Teams: slices.Sorted(maps.Keys(c.teams))}
}

// bugOrder orders bug classes by count or by last seen, descending, as the
// index does (dedup.Loudest, dedup.Latest): stable from one refresh to
// the next.
func bugOrder(order string) func(a, b *dedup.Bug) int {
	if bugSort(order) == sortLastSeen {
		return dedup.Latest
	}
	return dedup.Loudest
}

// buildBugRows turns bug classes, already filtered and ordered, into rows.
func buildBugRows(bugs []*dedup.Bug) []bugRow {
	out := make([]bugRow, 0, len(bugs))
	for _, b := range bugs {
		row := bugRow{
			Key: b.Key, Title: b.Title, Service: b.Service, Team: b.Team, Status: b.Status,
			Count: formatCount(b.Count), FirstSeen: stampOf(b.FirstSeen), LastSeen: stampOf(b.LastSeen),
		}
		for _, l := range b.Links {
			if strings.HasPrefix(l.Href, "https://") || strings.HasPrefix(l.Href, "http://") {
				row.Href = l.Href
				break
			}
		}
		out = append(out, row)
	}
	return out
}

// bugLinks returns the team filter links (all, then every team with a bug
// class, by name) and the sort links; each keeps the other's choice.
func bugLinks(names []string, team, order string) (teams, sorts []navLink) {
	href := func(team, order string) string {
		v := url.Values{}
		if team != "" {
			v.Set("team", team)
		}
		if order != sortCount {
			v.Set("sort", order)
		}
		if len(v) == 0 {
			return "./"
		}
		return "?" + v.Encode()
	}
	teams = append(teams, navLink{Text: "all", Href: href("", order), Current: team == ""})
	for _, n := range names {
		teams = append(teams, navLink{Text: n, Value: n, Href: href(n, order), Current: n == team})
	}
	sorts = []navLink{
		{Text: "count", Value: sortCount, Href: href(team, sortCount), Current: order == sortCount},
		{Text: "last seen", Value: sortLastSeen, Href: href(team, sortLastSeen), Current: order == sortLastSeen},
	}
	return teams, sorts
}

// buildNotificationRows returns up to limit records, newest first.
func buildNotificationRows(recs []alertgate.Record, limit int) []notificationRow {
	recs = append([]alertgate.Record(nil), recs...)
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].CreatedAt.Equal(recs[j].CreatedAt) {
			return recs[i].CreatedAt.After(recs[j].CreatedAt)
		}
		return recs[i].ID < recs[j].ID
	})
	if len(recs) > limit {
		recs = recs[:limit]
	}
	out := make([]notificationRow, 0, len(recs))
	for _, r := range recs {
		out = append(out, notificationRow{
			ID: r.ID, At: stampOf(r.CreatedAt), Sink: string(r.Sink), Team: r.Team, Type: string(r.Type),
			Key: r.Key, Title: r.Event.Title, State: string(r.State), StateText: stateText(r.State),
			Attempts: r.Attempts, LastError: r.LastError, Reason: r.Reason,
		})
	}
	return out
}

// buildDeadLetterRows returns up to limit dead letters, newest first.
func buildDeadLetterRows(dls []alertgate.DeadLetter, limit int) []deadLetterRow {
	dls = append([]alertgate.DeadLetter(nil), dls...)
	sort.SliceStable(dls, func(i, j int) bool { return dls[i].Seq > dls[j].Seq })
	if len(dls) > limit {
		dls = dls[:limit]
	}
	out := make([]deadLetterRow, 0, len(dls))
	for _, d := range dls {
		n := d.Notification
		out = append(out, deadLetterRow{
			Seq: d.Seq, At: stampOf(d.DeadAt), Sink: string(n.Sink), Team: n.Team, Type: string(n.Type),
			ID: n.ID, Key: n.Key, Title: n.Event.Title, Reason: d.Reason,
			State: string(d.State), StateText: stateText(d.State),
		})
	}
	return out
}

// buildSilenceRows returns the active silences, those ending first
// first, then the pending ones, those starting first first; expired ones
// are left out.
func buildSilenceRows(sils []silences.Silence, now time.Time) []silenceRow {
	var active, pending []silences.Silence
	for _, sil := range sils {
		switch sil.StateAt(now) {
		case silences.StateActive:
			active = append(active, sil)
		case silences.StatePending:
			pending = append(pending, sil)
		}
	}
	by := func(at func(silences.Silence) time.Time) func(a, b silences.Silence) int {
		return func(a, b silences.Silence) int {
			if c := at(a).Compare(at(b)); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		}
	}
	slices.SortFunc(active, by(func(s silences.Silence) time.Time { return s.EndsAt }))
	slices.SortFunc(pending, by(func(s silences.Silence) time.Time { return s.StartsAt }))
	out := make([]silenceRow, 0, len(active)+len(pending))
	for _, sil := range append(active, pending...) {
		row := silenceRow{
			ID: sil.ID, State: sil.StateAt(now), Matchers: sil.Matchers,
			StartsAt: stampOf(sil.StartsAt), EndsAt: stampOf(sil.EndsAt), CreatedBy: sil.CreatedBy, Comment: sil.Comment,
		}
		if row.State == silences.StateActive {
			row.When = "ends in " + humanDuration(sil.EndsAt.Sub(now))
		} else {
			row.When = "starts in " + humanDuration(sil.StartsAt.Sub(now))
		}
		out = append(out, row)
	}
	return out
}

func buildRunbookRows(rbs []*runbooks.Runbook) []runbookRow {
	out := make([]runbookRow, 0, len(rbs))
	for _, rb := range rbs {
		row := runbookRow{ID: rb.ID, Title: rb.Title, Owner: rb.Owner}
		for _, m := range rb.Match {
			row.Match = append(row.Match, m.String())
		}
		out = append(out, row)
	}
	return out
}

// stateText is a delivery state in words for its badge.
func stateText(s alertgate.DeliveryState) string {
	if s == "" {
		return "unknown"
	}
	return strings.ReplaceAll(string(s), "_", " ")
}

// humanDuration says how long in at most two units: "45s", "12m",
// "3h 05m", "2d 4h". Negative (a source's clock ahead of ours) is 0s.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

// formatCount groups thousands: 1234567 is "1,234,567".
func formatCount(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)
