package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/alertgate/alertgate"
)

// Values for the ${ENV} references of testdata/valid/design.yaml. Each is
// distinctive, so that a test can look for it in printed output.
const (
	paymentsKey     = "R0UT1NGKEYpaymentsR0UT1NGKEY0001" // 32 characters, as PagerDuty requires
	paymentsWebhook = "https://hooks.slack.com/services/T0000/B0000/WEBHOOKSECRETpayments"
	sentrySecret    = "SENTRYCLIENTSECRETvalue"
	sentryLegacy    = "SENTRYLEGACYTOKENvalue"
	datadogToken    = "DATADOGTOKENvalue"
	amToken         = "ALERTMANAGERTOKENvalue"
)

// env is a lookup over a map, standing in for the process environment.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

var designEnv = map[string]string{
	"PD_PAYMENTS_KEY":        paymentsKey,
	"SLACK_PAYMENTS_WEBHOOK": paymentsWebhook,
	"SENTRY_CLIENT_SECRET":   sentrySecret,
	"SENTRY_LEGACY_TOKEN":    sentryLegacy,
	"DATADOG_TOKEN":          datadogToken,
	"ALERTMANAGER_TOKEN":     amToken,
}

func loadDesign(t *testing.T) *Config {
	t.Helper()
	b, err := os.ReadFile("testdata/valid/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(b, env(designEnv))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// minimal is the smallest valid config: one team, one catch-all route.
const minimal = `
teams:
  - name: payments
routes:
  - team: payments
`

func TestLoad_Design(t *testing.T) {
	c := loadDesign(t)
	payments, ok := c.Team("payments")
	if !ok {
		t.Fatal(`Team("payments") not found`)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		// Values written in the file.
		{"listen", c.Listen, ":8080"},
		{"public_url", c.PublicURL, "http://localhost:8080"},
		{"data_dir", c.DataDir, "./data"},
		{"nats.url", c.NATS.URL, ""},
		{"nats.replicas", c.NATS.Replicas, 1},
		{"ingest.max_body_bytes", c.Ingest.MaxBodyBytes, int64(1048576)},
		{"ingest.sentry.max_age", c.Ingest.Sentry.MaxAge.D(), 5 * time.Minute},
		{"pagerduty.events_url", c.PagerDuty.EventsURL, "https://events.pagerduty.com"},
		{"slack.digest_interval", c.Slack.DigestInterval.D(), 15 * time.Minute},
		{"dedup.bug_spike.count", c.Dedup.BugSpike.Count, 100},
		{"dedup.bug_spike.within", c.Dedup.BugSpike.Within.D(), time.Hour},
		{"dedup.duplicate_window", c.Dedup.DuplicateWindow.D(), 20 * time.Minute},
		{"runbooks_dir", c.RunbookDir, "./runbooks"},

		// ${ENV} in flow mappings and in a list of teams, from the lookup.
		{"ingest.sentry.client_secret", c.Ingest.Sentry.ClientSecret.Value(), sentrySecret},
		{"ingest.sentry.legacy_token", c.Ingest.Sentry.LegacyToken.Value(), sentryLegacy},
		{"ingest.datadog.token", c.Ingest.Datadog.Token.Value(), datadogToken},
		{"ingest.alertmanager.token", c.Ingest.Alertmanager.Token.Value(), amToken},
		{"teams[0].pagerduty_routing_key", payments.PagerDutyRoutingKey.Value(), paymentsKey},
		{"teams[0].slack_webhook_url", payments.SlackWebhookURL.Value(), paymentsWebhook},

		// Keys the file leaves out get their defaults.
		{"ingest.events.token", c.Ingest.Events.Token.Value(), ""},
		{"nats.listen", c.NATS.Listen, ""},
		{"nats.sync_interval", c.NATS.SyncInterval, ""},
		{"pagerduty.rate_limit", c.PagerDuty.RateLimit, 120},
		{"delivery.attempts", c.Delivery.Attempts, 12},
		{"delivery.min_backoff", c.Delivery.MinBackoff.D(), time.Second},
		{"delivery.max_backoff", c.Delivery.MaxBackoff.D(), 5 * time.Minute},
		{"delivery.timeout", c.Delivery.Timeout.D(), 10 * time.Second},
		{"retention", c.Retention.D(), 14 * 24 * time.Hour},

		// Lists keep their order and fields.
		{"len(teams)", len(c.Teams), 2},
		{"len(classify)", len(c.Classify), 1},
		{"classify[0].kind", c.Classify[0].Kind, alertgate.KindBug},
		{"classify[0].match", strings.Join(c.Classify[0].Match.Strings(), ","), `source="datadog",event_type="error_tracking_alert"`},
		{"len(routes)", len(c.Routes), 2},
		{"routes[0].team", c.Routes[0].Team, "payments"},
		{"routes[0].runbook", c.Routes[0].Runbook, "checkout-high-error-rate"},
		{"routes[0].page_bugs", c.Routes[0].PageBugs, false},
		{"routes[1].team", c.Routes[1].Team, "platform"},
		{"len(routes[1].match)", len(c.Routes[1].Match), 0},
	} {
		if got, want := tt.got, tt.want; got != want {
			t.Errorf("%s=%#v, want %#v", tt.name, got, want)
		}
	}
}

func TestLoad_Defaults(t *testing.T) {
	c, err := Load([]byte(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, ":8080"},
		// Derived from listen: pages link to runbooks on this host.
		{"public_url", c.PublicURL, "http://localhost:8080"},
		{"data_dir", c.DataDir, "./data"},
		{"runbooks_dir", c.RunbookDir, "./runbooks"},
		{"nats.replicas", c.NATS.Replicas, 1},
		{"ingest.max_body_bytes", c.Ingest.MaxBodyBytes, int64(1 << 20)},
		{"ingest.sentry.max_age", c.Ingest.Sentry.MaxAge.D(), 5 * time.Minute},
		{"pagerduty.events_url", c.PagerDuty.EventsURL, "https://events.pagerduty.com"},
		{"pagerduty.rate_limit", c.PagerDuty.RateLimit, 120},
		{"slack.digest_interval", c.Slack.DigestInterval.D(), 15 * time.Minute},
		{"dedup.bug_spike.count", c.Dedup.BugSpike.Count, 100},
		{"dedup.bug_spike.within", c.Dedup.BugSpike.Within.D(), time.Hour},
		{"dedup.duplicate_window", c.Dedup.DuplicateWindow.D(), 20 * time.Minute},
		{"dedup.bug_class_ttl", c.Dedup.BugClassTTL.D(), 90 * 24 * time.Hour},
		{"dedup.incident_ttl", c.Dedup.IncidentTTL.D(), 30 * 24 * time.Hour},
		{"delivery.attempts", c.Delivery.Attempts, 12},
		{"delivery.min_backoff", c.Delivery.MinBackoff.D(), time.Second},
		{"delivery.max_backoff", c.Delivery.MaxBackoff.D(), 5 * time.Minute},
		{"delivery.timeout", c.Delivery.Timeout.D(), 10 * time.Second},
		{"retention", c.Retention.D(), 14 * 24 * time.Hour},
		// A route without match: is a catch-all.
		{"len(routes[0].match)", len(c.Routes[0].Match), 0},
		{"routes[0].matches", c.Routes[0].Match.Matches(map[string]string{"service": "x"}), true},
	} {
		if got, want := tt.got, tt.want; got != want {
			t.Errorf("%s=%#v, want %#v", tt.name, got, want)
		}
	}
}

// Whole days are accepted wherever a duration is: expiries and retentions
// are thought of in days.
func TestLoad_Days(t *testing.T) {
	c, err := Load([]byte(minimal+`
retention: 14d
dedup:
  bug_class_ttl: 90d
  incident_ttl: 0d12h
`), noEnv)
	if err == nil {
		t.Fatalf("Load accepted 0d12h (incident_ttl=%s), want an error", c.Dedup.IncidentTTL)
	}
	if got, want := err.Error(), `line 10: dedup.incident_ttl: want whole days like 14d, or a duration like 90s, 15m or 2h, got "0d12h"`; got != want {
		t.Fatalf("error=%q, want %q", got, want)
	}
	c, err = Load([]byte(minimal+`
retention: 14d
dedup:
  bug_class_ttl: 90d
  incident_ttl: 1d
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want time.Duration
	}{
		{"retention", c.Retention.D(), 14 * 24 * time.Hour},
		{"dedup.bug_class_ttl", c.Dedup.BugClassTTL.D(), 90 * 24 * time.Hour},
		{"dedup.incident_ttl", c.Dedup.IncidentTTL.D(), 24 * time.Hour},
	} {
		if tt.got != tt.want {
			t.Errorf("%s=%s, want %s", tt.name, tt.got, tt.want)
		}
	}
	// More days than a duration holds is an error, not a wrapped value.
	if _, err := parseDuration("106752d"); err == nil {
		t.Fatal("parseDuration(106752d): no error")
	}
}

func TestLoad_Env(t *testing.T) {
	// The process environment must not leak in: only the lookup counts.
	t.Setenv("FROM_PROCESS", "process-value")
	vars := map[string]string{
		"SET":      "value",
		"REPLICAS": "3",
		"NATS":     "nats://nats-0:4222",
		"TRICKY":   "a\"b # c: d\\e\nlisten: \":9999\"",
		"NESTED":   "${SET}",
		"EMPTY":    "",
	}
	for _, tt := range []struct {
		name string
		yaml string // the config, apart from minimal's teams and routes
		got  func(*Config) any
		want any
	}{
		// ${NAME} is replaced by the lookup's value, quoted or not.
		{"quoted", `ingest: {datadog: {token: "${SET}"}}`, datadogTok, "value"},
		{"plain", `ingest: {datadog: {token: ${SET}}}`, datadogTok, "value"},
		{"embedded", `ingest: {datadog: {token: "pre-${SET}-post"}}`, datadogTok, "pre-value-post"},
		// An unset variable and an empty one both give "".
		{"unset", `ingest: {datadog: {token: "${UNSET}"}}`, datadogTok, ""},
		{"empty", `ingest: {datadog: {token: ${EMPTY}}}`, datadogTok, ""},
		// Only the process environment has it: not expanded.
		{"process env ignored", `ingest: {datadog: {token: "${FROM_PROCESS}"}}`, datadogTok, ""},
		// A bare $NAME is left alone: Datadog templates and regexps use $.
		{"bare $NAME", `ingest: {datadog: {token: "$SET"}}`, datadogTok, "$SET"},
		{"bare $ALERT_ID", `ingest: {datadog: {token: "id-$ALERT_ID"}}`, datadogTok, "id-$ALERT_ID"},
		{"not a name", `ingest: {datadog: {token: "${1X} ${} $"}}`, datadogTok, "${1X} ${} $"},
		// A value is taken verbatim: quotes, " #", ": " and newlines in it
		// neither break the YAML nor add keys (listen stays the default).
		{"tricky value", `ingest: {datadog: {token: "${TRICKY}"}}`, datadogTok, vars["TRICKY"]},
		{"tricky value, listen", `ingest: {datadog: {token: ${TRICKY}}}`, func(c *Config) any { return c.Listen }, ":8080"},
		// A value that looks like a reference is not expanded again.
		{"no double expansion", `ingest: {datadog: {token: "${NESTED}"}}`, datadogTok, "${SET}"},
		// A plain ${NAME} is read as the type of its value: here a number.
		{"number", "nats: {url: ${NATS}, replicas: ${REPLICAS}}", func(c *Config) any { return c.NATS.Replicas }, 3},
		// An unset number is null: the default applies.
		{"unset number", "nats: {replicas: ${UNSET}}", func(c *Config) any { return c.NATS.Replicas }, 1},
		{"unset string", "data_dir: ${UNSET}", func(c *Config) any { return c.DataDir }, "./data"},
		// Matchers are expanded too; a regexp's $ stays.
		{"matcher", "classify: [{match: ['service=~\"${SET}|x$\"'], kind: bug}]",
			func(c *Config) any { return c.Classify[0].Match.Matches(map[string]string{"service": "value"}) }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load([]byte(tt.yaml+"\n"+minimal), env(vars))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tt.got(c), tt.want; got != want {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

func datadogTok(c *Config) any { return c.Ingest.Datadog.Token.Value() }

// A nil lookup is an empty environment, not a panic.
func TestLoad_NilLookup(t *testing.T) {
	c, err := Load([]byte("ingest: {datadog: {token: \"${HOME}\"}}\n"+minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Ingest.Datadog.Token.Value(), ""; got != want {
		t.Fatalf("token=%q, want %q", got, want)
	}
}

// YAML anchors and merge keys work, and a mapping's own keys win.
func TestLoad_Merge(t *testing.T) {
	c, err := Load([]byte(`
teams:
  - &team {name: payments, slack_webhook_url: "https://hooks.slack.com/services/T/B/X"}
  - <<: *team
    name: frontend
routes:
  - team: payments
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	fe, ok := c.Team("frontend")
	if !ok {
		t.Fatal(`Team("frontend") not found`)
	}
	if got, want := fe.SlackWebhookURL.Value(), "https://hooks.slack.com/services/T/B/X"; got != want {
		t.Fatalf("frontend webhook=%q, want %q", got, want)
	}
}

func TestMatchers(t *testing.T) {
	route := loadDesign(t).Routes[0].Match // service=~"checkout|payments"
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		// Either alternative of the regexp.
		{"checkout", map[string]string{"service": "checkout"}, true},
		{"payments", map[string]string{"service": "payments", "env": "prod"}, true},
		// Other services do not match.
		{"search", map[string]string{"service": "search"}, false},
		// The regexp is anchored, as in Alertmanager.
		{"checkout-api", map[string]string{"service": "checkout-api"}, false},
		// An absent label is "".
		{"no service", map[string]string{"team": "payments"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := route.Matches(tt.labels), tt.want; got != want {
				t.Fatalf("Matches(%v)=%v, want %v", tt.labels, got, want)
			}
		})
	}
	if got, want := strings.Join(route.Strings(), ","), `service=~"checkout|payments"`; got != want {
		t.Fatalf("Strings()=%s, want %s", got, want)
	}
}

func TestTeam(t *testing.T) {
	c := loadDesign(t)
	for _, tt := range []struct {
		name   string
		ok     bool
		dryRun bool // no PagerDuty key
	}{
		// Defined, with a key from the environment.
		{"payments", true, false},
		// Defined, no key: dry-run.
		{"platform", true, true},
		// Not defined.
		{"nobody", false, true},
		{"", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			team, ok := c.Team(tt.name)
			if got, want := ok, tt.ok; got != want {
				t.Fatalf("ok=%v, want %v", got, want)
			}
			if got, want := team.PagerDutyRoutingKey == "", tt.dryRun; got != want {
				t.Fatalf("dry-run=%v, want %v", got, want)
			}
			if ok && team.Name != tt.name {
				t.Fatalf("Name=%q, want %q", team.Name, tt.name)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	team, ok := c.Team("default")
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		// One team, called default, found by Team.
		{"len(teams)", len(c.Teams), 1},
		{"Team(default) ok", ok, true},
		// In dry-run on both sinks.
		{"pagerduty_routing_key", team.PagerDutyRoutingKey.Value(), ""},
		{"slack_webhook_url", team.SlackWebhookURL.Value(), ""},
		// One catch-all route to it.
		{"len(routes)", len(c.Routes), 1},
		{"routes[0].team", c.Routes[0].Team, "default"},
		{"len(routes[0].match)", len(c.Routes[0].Match), 0},
		// And the usual defaults.
		{"listen", c.Listen, ":8080"},
		{"data_dir", c.DataDir, "./data"},
		{"nats.url", c.NATS.URL, ""},
		{"nats.replicas", c.NATS.Replicas, 1},
		{"delivery.attempts", c.Delivery.Attempts, 12},
	} {
		if got, want := tt.got, tt.want; got != want {
			t.Errorf("%s=%#v, want %#v", tt.name, got, want)
		}
	}
	// It is valid by the same rules as a loaded file.
	if err := c.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
}

// wantRE reads the expectations in an invalid file's leading comments:
// "# want: s" (the error contains s; one line per reported error) and
// "# not: s" (it does not, e.g. a secret).
var wantRE = regexp.MustCompile(`^# (want|not): (.+)$`)

// TestLoad_Invalid loads every testdata/invalid/*.yaml: adding a file adds a
// case. Each must fail with exactly the errors its "# want:" lines name.
func TestLoad_Invalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found %d invalid configs, want at least 30", len(files))
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want, not []string
			for line := range strings.Lines(string(b)) {
				m := wantRE.FindStringSubmatch(strings.TrimRight(line, "\n"))
				if m == nil {
					break
				}
				if m[1] == "want" {
					want = append(want, m[2])
				} else {
					not = append(not, m[2])
				}
			}
			if len(want) == 0 {
				t.Fatal(`no "# want: …" line at the top`)
			}
			c, err := Load(b, noEnv)
			if err == nil {
				t.Fatalf("Load succeeded (%d teams), want an error containing %q", len(c.Teams), want)
			}
			msg := err.Error()
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error:\n%s\nwant it to contain:\n%s", msg, w)
				}
			}
			for _, n := range not {
				if strings.Contains(msg, n) {
					t.Errorf("error:\n%s\ncontains %q", msg, n)
				}
			}
			// No more errors than expected: a problem is reported once,
			// without consequences of it reported on top.
			if got, want := len(unjoin(err)), len(want); got != want {
				t.Errorf("%d errors, want %d:\n%s", got, want, msg)
			}
			// Errors speak YAML, not Go.
			for _, goism := range []string{"config.", "yaml: unmarshal errors", "!!str", "not found in type"} {
				if strings.Contains(msg, goism) {
					t.Errorf("error:\n%s\nmentions %q", msg, goism)
				}
			}
		})
	}
}

