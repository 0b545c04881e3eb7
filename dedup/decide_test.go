package dedup

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertgate/alertgate"
)

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// The TTLs make the policy tests write as the gateway does (with a TTL
	// when the key may expire); none expires during a test.
	testSettings = Settings{SpikeCount: 5, SpikeWithin: time.Hour, ReopenAfter: 20 * time.Minute, BugClassTTL: 24 * time.Hour, IncidentTTL: 24 * time.Hour}

	testRunbook = &alertgate.Runbook{ID: "checkout-high-error-rate", URL: "https://alertgate.example.com/runbooks/checkout-high-error-rate"}

	// Routes the scripted events land on.
	payments      = alertgate.Match{Route: 0, Team: "payments", Runbook: testRunbook}
	platform      = alertgate.Match{Route: 1, Team: "platform"}
	paymentsPages = alertgate.Match{Route: 2, Team: "payments", PageBugs: true, Runbook: testRunbook}
	platformPages = alertgate.Match{Route: 3, Team: "platform", PageBugs: true}
)

// life0 ends the IDs of the bug notifications of a class first seen at t0:
// a class forgotten and seen again gets IDs of its own.
var life0 = fmt.Sprintf(":%d", t0.UnixNano())

const (
	incKey = "alertmanager:v1:0335742509d16c93"
	bugKey = "sentry:v1:acme:issue:1170820242"
)

// incident is a firing or resolve of one episode of key at a time. The event
// ID changes with the time so that re-sends have IDs of their own, as they
// do when a source repeats itself.
func incident(key, episode string, status alertgate.Status, at time.Time) alertgate.Event {
	return alertgate.Event{
		ID:     fmt.Sprintf("am:%s:%s:%s:%d", key, episode, status, at.UnixNano()),
		Source: alertgate.SourceAlertmanager, Kind: alertgate.KindIncident,
		Key: key, Episode: episode, Status: status, Severity: alertgate.SeverityCritical,
		Title: "High error rate on checkout", Service: "checkout",
		Labels:     map[string]string{"alertname": "HighErrorRate", "service": "checkout"},
		OccurredAt: at, Count: 1,
	}
}

// bugEvents numbers bug events: each is an occurrence of its own, as each
// Sentry event is, even at the same time.
var bugEvents atomic.Int64

// bug is an event of a bug class; count is how many occurrences it stands for.
func bug(key string, status alertgate.Status, at time.Time, count int) alertgate.Event {
	return alertgate.Event{
		ID:     fmt.Sprintf("sentry:%s:%s:%d:%d", key, status, at.UnixNano(), bugEvents.Add(1)),
		Source: alertgate.SourceSentry, Kind: alertgate.KindBug,
		Key: key, Status: status, Severity: alertgate.SeverityError,
		Title: "ReferenceError: blooopy is not defined", Service: "front-end",
		Labels:     map[string]string{"service": "front-end"},
		OccurredAt: at, Count: count,
	}
}

// unresolved is Sentry's issue "unresolved" action: an occurrence that also
// lifts a mute.
func unresolved(key string, at time.Time) alertgate.Event {
	ev := bug(key, alertgate.StatusFiring, at, 1)
	ev.Transition = "issue.unresolved"
	return ev
}

// note summarizes one notification as "sink type team id dedup_key".
func note(sink alertgate.Sink, typ alertgate.NotificationType, team, id, dedupKey string) string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s", sink, typ, team, id, dedupKey))
}

func notes(ns []alertgate.Notification) string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = note(n.Sink, n.Type, n.Team, n.ID, n.DedupKey)
	}
	return strings.Join(out, "\n")
}

func cloneIncident(st *Incident) *Incident {
	if st == nil {
		return nil
	}
	c := *st
	c.Episodes = append([]Episode(nil), st.Episodes...)
	c.Last.Labels = maps.Clone(st.Last.Labels)
	return &c
}

