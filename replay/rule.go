package replay

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/dedup"
)

// differs reports whether an event was decided differently by the two
// configs: another outcome, or another team.
func differs(l, c step) bool {
	return l.kind != c.kind || l.d.Outcome != c.d.Outcome || l.m.Team != c.m.Team
}

// rule names what in the candidate made its decision differ from the live
// one, in the order the router applies the config: classify, the route,
// what holds the page, the route's team and options, then the policy.
func rule(l, c step) string {
	switch {
	case l.kind != c.kind:
		return c.m.KindWhy
	case l.m.RouteWhy != c.m.RouteWhy:
		return fmt.Sprintf("%s (was %s)", c.m.RouteWhy, routeName(l.m.RouteWhy))
	case c.d.Outcome == dedup.OutcomeFlapping && l.d.Outcome != dedup.OutcomeFlapping,
		l.d.Outcome == dedup.OutcomeFlapping && c.d.Outcome != dedup.OutcomeFlapping:
		return "dedup.flapping"
	}
	lh, ch := decidedHold(l), decidedHold(c)
	switch {
	case ch != nil && (lh == nil || lh.Rule != ch.Rule):
		return holdRule(ch)
	case lh != nil && ch == nil:
		return "not held (was " + holdRule(lh) + ")"
	case l.m.Team != c.m.Team:
		return fmt.Sprintf("routes[%d] team: %s (was %s)", c.m.Route, c.m.Team, l.m.Team)
	case l.m.PageBugs != c.m.PageBugs:
		return fmt.Sprintf("routes[%d] page_bugs: %t", c.m.Route, c.m.PageBugs)
	case c.d.Outcome == dedup.OutcomeSpike || l.d.Outcome == dedup.OutcomeSpike:
		return "dedup.bug_spike"
	case c.d.Outcome == dedup.OutcomeStale || l.d.Outcome == dedup.OutcomeStale:
		return "dedup.duplicate_window"
	}
	return fmt.Sprintf("dedup: the key's state differs (%s, was %s)", c.d.Outcome, l.d.Outcome)
}

// routeName shortens a match's reason to the route it names:
// "routes[3] {service=\"pay\"}", "routes[4], the catch-all".
func routeName(why string) string {
	why = strings.TrimSuffix(why, " matched")
	return strings.Replace(why, " is the catch-all", ", the catch-all", 1)
}

// decidedHold is the hold that held the decision's page, if it did.
func decidedHold(s step) *alertgate.Hold {
	if s.m.Hold != nil && s.d.Outcome == s.m.Hold.Reason {
		return s.m.Hold
	}
	return nil
}

// holdRule names the config rule behind a hold: "routes[2] notify:
// digest", "inhibit_rules[1]", "routes[1].active_time_intervals", the
// silence.
func holdRule(h *alertgate.Hold) string {
	switch {
	case h.Reason == alertgate.HoldDigestOnly:
		return h.By + " notify: digest"
	case h.Rule != "":
		return h.Rule
	}
	return h.Reason
}

// routeViews are a config's routes with the events each matched.
func routeViews(routes []config.Route, events []int64) []alertgate.ReplayRoute {
	out := make([]alertgate.ReplayRoute, len(routes))
	for i, r := range routes {
		name := "routes[" + strconv.Itoa(i) + "] {" + strings.Join(r.Match.Strings(), ", ") + "}"
		notify := r.Notify
		if notify == "" {
			notify = alertgate.NotifyPage
		}
		out[i] = alertgate.ReplayRoute{Route: name, Team: r.Team, Notify: notify, Events: events[i]}
	}
	return out
}
