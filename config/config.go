// Package config owns alertgate's one YAML file: its schema, ${ENV}
// expansion, defaults and validation. Load is strict: an unknown key is an
// error, and every error names the YAML key it is about and, where known,
// its line, as in: line 7: routes[1].team: unknown team "nobody".
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/timeinterval"
	"gopkg.in/yaml.v3"

	"github.com/alertgate/alertgate"
)

// Config is the root of the YAML file.
type Config struct {
	Listen    string      `yaml:"listen"`
	PublicURL string      `yaml:"public_url"`
	DataDir   string      `yaml:"data_dir"`
	NATS      NATS        `yaml:"nats"`
	Ingest    Ingest      `yaml:"ingest"`
	PagerDuty PagerDuty   `yaml:"pagerduty"`
	Slack     Slack       `yaml:"slack"`
	Teams     []Team      `yaml:"teams"`
	Classify  []ClassRule `yaml:"classify"`
	// TimeIntervals are named in routes' active_time_intervals and
	// mute_time_intervals.
	TimeIntervals []TimeInterval `yaml:"time_intervals"`
	Routes        []Route        `yaml:"routes"`
	InhibitRules  []InhibitRule  `yaml:"inhibit_rules"`
	Dedup         Dedup          `yaml:"dedup"`
	Correlation   Correlation    `yaml:"correlation"`
	Delivery      Delivery       `yaml:"delivery"`
	Retention     Duration       `yaml:"retention"`
	RunbookDir    string         `yaml:"runbooks_dir"`
	API           API            `yaml:"api"`
	Report        Report         `yaml:"report"`

	teamIndex     map[string]int
	intervalIndex map[string]int
	// reportLoc and officeHours are report.location and the intervals of
	// report.office_hours, resolved by validate.
	reportLoc   *time.Location
	officeHours []timeinterval.TimeInterval
	// lines maps each key path given a value in the file ("ingest.sentry",
	// "routes[1].team") to its line, for messages and defaults.
	lines map[string]int
}

// NATS says where JetStream is.
type NATS struct {
	// URL empty runs an embedded server with JetStream under data_dir.
	URL string `yaml:"url"`
	// Replicas of every stream and KV bucket (3 on a production cluster).
	Replicas int `yaml:"replicas"`
	// Listen, when set, makes the embedded server also accept TCP clients
	// (for the nats CLI); empty listens on no port.
	Listen string `yaml:"listen"`
	// SyncInterval of the embedded file store: "" (server default, 2m),
	// "always", or a duration.
	SyncInterval string `yaml:"sync_interval"`
}

// Ingest configures the webhook endpoints.
type Ingest struct {
	MaxBodyBytes int64     `yaml:"max_body_bytes"`
	Sentry       Sentry    `yaml:"sentry"`
	Datadog      TokenAuth `yaml:"datadog"`
	Alertmanager TokenAuth `yaml:"alertmanager"`
	Events       TokenAuth `yaml:"events"`
}

// Sentry authenticates Sentry's webhooks.
type Sentry struct {
	ClientSecret Secret   `yaml:"client_secret"`
	LegacyToken  Secret   `yaml:"legacy_token"`
	MaxAge       Duration `yaml:"max_age"`
}

// TokenAuth is a bearer token; empty accepts unauthenticated requests.
type TokenAuth struct {
	Token Secret `yaml:"token"`
}

// PagerDuty configures the Events API v2 sink.
type PagerDuty struct {
	EventsURL string `yaml:"events_url"`
	// RateLimit is events per minute per routing key (PagerDuty allows about 120).
	RateLimit int `yaml:"rate_limit"`
}

// Slack configures the digest sink. Teams post through their incoming
// webhook (slack_webhook_url) by default; with BotToken set, alertgate is a
// Slack app for the teams with a slack_channel: it posts with
// chat.postMessage, puts buttons on the digests and edits them in place.
type Slack struct {
	DigestInterval Duration `yaml:"digest_interval"`
	// BotToken is the app's bot token (xoxb-…): app mode is on when set.
	BotToken Secret `yaml:"bot_token"`
	// SigningSecret verifies the button presses Slack posts to
	// /v1/slack/interactions.
	SigningSecret Secret `yaml:"signing_secret"`
	// APIURL is Slack's Web API base (default https://slack.com/api/).
	APIURL string `yaml:"api_url"`
}

