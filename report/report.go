// Package report builds the alert-fatigue report: per team, how often its
// on-call was paged over a window, when (per day, off hours), by which
// keys, how long pages stayed open, which bug classes came and how loud,
// what was held and how much noise was removed. It reads the history
// alertgate keeps anyway, ALERTS (what came in) and NOTIFY (what was
// decided), read-only, with ordered consumers that start at the window's
// start and are deleted after the read; nothing is stored or cached, so a
// report is as fresh as the streams. Memory is bounded by counters per
// team, key and day, never per event.
package report

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/timeinterval"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/wire"
	"github.com/alertgate/alertgate/routes"
)

// MaxWindow bounds a report's window: the streams keep 14 days by default,
// and a longer window only makes a longer chart of empty days.
const MaxWindow = 92 * 24 * time.Hour

// skew is how much earlier than the window a stream is read from: a
// message is stored after the decision it records, by at most the clock
// difference between instances.
const skew = time.Minute

// Reporter builds reports from the streams of a bus.
type Reporter struct {
	Bus *bus.Bus
	// Table attributes each stored event to a team and a kind, with the
	// current config's classify rules and routes.
	Table *routes.Table
	// Location counts days; OfficeHours (any of them) are office hours,
	// named OfficeHoursName in the report.
	Location        *time.Location
	OfficeHours     []timeinterval.TimeInterval
	OfficeHoursName string
	// Teams are the config's teams: every report lists each.
	Teams   []string
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Now is the window's default end (time.Now when nil).
	Now func() time.Time

	// one lets one report read the streams at a time: a few people
	// opening the page at once wait for each other instead of sharing
	// the CPU with the router.
	once sync.Once
	one  chan struct{}
}

// New returns a Reporter for cfg over b, attributing events with t.
func New(cfg *config.Config, b *bus.Bus, t *routes.Table, m *metrics.Metrics, log *slog.Logger) *Reporter {
	name := cfg.Report.OfficeHours
	if name == "" {
		name = "Monday–Friday 09:00–18:00 " + cfg.ReportLocation().String()
	}
	teams := make([]string, 0, len(cfg.Teams))
	for _, tm := range cfg.Teams {
		teams = append(teams, tm.Name)
	}
	return &Reporter{Bus: b, Table: t, Location: cfg.ReportLocation(), OfficeHours: cfg.OfficeHours(), OfficeHoursName: name,
		Teams: teams, Logger: log, Metrics: m}
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Report builds the report for q. Until zero is now. Errors: EINVALID for
// a window that is empty or longer than MaxWindow, ENOTFOUND for a team
// the config does not have, EUNAVAILABLE when a stream cannot be read.
func (r *Reporter) Report(ctx context.Context, q alertgate.ReportQuery) (*alertgate.Report, error) {
	if q.Until.IsZero() {
		q.Until = r.now()
	}
	switch {
	case !q.Since.Before(q.Until):
		return nil, alertgate.Errorf(alertgate.EINVALID, "since: %s is not before until (%s)", q.Since.UTC().Format(time.RFC3339), q.Until.UTC().Format(time.RFC3339))
	case q.Until.Sub(q.Since) > MaxWindow:
		return nil, alertgate.Errorf(alertgate.EINVALID, "since: the window is at most %d days, got %s", MaxWindow/(24*time.Hour), q.Until.Sub(q.Since).Round(time.Second))
	case q.Team != "" && !slices.Contains(r.Teams, q.Team):
		return nil, alertgate.Errorf(alertgate.ENOTFOUND, "team: unknown team %q", q.Team)
	}
	r.once.Do(func() { r.one = make(chan struct{}, 1) })
	select {
	case r.one <- struct{}{}:
		defer func() { <-r.one }()
	case <-ctx.Done():
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, ctx.Err(), "another report is being built: try again")
	}
	start := time.Now()
	rep, err := r.build(ctx, q)
	if err != nil {
		r.Metrics.ReportErrors.Inc()
		r.Logger.Error("report failed", "since", q.Since, "until", q.Until, "team", q.Team, "err", err)
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "the history cannot be read now (the gateway log has the error)")
	}
	r.Metrics.ReportSeconds.Observe(time.Since(start).Seconds())
	r.Logger.Info("report built", "since", q.Since, "until", q.Until, "team", q.Team, "alerts_read", rep.Read.Alerts, "notify_read", rep.Read.Notify, "took", time.Since(start).Round(time.Millisecond))
	return rep, nil
}

