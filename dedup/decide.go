package dedup

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
)

// Decision is what the policy decided for one event.
type Decision struct {
	Kind          alertgate.Kind           `json:"kind"`
	Outcome       string                   `json:"outcome"`
	Reason        string                   `json:"reason"`
	Notifications []alertgate.Notification `json:"notifications,omitempty"`
	// Watch: after the decision the key has a hold the router re-checks
	// (Incident.Watched); Watched: it had one before. Firing: the key has
	// an open episode after it (an inhibit source while it does).
	Watch   bool `json:"-"`
	Watched bool `json:"-"`
	Firing  bool `json:"-"`
	// Since is, after the decision, when the key's newest open episode
	// opened (an incident) or when the class was first seen (a bug).
	Since time.Time `json:"-"`
}

// Settings are the policy's knobs (config dedup:).
type Settings struct {
	SpikeCount  int64
	SpikeWithin time.Duration
	// ReopenAfter: a firing for a resolved episode is a late re-send when it
	// comes within this long after the resolve, and a new cycle of that
	// episode after it (for sources that reuse episode ids).
	ReopenAfter time.Duration
	// BugClassTTL: a bug class unseen this long is forgotten (0: never).
	// One with an open page_bugs page is kept until it is resolved.
	BugClassTTL time.Duration
	// IncidentTTL: an incident key with no open episode this long is
	// forgotten (0: never). One with an open episode is always kept.
	IncidentTTL time.Duration
	// Flapping (dedup.flapping; FlapEpisodes 0: off): a key that opened
	// FlapEpisodes episodes within FlapWithin is flapping; its next
	// episodes continue its open PagerDuty incident, whose resolve waits
	// until the key has been quiet for FlapQuiet.
	FlapEpisodes int
	FlapWithin   time.Duration
	FlapQuiet    time.Duration
}

// SettingsOf are the policy's settings from the config's dedup section.
func SettingsOf(c config.Dedup) Settings {
	s := Settings{
		SpikeCount: int64(c.BugSpike.Count), SpikeWithin: c.BugSpike.Within.D(),
		ReopenAfter: c.DuplicateWindow.D(),
		BugClassTTL: c.BugClassTTL.D(), IncidentTTL: c.IncidentTTL.D(),
	}
	if f := c.Flapping; f != nil {
		s.FlapEpisodes, s.FlapWithin, s.FlapQuiet = f.Episodes, f.Within.D(), f.Quiet.D()
	}
	return s
}

// DedupKey is PagerDuty's dedup_key for an episode: readable where it fits
// (key/episode-hash), a hash where the key is long. Always ≤255 characters.
func DedupKey(key, episode string) string {
	h := alertgate.Hash(episode)[:16]
	if len(key) > 200 {
		return "alertgate:" + alertgate.Hash(key) + "/" + h
	}
	return key + "/" + h
}

func eventTime(ev alertgate.Event) time.Time {
	if !ev.ReceivedAt.IsZero() {
		return ev.ReceivedAt
	}
	return ev.OccurredAt
}

