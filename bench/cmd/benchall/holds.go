package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The holds phase: the storm and end-to-end runs with 1,000 active
// silences and 100 inhibit rules ("with"), back to back with the same runs
// without them ("without"), each on a fresh alertgate.
const (
	// holdsRules inhibit rules, each with one firing source.
	holdsRules = 100
	// holdsIndexed silences have equality matchers (the store indexes
	// them); holdsScanned have only regex and negative matchers (checked
	// one by one for every event).
	holdsIndexed = 900
	holdsScanned = 100
)

// inhibitRulesYAML is the inhibit_rules section appended to
// bench/alertgate.yaml for the "with" runs: n rules whose target matchers
// all match the storm's alerts (bench/loadgen: service checkout, severity
// critical), so every rule is evaluated for every storm event, each with
// the source alertname BenchSource<i> and equal: [instance].
func inhibitRulesYAML(n int) string {
	var b strings.Builder
	b.WriteString("\n# Added by benchall's holds phase: every rule's target matchers match the\n")
	b.WriteString("# storm's alerts; each rule's one firing source is on another instance.\n")
	b.WriteString("inhibit_rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - source_matchers: ['alertname=\"BenchSource%d\"']\n", i)
		b.WriteString("    target_matchers: ['service=\"checkout\"', 'severity=~\"critical|error\"']\n")
		b.WriteString("    equal: [instance]\n")
	}
	return b.String()
}

// holdsSourceEvent is one incident of the events source
// (/v1/ingest/events).
type holdsSourceEvent struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Key      string            `json:"key"`
	Episode  string            `json:"episode"`
	Status   string            `json:"status"`
	Title    string            `json:"title"`
	Severity string            `json:"severity"`
	Service  string            `json:"service"`
	Labels   map[string]string `json:"labels"`
}

// inhibitSources is the body that makes each of the n rules' source fire:
// incident i has alertname BenchSource<i> and instance 10.9.<i>.1:8080,
// never the storm's, so each rule's lookup is computed and finds nothing.
func inhibitSources(n int) []byte {
	evs := make([]holdsSourceEvent, n)
	for i := range evs {
		instance := fmt.Sprintf("10.9.%d.1:8080", i)
		evs[i] = holdsSourceEvent{
			ID: fmt.Sprintf("bench-inhibit-source-%d", i), Kind: "incident",
			Key: fmt.Sprintf("bench:inhibit-source:%d", i), Episode: "1", Status: "firing",
			Title: fmt.Sprintf("BenchSource%d on %s", i, instance), Severity: "critical", Service: "bench-holds",
			Labels: map[string]string{"alertname": fmt.Sprintf("BenchSource%d", i), "instance": instance},
		}
	}
	b, _ := json.Marshal(evs)
	return b
}

// silenceBody is the body of POST /v1/silences.
type silenceBody struct {
	Matchers  []string `json:"matchers"`
	Duration  string   `json:"duration"`
	CreatedBy string   `json:"created_by"`
	Comment   string   `json:"comment"`
}

// holdSilences are the silences of the "with" runs, none of which matches
// a storm alert: indexed ones on a maintenance alertname and another
// service, then scanned ones with only a regex on another subnet (and, for
// every other one, a negative matcher).
func holdSilences(indexed, scanned int) []silenceBody {
	out := make([]silenceBody, 0, indexed+scanned)
	for i := range indexed {
		out = append(out, silenceBody{
			Matchers: []string{`alertname="Maintenance"`, fmt.Sprintf(`service="svc-%d"`, i)},
			Duration: "2h", CreatedBy: "bench", Comment: fmt.Sprintf("maintenance of svc-%d", i),
		})
	}
	for i := range scanned {
		ms := []string{fmt.Sprintf(`instance=~"10\\.8\\.%d\\..*"`, i)}
		if i%2 == 0 {
			ms = append(ms, `severity!="info"`)
		}
		out = append(out, silenceBody{Matchers: ms, Duration: "2h", CreatedBy: "bench", Comment: fmt.Sprintf("subnet 10.8.%d.0/24 rewired", i)})
	}
	return out
}

// holdsResult is the holds phase.
type holdsResult struct {
	Rules   int `json:"inhibit_rules"`
	Indexed int `json:"silences_indexed"`
	Scanned int `json:"silences_scanned"`
	abResult
}

