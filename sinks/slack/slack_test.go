package slack

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/contract"
	"github.com/alertgate/alertgate/sinks"
)

// secret is in every webhook path, as Slack's are; no error may show it.
const secret = "T00000000/B00000000/XXXXsecretXXXX"

// fakeSlack is an incoming-webhook endpoint that checks each request
// against the contract and answers as each path's script says.
type fakeSlack struct {
	t       *testing.T
	mu      sync.Mutex
	hits    map[string]int
	answers map[string]func(w http.ResponseWriter, r *http.Request)
}

func newFakeSlack(t *testing.T) (*fakeSlack, *httptest.Server) {
	f := &fakeSlack{t: t, hits: map[string]int{}, answers: map[string]func(http.ResponseWriter, *http.Request){}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	answer := f.answers[r.URL.Path]
	f.mu.Unlock()
	if r.Method != http.MethodPost {
		f.t.Errorf("method %s, want POST", r.Method)
	}
	if got, want := r.Header.Get("Content-Type"), "application/json"; got != want {
		f.t.Errorf("Content-Type=%q, want %q", got, want)
	}
	body, _ := io.ReadAll(r.Body)
	if err := contract.Slack(body); err != nil {
		f.t.Errorf("contract.Slack: %v", err)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if answer == nil {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	answer(w, r)
}

func (f *fakeSlack) script(path string, answer func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[path] = answer
}

func (f *fakeSlack) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func reply(status int, body string, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// digestFor is a digest notification for team carrying msg, as the
// Digester stores it.
func digestFor(t *testing.T, team string, msg *slackapi.WebhookMessage) alertgate.Notification {
	t.Helper()
	body, err := encode(msg)
	if err != nil {
		t.Fatal(err)
	}
	return alertgate.Notification{ID: "digest:" + team + ":1:1", Sink: alertgate.SinkSlack, Team: team, Type: alertgate.TypeDigest, Key: "digest:" + team, Body: body}
}

func TestNotify(t *testing.T) {
	f, srv := newFakeSlack(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name    string
		answer  func(http.ResponseWriter, *http.Request)
		webhook string // default: the fake's URL for this case
		retry   bool
		ok      bool
		status  int           // of the *sinks.HTTPError, 0 for none
		after   time.Duration // its RetryAfter
		errHas  string
	}{
		// Delivered: 200 with the body "ok".
		{name: "ok", answer: reply(200, "ok"), ok: true},
		// Slack's "ok" may end with a newline.
		{name: "ok-newline", answer: reply(200, "ok\n"), ok: true},
		// Rate limited: retry after what Slack says.
		{name: "rate-limited", answer: reply(429, "rate_limited", "Retry-After", "3"), retry: true, status: 429, after: 3 * time.Second, errHas: "rate_limited"},
		// Slack's own failure: retry.
		{name: "rollup-error", answer: reply(500, "rollup_error"), retry: true, status: 500, errHas: "rollup_error"},
		// Unavailable: retry.
		{name: "unavailable", answer: reply(503, ""), retry: true, status: 503},
		// The message itself is wrong: sending it again cannot help.
		{name: "invalid-payload", answer: reply(400, "invalid_payload"), status: 400, errHas: "invalid_payload"},
		// The app may no longer post there.
		{name: "action-prohibited", answer: reply(403, "action_prohibited"), status: 403, errHas: "action_prohibited"},
		// The channel is gone.
		{name: "channel-not-found", answer: reply(404, "channel_not_found"), status: 404, errHas: "channel_not_found"},
		// The channel is archived.
		{name: "channel-archived", answer: reply(410, "channel_is_archived"), status: 410, errHas: "channel_is_archived"},
		// 200 is not enough: the body must be "ok".
		{name: "200-invalid-token", answer: reply(200, "invalid_token"), status: 200, errHas: "invalid_token"},
		// An empty 200 is not "ok" either.
		{name: "200-empty", answer: reply(200, ""), status: 200},
		// An answer that quotes the webhook does not leak it.
		{name: "echo", answer: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no_team for "+r.URL.Path, http.StatusNotFound)
		}, status: 404, errHas: "[webhook]"},
		// A redirect loop: net/http's error names the URL; ours must not.
		{name: "redirect-loop", answer: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
		}, retry: true, errHas: "redirects"},
		// Nothing listening: a network error, retry.
		{name: "network", webhook: closed.URL + "/services/" + secret, retry: true},
		// A malformed URL: permanent, and not quoted.
		{name: "malformed", webhook: "http://exa mple.com/services/" + secret, errHas: "invalid webhook URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/services/" + secret + "/" + tc.name
			webhook := srv.URL + path
			if tc.webhook != "" {
				webhook = tc.webhook
			}
			f.script(path, tc.answer)
			n := New(map[string]string{"payments": webhook}, srv.Client())
			retry, err := n.Notify(context.Background(), digestFor(t, "payments", Render(typical())))
			if got, want := err == nil, tc.ok; got != want {
				t.Fatalf("err=%v, want success %v", err, want)
			}
			if got, want := retry, tc.retry; got != want {
				t.Fatalf("retry=%v, want %v (err=%v)", got, want, err)
			}
			if err == nil {
				return
			}
			for _, leak := range []string{webhook, secret, "XXXXsecretXXXX"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error %q shows the webhook", err)
				}
			}
			if !strings.Contains(err.Error(), `team "payments"`) {
				t.Fatalf("error %q does not name the team", err)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %q, want it to contain %q", err, tc.errHas)
			}
			var herr *sinks.HTTPError
			if got, want := errors.As(err, &herr), tc.status != 0; got != want {
				t.Fatalf("errors.As(HTTPError)=%v, want %v (err=%v)", got, want, err)
			}
			if herr == nil {
				return
			}
			if got, want := herr.Status, tc.status; got != want {
				t.Fatalf("Status=%d, want %d", got, want)
			}
			var ra sinks.RetryAfter
			if !errors.As(err, &ra) {
				t.Fatal("error does not carry RetryAfter")
			}
			if got, want := ra.RetryAfter(), tc.after; got != want {
				t.Fatalf("RetryAfter()=%v, want %v", got, want)
			}
		})
	}
}