// unjoin lists the errors joined in err.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Several problems in one file are all reported, each with its line.
func TestLoad_EveryProblem(t *testing.T) {
	for _, tt := range []struct {
		name string
		yaml string
		want []string
	}{
		// Validation: all rules run, whatever fails first.
		{"validation", `
nats:
  replicas: 9
ingest:
  max_body_bytes: 10
delivery:
  attempts: 0
teams:
  - name: payments
    pagerduty_routing_key: short
  - name: payments
routes:
  - match: ['service="x"']
    team: nobody
`, []string{
			"line 3: nats.replicas: must be 1 to 5, got 9",
			"line 5: ingest.max_body_bytes: must be at least 1024, got 10",
			"line 7: delivery.attempts: must be at least 1, got 0",
			"line 10: teams[0].pagerduty_routing_key: must be 32 characters, got 5",
			`line 11: teams[1].name: "payments" already used by teams[0]`,
			`line 14: routes[0].team: unknown team "nobody"`,
			"line 13: routes[0].match: the last route must match everything (match: [])",
		}},
		// Decoding: every unknown key, bad value and bad matcher, not only
		// the first.
		{"decoding", `
lisen: ":8080"
ingest:
  sentry: {secret: x, max_age: soon}
nats: {replicas: many}
routes:
  - match: ['service=~(', 'env="prod"', 'team~x']
    team: payments
`, []string{
			`line 2: unknown key "lisen"`,
			`line 4: unknown key "secret" in ingest.sentry`,
			`line 4: ingest.sentry.max_age: want a duration like 90s, 15m or 2h, got "soon"`,
			`line 5: nats.replicas: want a whole number, got "many"`,
			`line 7: routes[0].match[0]: bad matcher 'service=~('`,
			`line 7: routes[0].match[2]: bad matcher 'team~x'`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml), noEnv)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, w)
				}
			}
			if got, want := len(unjoin(err)), len(tt.want); got != want {
				t.Errorf("%d errors, want %d:\n%v", got, want, err)
			}
		})
	}
}

