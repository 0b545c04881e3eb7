package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/alertgate/alertgate"
)

// The related phase: the storm and end-to-end runs with related signals
// on every page ("with": the default correlation, labels [service] and a
// 30m window, with bug classes and open incidents of the storm's service
// set up first, so that every page lists full lists), back to back with
// the same runs with correlation off ("without").
const (
	// relatedBugClasses of the storm's service, each with
	// relatedOccurrences occurrences, and relatedIncidents open incidents
	// of it, all posted before the load.
	relatedBugClasses  = 50
	relatedOccurrences = 3
	relatedIncidents   = 20
	// relatedService is the storm's service (bench/loadgen).
	relatedService = "checkout"
)

// correlationOffYAML is appended to bench/alertgate.yaml for the
// "without" runs.
const correlationOffYAML = "\n# Added by benchall's related phase: correlation off, no page lists related signals.\ncorrelation: {labels: []}\n"

// relatedEvent is one event of the events source (/v1/ingest/events); a
// bug class's has no episode.
type relatedEvent struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Key      string            `json:"key"`
	Episode  string            `json:"episode,omitempty"`
	Status   string            `json:"status"`
	Title    string            `json:"title"`
	Severity string            `json:"severity"`
	Service  string            `json:"service"`
	Labels   map[string]string `json:"labels"`
}

// relatedSignals is the body that sets up the "with" runs: bugs classes
// of the storm's service, each occurring occurrences times (distinct ids),
// then incidents open incidents of it.
func relatedSignals(bugs, occurrences, incidents int) []byte {
	evs := make([]relatedEvent, 0, bugs*occurrences+incidents)
	for o := range occurrences {
		for i := range bugs {
			evs = append(evs, relatedEvent{
				ID: fmt.Sprintf("bench-related-bug-%d-%d", i, o), Kind: "bug", Key: fmt.Sprintf("bench:related:bug:%d", i), Status: "firing",
				Title:    fmt.Sprintf("TypeError: cannot read properties of undefined (reading 'line%d') in cart.total", i),
				Severity: "error", Service: relatedService, Labels: map[string]string{"environment": "production", "release": "checkout@2026.03.14"},
			})
		}
	}
	for i := range incidents {
		evs = append(evs, relatedEvent{
			ID: fmt.Sprintf("bench-related-incident-%d", i), Kind: "incident", Key: relatedIncidentKey(i), Episode: "1", Status: "firing",
			Title:    fmt.Sprintf("Checkout dependency %d: error rate above 2%%", i),
			Severity: "critical", Service: relatedService, Labels: map[string]string{"alertname": "CheckoutDependencyErrors", "dependency": fmt.Sprintf("dep-%d", i)},
		})
	}
	b, _ := json.Marshal(evs)
	return b
}

// relatedIncidentKey is the events source's key of set-up incident i (as
// sent; alertgate prefixes it with "events:").
func relatedIncidentKey(i int) string { return fmt.Sprintf("bench:related:incident:%d", i) }

// relatedResult is the related phase.
type relatedResult struct {
	Labels      []string `json:"labels"`
	Window      string   `json:"window"`
	BugClasses  int      `json:"bug_classes"`
	Occurrences int      `json:"occurrences_per_class"`
	Incidents   int      `json:"incidents"`
	abResult
}

// relatedSpec is the related phase's A/B. Its probes are pages the
// loopback PagerDuty took: "without", those carrying related signals
// (none may); "with", those listing a related bug class (the storm's
// must).
func (b *bench) relatedSpec() abSpec {
	counter := func(c interface{ Load() int64 }) func(context.Context, string) float64 {
		return func(context.Context, string) float64 { return float64(c.Load()) }
	}
	return abSpec{
		phase: "related",
		without: abVariant{name: "without correlation", short: "off", config: correlationOffYAML,
			probe: counter(&b.pd.related), probeName: "pages carrying related"},
		with: abVariant{name: "with correlation", short: "on", setup: b.setupRelated,
			probe: counter(&b.pd.relatedBugs), probeName: "pages listing related bug classes"},
		check: func(r abRun) error {
			switch {
			case !r.With && r.StormProbe+r.E2EProbe > 0:
				return fmt.Errorf("%.0f pages carry related signals with correlation off", r.StormProbe+r.E2EProbe)
			case r.With && r.StormProbe < 1:
				return fmt.Errorf("none of the storm's %d pages lists a related bug class", r.StormPages)
			}
			return nil
		},
	}
}

// relatedPhase runs off, on, off, on: each a storm on a fresh alertgate,
// then an end-to-end run at a fixed rate on another fresh one.
func (b *bench) relatedPhase(ctx context.Context) error {
	res := &relatedResult{Labels: []string{alertgate.LabelService}, Window: "30m", BugClasses: relatedBugClasses,
		Occurrences: relatedOccurrences, Incidents: relatedIncidents}
	b.res.Related = res
	return b.abPhase(ctx, b.relatedSpec(), &res.abResult)
}

// setupRelated posts the bug classes and incidents, waits until they are
// decided and the incidents' pages arrived, then checks that an incident
// lists every other one and every bug class as related. It returns how
// many bug classes that incident lists.
func (b *bench) setupRelated(ctx context.Context, base string) (int, error) {
	pages0 := b.pd.events.Load()
	d0, err := metricSum(ctx, base, "alertgate_router_decisions_total")
	if err != nil {
		return 0, err
	}
	if err := b.post(ctx, base+"/v1/ingest/events", "Bearer "+b.tokens.Events,
		relatedSignals(relatedBugClasses, relatedOccurrences, relatedIncidents), http.StatusAccepted); err != nil {
		return 0, err
	}
	if err := waitDecisions(ctx, base, int(d0)+relatedBugClasses*relatedOccurrences+relatedIncidents, 30*time.Second); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.pd.events.Load()-pages0 < relatedIncidents {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of the %d related incidents paged", b.pd.events.Load()-pages0, relatedIncidents)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := waitQuiet(ctx, &b.pd.events, 500*time.Millisecond, 10*time.Second); err != nil {
		return 0, err
	}
	rel, err := relatedOf(ctx, base, "events:"+relatedIncidentKey(0))
	if err != nil {
		return 0, err
	}
	bugs, incidents := len(rel.Bugs)+rel.MoreBugs, len(rel.Incidents)+rel.MoreIncidents
	if bugs != relatedBugClasses || incidents != relatedIncidents-1 {
		return bugs, fmt.Errorf("an incident lists %d related bug classes and %d other incidents, want %d and %d", bugs, incidents, relatedBugClasses, relatedIncidents-1)
	}
	return bugs, nil
}

// relatedOf is what GET /v1/incidents/{key} lists as related to key.
func relatedOf(ctx context.Context, base, key string) (*alertgate.Related, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/incidents/"+url.PathEscape(key), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/incidents/%s: HTTP %d", key, resp.StatusCode)
	}
	var view struct {
		Related *alertgate.Related `json:"related"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil {
		return nil, fmt.Errorf("GET /v1/incidents/%s: %w", key, err)
	}
	if view.Related == nil {
		return nil, errors.New("GET /v1/incidents/" + key + ": no related signals (correlation off?)")
	}
	return view.Related, nil
}