func cloneBug(st *Bug) *Bug {
	if st == nil {
		return nil
	}
	c := *st
	c.Links = append([]alertgate.Link(nil), st.Links...)
	c.Last.Labels = maps.Clone(st.Last.Labels)
	return &c
}

// step is one event of a scripted sequence and what the policy must decide.
type step struct {
	name    string
	ev      alertgate.Event
	m       alertgate.Match
	outcome string
	notes   []string // note() of each notification, in order
	count   int64    // bugs: the class's Count after the step
}

// run feeds steps through decide, threading the state, and checks each
// decision. It also checks that no state handed to decide is ever changed,
// neither by that call nor by any later one (through shared slices or maps).
func run[S any](t *testing.T, steps []step, decide func(*S, alertgate.Event, alertgate.Match, Settings) (*S, Decision), clone func(*S) *S, last func(*S) Last, check func(t *testing.T, s step, st *S)) *S {
	t.Helper()
	var st *S
	type handed struct{ st, snapshot *S }
	var all []handed
	for i, s := range steps {
		snapshot := clone(st)
		next, d := decide(st, s.ev, s.m, testSettings)
		if !reflect.DeepEqual(st, snapshot) {
			t.Fatalf("step %d (%s): the state passed in was mutated:\n got %+v\nwant %+v", i, s.name, st, snapshot)
		}
		all = append(all, handed{st, snapshot})
		if got, want := d.Outcome, s.outcome; got != want {
			t.Fatalf("step %d (%s): outcome=%q (%s), want %q", i, s.name, got, d.Reason, want)
		}
		if got, want := notes(d.Notifications), strings.Join(s.notes, "\n"); got != want {
			t.Fatalf("step %d (%s): notifications=\n%s\nwant\n%s", i, s.name, got, want)
		}
		if got, want := last(next).Outcome, d.Outcome; got != want {
			t.Fatalf("step %d (%s): state's Last.Outcome=%q, want %q", i, s.name, got, want)
		}
		if got, want := last(next).EventID, s.ev.ID; got != want {
			t.Fatalf("step %d (%s): state's Last.EventID=%q, want %q", i, s.name, got, want)
		}
		if check != nil {
			check(t, s, next)
		}
		st = next
	}
	for i, h := range all {
		if !reflect.DeepEqual(h.st, h.snapshot) {
			t.Fatalf("state handed in at step %d was changed by a later step", i)
		}
	}
	return st
}

func incidentLast(s *Incident) Last { return s.Last }
func bugLast(s *Bug) Last           { return s.Last }

