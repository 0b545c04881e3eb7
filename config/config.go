// Package config owns alertgate's one YAML file: its schema, ${ENV}
// expansion, defaults and validation. Load is strict: an unknown key is an
// error, and every error names the YAML key it is about.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"gopkg.in/yaml.v3"

	"github.com/alertgate/alertgate"
)

// Config is the root of the YAML file.
type Config struct {
	Listen     string      `yaml:"listen"`
	PublicURL  string      `yaml:"public_url"`
	DataDir    string      `yaml:"data_dir"`
	NATS       NATS        `yaml:"nats"`
	Ingest     Ingest      `yaml:"ingest"`
	PagerDuty  PagerDuty   `yaml:"pagerduty"`
	Slack      Slack       `yaml:"slack"`
	Teams      []Team      `yaml:"teams"`
	Classify   []ClassRule `yaml:"classify"`
	Routes     []Route     `yaml:"routes"`
	Dedup      Dedup       `yaml:"dedup"`
	Delivery   Delivery    `yaml:"delivery"`
	Retention  Duration    `yaml:"retention"`
	RunbookDir string      `yaml:"runbooks_dir"`
	teamIndex  map[string]int
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

// Slack configures the digest sink.
type Slack struct {
	DigestInterval Duration `yaml:"digest_interval"`
}

// Team is an owner of routes: where its pages and digests go.
type Team struct {
	Name                string `yaml:"name"`
	PagerDutyRoutingKey Secret `yaml:"pagerduty_routing_key"`
	SlackWebhookURL     Secret `yaml:"slack_webhook_url"`
}

// ClassRule overrides the kind of the events it matches.
type ClassRule struct {
	Match Matchers       `yaml:"match"`
	Kind  alertgate.Kind `yaml:"kind"`
}

// Route sends matching events to a team.
type Route struct {
	Match    Matchers `yaml:"match"`
	Team     string   `yaml:"team"`
	Runbook  string   `yaml:"runbook"`
	PageBugs bool     `yaml:"page_bugs"`
}

// Dedup configures the policy.
type Dedup struct {
	BugSpike        BugSpike `yaml:"bug_spike"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
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

func (c *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Listen, ":8080")
	def(&c.DataDir, "./data")
	def(&c.RunbookDir, "./runbooks")
	def(&c.PagerDuty.EventsURL, "https://events.pagerduty.com")
	if c.PublicURL == "" {
		host := c.Listen
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		c.PublicURL = "http://" + host
	}
	if c.NATS.Replicas == 0 {
		c.NATS.Replicas = 1
	}
	if c.Ingest.MaxBodyBytes == 0 {
		c.Ingest.MaxBodyBytes = 1 << 20
	}
	if c.Ingest.Sentry.MaxAge == 0 {
		c.Ingest.Sentry.MaxAge = Duration(5 * time.Minute)
	}
	if c.PagerDuty.RateLimit == 0 {
		c.PagerDuty.RateLimit = 120
	}
	if c.Slack.DigestInterval == 0 {
		c.Slack.DigestInterval = Duration(15 * time.Minute)
	}
	if c.Dedup.BugSpike.Count == 0 {
		c.Dedup.BugSpike.Count = 100
	}
	if c.Dedup.BugSpike.Within == 0 {
		c.Dedup.BugSpike.Within = Duration(time.Hour)
	}
	if c.Dedup.DuplicateWindow == 0 {
		c.Dedup.DuplicateWindow = Duration(20 * time.Minute)
	}
	if c.Delivery.Attempts == 0 {
		c.Delivery.Attempts = 5
	}
	if c.Delivery.MinBackoff == 0 {
		c.Delivery.MinBackoff = Duration(time.Second)
	}
	if c.Delivery.MaxBackoff == 0 {
		c.Delivery.MaxBackoff = Duration(5 * time.Minute)
	}
	if c.Delivery.Timeout == 0 {
		c.Delivery.Timeout = Duration(10 * time.Second)
	}
	if c.Retention == 0 {
		c.Retention = Duration(14 * 24 * time.Hour)
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} (only that form: a bare $ is common in Datadog
// templates and regexps) with the environment variable, "" when unset.
func expandEnv(b []byte, lookup func(string) (string, bool)) []byte {
	return envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		v, _ := lookup(string(m[2 : len(m)-1]))
		return []byte(v)
	})
}

// LoadFile reads and validates the config at path.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Load(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load parses YAML after ${ENV} expansion with lookup, applies defaults and
// validates. Every problem found is returned, joined.
func Load(b []byte, lookup func(string) (string, bool)) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(expandEnv(b, lookup)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, err := url.ParseRequestURI(c.PublicURL); err != nil {
		bad("public_url", "not a URL: %v", err)
	}
	if u, err := url.Parse(c.PagerDuty.EventsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("pagerduty.events_url", "must be an http(s) URL, got %q", c.PagerDuty.EventsURL)
	}
	if c.NATS.URL != "" && !strings.Contains(c.NATS.URL, "://") {
		bad("nats.url", "must look like nats://host:4222, got %q", c.NATS.URL)
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		bad("nats.replicas", "must be 1 to 5, got %d", c.NATS.Replicas)
	}
	if c.NATS.URL == "" && c.NATS.Replicas > 1 {
		bad("nats.replicas", "the embedded server is a single node: replicas must be 1 unless nats.url is set")
	}
	switch s := c.NATS.SyncInterval; s {
	case "", "always":
	default:
		if _, err := time.ParseDuration(s); err != nil {
			bad("nats.sync_interval", `must be "always" or a duration, got %q`, s)
		}
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		bad("ingest.max_body_bytes", "must be at least 1024, got %d", c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.Sentry.MaxAge < 0 {
		bad("ingest.sentry.max_age", "must not be negative")
	}
	if c.PagerDuty.RateLimit < 1 {
		bad("pagerduty.rate_limit", "must be at least 1 event per minute")
	}
	if c.Slack.DigestInterval < Duration(time.Second) {
		bad("slack.digest_interval", "must be at least 1s")
	}
	if c.Dedup.BugSpike.Count < 1 {
		bad("dedup.bug_spike.count", "must be at least 1")
	}
	if c.Dedup.BugSpike.Within < Duration(time.Second) {
		bad("dedup.bug_spike.within", "must be at least 1s")
	}
	if c.Dedup.DuplicateWindow < Duration(time.Second) {
		bad("dedup.duplicate_window", "must be at least 1s")
	}
	if c.Retention < c.Dedup.DuplicateWindow {
		bad("retention", "must be at least dedup.duplicate_window (%s)", c.Dedup.DuplicateWindow)
	}
	if c.Delivery.Attempts < 1 {
		bad("delivery.attempts", "must be at least 1")
	}
	if c.Delivery.MinBackoff <= 0 || c.Delivery.MaxBackoff < c.Delivery.MinBackoff {
		bad("delivery", "need 0 < min_backoff <= max_backoff")
	}
	if c.Delivery.Timeout <= 0 {
		bad("delivery.timeout", "must be positive")
	}

	c.teamIndex = map[string]int{}
	if len(c.Teams) == 0 {
		bad("teams", "at least one team is required")
	}
	for i, t := range c.Teams {
		key := fmt.Sprintf("teams[%d]", i)
		switch {
		case t.Name == "":
			bad(key+".name", "missing")
		case !validName(t.Name):
			bad(key+".name", "%q: use letters, digits, '-' and '_' only", t.Name)
		}
		if j, dup := c.teamIndex[t.Name]; dup && t.Name != "" {
			bad(key+".name", "%q already used by teams[%d]", t.Name, j)
		}
		c.teamIndex[t.Name] = i
		if k := string(t.PagerDutyRoutingKey); k != "" && len(k) != 32 {
			bad(key+".pagerduty_routing_key", "must be 32 characters, got %d", len(k))
		}
		if u := string(t.SlackWebhookURL); u != "" {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				bad(key+".slack_webhook_url", "must be an http(s) URL")
			}
		}
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
		key := fmt.Sprintf("routes[%d]", i)
		if _, ok := c.teamIndex[r.Team]; !ok {
			bad(key+".team", "unknown team %q", r.Team)
		}
	}
	if n := len(c.Routes); n > 0 && len(c.Routes[n-1].Match) != 0 {
		bad(fmt.Sprintf("routes[%d].match", n-1), "the last route must match everything (match: [])")
	}
	return errors.Join(errs...)
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

// UnmarshalYAML parses each string with Alertmanager's matcher syntax.
func (m *Matchers) UnmarshalYAML(n *yaml.Node) error {
	var ss []string
	if err := n.Decode(&ss); err != nil {
		return err
	}
	out := make(Matchers, 0, len(ss))
	for i, s := range ss {
		pm, err := labels.ParseMatcher(s)
		if err != nil {
			return fmt.Errorf("line %d: matcher %d %q: %w", n.Line, i, s, err)
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
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

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

// MarshalText hides the value from JSON and YAML encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Value returns the secret itself, for the code that must use it.
func (s Secret) Value() string { return string(s) }
