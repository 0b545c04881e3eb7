package replay

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/inhibit"
	"github.com/alertgate/alertgate/routes"
)

// The two configs a replay runs, as indexes of entry.sides and run.sims.
const (
	live = iota
	candidate
)

// window is the part of the history a replay counts: [since, until).
type window struct{ since, until time.Time }

func (w window) contains(t time.Time) bool { return !t.Before(w.since) && t.Before(w.until) }

// entry is everything a replay keeps of one key: its state under each
// config, what each sent in the window, and the rule behind the first
// difference. Nothing is kept per event.
type entry struct {
	key   string
	title string
	sides [2]keyState
	rule  string
}

// keyState is one key's state under one config, as the policy's buckets
// would hold it, with the time of its last write (its TTL runs from it).
type keyState struct {
	inc   *dedup.Incident
	incAt time.Time
	bug   *dedup.Bug
	bugAt time.Time
	sum   tally
}

// holdReasons are the hold reasons in the order they are reported.
var holdReasons = [...]string{alertgate.HoldDigestOnly, alertgate.HoldSilenced, alertgate.HoldInhibited, alertgate.HoldMutedTime, alertgate.HoldFlapping}

func holdIndex(reason string) int {
	for i, r := range holdReasons {
		if r == reason {
			return i
		}
	}
	return -1
}

// tally is what one key sent in the window under one config; comparable,
// so that two configs' tallies differ exactly when the outcome does.
type tally struct {
	pages, resolves, bugs int32
	held                  [len(holdReasons)]int32
	// team is the team of the key's last notification.
	team string
}

// String says what the tally sent: "paged 2×, resolved 2× to payments".
func (t tally) String() string {
	var parts []string
	if t.pages > 0 {
		parts = append(parts, fmt.Sprintf("paged %d×", t.pages))
	}
	if t.resolves > 0 {
		parts = append(parts, fmt.Sprintf("resolved %d×", t.resolves))
	}
	if t.bugs > 0 {
		parts = append(parts, fmt.Sprintf("bug notification %d×", t.bugs))
	}
	for i, n := range t.held {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("held %d× (%s)", n, holdReasons[i]))
		}
	}
	if len(parts) == 0 {
		return "nothing sent"
	}
	s := strings.Join(parts, ", ")
	if t.team != "" {
		s += " to " + t.team
	}
	return s
}

// what a notification counts as in a replay's counts.
type what int

const (
	notCounted what = iota
	page
	resolve
	bugNotification
	held
)

// kindOf is what n counts as: a page or resolve to PagerDuty, a bug
// notification for the digest, or a page (or bug notification) held. The
// digest item of a held episode's resolve is not counted: its page was.
func kindOf(n *alertgate.Notification) what {
	switch {
	case n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypePage:
		return page
	case n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypeResolve:
		return resolve
	case n.Sink != alertgate.SinkSlack:
		return notCounted
	case n.Hold != nil:
		if n.Event.Status == alertgate.StatusFiring {
			return held
		}
	case n.Type == alertgate.TypeBugNew, n.Type == alertgate.TypeBugRegression, n.Type == alertgate.TypeBugSpike:
		return bugNotification
	}
	return notCounted
}

// add counts n, of kind k, in c.
func add(c *alertgate.ReplayCounts, n *alertgate.Notification, k what) {
	switch k {
	case page:
		c.Pages++
		if n.Runbook == nil {
			c.PagesWithoutRunbook++
		}
	case resolve:
		c.Resolves++
	case bugNotification:
		c.BugNotifications++
	case held:
		c.Held++
		if c.HeldByReason == nil {
			c.HeldByReason = map[string]int{}
		}
		c.HeldByReason[n.Hold.Reason]++
	}
}

// sim decides the history under one config, as the router would have:
// the same matching and holds (routes.Holder), the same pure decisions
// (dedup), the state TTLs, an inhibitor in memory fed by the decisions,
// and the router's re-check of held keys, run in event time.
type sim struct {
	side      int
	holder    routes.Holder
	inhibitor *inhibit.Inhibitor
	settings  dedup.Settings
	win       window
	// bounds are the start and end times of every silence, sorted: a
	// silenced page can only be released at one of them.
	bounds []time.Time

	// watched are the keys with a hold the re-check visits; due is when
	// the next re-check runs (zero: none).
	watched map[*entry]struct{}
	due     time.Time

	teams  map[string]*alertgate.ReplayCounts
	routes []int64
	// exact checks the pages of the window against NOTIFY's (the live
	// config's only).
	exact *exact
}

// step is one event's decision under one config, compared with the
// other's for the rule that made a difference.
type step struct {
	kind alertgate.Kind
	m    alertgate.Match
	d    dedup.Decision
}

// expired reports whether a state last written at written with ttl is
// gone at t, as JetStream removes it.
func expired(ttl time.Duration, written, t time.Time) bool {
	return ttl > 0 && t.Sub(written) >= ttl
}