func TestDecideIncident(t *testing.T) {
	dk1, dk2, dk3 := DedupKey(incKey, "ep1"), DedupKey(incKey, "ep2"), DedupKey(incKey, "ep3")
	if dk1 == dk2 || dk2 == dk3 || dk1 == dk3 {
		t.Fatalf("dedup keys of distinct episodes collide: %q %q %q", dk1, dk2, dk3)
	}
	steps := []step{
		// A new episode pages the owning team once (the digest reads the page);
		// the IDs come from key, episode and cycle, not from the event.
		{name: "firing", ev: incident(incKey, "ep1", alertgate.StatusFiring, t0), m: payments, outcome: OutcomePaged, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "payments", "page:"+incKey+":ep1:1", dk1),
		}},
		// Alertmanager repeats the same firing: a re-send, never a second page.
		{name: "repeat", ev: incident(incKey, "ep1", alertgate.StatusFiring, t0.Add(time.Minute)), m: payments, outcome: OutcomeDuplicate},
		// The source resolves it: PagerDuty resolve with the page's dedup key.
		{name: "resolved", ev: incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(10*time.Minute)), m: payments, outcome: OutcomeResolved, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypeResolve, "payments", "resolve:"+incKey+":ep1:1", dk1),
		}},
		// The resolve re-sent: nothing more to resolve.
		{name: "resolved again", ev: incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(11*time.Minute)), m: payments, outcome: OutcomeDuplicate},
		// A firing of the resolved episode within ReopenAfter is a late re-send.
		{name: "late firing", ev: incident(incKey, "ep1", alertgate.StatusFiring, t0.Add(15*time.Minute)), m: payments, outcome: OutcomeStale},
		// A new episode of the same key pages again, with its own dedup key.
		{name: "new episode", ev: incident(incKey, "ep2", alertgate.StatusFiring, t0.Add(time.Hour)), m: payments, outcome: OutcomePaged, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "payments", "page:"+incKey+":ep2:1", dk2),
		}},
		// The route changed (config reload): the next episode pages the new team.
		{name: "episode on another route", ev: incident(incKey, "ep3", alertgate.StatusFiring, t0.Add(61*time.Minute)), m: platform, outcome: OutcomePaged, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "platform", "page:"+incKey+":ep3:1", dk3),
		}},
		// ep2 resolves while the route says platform: the resolve goes to the
		// team that was paged, or PagerDuty would never close the incident.
		{name: "resolve after route change", ev: incident(incKey, "ep2", alertgate.StatusResolved, t0.Add(65*time.Minute)), m: platform, outcome: OutcomeResolved, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypeResolve, "payments", "resolve:"+incKey+":ep2:1", dk2),
		}},
		// ep3 resolves to the team it paged.
		{name: "resolve ep3", ev: incident(incKey, "ep3", alertgate.StatusResolved, t0.Add(66*time.Minute)), m: platform, outcome: OutcomeResolved, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypeResolve, "platform", "resolve:"+incKey+":ep3:1", dk3),
		}},
		// "muted" means nothing for an incident.
		{name: "muted", ev: incident(incKey, "ep3", alertgate.StatusMuted, t0.Add(67*time.Minute)), m: platform, outcome: OutcomeDuplicate},
		// ep1 fires again long after its resolve (a source reusing episode
		// ids): cycle 2, a new notification ID. PagerDuty opens a new alert
		// for a dedup key whose alert is resolved, so the key may stay.
		{name: "reopened after ReopenAfter", ev: incident(incKey, "ep1", alertgate.StatusFiring, t0.Add(3*time.Hour)), m: payments, outcome: OutcomePaged, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "payments", "page:"+incKey+":ep1:2", dk1),
		}},
		// And its resolve is cycle 2's.
		{name: "cycle 2 resolved", ev: incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(4*time.Hour)), m: payments, outcome: OutcomeResolved, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypeResolve, "payments", "resolve:"+incKey+":ep1:2", dk1),
		}},
	}
	st := run(t, steps, DecideIncident, cloneIncident, incidentLast, nil)
	if got, want := len(st.Episodes), 3; got != want {
		t.Fatalf("len(Episodes)=%v, want %v", got, want)
	}
	if got, want := len(st.Open()), 0; got != want {
		t.Fatalf("len(Open())=%v, want %v", got, want)
	}
	for _, ep := range st.Episodes {
		if ep.ID == "ep1" {
			if got, want := ep.Cycle, 2; got != want {
				t.Fatalf("ep1 Cycle=%v, want %v", got, want)
			}
		}
	}
}

func TestDecideIncidentOutOfOrder(t *testing.T) {
	steps := []step{
		// A resolve of an episode never seen firing: nothing was paged.
		{name: "resolve first", ev: incident(incKey, "ep9", alertgate.StatusResolved, t0), m: payments, outcome: OutcomeUnknown},
		// Its firing arrives late, within ReopenAfter: no page for an episode
		// that is already over.
		{name: "late firing", ev: incident(incKey, "ep9", alertgate.StatusFiring, t0.Add(2*time.Minute)), m: payments, outcome: OutcomeStale},
		// The resolve re-sent.
		{name: "resolve again", ev: incident(incKey, "ep9", alertgate.StatusResolved, t0.Add(3*time.Minute)), m: payments, outcome: OutcomeDuplicate},
		// A firing after ReopenAfter is a real new firing: cycle 1, as the
		// episode never paged before.
		{name: "firing after ReopenAfter", ev: incident(incKey, "ep9", alertgate.StatusFiring, t0.Add(30*time.Minute)), m: payments, outcome: OutcomePaged, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "payments", "page:"+incKey+":ep9:1", DedupKey(incKey, "ep9")),
		}},
	}
	st := run(t, steps, DecideIncident, cloneIncident, incidentLast, nil)
	if got, want := len(st.Open()), 1; got != want {
		t.Fatalf("len(Open())=%v, want %v", got, want)
	}
}