// holdsSpec is the holds phase's A/B: "with" has the inhibit rules in its
// config and, set up on each process, their firing sources and the
// silences. The probe counts the decisions a silence or an inhibit rule
// held: none may be (the holds match no storm alert).
func (b *bench) holdsSpec() abSpec {
	held := func(ctx context.Context, url string) float64 {
		v, _ := metricSumWhere(ctx, url, "alertgate_router_decisions_total", func(line string) bool {
			return strings.Contains(line, `outcome="silenced"`) || strings.Contains(line, `outcome="inhibited"`)
		})
		return v
	}
	return abSpec{
		phase:   "holds",
		without: abVariant{name: "without holds", short: "without", probe: held, probeName: "held"},
		with: abVariant{name: "with holds", short: "with", config: inhibitRulesYAML(holdsRules),
			setup: b.setupHolds, probe: held, probeName: "held"},
		check: func(r abRun) error {
			if h := r.held(); h > 0 {
				return fmt.Errorf("%.0f decisions held by a silence or an inhibit rule (none should match the storm)", h)
			}
			return nil
		},
	}
}

// held is how many decisions of the holds phase's storm process and
// end-to-end process a silence or an inhibit rule held.
func (r abRun) held() float64 { return r.StormProbe + r.E2EProbe }

// holdsPhase runs without, with, without, with: each a storm on a fresh
// alertgate, then an end-to-end run at a fixed rate on another fresh one.
func (b *bench) holdsPhase(ctx context.Context) error {
	res := &holdsResult{Rules: holdsRules, Indexed: holdsIndexed, Scanned: holdsScanned}
	b.res.Holds = res
	return b.abPhase(ctx, b.holdsSpec(), &res.abResult)
}

// setupHolds makes every inhibit rule's source fire and adds the
// silences, then checks that they are all active. It returns how many
// silences are active.
func (b *bench) setupHolds(ctx context.Context, url string) (int, error) {
	pages0 := b.pd.events.Load()
	d0, err := metricSum(ctx, url, "alertgate_router_decisions_total")
	if err != nil {
		return 0, err
	}
	// The sources: one request of the events source.
	if err := b.post(ctx, url+"/v1/ingest/events", "Bearer "+b.tokens.Events, inhibitSources(holdsRules), http.StatusAccepted); err != nil {
		return 0, err
	}
	// The silences, b.o.concurrency at a time. The bench config sets no
	// api.tokens: the API is open.
	sils := holdSilences(holdsIndexed, holdsScanned)
	ch := make(chan []byte)
	errc := make(chan error, b.o.concurrency)
	for range b.o.concurrency {
		go func() {
			var first error
			for body := range ch {
				if err := b.post(ctx, url+"/v1/silences", "", body, http.StatusCreated); err != nil && first == nil {
					first = err
				}
			}
			errc <- first
		}()
	}
	for _, s := range sils {
		body, _ := json.Marshal(s)
		ch <- body
	}
	close(ch)
	var errs []error
	for range b.o.concurrency {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	active, err := activeSilences(ctx, url)
	if err != nil {
		return active, err
	}
	if active != len(sils) {
		return active, fmt.Errorf("GET /v1/silences?state=active: %d active, want %d", active, len(sils))
	}
	// Every source decided (and so recorded as firing) and paged, before
	// the load starts.
	if err := waitDecisions(ctx, url, int(d0)+holdsRules, 30*time.Second); err != nil {
		return active, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.pd.events.Load()-pages0 < holdsRules {
		if time.Now().After(deadline) {
			return active, fmt.Errorf("%d of the %d inhibit sources paged", b.pd.events.Load()-pages0, holdsRules)
		}
		select {
		case <-ctx.Done():
			return active, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return active, waitQuiet(ctx, &b.pd.events, 500*time.Millisecond, 10*time.Second)
}

// activeSilences counts GET /v1/silences?state=active.
func activeSilences(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/silences?state=active", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/silences?state=active: HTTP %d", resp.StatusCode)
	}
	var list struct {
		Silences []struct {
			State string `json:"state"`
		} `json:"silences"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return 0, fmt.Errorf("GET /v1/silences?state=active: %w", err)
	}
	n := 0
	for _, s := range list.Silences {
		if s.State == "active" {
			n++
		}
	}
	return n, nil
}
