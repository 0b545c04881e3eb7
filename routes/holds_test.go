package routes

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
)

const holdsYAML = `
teams: [{name: payments}, {name: platform}]
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '18:00'}]
        location: Europe/Berlin
  - name: holidays
    time_intervals:
      - months: [december]
        days_of_month: ['24:26']
  - name: early-berlin
    time_intervals:
      - times: [{start_time: '01:00', end_time: '04:00'}]
        location: Europe/Berlin
  - name: early-utc
    time_intervals:
      - times: [{start_time: '01:00', end_time: '04:00'}]
  - name: weekends
    time_intervals:
      - weekdays: [saturday, sunday]
routes:
  - match: ['severity=~"warning|info"']
    team: payments
    notify: digest
  - match: ['service="checkout"']
    team: payments
    active_time_intervals: [office-hours]
    mute_time_intervals: [holidays]
  - match: ['service="batch"']
    team: platform
    mute_time_intervals: [early-berlin]
  - match: ['service="report"']
    team: platform
    mute_time_intervals: [early-utc]
  - match: ['service="search"']
    team: platform
    active_time_intervals: [office-hours, weekends]
  - match: []
    team: platform
    notify: page
`

func holdsTable(t testing.TB) (*Table, *config.Config) {
	t.Helper()
	cfg, err := config.Load([]byte(holdsYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, nil), cfg
}

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Route gives every match its route's notify mode; RouteHold holds the
// digest route's incidents and nothing else.
func TestRouteNotify(t *testing.T) {
	tbl, _ := holdsTable(t)
	for _, tt := range []struct {
		labels map[string]string
		route  int
		notify string
	}{
		{map[string]string{"severity": "warning", "service": "checkout"}, 0, alertgate.NotifyDigest},
		{map[string]string{"severity": "critical", "service": "checkout"}, 1, alertgate.NotifyPage}, // notify left out
		{map[string]string{"service": "other"}, 5, alertgate.NotifyPage},
	} {
		ev := event(alertgate.SourceAlertmanager, alertgate.KindIncident, map[string]string{})
		for k, v := range tt.labels {
			ev.Labels[k] = v // the severity label too, which event sets
		}
		m := tbl.Route(ev)
		if m.Route != tt.route || m.Notify != tt.notify {
			t.Errorf("%v: route %d notify %q, want route %d notify %q", tt.labels, m.Route, m.Notify, tt.route, tt.notify)
		}
		h := tbl.RouteHold(m)
		if tt.notify == alertgate.NotifyPage {
			if h != nil {
				t.Errorf("%v: RouteHold=%+v, want nil", tt.labels, h)
			}
			continue
		}
		want := alertgate.Hold{Reason: alertgate.HoldDigestOnly, By: "routes[0]", Rule: "routes[0].notify",
			Detail: "routes[0] notify: digest: listed in the team's digest, never paged"}
		if h == nil || *h != want {
			t.Errorf("%v: RouteHold=%+v, want %+v", tt.labels, h, want)
		}
	}
	if h := tbl.RouteHold(alertgate.Match{Route: -1}); h != nil {
		t.Errorf("RouteHold(no route)=%+v, want nil", h)
	}
}

func TestTimeHold(t *testing.T) {
	tbl, _ := holdsTable(t)
	ber := berlin(t)
	outside := &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: "office-hours", Rule: "routes[1].active_time_intervals",
		Detail: `outside active interval "office-hours" (routes[1].active_time_intervals)`}
	holiday := &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: "holidays", Rule: "routes[1].mute_time_intervals",
		Detail: `inside mute interval "holidays" (routes[1].mute_time_intervals)`}
	batch := &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: "early-berlin", Rule: "routes[2].mute_time_intervals",
		Detail: `inside mute interval "early-berlin" (routes[2].mute_time_intervals)`}
	report := &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: "early-utc", Rule: "routes[3].mute_time_intervals",
		Detail: `inside mute interval "early-utc" (routes[3].mute_time_intervals)`}
	search := &alertgate.Hold{Reason: alertgate.HoldMutedTime, By: "office-hours,weekends", Rule: "routes[4].active_time_intervals",
		Detail: `outside active intervals "office-hours", "weekends" (routes[4].active_time_intervals)`}
	for _, tt := range []struct {
		name  string
		route int
		at    time.Time
		want  *alertgate.Hold
	}{
		// office-hours: Monday to Friday, 09:00 (inside) to 18:00 (outside:
		// end_time is exclusive), Berlin time, whatever at's zone.
		{"08:59 Berlin", 1, time.Date(2026, 12, 4, 8, 59, 0, 0, ber), outside},
		{"09:00 Berlin", 1, time.Date(2026, 12, 4, 9, 0, 0, 0, ber), nil},
		{"17:59:59 Berlin", 1, time.Date(2026, 12, 4, 17, 59, 59, 0, ber), nil},
		{"18:00 Berlin", 1, time.Date(2026, 12, 4, 18, 0, 0, 0, ber), outside},
		{"08:00 UTC is 09:00 Berlin", 1, time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC), nil},
		{"17:00 UTC is 18:00 Berlin", 1, time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC), outside},
		{"Saturday", 1, time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), outside},
		// Inside office hours on a holiday: the mute interval holds.
		{"Christmas Eve", 1, time.Date(2026, 12, 24, 10, 0, 0, 0, ber), holiday},
		// An interval without location is UTC, whatever at's zone.
		{"report 01:00 UTC", 3, time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC), report},
		{"report 01:00 Berlin", 3, time.Date(2026, 6, 1, 1, 0, 0, 0, ber), nil},
		{"report 04:00 UTC", 3, time.Date(2026, 6, 1, 4, 0, 0, 0, time.UTC), nil},
		// Several active intervals: inside any of them is active.
		{"search Saturday", 4, time.Date(2026, 12, 5, 23, 0, 0, 0, ber), nil},
		{"search Friday office", 4, time.Date(2026, 12, 4, 10, 0, 0, 0, ber), nil},
		{"search Friday night", 4, time.Date(2026, 12, 4, 22, 0, 0, 0, ber), search},
		// Routes without intervals never hold.
		{"digest route", 0, time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), nil},
		{"catch-all", 5, time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), nil},
		{"no route", -1, time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), nil},

		// Berlin's DST starts 2026-03-29 at 02:00 CET (01:00 UTC): 02:00
		// to 03:00 local does not exist. 01:00-04:00 local is then 00:00 to
		// 02:00 UTC, two hours.
		{"spring 23:59 UTC before", 2, time.Date(2026, 3, 28, 23, 59, 0, 0, time.UTC), nil},
		{"spring 00:00 UTC = 01:00 CET", 2, time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), batch},
		{"spring 01:00 UTC = 03:00 CEST", 2, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), batch},
		{"spring 01:59 UTC = 03:59 CEST", 2, time.Date(2026, 3, 29, 1, 59, 0, 0, time.UTC), batch},
		{"spring 02:00 UTC = 04:00 CEST", 2, time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC), nil},
		// The day after, 01:00-04:00 CEST is 23:00 to 02:00 UTC.
		{"spring+1 23:00 UTC = 01:00 CEST", 2, time.Date(2026, 3, 29, 23, 0, 0, 0, time.UTC), batch},
		{"spring+1 22:59 UTC = 00:59 CEST", 2, time.Date(2026, 3, 29, 22, 59, 0, 0, time.UTC), nil},
		// DST ends 2026-10-25 at 03:00 CEST (01:00 UTC): 02:00 to 03:00
		// local happens twice. 01:00-04:00 local is 23:00 (the day before)
		// to 03:00 UTC, four hours.
		{"autumn 22:59 UTC = 00:59 CEST", 2, time.Date(2026, 10, 24, 22, 59, 0, 0, time.UTC), nil},
		{"autumn 23:00 UTC = 01:00 CEST", 2, time.Date(2026, 10, 24, 23, 0, 0, 0, time.UTC), batch},
		{"autumn 00:30 UTC = 02:30 CEST", 2, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), batch},
		{"autumn 01:30 UTC = 02:30 CET", 2, time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), batch},
		{"autumn 02:59 UTC = 03:59 CET", 2, time.Date(2026, 10, 25, 2, 59, 0, 0, time.UTC), batch},
		{"autumn 03:00 UTC = 04:00 CET", 2, time.Date(2026, 10, 25, 3, 0, 0, 0, time.UTC), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tbl.TimeHold(alertgate.Match{Route: tt.route}, tt.at)
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("TimeHold(routes[%d], %s)=%+v, want %+v", tt.route, tt.at, got, tt.want)
			}
		})
	}
}

