package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

// The hold rules load as written: time intervals through Alertmanager's
// own parsing, route modes and intervals, inhibit rules, flap damping.
func TestLoad_Holds(t *testing.T) {
	b, err := os.ReadFile("testdata/valid/holds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(b, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	office, ok := c.TimeInterval("office-hours")
	if !ok {
		t.Fatal(`TimeInterval("office-hours") not found`)
	}
	if _, ok := c.TimeInterval("weekends"); ok {
		t.Error(`TimeInterval("weekends") found`)
	}
	ti := office.TimeIntervals[0]
	if got, want := ti.Location.String(), "Europe/Berlin"; got != want {
		t.Errorf("office-hours location=%s, want %s", got, want)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 12, 4, 9, 0, 0, 0, berlin), true},    // Friday 09:00
		{time.Date(2026, 12, 4, 17, 59, 0, 0, berlin), true},  // Friday 17:59
		{time.Date(2026, 12, 4, 18, 0, 0, 0, berlin), false},  // end_time is exclusive
		{time.Date(2026, 12, 5, 10, 0, 0, 0, berlin), false},  // Saturday
		{time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC), true}, // 09:30 in Berlin
	} {
		if got := ti.ContainsTime(tt.at); got != tt.want {
			t.Errorf("office-hours contains %s: %v, want %v", tt.at, got, tt.want)
		}
	}
	holidays, _ := c.TimeInterval("holidays")
	if got, want := len(holidays.TimeIntervals), 2; got != want {
		t.Fatalf("len(holidays.time_intervals)=%d, want %d", got, want)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"routes[0].notify", c.Routes[0].Notify, alertgate.NotifyDigest},
		{"routes[1].notify", c.Routes[1].Notify, ""}, // "" pages
		{"routes[2].notify", c.Routes[2].Notify, alertgate.NotifyPage},
		{"routes[1].active_time_intervals", strings.Join(c.Routes[1].ActiveTimeIntervals, ","), "office-hours"},
		{"routes[1].mute_time_intervals", strings.Join(c.Routes[1].MuteTimeIntervals, ","), "holidays"},
		{"len(inhibit_rules)", len(c.InhibitRules), 2},
		{"inhibit_rules[0].source_matchers", strings.Join(c.InhibitRules[0].SourceMatchers.Strings(), ","), `alertname="DatacenterDown"`},
		{"inhibit_rules[0].target_matchers", strings.Join(c.InhibitRules[0].TargetMatchers.Strings(), ","), `severity!="critical"`},
		{"inhibit_rules[0].equal", strings.Join(c.InhibitRules[0].Equal, ","), "datacenter"},
		{"len(inhibit_rules[1].equal)", len(c.InhibitRules[1].Equal), 0},
		{"dedup.flapping.episodes", c.Dedup.Flapping.Episodes, 4},
		{"dedup.flapping.within", c.Dedup.Flapping.Within.D(), time.Hour},
		{"dedup.flapping.quiet", c.Dedup.Flapping.Quiet.D(), 30 * time.Minute},
	} {
		if tt.got != tt.want {
			t.Errorf("%s=%#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

// Left out, there are no intervals or inhibit rules and flap damping is off.
func TestLoad_HoldsAbsent(t *testing.T) {
	for _, src := range []string{minimal, minimal + "dedup:\n  flapping:\n"} {
		c, err := Load([]byte(src), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if c.Dedup.Flapping != nil || c.TimeIntervals != nil || c.InhibitRules != nil {
			t.Errorf("flapping=%v, time_intervals=%v, inhibit_rules=%v; want none", c.Dedup.Flapping, c.TimeIntervals, c.InhibitRules)
		}
	}
}

// Anchors, aliases and merge keys work in time intervals as elsewhere, and
// the keys of a merged mapping are checked too.
func TestLoad_TimeIntervalMerge(t *testing.T) {
	const src = `
teams: [{name: payments}]
routes: [{team: payments, mute_time_intervals: [weekend-nights]}]
time_intervals:
  - name: weekend-nights
    time_intervals:
      - &nights
        times: [{start_time: '00:00', end_time: '06:00'}]
        weekdays: [saturday]
      - <<: *nights
        weekdays: [sunday]
`
	c, err := Load([]byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	tis := c.TimeIntervals[0].TimeIntervals
	if got, want := len(tis), 2; got != want {
		t.Fatalf("len=%d, want %d", got, want)
	}
	sun := tis[1]
	if len(sun.Times) != 1 || sun.Times[0].EndMinute != 360 || len(sun.Weekdays) != 1 || sun.Weekdays[0].Begin != 0 {
		t.Errorf("merged interval=%+v, want 00:00-06:00 on sunday", sun)
	}

	bad := strings.Replace(src, "weekdays: [saturday]", "weekdays: [saturday]\n        tz: UTC", 1)
	_, err = Load([]byte(bad), noEnv)
	if err == nil || !strings.Contains(err.Error(), `line 10: unknown key "tz" in time_intervals[0].time_intervals[0]`) {
		t.Errorf("error=%v, want the unknown key tz on line 10", err)
	}
}

// Problems in the values of an interval are the library's words, on the line
// of the value.
func TestLoad_TimeIntervalValues(t *testing.T) {
	for _, tt := range []struct{ interval, want string }{
		{"{weekdays: [[monday]]}", `line 9: time_intervals[0].time_intervals[0].weekdays[0]: want a string, got a list`},
		{"{times: [{start_time: '9', end_time: '18:00'}]}", `line 9: time_intervals[0].time_intervals[0]: couldn't parse timestamp 9, invalid format`},
		{"{times: [{start_time: '09:00'}]}", `line 9: time_intervals[0].time_intervals[0]: both start and end times must be provided`},
		{"{months: ['march:january']}", `line 9: time_intervals[0].time_intervals[0]: end month january is before start month march`},
		{"{days_of_month: ['0']}", `line 9: time_intervals[0].time_intervals[0]: 0 is not a valid day of the month: out of range`},
		{"{years: ['2030:2026']}", `line 9: time_intervals[0].time_intervals[0]: end year 2026 is before start year 2030`},
		{"{location: [UTC]}", `line 9: time_intervals[0].time_intervals[0].location: want a time zone like Europe/Berlin, got a list`},
		{"{times: {start_time: '09:00'}}", `line 9: time_intervals[0].time_intervals[0].times: want a list, got a mapping`},
		{"[saturday]", `line 9: time_intervals[0].time_intervals[0]: want a mapping of keys, got a list`},
	} {
		src := minimal + "time_intervals:\n  - name: x\n    time_intervals:\n      - " + tt.interval + "\n"
		_, err := Load([]byte(src), noEnv)
		if err == nil {
			t.Errorf("%s: loads, want %q", tt.interval, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.interval, got, tt.want)
		}
	}
}
