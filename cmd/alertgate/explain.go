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
	"text/tabwriter"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/app"
	"github.com/alertgate/alertgate/runbooks"
)

// routeFlags are the inputs explain and route test share.
type routeFlags struct {
	config, source, resource, payload, labels, at *string
}

func addRouteFlags(fs *flag.FlagSet) routeFlags {
	return routeFlags{
		config:   fs.String("config", "", "config file"),
		source:   fs.String("source", "", "alertmanager, sentry, datadog or events (with --payload)"),
		resource: fs.String("resource", "", "Sentry-Hook-Resource of a saved Sentry body (guessed when empty)"),
		payload:  fs.String("payload", "", "a saved webhook body"),
		labels:   fs.String("labels", "", `labels instead of a payload: "service=checkout,severity=critical"`),
		at:       fs.String("at", "", "evaluate the routes' time intervals at this RFC 3339 time, like 2026-12-05T03:00:00Z (default now)"),
	}
}

func (f routeFlags) answers() ([]app.RouteAnswer, *config.Config, error) {
	at := time.Now()
	if *f.at != "" {
		t, err := time.Parse(time.RFC3339, *f.at)
		if err != nil {
			return nil, nil, fmt.Errorf("--at: want an RFC 3339 time like 2026-12-05T03:00:00Z, got %q", *f.at)
		}
		at = t
	}
	cfg, _, err := loadConfig(*f.config)
	if err != nil {
		return nil, nil, err
	}
	rb, err := loadRunbooks(cfg)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case *f.labels != "" && *f.payload == "":
		a, err := app.RouteLabels(cfg, rb, *f.labels, at)
		return a, cfg, err
	case *f.payload != "" && *f.source != "" && *f.labels == "":
		body, err := os.ReadFile(*f.payload)
		if err != nil {
			return nil, nil, err
		}
		a, err := app.RoutePayload(cfg, rb, alertgate.Source(*f.source), *f.resource, body, at)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s", *f.payload, alertgate.ErrorMessage(err))
		}
		return a, cfg, nil
	}
	return nil, nil, fmt.Errorf("give --labels, or --payload with --source")
}

func loadRunbooks(cfg *config.Config) (*runbooks.Set, error) {
	return app.LoadRunbooks(cfg.RunbookDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// routeTest prints what the router would do: the amtool "config routes
// test" of alertgate, for users' CI. Exit 0; --expect-team makes it a check.
func routeTest(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return fmt.Errorf("usage: alertgate route test --config FILE (--labels 'k=v,…' | --payload FILE --source S) [--at TIME] [--json] [--expect-team T]")
	}
	fs := flag.NewFlagSet("route test", flag.ContinueOnError)
	f := addRouteFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	expect := fs.String("expect-team", "", "fail unless every event goes to this team")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	answers, _, err := f.answers()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(answers); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, a := range answers {
			rb := "none"
			if a.Runbook != nil {
				rb = a.Runbook.URL + " (" + a.Runbook.Why + ")"
			}
			fmt.Fprintf(tw, "key\t%s\nkind\t%s (%s)\nroute\t%d: %s\nteam\t%s\nrunbook\t%s\npage\t%s\naction\t%s\n\n", a.Key, a.Kind, a.KindWhy, a.Route, a.RouteWhy, a.Team, rb, a.WouldPage, a.ActionText())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, a := range answers {
		if *expect != "" && a.Team != *expect {
			return fmt.Errorf("%s goes to team %s, expected %s", a.Key, a.Team, *expect)
		}
	}
	return nil
}

// explain routes a payload as routeTest does and asks a running gateway
// (--url, with the token in ALERTGATE_TOKEN) for the last decision on each
// key.
func explain(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	f := addRouteFlags(fs)
	gw := fs.String("url", "http://localhost:8080", "running gateway to ask for the last decision; empty skips")
	if err := fs.Parse(args); err != nil {
		return err
	}
	answers, _, err := f.answers()
	if err != nil {
		return err
	}
	out := []any{}
	for _, a := range answers {
		item := map[string]any{"route": a}
		if *gw != "" && *f.source != "" {
			item["gateway"] = lastDecision(*gw, alertgate.Source(*f.source), a.Key)
		}
		out = append(out, item)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func lastDecision(base string, source alertgate.Source, key string) any {
	c := newAPIClient(base, 3*time.Second)
	resp, err := c.do(http.MethodGet, "/v1/explain?source="+url.QueryEscape(string(source))+"&key="+url.QueryEscape(key), nil)
	if err != nil {
		return "gateway not reachable: " + err.Error()
	}
	defer resp.Body.Close()
	if why := c.refusal(resp, "explain", "read"); why != "" {
		return why
	}
	if resp.StatusCode == http.StatusNotFound {
		return "never seen by the gateway"
	}
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "unreadable answer: " + err.Error()
	}
	out := map[string]any{"last_decision": v["last_decision"], "incident": v["incident"], "bug": v["bug"]}
	if rel, ok := v["related"]; ok {
		out["related"] = rel // what else goes on in its service, now
	}
	return out
}