// AppMode reports whether alertgate posts as a Slack app.
func (s Slack) AppMode() bool { return s.BotToken.Value() != "" }

// Team is an owner of routes: where its pages and digests go.
type Team struct {
	Name                string `yaml:"name"`
	PagerDutyRoutingKey Secret `yaml:"pagerduty_routing_key"`
	SlackWebhookURL     Secret `yaml:"slack_webhook_url"`
	// SlackChannel is where the Slack app posts the team's digests
	// ("#payments-alerts" or a channel ID), in app mode.
	SlackChannel string `yaml:"slack_channel"`
}

// ClassRule overrides the kind of the events it matches.
type ClassRule struct {
	Match Matchers       `yaml:"match"`
	Kind  alertgate.Kind `yaml:"kind"`
}

// TimeInterval is a named list of Alertmanager time intervals: a time is
// in it when it is in any of them.
type TimeInterval struct {
	Name          string                      `yaml:"name"`
	TimeIntervals []timeinterval.TimeInterval `yaml:"time_intervals"`
}

// Route sends matching events to a team.
type Route struct {
	Match    Matchers `yaml:"match"`
	Team     string   `yaml:"team"`
	Runbook  string   `yaml:"runbook"`
	PageBugs bool     `yaml:"page_bugs"`
	// Notify is alertgate.NotifyPage (the default, also when empty) or
	// alertgate.NotifyDigest: the route's incidents are listed in the
	// team's digest and never page.
	Notify string `yaml:"notify"`
	// ActiveTimeIntervals: when set, the route's incidents page only at a
	// time inside one of these intervals; outside, their pages are held.
	ActiveTimeIntervals []string `yaml:"active_time_intervals"`
	// MuteTimeIntervals: the route's incidents' pages are held inside any
	// of these intervals.
	MuteTimeIntervals []string `yaml:"mute_time_intervals"`
}

// InhibitRule, as Alertmanager's: a firing incident matching
// SourceMatchers holds the pages of incidents matching TargetMatchers that
// have the same values (or are both without) the labels in Equal.
type InhibitRule struct {
	SourceMatchers Matchers `yaml:"source_matchers"`
	TargetMatchers Matchers `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

// Dedup configures the policy.
type Dedup struct {
	BugSpike        BugSpike `yaml:"bug_spike"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// BugClassTTL: a bug class unseen this long is forgotten, and is new
	// again when it next occurs. A class whose page_bugs page is open is
	// kept until it is resolved.
	BugClassTTL Duration `yaml:"bug_class_ttl"`
	// IncidentTTL: an incident key with no open episode this long is
	// forgotten. A key with an open episode is kept however long it stays
	// open, so that its resolve resolves the page.
	IncidentTTL Duration `yaml:"incident_ttl"`
	// Flapping, when set, damps keys that open and resolve too often; nil
	// (absent) leaves flap damping off.
	Flapping *Flapping `yaml:"flapping"`
}

// Flapping: a key whose episodes open Episodes times Within a window is
// flapping; it stops flapping after Quiet without a new episode.
type Flapping struct {
	Episodes int      `yaml:"episodes"`
	Within   Duration `yaml:"within"`
	Quiet    Duration `yaml:"quiet"`
}

// Correlation says which signals a page lists as related: bug classes
// with occurrences within Window and other open incidents, of any source,
// with the same values of every label in Labels. Labels empty (given as
// []) turns it off.
type Correlation struct {
	Labels []string `yaml:"labels"`
	Window Duration `yaml:"window"`
}

// BugSpike: more than Count occurrences Within a window notify once.
type BugSpike struct {
	Count  int      `yaml:"count"`
	Within Duration `yaml:"within"`
}

// Delivery configures sink retries.
type Delivery struct {
	Attempts   int      `yaml:"attempts"`
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	Timeout    Duration `yaml:"timeout"`
	// MaxAge: a notification still undelivered this long after it was
	// decided is dead-lettered even with attempts left (a page hours late
	// misleads more than it helps).
	MaxAge Duration `yaml:"max_age"`
}

