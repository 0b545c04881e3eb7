package sentry

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/ingesttest"
)

// resourceFor maps a testdata file name to the Sentry-Hook-Resource header
// it stands for: the name's prefix (after "invalid_"), "legacy" for the
// legacy plugin.
func resourceFor(name string) string {
	name = strings.TrimPrefix(name, "invalid_")
	for _, r := range []string{"event_alert", "metric_alert", "installation", "comment", "issue", "error", "legacy"} {
		if name == r || strings.HasPrefix(name, r+"_") {
			return r
		}
	}
	return name
}

// parse parses body as the resource a testdata name stands for.
func parse(resource string, body []byte) ([]alertgate.Event, error) {
	if resource == "legacy" {
		return ParseLegacy(body)
	}
	return Parse(resource, body)
}

func TestParseGolden(t *testing.T) {
	ingesttest.Golden(t, "testdata", func(name string, body []byte) ([]alertgate.Event, error) {
		return parse(resourceFor(name), body)
	})
}

// parseFile parses one testdata file and returns its only event.
func parseFile(t *testing.T, name string) alertgate.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return parseOne(t, resourceFor(name), body)
}

// parseOne parses body and returns its only event.
func parseOne(t *testing.T, resource string, body []byte) alertgate.Event {
	t.Helper()
	events, err := parse(resource, body)
	if err != nil {
		t.Fatalf("parse %s: %v", resource, err)
	}
	if got, want := len(events), 1; got != want {
		t.Fatalf("len(events)=%d, want %d", got, want)
	}
	return events[0]
}

// TestSameIssueSameKey checks the identity contract: every payload about one
// Sentry issue gives one bug class.
func TestSameIssueSameKey(t *testing.T) {
	const want = "sentry:v1:issue:1170820242"
	for _, name := range []string{
		"issue_created",          // has url/web_url
		"issue_resolved",         // bare serialized issue, no URLs
		"issue_ignored",          // same
		"issue_archived",         // same, tolerated action name
		"issue_unresolved",       // same, a regression
		"error_created",          // data.error.issue_id
		"legacy_webhooks_plugin", // top-level id, customer-domain URL
	} {
		ev := parseFile(t, name)
		if got := ev.Key; got != want {
			t.Errorf("%s: Key=%q, want %q", name, got, want)
		}
		if got, want := ev.Kind, alertgate.KindBug; got != want {
			t.Errorf("%s: Kind=%q, want %q", name, got, want)
		}
	}

	// The event_alert fixtures are about issue 1117540176: an issue webhook
	// of that issue must give their key.
	created, err := os.ReadFile("testdata/issue_created.json")
	if err != nil {
		t.Fatal(err)
	}
	other := parseOne(t, "issue", bytes.ReplaceAll(created, []byte("1170820242"), []byte("1117540176")))
	for _, name := range []string{"event_alert_triggered", "event_alert_triggered_min", "event_alert_triggered_tags"} {
		if got, want := parseFile(t, name).Key, other.Key; got != want {
			t.Errorf("%s: Key=%q, want the issue webhook's %q", name, got, want)
		}
	}
}

// TestDeliveryIDs checks that IDs are stable for a retried delivery, shared
// by deliveries of one Sentry event, and distinct otherwise.
func TestDeliveryIDs(t *testing.T) {
	id := func(name string) string { return parseFile(t, name).ID }

	// A retry is the same body: the same ID.
	if got, want := id("issue_created"), id("issue_created"); got != want {
		t.Fatalf("retry ID=%q, want %q", got, want)
	}
	// One Sentry event as an error webhook and through the legacy plugin.
	if got, want := id("error_created"), id("legacy_webhooks_plugin"); got != want {
		t.Fatalf("error ID=%q, want the legacy delivery's %q", got, want)
	}
	if got, want := id("event_alert_triggered"), "sentry:event:e4874d664c3540c1a32eab185f12c5ab"; got != want {
		t.Fatalf("event_alert ID=%q, want %q", got, want)
	}
	// Distinct deliveries: every issue transition and metric alert action.
	seen := map[string]string{}
	for _, name := range []string{
		"issue_created", "issue_resolved", "issue_ignored", "issue_archived", "issue_unresolved",
		"metric_alert_critical", "metric_alert_warning", "metric_alert_resolved",
	} {
		ev := parseFile(t, name)
		if prev, ok := seen[ev.ID]; ok {
			t.Errorf("%s and %s share ID %q", prev, name, ev.ID)
		}
		seen[ev.ID] = name
	}
	// Two unresolved deliveries of one issue with a new event in between.
	body, err := os.ReadFile("testdata/issue_unresolved.json")
	if err != nil {
		t.Fatal(err)
	}
	later := bytes.Replace(body, []byte(`"count": "4"`), []byte(`"count": "5"`), 1)
	if got, notWant := parseOne(t, "issue", later).ID, id("issue_unresolved"); got == notWant {
		t.Fatalf("ID after a new event=%q, want a different ID", got)
	}
}

