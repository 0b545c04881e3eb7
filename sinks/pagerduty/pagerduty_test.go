package pagerduty_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/backoff"
	"github.com/alertgate/alertgate/internal/contract"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/runbooks"
	"github.com/alertgate/alertgate/sinks"
	"github.com/alertgate/alertgate/sinks/pagerduty"
)

const (
	paymentsKey = "e93facc04764012d7bfb002500d5d1a6"
	platformKey = "0123456789abcdef0123456789abcdef"
	publicURL   = "https://alertgate.example.com"
)

var keys = map[string]string{"payments": paymentsKey, "platform": platformKey, "sandbox": ""}

// answer is how the fake PagerDuty answers a valid body.
type answer struct {
	status     int
	retryAfter string
	body       string // JSON unless plain is set
	plain      bool
}

// fakePagerDuty is a loopback Events API v2. It validates every body
// against the published contract and answers 400 with PagerDuty's error
// JSON when it is invalid, else with answerFor's answer (202 by default).
type fakePagerDuty struct {
	*httptest.Server
	answerFor func(body map[string]any) answer

	mu      sync.Mutex
	bodies  [][]byte
	invalid []error
}

func newFakePagerDuty(t *testing.T) *fakePagerDuty {
	t.Helper()
	f := &fakePagerDuty{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	// Every body this package sends must be valid; a test expecting an
	// invalid one takes it out of f.invalid.
	t.Cleanup(func() {
		if invalid := f.takeInvalid(); len(invalid) > 0 {
			t.Errorf("bodies against the contract: %v", invalid)
		}
	})
	return f
}

func (f *fakePagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/enqueue" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err := contract.PagerDuty(body); err != nil {
		f.mu.Lock()
		f.invalid = append(f.invalid, err)
		f.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{err.Error()}})
		return
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	a := answer{status: http.StatusAccepted}
	if f.answerFor != nil {
		a = f.answerFor(m)
	}
	if a.status == http.StatusAccepted && a.body == "" {
		a.body = fmt.Sprintf(`{"status":"success","message":"Event processed","dedup_key":%q}`, m["dedup_key"])
	}
	if a.plain {
		w.Header().Set("Content-Type", "text/plain")
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// takeInvalid returns the contract violations seen so far and forgets them.
func (f *fakePagerDuty) takeInvalid() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.invalid
	f.invalid = nil
	return out
}