// decide decides ev, of the key of e, and counts what it sends.
func (s *sim) decide(ctx context.Context, e *entry, ev alertgate.Event, in bool) step {
	m := s.holder.Match(&ev)
	if in && m.Route >= 0 && m.Route < len(s.routes) {
		s.routes[m.Route]++
	}
	ks := &e.sides[s.side]
	t := routes.EventTime(ev)
	var d dedup.Decision
	if ev.Kind == alertgate.KindIncident {
		st := ks.inc
		if st != nil && expired(s.settings.IncidentStateTTL(st), ks.incAt, t) {
			st = nil
		}
		next, dd := dedup.DecideIncident(st, ev, m, s.settings)
		ks.inc, ks.incAt, d = next, t, dd
		s.watch(e, next, t)
		// As the router's afterDecision: a source's firing is shared at
		// once; the keys it inhibited are re-checked when it stops.
		if s.inhibitor.IsSource(ev.Labels) {
			_ = s.inhibitor.Observe(ctx, ev.Key, ev.Title, ev.Labels, next.Firing())
			if !next.Firing() {
				s.wake(t)
			}
		}
	} else {
		st := ks.bug
		if st != nil && expired(s.settings.BugStateTTL(st), ks.bugAt, t) {
			st = nil
		}
		next, dd := dedup.DecideBug(st, ev, m, s.settings)
		ks.bug, ks.bugAt, d = next, t, dd
	}
	s.count(e, d.Notifications)
	return step{kind: ev.Kind, m: m, d: d}
}

// count counts the notifications of the window.
func (s *sim) count(e *entry, ns []alertgate.Notification) {
	for i := range ns {
		n := &ns[i]
		if !s.win.contains(n.CreatedAt) {
			continue
		}
		k := kindOf(n)
		if k == notCounted {
			continue
		}
		c := s.teams[n.Team]
		if c == nil {
			c = &alertgate.ReplayCounts{}
			s.teams[n.Team] = c
		}
		add(c, n, k)
		sum := &e.sides[s.side].sum
		sum.team = n.Team
		switch k {
		case page:
			sum.pages++
			if s.exact != nil {
				s.exact.made(n)
			}
		case resolve:
			sum.resolves++
		case bugNotification:
			sum.bugs++
		case held:
			if i := holdIndex(n.Hold.Reason); i >= 0 {
				sum.held[i]++
			}
		}
	}
}

// watch keeps the re-check's index as the router's index does: a key is
// in it while its state is watched.
func (s *sim) watch(e *entry, st *dedup.Incident, t time.Time) {
	if !st.Watched() {
		delete(s.watched, e)
		return
	}
	s.watched[e] = struct{}{}
	s.wake(s.dueOf(st, t))
}

// wake makes the re-check run at t, if not earlier.
func (s *sim) wake(t time.Time) {
	if !t.IsZero() && (s.due.IsZero() || t.Before(s.due)) {
		s.due = t
	}
}

// dueOf is the first time after t at which a hold of st can change by
// itself: a silence starting or ending, a minute boundary for a time
// interval, a flapping incident's quiet period ending. Zero: only an
// event can change it (an inhibiting incident resolving wakes the
// re-check itself).
func (s *sim) dueOf(st *dedup.Incident, t time.Time) time.Time {
	var due time.Time
	earliest := func(c time.Time) {
		if !c.IsZero() && c.After(t) && (due.IsZero() || c.Before(due)) {
			due = c
		}
	}
	if f := st.Flap; f != nil {
		earliest(f.ResolveDue)
	}
	for _, ep := range st.Episodes {
		if ep.Status != dedup.EpisodeOpen || ep.Paged || ep.Hold == nil {
			continue
		}
		switch ep.Hold.Reason {
		case alertgate.HoldSilenced:
			if i := sort.Search(len(s.bounds), func(i int) bool { return s.bounds[i].After(t) }); i < len(s.bounds) {
				earliest(s.bounds[i])
			}
		case alertgate.HoldMutedTime:
			// Time intervals are minutes (Alertmanager's): a hold of one
			// changes only on a minute.
			earliest(t.Truncate(time.Minute).Add(time.Minute))
		}
	}
	return due
}

// advance runs the re-checks due up to t, as the router's ticker would
// have between the events.
func (s *sim) advance(t time.Time) {
	for !s.due.IsZero() && !s.due.After(t) {
		s.recheck(s.due)
	}
}

// recheck re-decides every watched key at now (dedup.DecideHeld, as
// Policy.Recheck), and finds when the next re-check is due.
func (s *sim) recheck(now time.Time) {
	var due time.Time
	for e := range s.watched {
		ks := &e.sides[s.side]
		st := ks.inc
		if st == nil || expired(s.settings.IncidentStateTTL(st), ks.incAt, now) {
			delete(s.watched, e)
			continue
		}
		next, d := dedup.DecideHeld(st, now, s.holder.MatchHeld(st, now), s.settings)
		if next != nil {
			ks.inc, ks.incAt, st = next, now, next
			s.count(e, d.Notifications)
		}
		if !st.Watched() {
			delete(s.watched, e)
			continue
		}
		if d := s.dueOf(st, now); !d.IsZero() && (due.IsZero() || d.Before(due)) {
			due = d
		}
	}
	s.due = due
}
