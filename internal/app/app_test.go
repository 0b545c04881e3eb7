package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/silences"
	"github.com/alertgate/alertgate/web"
)

// A web config that cannot serve fails the start, naming the file, before
// JetStream or any port is opened.
func TestStartRefusesBadWebConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.yml"), "no such file"},
		{"missing certificate", write("nocert.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n"), "nope.crt"},
		{"unknown key", write("typo.yml", "tls_server_configs: {}\n"), "tls_server_configs"},
		{"bad password hash", write("users.yml", "basic_auth_users:\n  alice: plaintext\n"), "hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			g := New(cfg, slog.New(slog.DiscardHandler))
			g.WebConfigFile = tc.path
			err := g.Start(context.Background())
			defer g.Close(context.Background())
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), "--web.config.file") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to name --web.config.file and %q", err, tc.want)
			}
			if g.Bus != nil {
				t.Fatal("JetStream was opened before the web config was checked")
			}
		})
	}
}

// The api section becomes the web server's Access; the start says whether
// the API is open, and never shows a token.
func TestAPIAccessAndWarning(t *testing.T) {
	const readTok, adminTok = "app-READ-token-1", "app-ADMIN-token-1"
	cfg, err := config.Load([]byte(`
teams: [{name: a}]
routes: [{team: a}]
api:
  tokens:
    - {name: grafana, token: `+readTok+`, role: read}
    - {name: oncall, token: `+adminTok+`, role: admin}
  protect_metrics: true
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	acc := APIAccess(cfg.API)
	if len(acc.Tokens) != 2 || acc.Tokens[0].Name != "grafana" || acc.Tokens[0].Role != web.RoleRead || acc.Tokens[1].Role != web.RoleAdmin || !acc.ProtectMetrics {
		t.Fatalf("access=%v", acc)
	}
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		want string
	}{
		{"tokens", cfg, `"msg":"the API takes tokens","read":["grafana"],"admin":["oncall"]`},
		{"open", config.Default(), `"level":"WARN","msg":"the API is open`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			g := New(tc.cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
			g.warnOpenAPI()
			if !strings.Contains(logs.String(), tc.want) {
				t.Fatalf("log %s, want %s", logs.String(), tc.want)
			}
			if strings.Contains(logs.String(), readTok) || strings.Contains(logs.String(), adminTok) {
				t.Fatalf("log shows a token: %s", logs.String())
			}
		})
	}
}

// The gateway loads the silences before it serves, answers the silence
// API from them, counts them in alertgate_silences, and keeps them across
// a restart.
func TestGatewaySilences(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	start := func() *Gateway {
		t.Helper()
		g := New(cfg, slog.New(slog.DiscardHandler))
		if err := g.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := start()
	defer func() { _ = g.Close(context.Background()) }()
	resp, err := http.Post(g.URL()+"/v1/silences", "application/json", strings.NewReader(`{"matchers":["service=\"checkout\""],"duration":"2h","comment":"deploy"}`))
	if err != nil {
		t.Fatal(err)
	}
	var added struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&added)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || added.ID == "" {
		t.Fatalf("POST /v1/silences: %s, id %q", resp.Status, added.ID)
	}
	if sil := g.Silences.Silenced(map[string]string{"service": "checkout"}, time.Now()); sil == nil || sil.ID != added.ID || sil.CreatedBy != web.Anonymous {
		t.Fatalf("Silenced=%+v, want %s by %s", sil, added.ID, web.Anonymous)
	}
	metricsText := func(g *Gateway) string {
		resp, err := http.Get(g.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, want := range []string{`alertgate_silences{state="active"} 1`, `alertgate_silences{state="pending"} 0`} {
		if m := metricsText(g); !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := g.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	g = start()
	if got := g.Silences.List(silences.StateActive, time.Now()); len(got) != 1 || got[0].ID != added.ID || got[0].Comment != "deploy" {
		t.Fatalf("after a restart: %+v", got)
	}
}
