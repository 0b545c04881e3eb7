// Package routes decides, for a normalized event, its kind (the config's
// classify rules over the source's default), the team that owns it (first
// matching route) and the runbook a page carries. It holds no state: the
// same event and config always give the same answer, which is what
// `alertgate explain` and `route test` rely on.
package routes

import (
	"fmt"
	"strings"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/runbooks"
)

// Router matches events against the config.
type Router struct {
	classify  []config.ClassRule
	routes    []config.Route
	runbooks  *runbooks.Set
	publicURL string
}

// New returns a Router over cfg's classify rules and routes. rb may be nil
// (no runbooks).
func New(cfg *config.Config, rb *runbooks.Set) *Router {
	return &Router{classify: cfg.Classify, routes: cfg.Routes, runbooks: rb, publicURL: cfg.PublicURL}
}

// Match is where an event goes and why.
type Match struct {
	// Route is the index of the matching route in the config.
	Route    int    `json:"route"`
	Team     string `json:"team"`
	PageBugs bool   `json:"page_bugs"`
	// Runbook is nil when neither a runbook nor the source gives one.
	Runbook *alertgate.Runbook `json:"runbook,omitempty"`
	// KindWhy and RouteWhy say in words how kind and route were chosen.
	KindWhy  string `json:"kind_why"`
	RouteWhy string `json:"route_why"`
}

// Classify applies the first matching classify rule to ev's kind and says
// why the kind is what it is. A bug made an incident gets its key as
// episode: it then pages once per open/resolve cycle of the source.
func (r *Router) Classify(ev *alertgate.Event) string {
	for i, c := range r.classify {
		if c.Match.Matches(ev.Labels) {
			why := fmt.Sprintf("classify[%d] %s matched", i, matchersString(c.Match))
			if ev.Kind != c.Kind {
				why += fmt.Sprintf(": %s overridden to %s", ev.Kind, c.Kind)
			}
			ev.Kind = c.Kind
			ev.Labels[alertgate.LabelKind] = string(c.Kind)
			if ev.Kind == alertgate.KindIncident && ev.Episode == "" {
				ev.Episode = ev.Key
			}
			return why
		}
	}
	return fmt.Sprintf("default for %s %s", ev.Source, sourceThing(ev))
}

func sourceThing(ev *alertgate.Event) string {
	if ev.Transition != "" {
		return fmt.Sprintf("%q events", ev.Transition)
	}
	return "events"
}

// Route returns the first matching route. The config guarantees the last
// route matches everything.
func (r *Router) Route(ev alertgate.Event) Match {
	for i, rt := range r.routes {
		if !rt.Match.Matches(ev.Labels) {
			continue
		}
		m := Match{Route: i, Team: rt.Team, PageBugs: rt.PageBugs}
		if len(rt.Match) == 0 {
			m.RouteWhy = fmt.Sprintf("routes[%d] is the catch-all", i)
		} else {
			m.RouteWhy = fmt.Sprintf("routes[%d] %s matched", i, matchersString(rt.Match))
		}
		m.Runbook = r.chooseRunbook(rt.Runbook, ev)
		return m
	}
	// Unreachable with a validated config; route to nobody rather than panic.
	return Match{Route: -1, RouteWhy: "no route matched"}
}

func (r *Router) chooseRunbook(id string, ev alertgate.Event) *alertgate.Runbook {
	if r.runbooks == nil {
		if ev.RunbookURL == "" {
			return nil
		}
		return &alertgate.Runbook{URL: ev.RunbookURL, Why: "source"}
	}
	return r.runbooks.Choose(id, ev.Labels, ev.RunbookURL, r.publicURL)
}

// Runbooks returns the runbook set the router chooses from (may be nil).
func (r *Router) Runbooks() *runbooks.Set { return r.runbooks }

func matchersString(m config.Matchers) string {
	return "{" + strings.Join(m.Strings(), ", ") + "}"
}
