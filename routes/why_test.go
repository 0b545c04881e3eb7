package routes

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/runbooks"
)

// The explanations were formatted with fmt on every event; New now formats
// what is static. These are the old formatters, to check the text is the same.

func fmtClassifyWhy(i int, c config.ClassRule, kind alertgate.Kind) string {
	why := fmt.Sprintf("classify[%d] %s matched", i, "{"+strings.Join(c.Match.Strings(), ", ")+"}")
	if kind != c.Kind {
		why += fmt.Sprintf(": %s overridden to %s", kind, c.Kind)
	}
	return why
}

func fmtDefaultWhy(ev *alertgate.Event) string {
	thing := "events"
	if ev.Transition != "" {
		thing = fmt.Sprintf("%q events", ev.Transition)
	}
	return fmt.Sprintf("default for %s %s", ev.Source, thing)
}

func fmtRouteWhy(i int, rt config.Route) string {
	if len(rt.Match) == 0 {
		return fmt.Sprintf("routes[%d] is the catch-all", i)
	}
	return fmt.Sprintf("routes[%d] %s matched", i, "{"+strings.Join(rt.Match.Strings(), ", ")+"}")
}

func TestWhyText(t *testing.T) {
	example, err := os.ReadFile("../examples/alertgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := runbooks.LoadDir("../examples/runbooks")
	if err != nil {
		t.Fatal(err)
	}
	classified := 0
	for _, raw := range []string{cfgYAML, string(example)} {
		cfg, err := config.Load([]byte(raw), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		r := New(cfg, rb)
		for i, rt := range cfg.Routes {
			if got, want := r.routes[i].why, fmtRouteWhy(i, rt); got != want {
				t.Errorf("routes[%d] why %q, want %q", i, got, want)
			}
		}
		for i, c := range cfg.Classify {
			for _, k := range []alertgate.Kind{alertgate.KindBug, alertgate.KindIncident, "", "other"} {
				ev := alertgate.Event{Kind: k}
				if got, want := classifyWhy(&r.classify[i], &ev), fmtClassifyWhy(i, c, k); got != want {
					t.Errorf("classify[%d] kind %q why %q, want %q", i, k, got, want)
				}
			}
		}
		for _, src := range []alertgate.Source{alertgate.SourceAlertmanager, alertgate.SourceSentry, alertgate.SourceDatadog, alertgate.SourceEvents} {
			for _, tr := range []string{"", "firing", "Re-Triggered", "issue.resolved", "No Data", `a"b`, `a\b`, "a\nb", "a\tb", "a\x7fb", "…", "\xff", "é"} {
				for _, lset := range []map[string]string{
					{"service": "checkout", "alertname": "HighErrorRate"},
					{"event_type": "error_tracking_alert", "project": "billing-cron", "service": "front-end", "team": "frontend"},
					{},
				} {
					for _, k := range []alertgate.Kind{alertgate.KindBug, alertgate.KindIncident} {
						labels := make(map[string]string, len(lset))
						for n, v := range lset {
							labels[n] = v
						}
						ev := alertgate.Event{Source: src, Kind: k, Key: "k", Transition: tr, Labels: labels}
						ev.Finish()
						want := fmtDefaultWhy(&ev)
						matched := -1
						for i, c := range cfg.Classify {
							if c.Match.Matches(ev.Labels) {
								matched, want = i, fmtClassifyWhy(i, c, ev.Kind)
								break
							}
						}
						if matched >= 0 {
							classified++
						}
						if got := r.Classify(&ev); got != want {
							t.Errorf("%s %q %s (rule %d): why %q, want %q", src, tr, k, matched, got, want)
						}
						m := r.Route(ev)
						if got, want := m.RouteWhy, fmtRouteWhy(m.Route, cfg.Routes[m.Route]); got != want {
							t.Errorf("route why %q, want %q", got, want)
						}
					}
				}
			}
		}
	}
	if classified == 0 {
		t.Fatal("no event matched a classify rule")
	}
}
