package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/alertgate/alertgate/internal/contract"
)

// BotToken is the bot token the loopback Slack Web API takes.
const BotToken = "xoxb-loopback-bot-token-0000"

// SlackCall is one valid call of the loopback Slack Web API.
type SlackCall struct {
	Method  string // "chat.postMessage", "chat.update"
	Channel string
	TS      string // of the message posted or updated
	Text    string
	// Blocks is the blocks field, JSON.
	Blocks []byte
	// Error is what it answered: "" for ok, else Slack's error code.
	Error string
}

// SlackAPI is a loopback Slack Web API for chat.postMessage and
// chat.update: every call must be a POST to /api/<method> with
// "Authorization: Bearer <BotToken>" and a form body within the method's
// contract (testdata/contracts); anything else is answered as Slack
// would (invalid_auth, invalid_arguments) and kept in Rejected. It answers
// {"ok":true,"channel":…,"ts":…}, or what Fail says.
type SlackAPI struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []SlackCall
	rejected []string
	seq      int
	// Fail, if set, answers the n-th valid call of a method (from 1):
	// "" is ok; "ratelimited" is 429 with Retry-After: 1; any other is
	// {"ok":false,"error":…}.
	Fail func(method string, n int) string
}

// NewSlackAPI starts the server; it stops with the test.
func NewSlackAPI(t testing.TB) *SlackAPI {
	s := &SlackAPI{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// APIURL is the base URL for slack.api_url.
func (s *SlackAPI) APIURL() string { return s.URL + "/api/" }

func (s *SlackAPI) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method != http.MethodPost || method == r.URL.Path:
		s.reject(w, "not a POST to /api/<method>: "+r.Method+" "+r.URL.Path, "unknown_method")
		return
	case r.Header.Get("Authorization") != "Bearer "+BotToken:
		s.reject(w, "no or wrong bearer token", "invalid_auth")
		return
	case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		s.reject(w, "not a form: "+r.Header.Get("Content-Type"), "invalid_form_data")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.reject(w, "form: "+err.Error(), "invalid_form_data")
		return
	}
	if err := contract.SlackAPI(method, form); err != nil {
		s.reject(w, method+": "+err.Error(), "invalid_arguments")
		return
	}
	s.mu.Lock()
	n := 1
	for _, c := range s.calls {
		if c.Method == method {
			n++
		}
	}
	fail := s.Fail
	s.mu.Unlock()
	code := ""
	if fail != nil {
		code = fail(method, n)
	}
	call := SlackCall{Method: method, Channel: form.Get("channel"), Text: form.Get("text"), Blocks: []byte(form.Get("blocks")), Error: code}
	s.mu.Lock()
	if method == "chat.postMessage" && code == "" {
		s.seq++
		call.TS = fmt.Sprintf("1700000000.%06d", s.seq)
	} else {
		call.TS = form.Get("ts")
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	switch code {
	case "":
		// Slack answers with the channel's ID, whatever name was posted to.
		writeSlack(w, http.StatusOK, map[string]any{"ok": true, "channel": "C" + strings.ToUpper(strings.Trim(call.Channel, "#-")), "ts": call.TS})
	case "ratelimited":
		w.Header().Set("Retry-After", "1")
		writeSlack(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
	default:
		writeSlack(w, http.StatusOK, map[string]any{"ok": false, "error": code})
	}
}

func writeSlack(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *SlackAPI) reject(w http.ResponseWriter, why, code string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, why)
	s.mu.Unlock()
	writeSlack(w, http.StatusOK, map[string]any{"ok": false, "error": code})
}

// Calls returns the valid calls of method ("" for all), in order.
func (s *SlackAPI) Calls(method string) []SlackCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SlackCall
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Done returns the calls of method Slack answered ok.
func (s *SlackAPI) Done(method string) []SlackCall {
	var out []SlackCall
	for _, c := range s.Calls(method) {
		if c.Error == "" {
			out = append(out, c)
		}
	}
	return out
}

// Rejected returns why each invalid call was rejected.
func (s *SlackAPI) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}
