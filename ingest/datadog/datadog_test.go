package datadog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/ingesttest"
)

func TestParseGolden(t *testing.T) {
	ingesttest.Golden(t, "testdata", func(_ string, body []byte) ([]alertgate.Event, error) {
		return Parse(body)
	})
}

// load reads testdata/<name>.json and overrides its top-level fields with set.
func load(t *testing.T, name string, set map[string]any) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(set) == 0 {
		return body
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		m[k] = v
	}
	body, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// parseOne parses body and returns its single event.
func parseOne(t *testing.T, body []byte) alertgate.Event {
	t.Helper()
	events, err := Parse(body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := len(events), 1; got != want {
		t.Fatalf("len(events)=%d, want %d", got, want)
	}
	if err := events[0].Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return events[0]
}

func TestIdentity(t *testing.T) {
	triggered := parseOne(t, load(t, "triggered", nil))
	tests := []struct {
		name        string
		body        []byte
		sameKey     bool
		sameEpisode bool
		status      alertgate.Status
	}{
		// Recovered of the same alert cycle closes the episode Triggered opened.
		{"recovered same cycle", load(t, "recovered", nil), true, true, alertgate.StatusResolved},
		// Renotify re-sends the open episode: same episode, so it never pages twice.
		{"renotify", load(t, "renotify", nil), true, true, alertgate.StatusFiring},
		// Re-Triggered within the cycle stays in the episode.
		{"re-triggered", load(t, "re_triggered", nil), true, true, alertgate.StatusFiring},
		// The same scope listed in another order is the same incident.
		{"scope reordered", load(t, "scope_reordered", nil), true, true, alertgate.StatusFiring},
		// A numeric alert_id is the same monitor as the string one.
		{"numeric alert_id", load(t, "numeric_alert_id", nil), true, true, alertgate.StatusFiring},
		// A later cycle of the same monitor and scope is a new episode.
		{"second cycle", load(t, "triggered", map[string]any{
			"id": "7476170000000000001", "alert_cycle_key": "7476170000000000000",
		}), true, false, alertgate.StatusFiring},
		// Another group of a multi-alert monitor is another incident.
		{"other scope", load(t, "triggered", map[string]any{
			"id": "7476170000000000002", "alert_scope": "env:prod,service:cart",
		}), false, false, alertgate.StatusFiring},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := parseOne(t, tt.body)
			if got, want := ev.Key == triggered.Key, tt.sameKey; got != want {
				t.Fatalf("same key=%v, want %v (%q vs %q)", got, want, ev.Key, triggered.Key)
			}
			if got, want := ev.Episode == triggered.Episode, tt.sameEpisode; got != want {
				t.Fatalf("same episode=%v, want %v (%q vs %q)", got, want, ev.Episode, triggered.Episode)
			}
			if got, want := ev.Status, tt.status; got != want {
				t.Fatalf("status=%v, want %v", got, want)
			}
			if got, want := ev.ID == triggered.ID, false; got != want {
				t.Fatalf("same id=%v, want %v: distinct deliveries need distinct ids", got, want)
			}
		})
	}
}

func TestScopeOrderSameKey(t *testing.T) {
	a := parseOne(t, load(t, "triggered", nil))
	b := parseOne(t, load(t, "scope_reordered", nil))
	if got, want := b.Key, a.Key; got != want {
		t.Fatalf("key=%q, want %q", got, want)
	}
	if got, want := b.Episode, a.Episode; got != want {
		t.Fatalf("episode=%q, want %q", got, want)
	}
}

func TestRetryKeepsID(t *testing.T) {
	tests := []struct {
		name string
		file string
	}{
		// With $ID the id is the Datadog event id.
		{"event id", "triggered"},
		// Without $ID the id is a hash of the body, which a retry repeats.
		{"body hash", "unrendered_variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := load(t, tt.file, nil)
			a, b := parseOne(t, body), parseOne(t, body)
			if got, want := b.ID, a.ID; got != want {
				t.Fatalf("id=%q, want %q", got, want)
			}
		})
	}
}