// Report configures the alert-fatigue report (GET /v1/report, /report).
type Report struct {
	// OfficeHours names a time interval of time_intervals: a page outside
	// it counts as off hours. Empty: Monday to Friday, 09:00 to 18:00 in
	// Location.
	OfficeHours string `yaml:"office_hours"`
	// Location is the IANA time zone the report counts its days in (and
	// the default office hours are in); default UTC.
	Location string `yaml:"location"`
}

// Default returns the built-in configuration: listen :8080, data in ./data,
// embedded NATS, one catch-all team in dry-run.
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	c.Teams = []Team{{Name: "default"}}
	c.Routes = []Route{{Team: "default"}}
	if err := c.validate(); err != nil {
		panic("config: built-in default is invalid: " + err.Error())
	}
	return c
}

// setDefaults fills what the file left out. An empty string (also what an
// unset ${ENV} gives) means the default; a number or duration written in
// the file is kept even when zero, so that validate reports it instead of
// silently replacing "attempts: 0" by 12.
func (c *Config) setDefaults() {
	str := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	str(&c.Listen, ":8080")
	str(&c.DataDir, "./data")
	str(&c.RunbookDir, "./runbooks")
	str(&c.PagerDuty.EventsURL, "https://events.pagerduty.com")
	str(&c.Report.Location, "UTC")
	if c.PublicURL == "" {
		host := c.Listen
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		c.PublicURL = "http://" + host
	}
	num := func(key string, n *int, v int) {
		if _, given := c.lines[key]; !given && *n == 0 {
			*n = v
		}
	}
	num("nats.replicas", &c.NATS.Replicas, 1)
	num("pagerduty.rate_limit", &c.PagerDuty.RateLimit, 120)
	num("dedup.bug_spike.count", &c.Dedup.BugSpike.Count, 100)
	num("delivery.attempts", &c.Delivery.Attempts, 12)
	if _, given := c.lines["ingest.max_body_bytes"]; !given && c.Ingest.MaxBodyBytes == 0 {
		c.Ingest.MaxBodyBytes = 1 << 20
	}
	dur := func(key string, d *Duration, v time.Duration) {
		if _, given := c.lines[key]; !given && *d == 0 {
			*d = Duration(v)
		}
	}
	dur("ingest.sentry.max_age", &c.Ingest.Sentry.MaxAge, 5*time.Minute)
	dur("slack.digest_interval", &c.Slack.DigestInterval, 15*time.Minute)
	if c.Slack.APIURL == "" {
		c.Slack.APIURL = "https://slack.com/api/"
	}
	dur("dedup.bug_spike.within", &c.Dedup.BugSpike.Within, time.Hour)
	dur("dedup.duplicate_window", &c.Dedup.DuplicateWindow, 20*time.Minute)
	dur("dedup.bug_class_ttl", &c.Dedup.BugClassTTL, 90*24*time.Hour)
	dur("dedup.incident_ttl", &c.Dedup.IncidentTTL, 30*24*time.Hour)
	dur("delivery.min_backoff", &c.Delivery.MinBackoff, time.Second)
	dur("delivery.max_backoff", &c.Delivery.MaxBackoff, 5*time.Minute)
	dur("delivery.timeout", &c.Delivery.Timeout, 10*time.Second)
	dur("delivery.max_age", &c.Delivery.MaxAge, time.Hour)
	dur("retention", &c.Retention, 14*24*time.Hour)
	dur("correlation.window", &c.Correlation.Window, 30*time.Minute)
	if _, given := c.lines["correlation.labels"]; !given && c.Correlation.Labels == nil {
		c.Correlation.Labels = []string{"service"}
	}
}

