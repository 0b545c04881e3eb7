package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

// streamConfig is the default config with Sentry signatures on and the
// spike threshold given.
func streamConfig(spike int) string {
	return harness.DefaultConfig + fmt.Sprintf(`
ingest:
  sentry: {client_secret: %q, max_age: 5m}
dedup:
  bug_spike: {count: %d, within: 1h}
`, harness.SentrySecret, spike)
}

const issueID = "1170820242"

// mixedStream is the scripted stream of the rule: one Sentry issue with 500
// events, resolved, then occurring again; two Datadog monitors each
// triggering, re-triggering, renotifying and recovering twice; three
// Alertmanager alerts flapping three times. Sources are interleaved.
func mixedStream(t *testing.T) *harness.Script {
	sentry, dd, am := harness.NewScript(t), harness.NewScript(t), harness.NewScript(t)
	sentry.SentryIssue("created", issueID, 1)
	for n := 1; n < 500; n++ {
		sentry.SentryEvent(issueID, n)
	}
	sentry.SentryIssue("resolved", issueID, 500)
	sentry.SentryIssue("unresolved", issueID, 501)
	sentry.SentryEvent(issueID, 500)

	delivery := 0
	for _, monitor := range []int{1001, 1002} {
		for cycle := 1; cycle <= 2; cycle++ {
			for _, tr := range []string{"Triggered", "Re-Triggered", "Renotify", "Recovered"} {
				delivery++
				dd.Datadog(monitor, cycle, tr, delivery)
			}
		}
	}
	for flap := 0; flap < 3; flap++ {
		for _, fp := range []string{"a1a1a1a1", "b2b2b2b2", "c3c3c3c3"} {
			start := t0.Add(time.Duration(flap) * time.Hour)
			am.Alertmanager(harness.AMAlert{Fingerprint: fp, Status: "firing", StartsAt: start})
			am.Alertmanager(harness.AMAlert{Fingerprint: fp, Status: "resolved", StartsAt: start})
		}
	}
	// Round-robin, keeping each source's own order.
	out := harness.NewScript(t)
	for i := 0; i < len(sentry.Steps) || i < len(dd.Steps) || i < len(am.Steps); i++ {
		for _, s := range []*harness.Script{sentry, dd, am} {
			if i < len(s.Steps) {
				out.Steps = append(out.Steps, s.Steps[i])
			}
		}
	}
	return out
}

// Expected PagerDuty traffic of mixedStream: one trigger per firing episode
// (2 monitors × 2 cycles + 3 alerts × 3 flaps) and one resolve per recovery.
const wantEpisodes = 2*2 + 3*3

type outcome struct {
	triggers, resolves, pdRequests  int
	bugNew, bugRegression, bugSpike int
	dedupKeys                       map[string]int
}

func observe(t *testing.T, g *harness.Gateway) outcome {
	t.Helper()
	o := outcome{dedupKeys: map[string]int{}}
	for _, e := range g.PD.Accepted() {
		switch e.Action {
		case "trigger":
			o.triggers++
			o.dedupKeys[e.DedupKey]++
		case "resolve":
			o.resolves++
		}
	}
	o.pdRequests = g.PD.Requests()
	// Bug items are listed once a digest has carried them.
	flushDigests(t, g)
	for _, n := range g.Notifications(t) {
		if n["sink"] != "slack" {
			continue
		}
		switch n["type"] {
		case "bug_new":
			o.bugNew++
		case "bug_regression":
			o.bugRegression++
		case "bug_spike":
			o.bugSpike++
		}
	}
	return o
}

func checkOutcome(t *testing.T, o outcome, spikes int) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"PagerDuty triggers", o.triggers, wantEpisodes},
		{"PagerDuty resolves", o.resolves, wantEpisodes},
		{"PagerDuty requests", o.pdRequests, 2 * wantEpisodes},
		{"new bug class notifications", o.bugNew, 1},
		{"regression notifications", o.bugRegression, 1},
		{"spike notifications", o.bugSpike, spikes},
	} {
		if c.got != c.want {
			t.Errorf("%s=%d, want %d", c.name, c.got, c.want)
		}
	}
	for k, n := range o.dedupKeys {
		if n != 1 {
			t.Errorf("dedup_key %s triggered %d times", k, n)
		}
	}
}