func TestDefaultPayloadEpisode(t *testing.T) {
	triggered := parseOne(t, load(t, "default_template_delivery", nil))
	recovered := parseOne(t, load(t, "default_recovered", nil))
	if got, want := recovered.Key, triggered.Key; got != want {
		t.Fatalf("key=%q, want %q", got, want)
	}
	// The default payload has no cycle key: one episode per monitor and scope.
	if got, want := recovered.Episode, triggered.Episode; got != want {
		t.Fatalf("episode=%q, want %q", got, want)
	}
	if got, want := triggered.Episode, triggered.Key+":"+noCycleEpisode; got != want {
		t.Fatalf("episode=%q, want %q", got, want)
	}
	if got, want := recovered.Status, alertgate.StatusResolved; got != want {
		t.Fatalf("status=%v, want %v", got, want)
	}
	// The template and the default payload of one monitor share the key.
	tmpl := parseOne(t, load(t, "triggered", map[string]any{
		"alert_id": "18692904", "alert_scope": "",
		"alert_title": "[Triggered] Host Cluster Alert", "title": "[Triggered] Host Cluster Alert",
	}))
	if got, want := tmpl.Key, triggered.Key; got != want {
		t.Fatalf("template key=%q, want %q", got, want)
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		name  string
		body  []byte
		check func(t *testing.T, ev alertgate.Event)
	}{
		// Warn is at most a warning even on a P1 monitor.
		{"warn caps severity", load(t, "warn", map[string]any{"alert_priority": "P1"}), func(t *testing.T, ev alertgate.Event) {
			if got, want := ev.Severity, alertgate.SeverityWarning; got != want {
				t.Fatalf("severity=%v, want %v", got, want)
			}
		}},
		// Without a priority the alert type gives the severity.
		{"alert_type severity", load(t, "triggered", map[string]any{"alert_priority": "", "alert_type": "warning"}), func(t *testing.T, ev alertgate.Event) {
			if got, want := ev.Severity, alertgate.SeverityWarning; got != want {
				t.Fatalf("severity=%v, want %v", got, want)
			}
		}},
		// P4 and P5 are info.
		{"p5 info", load(t, "triggered", map[string]any{"alert_priority": "P5"}), func(t *testing.T, ev alertgate.Event) {
			if got, want := ev.Severity, alertgate.SeverityInfo; got != want {
				t.Fatalf("severity=%v, want %v", got, want)
			}
			if got, want := ev.Labels["priority"], "p5"; got != want {
				t.Fatalf("priority label=%q, want %q", got, want)
			}
		}},
		// Error-tracking monitors are bug classes without an episode.
		{"error tracking is a bug", load(t, "error_tracking_alert", nil), func(t *testing.T, ev alertgate.Event) {
			if got, want := ev.Kind, alertgate.KindBug; got != want {
				t.Fatalf("kind=%v, want %v", got, want)
			}
			if got, want := ev.Episode, ""; got != want {
				t.Fatalf("episode=%q, want %q", got, want)
			}
		}},
		// A link on the EU site gives a monitor link on the EU site.
		{"eu monitor link", load(t, "eu_site", nil), func(t *testing.T, ev alertgate.Event) {
			found := false
			for _, l := range ev.Links {
				if strings.Contains(l.Href, "datadoghq.com") {
					t.Fatalf("link %q on the US site for an EU delivery", l.Href)
				}
				found = found || l.Href == "https://app.datadoghq.eu/monitors/2207731"
			}
			if got, want := found, true; got != want {
				t.Fatalf("EU monitor link found=%v, want %v (links %v)", got, want, ev.Links)
			}
		}},
		// A link that is not on a Datadog site gives no monitor link.
		{"foreign link no monitor link", load(t, "triggered", map[string]any{"link": "https://example.com/event/1", "body": ""}), func(t *testing.T, ev alertgate.Event) {
			for _, l := range ev.Links {
				if strings.Contains(l.Href, "/monitors/") {
					t.Fatalf("monitor link %q derived from a non-Datadog link", l.Href)
				}
			}
		}},
		// Unsafe link schemes are dropped.
		{"javascript link dropped", load(t, "triggered", map[string]any{"link": "javascript:alert(1)", "snapshot": "http://p.datadoghq.com/x.png"}), func(t *testing.T, ev alertgate.Event) {
			for _, l := range ev.Links {
				if !strings.HasPrefix(l.Href, "https://") {
					t.Fatalf("link %q kept, want https only", l.Href)
				}
			}
		}},
		// Seconds and milliseconds are told apart by magnitude.
		{"date in seconds", load(t, "triggered", map[string]any{"date": 1773480413}), func(t *testing.T, ev alertgate.Event) {
			if got, want := ev.OccurredAt, time.Unix(1773480413, 0).UTC(); !got.Equal(want) {
				t.Fatalf("occurred_at=%v, want %v", got, want)
			}
		}},
		// The scope's tags override the monitor's tags of the same name.
		{"scope overrides tags", load(t, "triggered", map[string]any{"tags": "env:staging,service:checkout", "alert_scope": "env:prod"}), func(t *testing.T, ev alertgate.Event) {
			if got, want := ev.Labels["env"], "prod"; got != want {
				t.Fatalf("env=%q, want %q", got, want)
			}
			if got, want := ev.Service, "checkout"; got != want {
				t.Fatalf("service=%q, want %q", got, want)
			}
		}},
		// A bare tag carries no value and makes no label.
		{"bare tag skipped", load(t, "triggered", nil), func(t *testing.T, ev alertgate.Event) {
			if _, ok := ev.Labels["monitor"]; ok {
				t.Fatalf("label monitor set from a bare tag")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, parseOne(t, tt.body))
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		field string // the message names it
	}{
		// Empty body.
		{"empty", "", "body"},
		// A JSON number is not an object.
		{"number", "42", "body"},
		// Truncated JSON.
		{"truncated", `{"alert_id": "1"`, "body"},
		// An object where a string belongs.
		{"object for a string", `{"alert_id": "1", "alert_transition": "Triggered", "alert_title": {"x": 1}}`, "alert_title"},
		// A string where the org object belongs.
		{"string for org", `{"alert_id": "1", "alert_transition": "Triggered", "org": "Example"}`, "org: want an object"},
		// A nested field is named by its path.
		{"object for org.id", `{"alert_id": "1", "alert_transition": "Triggered", "org": {"id": [1]}}`, "org.id: want a string or a number, got array"},
		// An unknown transition is named.
		{"unknown transition", `{"alert_id": "1", "alert_transition": "Exploded"}`, "alert_transition"},
		// Nothing to tell the monitor by.
		{"nothing", `{}`, "payload template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body))
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v)", got, want, err)
			}
			if msg := alertgate.ErrorMessage(err); !strings.Contains(msg, tt.field) {
				t.Fatalf("message %q does not name %q", msg, tt.field)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		body, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := Parse(body)
		if err != nil {
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v)", got, want, err)
			}
			return
		}
		if got, want := len(events), 1; got != want {
			t.Fatalf("len(events)=%d, want %d", got, want)
		}
		if err := events[0].Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	})
}

// A tag name over the label-name limit is a 400 naming it (a monitor id
// is at most 20 digits already).
func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"tag name", `{"alert_id": "1", "alert_transition": "Triggered", "tags": "` + strings.Repeat("t", 2000) + `:v"}`,
			`labels: the name "tttttttttttttttttttttttttttttttt"… is 2000 bytes, over the 1024-byte limit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v)", got, want, err)
			}
			if got := alertgate.ErrorMessage(err); got != tc.want {
				t.Fatalf("message=%q, want %q", got, tc.want)
			}
		})
	}
}