// TestMetricAlertEpisode checks that the actions of one Sentry incident are
// one episode of one incident key.
func TestMetricAlertEpisode(t *testing.T) {
	want := parseFile(t, "metric_alert_critical")
	for _, name := range []string{"metric_alert_warning", "metric_alert_resolved"} {
		ev := parseFile(t, name)
		if got, want := ev.Key, want.Key; got != want {
			t.Errorf("%s: Key=%q, want %q", name, got, want)
		}
		if got, want := ev.Episode, want.Episode; got != want {
			t.Errorf("%s: Episode=%q, want %q", name, got, want)
		}
	}
}

func TestParseBadInput(t *testing.T) {
	issue, err := os.ReadFile("testdata/issue_created.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		resource string
		body     []byte
		want     string // error message
	}{
		// The header is missing.
		{"no resource", "", issue, "Sentry-Hook-Resource: missing"},
		// A resource this package does not know.
		{"unknown resource", "seer", issue, `Sentry-Hook-Resource: "seer" is not one of issue, event_alert, error, metric_alert, installation, comment`},
		// A long header value is clipped in the message.
		{"long resource", strings.Repeat("x", 100), issue, `Sentry-Hook-Resource: "` + strings.Repeat("x", 64) + `…" is not one of issue, event_alert, error, metric_alert, installation, comment`},
		// An empty body.
		{"empty body", "issue", nil, "body: empty"},
		// JSON null decodes to nothing.
		{"null body", "issue", []byte("null"), "action: missing"},
		// An ignored resource still needs a JSON object.
		{"comment not object", "comment", []byte(`"hi"`), "body: want an object, got string"},
		// A wrong action for the resource.
		{"event_alert created", "event_alert", []byte(`{"action":"created"}`), `action: "created" is not triggered`},
		// error without its event.
		{"error no event", "error", []byte(`{"action":"created","data":{}}`), "data.error: missing"},
		// metric_alert without its incident.
		{"metric no incident", "metric_alert", []byte(`{"action":"critical","data":{}}`), "data.metric_alert: missing"},
		// A number where an object is wanted.
		{"metric rule type", "metric_alert", []byte(`{"action":"critical","data":{"metric_alert":{"id":"4","alert_rule":7}}}`), "data.metric_alert.alert_rule: want an object, got number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.resource, tc.body)
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v)", got, want, err)
			}
			if got, want := alertgate.ErrorMessage(err), tc.want; got != want {
				t.Fatalf("message=%q, want %q", got, want)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resource string
		body     string
		key      string
		service  string
	}{
		// Header case and space are forgiven; a numeric issue id is kept as text.
		{"numeric id", " Issue ", `{"action":"created","data":{"issue":{"id":1170820242,"project":{"slug":"front-end"}}}}`,
			"sentry:v1:issue:1170820242", "front-end"},
		// An event whose project is a slug and which has no URLs.
		{"project slug", "event_alert", `{"action":"triggered","data":{"event":{"issue_id":"5","event_id":"ab","project":"api"}}}`,
			"sentry:v1:issue:5", "api"},
		// A metric alert without organization ids falls back to the web_url slug.
		{"metric org from url", "metric_alert", `{"action":"warning","data":{"web_url":"https://acme.sentry.io/alerts/rules/details/7/","metric_alert":{"id":"4","alert_rule":{"id":"7"}}}}`,
			"sentry:v1:acme:metric_alert:7", ""},
		// ... then to the installation.
		{"metric org from installation", "metric_alert", `{"action":"warning","data":{"metric_alert":{"id":"4","alert_rule":{"id":"7"}}},"installation":{"uuid":"a8e5d37a"}}`,
			"sentry:v1:a8e5d37a:metric_alert:7", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := parseOne(t, tc.resource, []byte(tc.body))
			if got, want := ev.Key, tc.key; got != want {
				t.Fatalf("Key=%q, want %q", got, want)
			}
			if got, want := ev.Service, tc.service; got != want {
				t.Fatalf("Service=%q, want %q", got, want)
			}
		})
	}
}

func TestOrgFromURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"https://sentry.io/organizations/test-org/issues/1/", "test-org"},             // web URL
		{"https://sentry.io/api/0/organizations/test-org/issues/1/", "test-org"},       // API issue URL
		{"https://sentry.io/api/0/projects/test-org/front-end/events/ab/", "test-org"}, // API event URL
		{"https://test-org.sentry.io/issues/1/?referrer=webhooks_plugin", "test-org"},  // customer domain
		{"https://us.sentry.io/api/0/issues/1/", ""},                                   // region host
		{"https://sentry.io/api/0/issues/1/", ""},                                      // no organization
		{"https://sentry.example.com/organizations/acme/issues/1/", "acme"},            // self-hosted
		{"https://sentry.example.com/projects/front-end/", ""},                         // web project path: no org
		{"/organizations/acme/", ""},                                                   // relative
		{"javascript:alert(1)", ""},                                                    // not a URL we read
	} {
		if got := orgFromURL(flexString(tc.url)); got != tc.want {
			t.Errorf("orgFromURL(%q)=%q, want %q", tc.url, got, tc.want)
		}
	}
}