// last returns the last body received, decoded.
func (f *fakePagerDuty) last(t *testing.T) map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		t.Fatal("PagerDuty received nothing")
	}
	var m map[string]any
	if err := json.Unmarshal(f.bodies[len(f.bodies)-1], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fakePagerDuty) received() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func (f *fakePagerDuty) notifier() *pagerduty.Notifier {
	return pagerduty.New(f.URL, keys, 6000, publicURL, f.Client())
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(contract.Dir(), "..", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var runbook = &alertgate.Runbook{
	ID: "checkout-high-error-rate", Title: "Checkout high error rate",
	URL: publicURL + "/runbooks/checkout-high-error-rate",
	Why: "route",
}

// steps are runbook's steps in the runbooks loaded where pages are sent.
const steps = "1. Check the last deploy.\n2. Roll back if the error rate rose with it."

// loadedRunbooks are the runbooks of a test's notifier: steps by id.
type loadedRunbooks map[string]string

func (l loadedRunbooks) Steps(id string) (string, bool) {
	s, ok := l[id]
	return s, ok
}

func page(mod ...func(*alertgate.Notification)) alertgate.Notification {
	n := alertgate.Notification{
		ID: "page:alertmanager:v1:abc:ep1:1", Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage,
		Key: "alertmanager:v1:abc", Episode: "ep1", DedupKey: "alertmanager:v1:abc/0123456789abcdef",
		Runbook: runbook, Reason: "new firing episode",
		Event: alertgate.Event{
			ID: "ev1", Source: alertgate.SourceAlertmanager, Kind: alertgate.KindIncident,
			Key: "alertmanager:v1:abc", Episode: "ep1", Status: alertgate.StatusFiring, Severity: alertgate.SeverityCritical,
			Title: "High error rate", Description: "5xx above 5% for 10m", Service: "checkout",
			Labels:     map[string]string{"alertname": "HighErrorRate", "service": "checkout"},
			Links:      []alertgate.Link{{Href: "https://grafana.example.com/d/checkout", Text: "Dashboard"}},
			OccurredAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		},
	}
	for _, f := range mod {
		f(&n)
	}
	return n
}

// get walks a decoded JSON body along path ("payload.summary").
func get(m map[string]any, path string) any {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[p]
	}
	return v
}

func str(m map[string]any, path string) string {
	s, _ := get(m, path).(string)
	return s
}

func links(m map[string]any) []string {
	var out []string
	ls, _ := m["links"].([]any)
	for _, l := range ls {
		o, _ := l.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v", o["href"], o["text"]))
	}
	return out
}

func TestTrigger(t *testing.T) {
	pd := newFakePagerDuty(t)
	n := pd.notifier()
	// The runbooks loaded where the page is sent.
	n.Runbooks = loadedRunbooks{runbook.ID: steps, "checkout-latency": "steps as loaded now"}
	huge := strings.Repeat("🔥", 2000) // 8000 bytes
	for _, tc := range []struct {
		name  string
		note  alertgate.Notification
		check func(t *testing.T, body map[string]any)
	}{
		{
			// A page with a runbook: every field PagerDuty shows, the
			// runbook as a link and its steps in custom_details.
			name: "with runbook",
			note: page(),
			check: func(t *testing.T, b map[string]any) {
				for _, c := range []struct{ path, want string }{
					{"routing_key", paymentsKey},
					{"event_action", "trigger"},
					{"dedup_key", "alertmanager:v1:abc/0123456789abcdef"},
					{"client", "alertgate"},
					{"client_url", publicURL + "/v1/explain?source=alertmanager&key=alertmanager%3Av1%3Aabc"},
					{"payload.summary", "[checkout] High error rate"},
					{"payload.source", "checkout"},
					{"payload.severity", "critical"},
					{"payload.timestamp", "2026-03-01T12:00:00Z"},
					{"payload.component", "HighErrorRate"},
					{"payload.group", "checkout"},
					{"payload.class", "incident"},
					{"payload.custom_details.runbook", steps},
					{"payload.custom_details.runbook_url", runbook.URL},
					{"payload.custom_details.alertgate_key", "alertmanager:v1:abc"},
					{"payload.custom_details.episode", "ep1"},
					{"payload.custom_details.description", "5xx above 5% for 10m"},
					{"payload.custom_details.reason", "new firing episode"},
				} {
					if got, want := str(b, c.path), c.want; got != want {
						t.Errorf("%s=%q, want %q", c.path, got, want)
					}
				}
				if got, want := strings.Join(links(b), "\n"), runbook.URL+" Runbook: "+runbook.Title+"\nhttps://grafana.example.com/d/checkout Dashboard"; got != want {
					t.Errorf("links=\n%s\nwant\n%s", got, want)
				}
			},
		},
		{
			// A huge emoji title: the summary is cut to 1024 bytes at a rune
			// boundary and marked, and the body stays valid.
			name: "huge emoji title",
			note: page(func(n *alertgate.Notification) { n.Event.Title = huge }),
			check: func(t *testing.T, b map[string]any) {
				s := str(b, "payload.summary")
				if got, want := len(s) <= 1024, true; got != want {
					t.Fatalf("len(summary)=%d, want ≤1024", len(s))
				}
				if got, want := utf8.ValidString(s), true; got != want {
					t.Fatalf("summary is not valid UTF-8")
				}
				cut, marked := strings.CutSuffix(s, "…")
				if got, want := marked, true; got != want {
					t.Fatalf("summary %q… does not end with the cut mark", s[:40])
				}
				if got, want := strings.HasPrefix("[checkout] "+huge, cut), true; got != want {
					t.Fatalf("summary is not a prefix of the title")
				}
				if got, want := len(cut) > 1024-4-3, true; got != want {
					t.Fatalf("len(summary)=%d: cut more than a rune short of the limit", len(cut))
				}
			},
		},
		{
			// A source's runbook annotation that is not a URL (Alertmanager's
			// "runbook" is often plain text): not a link, or PagerDuty would
			// reject the page; kept in custom_details.
			name: "runbook not a URL",
			note: page(func(n *alertgate.Notification) {
				n.Runbook = &alertgate.Runbook{URL: "restart the checkout pods", Why: "source"}
			}),
			check: func(t *testing.T, b map[string]any) {
				if got, want := strings.Join(links(b), "\n"), "https://grafana.example.com/d/checkout Dashboard"; got != want {
					t.Errorf("links=\n%s\nwant\n%s", got, want)
				}
				if got, want := str(b, "payload.custom_details.runbook_url"), "restart the checkout pods"; got != want {
					t.Errorf("runbook_url=%q, want %q", got, want)
				}
			},
		},
		{
			// No runbook: the page says so, so someone adds one.
			name: "no runbook",
			note: page(func(n *alertgate.Notification) { n.Runbook = nil }),
			check: func(t *testing.T, b map[string]any) {
				if got, want := strings.HasPrefix(str(b, "payload.custom_details.runbook"), "none"), true; got != want {
					t.Errorf("custom_details.runbook=%q, want it to start with none", str(b, "payload.custom_details.runbook"))
				}
				if got, want := strings.Join(links(b), "\n"), "https://grafana.example.com/d/checkout Dashboard"; got != want {
					t.Errorf("links=%v, want only the event's", got)
				}
			},
		},
		{
			// Event links that are not absolute http(s) URLs are dropped.
			name: "bad event links",
			note: page(func(n *alertgate.Notification) {
				n.Event.Links = []alertgate.Link{{Href: "/d/relative"}, {Href: "javascript:alert(1)"}, {Href: "https://"}, {Href: "https://sentry.io/issues/1/", Text: "Sentry"}}
			}),
			check: func(t *testing.T, b map[string]any) {
				if got, want := strings.Join(links(b), "\n"), runbook.URL+" Runbook: "+runbook.Title+"\nhttps://sentry.io/issues/1/ Sentry"; got != want {
					t.Errorf("links=\n%s\nwant\n%s", got, want)
				}
			},
		},
		{
			// No title and no service: the key is the summary, the source
			// tool the source.
			name: "no title",
			note: page(func(n *alertgate.Notification) { n.Event.Title, n.Event.Service = "", "" }),
			check: func(t *testing.T, b map[string]any) {
				if got, want := str(b, "payload.summary"), "alertmanager:v1:abc"; got != want {
					t.Errorf("summary=%q, want %q", got, want)
				}
				if got, want := str(b, "payload.source"), "alertmanager"; got != want {
					t.Errorf("source=%q, want %q", got, want)
				}
			},
		},
		{
			// The notification names its runbook; the steps are those of
			// that id in the runbooks loaded when the page is sent.
			name: "runbook steps read by id",
			note: page(func(n *alertgate.Notification) {
				n.Runbook = &alertgate.Runbook{ID: "checkout-latency", Title: "Checkout latency", URL: publicURL + "/runbooks/checkout-latency", Why: "match"}
			}),
			check: func(t *testing.T, b map[string]any) {
				if got, want := str(b, "payload.custom_details.runbook"), "steps as loaded now"; got != want {
					t.Errorf("custom_details.runbook=%q, want %q", got, want)
				}
				if got, want := str(b, "payload.custom_details.runbook_url"), publicURL+"/runbooks/checkout-latency"; got != want {
					t.Errorf("custom_details.runbook_url=%q, want %q", got, want)
				}
			},
		},
		{
			// A runbook removed since the decision: the page still links
			// it and says why its steps are missing.
			name: "runbook no longer loaded",
			note: page(func(n *alertgate.Notification) {
				n.Runbook = &alertgate.Runbook{ID: "retired", Title: "Retired", URL: publicURL + "/runbooks/retired", Why: "route"}
			}),
			check: func(t *testing.T, b map[string]any) {
				if got, want := str(b, "payload.custom_details.runbook"), "runbook retired is no longer loaded here: see runbook_url"; got != want {
					t.Errorf("custom_details.runbook=%q, want %q", got, want)
				}
				if got, want := str(b, "payload.custom_details.runbook_url"), publicURL+"/runbooks/retired"; got != want {
					t.Errorf("custom_details.runbook_url=%q, want %q", got, want)
				}
			},
		},
		{
			// Another team pages with its own routing key.
			name: "other team",
			note: page(func(n *alertgate.Notification) { n.Team = "platform" }),
			check: func(t *testing.T, b map[string]any) {
				if got, want := str(b, "routing_key"), platformKey; got != want {
					t.Errorf("routing_key=%q, want %q", got, want)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := n.Notify(t.Context(), tc.note)
			if err != nil {
				t.Fatalf("Notify: retry=%v, %v", retry, err)
			}
			tc.check(t, pd.last(t))
		})
	}
}

// Without runbooks loaded (no runbooks_dir: a nil *runbooks.Set, or no
// Runbooks at all), a page naming a runbook still goes out, linking it and
// saying why its steps are missing.
func TestTriggerWithoutRunbooks(t *testing.T) {
	pd := newFakePagerDuty(t)
	for _, tc := range []struct {
		name string
		set  pagerduty.Runbooks
	}{
		{"nil Runbooks", nil},
		{"nil set", (*runbooks.Set)(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := pd.notifier()
			n.Runbooks = tc.set
			if retry, err := n.Notify(t.Context(), page()); err != nil {
				t.Fatalf("Notify: retry=%v, %v", retry, err)
			}
			b := pd.last(t)
			if got, want := str(b, "payload.custom_details.runbook"), "runbook "+runbook.ID+" is no longer loaded here: see runbook_url"; got != want {
				t.Errorf("custom_details.runbook=%q, want %q", got, want)
			}
			if got, want := str(b, "payload.custom_details.runbook_url"), runbook.URL; got != want {
				t.Errorf("custom_details.runbook_url=%q, want %q", got, want)
			}
		})
	}
}

// A resolve carries the routing key, the action and the page's dedup key,
// nothing else.
func TestResolve(t *testing.T) {
	pd := newFakePagerDuty(t)
	note := page(func(n *alertgate.Notification) {
		n.Type, n.ID = alertgate.TypeResolve, "resolve:alertmanager:v1:abc:ep1:1"
	})
	if retry, err := pd.notifier().Notify(t.Context(), note); err != nil {
		t.Fatalf("Notify: retry=%v, %v", retry, err)
	}
	b := pd.last(t)
	var fields []string
	for k := range b {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	if got, want := strings.Join(fields, ","), "dedup_key,event_action,routing_key"; got != want {
		t.Fatalf("fields=%v, want %v", got, want)
	}
	for _, c := range []struct{ path, want string }{
		{"routing_key", paymentsKey},
		{"event_action", "resolve"},
		{"dedup_key", note.DedupKey},
	} {
		if got, want := str(b, c.path), c.want; got != want {
			t.Errorf("%s=%q, want %q", c.path, got, want)
		}
	}
}

func TestNotifyAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answer     answer
		closed     bool // the server is gone: a network error
		note       alertgate.Notification
		retry      bool
		status     int           // of the *sinks.HTTPError; 0 = none
		errText    string        // the error contains it
		retryAfter time.Duration // the error's RetryAfter
	}{
		// Accepted.
		{name: "202", answer: answer{status: 202}, note: page()},
		// PagerDuty rejects the event: permanent, with its reason.
		{name: "400", answer: answer{status: 400, body: fixture(t, "pagerduty_response_400.json")}, note: page(),
			status: 400, errText: "HTTP 400: Event object format is unrecognized: JSON parse error"},
		// Throttled: retry, after the Retry-After.
		{name: "429", answer: answer{status: 429, retryAfter: "7", body: `{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}`}, note: page(),
			retry: true, status: 429, errText: "arriving too quickly", retryAfter: 7 * time.Second},
		// Server trouble (a plain-text body): retry.
		{name: "500", answer: answer{status: 500, body: "Internal Server Error", plain: true}, note: page(),
			retry: true, status: 500, errText: "HTTP 500"},
		// Unavailable, with a Retry-After in seconds.
		{name: "503", answer: answer{status: 503, retryAfter: "3", plain: true}, note: page(),
			retry: true, status: 503, retryAfter: 3 * time.Second},
		// A wrong events_url: 404 will not get better.
		{name: "404", answer: answer{status: 404, plain: true, body: "not found"}, note: page(),
			status: 404},
		// The network fails: retry.
		{name: "network error", closed: true, note: page(), retry: true, errText: "error calling the API endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := newFakePagerDuty(t)
			pd.answerFor = func(map[string]any) answer { return tc.answer }
			n := pd.notifier()
			if tc.closed {
				pd.Close()
			}
			retry, err := n.Notify(t.Context(), tc.note)
			if got, want := retry, tc.retry; got != want {
				t.Fatalf("retry=%v, want %v (err %v)", got, want, err)
			}
			if got, want := err == nil, tc.name == "202"; got != want {
				t.Fatalf("err=%v, want error=%v", err, !want)
			}
			if err == nil {
				return
			}
			if got, want := strings.Contains(err.Error(), tc.errText), true; got != want {
				t.Fatalf("err=%q, want it to contain %q", err, tc.errText)
			}
			if got, want := strings.Contains(err.Error(), paymentsKey[:8]), false; got != want {
				t.Fatalf("err=%q contains the routing key", err)
			}
			var herr *sinks.HTTPError
			if got, want := errors.As(err, &herr), tc.status != 0; got != want {
				t.Fatalf("err is an HTTPError: %v, want %v (%v)", got, want, err)
			}
			if herr != nil {
				if got, want := herr.Status, tc.status; got != want {
					t.Fatalf("Status=%v, want %v", got, want)
				}
			}
			var ra sinks.RetryAfter
			if errors.As(err, &ra) {
				if got, want := ra.RetryAfter(), tc.retryAfter; got != want {
					t.Fatalf("RetryAfter()=%v, want %v", got, want)
				}
			} else if tc.retryAfter != 0 {
				t.Fatalf("err %v does not implement sinks.RetryAfter", err)
			}
		})
	}
}

