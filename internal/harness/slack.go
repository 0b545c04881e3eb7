package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/contract"
)

// SlackRequest is one request to the loopback Slack.
type SlackRequest struct {
	Channel string // the webhook path's last element
	Body    []byte
	Status  int
	At      time.Time
}

// Slack is a loopback incoming-webhook server: every body is checked
// against the contract (400 invalid_payload otherwise); Respond scripts
// answers, default 200 "ok".
type Slack struct {
	*httptest.Server
	mu       sync.Mutex
	requests []SlackRequest
	rejected []string
	// Respond, if set, answers the n-th valid request of a channel (from 1):
	// status and Retry-After; status 0 is 200 "ok".
	Respond func(channel string, n int) (status int, retryAfter string)
}

// NewSlack starts the server; it stops with the test.
func NewSlack(t testing.TB) *Slack {
	s := &Slack{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Webhook is the URL of a channel's webhook.
func (s *Slack) Webhook(channel string) string { return s.URL + "/services/T000/B000/" + channel }

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	channel := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		s.reject(w, "not a JSON POST")
		return
	}
	if err := contract.Slack(body); err != nil {
		s.reject(w, err.Error())
		return
	}
	s.mu.Lock()
	n := 1
	for _, q := range s.requests {
		if q.Channel == channel {
			n++
		}
	}
	respond := s.Respond
	s.mu.Unlock()
	status, after := 0, ""
	if respond != nil {
		status, after = respond(channel, n)
	}
	if status == 0 {
		status = http.StatusOK
	}
	s.mu.Lock()
	s.requests = append(s.requests, SlackRequest{Channel: channel, Body: body, Status: status, At: time.Now()})
	s.mu.Unlock()
	if after != "" {
		w.Header().Set("Retry-After", after)
	}
	w.WriteHeader(status)
	switch status {
	case http.StatusOK:
		_, _ = io.WriteString(w, "ok")
	case http.StatusTooManyRequests:
		_, _ = io.WriteString(w, "rate_limited")
	default:
		_, _ = io.WriteString(w, "channel_not_found")
	}
}

func (s *Slack) reject(w http.ResponseWriter, why string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, why)
	s.mu.Unlock()
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, "invalid_payload")
}

// Requests returns every valid request, in order.
func (s *Slack) Requests() []SlackRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlackRequest(nil), s.requests...)
}

// Accepted returns the requests answered 200, for one channel ("" for all).
func (s *Slack) Accepted(channel string) []SlackRequest {
	var out []SlackRequest
	for _, q := range s.Requests() {
		if q.Status == http.StatusOK && (channel == "" || q.Channel == channel) {
			out = append(out, q)
		}
	}
	return out
}

// Rejected returns why each invalid request was rejected.
func (s *Slack) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// Clock is a settable clock for the gateway (GoAlert's FastForward).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at the real time.
func NewClock() *Clock { return &Clock{now: time.Now()} }

// NewClockAt starts at t.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// FastForward moves the clock.
func (c *Clock) FastForward(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
