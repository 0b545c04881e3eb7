package main

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/related"
)

// benchConfig is bench/alertgate.yaml with extra appended, rendered as
// for a process.
func benchConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	root := findRoot()
	o := alertgateOpts{
		root: root, configTemplate: filepath.Join(root, "bench", "alertgate.yaml"), pdURL: "http://127.0.0.1:1",
		tokens:      tokens{Alertmanager: randomToken(), Datadog: randomToken(), Events: randomToken(), SentrySecret: randomToken()},
		extraConfig: extra,
	}
	y, err := renderConfig(o, "127.0.0.1:8080", filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]byte(y), nil)
	if err != nil {
		t.Fatalf("config does not load: %v\n%s", err, y)
	}
	return cfg
}

func TestRelatedVariantsAreCorrelationOffAndTheDefault(t *testing.T) {
	spec := (&bench{pd: &pagerDuty{}}).relatedSpec()
	if spec.with.config != "" || spec.with.setup == nil || spec.without.setup != nil {
		t.Fatal("with: the bench config as it is and a setup; without: no setup")
	}
	if off := benchConfig(t, spec.without.config); len(off.Correlation.Labels) != 0 {
		t.Fatalf("without: correlation labels %v, want none", off.Correlation.Labels)
	}
	on := benchConfig(t, spec.with.config)
	if !slices.Equal(on.Correlation.Labels, []string{alertgate.LabelService}) || on.Correlation.Window.D() != 30*time.Minute {
		t.Fatalf("with: correlation %v %s, want [service] 30m (the report says so)", on.Correlation.Labels, on.Correlation.Window.D())
	}
}

func TestRelatedSignalsShareTheStormsServiceAndFillEveryList(t *testing.T) {
	evs, err := events.Parse(relatedSignals(relatedBugClasses, relatedOccurrences, relatedIncidents))
	if err != nil {
		t.Fatal(err)
	}
	storm := stormEvent(t)
	if storm.Labels[alertgate.LabelService] != relatedService {
		t.Fatalf("the storm's service is %q", storm.Labels[alertgate.LabelService])
	}
	ids, classes, incidents := map[string]bool{}, map[string]int{}, map[string]bool{}
	x := related.New(nil, nil, related.Options{Labels: []string{alertgate.LabelService}, Window: 30 * time.Minute})
	now := time.Now()
	for _, ev := range evs {
		if ids[ev.ID] {
			t.Fatalf("id %s twice", ev.ID)
		}
		ids[ev.ID] = true
		if ev.Labels[alertgate.LabelService] != relatedService || ev.Status != alertgate.StatusFiring {
			t.Fatalf("%s: service %q status %s", ev.Key, ev.Labels[alertgate.LabelService], ev.Status)
		}
		switch ev.Kind {
		case alertgate.KindBug:
			classes[ev.Key]++
			x.ObserveBug(related.Bug{Key: ev.Key, Title: ev.Title, Source: ev.Source, Labels: ev.Labels, FirstSeen: now, At: now})
		case alertgate.KindIncident:
			if ev.Episode == "" {
				t.Fatalf("incident %s has no episode", ev.Key)
			}
			incidents[ev.Key] = true
			x.ObserveIncident(related.Incident{Key: ev.Key, Title: ev.Title, Source: ev.Source, Labels: ev.Labels, OpenedAt: now}, true)
		default:
			t.Fatalf("%s: kind %s", ev.Key, ev.Kind)
		}
	}
	if len(classes) != relatedBugClasses || len(incidents) != relatedIncidents {
		t.Fatalf("%d bug classes, %d incidents", len(classes), len(incidents))
	}
	for k, n := range classes {
		if n != relatedOccurrences {
			t.Fatalf("%s: %d occurrences", k, n)
		}
	}
	if !incidents["events:"+relatedIncidentKey(0)] {
		t.Fatal("relatedIncidentKey does not name a set-up incident")
	}
	// A storm alert's page lists full lists and counts the rest.
	r := x.Related(storm.Labels, storm.Key, now.Add(time.Second))
	if len(r.Bugs) != alertgate.MaxRelated || r.MoreBugs != relatedBugClasses-alertgate.MaxRelated ||
		len(r.Incidents) != alertgate.MaxRelated || r.MoreIncidents != relatedIncidents-alertgate.MaxRelated {
		t.Fatalf("a storm page lists %d bugs (+%d), %d incidents (+%d)", len(r.Bugs), r.MoreBugs, len(r.Incidents), r.MoreIncidents)
	}
	if r.Bugs[0].Count != relatedOccurrences {
		t.Fatalf("a related class counts %d occurrences", r.Bugs[0].Count)
	}
}