// Concurrent requests through one notifier each get their own answer's
// Retry-After and error text, never another request's.
func TestNotifyConcurrentAnswersStayApart(t *testing.T) {
	pd := newFakePagerDuty(t)
	pd.answerFor = func(body map[string]any) answer {
		dk, _ := body["dedup_key"].(string)
		var i int
		_, _ = fmt.Sscanf(dk, "dk-%d", &i)
		if i%2 == 0 {
			return answer{status: 429, retryAfter: fmt.Sprint(i + 1), body: fmt.Sprintf(`{"status":"throttle event","message":"slow down %d"}`, i)}
		}
		return answer{status: 400, body: fmt.Sprintf(`{"status":"invalid event","message":"bad %d"}`, i)}
	}
	n := pd.notifier()
	const requests = 20
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			_, errs[i] = n.Notify(t.Context(), page(func(n *alertgate.Notification) { n.DedupKey = fmt.Sprintf("dk-%d", i) }))
		})
	}
	wg.Wait()
	for i, err := range errs {
		var herr *sinks.HTTPError
		if !errors.As(err, &herr) {
			t.Fatalf("request %d: err=%v, want an HTTPError", i, err)
		}
		wantStatus, wantText, wantAfter := 400, fmt.Sprintf("bad %d", i), time.Duration(0)
		if i%2 == 0 {
			wantStatus, wantText, wantAfter = 429, fmt.Sprintf("slow down %d", i), time.Duration(i+1)*time.Second
		}
		if herr.Status != wantStatus || herr.After != wantAfter || herr.Body != wantText {
			t.Errorf("request %d: status=%d after=%v body=%q, want %d %v %q", i, herr.Status, herr.After, herr.Body, wantStatus, wantAfter, wantText)
		}
	}
}

