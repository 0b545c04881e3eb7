package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/internal/contract"
)

// tracker pairs the time an alert key was sent with the time its
// notification arrived.
type tracker struct {
	mu      sync.Mutex
	run     uint64
	sent    map[uint64]time.Time
	arrived map[uint64]time.Time
	cutOff  int
}

func newTracker(run uint64) *tracker {
	return &tracker{run: run, sent: map[uint64]time.Time{}, arrived: map[uint64]time.Time{}}
}

func (t *tracker) Sent(seq uint64, at time.Time) {
	t.mu.Lock()
	t.sent[seq] = at
	t.mu.Unlock()
}

// CutOff withdraws keys whose request the end of the load cancelled
// before its answer: never acknowledged, they are not counted as sent.
func (t *tracker) CutOff(seqs []uint64) {
	t.mu.Lock()
	for _, s := range seqs {
		if _, ok := t.sent[s]; ok {
			delete(t.sent, s)
			t.cutOff++
		}
	}
	t.mu.Unlock()
}

// CutOffs is how many keys CutOff withdrew.
func (t *tracker) CutOffs() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cutOff
}

// Arrived records the first arrival of a key rendered by loadgen.KeyID.
func (t *tracker) Arrived(keyID string, at time.Time) {
	run, seq, ok := loadgen.ParseKeyID(keyID)
	if !ok || run != t.run {
		return
	}
	t.mu.Lock()
	if _, dup := t.arrived[seq]; !dup {
		t.arrived[seq] = at
	}
	t.mu.Unlock()
}

// Counts returns how many tracked keys were sent and how many of them arrived.
func (t *tracker) Counts() (sent, arrived int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for seq := range t.sent {
		if _, ok := t.arrived[seq]; ok {
			arrived++
		}
	}
	return len(t.sent), arrived
}

// Latencies of the keys that arrived.
func (t *tracker) Latencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]time.Duration, 0, len(t.sent))
	for seq, s := range t.sent {
		if a, ok := t.arrived[seq]; ok {
			out = append(out, a.Sub(s))
		}
	}
	return out
}

// pagerDuty is a loopback Events API v2. It answers 202 to every valid
// event; with validate set it checks each body against the published
// schema (testdata/contracts) first and answers 400 to a bad one.
type pagerDuty struct {
	*httptest.Server
	validate atomic.Bool
	track    atomic.Pointer[tracker]
	events   atomic.Int64
	invalid  atomic.Int64
	lastBad  atomic.Value // string
	// related counts the accepted events whose custom_details carry
	// "related" (correlation on), relatedBugs those among them that list
	// at least one bug class.
	related, relatedBugs atomic.Int64
}

// The markers of a page's related signals in the compact JSON the
// PagerDuty sink sends: the custom_details key, and a bug list with at
// least one entry (no other field of a page is named "bugs").
var (
	relatedMarker     = []byte(`"related":{`)
	relatedBugsMarker = []byte(`"bugs":[{`)
)

func newPagerDuty() *pagerDuty {
	p := &pagerDuty{}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

func (p *pagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	w.Header().Set("Content-Type", "application/json")
	var ev struct {
		RoutingKey string `json:"routing_key"`
		Action     string `json:"event_action"`
		DedupKey   string `json:"dedup_key"`
	}
	err := json.Unmarshal(body, &ev)
	if err == nil && p.validate.Load() {
		err = contract.PagerDuty(body)
	}
	if err != nil || r.URL.Path != "/v2/enqueue" || len(ev.RoutingKey) != 32 {
		p.invalid.Add(1)
		if err != nil {
			p.lastBad.Store(err.Error())
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"status":"invalid event","message":"Event object is invalid","errors":["bench: invalid"]}`)
		return
	}
	p.events.Add(1)
	if bytes.Contains(body, relatedMarker) {
		p.related.Add(1)
		if bytes.Contains(body, relatedBugsMarker) {
			p.relatedBugs.Add(1)
		}
	}
	if t := p.track.Load(); t != nil && ev.Action == "trigger" {
		// dedup_key is "<key>/<episode hash>"; an Alertmanager key is
		// "alertmanager:v1:<fingerprint>".
		k := ev.DedupKey
		if i := strings.LastIndexByte(k, '/'); i >= 0 {
			k = k[:i]
		}
		t.Arrived(strings.TrimPrefix(k, "alertmanager:v1:"), at)
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":`+quote(ev.DedupKey)+`}`)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// webhookReceiver is where Alertmanager sends its notifications.
type webhookReceiver struct {
	*httptest.Server
	track    atomic.Pointer[tracker]
	requests atomic.Int64
	alerts   atomic.Int64
}

func newWebhookReceiver() *webhookReceiver {
	h := &webhookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

func (h *webhookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var msg struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.requests.Add(1)
	h.alerts.Add(int64(len(msg.Alerts)))
	if t := h.track.Load(); t != nil {
		for _, a := range msg.Alerts {
			if a.Status == "firing" {
				t.Arrived(a.Labels["key"], at)
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// bareHandler is the ceiling of an HTTP endpoint: read the body, answer
// 202 with alertgate's answer shape, nothing else.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"accepted":1,"duplicates":0}`+"\n")
	})
}