func (r *Reporter) build(ctx context.Context, q alertgate.ReportQuery) (*alertgate.Report, error) {
	w := newWindow(q.Since, q.Until, r.Location)
	in := &received{w: w, table: r.Table, team: q.Team, teams: map[string]*receivedTeam{}}
	out := &decided{w: w, office: r.OfficeHours, teams: map[string]*decidedTeam{}, open: map[string]openPage{}, held: map[string]bool{}}
	notify := []string{bus.NotifySubject(alertgate.SinkPagerDuty, ">"), bus.NotifySubject(alertgate.SinkSlack, ">")}
	if q.Team != "" {
		notify = []string{bus.NotifySubject(alertgate.SinkPagerDuty, q.Team), bus.NotifySubject(alertgate.SinkSlack, q.Team)}
	}
	var alertsRead, notifyRead int
	var errA, errN error
	var wg sync.WaitGroup
	wg.Go(func() {
		alertsRead, errA = r.read(ctx, bus.StreamAlerts, []string{bus.SubjectAlerts + ".>"}, q.Since.Add(-skew), in.add)
	})
	wg.Go(func() {
		notifyRead, errN = r.read(ctx, bus.StreamNotify, notify, q.Since.Add(-skew), out.add)
	})
	wg.Wait()
	if err := errors.Join(errA, errN); err != nil {
		return nil, err
	}
	if in.undecodable+out.undecodable > 0 {
		// Not an error: the report covers what it could read.
		r.Metrics.ReportMessages.WithLabelValues(bus.StreamAlerts + "_undecodable").Add(float64(in.undecodable))
		r.Metrics.ReportMessages.WithLabelValues(bus.StreamNotify + "_undecodable").Add(float64(out.undecodable))
		r.Logger.Warn("report: undecodable messages skipped", "alerts", in.undecodable, "notify", out.undecodable)
	}
	rep := &alertgate.Report{Since: q.Since, Until: q.Until, Location: r.Location.String(), OfficeHours: r.OfficeHoursName,
		Teams: map[string]*alertgate.TeamReport{}, Read: alertgate.ReportRead{Alerts: alertsRead, Notify: notifyRead}}
	names := map[string]bool{}
	if q.Team != "" {
		names[q.Team] = true
	} else {
		for _, t := range r.Teams {
			names[t] = true
		}
		// A team renamed away still had its history.
		for t := range in.teams {
			names[t] = true
		}
		for t := range out.teams {
			names[t] = true
		}
	}
	for t := range names {
		rep.Teams[t] = teamReport(w, in.teams[t], out.teams[t], out.unresolved(t))
	}
	return rep, nil
}

// read visits every message of stream on filters stored from from until
// the last one stored when the read began, and returns how many it read.
// An ordered consumer: ephemeral, without acknowledgements, deleted after.
func (r *Reporter) read(ctx context.Context, stream string, filters []string, from time.Time, visit func(subject string, data []byte)) (int, error) {
	s, err := r.Bus.JS.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return 0, nil
	}
	start := from.UTC()
	cons, err := r.Bus.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("stream %s: reader: %w", stream, err)
	}
	defer func() {
		if ci := cons.CachedInfo(); ci != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = r.Bus.JS.DeleteConsumer(dctx, stream, ci.Name)
			cancel()
		}
	}()
	ci, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: reader: %w", stream, err)
	}
	if ci.NumPending == 0 {
		return 0, nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return 0, fmt.Errorf("stream %s: reader: %w", stream, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	n := 0
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			return n, fmt.Errorf("stream %s: read: %w", stream, err)
		}
		n++
		visit(m.Subject(), m.Data())
		md, err := m.Metadata()
		if err != nil {
			return n, fmt.Errorf("stream %s: read: %w", stream, err)
		}
		if md.NumPending == 0 || md.Sequence.Stream >= last {
			r.Metrics.ReportMessages.WithLabelValues(stream).Add(float64(n))
			return n, nil
		}
	}
}