// stamp tells apart the notifications of a bug class forgotten (its TTL)
// and seen again: they would otherwise repeat the first life's IDs
// ("bug_new:<key>" again), and a sink finding such an ID in its log (kept
// for retention) would take it for sent. It is the class's first
// occurrence, a time of the stored state, so a decision re-emitted keeps
// its IDs. Incident IDs have none, so that the same firing decided from
// the same state gives the same ID whichever copy of it came: sources make
// a new episode id per firing, and one that reuses its ids gets a new
// cycle while the key is remembered (the README asks to keep incident_ttl
// above retention for a source reusing them after that).
func stamp(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

func notification(id string, sink alertgate.Sink, team string, typ alertgate.NotificationType, ev alertgate.Event, reason string) alertgate.Notification {
	return alertgate.Notification{
		ID: id, Sink: sink, Team: team, Type: typ, Key: ev.Key, Episode: ev.Episode,
		Event: ev, Reason: reason, CreatedAt: eventTime(ev),
	}
}

// DecideIncident applies the incident rule. st is nil for a key never seen.
// It returns the next state and the decision; it never mutates st.
func DecideIncident(st *Incident, ev alertgate.Event, m alertgate.Match, s Settings) (*Incident, Decision) {
	next := &Incident{Key: ev.Key, Source: ev.Source}
	if st != nil {
		*next = *st
		next.Episodes = append([]Episode(nil), st.Episodes...)
	}
	next.Title, next.Service, next.Severity = ev.Title, ev.Service, ev.Severity
	if next.Team == "" || ev.Status == alertgate.StatusFiring {
		next.Team = m.Team
	}
	d := Decision{Kind: alertgate.KindIncident}
	at := eventTime(ev)
	idx := -1
	for i := range next.Episodes {
		if next.Episodes[i].ID == ev.Episode {
			idx = i
		}
	}
	switch ev.Status {
	case alertgate.StatusFiring:
		switch {
		case idx >= 0 && next.Episodes[idx].Status == EpisodeOpen && next.Episodes[idx].Hold != nil:
			held := next.Episodes[idx].Hold
			d.Outcome, d.Reason = OutcomeDuplicate, "episode already open, its page held ("+held.Reason+": "+held.Detail+"): a re-send"
			next.Last = last(ev, d, m)
			next.Last.Hold = held
			return next, d
		case idx >= 0 && next.Episodes[idx].Status == EpisodeOpen:
			d.Outcome, d.Reason = OutcomeDuplicate, "episode already open and paged: a re-send"
		case idx >= 0 && at.Sub(next.Episodes[idx].ResolvedAt) < s.ReopenAfter:
			d.Outcome, d.Reason = OutcomeStale, fmt.Sprintf("episode was resolved %s ago: a late re-send", at.Sub(next.Episodes[idx].ResolvedAt).Round(time.Second))
		default:
			ep := Episode{ID: ev.Episode, Status: EpisodeOpen, Cycle: 1, OpenedAt: at, DedupKey: DedupKey(ev.Key, ev.Episode), Paged: true, Team: m.Team}
			reason := "new firing episode"
			if idx >= 0 {
				ep.Cycle = next.Episodes[idx].Cycle + 1
				reason = fmt.Sprintf("episode reopened (cycle %d) after being resolved", ep.Cycle)
				next.Episodes = append(next.Episodes[:idx], next.Episodes[idx+1:]...)
			}
			if m.Runbook != nil {
				ep.Runbook = m.Runbook.URL
			}
			flapping := s.flapping(next.Episodes, at)
			switch {
			case next.Flap != nil:
				// The key is flapping: this episode continues its open
				// PagerDuty incident instead of opening another.
				f := *next.Flap
				f.Episodes++
				f.ResolveDue = time.Time{}
				next.Flap = &f
				ep.Paged, ep.DedupKey, ep.Team = false, f.DedupKey, f.Team
				ep.Hold = &alertgate.Hold{Reason: alertgate.HoldFlapping, By: f.DedupKey, Rule: "dedup.flapping",
					Detail: fmt.Sprintf("flapping since %s (%d episodes): continues the open PagerDuty incident %s", f.Since.UTC().Format(time.RFC3339), f.Episodes, f.DedupKey)}
				d.Outcome, d.Reason = OutcomeFlapping, reason+": "+ep.Hold.Detail
				d.Notifications = []alertgate.Notification{heldItem(ev, m.Team, ep, d.Reason)}
			case m.Hold != nil:
				ep.Paged, ep.Hold = false, m.Hold
				held := ev
				ep.Event = &held
				d.Outcome, d.Reason = m.Hold.Reason, reason+", held: "+m.Hold.Detail
				d.Notifications = []alertgate.Notification{heldItem(ev, m.Team, ep, d.Reason)}
			default:
				d.Outcome, d.Reason = OutcomePaged, reason
				if flapping {
					next.Flap = &Flap{Since: at, Episode: ep.ID, Cycle: ep.Cycle, DedupKey: ep.DedupKey, Team: m.Team, Episodes: 1}
					d.Reason += fmt.Sprintf("; the key is flapping (%d episodes within %s): its next episodes continue this incident, resolved after %s quiet", s.FlapEpisodes, s.FlapWithin, s.FlapQuiet)
				}
				id := fmt.Sprintf("page:%s:%s:%d", ev.Key, ev.Episode, ep.Cycle)
				page := notification(id, alertgate.SinkPagerDuty, m.Team, alertgate.TypePage, ev, d.Reason)
				page.DedupKey, page.Runbook = ep.DedupKey, m.Runbook
				// The team's digest reads the page itself: no second message.
				d.Notifications = []alertgate.Notification{page}
			}
			next.Episodes = appendEpisode(next.Episodes, ep)
		}
	case alertgate.StatusResolved:
		switch {
		case idx < 0:
			// Remember it so a late firing of the same episode does not page.
			next.Episodes = appendEpisode(next.Episodes, Episode{ID: ev.Episode, Status: EpisodeResolved, OpenedAt: at, ResolvedAt: at, DedupKey: DedupKey(ev.Key, ev.Episode)})
			d.Outcome, d.Reason = OutcomeUnknown, "resolve of an episode never seen firing: nothing was paged, nothing to resolve"
		case next.Episodes[idx].Status == EpisodeResolved:
			d.Outcome, d.Reason = OutcomeDuplicate, "episode already resolved: a re-send"
		default:
			ep := next.Episodes[idx]
			ep.Status, ep.ResolvedAt, ep.Event = EpisodeResolved, at, nil
			next.Episodes[idx] = ep
			after := at.Sub(ep.OpenedAt).Round(time.Second)
			switch {
			case next.Flap != nil && ep.DedupKey == next.Flap.DedupKey:
				// The flapping incident's resolve waits for quiet.
				d.Outcome = OutcomeFlapping
				d.Reason = fmt.Sprintf("source resolved the episode after %s; the key is flapping: PagerDuty's incident stays open until no episode fires for %s", after, s.FlapQuiet)
				if !next.Firing() {
					f := *next.Flap
					f.ResolveDue = at.Add(s.FlapQuiet)
					next.Flap = &f
					d.Reason += fmt.Sprintf(" (resolve due %s)", f.ResolveDue.UTC().Format(time.RFC3339))
				}
				d.Notifications = []alertgate.Notification{heldItem(ev, next.Team, ep, d.Reason)}
			case !ep.Paged:
				// Held, never paged: PagerDuty gets nothing, never a resolve
				// without its trigger. The digest lists the resolve.
				d.Outcome = OutcomeResolved
				d.Reason = fmt.Sprintf("source resolved the episode after %s while its page was held (%s): nothing was paged, nothing to resolve", after, holdReason(ep.Hold))
				d.Notifications = []alertgate.Notification{heldItem(ev, next.Team, ep, d.Reason)}
			default:
				d.Outcome = OutcomeResolved
				d.Reason = fmt.Sprintf("source resolved the episode after %s", after)
				id := fmt.Sprintf("resolve:%s:%s:%d", ev.Key, ev.Episode, ep.Cycle)
				team := ep.Team
				if team == "" {
					team = next.Team
				}
				res := notification(id, alertgate.SinkPagerDuty, team, alertgate.TypeResolve, ev, d.Reason)
				res.DedupKey = ep.DedupKey
				d.Notifications = []alertgate.Notification{res}
			}
		}
	default:
		d.Outcome, d.Reason = OutcomeDuplicate, fmt.Sprintf("status %q means nothing for an incident", ev.Status)
	}
	next.Last = last(ev, d, m)
	return next, d
}

// flapping reports whether a new episode opening at makes the key flapping:
// with it, FlapEpisodes episodes opened within FlapWithin.
func (s Settings) flapping(eps []Episode, at time.Time) bool {
	if s.FlapEpisodes < 2 {
		return false
	}
	n := 1
	for _, e := range eps {
		if at.Sub(e.OpenedAt) < s.FlapWithin {
			n++
		}
	}
	return n >= s.FlapEpisodes
}

// heldItem is the digest item of an episode whose page (or resolve) is
// held: the team's digest lists it, with why.
func heldItem(ev alertgate.Event, team string, ep Episode, reason string) alertgate.Notification {
	id := fmt.Sprintf("held:%s:%s:%d:%s", ev.Key, ev.Episode, ep.Cycle, ev.Status)
	n := notification(id, alertgate.SinkSlack, team, alertgate.TypeIncident, ev, reason)
	n.DedupKey, n.Hold = ep.DedupKey, ep.Hold
	return n
}

func holdReason(h *alertgate.Hold) string {
	if h == nil {
		return "held"
	}
	return h.Reason
}

// appendEpisode keeps the newest maxEpisodes, dropping resolved ones first.
func appendEpisode(eps []Episode, ep Episode) []Episode {
	eps = append(eps, ep)
	for len(eps) > maxEpisodes {
		drop := 0
		for i, e := range eps {
			if e.Status == EpisodeResolved {
				drop = i
				break
			}
		}
		eps = append(eps[:drop], eps[drop+1:]...)
	}
	return eps
}

func last(ev alertgate.Event, d Decision, m alertgate.Match) Last {
	l := Last{EventID: ev.ID, Outcome: d.Outcome, Reason: d.Reason, Route: m.Route, At: eventTime(ev), Transition: ev.Transition, Episode: ev.Episode, Labels: ev.Labels}
	if m.Runbook != nil {
		l.Runbook = m.Runbook.URL
	}
	if m.Hold != nil && d.Outcome == m.Hold.Reason {
		l.Hold = m.Hold
	}
	return l
}

// DecideBug applies the bug-class rule. st is nil for a class never seen.
func DecideBug(st *Bug, ev alertgate.Event, m alertgate.Match, s Settings) (*Bug, Decision) {
	if st != nil && ev.ID != "" && st.Last.EventID == ev.ID {
		// The same occurrence again: a redelivery after its decision was
		// stored (a crash before the acknowledgement, or another event of
		// the same ALERTS message failing). Counting it would count twice.
		next := *st
		d := Decision{Kind: alertgate.KindBug, Outcome: OutcomeDuplicate,
			Reason: "this occurrence was already decided (delivered again): not counted twice"}
		next.Last = last(ev, d, m)
		return &next, d
	}
	at := eventTime(ev)
	next := &Bug{Key: ev.Key, Source: ev.Source, FirstSeen: at, Status: BugOpen}
	if st != nil {
		*next = *st
	}
	if ev.Title != "" {
		next.Title = ev.Title
	}
	if ev.Service != "" {
		next.Service = ev.Service
	}
	if len(ev.Links) > 0 {
		next.Links = ev.Links
	}
	next.Team, next.Severity = m.Team, ev.Severity
	d := Decision{Kind: alertgate.KindBug}
	var typ alertgate.NotificationType
	var id string

	switch ev.Status {
	case alertgate.StatusFiring:
		next.Count += int64(ev.Count)
		if at.After(next.LastSeen) {
			next.LastSeen = at
		}
		// The spike window restarts once it is older than SpikeWithin.
		if next.WindowStart.IsZero() || at.Sub(next.WindowStart) >= s.SpikeWithin {
			next.WindowStart, next.WindowCount, next.SpikeNotified = at, 0, false
		}
		next.WindowCount += int64(ev.Count)
		switch {
		// Muted comes first: a class first seen muted (never announced)
		// stays silent until the source unmutes it, and is announced then.
		case next.Status == BugMuted && !unmutes(ev):
			d.Outcome, d.Reason = OutcomeMuted, "class is muted at the source: counted only"
		case !next.Notified:
			next.Notified, next.Status = true, BugOpen
			d.Outcome, d.Reason = OutcomeNew, "first occurrence of this bug class"
			typ, id = alertgate.TypeBugNew, fmt.Sprintf("bug_new:%s:%s", ev.Key, stamp(next.FirstSeen))
		case next.Status == BugResolved:
			next.Status = BugOpen
			next.Regressions++
			d.Outcome = OutcomeRegression
			d.Reason = fmt.Sprintf("occurred again after being resolved (regression %d)", next.Regressions)
			typ, id = alertgate.TypeBugRegression, fmt.Sprintf("bug_regression:%s:%d:%s", ev.Key, next.Resolutions, stamp(next.FirstSeen))
		case next.Status == BugMuted: // and the event unmutes it
			next.Status = BugOpen
			d.Outcome, d.Reason = OutcomeUnmuted, "the source unresolved a muted class: counted, notifications resume"
		case !next.SpikeNotified && next.WindowCount >= s.SpikeCount:
			next.SpikeNotified = true
			next.Spikes++
			d.Outcome = OutcomeSpike
			d.Reason = fmt.Sprintf("%d occurrences within %s (threshold %d)", next.WindowCount, s.SpikeWithin, s.SpikeCount)
			typ, id = alertgate.TypeBugSpike, fmt.Sprintf("bug_spike:%s:%d", ev.Key, next.WindowStart.UnixNano())
		default:
			d.Outcome, d.Reason = OutcomeCounted, fmt.Sprintf("occurrence %d of a known class: counted for the digest", next.Count)
		}
	case alertgate.StatusResolved:
		if next.Status == BugResolved {
			d.Outcome, d.Reason = OutcomeDuplicate, "class already resolved"
			break
		}
		next.Status = BugResolved
		next.Resolutions++
		d.Outcome, d.Reason = OutcomeBugClosed, "resolved at the source: the next occurrence is a regression"
		if next.PageDedupKey != "" {
			team := next.PageTeam
			if team == "" {
				team = m.Team
			}
			n := notification(fmt.Sprintf("bug_resolve:%s:%d:%s", ev.Key, next.Resolutions, stamp(next.FirstSeen)), alertgate.SinkPagerDuty, team, alertgate.TypeResolve, ev, d.Reason)
			n.DedupKey = next.PageDedupKey
			next.PageDedupKey, next.PageTeam = "", ""
			d.Notifications = append(d.Notifications, n)
		}
	case alertgate.StatusMuted:
		if next.Status == BugMuted {
			d.Outcome, d.Reason = OutcomeDuplicate, "class already muted"
			break
		}
		next.Status = BugMuted
		d.Outcome, d.Reason = OutcomeMuted, "muted at the source until it is unresolved"
	}
	if typ != "" && m.Hold != nil && m.Hold.Reason == alertgate.HoldSilenced {
		// A silence holds the notification: the class stays as if it had
		// not been announced, so its next occurrence after the silence
		// notifies. The digest lists it as held, once per silence.
		switch typ {
		case alertgate.TypeBugNew:
			next.Notified = false
		case alertgate.TypeBugRegression:
			next.Status = BugResolved
			next.Regressions--
		case alertgate.TypeBugSpike:
			next.SpikeNotified = false
			next.Spikes--
		}
		d.Reason = fmt.Sprintf("%s (%s), held: %s", d.Outcome, d.Reason, m.Hold.Detail)
		d.Outcome = OutcomeSilenced
		if next.HeldBy != m.Hold.By {
			next.HeldBy = m.Hold.By
			held := notification("held:"+id+":"+m.Hold.By, alertgate.SinkSlack, m.Team, typ, ev, d.Reason)
			held.Hold = m.Hold
			d.Notifications = append(d.Notifications, held)
		}
		typ = ""
	}
	if typ != "" {
		digest := notification("digest:"+id, alertgate.SinkSlack, m.Team, typ, ev, d.Reason)
		digest.Runbook = m.Runbook
		d.Notifications = append(d.Notifications, digest)
		// page_bugs routes page new classes and regressions; spikes only
		// go to the digest, they are not a new problem.
		if m.PageBugs && typ != alertgate.TypeBugSpike {
			page := notification(id, alertgate.SinkPagerDuty, m.Team, alertgate.TypePage, ev, d.Reason)
			page.Runbook = m.Runbook
			page.DedupKey = DedupKey(ev.Key, fmt.Sprintf("bug:%d", next.Resolutions))
			page.Episode = ""
			next.PageDedupKey, next.PageTeam = page.DedupKey, m.Team
			d.Notifications = append(d.Notifications, page)
		}
	}
	next.Last = last(ev, d, m)
	return next, d
}

// unmutes reports whether a firing event is the source lifting a mute
// (Sentry's issue "unresolved" action) rather than one more occurrence.
func unmutes(ev alertgate.Event) bool {
	return ev.Transition == "issue.unresolved"
}

// DecideHeld re-checks, at now, the holds of an incident key the router
// watches (Incident.Watched). m is the key's match as of now, its Hold
// evaluated at now (nil: nothing holds it any more). An open episode whose
// page was held pages now if nothing holds it; a flapping incident quiet
// since its resolve came due is resolved. It never mutates st; it returns
// a nil state when nothing changed (nothing to write).
func DecideHeld(st *Incident, now time.Time, m alertgate.Match, s Settings) (*Incident, Decision) {
	next := *st
	next.Episodes = append([]Episode(nil), st.Episodes...)
	d := Decision{Kind: alertgate.KindIncident, Outcome: OutcomeDuplicate, Reason: "still held"}
	var reasons []string
	for i, ep := range next.Episodes {
		if ep.Status != EpisodeOpen || ep.Paged || ep.Hold == nil || ep.Hold.Reason == alertgate.HoldDigestOnly || ep.Hold.Reason == alertgate.HoldFlapping {
			continue
		}
		if m.Hold != nil {
			if *m.Hold != *ep.Hold {
				ep.Hold = m.Hold
				next.Episodes[i] = ep
				reasons = append(reasons, "still held: "+m.Hold.Detail)
			}
			continue
		}
		ev := alertgate.Event{Key: st.Key, Episode: ep.ID, Source: st.Source, Kind: alertgate.KindIncident, Status: alertgate.StatusFiring, Title: st.Title}
		if ep.Event != nil {
			ev = *ep.Event
		}
		was := ep.Hold
		ep.Paged, ep.Hold, ep.Event, ep.Team = true, nil, nil, m.Team
		if m.Runbook != nil {
			ep.Runbook = m.Runbook.URL
		}
		next.Episodes[i] = ep
		reason := fmt.Sprintf("the hold ended (%s: %s) while the episode still fires: paged now", was.Reason, was.Detail)
		page := notification(fmt.Sprintf("page:%s:%s:%d", st.Key, ep.ID, ep.Cycle), alertgate.SinkPagerDuty, m.Team, alertgate.TypePage, ev, reason)
		page.DedupKey, page.Runbook, page.CreatedAt = ep.DedupKey, m.Runbook, now
		d.Notifications = append(d.Notifications, page)
		d.Outcome = OutcomePaged
		reasons = append(reasons, reason)
	}
	if f := next.Flap; f != nil && !f.ResolveDue.IsZero() && !now.Before(f.ResolveDue) && !next.Firing() {
		reason := fmt.Sprintf("flapping ended: no episode fired for %s after %d episodes", s.FlapQuiet, f.Episodes)
		ev := alertgate.Event{Key: st.Key, Episode: f.Episode, Source: st.Source, Kind: alertgate.KindIncident, Status: alertgate.StatusResolved, Title: st.Title, ReceivedAt: now}
		res := notification(fmt.Sprintf("resolve:%s:%s:%d", st.Key, f.Episode, f.Cycle), alertgate.SinkPagerDuty, f.Team, alertgate.TypeResolve, ev, reason)
		res.DedupKey, res.CreatedAt = f.DedupKey, now
		d.Notifications = append(d.Notifications, res)
		next.Flap = nil
		if d.Outcome != OutcomePaged {
			d.Outcome = OutcomeResolved
		}
		reasons = append(reasons, reason)
	}
	if len(reasons) == 0 {
		return nil, d
	}
	{
		d.Reason = strings.Join(reasons, "; ")
		next.Last = Last{EventID: "hold:" + now.UTC().Format(time.RFC3339Nano), Outcome: d.Outcome, Reason: d.Reason, Route: m.Route, At: now,
			Episode: st.Last.Episode, Labels: st.Last.Labels}
	}
	return &next, d
}
