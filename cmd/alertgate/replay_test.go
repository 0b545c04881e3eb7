package main

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/replay"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/web"
)

// cliReplayConfig pages payments for checkout and platform for the rest.
const cliReplayConfig = `
teams: [{name: payments}, {name: platform}]
routes:
  - match: ['service="checkout"']
    team: payments
  - match: []
    team: platform
`

// replayGateway serves POST /v1/replay from a real runner over a stored
// history on an embedded JetStream, with a read and an admin token.
func replayGateway(t *testing.T) *httptest.Server {
	t.Helper()
	b := natstest.OpenBus(t, t.TempDir())
	start := time.Now().Add(-time.Hour)
	if err := loadgen.StoreHistory(t.Context(), b, 400, 8, start, time.Second); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]byte(cliReplayConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	r := &replay.Runner{Bus: b, Live: cfg, Routes: routes.New(cfg, nil), Logger: log, Metrics: metrics.New()}
	srv := &web.Server{
		Replayer: r, Audit: bus.AuditTrail{Bus: b}, Logger: log, Metrics: metrics.New(),
		Access: web.Access{Tokens: []web.Token{web.NewToken("grafana", cliReadToken, web.RoleRead), web.NewToken("oncall", cliAdminToken, web.RoleAdmin)}},
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

// alertgate replay prints actual → candidate per team, the routes, and
// the keys that differ with the rule; --json prints the report.
func TestReplayCommand(t *testing.T) {
	hs := replayGateway(t)
	cand := filepath.Join(t.TempDir(), "candidate.yaml")
	digest := strings.Replace(cliReplayConfig, "    team: platform\n", "    team: platform\n    notify: digest\n", 1)
	if err := os.WriteFile(cand, []byte(digest), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := func(token string, args ...string) (int, string, string) {
		t.Helper()
		t.Setenv(tokenEnv, token)
		return run(t, append([]string{"replay", "--url", hs.URL, "--config", cand}, args...)...)
	}

	code, out, errs := cmd(cliAdminToken, "--since", "2h")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	// History's 8 keys: the 2 of checkout are bug classes, the other 6
	// incidents of 25 episodes each, all held by the candidate's catch-all.
	// NOTIFY is empty (nothing ran): every page of the live config is a
	// finding.
	for _, want := range []string{
		"replayed 400 stored events",
		"0 → 150 (digest_only 0 → 150)",
		"candidate  routes[1] {}                    platform  digest  300",
		"6 key(s) differ",
		"paged 25×, resolved 25× to platform  held 25× (digest_only) to platform  routes[1] notify: digest",
		"NOT EXACT: 150 finding(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = cmd(cliAdminToken, "--json", "--limit", "1")
	var rep alertgate.ReplayReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Differences) != 1 || rep.DifferencesTotal < 1 {
		t.Fatalf("--json: exit %d: %s", code, out)
	}

	code, _, errs = cmd(cliReadToken)
	if code != 1 || !strings.Contains(errs, "role admin") {
		t.Fatalf("read token: exit %d: %s", code, errs)
	}
	code, _, errs = run(t, "replay", "--url", hs.URL)
	if code != 1 || !strings.Contains(errs, "--config missing") {
		t.Fatalf("no --config: exit %d: %s", code, errs)
	}
}