// window is the report's [since, until) and its days in a location.
type window struct {
	since, until time.Time
	loc          *time.Location
	first        int64 // the first day, as days since the epoch (civil)
	days         int
}

func newWindow(since, until time.Time, loc *time.Location) window {
	w := window{since: since, until: until, loc: loc}
	w.first = civilDay(since, loc)
	w.days = int(civilDay(until.Add(-time.Nanosecond), loc)-w.first) + 1
	return w
}

// civilDay numbers t's date in loc: days since 1970-01-01, whatever the
// length of the days in between (DST).
func civilDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func (w window) contains(t time.Time) bool { return !t.Before(w.since) && t.Before(w.until) }

// day is t's index among the window's days.
func (w window) day(t time.Time) int { return int(civilDay(t, w.loc) - w.first) }

// date is the i-th day of the window.
func (w window) date(i int) string {
	return time.Unix((w.first+int64(i))*86400, 0).UTC().Format(time.DateOnly)
}

// event is what the report reads of a stored event.
type event struct {
	Source     alertgate.Source  `json:"source"`
	Kind       alertgate.Kind    `json:"kind"`
	Key        string            `json:"key"`
	Status     alertgate.Status  `json:"status"`
	Title      string            `json:"title"`
	Labels     map[string]string `json:"labels"`
	Count      int               `json:"count"`
	OccurredAt time.Time         `json:"occurred_at"`
	ReceivedAt time.Time         `json:"received_at"`
}

// received aggregates ALERTS: per team and source the events, per team
// the bug classes' occurrences.
type received struct {
	w     window
	table *routes.Table
	team  string
	teams map[string]*receivedTeam
	// undecodable counts messages skipped (written by a newer version?).
	undecodable int
}

type receivedTeam struct {
	events map[alertgate.Source]int
	bugs   *topCounter
}

func (in *received) add(_ string, data []byte) {
	var evs []event
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := wire.Unmarshal(data, &evs); err != nil {
			in.undecodable++
			return
		}
	} else {
		evs = make([]event, 1)
		if err := wire.Unmarshal(data, &evs[0]); err != nil {
			in.undecodable++
			return
		}
	}
	for i := range evs {
		ev := &evs[i]
		at := ev.ReceivedAt
		if at.IsZero() {
			at = ev.OccurredAt
		}
		if !in.w.contains(at) {
			continue
		}
		kind, team := in.table.Owner(ev.Kind, ev.Labels)
		if team == "" || (in.team != "" && team != in.team) {
			continue
		}
		t := in.teams[team]
		if t == nil {
			t = &receivedTeam{events: map[alertgate.Source]int{}, bugs: newTopCounter(maxCounted)}
			in.teams[team] = t
		}
		t.events[ev.Source]++
		if kind == alertgate.KindBug && ev.Status == alertgate.StatusFiring {
			t.bugs.add(ev.Key, ev.Title, int64(max(ev.Count, 1)))
		}
	}
}

// notice is what the report reads of a notification.
type notice struct {
	ID       string                     `json:"id"`
	Sink     alertgate.Sink             `json:"sink"`
	Team     string                     `json:"team"`
	Type     alertgate.NotificationType `json:"type"`
	Key      string                     `json:"key"`
	DedupKey string                     `json:"dedup_key"`
	Runbook  *struct{}                  `json:"runbook"`
	Hold     *struct {
		Reason string `json:"reason"`
	} `json:"hold"`
	CreatedAt time.Time `json:"created_at"`
	Event     struct {
		Source alertgate.Source `json:"source"`
		Kind   alertgate.Kind   `json:"kind"`
		Status alertgate.Status `json:"status"`
		Title  string           `json:"title"`
	} `json:"event"`
}

// decided aggregates NOTIFY.
type decided struct {
	w      window
	office []timeinterval.TimeInterval
	teams  map[string]*decidedTeam
	// open are the window's pages not yet resolved, by dedup_key.
	open map[string]openPage
	// held are the episodes ("<key>:<episode>:<cycle>") whose page is
	// held: a page for one later is the same episode, paged when its hold
	// ended.
	held map[string]bool
	n    notice
	// undecodable counts messages skipped.
	undecodable int
}

type openPage struct {
	id   string
	team string
	at   time.Time
}