// oddVerbs is a variable so that vet lets the test use verbs it would
// rightly reject for these types.
var oddVerbs = "%d %x %X %10.3s %t"

func TestSecrets(t *testing.T) {
	c := loadDesign(t)
	team, _ := c.Team("payments")
	secrets := []string{paymentsKey, paymentsWebhook, sentrySecret, sentryLegacy, datadogToken, amToken}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c, "team", team)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", c, "team", team)
	jsonCfg, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	yamlCfg, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		out  string
	}{
		// Every way fmt prints a struct.
		{"fmt", fmt.Sprintf("%v %+v %#v %s", c, c, c, team.PagerDutyRoutingKey)},
		{"fmt *Config", fmt.Sprintf("%v %+v %#v", *c, *c, *c)},
		{"fmt team", fmt.Sprintf("%v %+v %#v %s %q", team, team, team, team.SlackWebhookURL, team.SlackWebhookURL)},
		// Verbs that do not fit a string: fmt would print the raw value
		// as %!d(config.Secret=…) without Secret.Format.
		{"fmt odd verbs", fmt.Sprintf(oddVerbs, team.PagerDutyRoutingKey, team.PagerDutyRoutingKey, c, team.SlackWebhookURL, c)},
		{"json", string(jsonCfg)},
		{"yaml", string(yamlCfg)},
		{"slog", logged.String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range secrets {
				if strings.Contains(tt.out, s) {
					t.Fatalf("output contains secret %q:\n%s", s, tt.out)
				}
			}
			// json.Marshal writes < and > as \u003c and \u003e.
			shown := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(tt.out)
			if !strings.Contains(shown, "<secret>") {
				t.Fatalf("output does not show <secret> where a secret is:\n%s", tt.out)
			}
		})
	}

	// Value gives the code that must use a secret the secret.
	for _, tt := range []struct {
		name      string
		got, want string
	}{
		{"pagerduty_routing_key", team.PagerDutyRoutingKey.Value(), paymentsKey},
		{"slack_webhook_url", team.SlackWebhookURL.Value(), paymentsWebhook},
		{"sentry.client_secret", c.Ingest.Sentry.ClientSecret.Value(), sentrySecret},
		{"datadog.token", c.Ingest.Datadog.Token.Value(), datadogToken},
	} {
		if got, want := tt.got, tt.want; got != want {
			t.Errorf("%s.Value()=%q, want %q", tt.name, got, want)
		}
	}
	// An unset secret prints as empty, so a log shows it is not set.
	if got, want := fmt.Sprint(Secret("")), ""; got != want {
		t.Errorf("Secret(\"\")=%q, want %q", got, want)
	}
}

