package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

// retryConfig retries long enough to ride out a short outage.
func retryConfig(attempts int, minB, maxB string) string {
	return strings.Replace(harness.DefaultConfig, "  attempts: 3\n  min_backoff: 20ms\n  max_backoff: 200ms\n",
		fmt.Sprintf("  attempts: %d\n  min_backoff: %s\n  max_backoff: %s\n", attempts, minB, maxB), 1)
}

// firingEpisodes posts n distinct firing alerts and returns the count.
func firingEpisodes(t *testing.T, g *harness.Gateway, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		g.MustAccept(t, "/v1/ingest/alertmanager", harness.AMWebhook(harness.AMAlert{Fingerprint: fmt.Sprintf("f%04d", i), Status: "firing", StartsAt: t0}), nil)
	}
}

// onePagePerKey fails unless every dedup key was triggered exactly once and
// there are want of them.
func onePagePerKey(t *testing.T, pd *harness.PagerDuty, want int) {
	t.Helper()
	keys := map[string]int{}
	for _, e := range pd.Actions("trigger") {
		keys[e.DedupKey]++
	}
	if got := len(keys); got != want {
		t.Fatalf("paged episodes=%d, want %d", got, want)
	}
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("dedup_key %s paged %d times", k, n)
		}
	}
}

// PagerDuty is down (500, then 429 with Retry-After) for its first
// requests, then recovers: every page arrives once, none lost, none twice.
func TestPagerDutyOutage(t *testing.T) {
	pd := harness.NewPagerDuty(t)
	var failing atomic.Int32
	failing.Store(1)
	pd.Respond = func(n int, _ harness.PDEvent) harness.PDResponse {
		switch {
		case failing.Load() == 0:
			return harness.PDResponse{}
		case n%2 == 0:
			return harness.PDResponse{Status: http.StatusTooManyRequests, RetryAfter: "1"}
		default:
			return harness.PDResponse{Status: http.StatusInternalServerError}
		}
	}
	g := harness.Start(t, harness.Options{PD: pd, Config: retryConfig(20, "50ms", "500ms")})
	const pages = 10
	firingEpisodes(t, g, pages)
	// Hold the outage until every page has failed at least twice.
	waitFor(t, 30*time.Second, "failed attempts", func() bool { return pd.Requests() >= 2*pages })
	failing.Store(0)
	g.Settle(t)
	onePagePerKey(t, pd, pages)
	// The notification log shows the retries.
	retried := 0
	for _, n := range g.Notifications(t) {
		if n["sink"] == "pagerduty" {
			if n["state"] != "sent" {
				t.Fatalf("notification %v not sent", n["id"])
			}
			if n["attempts"].(float64) > 1 {
				retried++
			}
		}
	}
	if got, want := retried, pages; got != want {
		t.Fatalf("pages delivered after retries=%d, want %d", got, want)
	}
}

// PagerDuty rejects one event with 400: it goes to DEADLETTER with the
// reason, the others are delivered; after the fix, a replay delivers it once.
func TestDeadLetterReplay(t *testing.T) {
	pd := harness.NewPagerDuty(t)
	var fixed atomic.Bool
	pd.Respond = func(_ int, ev harness.PDEvent) harness.PDResponse {
		if !fixed.Load() && ev.Payload != nil && strings.Contains(ev.Payload.Summary, "f0003") {
			return harness.PDResponse{Status: http.StatusBadRequest}
		}
		return harness.PDResponse{}
	}
	g := harness.Start(t, harness.Options{PD: pd})
	firingEpisodes(t, g, 5)
	g.Settle(t)
	onePagePerKey(t, pd, 4)

	var dl struct {
		DeadLetters []struct {
			Reason       string
			State        string
			Notification struct{ ID, Key string }
		} `json:"dead_letters"`
	}
	g.Get(t, "/v1/deadletters", &dl)
	if got, want := len(dl.DeadLetters), 1; got != want {
		t.Fatalf("dead letters=%d, want %d", got, want)
	}
	d := dl.DeadLetters[0]
	if !strings.Contains(d.Notification.Key, "f0003") || d.State != "dead" || !strings.Contains(d.Reason, "400") {
		t.Fatalf("dead letter=%+v, want f0003, dead, reason naming HTTP 400", d)
	}

	fixed.Store(true)
	code, body := g.Post(t, "/v1/deadletters/replay", []byte(`{}`), nil)
	if code != http.StatusOK {
		t.Fatalf("replay: %d %s", code, body)
	}
	var rep struct{ Replayed []string }
	_ = json.Unmarshal(body, &rep)
	if got, want := len(rep.Replayed), 1; got != want {
		t.Fatalf("replayed=%d, want %d", got, want)
	}
	g.Settle(t)
	onePagePerKey(t, pd, 5)
	// A second replay finds nothing still dead.
	code, body = g.Post(t, "/v1/deadletters/replay", []byte(`{"id":"`+d.Notification.ID+`"}`), nil)
	if code != http.StatusNotFound {
		t.Fatalf("second replay: %d %s", code, body)
	}
	g.Settle(t)
	onePagePerKey(t, pd, 5)
}

// Two gateways on one NATS (an HA Alertmanager pair sends every webhook to
// both) page once per episode.
func TestTwoInstancesSameWebhooks(t *testing.T) {
	port := freePort(t)
	pd := harness.NewPagerDuty(t)
	a := harness.Start(t, harness.Options{PD: pd, Config: harness.DefaultConfig + fmt.Sprintf("nats:\n  listen: \"127.0.0.1:%d\"\n", port)})
	b := harness.Start(t, harness.Options{PD: pd, Config: harness.DefaultConfig + fmt.Sprintf("nats:\n  url: \"nats://127.0.0.1:%d\"\n", port)})

	const alerts = 20
	var wg sync.WaitGroup
	for _, g := range []*harness.Gateway{a, b} {
		wg.Add(1)
		go func(g *harness.Gateway) {
			defer wg.Done()
			for i := 0; i < alerts; i++ {
				body := harness.AMWebhook(harness.AMAlert{Fingerprint: fmt.Sprintf("ha%03d", i), Status: "firing", StartsAt: t0})
				if code, resp := g.Post(t, "/v1/ingest/alertmanager", body, nil); code != http.StatusAccepted {
					t.Errorf("status %d: %s", code, resp)
				}
			}
		}(g)
	}
	wg.Wait()
	a.Settle(t)
	b.Settle(t)
	onePagePerKey(t, pd, alerts)
	if got, want := len(pd.Accepted()), alerts; got != want {
		t.Fatalf("PagerDuty requests=%d, want %d", got, want)
	}
}
