// Package harness runs alertgate end to end inside a test: the gateway
// in-process on :0 with embedded JetStream in a temp dir, and loopback
// PagerDuty and Slack servers that check every request against the
// published contract and record what they accepted. Scenarios post
// webhooks, wait until the pipeline is idle (Settle), and assert exactly
// which pages and resolves came out.
package harness

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/alertgate/alertgate/internal/contract"
)

// PDEvent is an Events API v2 request PagerDuty accepted.
type PDEvent struct {
	RoutingKey string `json:"routing_key"`
	Action     string `json:"event_action"`
	DedupKey   string `json:"dedup_key"`
	Payload    *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
	Raw []byte `json:"-"`
}

// PDResponse scripts one answer; Status 0 means 202.
type PDResponse struct {
	Status     int
	RetryAfter string
}

// PagerDuty is a loopback Events API v2.
type PagerDuty struct {
	*httptest.Server
	mu       sync.Mutex
	accepted []PDEvent
	rejected []string // why each invalid request was rejected
	requests int
	// Respond, if set, scripts the answer to the n-th valid request (from 1).
	Respond func(n int, ev PDEvent) PDResponse
}

// NewPagerDuty starts the server; it stops with the test.
func NewPagerDuty(t testing.TB) *PagerDuty {
	p := &PagerDuty{}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *PagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		p.reject(w, r.Method+" "+r.URL.Path+" is not the Events API v2 endpoint")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		p.reject(w, "Content-Type "+ct)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, contract.PagerDutyMaxBody+1))
	if err != nil {
		p.reject(w, err.Error())
		return
	}
	if err := contract.PagerDuty(body); err != nil {
		p.reject(w, err.Error())
		return
	}
	var ev PDEvent
	_ = json.Unmarshal(body, &ev)
	ev.Raw = body
	p.mu.Lock()
	p.requests++
	n := p.requests
	respond := p.Respond
	p.mu.Unlock()
	resp := PDResponse{Status: http.StatusAccepted}
	if respond != nil {
		resp = respond(n, ev)
		if resp.Status == 0 {
			resp.Status = http.StatusAccepted
		}
	}
	if resp.Status != http.StatusAccepted {
		if resp.RetryAfter != "" {
			w.Header().Set("Retry-After", resp.RetryAfter)
		}
		w.WriteHeader(resp.Status)
		_, _ = w.Write([]byte(`{"status":"error","message":"scripted failure","errors":["scripted"]}`))
		return
	}
	p.mu.Lock()
	p.accepted = append(p.accepted, ev)
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func (p *PagerDuty) reject(w http.ResponseWriter, why string) {
	p.mu.Lock()
	p.rejected = append(p.rejected, why)
	p.mu.Unlock()
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": []string{why}})
}

// Accepted returns the accepted events in arrival order.
func (p *PagerDuty) Accepted() []PDEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PDEvent(nil), p.accepted...)
}

// Rejected returns why each contract-violating request was rejected.
func (p *PagerDuty) Rejected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.rejected...)
}

// Requests counts valid requests, whatever they were answered.
func (p *PagerDuty) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Actions returns the accepted events with the given action.
func (p *PagerDuty) Actions(action string) []PDEvent {
	var out []PDEvent
	for _, e := range p.Accepted() {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}
