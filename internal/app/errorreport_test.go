package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/web"
)

// secret stands for any credential a source sends: it must never reach Sentry.
const secret = "s3cret-token-do-not-leak"

func TestSentryReportsHandlerPanic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		panic func(marker string) // what the handler panics with
	}{
		// panic("…"): sentry-go reports it as a message event.
		{"String", func(m string) { panic(m) }},
		// A runtime error or panic(err): reported as an exception.
		{"Error", func(m string) { panic(errors.New(m)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sentrySrv := newLoopbackSentry(t, "42")
			initLoopbackSentry(t, sentrySrv)

			marker := "alertgate test panic " + tc.name
			h := recoverLike(sentryMiddleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				tc.panic(marker)
			})))
			req := httptest.NewRequest(http.MethodPost, "/v1/ingest/events?token="+secret, strings.NewReader(`{"key":"`+secret+`"}`))
			req.Header.Set("Authorization", "Bearer "+secret)
			req.Header.Set("Sentry-Hook-Signature", secret)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Request-Id", "req-123")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got, want := rec.Code, http.StatusInternalServerError; got != want {
				t.Fatalf("status=%d, want %d (the outer recoverer answers)", got, want)
			}

			if !sentry.Flush(5 * time.Second) {
				t.Fatal("sentry.Flush timed out: the loopback Sentry did not take the event")
			}
			ev := sentrySrv.event(t, marker)
			if ev.Request == nil {
				t.Fatalf("event has no request context: %s", ev.raw)
			}
			if got, want := ev.Request.URL, "http://example.com/v1/ingest/events"; got != want {
				t.Errorf("request.url=%q, want %q", got, want)
			}
			if got, want := ev.Request.Method, http.MethodPost; got != want {
				t.Errorf("request.method=%q, want %q", got, want)
			}
			if got, want := ev.Request.Headers["X-Request-Id"], "req-123"; got != want {
				t.Errorf("request.headers[X-Request-Id]=%q, want %q (to find the request in the logs)", got, want)
			}
			if got, want := ev.Release, "test"; got != want {
				t.Errorf("release=%q, want %q", got, want)
			}
			if got, want := ev.Level, "fatal"; got != want {
				t.Errorf("level=%q, want %q", got, want)
			}
			if got := sentrySrv.auth(); !strings.Contains(got, "sentry_key=public") {
				t.Errorf("X-Sentry-Auth=%q, want the DSN's public key", got)
			}
			// Neither the token (header, query string) nor the webhook body
			// may be sent anywhere near Sentry.
			if body := sentrySrv.all(); bytes.Contains(body, []byte(secret)) {
				t.Errorf("a secret or the webhook body reached Sentry:\n%s", body)
			}
		})
	}
}

// panickingParser panics with its text on every body.
type panickingParser string

func (p panickingParser) Parse(*http.Request, []byte) ([]alertgate.Event, error) { panic(string(p)) }

