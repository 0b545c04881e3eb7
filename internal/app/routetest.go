package app

import (
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/runbooks"
)

// RouteAnswer is what the router would do with one event, as
// `alertgate route test` and `alertgate explain` print it.
type RouteAnswer struct {
	Key       string           `json:"key"`
	Episode   string           `json:"episode,omitempty"`
	Status    alertgate.Status `json:"status"`
	Kind      alertgate.Kind   `json:"kind"`
	KindWhy   string           `json:"kind_why"`
	Route     int              `json:"route"`
	RouteWhy  string           `json:"route_why"`
	Team      string           `json:"team"`
	Runbook   *RouteRunbook    `json:"runbook,omitempty"`
	WouldPage string           `json:"would_page"`
	// Pages is true when a first occurrence of this event reaches PagerDuty
	// (a firing incident its route does not hold, or a bug class on a
	// page_bugs route), whether the team has a routing key or runs dry.
	Pages bool `json:"pages"`
	// Action is where the event goes: ActionPage, ActionDigest or, for an
	// incident whose route's time intervals hold it, ActionHeld.
	Action string `json:"action"`
	// Hold is why an incident does not page (a digest route, the route's
	// time intervals), nil when it pages.
	Hold *alertgate.Hold `json:"hold,omitempty"`
}

// Actions of a RouteAnswer.
const (
	ActionPage   = "page"   // PagerDuty
	ActionDigest = "digest" // the team's Slack digest, never paged
	ActionHeld   = "held"   // a page held by the route's time intervals
)

// ActionText is the action with the hold and rule behind it, as in
// held (muted_time: outside active interval "office-hours", routes[1].active_time_intervals).
func (a RouteAnswer) ActionText() string {
	h := a.Hold
	if h == nil {
		return a.Action
	}
	why := h.Detail
	if h.Rule != "" {
		why = strings.TrimSuffix(why, " ("+h.Rule+")") + ", " + h.Rule
	}
	return a.Action + " (" + h.Reason + ": " + why + ")"
}

// RouteRunbook is the runbook a page would name, with the steps PagerDuty
// would get with it.
type RouteRunbook struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
	URL   string `json:"url"`
	Steps string `json:"steps,omitempty"`
	Why   string `json:"why,omitempty"`
}

// routeRunbook is r with its steps read from rb (nil for no runbook).
func routeRunbook(r *alertgate.Runbook, rb *runbooks.Set) *RouteRunbook {
	if r == nil {
		return nil
	}
	a := &RouteRunbook{ID: r.ID, Title: r.Title, URL: r.URL, Why: r.Why}
	if r.ID != "" {
		a.Steps, _ = rb.Steps(r.ID)
	}
	return a
}

// RouteEvents classifies and routes events exactly as the router does, with
// the routes' time intervals evaluated at the time at.
func RouteEvents(cfg *config.Config, rb *runbooks.Set, evs []alertgate.Event, at time.Time) []RouteAnswer {
	rt := routes.New(cfg, rb)
	out := make([]RouteAnswer, 0, len(evs))
	for _, ev := range evs {
		if ev.Labels == nil {
			ev.Labels = map[string]string{}
		}
		why := rt.Classify(&ev)
		m := rt.Route(ev)
		a := RouteAnswer{Key: ev.Key, Episode: ev.Episode, Status: ev.Status, Kind: ev.Kind, KindWhy: why,
			Route: m.Route, RouteWhy: m.RouteWhy, Team: m.Team, Runbook: routeRunbook(m.Runbook, rb)}
		team, _ := cfg.Team(m.Team)
		dry := ""
		if team.PagerDutyRoutingKey == "" {
			dry = " (dry-run: the team has no pagerduty_routing_key)"
		}
		if ev.Kind == alertgate.KindIncident {
			// Holds apply to incidents: a bug class pages by page_bugs.
			a.Action, a.Hold = ActionDigest, rt.RouteHold(m)
			if a.Hold == nil {
				a.Action, a.Hold = ActionHeld, rt.TimeHold(m, at)
			}
			if a.Hold == nil {
				a.Action = ActionPage
			}
		}
		switch {
		case ev.Kind == alertgate.KindIncident && ev.Status == alertgate.StatusFiring && a.Action == ActionDigest:
			a.WouldPage = "no: " + a.Hold.Detail
		case ev.Kind == alertgate.KindIncident && ev.Status == alertgate.StatusFiring && a.Action == ActionHeld:
			a.WouldPage = "no: held: " + a.Hold.Detail
		case ev.Kind == alertgate.KindIncident && ev.Status == alertgate.StatusFiring:
			a.Pages = true
			a.WouldPage = "yes: a new firing episode pages team " + m.Team + dry
		case ev.Kind == alertgate.KindIncident:
			a.WouldPage = "no: a resolve resolves the episode's page, if it paged"
		case m.PageBugs && ev.Status == alertgate.StatusFiring:
			a.Pages = true
			a.WouldPage = "once: a new bug class (or a regression) pages team " + m.Team + dry + "; later occurrences are counted"
		default:
			a.WouldPage = "no: bug classes go to the team's Slack digest (new, regression, spike); the route does not set page_bugs"
		}
		if ev.Kind != alertgate.KindIncident {
			a.Action = ActionDigest
			if a.Pages {
				a.Action = ActionPage
			}
		}
		out = append(out, a)
	}
	return out
}

// RoutePayload parses a saved webhook body and routes its events, with time
// intervals evaluated at at.
func RoutePayload(cfg *config.Config, rb *runbooks.Set, source alertgate.Source, resource string, body []byte, at time.Time) ([]RouteAnswer, error) {
	evs, err := ingest.ParsePayload(source, resource, body)
	if err != nil {
		return nil, err
	}
	return RouteEvents(cfg, rb, evs, at), nil
}

// RouteLabels routes a hand-written label set ("service=checkout,severity=
// critical"): source and kind come from the labels when given (default
// events and incident). Time intervals are evaluated at at.
func RouteLabels(cfg *config.Config, rb *runbooks.Set, spec string, at time.Time) ([]RouteAnswer, error) {
	labels := map[string]string{}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, alertgate.Errorf(alertgate.EINVALID, "--labels: %q is not name=value", kv)
		}
		labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	ev := alertgate.Event{
		ID: "route-test", Source: alertgate.Source(labels["source"]), Kind: alertgate.Kind(labels["kind"]),
		Key: "route-test", Episode: "route-test", Status: alertgate.StatusFiring,
		Severity: alertgate.ParseSeverity(labels["severity"], alertgate.SeverityError), Labels: labels,
	}
	if ev.Source == "" {
		ev.Source = alertgate.SourceEvents
	}
	if !ev.Kind.Valid() {
		ev.Kind = alertgate.KindIncident
	}
	if ev.Kind == alertgate.KindBug {
		ev.Episode = ""
	}
	ev.Finish()
	return RouteEvents(cfg, rb, []alertgate.Event{ev}, at), nil
}
