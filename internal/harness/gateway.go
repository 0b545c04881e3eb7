package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/app"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/sinks"
	"github.com/alertgate/alertgate/sinks/slack"
)

// Routing keys of the default config's teams (PagerDuty's are 32 characters).
const (
	PaymentsKey = "paymentspaymentspaymentspayments"
	PlatformKey = "platformplatformplatformplatform"
)

// DefaultConfig pages two teams; {{PD}}, {{RUNBOOKS}} and {{DATA}} are
// filled in by Start.
const DefaultConfig = `
listen: "127.0.0.1:0"
public_url: "http://alertgate.test"
data_dir: "{{DATA}}"
runbooks_dir: "{{RUNBOOKS}}"
pagerduty:
  events_url: "{{PD}}"
  rate_limit: 600000
delivery:
  attempts: 3
  min_backoff: 20ms
  max_backoff: 200ms
  timeout: 5s
teams:
  - name: payments
    pagerduty_routing_key: "` + PaymentsKey + `"
  - name: platform
    pagerduty_routing_key: "` + PlatformKey + `"
  - name: dryrun
routes:
  - match: ['service=~"checkout|payments"']
    team: payments
  - match: ['service="dry"']
    team: dryrun
  - match: []
    team: platform
`

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Testdata reads a file under the repository's testdata/.
func Testdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(), "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Options configure Start.
type Options struct {
	// Config is YAML with {{PD}}, {{RUNBOOKS}} and {{DATA}} placeholders;
	// empty uses DefaultConfig.
	Config string
	// DataDir to reuse (a restart); empty makes a temp dir.
	DataDir string
	// PD is the loopback PagerDuty; nil starts one.
	PD *PagerDuty
	// Now replaces the gateway's clock.
	Now func() time.Time
	// Slack is the loopback Slack; {{SLACK}} in Config is its base URL.
	Slack *Slack
	// SlackAPI is the loopback Slack Web API; {{SLACKAPI}} in Config is
	// its api_url.
	SlackAPI *SlackAPI
	// DigestMaxItems bounds the items of one digest message (0: default).
	DigestMaxItems int
	// WebConfigFile is given to the gateway as serve's --web.config.file.
	WebConfigFile string
	// Log receives the gateway's JSON log lines, debug level included
	// (nil: Logger()). Writes come from many goroutines.
	Log io.Writer
}

// Gateway is an in-process alertgate under test.
type Gateway struct {
	*app.Gateway
	PD   *PagerDuty
	opts Options
	t    testing.TB
}

// Start runs a gateway; it is closed when the test ends.
func Start(t testing.TB, o Options) *Gateway {
	t.Helper()
	if o.PD == nil {
		o.PD = NewPagerDuty(t)
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	slackURL := ""
	if o.Slack != nil {
		slackURL = o.Slack.URL
	}
	slackAPIURL := ""
	if o.SlackAPI != nil {
		slackAPIURL = o.SlackAPI.APIURL()
	}
	y := strings.NewReplacer("{{SLACKAPI}}", slackAPIURL, "{{SLACK}}", slackURL, "{{PD}}", o.PD.URL, "{{RUNBOOKS}}", filepath.Join(Root(), "examples", "runbooks"), "{{DATA}}", o.DataDir).Replace(o.Config)
	cfg, err := config.Load([]byte(y), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := Logger()
	if o.Log != nil {
		logger = slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	g := &Gateway{Gateway: app.New(cfg, logger), PD: o.PD, opts: o, t: t}
	g.WebConfigFile = o.WebConfigFile
	if o.Now != nil {
		g.Now = o.Now
	}
	g.DigestTick = 10 * time.Millisecond
	g.RecheckEvery = 20 * time.Millisecond
	g.DigestMaxItems = o.DigestMaxItems
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		_ = g.Close(context.Background())
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(g.Stop)
	return g
}

// Logger logs to stderr when ALERTGATE_TEST_LOG is set, else nowhere.
func Logger() *slog.Logger {
	if os.Getenv("ALERTGATE_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// Stop closes the gateway gracefully (idempotent).
func (g *Gateway) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = g.Close(ctx)
}

// Restart stops the gateway and starts a new one on the same data dir,
// config and PagerDuty: what survives is what is on disk.
func (g *Gateway) Restart(t testing.TB) *Gateway {
	t.Helper()
	g.Stop()
	return Start(t, g.opts)
}

// Post sends a webhook and returns the status and body.
func (g *Gateway) Post(t testing.TB, path string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// MustAccept posts and fails the test unless the answer is 202; it returns
// the accepted and duplicate counts.
func (g *Gateway) MustAccept(t testing.TB, path string, body []byte, header map[string]string) alertgate.PublishResult {
	t.Helper()
	code, b := g.Post(t, path, body, header)
	if code != http.StatusAccepted {
		t.Fatalf("POST %s: status %d, body %s", path, code, b)
	}
	var res alertgate.PublishResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("POST %s: %v in %s", path, err, b)
	}
	return res
}

// Get fetches a JSON endpoint into v.
func (g *Gateway) Get(t testing.TB, path string, v any) int {
	t.Helper()
	resp, err := http.Get(g.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// Settle waits until every stage is idle: nothing pending or unacknowledged
// on the router's and the sinks' consumers and no digest being flushed,
// twice in a row. Retries scheduled with a delay count as unacknowledged,
// so Settle waits for them.
func (g *Gateway) Settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	idle := 0
	for time.Now().Before(deadline) {
		if g.idle() {
			idle++
			if idle == 2 {
				return
			}
		} else {
			idle = 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pipeline not idle after 60s")
}

func (g *Gateway) idle() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// A consumer is caught up when nothing is pending or in hand and its
	// ack floor has reached the last message of its subjects. The floor
	// matters: right after a publish the consumer may not have counted
	// the new message as pending yet (the stream signals it
	// asynchronously), and on a loaded machine two checks in a row can
	// both come before that.
	caughtUp := func(s jetstream.Stream, consumer, filter string) bool {
		c, err := s.Consumer(ctx, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
			return false
		}
		last, err := s.GetLastMsgForSubject(ctx, filter)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return true
		}
		return err == nil && info.AckFloor.Stream >= last.Sequence
	}
	if !caughtUp(g.Bus.Alerts, routes.ConsumerName, bus.SubjectAlerts+".>") {
		return false
	}
	for _, w := range g.Workers {
		if !caughtUp(g.Bus.Notify, sinks.ConsumerName(w.Sink), bus.DeliverySubject(w.Sink, ">")) {
			return false
		}
	}
	if g.SlackMessages != nil && !caughtUp(g.Bus.Notify, slack.UpdaterConsumer, bus.NotifySubject(alertgate.SinkPagerDuty, ">")) {
		return false
	}
	// A digest being flushed still writes (its log record, the bug
	// classes' digested counts).
	busy, err := g.Digester.Busy(ctx)
	return err == nil && !busy
}

// Notifications returns GET /v1/notifications.
func (g *Gateway) Notifications(t testing.TB) []map[string]any {
	t.Helper()
	var out struct {
		Notifications []map[string]any `json:"notifications"`
	}
	if code := g.Get(t, "/v1/notifications?limit=10000", &out); code != http.StatusOK {
		t.Fatalf("GET /v1/notifications: %d", code)
	}
	return out.Notifications
}