func TestMixedStream(t *testing.T) {
	g := harness.Start(t, harness.Options{Config: streamConfig(100000)})
	s := mixedStream(t)
	accepted, dups := s.Post(t, g)
	if got, want := dups, 0; got != want {
		t.Fatalf("duplicates=%d, want %d", got, want)
	}
	if accepted != len(s.Steps) {
		t.Fatalf("accepted=%d, want %d (one event per step)", accepted, len(s.Steps))
	}
	g.Settle(t)
	checkOutcome(t, observe(t, g), 0)
	if r := g.PD.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}
	// No bug reached PagerDuty: every trigger is a Datadog monitor or an
	// Alertmanager alert.
	for _, e := range g.PD.Actions("trigger") {
		if strings.HasPrefix(e.DedupKey, "sentry:") {
			t.Fatalf("a bug paged: %s", e.DedupKey)
		}
	}

	// The bug class as /v1/bugs shows it.
	var bugs struct {
		Bugs []struct {
			Key, Status, Team string
			Count             int
			Regressions       int
		}
	}
	g.Get(t, "/v1/bugs", &bugs)
	if got, want := len(bugs.Bugs), 1; got != want {
		t.Fatalf("bug classes=%d, want %d", got, want)
	}
	b := bugs.Bugs[0]
	if b.Status != "open" || b.Regressions != 1 || b.Count < 500 || b.Team != "platform" {
		t.Fatalf("bug=%+v, want open, 1 regression, ≥500 occurrences, team platform", b)
	}

	// Explain by the source's own id.
	var ex struct {
		Kind         string
		KindWhy      string `json:"kind_why"`
		Route        struct{ Team string }
		LastDecision struct{ Outcome string } `json:"last_decision"`
	}
	if code := g.Get(t, "/v1/explain?source=sentry&key="+issueID, &ex); code != 200 {
		t.Fatalf("explain: %d", code)
	}
	if ex.Kind != "bug" || ex.Route.Team != "platform" || ex.LastDecision.Outcome != "counted" || ex.KindWhy == "" {
		t.Fatalf("explain=%+v", ex)
	}
	var incs struct{ Incidents []struct{ Key string } }
	g.Get(t, "/v1/incidents", &incs)
	if got, want := len(incs.Incidents), 2+3; got != want {
		t.Fatalf("incident keys=%d, want %d", got, want)
	}
}

// With the spike threshold at 100 per hour, the 500 events spike once.
func TestMixedStreamSpike(t *testing.T) {
	g := harness.Start(t, harness.Options{Config: streamConfig(100)})
	mixedStream(t).Post(t, g)
	g.Settle(t)
	checkOutcome(t, observe(t, g), 1)
}

// Every delivery retried at once, as sources do when unsure, then the whole
// stream again: nothing changes.
func TestMixedStreamRetried(t *testing.T) {
	g := harness.Start(t, harness.Options{Config: streamConfig(100000)})
	s := mixedStream(t)
	twice := harness.NewScript(t)
	for _, st := range s.Steps {
		twice.Steps = append(twice.Steps, st, st)
	}
	accepted, dups := twice.Post(t, g)
	if got, want := dups, len(s.Steps); got != want {
		t.Fatalf("duplicates=%d, want %d", got, want)
	}
	if got, want := accepted, len(s.Steps); got != want {
		t.Fatalf("accepted=%d, want %d", got, want)
	}
	g.Settle(t)
	first := observe(t, g)
	checkOutcome(t, first, 0)

	_, dups = s.Post(t, g)
	if got, want := dups, len(s.Steps); got != want {
		t.Fatalf("replay duplicates=%d, want %d", got, want)
	}
	g.Settle(t)
	checkOutcome(t, observe(t, g), 0)
}
