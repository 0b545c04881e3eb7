package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

// relatedOf decodes custom_details.related of a PagerDuty event.
type relatedOf struct {
	On   map[string]string `json:"on"`
	Bugs []struct {
		Key, Title, Status, Link string
		Count                    int
		FirstSeen                time.Time `json:"first_seen"`
	} `json:"bugs"`
	Incidents []struct {
		Key, Title, Source, Link string
		OpenedAt                 time.Time `json:"opened_at"`
	} `json:"incidents"`
}

func pageRelated(t *testing.T, g *harness.Gateway, keyPrefix string) (relatedOf, bool) {
	t.Helper()
	for _, e := range g.PD.Actions("trigger") {
		if !strings.HasPrefix(e.DedupKey, keyPrefix) {
			continue
		}
		raw, ok := e.Payload.CustomDetails["related"]
		if !ok {
			t.Fatalf("page %s has no custom_details.related: %s", e.DedupKey, e.Raw)
		}
		b, _ := json.Marshal(raw)
		var r relatedOf
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r, true
	}
	return relatedOf{}, false
}

func bugTitles(r relatedOf) []string {
	var out []string
	for _, b := range r.Bugs {
		out = append(out, fmt.Sprintf("%s:%s:%d", b.Key, b.Status, b.Count))
	}
	slices.Sort(out)
	return out
}

// oldIssues: two Sentry issues of checkout, one resolved at once.
// recentIssues, 40 minutes later (inside the 30 m window): a new checkout
// issue occurs twice and the resolved one regresses. Each is built when
// posted: Sentry's signature carries the time of sending.
func oldIssues(t *testing.T, clock *harness.Clock) *harness.Script {
	s := harness.NewScript(t)
	s.Now, s.SentryProject = clock.Now, "checkout"
	s.SentryIssue("created", "501", 1) // quiet since: older than the window
	s.SentryIssue("created", "502", 1)
	s.SentryIssue("resolved", "502", 1)
	return s
}

func recentIssues(t *testing.T, clock *harness.Clock) *harness.Script {
	s := harness.NewScript(t)
	s.Now, s.SentryProject = clock.Now, "checkout"
	s.SentryIssue("created", "503", 1)
	s.SentryIssue("unresolved", "503", 2)
	s.SentryIssue("unresolved", "502", 2) // regression
	return s
}

const relatedConfig = harness.DefaultConfig + `
ingest:
  sentry: {client_secret: "` + harness.SentrySecret + `", max_age: 5m}
`