// The page carries the event, the runbook and the policy's reason, and
// deciding the same firing twice from the same state gives the same IDs
// whatever the event's own ID and arrival time.
func TestDecideIncidentPage(t *testing.T) {
	ev := incident(incKey, "ep1", alertgate.StatusFiring, t0)
	_, d1 := DecideIncident(nil, ev, payments, testSettings)
	resent := ev
	resent.ID, resent.ReceivedAt = "another-delivery", t0.Add(time.Minute)
	_, d2 := DecideIncident(nil, resent, payments, testSettings)
	if got, want := notes(d2.Notifications), notes(d1.Notifications); got != want {
		t.Fatalf("notifications=\n%s\nwant\n%s", got, want)
	}
	page := d1.Notifications[0]
	if got, want := page.Runbook, testRunbook; got != want {
		t.Fatalf("page.Runbook=%v, want %v", got, want)
	}
	if got, want := page.Event.ID, ev.ID; got != want {
		t.Fatalf("page.Event.ID=%v, want %v", got, want)
	}
	if got, want := page.Episode, "ep1"; got != want {
		t.Fatalf("page.Episode=%v, want %v", got, want)
	}
	if got, want := page.CreatedAt, t0; !got.Equal(want) {
		t.Fatalf("page.CreatedAt=%v, want %v", got, want)
	}
	if got, want := page.Reason, d1.Reason; got != want || got == "" {
		t.Fatalf("page.Reason=%q, want %q (not empty)", got, want)
	}
	// The arrival time, when set, is the decision's clock.
	if got, want := d2.Notifications[0].CreatedAt, resent.ReceivedAt; !got.Equal(want) {
		t.Fatalf("CreatedAt=%v, want ReceivedAt %v", got, want)
	}
}

func TestDecideIncidentKeepsNewestEpisodes(t *testing.T) {
	fire := func(ep string, i int) alertgate.Event {
		return incident(incKey, ep, alertgate.StatusFiring, t0.Add(time.Duration(i)*time.Hour))
	}
	resolve := func(ep string, i int) alertgate.Event {
		return incident(incKey, ep, alertgate.StatusResolved, t0.Add(time.Duration(i)*time.Hour+time.Minute))
	}
	ids := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("ep%d", i))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		events []alertgate.Event
		want   []string // episode IDs kept, oldest first
	}{
		{
			// 20 episodes, each resolved: the newest 16 are kept.
			name: "all resolved",
			events: func() (evs []alertgate.Event) {
				for i := 1; i <= 20; i++ {
					evs = append(evs, fire(fmt.Sprintf("ep%d", i), i), resolve(fmt.Sprintf("ep%d", i), i))
				}
				return evs
			}(),
			want: ids(5, 20),
		},
		{
			// 20 episodes all still open: the oldest open ones go.
			name: "all open",
			events: func() (evs []alertgate.Event) {
				for i := 1; i <= 20; i++ {
					evs = append(evs, fire(fmt.Sprintf("ep%d", i), i))
				}
				return evs
			}(),
			want: ids(5, 20),
		},
		{
			// An old episode still open survives 20 newer resolved ones:
			// resolved episodes are dropped first, so its resolve still finds
			// its dedup key.
			name: "old open episode kept",
			events: func() (evs []alertgate.Event) {
				evs = append(evs, fire("ep0", 0))
				for i := 1; i <= 20; i++ {
					evs = append(evs, fire(fmt.Sprintf("ep%d", i), i), resolve(fmt.Sprintf("ep%d", i), i))
				}
				return evs
			}(),
			want: append([]string{"ep0"}, ids(6, 20)...),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st *Incident
			for _, ev := range tc.events {
				before := cloneIncident(st)
				next, _ := DecideIncident(st, ev, payments, testSettings)
				if !reflect.DeepEqual(st, before) {
					t.Fatalf("%s %s: state passed in was mutated", ev.Episode, ev.Status)
				}
				st = next
			}
			var got []string
			for _, ep := range st.Episodes {
				got = append(got, ep.ID)
			}
			if got, want := strings.Join(got, ","), strings.Join(tc.want, ","); got != want {
				t.Fatalf("episodes=%v, want %v", got, want)
			}
		})
	}
}