// LoadFile reads and validates the config at path, expanding ${ENV} from the
// process environment. Every error starts with path.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once, below
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c, err := Load(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load parses YAML, expands ${NAME} in its values with lookup (nil: no
// environment), applies defaults and validates. Every problem found is
// returned, joined, each as "line N: key.path: problem" where the line is
// known. Problems with the YAML itself (syntax, unknown keys, wrong types)
// are reported without the validation that would follow from them.
func Load(b []byte, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	b, refs := hide(b)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, fmt.Errorf("line %d: a second YAML document: the config is a single document", next.Line)
	case !errors.Is(err, io.EOF):
		return nil, err
	}
	c := &Config{}
	d := &decoder{lookup: lookup, refs: refs, lines: map[string]int{}, orig: map[*yaml.Node]string{}}
	if len(doc.Content) > 0 { // empty input leaves doc zero
		d.expandTree(doc.Content[0])
		d.decode(doc.Content[0], reflect.ValueOf(c).Elem(), "")
	}
	if err := errors.Join(d.errs...); err != nil {
		return nil, err
	}
	c.lines = d.lines
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		msg := key + ": " + fmt.Sprintf(format, args...)
		if line := c.line(key); line > 0 {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		errs = append(errs, errors.New(msg))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "want host:port like :8080, got %q", c.Listen)
	}
	if !httpURL(c.PublicURL) {
		bad("public_url", "must be an http(s) URL, got %q", redactURL(c.PublicURL))
	}
	if !httpURL(c.PagerDuty.EventsURL) {
		bad("pagerduty.events_url", "must be an http(s) URL, got %q", redactURL(c.PagerDuty.EventsURL))
	}
	if c.NATS.URL != "" {
		// nats.go takes a comma-separated list of servers.
		for s := range strings.SplitSeq(c.NATS.URL, ",") {
			s = strings.TrimSpace(s)
			if u, err := url.Parse(s); err != nil || !natsSchemes[u.Scheme] || u.Host == "" {
				bad("nats.url", "want nats://host:4222 (or tls://, ws://, wss://; comma-separated for a cluster), got %q", redactURL(s))
			}
		}
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		bad("nats.replicas", "must be 1 to 5, got %d", c.NATS.Replicas)
	} else if c.NATS.URL == "" && c.NATS.Replicas > 1 {
		bad("nats.replicas", "the embedded server is a single node: replicas must be 1 unless nats.url is set")
	}
	if c.NATS.Listen != "" {
		if _, _, err := net.SplitHostPort(c.NATS.Listen); err != nil {
			bad("nats.listen", "want host:port like 127.0.0.1:4222, got %q", c.NATS.Listen)
		}
	}
	switch s := c.NATS.SyncInterval; s {
	case "", "always":
	default:
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			bad("nats.sync_interval", `must be "always" or a positive duration like 10s, got %q`, s)
		}
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		bad("ingest.max_body_bytes", "must be at least 1024, got %d", c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.Sentry.MaxAge <= 0 {
		bad("ingest.sentry.max_age", "must be positive, got %s", c.Ingest.Sentry.MaxAge)
	}
	if c.PagerDuty.RateLimit < 1 {
		bad("pagerduty.rate_limit", "must be at least 1 event per minute, got %d", c.PagerDuty.RateLimit)
	}
	if c.Slack.DigestInterval < Duration(time.Second) {
		bad("slack.digest_interval", "must be at least 1s, got %s", c.Slack.DigestInterval)
	}
	if c.Dedup.BugSpike.Count < 1 {
		bad("dedup.bug_spike.count", "must be at least 1, got %d", c.Dedup.BugSpike.Count)
	}
	if c.Dedup.BugSpike.Within < Duration(time.Second) {
		bad("dedup.bug_spike.within", "must be at least 1s, got %s", c.Dedup.BugSpike.Within)
	}
	if c.Dedup.DuplicateWindow < Duration(time.Second) {
		bad("dedup.duplicate_window", "must be at least 1s, got %s", c.Dedup.DuplicateWindow)
	}
	// JetStream's per-key TTL counts whole seconds, from 1s.
	if c.Dedup.BugClassTTL < Duration(time.Second) {
		bad("dedup.bug_class_ttl", "must be at least 1s, got %s", c.Dedup.BugClassTTL)
	}
	// A resolved episode must be remembered for duplicate_window: a late
	// re-send of its firing within that time is recognised, not paged.
	if c.Dedup.IncidentTTL < Duration(time.Second) {
		bad("dedup.incident_ttl", "must be at least 1s, got %s", c.Dedup.IncidentTTL)
	} else if c.Dedup.IncidentTTL < c.Dedup.DuplicateWindow && c.Dedup.DuplicateWindow >= Duration(time.Second) {
		bad("dedup.incident_ttl", "must be at least dedup.duplicate_window (%s): a late re-send of a resolved episode is recognised within it, got %s", c.Dedup.DuplicateWindow, c.Dedup.IncidentTTL)
	}
	if c.Retention < c.Dedup.DuplicateWindow {
		bad("retention", "must be at least dedup.duplicate_window (%s), got %s", c.Dedup.DuplicateWindow, c.Retention)
	}
	if c.Delivery.Attempts < 1 {
		bad("delivery.attempts", "must be at least 1, got %d", c.Delivery.Attempts)
	}
	if c.Delivery.MinBackoff <= 0 {
		bad("delivery.min_backoff", "must be positive, got %s", c.Delivery.MinBackoff)
	} else if c.Delivery.MaxBackoff < c.Delivery.MinBackoff {
		bad("delivery.max_backoff", "must be at least delivery.min_backoff (%s), got %s", c.Delivery.MinBackoff, c.Delivery.MaxBackoff)
	}
	if c.Delivery.MaxAge <= 0 {
		bad("delivery.max_age", "must be positive, got %s", c.Delivery.MaxAge)
	}
	if c.Delivery.Timeout <= 0 {
		bad("delivery.timeout", "must be positive, got %s", c.Delivery.Timeout)
	}

	c.teamIndex = map[string]int{}
	if len(c.Teams) == 0 {
		bad("teams", "at least one team is required")
	}
	for i, t := range c.Teams {
		key := fmt.Sprintf("teams[%d]", i)
		j, dup := c.teamIndex[t.Name]
		switch {
		case t.Name == "":
			bad(key+".name", "missing")
		case !validName(t.Name):
			bad(key+".name", "%q: use letters, digits, '-' and '_' only", t.Name)
		case dup:
			bad(key+".name", "%q already used by teams[%d]", t.Name, j)
		}
		if t.Name != "" && !dup {
			c.teamIndex[t.Name] = i // even if badly named: no "unknown team" on top
		}
		// Neither message shows the value: both are secrets.
		if k := t.PagerDutyRoutingKey.Value(); k != "" && len(k) != 32 {
			bad(key+".pagerduty_routing_key", "must be 32 characters, got %d", len(k))
		}
		if u := t.SlackWebhookURL.Value(); u != "" && !httpURL(u) {
			bad(key+".slack_webhook_url", "must be an http(s) URL")
		}
		switch ch := t.SlackChannel; {
		case ch == "":
		case !slackChannel.MatchString(ch):
			bad(key+".slack_channel", `%q: want "#name" (lower-case letters, digits, '-', '_') or a channel ID like C0123ABCD`, ch)
		case !c.Slack.AppMode():
			bad(key+".slack_channel", "needs slack.bot_token: only the Slack app posts to a channel by name")
		case t.SlackWebhookURL.Value() != "":
			bad(key+".slack_channel", "set slack_webhook_url or slack_channel, not both: the team's digests go one way")
		}
	}
	switch {
	case c.Slack.AppMode() && c.Slack.SigningSecret.Value() == "":
		bad("slack.signing_secret", "missing: with slack.bot_token, Slack signs each button press with it (is its ${ENV} variable set?)")
	case !c.Slack.AppMode() && c.Slack.SigningSecret.Value() != "":
		bad("slack.bot_token", "missing: slack.signing_secret is set (is its ${ENV} variable set?)")
	}
	if u := c.Slack.APIURL; u != "" && !httpURL(u) {
		bad("slack.api_url", "must be an http(s) URL, got %q", u)
	}
	for i, r := range c.Classify {
		if !r.Kind.Valid() {
			bad(fmt.Sprintf("classify[%d].kind", i), "must be bug or incident, got %q", r.Kind)
		}
		if len(r.Match) == 0 {
			bad(fmt.Sprintf("classify[%d].match", i), "at least one matcher is required")
		}
	}
	if len(c.Routes) == 0 {
		bad("routes", "at least one route is required")
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d].team", i)
		if r.Team == "" {
			bad(key, "missing")
		} else if _, ok := c.teamIndex[r.Team]; !ok && len(c.Teams) > 0 {
			bad(key, "unknown team %q", r.Team) // with no teams at all, that says it
		}
	}
	c.validateTime(bad)
	c.validateReport(bad)
	if n := len(c.Routes); n > 0 && len(c.Routes[n-1].Match) != 0 {
		bad(fmt.Sprintf("routes[%d].match", n-1), "the last route must match everything (match: [])")
	}
	c.validateInhibit(bad)
	if f := c.Dedup.Flapping; f != nil {
		if f.Episodes < 2 {
			bad("dedup.flapping.episodes", "must be at least 2, got %d", f.Episodes)
		}
		if f.Within <= 0 {
			bad("dedup.flapping.within", "must be positive, got %s", f.Within)
		}
		if f.Quiet <= 0 {
			bad("dedup.flapping.quiet", "must be positive, got %s", f.Quiet)
		}
	}
	for i, l := range c.Correlation.Labels {
		if l == "" || !utf8.ValidString(l) {
			bad(fmt.Sprintf("correlation.labels[%d]", i), "%q is not a label name", l)
		} else if slices.Contains(c.Correlation.Labels[:i], l) {
			bad(fmt.Sprintf("correlation.labels[%d]", i), "%q is listed twice", l)
		}
	}
	if c.Correlation.Window < Duration(time.Minute) {
		bad("correlation.window", "must be at least 1m, got %s", c.Correlation.Window)
	}
	c.validateAPI(bad)
	return errors.Join(errs...)
}