// A page lists the bug classes of its service seen within the window and
// the other open incidents of its service, from every source; a page of
// another service lists none of them.
func TestRelatedSignalsOnPages(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	g := harness.Start(t, harness.Options{Config: relatedConfig, Now: clock.Now})
	oldIssues(t, clock).Post(t, g)
	g.Settle(t)
	clock.FastForward(40 * time.Minute)
	recentIssues(t, clock).Post(t, g)
	g.Settle(t)

	dd := harness.NewScript(t)
	dd.Datadog(4242, 1, "Triggered", 1)
	dd.Post(t, g)
	g.Settle(t)
	clock.FastForward(time.Minute)
	am := harness.NewScript(t)
	am.Alertmanager(harness.AMAlert{Fingerprint: "c0c0c0c0", Status: "firing", StartsAt: clock.Now(), Labels: map[string]string{"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical"}})
	am.Alertmanager(harness.AMAlert{Fingerprint: "5e5e5e5e", Status: "firing", StartsAt: clock.Now(), Labels: map[string]string{"alertname": "SearchSlow", "service": "search", "severity": "critical"}})
	am.Post(t, g)
	g.Settle(t)

	wantBugs := []string{"sentry:v1:issue:502:regression:1", "sentry:v1:issue:503:new:2"}
	ddPage, ok := pageRelated(t, g, "datadog:")
	if !ok {
		t.Fatal("no Datadog page")
	}
	if got := bugTitles(ddPage); !slices.Equal(got, wantBugs) {
		t.Errorf("Datadog page's related bugs %v, want %v (501 is older than the window)", got, wantBugs)
	}
	if ddPage.On["service"] != "checkout" || len(ddPage.Incidents) != 0 {
		t.Errorf("Datadog page (first open incident of checkout): %+v", ddPage)
	}
	for _, b := range ddPage.Bugs {
		if !strings.HasPrefix(b.Link, "https://sentry.io/") || b.FirstSeen.IsZero() || b.Title == "" {
			t.Errorf("related bug without link, title or first seen: %+v", b)
		}
	}

	var amPage, searchPage relatedOf
	for _, e := range g.PD.Actions("trigger") {
		if e.Payload.CustomDetails["labels"] == nil {
			continue
		}
		labels, _ := e.Payload.CustomDetails["labels"].(map[string]any)
		b, _ := json.Marshal(e.Payload.CustomDetails["related"])
		var r relatedOf
		_ = json.Unmarshal(b, &r)
		switch labels["alertname"] {
		case "CheckoutErrors":
			amPage = r
		case "SearchSlow":
			searchPage = r
		}
	}
	if got := bugTitles(amPage); !slices.Equal(got, wantBugs) {
		t.Errorf("Alertmanager page's related bugs %v, want %v", got, wantBugs)
	}
	if len(amPage.Incidents) != 1 || !strings.HasPrefix(amPage.Incidents[0].Key, "datadog:") || amPage.Incidents[0].Source != "datadog" || amPage.Incidents[0].Link == "" {
		t.Errorf("Alertmanager page's related incidents: %+v, want the Datadog monitor", amPage.Incidents)
	}
	if searchPage.On["service"] != "search" || len(searchPage.Bugs)+len(searchPage.Incidents) != 0 {
		t.Errorf("search page lists %+v, want nothing", searchPage)
	}

	// GET /v1/incidents/{key} shows the same for the incident now: its
	// episode, the two bug classes and the Datadog monitor.
	var view struct {
		Incident struct {
			Key      string
			Episodes []struct{ Status string }
		}
		Related relatedOf
	}
	if code := g.Get(t, "/v1/incidents/"+url.PathEscape("alertmanager:v1:c0c0c0c0"), &view); code != http.StatusOK {
		t.Fatalf("GET /v1/incidents/alertmanager:v1:c0c0c0c0: %d", code)
	}
	if view.Incident.Key != "alertmanager:v1:c0c0c0c0" || len(view.Incident.Episodes) != 1 || view.Incident.Episodes[0].Status != "open" {
		t.Errorf("incident %+v, want its open episode", view.Incident)
	}
	if got := bugTitles(view.Related); !slices.Equal(got, wantBugs) {
		t.Errorf("/v1/incidents/{key} related bugs %v, want %v", got, wantBugs)
	}
	if inc := view.Related.Incidents; len(inc) != 1 || !strings.HasPrefix(inc[0].Key, "datadog:v1:4242:") || inc[0].Title != "Monitor 4242" {
		t.Errorf("/v1/incidents/{key} related incidents %+v, want the Datadog monitor", inc)
	}

	// The Datadog monitor recovers: later pages of checkout no longer
	// list it.
	dd2 := harness.NewScript(t)
	dd2.Datadog(4242, 1, "Recovered", 2)
	dd2.Post(t, g)
	g.Settle(t)
	am2 := harness.NewScript(t)
	am2.Alertmanager(harness.AMAlert{Fingerprint: "d1d1d1d1", Status: "firing", StartsAt: clock.Now(), Labels: map[string]string{"alertname": "CheckoutSlow", "service": "checkout", "severity": "critical"}})
	am2.Post(t, g)
	g.Settle(t)
	for _, e := range g.PD.Actions("trigger") {
		if labels, _ := e.Payload.CustomDetails["labels"].(map[string]any); labels["alertname"] == "CheckoutSlow" {
			b, _ := json.Marshal(e.Payload.CustomDetails["related"])
			var r relatedOf
			_ = json.Unmarshal(b, &r)
			if len(r.Incidents) != 1 || !strings.HasPrefix(r.Incidents[0].Key, "alertmanager:") {
				t.Errorf("after the monitor recovered: %+v, want only the Alertmanager incident", r.Incidents)
			}
		}
	}
}

