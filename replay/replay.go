// Package replay answers "what would this config change have paged, and
// whom?". It reads the stored history, ALERTS from its first message, and
// decides every event twice, under the live config and under a candidate,
// as the router would have: the same classify rules, routes, runbooks,
// holds (notify: digest, silences as they were then, inhibit rules, time
// intervals), policy and flap damping, with state in memory and the clock
// of each event's arrival, and the router's re-check of held pages run in
// event time. It counts what each would have sent in a window and reads
// NOTIFY for what was sent.
//
// Replaying the live config must reproduce NOTIFY's pages: every page
// that differs (another ID, another dedup_key, one missing on either side)
// is reported as a finding, never passed over.
//
// A replay changes nothing: it reads the streams with ordered consumers,
// writes no state, publishes nothing and calls no sink.
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/inhibit"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/wire"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/runbooks"
	"github.com/alertgate/alertgate/silences"
)

// DefaultLimit is how many differences and findings a report lists
// unless asked otherwise; MaxLimit the most it lists.
const (
	DefaultLimit = 100
	MaxLimit     = 10_000
)

// Silences are the silences of every instance (silences.Store): a replay
// holds events as they were held then, and re-checks a silenced page when
// a silence starts or ends.
type Silences interface {
	routes.Silencer
	List(state string, now time.Time) []silences.Silence
}

var _ Silences = (*silences.Store)(nil)

// Runner replays the history of one gateway.
type Runner struct {
	// Bus is read only: ALERTS and NOTIFY.
	Bus *bus.Bus
	// Live is the running config, Routes its table (with the live
	// runbooks).
	Live   *config.Config
	Routes *routes.Table
	// Silences may be nil (none).
	Silences Silences
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	// Now is the gateway's clock (default time.Now): the end of the
	// re-checks' history.
	Now func() time.Time

	// one replay at a time: each holds the state of every key, twice.
	busy sync.Mutex
}

// ErrBusy is Replay's error while another replay runs.
var ErrBusy = alertgate.Errorf(alertgate.ECONFLICT, "a replay is already running on this instance: try again when it ends")

// Replay runs the history through the live config and the candidate (a
// config file's YAML, validated as the server's own config) and reports
// what each sent in q's window. A bad candidate is an EINVALID error
// naming the YAML key.
func (r *Runner) Replay(ctx context.Context, candidate []byte, q alertgate.ReplayQuery) (*alertgate.ReplayReport, error) {
	if !r.busy.TryLock() {
		r.Metrics.ReplayRuns.WithLabelValues("busy").Inc()
		r.Logger.Warn("replay refused: another replay is running")
		return nil, ErrBusy
	}
	defer r.busy.Unlock()
	start := time.Now()
	rep, err := r.replay(ctx, candidate, q)
	took := time.Since(start)
	r.Metrics.ReplaySeconds.Observe(took.Seconds())
	switch {
	case alertgate.ErrorCode(err) == alertgate.EINVALID:
		r.Metrics.ReplayRuns.WithLabelValues("invalid").Inc()
		r.Logger.Info("replay refused: invalid candidate", "err", alertgate.ErrorMessage(err))
		return nil, err
	case err != nil:
		r.Metrics.ReplayRuns.WithLabelValues("failed").Inc()
		r.Logger.Error("replay failed", "err", err, "elapsed", took)
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "replay failed: the history could not be read (the gateway log has the error)")
	}
	rep.Elapsed = took
	result := "ok"
	if !rep.Exact {
		result = "mismatch"
	}
	r.Metrics.ReplayRuns.WithLabelValues(result).Inc()
	attrs := []any{"events", rep.Events, "in_window", rep.InWindow, "since", rep.Since, "until", rep.Until,
		"differences", rep.DifferencesTotal, "pages_compared", rep.PagesCompared, "findings", rep.FindingsTotal, "elapsed", took}
	if rep.Exact {
		r.Logger.Info("replay", attrs...)
	} else {
		// A human should look: the live config did not reproduce NOTIFY.
		r.Logger.Warn("replay: replaying the live config does not reproduce NOTIFY's pages (see docs/runbooks/alertgate-replay-mismatch.md)", attrs...)
	}
	return rep, nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// loadCandidate parses and validates the candidate and picks its
