package alertgate

import "time"

// ReportQuery says what an alert-fatigue report covers: the window
// [Since, Until) and one team, or every team when Team is "".
type ReportQuery struct {
	Since, Until time.Time
	Team         string
}

// Report is the alert-fatigue report: per team, how often its on-call
// was paged over a window, when, by what, and how much noise alertgate
// removed on the way. It is read from the history in ALERTS (what came in)
// and NOTIFY (what was decided to be sent), so it covers at most their
// retention. GET /v1/report serves it, /report shows it.
type Report struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Location is the time zone days are counted in (report.location).
	Location string `json:"location"`
	// OfficeHours names the interval pages outside of count as off hours:
	// report.office_hours, or the default's description.
	OfficeHours string                 `json:"office_hours"`
	Teams       map[string]*TeamReport `json:"teams"`
	// Read is how many messages of each stream were read to build it.
	Read ReportRead `json:"read"`
}

// ReportRead counts the messages a report read.
type ReportRead struct {
	Alerts int `json:"alerts"`
	Notify int `json:"notify"`
}

// TeamReport is one team's figures over the window.
type TeamReport struct {
	// Pages counts the PagerDuty pages decided for the team in the window,
	// at their decision time (a notification's CreatedAt: when the event
	// came in, or when a hold ended and the held page went out).
	Pages int `json:"pages"`
	// PagesOffHours are those outside office hours.
	PagesOffHours int `json:"pages_off_hours"`
	// PagesWithoutRunbook are those that carried no runbook.
	PagesWithoutRunbook int `json:"pages_without_runbook"`
	// PagesPerDay has every day of the window, in Location, zeros too.
	PagesPerDay []DayPages `json:"pages_per_day"`
	// Noisiest are the keys with the most pages (then episodes), at most
	// MaxReportKeys.
	Noisiest      []NoisyKey    `json:"noisiest"`
	TimeToResolve TimeToResolve `json:"time_to_resolve"`
	Bugs          BugFigures    `json:"bugs"`
	// Held counts the incident episodes whose page was held, by hold
	// reason (silenced, inhibited, muted_time, digest_only, flapping).
	Held map[string]int `json:"held"`
	// Noise is, per source, the events received and the notifications
	// that reached the team for them.
	Noise map[Source]*SourceNoise `json:"noise"`
}

// MaxReportKeys bounds each list of keys in a report.
const MaxReportKeys = 10

// DayPages is one day's pages.
type DayPages struct {
	// Date is the day in the report's location, as 2006-01-02.
	Date     string `json:"date"`
	Pages    int    `json:"pages"`
	OffHours int    `json:"off_hours"`
}

// NoisyKey is a key that paged the team in the window.
type NoisyKey struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	Kind  Kind   `json:"kind"`
	Pages int    `json:"pages"`
	// Episodes are the firing episodes that opened, paged or held.
	Episodes int `json:"episodes"`
	// Flapping are the episodes held because the key was flapping: they
	// continued an open PagerDuty incident instead of paging.
	Flapping int `json:"flapping"`
	// Runbook says whether its latest page carried a runbook.
	Runbook bool `json:"runbook"`
}

// TimeToResolve is how long the window's pages stayed open: from the page
// to the resolve of its dedup_key, for the pages resolved before the
// window's end (median and 90th percentile by nearest rank, in seconds).
type TimeToResolve struct {
	Resolved      int   `json:"resolved"`
	Unresolved    int   `json:"unresolved"`
	MedianSeconds int64 `json:"median_seconds"`
	P90Seconds    int64 `json:"p90_seconds"`
}

// BugFigures are the team's bug classes in the window: the notifications
// for new classes, regressions and spikes (held ones left out), and the
// classes with the most occurrences, counted, not sent.
type BugFigures struct {
	New       BugChanges `json:"new"`
	Regressed BugChanges `json:"regressed"`
	Spiking   BugChanges `json:"spiking"`
	// Recurring are the classes with the most occurrences in the window,
	// at most MaxReportKeys.
	Recurring []BugCount `json:"recurring"`
	// Approximate is set when more classes occurred than a report counts
	// one by one: the quietest were dropped along the way, so Recurring's
	// counts may be short.
	Approximate bool `json:"approximate,omitempty"`
}

// BugChanges counts one kind of bug notification and names the first
// MaxReportKeys classes it was about.
type BugChanges struct {
	Count int      `json:"count"`
	Keys  []BugKey `json:"keys"`
}

// BugKey names a bug class.
type BugKey struct {
	Key   string `json:"key"`
	Title string `json:"title"`
}

// BugCount is a bug class with its occurrences in the window.
type BugCount struct {
	Key         string `json:"key"`
	Title       string `json:"title"`
	Occurrences int64  `json:"occurrences"`
}

// SourceNoise is what came in from one source and what of it reached the
// team: pages and bug notifications (new, regression, spike); resolves
// and held pages are not counted.
type SourceNoise struct {
	Events        int `json:"events"`
	Notifications int `json:"notifications"`
	// Ratio is events per notification (0 when none was sent).
	Ratio float64 `json:"ratio"`
}