// TestSentryReportsServerHandlerPanic wires the middleware as Gateway.Start
// does, between web.Server's routes and its recoverer, with an ingest
// parser that panics.
func TestSentryReportsServerHandlerPanic(t *testing.T) {
	sentrySrv := newLoopbackSentry(t, "42")
	initLoopbackSentry(t, sentrySrv)

	const marker = "alertgate test panic in a parser"
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	srv := &web.Server{
		Ingest: (&ingest.Handler{MaxBodyBytes: 1 << 20, Log: logger, Metrics: m, Now: time.Now}).Endpoints([]ingest.Source{{
			Name:   alertgate.Source("events"),
			Parser: panickingParser(marker),
		}}),
		Logger: logger, Metrics: m,
	}
	h := web.Recoverer(logger, m, sentryMiddleware(srv.Routes()))
	req := httptest.NewRequest(http.MethodPost, "/v1/ingest/events", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got, want := rec.Code, http.StatusInternalServerError; got != want {
		t.Fatalf("status=%d, want %d", got, want)
	}
	if !sentry.Flush(5 * time.Second) {
		t.Fatal("sentry.Flush timed out")
	}
	if got, want := sentrySrv.event(t, marker).Request.URL, "http://example.com/v1/ingest/events"; got != want {
		t.Errorf("request.url=%q, want %q", got, want)
	}
}

func TestInitSentryWithoutDSNIsNoop(t *testing.T) {
	t.Setenv("SENTRY_DSN", "")
	resetSentryHub(t)
	before := sentry.CurrentHub().Client()

	flush, err := InitSentry("test")
	if err != nil {
		t.Fatalf("InitSentry: %v", err)
	}
	flush() // must not block or panic

	if got := sentry.CurrentHub().Client(); got != before {
		t.Errorf("InitSentry bound a client with SENTRY_DSN unset")
	}
	if sentry.CurrentHub().Client().IsEnabled() {
		t.Errorf("client is enabled with SENTRY_DSN unset")
	}
	// Nothing to report to: the middleware is not installed at all.
	next := &okHandler{}
	if got := sentryMiddleware(next); got != http.Handler(next) {
		t.Errorf("sentryMiddleware wrapped the handler with Sentry disabled")
	}
}

func TestInitSentryBadDSN(t *testing.T) {
	for _, tc := range []struct{ name, dsn string }{
		// url.Parse fails: its error quotes the whole URL.
		{"BadPort", "http://public:" + secret + "@127.0.0.1:port/42"},
		// Parses, but sentry-go rejects it.
		{"BadScheme", "ftp://public:" + secret + "@127.0.0.1/42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SENTRY_DSN", tc.dsn)
			resetSentryHub(t)
			flush, err := InitSentry("test")
			if err == nil {
				t.Fatal("InitSentry accepted an invalid SENTRY_DSN")
			}
			flush() // callers defer it even on error
			if !strings.HasPrefix(err.Error(), "SENTRY_DSN: ") {
				t.Errorf("error %q does not name SENTRY_DSN", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q repeats the DSN's key", err)
			}
		})
	}
}

type okHandler struct{}