// validateTime checks the time intervals' names and the routes' use of
// them, and each route's notify mode.
func (c *Config) validateTime(bad func(key, format string, args ...any)) {
	c.intervalIndex = map[string]int{}
	for i, ti := range c.TimeIntervals {
		key := fmt.Sprintf("time_intervals[%d].name", i)
		j, dup := c.intervalIndex[ti.Name]
		switch {
		case ti.Name == "":
			bad(key, "missing")
		case dup:
			bad(key, "%q already used by time_intervals[%d]", ti.Name, j)
		default:
			c.intervalIndex[ti.Name] = i
		}
	}
	for i, r := range c.Routes {
		switch r.Notify {
		case "", alertgate.NotifyPage, alertgate.NotifyDigest:
		default:
			bad(fmt.Sprintf("routes[%d].notify", i), "must be %s or %s, got %q", alertgate.NotifyPage, alertgate.NotifyDigest, r.Notify)
		}
		for _, l := range []struct {
			key   string
			names []string
		}{{"active_time_intervals", r.ActiveTimeIntervals}, {"mute_time_intervals", r.MuteTimeIntervals}} {
			for j, name := range l.names {
				if _, ok := c.intervalIndex[name]; !ok {
					bad(fmt.Sprintf("routes[%d].%s[%d]", i, l.key, j), "unknown time interval %q", name)
				}
			}
		}
	}
}