func TestDedupKey(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key      string
		readable bool // the key itself is the prefix of the dedup key
	}{
		// An ordinary key stays readable in PagerDuty.
		{name: "short", key: incKey, readable: true},
		// Exactly at the limit of the readable form.
		{name: "200 bytes", key: strings.Repeat("k", 200), readable: true},
		// One byte over: hashed.
		{name: "201 bytes", key: strings.Repeat("k", 201)},
		// A 1000-character key (the Events API allows 255).
		{name: "1000 chars", key: strings.Repeat("x", 1000)},
		// 1000 multi-byte characters: the limit is in bytes and in characters.
		{name: "1000 emoji", key: strings.Repeat("🔥", 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := DedupKey(tc.key, "ep1")
			if got, want := len(k) <= 255, true; got != want {
				t.Fatalf("len(DedupKey)=%d, want ≤255", len(k))
			}
			if got, want := utf8.ValidString(k), true; got != want {
				t.Fatalf("DedupKey %q is not valid UTF-8", k)
			}
			if got, want := strings.HasPrefix(k, tc.key+"/"), tc.readable; got != want {
				t.Fatalf("readable=%v, want %v (%q)", got, want, k)
			}
			if got, want := DedupKey(tc.key, "ep1"), k; got != want {
				t.Fatalf("DedupKey not deterministic: %q, want %q", got, want)
			}
			if DedupKey(tc.key, "ep2") == k {
				t.Fatalf("episodes ep1 and ep2 share dedup key %q", k)
			}
			if DedupKey(tc.key+"y", "ep1") == k {
				t.Fatalf("keys %q and %q+y share dedup key %q", tc.key, tc.key, k)
			}
			// The page of an incident with such a key carries it.
			_, d := DecideIncident(nil, incident(tc.key, "ep1", alertgate.StatusFiring, t0), payments, testSettings)
			if got, want := d.Notifications[0].DedupKey, k; got != want {
				t.Fatalf("page DedupKey=%q, want %q", got, want)
			}
		})
	}
}

