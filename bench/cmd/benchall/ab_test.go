package main

import (
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/bench/loadgen"
)

func TestABSummaryAndVerdict(t *testing.T) {
	run := func(round int, with bool, rate float64, p99 time.Duration) abRun {
		return abRun{Round: round, With: with,
			Storm: loadgen.Result{Alerts: int64(rate * 5), Elapsed: 5 * time.Second, P99: 10 * time.Millisecond},
			E2E:   &e2eResult{Rate: 1000, Sent: 5000, Delivered: 5000, P50: time.Millisecond, P99: p99}}
	}
	runs := []abRun{
		run(1, false, 2000, 20*time.Millisecond), run(1, true, 1900, 21*time.Millisecond),
		run(2, false, 2200, 24*time.Millisecond), run(2, true, 2000, 24*time.Millisecond),
	}
	without, with := summarize(runs, false), summarize(runs, true)
	if without.StormRate != 2100 || with.StormRate != 1950 || without.P99 != 22*time.Millisecond || with.P99 != 22500*time.Microsecond {
		t.Fatalf("medians: without %+v, with %+v", without, with)
	}
	if without.Sent != 10000 || without.Delivered != 10000 || without.Runs != 2 {
		t.Fatalf("without: %+v", without)
	}
	storm, p99, ok := abVerdict(without, with)
	if !ok || storm < 0.92 || storm > 0.93 || p99 < 1.02 || p99 > 1.03 {
		t.Fatalf("verdict: storm %.3f p99 %.3f ok %v", storm, p99, ok)
	}
	// 15% slower storm: missed.
	runs[3] = run(2, true, 1600, 24*time.Millisecond)
	if _, _, ok := abVerdict(summarize(runs, false), summarize(runs, true)); ok {
		t.Fatal("a storm 17% slower is within 10%")
	}
	// An undelivered page: missed, however fast.
	runs[3] = run(2, true, 2200, 10*time.Millisecond)
	runs[3].E2E.Delivered--
	if _, _, ok := abVerdict(summarize(runs, false), summarize(runs, true)); ok {
		t.Fatal("a lost page is within 10%")
	}
}

func TestHoldsSpecChecksNoDecisionWasHeld(t *testing.T) {
	b := &bench{}
	spec := b.holdsSpec()
	if spec.without.config != "" || spec.without.setup != nil || spec.with.config == "" || spec.with.setup == nil {
		t.Fatal("without must be the bench config as it is, with the inhibit rules and their setup")
	}
	ok := abRun{Round: 1, With: true, E2E: &e2eResult{Sent: 10, Delivered: 10}}
	if err := spec.check(ok); err != nil {
		t.Fatal(err)
	}
	held := ok
	held.E2EProbe = 2
	if err := spec.check(held); err == nil || held.held() != 2 {
		t.Fatalf("2 decisions held in the end-to-end run: %v", err)
	}
}

func TestParsePprofTopOfADiff(t *testing.T) {
	out := `File: benchall
Duration: 12.68s, Total samples = 6.18s (48.76%)
      flat  flat%   sum%        cum   cum%
         0     0%     0%      0.65s 10.52%  github.com/alertgate/alertgate/routes.(*Router).handle
    -0.01s  0.16%  0.16%      0.42s  6.80%  github.com/alertgate/alertgate/related.(*Index).Related
     0.01s  0.16% 11.33%     -0.18s  2.91%  github.com/alertgate/alertgate/ingest.(*Handler).handle
`
	es, header := parsePprofTop(out)
	if len(header) != 3 || len(es) != 3 {
		t.Fatalf("header %q, entries %+v", header, es)
	}
	if es[1].Flat != -0.16 || es[1].Cum != 6.80 || es[2].Flat != 0.16 || es[2].Cum != -2.91 {
		t.Fatalf("signs: %+v", es)
	}
	var handle, ingest float64
	for _, s := range stageShares(es) {
		switch {
		case strings.HasPrefix(s.Name, "router"):
			handle = s.Share
		case strings.HasPrefix(s.Name, "HTTP ingest"):
			ingest = s.Share
		}
	}
	if handle != 10.52 || ingest != -2.91 {
		t.Fatalf("stages: router %v, ingest %v", handle, ingest)
	}
}