// validateReport resolves report.location and report.office_hours.
func (c *Config) validateReport(bad func(key, format string, args ...any)) {
	loc, err := time.LoadLocation(c.Report.Location)
	if err != nil {
		bad("report.location", "unknown time zone %q (want an IANA name like Europe/Berlin)", c.Report.Location)
		loc = time.UTC
	}
	c.reportLoc = loc
	if name := c.Report.OfficeHours; name != "" {
		ti, ok := c.TimeInterval(name)
		if !ok {
			bad("report.office_hours", "unknown time interval %q", name)
			return
		}
		c.officeHours = ti.TimeIntervals
		return
	}
	c.officeHours = []timeinterval.TimeInterval{{
		Weekdays: []timeinterval.WeekdayRange{{InclusiveRange: timeinterval.InclusiveRange{Begin: 1, End: 5}}},
		Times:    []timeinterval.TimeRange{{StartMinute: 9 * 60, EndMinute: 18 * 60}},
		Location: &timeinterval.Location{Location: loc},
	}}
}

// ReportLocation is the time zone the report counts its days in
// (report.location; UTC by default).
func (c *Config) ReportLocation() *time.Location {
	if c.reportLoc == nil {
		return time.UTC
	}
	return c.reportLoc
}

// OfficeHours are the time intervals of report.office_hours, or Monday to
// Friday 09:00 to 18:00 in report.location when it names none. A time is
// in office hours when it is in any of them, as Alertmanager decides.
func (c *Config) OfficeHours() []timeinterval.TimeInterval { return c.officeHours }