// runbooks: its runbooks_dir when the server has it, else the live set.
func (r *Runner) loadCandidate(b []byte) (*config.Config, *runbooks.Set, []string, error) {
	cfg, err := config.Load(b, os.LookupEnv)
	if err != nil {
		return nil, nil, nil, alertgate.Errorf(alertgate.EINVALID, "candidate config: %v", err)
	}
	live := r.Routes.Runbooks()
	if cfg.RunbookDir == r.Live.RunbookDir {
		return cfg, live, nil, nil
	}
	set, err := runbooks.LoadDir(cfg.RunbookDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cfg, live, []string{fmt.Sprintf("runbooks_dir %q is not on the server: the candidate was given the live runbooks (%q)", cfg.RunbookDir, r.Live.RunbookDir)}, nil
	case err != nil:
		return nil, nil, nil, alertgate.Errorf(alertgate.EINVALID, "candidate config: runbooks_dir: %v", err)
	}
	return cfg, set, nil, nil
}

// run is one replay in progress.
type run struct {
	win     window
	entries map[string]*entry
	sims    [2]*sim
	events  int64
	in      int64
}

func (r *Runner) replay(ctx context.Context, candidateYAML []byte, q alertgate.ReplayQuery) (*alertgate.ReplayReport, error) {
	cand, candRunbooks, notes, err := r.loadCandidate(candidateYAML)
	if err != nil {
		return nil, err
	}
	now := r.now()
	if q.Until.IsZero() || q.Until.After(now) {
		q.Until = now
	}
	if !q.Since.Before(q.Until) {
		return nil, alertgate.Errorf(alertgate.EINVALID, "since: %s is not before until %s", q.Since.UTC().Format(time.RFC3339), q.Until.UTC().Format(time.RFC3339))
	}
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	win := window{since: q.Since, until: q.Until}

	var sil Silences
	var bounds []time.Time
	if q.IgnoreSilences {
		notes = append(notes, "silences ignored: both configs decided as if none had existed, so the live side may differ from NOTIFY where a silence held a page")
	} else if r.Silences != nil {
		sil = r.Silences
		for _, s := range r.Silences.List("", now) {
			bounds = append(bounds, s.StartsAt, s.EndsAt)
		}
		slices.SortFunc(bounds, time.Time.Compare)
	}
	newSim := func(side int, cfg *config.Config, table *routes.Table) *sim {
		s := &sim{side: side, settings: dedup.SettingsOf(cfg.Dedup), win: win, bounds: bounds,
			inhibitor: inhibit.New(nil, inhibit.RulesOf(cfg.InhibitRules), r.Logger),
			watched:   map[*entry]struct{}{}, teams: map[string]*alertgate.ReplayCounts{}, routes: make([]int64, len(cfg.Routes))}
		s.holder = routes.Holder{Routes: table, Inhibitor: s.inhibitor}
		if sil != nil {
			s.holder.Silences = sil
		}
		return s
	}
	rn := &run{win: win, entries: map[string]*entry{}}
	rn.sims[live] = newSim(live, r.Live, r.Routes)
	rn.sims[candidate] = newSim(candidate, cand, routes.New(cand, candRunbooks))
	x := newExact()
	rn.sims[live].exact = x
	actual, err := r.readNotify(ctx, win, x)
	if err != nil {
		return nil, err
	}
	var undecodable int
	err = readStream(ctx, r.Bus.JS, bus.StreamAlerts, []string{bus.SubjectAlerts + ".>"}, func(data []byte) error {
		evs, err := bus.DecodeEvents(data)
		if err != nil {
			// The router terminated it too: it decided nothing.
			undecodable++
			return nil
		}
		for i := range evs {
			rn.event(ctx, evs[i])
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	// The re-checks the router ran after the last event, up to now.
	end := q.Until.Add(-time.Nanosecond)
	for _, s := range rn.sims {
		s.advance(end)
	}
	if undecodable > 0 {
		notes = append(notes, fmt.Sprintf("%d undecodable ALERTS message(s) skipped, as the router skipped them", undecodable))
	}
	if err := x.finish(ctx, r, win); err != nil {
		return nil, err
	}
	rep := rn.report(q, cand, r.Live, actual)
	rep.Notes = append(rep.Notes, notes...)
	x.report(rep, q.Limit)
	return rep, nil
}

// event decides one stored event under both configs.
func (rn *run) event(ctx context.Context, ev alertgate.Event) {
	t := routes.EventTime(ev)
	in := rn.win.contains(t)
	rn.events++
	if in {
		rn.in++
	}
	for _, s := range rn.sims {
		s.advance(t)
	}
	e := rn.entries[ev.Key]
	if e == nil {
		e = &entry{key: ev.Key}
		rn.entries[ev.Key] = e
	}
	if ev.Title != "" {
		e.title = ev.Title
	}
	// Classify writes the kind into the labels: each config gets its own.
	other := ev
	other.Labels = maps.Clone(ev.Labels)
	l := rn.sims[live].decide(ctx, e, ev, in)
	c := rn.sims[candidate].decide(ctx, e, other, in)
	if in && e.rule == "" && differs(l, c) {
		e.rule = rule(l, c)
	}
}

// readNotify counts what NOTIFY recorded in the window, per team, and
// notes its pages in x. A notification stored twice (digest items carry no
// Msg-Id; a dead letter replayed) counts once.
func (r *Runner) readNotify(ctx context.Context, win window, x *exact) (map[string]*alertgate.ReplayCounts, error) {
	teams := map[string]*alertgate.ReplayCounts{}
	seed := maphash.MakeSeed()
	seen := map[uint64]struct{}{}
	subjects := []string{bus.NotifySubject(alertgate.SinkPagerDuty, ">"), bus.NotifySubject(alertgate.SinkSlack, ">")}
	err := readStream(ctx, r.Bus.JS, bus.StreamNotify, subjects, func(data []byte) error {
		var n alertgate.Notification
		if err := wire.Unmarshal(data, &n); err != nil || !win.contains(n.CreatedAt) {
			return nil
		}
		k := kindOf(&n)
		if k == notCounted {
			return nil
		}
		h := maphash.String(seed, n.ID)
		if _, dup := seen[h]; dup {
			return nil
		}
		seen[h] = struct{}{}
		c := teams[n.Team]
		if c == nil {
			c = &alertgate.ReplayCounts{}
			teams[n.Team] = c
		}
		add(c, &n, k)
		if k == page {
			x.recorded(&n)
		}
		return ctx.Err()
	})
	return teams, err
}

// report is the replay's answer, findings aside.
func (rn *run) report(q alertgate.ReplayQuery, cand, liveCfg *config.Config, actual map[string]*alertgate.ReplayCounts) *alertgate.ReplayReport {
	rep := &alertgate.ReplayReport{Since: q.Since, Until: q.Until, IgnoreSilences: q.IgnoreSilences, Events: rn.events, InWindow: rn.in,
		Teams: map[string]alertgate.ReplayTeam{}, Differences: []alertgate.ReplayDifference{}, Findings: []alertgate.ReplayFinding{}}
	team := func(name string) alertgate.ReplayTeam { return rep.Teams[name] }
	for _, t := range liveCfg.Teams {
		rep.Teams[t.Name] = team(t.Name)
	}
	for _, t := range cand.Teams {
		rep.Teams[t.Name] = team(t.Name)
	}
	for name, c := range actual {
		t := team(name)
		t.Actual = *c
		rep.Teams[name] = t
	}
	for name, c := range rn.sims[candidate].teams {
		t := team(name)
		t.Candidate = *c
		rep.Teams[name] = t
	}
	rep.Routes = alertgate.ReplayRoutes{Actual: routeViews(liveCfg.Routes, rn.sims[live].routes), Candidate: routeViews(cand.Routes, rn.sims[candidate].routes)}

	// The differences by key, at most Limit of them held at once.
	top := dedup.NewTop(func(a, b *entry) int { return cmp.Compare(a.key, b.key) }, q.Limit)
	for _, e := range rn.entries {
		if e.sides[live].sum != e.sides[candidate].sum {
			top.Add(e)
		}
	}
	pg := top.Page()
	rep.DifferencesTotal = pg.Total
	for _, e := range pg.Items {
		why := e.rule
		if why == "" {
			why = "the key's state from before the window, or a re-check of its held page"
		}
		rep.Differences = append(rep.Differences, alertgate.ReplayDifference{Key: e.key, Title: e.title,
			Actual: e.sides[live].sum.String(), Candidate: e.sides[candidate].sum.String(), Rule: why})
	}
	return rep
}