// Errors about secrets, or about a secret put in the wrong place, do not
// show the value that came from the environment.
func TestSecrets_InErrors(t *testing.T) {
	const key = "SHORTKEYfromENV"
	const hook = "ftp://hooks.slack.com/services/T0/B0/HOOKfromENV"
	vars := map[string]string{"KEY": key, "HOOK": hook}
	for _, tt := range []struct {
		name string
		yaml string
		want string
	}{
		// Wrong length: the length is given, not the key.
		{"routing key", "teams: [{name: payments, pagerduty_routing_key: ${KEY}}]\nroutes: [{team: payments}]",
			"teams[0].pagerduty_routing_key: must be 32 characters, got 15"},
		// Wrong scheme: the URL's path is the secret.
		{"webhook", "teams: [{name: payments, slack_webhook_url: ${HOOK}}]\nroutes: [{team: payments}]",
			"teams[0].slack_webhook_url: must be an http(s) URL"},
		// A secret where a mapping belongs: the reference is shown.
		{"misplaced", "teams: [{name: payments}]\nroutes: [{team: payments}]\npagerduty: ${KEY}",
			`line 3: pagerduty: want a mapping of keys, got "${KEY}" (after expansion, not shown)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml), env(vars))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			for _, s := range []string{key, "HOOKfromENV"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q contains secret %q", err, s)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("teams: []\nroutes: [{team: x}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	for _, tt := range []struct {
		name string
		path string
		want string // after "<path>: "
	}{
		// A config error.
		{"invalid", bad, "line 1: teams: at least one team is required"},
		// A read error, with the path said once.
		{"missing", missing, "no such file or directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFile(tt.path)
			if err == nil {
				t.Fatal("LoadFile succeeded")
			}
			if got, want := err.Error(), tt.path+": "; !strings.HasPrefix(got, want) {
				t.Fatalf("error %q, want it to start with %q", got, want)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) || strings.Count(got, tt.path) != 1 {
				t.Fatalf("error %q, want %q after the path, said once", got, tt.want)
			}
		})
	}
	_, err := LoadFile(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("errors.Is(%v, fs.ErrNotExist)=false, want true", err)
	}

	// LoadFile expands from the process environment.
	t.Setenv("ALERTGATE_TEST_TOKEN", "from-process")
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("ingest: {events: {token: ${ALERTGATE_TEST_TOKEN}}}\n"+minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Ingest.Events.Token.Value(), "from-process"; got != want {
		t.Fatalf("token=%q, want %q", got, want)
	}
}

// exampleEnv sets every variable examples/alertgate.yaml refers to.
var exampleEnv = map[string]string{
	"PD_PAYMENTS_KEY":        "0123456789abcdef0123456789abcdef",
	"PD_FRONTEND_KEY":        "fedcba9876543210fedcba9876543210",
	"PD_PLATFORM_KEY":        "00112233445566778899aabbccddeeff",
	"SLACK_PAYMENTS_WEBHOOK": "https://hooks.slack.com/services/T0/B1/payments",
	"SLACK_FRONTEND_WEBHOOK": "https://hooks.slack.com/services/T0/B2/frontend",
	"SLACK_PLATFORM_WEBHOOK": "https://hooks.slack.com/services/T0/B3/platform",
	"SENTRY_CLIENT_SECRET":   "sentry-secret",
	"SENTRY_LEGACY_TOKEN":    "sentry-legacy",
	"DATADOG_TOKEN":          "datadog-token",
	"ALERTMANAGER_TOKEN":     "alertmanager-token",
	"EVENTS_TOKEN":           "events-token",
	"ALERTGATE_PUBLIC_URL":   "https://alertgate.example.com",
	"NATS_URL":               "nats://nats-0:4222,nats://nats-1:4222",
}

// The shipped example loads with no environment at all (every team in
// dry-run) and with every variable set, and routes as its comments say.
func TestExample(t *testing.T) {
	const path = "../examples/alertgate.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every ${NAME} it uses is in exampleEnv, so the case below is complete.
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue // a comment may say ${NAME}
		}
		for _, m := range envRef.FindAllStringSubmatch(line, -1) {
			if _, ok := exampleEnv[m[1]]; !ok {
				t.Errorf("%s uses ${%s}, missing from exampleEnv", path, m[1])
			}
		}
	}
	ids := runbookIDs(t, "../examples/runbooks")

	for _, tt := range []struct {
		name   string
		vars   map[string]string
		dryRun bool
	}{
		// Nothing set: it runs, and pages and posts nowhere.
		{"empty environment", nil, true},
		// Everything set: every team pages.
		{"full environment", exampleEnv, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(b, env(tt.vars))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if got, want := len(c.Teams), 3; got != want {
				t.Fatalf("len(teams)=%d, want %d", got, want)
			}
			for _, team := range c.Teams {
				if got, want := team.PagerDutyRoutingKey == "" && team.SlackWebhookURL == "", tt.dryRun; got != want {
					t.Errorf("team %s dry-run=%v, want %v", team.Name, got, want)
				}
			}
			if got, want := c.RunbookDir, "./examples/runbooks"; got != want {
				t.Errorf("runbooks_dir=%q, want %q", got, want)
			}
			if got, want := c.DataDir, "./data"; got != want {
				t.Errorf("data_dir=%q, want %q", got, want)
			}
			for i, r := range c.Routes {
				if _, ok := ids[r.Runbook]; r.Runbook != "" && !ok {
					t.Errorf("routes[%d].runbook=%q: no such runbook in examples/runbooks", i, r.Runbook)
				}
			}
			for _, rt := range []struct {
				labels map[string]string
				team   string
			}{
				// Checkout and payments services belong to payments, from
				// any source.
				{map[string]string{"source": "alertmanager", "alertname": "HighErrorRate", "service": "checkout"}, "payments"},
				{map[string]string{"source": "datadog", "service": "payments"}, "payments"},
				{map[string]string{"source": "sentry", "service": "checkout"}, "payments"},
				// The Sentry project front-end belongs to frontend.
				{map[string]string{"source": "sentry", "service": "front-end", "kind": "bug"}, "frontend"},
				// Everything else falls to platform.
				{map[string]string{"source": "alertmanager", "alertname": "InstanceDown"}, "platform"},
				{map[string]string{"source": "datadog", "service": "search"}, "platform"},
			} {
				if got, want := route(c, rt.labels).Team, rt.team; got != want {
					t.Errorf("route(%v).team=%s, want %s", rt.labels, got, want)
				}
			}
			// Datadog error tracking is a bug; other Datadog monitors are not
			// reclassified.
			if got, want := classify(c, map[string]string{"source": "datadog", "event_type": "error_tracking_alert"}), alertgate.KindBug; got != want {
				t.Errorf("error tracking kind=%q, want %q", got, want)
			}
			if got, want := classify(c, map[string]string{"source": "datadog", "event_type": "query_alert_monitor"}), alertgate.Kind(""); got != want {
				t.Errorf("query alert kind=%q, want %q", got, want)
			}
		})
	}
}

// route is the first route matching lset, as the router picks it.
func route(c *Config, lset map[string]string) Route {
	for _, r := range c.Routes {
		if r.Match.Matches(lset) {
			return r
		}
	}
	return Route{}
}

// classify is the kind the first matching classify rule gives, "" for none.
func classify(c *Config, lset map[string]string) alertgate.Kind {
	for _, r := range c.Classify {
		if r.Match.Matches(lset) {
			return r.Kind
		}
	}
	return ""
}

var idRE = regexp.MustCompile(`(?m)^id:\s*(\S+)\s*$`)

// runbookIDs reads the id in the front matter of each runbook in dir.
func runbookIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runbooks in %s: %v", dir, err)
	}
	ids := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := idRE.FindSubmatch(b); m != nil {
			ids[string(m[1])] = true
		}
	}
	return ids
}

// The production example (deploy/) loads and asks for three replicas.
func TestDeployClusterExample(t *testing.T) {
	b, err := os.ReadFile("../deploy/alertgate-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(b, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.NATS.Replicas, 3; got != want {
		t.Fatalf("replicas=%d, want %d", got, want)
	}
	if !strings.Contains(c.NATS.URL, ",") {
		t.Fatalf("nats.url=%q, want every node", c.NATS.URL)
	}
}
