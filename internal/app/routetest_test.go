package app

import (
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
)

const holdsConfig = `
teams: [{name: payments, pagerduty_routing_key: "0123456789abcdef0123456789abcdef"}, {name: platform}]
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '18:00'}]
        location: Europe/Berlin
  - name: holidays
    time_intervals: [{months: [december], days_of_month: ['24:26']}]
routes:
  - match: ['severity=~"warning|info"']
    team: payments
    notify: digest
  - match: ['service="checkout"']
    team: payments
    page_bugs: true
    active_time_intervals: [office-hours]
    mute_time_intervals: [holidays]
  - match: []
    team: platform
`

// route test answers the action for the time it is asked about: a digest
// route's incidents are digested, a route's time intervals hold its pages,
// and bugs follow page_bugs whatever the time.
func TestRouteLabels_Action(t *testing.T) {
	cfg, err := config.Load([]byte(holdsConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	friday := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)    // 11:00 in Berlin
	saturday := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)   // 04:00 in Berlin
	christmas := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC) // a Thursday, 10:00 in Berlin
	for _, tt := range []struct {
		name, labels string
		at           time.Time
		action       string
		pages        bool
		text         string // ActionText
		wouldPage    string // prefix
	}{
		{"office hours pages", "service=checkout,severity=critical", friday, ActionPage, true,
			"page", "yes: a new firing episode pages team payments"},
		{"outside office hours is held", "service=checkout,severity=critical", saturday, ActionHeld, false,
			`held (muted_time: outside active interval "office-hours", routes[1].active_time_intervals)`,
			`no: held: outside active interval "office-hours" (routes[1].active_time_intervals)`},
		{"a holiday is held", "service=checkout,severity=critical", christmas, ActionHeld, false,
			`held (muted_time: inside mute interval "holidays", routes[1].mute_time_intervals)`,
			`no: held: inside mute interval "holidays"`},
		{"a resolve is held too", "service=checkout,severity=critical", saturday, ActionHeld, false,
			`held (muted_time: outside active interval "office-hours", routes[1].active_time_intervals)`,
			"no: a resolve resolves the episode's page"},
		{"digest route", "service=checkout,severity=warning", friday, ActionDigest, false,
			"digest (digest_only: routes[0] notify: digest: listed in the team's digest, never paged, routes[0].notify)",
			"no: routes[0] notify: digest: listed in the team's digest, never paged"},
		{"a bug on page_bugs pages at any time", "service=checkout,severity=critical,kind=bug", saturday, ActionPage, true,
			"page", "once: a new bug class"},
		{"a bug without page_bugs is digested", "service=search,kind=bug", friday, ActionDigest, false,
			"digest", "no: bug classes go to the team's Slack digest"},
		{"catch-all", "service=search", saturday, ActionPage, true, "page", "yes: a new firing episode pages team platform (dry-run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			answers, err := RouteLabels(cfg, nil, tt.labels, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			a := answers[0]
			if tt.name == "a resolve is held too" {
				// --labels makes a firing event; route the resolve by hand.
				ev := alertgate.Event{Source: alertgate.SourceEvents, Kind: alertgate.KindIncident, Key: "k", Episode: "e",
					Status: alertgate.StatusResolved, Severity: alertgate.SeverityCritical, Labels: map[string]string{"service": "checkout"}}
				ev.Finish()
				a = RouteEvents(cfg, nil, []alertgate.Event{ev}, tt.at)[0]
			}
			if a.Action != tt.action || a.Pages != tt.pages {
				t.Errorf("action=%q pages=%v, want %q %v", a.Action, a.Pages, tt.action, tt.pages)
			}
			if got := a.ActionText(); got != tt.text {
				t.Errorf("ActionText:\n got %s\nwant %s", got, tt.text)
			}
			if !strings.HasPrefix(a.WouldPage, tt.wouldPage) {
				t.Errorf("would_page=%q, want it to start with %q", a.WouldPage, tt.wouldPage)
			}
			if (a.Hold != nil) != (tt.action != ActionPage && a.Kind == alertgate.KindIncident) {
				t.Errorf("hold=%+v for action %s of a %s", a.Hold, a.Action, a.Kind)
			}
		})
	}
}
