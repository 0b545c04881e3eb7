package replay

import (
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
)

func TestRuleNamesTheRouteItReplaced(t *testing.T) {
	live := step{kind: alertgate.KindIncident, d: dedup.Decision{Outcome: dedup.OutcomePaged}}
	cand := live
	for _, c := range []struct{ live, cand, want string }{
		{`routes[3] {service="pay"} matched`, `routes[0] {service="search"} matched`, `routes[0] {service="search"} matched (was routes[3] {service="pay"})`},
		{"routes[2] is the catch-all", `routes[0] {service="search"} matched`, `routes[0] {service="search"} matched (was routes[2], the catch-all)`},
		{`routes[1] {team="x"} matched`, "routes[4] is the catch-all", `routes[4] is the catch-all (was routes[1] {team="x"})`},
	} {
		live.m.RouteWhy, cand.m.RouteWhy = c.live, c.cand
		if got := rule(live, cand); got != c.want {
			t.Errorf("rule(%q → %q) = %q, want %q", c.live, c.cand, got, c.want)
		}
	}
}