func (*okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// recoverLike mirrors server.recoverer: a panic becomes a 500, so the
// middleware's re-panic does not end the test process.
func recoverLike(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// initLoopbackSentry points SENTRY_DSN at s and runs InitSentry; the global
// hub is reset when the test ends.
func initLoopbackSentry(t *testing.T, s *loopbackSentry) {
	t.Helper()
	t.Setenv("SENTRY_DSN", "http://public@"+s.Listener.Addr().String()+"/42")
	t.Setenv("SENTRY_ENVIRONMENT", "")
	resetSentryHub(t)
	if _, err := InitSentry("test"); err != nil {
		t.Fatalf("InitSentry: %v", err)
	}
	if !sentry.CurrentHub().Client().IsEnabled() {
		t.Fatal("InitSentry did not enable a client")
	}
}

// resetSentryHub restores sentry-go's global hub to its unconfigured state
// when the test ends, so no other test reports to a closed loopback.
func resetSentryHub(t *testing.T) {
	t.Cleanup(func() {
		c := sentry.CurrentHub().Client()
		sentry.CurrentHub().BindClient(nil)
		c.Close()
	})
}

// loopbackSentry is a Sentry that keeps what it is sent on the envelope
// and (legacy) store endpoints of one project.
type loopbackSentry struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	received []received
}

type received struct {
	path, auth string
	body       []byte
}

func newLoopbackSentry(t *testing.T, project string) *loopbackSentry {
	s := &loopbackSentry{t: t}
	keep := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("loopback sentry: read body: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.received = append(s.received, received{path: r.URL.Path, auth: r.Header.Get("X-Sentry-Auth"), body: body})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"00000000000000000000000000000000"}`)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/"+project+"/envelope/", keep)
	mux.HandleFunc("POST /api/"+project+"/store/", keep)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("loopback sentry: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// sentryEvent is the part of a Sentry event the tests look at.
type sentryEvent struct {
	Message   string `json:"message"`
	Level     string `json:"level"`
	Release   string `json:"release"`
	Exception []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"exception"`
	Request *struct {
		URL         string            `json:"url"`
		Method      string            `json:"method"`
		QueryString string            `json:"query_string"`
		Data        string            `json:"data"`
		Headers     map[string]string `json:"headers"`
	} `json:"request"`
	Contexts map[string]map[string]any `json:"contexts"`
	raw      []byte
}

func (e sentryEvent) mentions(s string) bool {
	if strings.Contains(e.Message, s) {
		return true
	}
	for _, x := range e.Exception {
		if strings.Contains(x.Value, s) {
			return true
		}
	}
	return false
}

// event returns the one event received whose message or exception
// mentions marker; it fails the test if there is none or several.
func (s *loopbackSentry) event(t *testing.T, marker string) sentryEvent {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []sentryEvent
	for _, r := range s.received {
		var payloads [][]byte
		if strings.HasSuffix(r.path, "/store/") {
			payloads = [][]byte{r.body}
		} else {
			items, err := envelopeItems(r.body)
			if err != nil {
				t.Fatalf("bad envelope: %v\n%s", err, r.body)
			}
			payloads = items["event"]
		}
		for _, p := range payloads {
			ev := sentryEvent{raw: p}
			if err := json.Unmarshal(p, &ev); err != nil {
				t.Fatalf("bad event: %v\n%s", err, p)
			}
			if ev.mentions(marker) {
				found = append(found, ev)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("got %d events mentioning %q, want 1; received %d requests:\n%s", len(found), marker, len(s.received), s.dumpLocked())
	}
	return found[0]
}

func (s *loopbackSentry) auth() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) == 0 {
		return ""
	}
	return s.received[0].auth
}

// all is every body received, concatenated.
func (s *loopbackSentry) all() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(s.dumpLocked())
}

func (s *loopbackSentry) dumpLocked() string {
	var b strings.Builder
	for _, r := range s.received {
		b.WriteString(r.path + "\n")
		b.Write(r.body)
		b.WriteString("\n")
	}
	return b.String()
}

// envelopeItems splits a Sentry envelope (a header line, then per item a
// header line and a payload of "length" bytes or up to the next newline)
// into payloads by item type.
func envelopeItems(body []byte) (map[string][][]byte, error) {
	rd := bufio.NewReader(bytes.NewReader(body))
	if _, err := rd.ReadBytes('\n'); err != nil {
		return nil, errors.New("no envelope header")
	}
	items := map[string][][]byte{}
	for {
		line, err := rd.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				return items, nil
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		var h struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if err := json.Unmarshal(line, &h); err != nil {
			return nil, err
		}
		var payload []byte
		if h.Length != nil {
			payload = make([]byte, *h.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				return nil, err
			}
		} else {
			payload, err = rd.ReadBytes('\n')
			if err != nil && err != io.EOF {
				return nil, err
			}
			payload = bytes.TrimSuffix(payload, []byte("\n"))
		}
		items[h.Type] = append(items[h.Type], payload)
	}
}

// Error log records go to Sentry too: they are alertgate's own errors.
func TestSentryLogs(t *testing.T) {
	sentrySrv := newLoopbackSentry(t, "42")
	initLoopbackSentry(t, sentrySrv)
	var out bytes.Buffer
	log := slog.New(SentryLogs(slog.NewJSONHandler(&out, nil))).With("sink", "pagerduty")
	log.Info("delivered")
	log.Error("notification dead-lettered", "reason", "permanent", "err", errors.New("HTTP 400: bad routing key"))
	if !sentry.Flush(5 * time.Second) {
		t.Fatal("sentry.Flush timed out")
	}
	ev := sentrySrv.event(t, "notification dead-lettered")
	if got, want := ev.Contexts["log"]["sink"], "pagerduty"; got != want {
		t.Errorf("log context sink=%v, want %v", got, want)
	}
	if len(ev.Exception) != 1 || !strings.Contains(ev.Exception[0].Value, "HTTP 400") {
		t.Errorf("exception=%+v, want the err attribute", ev.Exception)
	}
	if bytes.Contains(sentrySrv.all(), []byte(`"delivered"`)) {
		t.Errorf("an info record reached Sentry")
	}
	if !strings.Contains(out.String(), "notification dead-lettered") {
		t.Errorf("the record did not reach the wrapped handler")
	}
}