// validateInhibit checks that each inhibit rule has source and target
// matchers and names each equal label once.
func (c *Config) validateInhibit(bad func(key, format string, args ...any)) {
	for i, r := range c.InhibitRules {
		key := fmt.Sprintf("inhibit_rules[%d]", i)
		if len(r.SourceMatchers) == 0 {
			bad(key+".source_matchers", "at least one matcher is required")
		}
		if len(r.TargetMatchers) == 0 {
			bad(key+".target_matchers", "at least one matcher is required")
		}
		seen := map[string]int{}
		for j, name := range r.Equal {
			k := fmt.Sprintf("%s.equal[%d]", key, j)
			first, dup := seen[name]
			switch {
			case name == "":
				bad(k, "an empty label name")
			case !utf8.ValidString(name):
				bad(k, "%q is not valid UTF-8", name)
			case dup:
				bad(k, "%q already listed as equal[%d]", name, first)
			default:
				seen[name] = j
			}
		}
	}
}

// TimeInterval returns the time interval called name.
func (c *Config) TimeInterval(name string) (TimeInterval, bool) {
	i, ok := c.intervalIndex[name]
	if !ok {
		return TimeInterval{}, false
	}
	return c.TimeIntervals[i], true
}

// line is where key, or the nearest enclosing key, is written in the file;
// 0 when unknown (a default, or Default's config).
func (c *Config) line(key string) int {
	for key != "" {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

var natsSchemes = map[string]bool{"nats": true, "tls": true, "ws": true, "wss": true}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// redactURL is s for an error message, without credentials: NATS URLs often
// carry user:password@ or token@ (which url.URL.Redacted would show).
func redactURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err == nil && u.User != nil:
		u.User = url.User("xxxxx")
		return u.String()
	case strings.Contains(s, "@"):
		return "(not shown: it may hold credentials)"
	}
	return s
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

func validName(s string) bool { return nameRE.MatchString(s) }

// Team returns the team called name.
func (c *Config) Team(name string) (Team, bool) {
	i, ok := c.teamIndex[name]
	if !ok {
		return Team{}, false
	}
	return c.Teams[i], true
}

// Matchers is a list of Alertmanager matchers written as strings in YAML.
type Matchers labels.Matchers

// UnmarshalYAML parses each string with Alertmanager's matcher syntax, for
// decoding outside Load (which has its own decoder).
func (m *Matchers) UnmarshalYAML(n *yaml.Node) error {
	var ss []string
	if err := n.Decode(&ss); err != nil {
		return err
	}
	out := make(Matchers, 0, len(ss))
	for i, s := range ss {
		pm, err := parseMatcher(s)
		if err != nil {
			return fmt.Errorf("line %d: [%d]: %w", n.Line, i, err)
		}
		out = append(out, pm)
	}
	*m = out
	return nil
}

// Matches reports whether every matcher matches lset (absent labels are "").
func (m Matchers) Matches(lset map[string]string) bool {
	for _, x := range m {
		if !x.Matches(lset[x.Name]) {
			return false
		}
	}
	return true
}

// Strings returns the matchers in Alertmanager's syntax.
func (m Matchers) Strings() []string {
	out := make([]string, len(m))
	for i, x := range m {
		out[i] = x.String()
	}
	return out
}

// Duration is a time.Duration written as "15m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go duration syntax.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// slackChannel is a channel name with its "#", or a channel ID.
var slackChannel = regexp.MustCompile(`^(#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{6,})$`)

// Secret is a string never printed: formatting it shows whether it is set.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return s.String() }

// Format hides the value from every other verb: without it fmt prints a
// string type under a wrong verb raw, as in "%!d(config.Secret=…)".
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalText hides the value from JSON and YAML encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Value returns the secret itself, for the code that must use it.
func (s Secret) Value() string { return string(s) }