type decidedTeam struct {
	pages, offHours, noRunbook int
	days                       []alertgate.DayPages
	keys                       map[string]*alertgate.NoisyKey
	ttr                        []time.Duration
	held                       map[string]int
	bugs                       [3]changes // new, regression, spike
	sent                       map[alertgate.Source]int
}

type changes struct {
	count int
	keys  []alertgate.BugKey
}

func (c *changes) add(key, title string) {
	c.count++
	if len(c.keys) < alertgate.MaxReportKeys && !slices.ContainsFunc(c.keys, func(k alertgate.BugKey) bool { return k.Key == key }) {
		c.keys = append(c.keys, alertgate.BugKey{Key: key, Title: title})
	}
}

func (d *decided) team(name string) *decidedTeam {
	t := d.teams[name]
	if t == nil {
		t = &decidedTeam{days: make([]alertgate.DayPages, d.w.days), keys: map[string]*alertgate.NoisyKey{},
			held: map[string]int{}, sent: map[alertgate.Source]int{}}
		d.teams[name] = t
	}
	return t
}

func (d *decided) key(t *decidedTeam, n *notice) *alertgate.NoisyKey {
	k := t.keys[n.Key]
	if k == nil {
		k = &alertgate.NoisyKey{Key: n.Key, Kind: n.Event.Kind}
		t.keys[n.Key] = k
	}
	if n.Event.Title != "" {
		k.Title = n.Event.Title
	}
	return k
}

func (d *decided) offHours(at time.Time) bool {
	for i := range d.office {
		if d.office[i].ContainsTime(at) {
			return false
		}
	}
	return true
}

func (d *decided) add(_ string, data []byte) {
	d.n = notice{}
	n := &d.n
	if err := wire.Unmarshal(data, n); err != nil {
		d.undecodable++
		return
	}
	switch {
	case n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypePage:
		if !d.w.contains(n.CreatedAt) {
			return
		}
		if o, ok := d.open[n.DedupKey]; ok && o.id == n.ID {
			return // a copy stored again (a redelivered decision)
		}
		t := d.team(n.Team)
		t.pages++
		day := &t.days[d.w.day(n.CreatedAt)]
		day.Pages++
		if d.offHours(n.CreatedAt) {
			t.offHours++
			day.OffHours++
		}
		k := d.key(t, n)
		k.Pages++
		k.Runbook = n.Runbook != nil
		if n.Runbook == nil {
			t.noRunbook++
		}
		if ep := strings.TrimPrefix(n.ID, "page:"); d.held[ep] {
			delete(d.held, ep) // its episode was counted when it was held
		} else if n.Event.Kind == alertgate.KindIncident {
			k.Episodes++
		}
		t.sent[n.Event.Source]++
		if n.DedupKey != "" && len(d.open) < maxOpen {
			d.open[n.DedupKey] = openPage{id: n.ID, team: n.Team, at: n.CreatedAt}
		}
	case n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypeResolve:
		o, ok := d.open[n.DedupKey]
		if !ok || !n.CreatedAt.Before(d.w.until) {
			return
		}
		delete(d.open, n.DedupKey)
		t := d.team(o.team)
		t.ttr = append(t.ttr, max(n.CreatedAt.Sub(o.at), 0))
	case n.Sink == alertgate.SinkSlack && n.Type == alertgate.TypeIncident && n.Hold != nil:
		// A held episode's digest item: "held:<key>:<episode>:<cycle>:<status>".
		ep, status, _ := cutLast(strings.TrimPrefix(n.ID, "held:"), ":")
		if status != string(alertgate.StatusFiring) {
			delete(d.held, ep)
			return
		}
		if !d.w.contains(n.CreatedAt) {
			return
		}
		t := d.team(n.Team)
		t.held[n.Hold.Reason]++
		k := d.key(t, n)
		k.Episodes++
		if n.Hold.Reason == alertgate.HoldFlapping {
			k.Flapping++
		} else if len(d.held) < maxOpen {
			d.held[ep] = true
		}
	case n.Sink == alertgate.SinkSlack && n.Hold == nil && (n.Type == alertgate.TypeBugNew || n.Type == alertgate.TypeBugRegression || n.Type == alertgate.TypeBugSpike):
		if !d.w.contains(n.CreatedAt) {
			return
		}
		t := d.team(n.Team)
		t.bugs[bugIndex[n.Type]].add(n.Key, n.Event.Title)
		t.sent[n.Event.Source]++
	}
}