func TestRelatedSpecChecksTheLists(t *testing.T) {
	spec := (&bench{pd: &pagerDuty{}}).relatedSpec()
	e2e := &e2eResult{Sent: 10, Delivered: 10}
	for _, c := range []struct {
		r  abRun
		ok bool
	}{
		{abRun{With: false, E2E: e2e}, true},
		{abRun{With: false, E2EProbe: 1, E2E: e2e}, false},
		{abRun{With: true, StormPages: 100, StormProbe: 100, E2E: e2e}, true},
		{abRun{With: true, StormPages: 100, E2EProbe: 10, E2E: e2e}, false},
	} {
		if err := spec.check(c.r); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.r, err)
		}
	}
}

func TestPrintRelated(t *testing.T) {
	run := func(round int, with bool, rate float64, cpu time.Duration, p99 time.Duration) abRun {
		r := abRun{Round: round, With: with, StormCPUPerAlert: cpu, StormPages: int64(rate * 6),
			Storm: loadgen.Result{Alerts: int64(rate * 5), Elapsed: 5 * time.Second, P99: 10 * time.Millisecond},
			E2E:   &e2eResult{Rate: 1000, Sent: 5000, Delivered: 5000, P50: time.Millisecond, P99: p99}}
		if with {
			r.Setup, r.StormProbe, r.E2EProbe, r.E2EPages = 300*time.Millisecond, rate*6, 6000, 6000
		}
		return r
	}
	res := &relatedResult{Labels: []string{"service"}, Window: "30m", BugClasses: 50, Occurrences: 3, Incidents: 20,
		abResult: abResult{Rate: 1000, RateBasis: "--e2e-rate", Runs: []abRun{
			run(1, false, 2000, 400*time.Microsecond, 20*time.Millisecond), run(1, true, 1950, 420*time.Microsecond, 21*time.Millisecond),
			run(2, false, 2100, 400*time.Microsecond, 22*time.Millisecond), run(2, true, 2050, 430*time.Microsecond, 22*time.Millisecond),
		}}}
	res.Profiles = &abProfiles{Without: "off", With: "on", Files: [2]string{"/tmp/cpu-related-off.pprof", "/tmp/cpu-related-on.pprof"},
		Totals: [2]string{"Total samples = 6180ms", "Total samples = 7660ms"}, Sent: [2]int{4638, 4627},
		Stages:   []stageShare{{"router: decode, classify, route, policy", 10.5}, {"  related signals: the page's lists", 6.8}, {"digest", 0.2}},
		DiffFlat: []pprofEntry{{Flat: 6.47, Name: "runtime.memmove"}, {Flat: 0.97, Name: "github.com/alertgate/alertgate/related.(*Index).Related"}}}
	var buf bytes.Buffer
	checks := printRelated(&buf, res)
	out := buf.String()
	for _, want := range []string{
		"### 7. Related signals on every page (storm 1/req and end to end, correlation on ÷ off)",
		"| correlation off (median of 2)", "| correlation on, 50 bug classes and 20 incidents related (median of 2) |", "| on ÷ off",
		"within 10%: met", "off 1: storm 2,000/s", "on 2: storm 2,050/s",
		"CPU per storm alert", "off 400 µs, on 425 µs (1.06×)",
		"storm 24,000 of 24,000 (100%), end to end 12,000 of 12,000 (100%", "Every page arrived in both variants",
		"Where on spends more than off, in % of off's total (go tool pprof -diff_base): by stage (cumulative) router: decode, classify, route, policy +10.5, related signals: the page's lists +6.8; by function (flat) runtime.memmove +6.5, related.(*Index).Related +1.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if len(checks) != 1 || !checks[0].ok {
		t.Fatalf("checks %+v", checks)
	}
}
