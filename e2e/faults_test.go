//go:build faults

// The longer fault tests: `make test-faults` (CI runs them too).

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

// buildBinary compiles cmd/alertgate once for the process tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "alertgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/alertgate")
	cmd.Dir = harness.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is alertgate running as its own process.
type process struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
}

func startProcess(t *testing.T, bin, config string, port int) *process {
	t.Helper()
	p := &process{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &syncBuffer{}}
	p.cmd = exec.Command(bin, "serve", "--config", config)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "alertgate ready", func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// The gateway is killed with SIGKILL while 10,000 events are being posted;
// after a restart every acknowledged event has led to its page: none lost,
// none paged twice.
func TestFaultSIGKILLUnderLoad(t *testing.T) {
	bin := buildBinary(t)
	pd := harness.NewPagerDuty(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "alertgate.yaml")
	yaml := fmt.Sprintf(`
listen: "127.0.0.1:%d"
data_dir: %q
runbooks_dir: %q
pagerduty: {events_url: %q, rate_limit: 600000}
delivery: {attempts: 20, min_backoff: 20ms, max_backoff: 500ms}
teams: [{name: payments, pagerduty_routing_key: %q}]
routes: [{match: [], team: payments}]
`, port, filepath.Join(dir, "data"), filepath.Join(harness.Root(), "examples", "runbooks"), pd.URL, harness.PaymentsKey)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, bin, cfg, port)
	t.Cleanup(func() { p.kill() })

	const n = 10000
	load := &harness.Load{
		URLs: []string{p.url}, Path: "/v1/ingest/alertmanager", N: n, Concurrency: 8,
		Body: func(i int) []byte {
			return harness.AMWebhook(harness.AMAlert{Fingerprint: fmt.Sprintf("k%05d", i), Status: "firing", StartsAt: t0})
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() { load.Run(ctx); close(done) }()
	waitFor(t, 2*time.Minute, "3,000 acknowledged", func() bool { return load.Acked() >= 3000 })
	p.kill()
	killedAt := load.Acked()
	p = startProcess(t, bin, cfg, port)
	<-done
	if got := load.Acked(); got != n {
		t.Fatalf("acknowledged %d of %d", got, n)
	}
	t.Logf("killed after %d acks; %d attempts failed while down", killedAt, load.Failures())

	waitFor(t, 3*time.Minute, "every acknowledged alert paged", func() bool { return distinctTriggers(pd) >= n })
	// Let redeliveries, if any, arrive before counting.
	var last atomic.Int64
	waitFor(t, time.Minute, "PagerDuty traffic to stop", func() bool {
		cur := int64(pd.Requests())
		stable := cur == last.Load()
		last.Store(cur)
		time.Sleep(2 * time.Second)
		return stable
	})
	keys := map[string]int{}
	for _, e := range pd.Actions("trigger") {
		keys[e.DedupKey]++
	}
	if got, want := len(keys), n; got != want {
		t.Fatalf("paged episodes=%d, want %d (acknowledged)", got, want)
	}
	repeats := 0
	for _, c := range keys {
		repeats += c - 1
	}
	// A page delivered in the instant between PagerDuty's 202 and the
	// kill is sent again on restart with the same dedup_key: PagerDuty
	// folds it into the open incident, so nobody is paged twice. Report it.
	t.Logf("PagerDuty requests repeating an open dedup_key (deduplicated by PagerDuty): %d", repeats)
	// The sink delivers at most Concurrency (32) notifications at once:
	// no more can have been between PagerDuty's answer and the log record
	// at the kill. A page recorded as sent is never sent again, even when
	// the consumer's own state lost its acknowledgement.
	if repeats > 32 {
		t.Fatalf("%d repeated requests: more than the deliveries in flight at the kill", repeats)
	}
}

// PagerDuty answers 500 for 30 s, then recovers: every page is delivered
// once, none lost, none twice.
func TestFaultPagerDutyDown30s(t *testing.T) {
	pd := harness.NewPagerDuty(t)
	until := time.Now().Add(30 * time.Second)
	pd.Respond = func(int, harness.PDEvent) harness.PDResponse {
		if time.Now().Before(until) {
			return harness.PDResponse{Status: http.StatusInternalServerError}
		}
		return harness.PDResponse{}
	}
	g := harness.Start(t, harness.Options{PD: pd, Config: retryConfig(12, "1s", "10s")})
	const pages = 50
	firingEpisodes(t, g, pages)
	g.Settle(t)
	onePagePerKey(t, pd, pages)
	if time.Now().Before(until) {
		t.Fatalf("settled before PagerDuty recovered")
	}
	for _, n := range g.Notifications(t) {
		if n["sink"] == "pagerduty" && n["state"] != "sent" {
			t.Fatalf("%v: state %v", n["id"], n["state"])
		}
	}
}

// The gateway is SIGKILLed after digest items are decided and before the
// flush; after a restart the next digest has them exactly once.
func TestFaultSIGKILLBeforeDigest(t *testing.T) {
	bin := buildBinary(t)
	pd := harness.NewPagerDuty(t)
	slack := harness.NewSlack(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "alertgate.yaml")
	write := func(interval string) {
		yaml := fmt.Sprintf(`
listen: "127.0.0.1:%d"
data_dir: %q
runbooks_dir: %q
pagerduty: {events_url: %q}
slack: {digest_interval: %s}
teams: [{name: payments, pagerduty_routing_key: %q, slack_webhook_url: %q}]
routes: [{match: [], team: payments}]
`, port, filepath.Join(dir, "data"), filepath.Join(harness.Root(), "examples", "runbooks"), pd.URL, interval, harness.PaymentsKey, slack.Webhook("payments"))
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1h")
	p := startProcess(t, bin, cfg, port)
	t.Cleanup(func() { p.kill() })
	for i := 0; i < 5; i++ {
		body := harness.AMWebhook(harness.AMAlert{Fingerprint: fmt.Sprintf("dg%02d", i), Status: "firing", StartsAt: t0})
		resp, err := http.Post(p.url+"/v1/ingest/alertmanager", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post %d: %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
	// Decided: the five pages reached PagerDuty, so their digest items are
	// in NOTIFY too (the router publishes both before acknowledging).
	waitFor(t, 30*time.Second, "five pages", func() bool { return len(pd.Actions("trigger")) == 5 })
	p.kill()
	if n := len(slack.Requests()); n != 0 {
		t.Fatalf("%d Slack requests before the kill", n)
	}
	write("2s")
	p = startProcess(t, bin, cfg, port)
	waitFor(t, 60*time.Second, "the digest after the restart", func() bool { return len(slack.Accepted("payments")) >= 1 })
	text := string(slack.Accepted("payments")[0].Body)
	for i := 0; i < 5; i++ {
		if got := strings.Count(text, fmt.Sprintf("on dg%02d", i)); got != 1 {
			t.Errorf("dg%02d appears %d times in the digest, want once", i, got)
		}
	}
	// Two more windows pass: nothing is sent again.
	time.Sleep(5 * time.Second)
	if got, want := len(slack.Accepted("payments")), 1; got != want {
		t.Fatalf("digests=%d, want %d", got, want)
	}
}
