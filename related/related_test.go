package related

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/natstest"
)

var (
	discard  = slog.New(slog.NewTextHandler(io.Discard, nil))
	t0       = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	checkout = map[string]string{"service": "checkout", "env": "prod"}
	search   = map[string]string{"service": "search"}
)

func local(labels ...string) *Index {
	if labels == nil {
		labels = []string{"service"}
	}
	return New(nil, nil, Options{Labels: labels, Window: 30 * time.Minute, Instance: "a", PublicURL: "http://alertgate.test", Logger: discard})
}

func bug(key string, at time.Time, firstSeen time.Time, regressed bool) Bug {
	return Bug{Key: key, Title: "TypeError in " + key, Source: alertgate.SourceSentry, Labels: checkout, Link: "https://sentry.io/" + key,
		FirstSeen: firstSeen, Regressed: regressed, At: at}
}

func TestBugsWithinTheWindow(t *testing.T) {
	x := local()
	// An old class, quiet for an hour: not listed.
	x.ObserveBug(bug("old", t0.Add(-time.Hour), t0.Add(-2*time.Hour), false))
	// A recurring class: first seen long ago, 3 occurrences now.
	for range 3 {
		x.ObserveBug(bug("recurring", t0.Add(-time.Minute), t0.Add(-24*time.Hour), false))
	}
	// A new class, twice; a regression once; the page's own key.
	x.ObserveBug(bug("new", t0.Add(-10*time.Minute), t0.Add(-10*time.Minute), false))
	x.ObserveBug(bug("new", t0.Add(-9*time.Minute), t0.Add(-10*time.Minute), false))
	x.ObserveBug(bug("regressed", t0.Add(-5*time.Minute), t0.Add(-48*time.Hour), true))
	x.ObserveBug(bug("self", t0, t0, false))

	r := x.Related(checkout, "self", t0)
	if r == nil || r.On["service"] != "checkout" || len(r.On) != 1 || r.Window != "30m0s" {
		t.Fatalf("related: %+v", r)
	}
	var got []string
	for _, b := range r.Bugs {
		got = append(got, fmt.Sprintf("%s:%s:%d", b.Key, b.Status, b.Count))
	}
	want := []string{"recurring:recurring:3", "new:new:2", "regressed:regression:1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bugs %v, want %v (most occurrences first; old out of the window; self excluded)", got, want)
	}
	if b := r.Bugs[1]; b.Link != "https://sentry.io/new" || b.Title != "TypeError in new" || !b.FirstSeen.Equal(t0.Add(-10*time.Minute)) || !b.LastSeen.Equal(t0.Add(-9*time.Minute)) {
		t.Fatalf("bug fields: %+v", b)
	}
	// Later, only what occurred within the window before counts (by the
	// minute): at 03:25, what came from 02:55 on.
	r = x.Related(checkout, "", t0.Add(25*time.Minute))
	got = nil
	for _, b := range r.Bugs {
		got = append(got, b.Key)
	}
	if fmt.Sprint(got) != "[recurring self regressed]" { // ties: the most recent first
		t.Fatalf("25 minutes later: %v", got)
	}
	// Another service's page lists none of them; no service, nothing.
	if r := x.Related(search, "", t0); r == nil || len(r.Bugs)+len(r.Incidents) != 0 {
		t.Fatalf("search: %+v", r)
	}
	if r := x.Related(map[string]string{"env": "prod"}, "", t0); r != nil {
		t.Fatalf("without the correlation label: %+v", r)
	}
}

func TestCorrelationOff(t *testing.T) {
	x := New(nil, nil, Options{Labels: []string{}, Window: time.Minute})
	x.ObserveBug(bug("b", t0, t0, false))
	x.ObserveIncident(Incident{Key: "i", Labels: checkout, OpenedAt: t0}, true)
	if x.On() || x.Related(checkout, "", t0) != nil {
		t.Fatal("correlation off still answers")
	}
}

// Several labels: every one must agree.
func TestSeveralLabels(t *testing.T) {
	x := local("service", "env")
	x.ObserveIncident(Incident{Key: "prod", Title: "prod", Labels: checkout, OpenedAt: t0}, true)
	x.ObserveIncident(Incident{Key: "staging", Title: "staging", Labels: map[string]string{"service": "checkout", "env": "staging"}, OpenedAt: t0}, true)
	r := x.Related(checkout, "", t0)
	if len(r.Incidents) != 1 || r.Incidents[0].Key != "prod" || r.On["env"] != "prod" {
		t.Fatalf("%+v", r)
	}
}