func TestDecideBug(t *testing.T) {
	spike := func(windowStart time.Time) string {
		return note(alertgate.SinkSlack, alertgate.TypeBugSpike, "payments", fmt.Sprintf("digest:bug_spike:%s:%d", bugKey, windowStart.UnixNano()), "")
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []step{
		// First occurrence: announced once, in the digest only (no page_bugs).
		{name: "new", ev: bug(bugKey, alertgate.StatusFiring, at(0), 1), m: payments, outcome: OutcomeNew, count: 1, notes: []string{
			note(alertgate.SinkSlack, alertgate.TypeBugNew, "payments", "digest:bug_new:"+bugKey+life0, ""),
		}},
		// Every further occurrence is only counted.
		{name: "2nd", ev: bug(bugKey, alertgate.StatusFiring, at(time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 2},
		{name: "3rd", ev: bug(bugKey, alertgate.StatusFiring, at(2*time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 3},
		{name: "4th", ev: bug(bugKey, alertgate.StatusFiring, at(3*time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 4},
		// The 5th within the hour reaches SpikeCount: one spike, keyed by the window.
		{name: "spike", ev: bug(bugKey, alertgate.StatusFiring, at(4*time.Minute), 1), m: payments, outcome: OutcomeSpike, count: 5, notes: []string{spike(t0)}},
		// The window already spiked: counted.
		{name: "after spike", ev: bug(bugKey, alertgate.StatusFiring, at(5*time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 6},
		// A batch of 10 adds 10 and still does not spike twice in a window.
		{name: "batch in spiked window", ev: bug(bugKey, alertgate.StatusFiring, at(6*time.Minute), 10), m: payments, outcome: OutcomeCounted, count: 16},
		// After SpikeWithin a new window starts, counting from this occurrence.
		{name: "new window", ev: bug(bugKey, alertgate.StatusFiring, at(70*time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 17},
		// A batch of 4 brings the new window to 5: it may spike again.
		{name: "spike in new window", ev: bug(bugKey, alertgate.StatusFiring, at(71*time.Minute), 4), m: payments, outcome: OutcomeSpike, count: 21, notes: []string{spike(at(70 * time.Minute))}},
		// Resolved at the source: no notification (no page was open).
		{name: "resolved", ev: bug(bugKey, alertgate.StatusResolved, at(2*time.Hour), 1), m: payments, outcome: OutcomeBugClosed, count: 21},
		// The resolve re-sent.
		{name: "resolved again", ev: bug(bugKey, alertgate.StatusResolved, at(2*time.Hour+time.Minute), 1), m: payments, outcome: OutcomeDuplicate, count: 21},
		// It occurs again: one regression, keyed by the resolution.
		{name: "regression", ev: bug(bugKey, alertgate.StatusFiring, at(3*time.Hour), 1), m: payments, outcome: OutcomeRegression, count: 22, notes: []string{
			note(alertgate.SinkSlack, alertgate.TypeBugRegression, "payments", "digest:bug_regression:"+bugKey+":1"+life0, ""),
		}},
		// Then counted again.
		{name: "after regression", ev: bug(bugKey, alertgate.StatusFiring, at(3*time.Hour+time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 23},
		// Muted at the source (Sentry "ignored").
		{name: "muted", ev: bug(bugKey, alertgate.StatusMuted, at(4*time.Hour), 1), m: payments, outcome: OutcomeMuted, count: 23},
		// Muted again: a re-send, nothing changes.
		{name: "muted again", ev: bug(bugKey, alertgate.StatusMuted, at(4*time.Hour+time.Minute), 1), m: payments, outcome: OutcomeDuplicate, count: 23},
		// Occurrences while muted are counted, never notified...
		{name: "occurrence while muted", ev: bug(bugKey, alertgate.StatusFiring, at(4*time.Hour+2*time.Minute), 1), m: payments, outcome: OutcomeMuted, count: 24},
		// ...not even at the spike threshold.
		{name: "spike-sized batch while muted", ev: bug(bugKey, alertgate.StatusFiring, at(4*time.Hour+3*time.Minute), 10), m: payments, outcome: OutcomeMuted, count: 34},
		// Sentry's "unresolved" lifts the mute (in a later window).
		{name: "unmuted", ev: unresolved(bugKey, at(6*time.Hour)), m: payments, outcome: OutcomeUnmuted, count: 35},
		// Counting resumes as for any known class.
		{name: "after unmute", ev: bug(bugKey, alertgate.StatusFiring, at(6*time.Hour+time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 36},
	}
	// The last occurrence delivered again (its ALERTS message redelivered
	// after the decision was stored): not counted twice.
	steps = append(steps, step{name: "delivered again", ev: steps[len(steps)-1].ev, m: payments, outcome: OutcomeDuplicate, count: 36})
	st := run(t, steps, DecideBug, cloneBug, bugLast, func(t *testing.T, s step, st *Bug) {
		if got, want := st.Count, s.count; got != want {
			t.Fatalf("%s: Count=%v, want %v", s.name, got, want)
		}
	})
	if got, want := st.Spikes, 2; got != want {
		t.Fatalf("Spikes=%v, want %v", got, want)
	}
	if got, want := st.Regressions, 1; got != want {
		t.Fatalf("Regressions=%v, want %v", got, want)
	}
	if got, want := st.FirstSeen, t0; !got.Equal(want) {
		t.Fatalf("FirstSeen=%v, want %v", got, want)
	}
	if got, want := st.Status, BugOpen; got != want {
		t.Fatalf("Status=%v, want %v", got, want)
	}
}

func TestDecideBugPageBugs(t *testing.T) {
	pk0, pk1 := DedupKey(bugKey, "bug:0"), DedupKey(bugKey, "bug:1")
	if pk0 == pk1 {
		t.Fatalf("pages of the first occurrence and the regression share dedup key %q", pk0)
	}
	steps := []step{
		// A page_bugs route pages a new class as well as listing it.
		{name: "new", ev: bug(bugKey, alertgate.StatusFiring, t0, 1), m: paymentsPages, outcome: OutcomeNew, notes: []string{
			note(alertgate.SinkSlack, alertgate.TypeBugNew, "payments", "digest:bug_new:"+bugKey+life0, ""),
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "payments", "bug_new:"+bugKey+life0, pk0),
		}},
		// A spike is not a new problem: digest only, no page.
		{name: "spike", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 4), m: paymentsPages, outcome: OutcomeSpike, notes: []string{
			note(alertgate.SinkSlack, alertgate.TypeBugSpike, "payments", fmt.Sprintf("digest:bug_spike:%s:%d", bugKey, t0.UnixNano()), ""),
		}},
		// Resolved at the source: the open page is resolved with its dedup key.
		{name: "resolved", ev: bug(bugKey, alertgate.StatusResolved, t0.Add(time.Hour), 1), m: paymentsPages, outcome: OutcomeBugClosed, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypeResolve, "payments", "bug_resolve:"+bugKey+":1"+life0, pk0),
		}},
		// A regression pages again, with a dedup key of its own.
		{name: "regression", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(2*time.Hour), 1), m: paymentsPages, outcome: OutcomeRegression, notes: []string{
			note(alertgate.SinkSlack, alertgate.TypeBugRegression, "payments", "digest:bug_regression:"+bugKey+":1"+life0, ""),
			note(alertgate.SinkPagerDuty, alertgate.TypePage, "payments", "bug_regression:"+bugKey+":1"+life0, pk1),
		}},
		// Resolved while the route now names another team: the resolve goes
		// to the team that was paged.
		{name: "resolved after route change", ev: bug(bugKey, alertgate.StatusResolved, t0.Add(3*time.Hour), 1), m: platformPages, outcome: OutcomeBugClosed, notes: []string{
			note(alertgate.SinkPagerDuty, alertgate.TypeResolve, "payments", "bug_resolve:"+bugKey+":2"+life0, pk1),
		}},
		// Resolved again: no page is open any more.
		{name: "resolved again", ev: bug(bugKey, alertgate.StatusResolved, t0.Add(4*time.Hour), 1), m: paymentsPages, outcome: OutcomeDuplicate},
	}
	st := run(t, steps, DecideBug, cloneBug, bugLast, nil)
	if got, want := st.PageDedupKey, ""; got != want {
		t.Fatalf("PageDedupKey=%q, want %q", got, want)
	}
}

// A class forgotten (its TTL) and seen again is new again, under IDs that
// differ from its first life's: the sinks' log still holds those.
func TestDecideBugNewAgain(t *testing.T) {
	first, _ := DecideBug(nil, bug(bugKey, alertgate.StatusFiring, t0, 1), paymentsPages, testSettings)
	_, d := DecideBug(nil, bug(bugKey, alertgate.StatusFiring, t0.Add(91*24*time.Hour), 1), paymentsPages, testSettings)
	if got, want := d.Outcome, OutcomeNew; got != want {
		t.Fatalf("outcome=%q, want %q", got, want)
	}
	_, again := DecideBug(first, bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 1), paymentsPages, testSettings)
	if got, want := again.Outcome, OutcomeCounted; got != want {
		t.Fatalf("outcome while remembered=%q, want %q", got, want)
	}
	_, d0 := DecideBug(nil, bug(bugKey, alertgate.StatusFiring, t0, 1), paymentsPages, testSettings)
	for i := range d.Notifications {
		if d.Notifications[i].ID == d0.Notifications[i].ID {
			t.Fatalf("second life's %s has the first life's ID %q", d.Notifications[i].Type, d.Notifications[i].ID)
		}
	}
	if got, want := d.Notifications[1].ID, fmt.Sprintf("bug_new:%s:%d", bugKey, t0.Add(91*24*time.Hour).UnixNano()); got != want {
		t.Fatalf("page ID=%q, want %q", got, want)
	}
}

// A page for a bug class carries the runbook of its route, like the digest item.
func TestDecideBugPageRunbook(t *testing.T) {
	_, d := DecideBug(nil, bug(bugKey, alertgate.StatusFiring, t0, 1), paymentsPages, testSettings)
	for _, n := range d.Notifications {
		if got, want := n.Runbook, testRunbook; got != want {
			t.Fatalf("%s Runbook=%v, want %v", n.ID, got, want)
		}
		if got, want := n.Episode, ""; got != want {
			t.Fatalf("%s Episode=%q, want %q", n.ID, got, want)
		}
	}
}

func TestDecideBugFirstSeen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{
			// Sentry's first word on a class is "resolved": nothing was
			// announced, so the next occurrence is new, not a regression.
			name: "resolved first",
			steps: []step{
				{name: "resolved", ev: bug(bugKey, alertgate.StatusResolved, t0, 1), m: payments, outcome: OutcomeBugClosed},
				{name: "occurrence", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 1), m: payments, outcome: OutcomeNew, count: 1, notes: []string{
					note(alertgate.SinkSlack, alertgate.TypeBugNew, "payments", "digest:bug_new:"+bugKey+life0, ""),
				}},
				{name: "again", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(2*time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 2},
			},
		},
		{
			// The first word is "ignored": occurrences stay silent until the
			// source lifts the mute, and the class is announced then.
			name: "muted first",
			steps: []step{
				{name: "muted", ev: bug(bugKey, alertgate.StatusMuted, t0, 1), m: payments, outcome: OutcomeMuted},
				{name: "occurrence while muted", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 1), m: payments, outcome: OutcomeMuted, count: 1},
				{name: "unmuted", ev: unresolved(bugKey, t0.Add(2*time.Minute)), m: payments, outcome: OutcomeNew, count: 2, notes: []string{
					note(alertgate.SinkSlack, alertgate.TypeBugNew, "payments", "digest:bug_new:"+bugKey+life0, ""),
				}},
				{name: "again", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(3*time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 3},
			},
		},
		{
			// A first event standing for many occurrences counts them all.
			name: "batch first",
			steps: []step{
				{name: "new batch", ev: bug(bugKey, alertgate.StatusFiring, t0, 3), m: payments, outcome: OutcomeNew, count: 3, notes: []string{
					note(alertgate.SinkSlack, alertgate.TypeBugNew, "payments", "digest:bug_new:"+bugKey+life0, ""),
				}},
				{name: "batch", ev: bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 1), m: payments, outcome: OutcomeCounted, count: 4},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, tc.steps, DecideBug, cloneBug, bugLast, func(t *testing.T, s step, st *Bug) {
				if got, want := st.Count, s.count; got != want {
					t.Fatalf("%s: Count=%v, want %v", s.name, got, want)
				}
			})
		})
	}
}
