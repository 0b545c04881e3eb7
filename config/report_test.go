package config

import (
	"testing"
	"time"
)

// in reports whether at is in any of the office-hours intervals.
func in(c *Config, at time.Time) bool {
	for _, ti := range c.OfficeHours() {
		if ti.ContainsTime(at) {
			return true
		}
	}
	return false
}

// Without a report section, office hours are Monday to Friday 09:00 to
// 18:00 UTC; report.location moves both the days and those hours.
func TestLoad_ReportDefaults(t *testing.T) {
	c, err := Load([]byte(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ReportLocation(), time.UTC; got != want {
		t.Errorf("ReportLocation()=%v, want %v", got, want)
	}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), true},   // Monday 09:00
		{time.Date(2026, 11, 2, 8, 59, 0, 0, time.UTC), false}, // before
		{time.Date(2026, 11, 6, 17, 59, 0, 0, time.UTC), true}, // Friday 17:59
		{time.Date(2026, 11, 6, 18, 0, 0, 0, time.UTC), false}, // the end is exclusive
		{time.Date(2026, 11, 7, 12, 0, 0, 0, time.UTC), false}, // Saturday
	} {
		if got := in(c, tt.at); got != tt.want {
			t.Errorf("office hours contain %s: %v, want %v", tt.at, got, tt.want)
		}
	}

	c, err = Load([]byte(minimal+"report: {location: America/New_York}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ReportLocation().String(), "America/New_York"; got != want {
		t.Errorf("ReportLocation()=%s, want %s", got, want)
	}
	// 13:30 UTC is 08:30 in New York in November: not yet office hours.
	if in(c, time.Date(2026, 11, 2, 13, 30, 0, 0, time.UTC)) {
		t.Error("08:30 in New York counted as office hours")
	}
	if !in(c, time.Date(2026, 11, 2, 14, 0, 0, 0, time.UTC)) {
		t.Error("09:00 in New York not counted as office hours")
	}
}

// report.office_hours names a time interval, evaluated in its own
// location whatever report.location says.
func TestLoad_ReportOfficeHours(t *testing.T) {
	src := minimal + `
time_intervals:
  - name: support
    time_intervals: [{weekdays: ['saturday'], times: [{start_time: '10:00', end_time: '12:00'}], location: Europe/Berlin}]
report: {office_hours: support, location: Asia/Tokyo}
`
	c, err := Load([]byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !in(c, time.Date(2026, 11, 7, 9, 30, 0, 0, time.UTC)) { // Saturday 10:30 in Berlin
		t.Error("Saturday 10:30 in Berlin not in the support interval")
	}
	if in(c, time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)) {
		t.Error("Monday counted as office hours with office_hours: support")
	}
}
