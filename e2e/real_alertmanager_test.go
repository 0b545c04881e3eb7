package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertgate/alertgate/internal/harness"
)

// alertmanagerBinary finds a real Alertmanager: $ALERTMANAGER_BIN, the
// repo-local .tools/bin (make tools), or PATH.
func alertmanagerBinary(t *testing.T) string {
	if p := os.Getenv("ALERTMANAGER_BIN"); p != "" {
		return p
	}
	if p := filepath.Join(harness.Root(), ".tools", "bin", "alertmanager"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("alertmanager"); err == nil {
		return p
	}
	if os.Getenv("ALERTGATE_REQUIRE_ALERTMANAGER") != "" {
		t.Fatalf("no alertmanager binary (ALERTGATE_REQUIRE_ALERTMANAGER is set): run `make tools`")
	}
	t.Skip("no alertmanager binary: run `make tools` (builds Alertmanager from its module source into .tools/bin) to run this test")
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A real Alertmanager sends its webhook to alertgate, which pages through
// the loopback PagerDuty exactly as in TestAlertmanagerEpisodes.
func TestRealAlertmanager(t *testing.T) {
	bin := alertmanagerBinary(t)
	cfg := harness.DefaultConfig + `
ingest:
  alertmanager: {token: "am-token"}
`
	g := harness.Start(t, harness.Options{Config: cfg})

	dir := t.TempDir()
	port := freePort(t)
	amURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	amCfg := fmt.Sprintf(`
route:
  receiver: alertgate
  group_by: ['alertname', 'instance']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: alertgate
    webhook_configs:
      - url: %s/v1/ingest/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: am-token
`, g.URL())
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(amCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	})
	waitFor(t, 30*time.Second, "alertmanager ready", func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	start := time.Now().UTC().Add(-10 * time.Second).Truncate(time.Second)
	push := func(startsAt, endsAt time.Time) {
		t.Helper()
		a := map[string]any{
			"labels":      map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical", "instance": "10.0.3.17:8080"},
			"annotations": map[string]string{"summary": "5xx ratio above 5%"},
			"startsAt":    startsAt.Format(time.RFC3339Nano),
		}
		if !endsAt.IsZero() {
			a["endsAt"] = endsAt.Format(time.RFC3339Nano)
		}
		b, _ := json.Marshal([]any{a})
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("push alert: %d", resp.StatusCode)
		}
	}

	push(start, time.Time{})
	waitFor(t, 30*time.Second, "first trigger", func() bool { return len(g.PD.Actions("trigger")) >= 1 })
	// Alertmanager's own re-sends of the same alert (pushed again as
	// Prometheus does every evaluation) never page twice.
	for i := 0; i < 3; i++ {
		push(start, time.Time{})
	}
	// Prometheus sends a resolved alert again at every evaluation (for 15
	// minutes); so does the test. Alertmanager (0.35) may apply pushes
	// made one after another out of order, and a re-send above applied
	// after the resolve makes the alert active again until the next one.
	endsAt, pushed := time.Now().UTC().Add(-time.Second), time.Time{}
	waitFor(t, 30*time.Second, "resolve", func() bool {
		if time.Since(pushed) >= time.Second {
			push(start, endsAt)
			pushed = time.Now()
		}
		return len(g.PD.Actions("resolve")) >= 1
	})
	g.Settle(t)
	tr := oneTriggerOneResolve(t, g.PD)
	if !hasLink(tr, "http://alertgate.test/runbooks/checkout-high-error-rate") {
		t.Fatalf("trigger carries no runbook link: %+v", tr.Links)
	}

	// The alert fires again: a new episode, a second page.
	second := time.Now().UTC().Add(time.Second).Truncate(time.Second)
	push(second, time.Time{})
	waitFor(t, 30*time.Second, "second trigger", func() bool { return len(g.PD.Actions("trigger")) >= 2 })
	g.Settle(t)
	if got, want := len(g.PD.Accepted()), 3; got != want {
		t.Fatalf("PagerDuty requests=%d, want %d", got, want)
	}
	// Every push authenticated (the log alone would not say: "401" also
	// turns up inside durations such as 3.401566ms).
	if n := testutil.ToFloat64(g.Metrics.IngestAuthFails.WithLabelValues("alertmanager")); n != 0 {
		t.Fatalf("alertmanager was refused by alertgate %v times:\n%s", n, logs.String())
	}
}

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds; a deadline, not a timing assertion:
// Alertmanager flushes on its own schedule.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
