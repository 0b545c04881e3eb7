package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/ingest/alertmanager"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/inhibit"
	"github.com/alertgate/alertgate/silences"
)

// holdsConfig is the "with" variant's config, rendered as for a process.
func holdsConfig(t *testing.T) *config.Config {
	t.Helper()
	root := findRoot()
	o := alertgateOpts{
		root: root, configTemplate: filepath.Join(root, "bench", "alertgate.yaml"), pdURL: "http://127.0.0.1:1",
		tokens:      tokens{Alertmanager: randomToken(), Datadog: randomToken(), Events: randomToken(), SentrySecret: randomToken()},
		extraConfig: inhibitRulesYAML(holdsRules),
	}
	y, err := renderConfig(o, "127.0.0.1:8080", filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]byte(y), nil)
	if err != nil {
		t.Fatalf("the holds config does not load: %v\n%s", err, y)
	}
	return cfg
}

// stormEvent is an alert of the storm as alertgate's router sees it.
func stormEvent(t *testing.T) alertgate.Event {
	t.Helper()
	p, err := loadgen.NewPayloads(loadgen.Alertmanager, 7, filepath.Join(findRoot(), "testdata", "fixtures"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	evs, err := alertmanager.Parse(p.Render(nil, []uint64{1}))
	if err != nil || len(evs) != 1 {
		t.Fatalf("storm payload: %v (%d events)", err, len(evs))
	}
	return evs[0]
}

func TestHoldsConfigHasEveryRuleAndTargetsTheStorm(t *testing.T) {
	cfg := holdsConfig(t)
	if len(cfg.InhibitRules) != holdsRules {
		t.Fatalf("%d inhibit rules, want %d", len(cfg.InhibitRules), holdsRules)
	}
	storm := stormEvent(t)
	for i, r := range cfg.InhibitRules {
		if !r.TargetMatchers.Matches(storm.Labels) {
			t.Errorf("inhibit_rules[%d]: target matchers do not match the storm's labels %v", i, storm.Labels)
		}
		if r.SourceMatchers.Matches(storm.Labels) {
			t.Errorf("inhibit_rules[%d]: a storm alert is a source", i)
		}
	}
	// Without the extra YAML the config has no rules: the base is the same.
	o := alertgateOpts{root: findRoot(), configTemplate: filepath.Join(findRoot(), "bench", "alertgate.yaml")}
	y, err := renderConfig(o, "127.0.0.1:8080", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(y, "inhibit_rules") {
		t.Error("the base config has inhibit_rules")
	}
}

func TestInhibitSourcesFireEveryRuleButHoldNoStormAlert(t *testing.T) {
	cfg := holdsConfig(t)
	evs, err := events.Parse(inhibitSources(holdsRules))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != holdsRules {
		t.Fatalf("%d source events, want %d", len(evs), holdsRules)
	}
	rules := make([]inhibit.Rule, len(cfg.InhibitRules))
	for i, r := range cfg.InhibitRules {
		rules[i] = inhibit.Rule{Source: r.SourceMatchers, Target: r.TargetMatchers, Equal: r.Equal}
	}
	in := inhibit.New(nil, rules, nil)
	storm := stormEvent(t)
	for i, ev := range evs {
		if ev.Kind != alertgate.KindIncident || ev.Status != alertgate.StatusFiring {
			t.Fatalf("source %d: %s %s", i, ev.Kind, ev.Status)
		}
		for j, r := range rules {
			if got := r.Source.Matches(ev.Labels); got != (i == j) {
				t.Errorf("source %d matches rule %d's source matchers: %v", i, j, got)
			}
		}
		if ev.Labels["instance"] == storm.Labels["instance"] {
			t.Errorf("source %d is on the storm's instance", i)
		}
		if err := in.Observe(t.Context(), ev.Key, ev.Title, ev.Labels, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(in.Firing()); n != holdsRules {
		t.Fatalf("%d firing sources, want %d", n, holdsRules)
	}
	if h := in.Inhibited(storm.Key, storm.Labels); h != nil {
		t.Fatalf("a storm alert is inhibited: %+v", h)
	}
	// The rules are live: the storm's alert on a source's instance is held.
	onSource := map[string]string{}
	for k, v := range storm.Labels {
		onSource[k] = v
	}
	onSource["instance"] = evs[42].Labels["instance"]
	if h := in.Inhibited(storm.Key, onSource); h == nil || h.Rule != "inhibit_rules[42]" {
		t.Fatalf("the storm's alert on source 42's instance: hold %+v, want inhibit_rules[42]", h)
	}
}

func TestHoldSilencesAreValidAndMatchNoStormAlert(t *testing.T) {
	storm := stormEvent(t)
	sils := holdSilences(holdsIndexed, holdsScanned)
	if len(sils) != 1000 {
		t.Fatalf("%d silences, want 1000", len(sils))
	}
	now := time.Now()
	indexed := 0
	for i, s := range sils {
		// The API's body: exactly the fields POST /v1/silences takes.
		b, _ := json.Marshal(s)
		var fields map[string]any
		_ = json.Unmarshal(b, &fields)
		for k := range fields {
			switch k {
			case "matchers", "duration", "created_by", "comment":
			default:
				t.Fatalf("silence %d: field %q", i, k)
			}
		}
		d, err := time.ParseDuration(s.Duration)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := silences.Validate(silences.Silence{Matchers: s.Matchers, EndsAt: now.Add(d), CreatedBy: s.CreatedBy, Comment: s.Comment}, now); err != nil {
			t.Fatalf("silence %d %v: %v", i, s.Matchers, err)
		}
		all, equality := true, false
		for _, m := range s.Matchers {
			pm, err := config.ParseMatcher(m)
			if err != nil {
				t.Fatal(err)
			}
			all = all && pm.Matches(storm.Labels[pm.Name])
			equality = equality || (pm.Type == labels.MatchEqual && pm.Value != "")
			if _, ok := storm.Labels[pm.Name]; !ok {
				t.Errorf("silence %d: %s names a label the storm's alerts do not have", i, m)
			}
		}
		if all {
			t.Errorf("silence %d %v matches the storm's alerts", i, s.Matchers)
		}
		if equality {
			indexed++
		}
	}
	if indexed != holdsIndexed {
		t.Errorf("%d silences with an equality matcher, want %d (and %d without)", indexed, holdsIndexed, holdsScanned)
	}
}