// The related state is shared: bug classes seen by one instance are
// listed on a page decided by the other.
func TestRelatedAcrossInstances(t *testing.T) {
	port := freePort(t)
	pd := harness.NewPagerDuty(t)
	clock := harness.NewClockAt(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	a := harness.Start(t, harness.Options{PD: pd, Now: clock.Now, Config: relatedConfig + fmt.Sprintf("nats:\n  listen: \"127.0.0.1:%d\"\n", port)})
	b := harness.Start(t, harness.Options{PD: pd, Now: clock.Now, Config: relatedConfig + fmt.Sprintf("nats:\n  url: \"nats://127.0.0.1:%d\"\n", port)})
	recentIssues(t, clock).Post(t, a)
	a.Settle(t)
	b.Settle(t)
	// b's view has a's counts once a wrote them (within a second).
	checkout := map[string]string{"service": "checkout"}
	waitFor(t, 10*time.Second, "the bug classes counted by one instance in the other's view", func() bool {
		return len(b.Related.Related(checkout, "", clock.Now()).Bugs) == 2
	})
	ddA := harness.NewScript(t)
	ddA.Datadog(4343, 1, "Triggered", 1)
	ddA.Post(t, a)
	a.Settle(t)
	waitFor(t, 10*time.Second, "the incident opened on one instance in the other's view", func() bool {
		return len(b.Related.Related(checkout, "", clock.Now()).Incidents) == 1
	})
	am := harness.NewScript(t)
	am.Alertmanager(harness.AMAlert{Fingerprint: "c0c0c0c0", Status: "firing", StartsAt: clock.Now(), Labels: map[string]string{"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical"}})
	am.Post(t, b)
	b.Settle(t)
	a.Settle(t)
	r, ok := pageRelated(t, b, "alertmanager:")
	if !ok {
		t.Fatal("no Alertmanager page")
	}
	if got := bugTitles(r); len(got) != 2 || len(r.Incidents) != 1 {
		t.Fatalf("page decided by the second instance lists bugs %v and incidents %+v, want the two classes and the Datadog monitor", got, r.Incidents)
	}
}

// The team's digest lists, after the incidents of checkout, the bug
// classes their pages listed as related, and says a regression of
// checkout came back during the open Datadog monitor.
func TestDigestRelated(t *testing.T) {
	clock := harness.NewClockAt(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	slack := harness.NewSlack(t)
	g := harness.Start(t, harness.Options{Config: digestConfig, Slack: slack, Now: clock.Now})
	bugs := harness.NewScript(t)
	bugs.Now, bugs.SentryProject = clock.Now, "checkout"
	bugs.SentryIssue("created", "502", 1)
	bugs.SentryIssue("resolved", "502", 1)
	bugs.SentryIssue("created", "503", 1)
	bugs.SentryIssue("unresolved", "503", 2)
	bugs.Post(t, g)
	g.Settle(t)
	clock.FastForward(time.Second)
	dd := harness.NewScript(t)
	dd.Now = clock.Now
	dd.Datadog(4242, 1, "Triggered", 1)
	dd.Post(t, g)
	g.Settle(t)
	clock.FastForward(time.Minute)
	again := harness.NewScript(t)
	again.Now, again.SentryProject = clock.Now, "checkout"
	again.SentryIssue("unresolved", "502", 2) // a regression while the monitor is open
	again.Post(t, g)
	g.Settle(t)

	clock.FastForward(15*time.Minute + time.Second)
	waitFor(t, 30*time.Second, "the payments digest", func() bool { return len(slack.Accepted("payments")) == 1 })
	if r := slack.Rejected(); len(r) != 0 {
		t.Fatalf("contract violations: %v", r)
	}
	text := allText(t, slack.Accepted("payments")[0].Body)
	related := regexp.MustCompile(`:beetle: Related bug classes in checkout, last 30m: <[^|>]+\|TypeError in checkout \(issue 503\)> ×2 _new_ · <[^|>]+\|TypeError in checkout \(issue 502\)> ×1 _new_\n`)
	if !related.MatchString(text) {
		t.Errorf("payments digest lacks the related bug classes of Monitor 4242:\n%s", text)
	}
	if i, j := strings.Index(text, "|Monitor 4242>*"), strings.Index(text, ":beetle:"); i < 0 || j < i {
		t.Errorf("related bug classes not after their incident:\n%s", text)
	}
	during := regexp.MustCompile(`\|TypeError in checkout \(issue 502\)>\*\n.* · during <https://app\.datadoghq\.com/[^|>]+\|Monitor 4242> · `)
	if !during.MatchString(text) {
		t.Errorf("the regression of 502 does not say during Monitor 4242:\n%s", text)
	}
	if n := strings.Count(text, "during "); n != 1 {
		t.Errorf("%d items say during, want 1 (the new classes came before the monitor):\n%s", n, text)
	}
}