func TestIncidentsOpenNewestFirst(t *testing.T) {
	x := local()
	for i := range 8 {
		x.ObserveIncident(Incident{Key: fmt.Sprintf("inc%d", i), Title: fmt.Sprintf("Incident %d", i), Source: alertgate.SourceAlertmanager,
			Severity: alertgate.SeverityCritical, Labels: checkout, OpenedAt: t0.Add(time.Duration(i) * time.Minute)}, true)
	}
	// Resolved without its labels (a resolve may carry none): gone.
	x.ObserveIncident(Incident{Key: "inc6"}, false)
	r := x.Related(checkout, "inc7", t0.Add(time.Hour))
	var got []string
	for _, in := range r.Incidents {
		got = append(got, in.Key)
	}
	if fmt.Sprint(got) != "[inc5 inc4 inc3 inc2 inc1]" || r.MoreIncidents != 1 {
		t.Fatalf("incidents %v (+%d), want inc5..inc1 and one more", got, r.MoreIncidents)
	}
	if r.Incidents[0].Link != "http://alertgate.test/v1/incidents/inc5" || r.Incidents[0].Severity != alertgate.SeverityCritical {
		t.Fatalf("incident fields: %+v", r.Incidents[0])
	}
	// A page decided at an earlier time does not list what opened later.
	if r := x.Related(checkout, "", t0.Add(2*time.Minute)); len(r.Incidents) != 3 {
		t.Fatalf("as of t0+2m: %+v", r.Incidents)
	}
	// An incident whose labels change moves to its new service.
	x.ObserveIncident(Incident{Key: "inc5", Labels: search, OpenedAt: t0.Add(5 * time.Minute)}, true)
	if r := x.Related(search, "", t0.Add(time.Hour)); len(r.Incidents) != 1 {
		t.Fatalf("moved: %+v", r.Incidents)
	}
	if r := x.Related(checkout, "", t0.Add(time.Hour)); len(r.Incidents)+r.MoreIncidents != 6 {
		t.Fatalf("left behind: %d", len(r.Incidents)+r.MoreIncidents)
	}
}

// The index stays bounded whatever comes in.
func TestBounds(t *testing.T) {
	x := local()
	// A busy class, then a thousand distinct ones.
	for range 50 {
		x.ObserveBug(bug("busy", t0, t0.Add(-time.Hour), false))
	}
	for i := range 1000 {
		x.ObserveBug(bug(fmt.Sprintf("c%d", i), t0, t0, false))
	}
	if n := len(x.mine); n > maxTracked {
		t.Fatalf("tracking %d classes, bound %d", n, maxTracked)
	}
	r := x.Related(checkout, "", t0)
	if r.Bugs[0].Key != "busy" || r.Bugs[0].Count != 50 || len(r.Bugs) != alertgate.MaxRelated {
		t.Fatalf("the busiest class was evicted: %+v", r.Bugs[0])
	}
	for i := range 1000 {
		x.ObserveIncident(Incident{Key: fmt.Sprintf("i%d", i), Labels: checkout, OpenedAt: t0.Add(time.Duration(i) * time.Second)}, true)
	}
	if n := len(x.groups[mustTuple(t, x, checkout)].incidents); n != maxIncidents {
		t.Fatalf("holding %d incidents, bound %d", n, maxIncidents)
	}
	if r := x.Related(checkout, "", t0.Add(time.Hour)); r.Incidents[0].Key != "i999" || r.MoreIncidents != maxIncidents-alertgate.MaxRelated {
		t.Fatalf("newest first within the bound: %s +%d", r.Incidents[0].Key, r.MoreIncidents)
	}
}

func mustTuple(t *testing.T, x *Index, labels map[string]string) string {
	id, ok := x.tuple(labels)
	if !ok {
		t.Fatal("no tuple")
	}
	return id
}

func start(t *testing.T, b *bus.Bus, instance string) *Index {
	t.Helper()
	x := New(b.JS, b.Related, Options{Labels: []string{"service"}, Window: 30 * time.Minute, Instance: instance, FlushEvery: 20 * time.Millisecond, Logger: discard})
	if err := x.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	return x
}

// Counts and incidents of one instance reach the other; counts of both
// add up; a starting instance loads them.
func TestSharedAcrossInstances(t *testing.T) {
	b := natstest.OpenBus(t, t.TempDir())
	a, other := start(t, b, "a"), start(t, b, "b")
	for range 3 {
		a.ObserveBug(bug("shared", t0, t0, false))
	}
	other.ObserveBug(bug("shared", t0, t0, false))
	a.ObserveIncident(Incident{Key: "dd", Title: "Monitor", Source: alertgate.SourceDatadog, Labels: checkout, OpenedAt: t0}, true)
	waitFor(t, "both instances' counts and the incident everywhere", func() bool {
		for _, x := range []*Index{a, other} {
			r := x.Related(checkout, "", t0)
			if len(r.Bugs) != 1 || r.Bugs[0].Count != 4 || len(r.Incidents) != 1 {
				return false
			}
		}
		return true
	})
	late := start(t, b, "c")
	if r := late.Related(checkout, "", t0); len(r.Bugs) != 1 || r.Bugs[0].Count != 4 || len(r.Incidents) != 1 {
		t.Fatalf("a starting instance loaded %+v", r)
	}
	// Resolved on the other instance.
	other.ObserveIncident(Incident{Key: "dd"}, false)
	waitFor(t, "the resolve everywhere", func() bool {
		return len(a.Related(checkout, "", t0).Incidents) == 0 && len(late.Related(checkout, "", t0).Incidents) == 0
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