var bugIndex = map[alertgate.NotificationType]int{alertgate.TypeBugNew: 0, alertgate.TypeBugRegression: 1, alertgate.TypeBugSpike: 2}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// unresolved counts team's pages of the window still open at its end.
func (d *decided) unresolved(team string) int {
	n := 0
	for _, o := range d.open {
		if o.team == team {
			n++
		}
	}
	return n
}

// Memory bounds: the pages and held episodes followed until their
// resolve, and the bug classes counted one by one per team.
const (
	maxOpen    = 500_000
	maxCounted = 50_000
)

// teamReport turns a team's counters into its figures.
func teamReport(w window, in *receivedTeam, out *decidedTeam, unresolved int) *alertgate.TeamReport {
	tr := &alertgate.TeamReport{PagesPerDay: make([]alertgate.DayPages, w.days), Noisiest: []alertgate.NoisyKey{},
		Held: map[string]int{}, Noise: map[alertgate.Source]*alertgate.SourceNoise{}}
	tr.TimeToResolve.Unresolved = unresolved
	for i := range tr.PagesPerDay {
		tr.PagesPerDay[i].Date = w.date(i)
	}
	tr.Bugs = alertgate.BugFigures{New: emptyChanges(), Regressed: emptyChanges(), Spiking: emptyChanges(), Recurring: []alertgate.BugCount{}}
	if out != nil {
		tr.Pages, tr.PagesOffHours, tr.PagesWithoutRunbook = out.pages, out.offHours, out.noRunbook
		for i, d := range out.days {
			tr.PagesPerDay[i].Pages, tr.PagesPerDay[i].OffHours = d.Pages, d.OffHours
		}
		keys := slices.Collect(maps.Values(out.keys))
		slices.SortFunc(keys, func(a, b *alertgate.NoisyKey) int {
			if c := cmp.Compare(b.Pages, a.Pages); c != 0 {
				return c
			}
			if c := cmp.Compare(b.Episodes, a.Episodes); c != 0 {
				return c
			}
			return strings.Compare(a.Key, b.Key)
		})
		for _, k := range keys[:min(len(keys), alertgate.MaxReportKeys)] {
			tr.Noisiest = append(tr.Noisiest, *k)
		}
		tr.TimeToResolve.Resolved = len(out.ttr)
		if len(out.ttr) > 0 {
			slices.Sort(out.ttr)
			tr.TimeToResolve.MedianSeconds = int64(nearestRank(out.ttr, 50).Round(time.Second) / time.Second)
			tr.TimeToResolve.P90Seconds = int64(nearestRank(out.ttr, 90).Round(time.Second) / time.Second)
		}
		maps.Copy(tr.Held, out.held)
		for i, c := range []*alertgate.BugChanges{&tr.Bugs.New, &tr.Bugs.Regressed, &tr.Bugs.Spiking} {
			c.Count = out.bugs[i].count
			c.Keys = append(c.Keys, out.bugs[i].keys...)
		}
		for src, n := range out.sent {
			noise(tr, src).Notifications = n
		}
	}
	if in != nil {
		for src, n := range in.events {
			noise(tr, src).Events = n
		}
		tr.Bugs.Recurring = in.bugs.top(alertgate.MaxReportKeys)
		tr.Bugs.Approximate = in.bugs.pruned
	}
	for _, n := range tr.Noise {
		if n.Notifications > 0 {
			n.Ratio = float64(int64(float64(n.Events)/float64(n.Notifications)*100+0.5)) / 100
		}
	}
	return tr
}

func emptyChanges() alertgate.BugChanges { return alertgate.BugChanges{Keys: []alertgate.BugKey{}} }

func noise(tr *alertgate.TeamReport, src alertgate.Source) *alertgate.SourceNoise {
	n := tr.Noise[src]
	if n == nil {
		n = &alertgate.SourceNoise{}
		tr.Noise[src] = n
	}
	return n
}

// nearestRank is the p-th percentile of sorted by nearest rank: the
// smallest value with at least p% of them at or below it.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[max(rank, 1)-1]
}