// TimeHold agrees with Alertmanager's own Intervener, minute by minute,
// over both 2026 DST changes and a week around Christmas.
func TestTimeHold_Intervener(t *testing.T) {
	tbl, cfg := holdsTable(t)
	byName := map[string][]timeinterval.TimeInterval{}
	for _, ti := range cfg.TimeIntervals {
		byName[ti.Name] = ti.TimeIntervals
	}
	iv := timeinterval.NewIntervener(byName)
	ber := berlin(t)
	for _, start := range []time.Time{
		time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC),
	} {
		for at := start; at.Before(start.Add(5 * 24 * time.Hour)); at = at.Add(time.Minute) {
			for i, rt := range cfg.Routes {
				want := false
				if len(rt.ActiveTimeIntervals) > 0 {
					active, _, err := iv.Mutes(rt.ActiveTimeIntervals, at)
					if err != nil {
						t.Fatal(err)
					}
					want = !active
				}
				if !want && len(rt.MuteTimeIntervals) > 0 {
					muted, _, err := iv.Mutes(rt.MuteTimeIntervals, at)
					if err != nil {
						t.Fatal(err)
					}
					want = muted
				}
				if got := tbl.TimeHold(alertgate.Match{Route: i}, at.In(ber)) != nil; got != want {
					t.Fatalf("routes[%d] at %s: held=%v, Alertmanager's Intervener says %v", i, at, got, want)
				}
			}
		}
	}
}

// TimeHold is called for every incident event: it allocates nothing when
// the route has no intervals, or when nothing holds.
func TestTimeHold_Allocs(t *testing.T) {
	tbl, _ := holdsTable(t)
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, route := range []int{0, 1, 5} {
		m := alertgate.Match{Route: route}
		if n := testing.AllocsPerRun(100, func() { _ = tbl.TimeHold(m, at) }); n != 0 {
			t.Errorf("TimeHold(routes[%d]) allocates %v times, want 0", route, n)
		}
	}
	m := alertgate.Match{Route: 1}
	h := tbl.TimeHold(m, at.Add(12*time.Hour))
	h.Detail = "changed"
	if again := tbl.TimeHold(m, at.Add(12*time.Hour)); again.Detail == "changed" {
		t.Error("a caller's change to a returned hold reached the table")
	}
}
