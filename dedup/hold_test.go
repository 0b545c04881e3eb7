package dedup

import (
	"fmt"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

var silenced = &alertgate.Hold{Reason: alertgate.HoldSilenced, By: "01SILENCE", Detail: "silence 01SILENCE"}

func held(m alertgate.Match, h *alertgate.Hold) alertgate.Match {
	m.Hold = h
	return m
}

// sinks counts a decision's notifications by sink and type.
func sinks(ns []alertgate.Notification) map[string]int {
	out := map[string]int{}
	for _, n := range ns {
		out[string(n.Sink)+"/"+string(n.Type)]++
	}
	return out
}

func TestHeldEpisodePagesWhenTheHoldEnds(t *testing.T) {
	st, d := DecideIncident(nil, incident(incKey, "e1", alertgate.StatusFiring, t0), held(payments, silenced), testSettings)
	if d.Outcome != OutcomeSilenced || sinks(d.Notifications)["pagerduty/page"] != 0 || sinks(d.Notifications)["slack/incident"] != 1 {
		t.Fatalf("silenced firing: %s %q %v", d.Outcome, d.Reason, sinks(d.Notifications))
	}
	if !st.Watched() || !st.Firing() {
		t.Fatalf("a silenced open episode is watched and firing: %+v", st.Episodes)
	}
	// Still silenced a minute later: nothing changes, nothing to write.
	if next, d := DecideHeld(st, t0.Add(time.Minute), held(payments, silenced), testSettings); next != nil || len(d.Notifications) != 0 {
		t.Fatalf("still held: %v %+v", next, d)
	}
	// The silence expired: the episode pages now, decided now.
	now := t0.Add(2 * time.Hour)
	next, d := DecideHeld(st, now, payments, testSettings)
	if next == nil || d.Outcome != OutcomePaged || len(d.Notifications) != 1 {
		t.Fatalf("hold ended: %+v", d)
	}
	page := d.Notifications[0]
	if page.Type != alertgate.TypePage || page.DedupKey != DedupKey(incKey, "e1") || !page.CreatedAt.Equal(now) || page.Event.Title == "" || page.Event.Labels["service"] != "checkout" {
		t.Fatalf("page after the hold: %+v", page)
	}
	if next.Watched() {
		t.Fatal("paged: no longer watched")
	}
	// Its resolve now resolves PagerDuty's incident.
	_, d = DecideIncident(next, incident(incKey, "e1", alertgate.StatusResolved, now.Add(time.Minute)), payments, testSettings)
	if sinks(d.Notifications)["pagerduty/resolve"] != 1 {
		t.Fatalf("resolve after the page: %v", sinks(d.Notifications))
	}
}

func TestResolveWhileHeldSendsPagerDutyNothing(t *testing.T) {
	for _, h := range []*alertgate.Hold{silenced, {Reason: alertgate.HoldDigestOnly}, {Reason: alertgate.HoldInhibited, By: "k"}, {Reason: alertgate.HoldMutedTime, By: "office-hours"}} {
		st, _ := DecideIncident(nil, incident(incKey, "e1", alertgate.StatusFiring, t0), held(payments, h), testSettings)
		st, d := DecideIncident(st, incident(incKey, "e1", alertgate.StatusResolved, t0.Add(time.Minute)), payments, testSettings)
		if d.Outcome != OutcomeResolved || sinks(d.Notifications)["pagerduty/resolve"] != 0 || sinks(d.Notifications)["slack/incident"] != 1 {
			t.Fatalf("%s: resolve while held: %s %v", h.Reason, d.Outcome, sinks(d.Notifications))
		}
		if st.Watched() || st.Firing() {
			t.Fatalf("%s: resolved: nothing to watch", h.Reason)
		}
	}
}

func TestDigestOnlyIsNeverWatched(t *testing.T) {
	st, d := DecideIncident(nil, incident(incKey, "e1", alertgate.StatusFiring, t0), held(payments, &alertgate.Hold{Reason: alertgate.HoldDigestOnly}), testSettings)
	if d.Outcome != OutcomeDigestOnly || st.Watched() {
		t.Fatalf("notify: digest: %s watched=%v", d.Outcome, st.Watched())
	}
}

// Ten episodes in ten minutes with flapping {episodes: 4, within: 1h,
// quiet: 30m}: four triggers, the first three resolved as they come, and
// the fourth's incident resolved once, after 30 quiet minutes.
func TestFlappingTenEpisodes(t *testing.T) {
	s := testSettings
	s.FlapEpisodes, s.FlapWithin, s.FlapQuiet = 4, time.Hour, 30*time.Minute
	var st *Incident
	var d Decision
	got := map[string]int{}
	dedupKeys := map[string]bool{}
	at := t0
	for i := range 10 {
		ep := fmt.Sprintf("e%d", i)
		st, d = DecideIncident(st, incident(incKey, ep, alertgate.StatusFiring, at), payments, s)
		for _, n := range d.Notifications {
			got[string(n.Sink)+"/"+string(n.Type)]++
			if n.Sink == alertgate.SinkPagerDuty {
				dedupKeys[n.DedupKey] = true
			}
		}
		at = at.Add(30 * time.Second)
		st, d = DecideIncident(st, incident(incKey, ep, alertgate.StatusResolved, at), payments, s)
		for _, n := range d.Notifications {
			got[string(n.Sink)+"/"+string(n.Type)]++
		}
		at = at.Add(30 * time.Second)
	}
	if got["pagerduty/page"] != 4 || got["pagerduty/resolve"] != 3 {
		t.Fatalf("during the flapping: %v", got)
	}
	if st.Flap == nil || st.Flap.Episodes != 7 || !st.Watched() {
		t.Fatalf("flap state: %+v", st.Flap)
	}
	due := st.Flap.ResolveDue
	if want := at.Add(-30 * time.Second).Add(30 * time.Minute); !due.Equal(want) {
		t.Fatalf("resolve due %s, want %s", due, want)
	}
	if next, _ := DecideHeld(st, due.Add(-time.Second), payments, s); next != nil {
		t.Fatal("resolved before quiet")
	}
	next, d := DecideHeld(st, due, payments, s)
	if next == nil || len(d.Notifications) != 1 || d.Notifications[0].Type != alertgate.TypeResolve || d.Notifications[0].DedupKey != DedupKey(incKey, "e3") {
		t.Fatalf("after quiet: %+v", d.Notifications)
	}
	if next.Flap != nil || next.Watched() {
		t.Fatal("flapping over")
	}
	// A new episode much later pages afresh.
	_, d = DecideIncident(next, incident(incKey, "e10", alertgate.StatusFiring, due.Add(2*time.Hour)), payments, s)
	if d.Outcome != OutcomePaged {
		t.Fatalf("after the flapping: %s", d.Outcome)
	}
}

func TestSilencedBugClassNotifiesAfterTheSilence(t *testing.T) {
	st, d := DecideBug(nil, bug(bugKey, alertgate.StatusFiring, t0, 1), held(payments, silenced), testSettings)
	if d.Outcome != OutcomeSilenced || sinks(d.Notifications)["slack/bug_new"] != 1 || d.Notifications[0].Hold == nil {
		t.Fatalf("silenced new class: %s %v", d.Outcome, sinks(d.Notifications))
	}
	// Again under the same silence: counted, listed as held only once.
	st, d = DecideBug(st, bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 1), held(payments, silenced), testSettings)
	if d.Outcome != OutcomeSilenced || len(d.Notifications) != 0 || st.Count != 2 {
		t.Fatalf("second silenced occurrence: %s %v count %d", d.Outcome, sinks(d.Notifications), st.Count)
	}
	_, d = DecideBug(st, bug(bugKey, alertgate.StatusFiring, t0.Add(3*time.Hour), 1), payments, testSettings)
	if d.Outcome != OutcomeNew {
		t.Fatalf("first occurrence after the silence: %s", d.Outcome)
	}
}
