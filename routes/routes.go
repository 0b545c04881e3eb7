// Package routes is the stage between ALERTS and NOTIFY. Its Table decides,
// for a normalized event, its kind (the config's classify rules over the
// source's default), the team that owns it (first matching route), the
// runbook a page carries and what of the route holds its page (notify:
// digest, time intervals); it holds no state, so the same event and config
// (and time, for time intervals) always give the same answer, which `alertgate explain` and `route test`
// rely on. Its Router consumes ALERTS, matches each event with the Table,
// decides it with the policy (dedup) and publishes the notifications.
package routes

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"

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

// route is a config.Route with its (event independent) explanation, its
// notify mode and the holds it can give, formatted once in New.
type route struct {
	config.Route
	why string
	// notify is alertgate.NotifyPage or alertgate.NotifyDigest.
	notify string
	// digest is the hold of a notify: digest route, nil otherwise.
	digest *alertgate.Hold
	// active are the intervals of active_time_intervals; outside all of
	// them, outsideActive holds.
	active        []interval
	outsideActive *alertgate.Hold
	// mute are the intervals of mute_time_intervals, each with its hold.
	mute []interval
}

// interval is one named time interval of a route, with the hold it gives
// (inside a mute interval).
type interval struct {
	name      string
	intervals []timeinterval.TimeInterval
	hold      *alertgate.Hold
}

// contains reports whether at is in the interval, as Alertmanager's
// timeinterval.Intervener decides it: in any of its time intervals, each
// evaluated in its location (UTC when it names none).
func (iv *interval) contains(at time.Time) bool {
	at = at.UTC()
	for i := range iv.intervals {
		if iv.intervals[i].ContainsTime(at) {
			return true
		}
	}
	return false
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
		r.routes[i] = newRoute(cfg, i, rt, why)
	}
	return r
}

// newRoute is routes[i] with its notify mode, intervals and holds.
func newRoute(cfg *config.Config, i int, rt config.Route, why string) route {
	name := "routes[" + strconv.Itoa(i) + "]"
	out := route{Route: rt, why: why, notify: alertgate.NotifyPage}
	if rt.Notify == alertgate.NotifyDigest {
		out.notify = alertgate.NotifyDigest
		out.digest = &alertgate.Hold{Reason: alertgate.HoldDigestOnly, By: name, Rule: name + ".notify",
			Detail: name + " notify: digest: listed in the team's digest, never paged"}
	}
	lookup := func(n string) interval {
		ti, _ := cfg.TimeInterval(n) // validated: every name is defined
		return interval{name: n, intervals: ti.TimeIntervals}
	}
	if len(rt.ActiveTimeIntervals) > 0 {
		rule := name + ".active_time_intervals"
		quoted := make([]string, len(rt.ActiveTimeIntervals))
		for j, n := range rt.ActiveTimeIntervals {
			out.active = append(out.active, lookup(n))
			quoted[j] = strconv.Quote(n)
		}
		detail := "outside active interval " + quoted[0]
		if len(quoted) > 1 {
			detail = "outside active intervals " + strings.Join(quoted, ", ")
		}
		out.outsideActive = &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: strings.Join(rt.ActiveTimeIntervals, ","),
			Rule: rule, Detail: detail + " (" + rule + ")"}
	}
	for _, n := range rt.MuteTimeIntervals {
		rule := name + ".mute_time_intervals"
		iv := lookup(n)
		iv.hold = &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: n, Rule: rule,
			Detail: "inside mute interval " + strconv.Quote(n) + " (" + rule + ")"}
		out.mute = append(out.mute, iv)
	}
	return out
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
		return alertgate.Match{Route: i, Team: rt.Team, PageBugs: rt.PageBugs, Notify: rt.notify, RouteWhy: rt.why,
			Runbook: r.chooseRunbook(rt.Runbook, ev)}
	}
	// Unreachable with a validated config; route to nobody rather than panic.
	return alertgate.Match{Route: -1, RouteWhy: "no route matched"}
}

// Owner is what Classify and Route decide for an event of kind with
// labels, without their explanations and the runbook choice: its kind
// after the classify rules, and the team of the first route matching it
// then. The report attributes every stored event to a team with it.
// labels[kind] is set to a kind a classify rule gives, as Classify does.
func (r *Table) Owner(kind alertgate.Kind, labels map[string]string) (alertgate.Kind, string) {
	for i := range r.classify {
		if c := &r.classify[i]; c.Match.Matches(labels) {
			kind = c.Kind
			if labels != nil {
				labels[alertgate.LabelKind] = string(kind)
			}
			break
		}
	}
	for i := range r.routes {
		if r.routes[i].Match.Matches(labels) {
			return kind, r.routes[i].Team
		}
	}
	return kind, ""
}

// RouteHold is the hold of m's route itself: HoldDigestOnly for a route
// with notify: digest, whose incidents never page; nil otherwise.
func (r *Table) RouteHold(m alertgate.Match) *alertgate.Hold {
	if m.Route < 0 || m.Route >= len(r.routes) {
		return nil
	}
	return cloneHold(r.routes[m.Route].digest)
}

// TimeHold is the hold the time intervals of m's route give at: a
// HoldMutedTime when the route has active_time_intervals and at is in none
// of them, or when at is in one of its mute_time_intervals (the first that
// contains it); nil otherwise. Intervals are evaluated as Alertmanager does,
// each in its location. It allocates only for the hold it returns.
func (r *Table) TimeHold(m alertgate.Match, at time.Time) *alertgate.Hold {
	if m.Route < 0 || m.Route >= len(r.routes) {
		return nil
	}
	rt := &r.routes[m.Route]
	if len(rt.active) > 0 {
		in := false
		for i := range rt.active {
			if rt.active[i].contains(at) {
				in = true
				break
			}
		}
		if !in {
			return cloneHold(rt.outsideActive)
		}
	}
	for i := range rt.mute {
		if rt.mute[i].contains(at) {
			return cloneHold(rt.mute[i].hold)
		}
	}
	return nil
}

// cloneHold is a copy of h for a caller to keep (nil for nil): the Table's
// own holds are shared by every event.
func cloneHold(h *alertgate.Hold) *alertgate.Hold {
	if h == nil {
		return nil
	}
	c := *h
	return &c
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
