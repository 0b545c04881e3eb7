package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/app"
	"github.com/alertgate/alertgate/runbooks"
)

// check validates the config and runbooks, and reports every paging route
// that can page without a runbook.
func check(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, from, err := loadConfig(*path)
	if err != nil {
		return err
	}
	rb, err := app.LoadRunbooks(cfg.RunbookDir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fmt.Errorf("runbooks_dir %s: %w", cfg.RunbookDir, err)
	}
	var problems int
	for i, r := range cfg.Routes {
		if r.Runbook != "" {
			if _, ok := rb.Get(r.Runbook); !ok {
				fmt.Fprintf(stdout, "%s: routes[%d].runbook: no runbook with id %q in %s\n", from, i, r.Runbook, cfg.RunbookDir)
				problems++
			}
			continue
		}
		if !pages(cfg, r) {
			continue
		}
		if !anyRunbookCovers(rb, r.Match) {
			fmt.Fprintf(stdout, "%s: routes[%d] (team %s) can page without a runbook: no runbook's matchers are implied by %v; set routes[%d].runbook or add a runbook\n",
				from, i, r.Team, r.Match.Strings(), i)
		}
	}
	fmt.Fprintf(stdout, "%s: %d teams, %d routes, %d runbooks\n", from, len(cfg.Teams), len(cfg.Routes), rb.Len())
	if problems > 0 {
		return fmt.Errorf("%d problems", problems)
	}
	return nil
}

// pages reports whether a route's team has a PagerDuty key: a dry-run team
// pages nobody.
func pages(cfg *config.Config, r config.Route) bool {
	t, _ := cfg.Team(r.Team)
	return t.PagerDutyRoutingKey != ""
}

// anyRunbookCovers reports whether some runbook matches every event this
// route can receive: each of the runbook's matchers is also one of the
// route's. Otherwise some event of the route may find no runbook.
func anyRunbookCovers(set *runbooks.Set, route config.Matchers) bool {
	have := map[string]bool{}
	for _, m := range route {
		have[m.String()] = true
	}
	for _, rb := range set.All() {
		if len(rb.Match) == 0 {
			continue
		}
		covered := true
		for _, m := range rb.Match {
			covered = covered && have[m.String()]
		}
		if covered {
			return true
		}
	}
	return false
}