func TestNotifyNotEnabled(t *testing.T) {
	n := New(map[string]string{"payments": "", "platform": "  "}, nil)
	for _, team := range []string{"payments", "platform", "unknown"} {
		if n.Enabled(team) {
			t.Fatalf("Enabled(%q)=true, want false", team)
		}
		if got := n.Reserve(digestFor(t, team, Render(typical()))); got != 0 {
			t.Fatalf("Reserve(%q)=%v, want no wait", team, got)
		}
		retry, err := n.Notify(context.Background(), digestFor(t, team, Render(typical())))
		if err == nil || retry {
			t.Fatalf("Notify(%q)=(%v, %v), want a permanent error", team, retry, err)
		}
		if !strings.Contains(err.Error(), team) {
			t.Fatalf("error %q does not name the team", err)
		}
	}
	if got := n.Teams(); len(got) != 0 {
		t.Fatalf("Teams()=%v, want none", got)
	}
}

// TestLimiter checks the pace: one message per second per webhook,
// shared by the teams that post to it.
func TestLimiter(t *testing.T) {
	n := New(map[string]string{"a": "https://hooks.test/1", "b": "https://hooks.test/1", "c": "https://hooks.test/2"}, nil)
	note := func(team string) alertgate.Notification { return alertgate.Notification{Team: team} }
	if got := n.Reserve(note("a")); got != 0 {
		t.Fatalf("first message waits %v, want none", got)
	}
	if got := n.Reserve(note("b")); got < 900*time.Millisecond || got > time.Second {
		t.Fatalf("second message to the same webhook waits %v, want about 1s", got)
	}
	if got := n.Reserve(note("c")); got != 0 {
		t.Fatalf("first message to another webhook waits %v, want none", got)
	}
}
func TestReserve(t *testing.T) {
	f, srv := newFakeSlack(t)
	path, other := "/services/"+secret+"/limited", "/services/"+secret+"/other"
	f.script(path, reply(200, "ok"))
	f.script(other, reply(200, "ok"))
	n := New(map[string]string{"payments": srv.URL + path, "checkout": srv.URL + path, "platform": srv.URL + other}, srv.Client())
	msg := Render(typical())
	for _, tc := range []struct {
		team     string
		min, max time.Duration
	}{
		{"payments", 0, 0},
		{"payments", 500 * time.Millisecond, time.Second},
		{"checkout", 1500 * time.Millisecond, 2 * time.Second},
		{"platform", 0, 0},
	} {
		if got := n.Reserve(digestFor(t, tc.team, msg)); got < tc.min || got > tc.max {
			t.Fatalf("Reserve(%s)=%v, want %v to %v", tc.team, got, tc.min, tc.max)
		}
		if _, err := n.Notify(context.Background(), digestFor(t, tc.team, msg)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.count(path), 3; got != want {
		t.Fatalf("posts=%d, want %d", got, want)
	}
	if got, want := f.count(other), 1; got != want {
		t.Fatalf("posts=%d, want %d", got, want)
	}
}

// Only digests go to Slack: an item reaches it inside its team's digest,
// and a digest without a message, or with a broken one, is refused; none
// is posted nor worth a retry.
func TestNotifyOnlyDigests(t *testing.T) {
	f, srv := newFakeSlack(t)
	path := "/services/" + secret + "/only"
	f.script(path, reply(200, "ok"))
	n := New(map[string]string{"payments": srv.URL + path}, srv.Client())
	item := digestFor(t, "payments", Render(typical()))
	item.Type = alertgate.TypeBugNew
	empty := digestFor(t, "payments", Render(typical()))
	empty.Body = nil
	broken := digestFor(t, "payments", Render(typical()))
	broken.Body = broken.Body[:len(broken.Body)/2]
	for _, note := range []alertgate.Notification{item, empty, broken} {
		retry, err := n.Notify(context.Background(), note)
		if err == nil || retry {
			t.Fatalf("Notify(%s with %d bytes)=(%v, %v), want a permanent error", note.Type, len(note.Body), retry, err)
		}
		if strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q shows the webhook", err)
		}
	}
	if got := f.count(path); got != 0 {
		t.Fatalf("posts=%d, want none", got)
	}
}

// TestNotifyCanceled gives up at once on a canceled context, and says so.
func TestNotifyCanceled(t *testing.T) {
	_, srv := newFakeSlack(t)
	n := New(map[string]string{"payments": srv.URL + "/services/" + secret}, srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	retry, err := n.Notify(ctx, digestFor(t, "payments", Render(typical())))
	if !errors.Is(err, context.Canceled) || !retry {
		t.Fatalf("Notify=(%v, %v), want retry with context.Canceled", retry, err)
	}
}

var _ http.Handler = (*fakeSlack)(nil)