// A body against the contract comes back as a permanent failure carrying
// PagerDuty's reason. (The notifier never builds one today; a severity
// outside the enum is the simplest way to get one.)
func TestNotifyInvalidBody(t *testing.T) {
	pd := newFakePagerDuty(t)
	retry, err := pd.notifier().Notify(t.Context(), page(func(n *alertgate.Notification) { n.Event.Severity = "fatal" }))
	if got, want := retry, false; got != want {
		t.Fatalf("retry=%v, want %v", got, want)
	}
	if got, want := fmt.Sprint(err), "HTTP 400: Event object is invalid: "; !strings.HasPrefix(got, want) {
		t.Fatalf("err=%q, want it to start with %q", got, want)
	}
	if got, want := len(pd.takeInvalid()), 1; got != want {
		t.Fatalf("invalid bodies=%v, want %v", got, want)
	}
}

// Notifications PagerDuty cannot take fail permanently without a request.
func TestNotifyNotSendable(t *testing.T) {
	pd := newFakePagerDuty(t)
	n := pd.notifier()
	for _, tc := range []struct {
		name string
		note alertgate.Notification
	}{
		// A trigger needs a dedup key to be resolved later.
		{name: "no dedup key", note: page(func(n *alertgate.Notification) { n.DedupKey = "" })},
		// A digest item is Slack's.
		{name: "digest item", note: page(func(n *alertgate.Notification) { n.Type = alertgate.TypeBugNew })},
		// A team without a routing key (the worker dry-runs it first).
		{name: "no routing key", note: page(func(n *alertgate.Notification) { n.Team = "sandbox" })},
		// A team PagerDuty does not know at all.
		{name: "unknown team", note: page(func(n *alertgate.Notification) { n.Team = "nobody" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retry, err := n.Notify(t.Context(), tc.note)
			if got, want := retry, false; got != want || err == nil {
				t.Fatalf("retry=%v err=%v, want %v and an error", got, err, want)
			}
		})
	}
	if got, want := pd.received(), 0; got != want {
		t.Fatalf("requests=%v, want %v", got, want)
	}
}

func TestEnabled(t *testing.T) {
	n := pagerduty.New("http://127.0.0.1:1", keys, 0, publicURL, nil)
	for _, tc := range []struct {
		team string
		want bool
	}{
		// A team with a routing key pages.
		{"payments", true},
		{"platform", true},
		// An empty key means dry-run.
		{"sandbox", false},
		// A team not in the config.
		{"nobody", false},
	} {
		if got, want := n.Enabled(tc.team), tc.want; got != want {
			t.Errorf("Enabled(%q)=%v, want %v", tc.team, got, want)
		}
	}
	if got, want := strings.Join(n.Teams(), ","), "payments,platform"; got != want {
		t.Fatalf("Teams()=%v, want %v", got, want)
	}
}

// The rate limit is per routing key: one team's storm does not hold back
// another team's page.
func TestRateLimitPerKey(t *testing.T) {
	pd := newFakePagerDuty(t)
	n := pagerduty.New(pd.URL, keys, 1, publicURL, pd.Client()) // 1 a minute, burst 1
	if got := n.Reserve(page()); got != 0 {
		t.Fatalf("first turn in %v, want now", got)
	}
	// The second page of the minute waits most of a minute.
	if got := n.Reserve(page()); got < 50*time.Second || got > time.Minute {
		t.Fatalf("second turn in %v, want about a minute", got)
	}
	// Another routing key is not held back.
	if got := n.Reserve(page(func(n *alertgate.Notification) { n.Team = "platform" })); got != 0 {
		t.Fatalf("other key's turn in %v, want now", got)
	}
	// A team without a key has no turn to wait for.
	if got := n.Reserve(page(func(n *alertgate.Notification) { n.Team = "nobody" })); got != 0 {
		t.Fatalf("keyless team's turn in %v, want 0", got)
	}
}

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The routing key is a secret: it must appear in no error, log line,
// notification log record or dead letter, even when PagerDuty echoes the
// request back in its error. Runs the real Worker over JetStream.
func TestRoutingKeyNeverLeaks(t *testing.T) {
	ctx := t.Context()
	pd := newFakePagerDuty(t)
	var mu sync.Mutex
	seen := map[string]int{}
	pd.answerFor = func(body map[string]any) answer {
		mu.Lock()
		defer mu.Unlock()
		dk, _ := body["dedup_key"].(string)
		seen[dk]++
		raw, _ := json.Marshal(body)
		switch {
		case dk == "echo":
			// A careless 400 that quotes the request, key included.
			return answer{status: 400, body: fmt.Sprintf(`{"status":"invalid event","message":"Event object is invalid","errors":[%q]}`, raw)}
		case dk == "flaky" && seen[dk] == 1:
			return answer{status: 500, body: fmt.Sprintf(`{"status":"error","message":"failed: %s"}`, body["routing_key"])}
		}
		return answer{status: 202}
	}

	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := bus.Open(bctx, bus.Options{DataDir: t.TempDir()}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	w := &sinks.Worker{
		Sink: alertgate.SinkPagerDuty, Notifier: pd.notifier(), Bus: b,
		Log: &sinks.Log{KV: b.Notifications, Logger: logger}, Logger: logger, Metrics: metrics.New(),
		Attempts: 3, Timeout: 5 * time.Second, Now: time.Now,
		Backoff: backoff.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
	echo := page(func(n *alertgate.Notification) { n.ID, n.DedupKey = "page:echo", "echo" })
	flaky := page(func(n *alertgate.Notification) { n.ID, n.DedupKey = "page:flaky", "flaky" })
	if _, err := b.PublishNotifications(ctx, []alertgate.Notification{echo, flaky}); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	want := map[string]alertgate.DeliveryState{echo.ID: alertgate.StateDead, flaky.ID: alertgate.StateSent}
	records := map[string]alertgate.Record{}
	for deadline := time.Now().Add(10 * time.Second); ; {
		done := true
		for id, state := range want {
			r, _ := w.Log.Get(ctx, id)
			records[id] = r
			done = done && r.State == state
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records=%+v, want states %v", records, want)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing an assertion
	}

	// The key did go to PagerDuty, and PagerDuty did send it back.
	if got, want := pd.received(), 3; got != want {
		t.Fatalf("requests=%v, want %v", got, want)
	}
	dl, err := b.DeadLetter.GetLastMsgForSubject(ctx, bus.SubjectDeadLetter+".pagerduty.payments")
	if err != nil {
		t.Fatal(err)
	}
	reason := dl.Header.Get(bus.HeaderError)
	if got, want := strings.HasPrefix(reason, "HTTP 400: Event object is invalid: "), true; got != want {
		t.Fatalf("dead-letter reason=%q, want PagerDuty's", reason)
	}
	for what, text := range map[string]string{
		"logs":                logs.String(),
		"dead-letter reason":  reason,
		"echo record error":   records[echo.ID].LastError,
		"flaky record (sent)": fmt.Sprint(records[flaky.ID]),
		"dead-letter headers": fmt.Sprint(dl.Header),
		"dead-letter body":    string(dl.Data),
	} {
		// Not even part of it (a cut error text could keep a prefix).
		if strings.Contains(text, paymentsKey[:8]) {
			t.Errorf("%s contain (part of) the routing key:\n%s", what, text)
		}
	}
	if got, want := strings.Contains(logs.String(), "will retry"), true; got != want {
		t.Fatalf("no retry was logged:\n%s", logs.String())
	}
	if got, want := strings.Contains(logs.String(), "[routing key]"), true; got != want {
		t.Fatalf("the echoed key was not visibly redacted in the logs:\n%s", logs.String())
	}
}

// correlator answers with the related signals of one service and records
// what it was asked.
type correlator struct {
	labels  map[string]string
	exclude string
	at      time.Time
}

func (c *correlator) Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related {
	c.labels, c.exclude, c.at = labels, exclude, at
	if labels["service"] == "" {
		return nil
	}
	return &alertgate.Related{On: map[string]string{"service": labels["service"]}, Window: "30m0s",
		Bugs:      []alertgate.RelatedBug{{Key: "sentry:v1:issue:9", Title: "TypeError", Source: alertgate.SourceSentry, Count: 4, Status: alertgate.RelatedNew}},
		Incidents: []alertgate.RelatedIncident{}}
}

// A page carries the related signals as of its decision, read when it is
// sent; a resolve carries none.
func TestTriggerRelated(t *testing.T) {
	pd := newFakePagerDuty(t)
	c := &correlator{}
	n := pd.notifier()
	n.Related = c
	note := page()
	if _, err := n.Notify(t.Context(), note); err != nil {
		t.Fatal(err)
	}
	b := pd.last(t)
	bugs, _ := get(b, "payload.custom_details.related.bugs").([]any)
	if len(bugs) != 1 || bugs[0].(map[string]any)["key"] != "sentry:v1:issue:9" {
		t.Fatalf("custom_details.related: %v", get(b, "payload.custom_details.related"))
	}
	if c.exclude != note.Event.Key || !c.at.Equal(note.CreatedAt) || c.labels["service"] != note.Event.Labels["service"] {
		t.Fatalf("asked for %v but %q at %s, want the page's labels, key and decision time", c.labels, c.exclude, c.at)
	}
	// Without the correlation label: nothing listed.
	noService := page(func(n *alertgate.Notification) { n.ID += "-2"; n.Event.Labels = map[string]string{"alertname": "X"} })
	if _, err := n.Notify(t.Context(), noService); err != nil {
		t.Fatal(err)
	}
	if get(pd.last(t), "payload.custom_details.related") != nil {
		t.Fatal("related listed without a correlation label")
	}
	res := page(func(n *alertgate.Notification) { n.Type, n.ID = alertgate.TypeResolve, "resolve:x" })
	if _, err := n.Notify(t.Context(), res); err != nil {
		t.Fatal(err)
	}
	if get(pd.last(t), "payload") != nil {
		t.Fatal("a resolve with a payload")
	}
}
