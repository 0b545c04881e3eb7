// Package routes is the stage between ALERTS and NOTIFY. Its Table decides,
// for a normalized event, its kind (the config's classify rules over the
// source's default), the team that owns it (first matching route) and the
// runbook a page carries; it holds no state, so the same event and config
// always give the same answer, which `alertgate explain` and `route test`
// rely on. Its Router consumes ALERTS, matches each event with the Table,
// decides it with the policy (dedup) and publishes the notifications.
package routes

import (
	"strconv"
	"strings"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/runbooks"
)

// Table matches events against the config: classify rules and routes.
type Table struct {
	classify  []classRule
	routes    []route
	runbooks  *runbooks.Set
	publicURL string
}

// classRule is a config.ClassRule with the explanations that do not depend
// on the event formatted once, in New.
type classRule struct {
	config.ClassRule
	// why is "classify[i] {…} matched".
	why string
	// whyFromBug and whyFromIncident are why for an event of that kind:
	// with ": <kind> overridden to <Kind>" added unless it is Kind itself.
	whyFromBug, whyFromIncident string
}

// route is a config.Route with its (event independent) explanation.
type route struct {
	config.Route
	why string
}

// New returns a Table over cfg's classify rules and routes. rb may be nil
// (no runbooks). The explanations are formatted here, so the rules must not
// change afterwards.
func New(cfg *config.Config, rb *runbooks.Set) *Table {
	r := &Table{
		classify:  make([]classRule, len(cfg.Classify)),
		routes:    make([]route, len(cfg.Routes)),
		runbooks:  rb,
		publicURL: cfg.PublicURL,
	}
	for i, c := range cfg.Classify {
		why := "classify[" + strconv.Itoa(i) + "] " + matchersString(c.Match) + " matched"
		r.classify[i] = classRule{ClassRule: c, why: why,
			whyFromBug:      overridden(why, alertgate.KindBug, c.Kind),
			whyFromIncident: overridden(why, alertgate.KindIncident, c.Kind),
		}
	}
	for i, rt := range cfg.Routes {
		why := "routes[" + strconv.Itoa(i) + "] is the catch-all"
		if len(rt.Match) != 0 {
			why = "routes[" + strconv.Itoa(i) + "] " + matchersString(rt.Match) + " matched"
		}
		r.routes[i] = route{Route: rt, why: why}
	}
	return r
}

// overridden returns why for an event of kind from made to: unchanged when
// the kind stays, else with ": from overridden to to".
func overridden(why string, from, to alertgate.Kind) string {
	if from == to {
		return why
	}
	return why + ": " + string(from) + " overridden to " + string(to)
}

// Classify applies the first matching classify rule to ev's kind and says
// why the kind is what it is. A bug made an incident gets its key as
// episode: it then pages once per open/resolve cycle of the source.
func (r *Table) Classify(ev *alertgate.Event) string {
	for i := range r.classify {
		c := &r.classify[i]
		if c.Match.Matches(ev.Labels) {
			why := classifyWhy(c, ev)
			ev.Kind = c.Kind
			ev.Labels[alertgate.LabelKind] = string(c.Kind)
			if ev.Kind == alertgate.KindIncident && ev.Episode == "" {
				ev.Episode = ev.Key
			}
			return why
		}
	}
	return defaultWhy(ev.Source, ev.Transition)
}

// classifyWhy says why c, which matched ev, gives ev its kind.
func classifyWhy(c *classRule, ev *alertgate.Event) string {
	switch ev.Kind {
	case alertgate.KindBug:
		return c.whyFromBug
	case alertgate.KindIncident:
		return c.whyFromIncident
	default:
		return overridden(c.why, ev.Kind, c.Kind)
	}
}

// defaultWhy says the kind is the source's default: "default for <source>
// events", or with the transition quoted as by %q before "events". It is a
// single allocation unless the transition needs escaping.
func defaultWhy(src alertgate.Source, transition string) string {
	switch {
	case transition == "":
		return "default for " + string(src) + " events"
	case quoteVerbatim(transition):
		return "default for " + string(src) + ` "` + transition + `" events`
	default:
		return "default for " + string(src) + " " + strconv.Quote(transition) + " events"
	}
}

// quoteVerbatim reports whether strconv.Quote(s) is s between double quotes:
// s is printable ASCII without a double quote or backslash.
func quoteVerbatim(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// Route returns the first matching route. The config guarantees the last
// route matches everything.
func (r *Table) Route(ev alertgate.Event) alertgate.Match {
	for i := range r.routes {
		rt := &r.routes[i]
		if !rt.Match.Matches(ev.Labels) {
			continue
		}
		return alertgate.Match{Route: i, Team: rt.Team, PageBugs: rt.PageBugs, RouteWhy: rt.why,
			Runbook: r.chooseRunbook(rt.Runbook, ev)}
	}
	// Unreachable with a validated config; route to nobody rather than panic.
	return alertgate.Match{Route: -1, RouteWhy: "no route matched"}
}

func (r *Table) chooseRunbook(id string, ev alertgate.Event) *alertgate.Runbook {
	if r.runbooks == nil {
		if ev.RunbookURL == "" {
			return nil
		}
		return &alertgate.Runbook{URL: ev.RunbookURL, Why: "source"}
	}
	return r.runbooks.Choose(id, ev.Labels, ev.RunbookURL, r.publicURL)
}

// Runbooks returns the runbook set the router chooses from (may be nil).
func (r *Table) Runbooks() *runbooks.Set { return r.runbooks }

func matchersString(m config.Matchers) string {
	return "{" + strings.Join(m.Strings(), ", ") + "}"
}
