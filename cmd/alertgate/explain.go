package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/app"
	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/routes"
)

// explain parses a payload file as the gateway would, says what kind,
// key, episode, route and runbook each event gets and why, and asks a
// running gateway (--url) for the last decision on each key.
func explain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	source := fs.String("source", "", "alertmanager, sentry, datadog or events")
	resource := fs.String("resource", "", "Sentry-Hook-Resource of a saved Sentry body (guessed when empty)")
	payload := fs.String("payload", "", "webhook body file")
	gw := fs.String("url", "http://localhost:8080", "running gateway to ask for the last decision; empty skips")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *source == "" || *payload == "" {
		return fmt.Errorf("explain needs --source and --payload")
	}
	cfg, _, err := loadConfig(*path)
	if err != nil {
		return err
	}
	rb, err := app.LoadRunbooks(cfg.RunbookDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	body, err := os.ReadFile(*payload)
	if err != nil {
		return err
	}
	evs, err := ingest.ParsePayload(alertgate.Source(*source), *resource, body)
	if err != nil {
		return fmt.Errorf("%s: %s", *payload, alertgate.ErrorMessage(err))
	}
	rt := routes.New(cfg, rb)
	out := []any{}
	for _, ev := range evs {
		why := rt.Classify(&ev)
		m := rt.Route(ev)
		m.KindWhy = why
		item := map[string]any{
			"key": ev.Key, "episode": ev.Episode, "status": ev.Status, "kind": ev.Kind, "kind_why": why,
			"team": m.Team, "route": m.Route, "route_why": m.RouteWhy, "runbook": m.Runbook,
			"would_page": wouldPage(ev, m, cfg.Teams),
		}
		if *gw != "" {
			item["last_decision"] = lastDecision(*gw, ev)
		}
		out = append(out, item)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// wouldPage says what the policy does with a first occurrence of ev.
func wouldPage(ev alertgate.Event, m routes.Match, teams interface{}) string {
	switch {
	case ev.Kind == alertgate.KindIncident && ev.Status == alertgate.StatusFiring:
		return "yes: a new firing episode pages team " + m.Team
	case ev.Kind == alertgate.KindIncident:
		return "no: a resolve resolves the episode's page, if it paged"
	case m.PageBugs:
		return "once: a new bug class (or a regression) pages, later occurrences are counted"
	}
	return "no: bug classes go to the digest (new, regression, spike); the route does not set page_bugs"
}

func lastDecision(base string, ev alertgate.Event) any {
	u := base + "/v1/explain?source=" + url.QueryEscape(string(ev.Source)) + "&key=" + url.QueryEscape(ev.Key)
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return "gateway not reachable: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "never seen by the gateway"
	}
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "unreadable answer: " + err.Error()
	}
	return map[string]any{"last_decision": v["last_decision"], "incident": v["incident"], "bug": v["bug"]}
}
