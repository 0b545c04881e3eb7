package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const (
	cliReadToken  = "cli-READ-token-0001"
	cliAdminToken = "cli-ADMIN-token-0001"
)

// fakeGateway answers the dead-letter endpoints as a gateway with a read
// and an admin token does, and keeps the replay bodies it got.
type fakeGateway struct {
	mu      sync.Mutex
	replays []string
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	role := map[string]string{"Bearer " + cliReadToken: "read", "Bearer " + cliAdminToken: "admin"}[r.Header.Get("Authorization")]
	switch {
	case role == "":
		w.Header().Set("WWW-Authenticate", `Bearer realm="alertgate"`)
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/deadletters":
		_, _ = io.WriteString(w, `{"dead_letters":[{"seq":3,"reason":"HTTP 400","state":"dead","notification":{"id":"n1","sink":"pagerduty","team":"payments"}}]}`)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/explain":
		_, _ = io.WriteString(w, `{"last_decision":{"outcome":"paged"}}`)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/deadletters/replay" && role != "admin":
		http.Error(w, `{"error":"forbidden: the token \"grafana\" has role read"}`, http.StatusForbidden)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/deadletters/replay":
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" || r.URL.RawQuery != "" {
			http.Error(w, `{"error":"want a JSON body"}`, http.StatusUnsupportedMediaType)
			return
		}
		f.mu.Lock()
		f.replays = append(f.replays, string(b))
		f.mu.Unlock()
		var req struct{ ID *string }
		_ = json.Unmarshal(b, &req)
		ids := []string{"n1", "n2"}
		if req.ID != nil {
			ids = []string{*req.ID}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"replayed": ids})
	default:
		http.NotFound(w, r)
	}
}

// The commands that call a gateway send ALERTGATE_TOKEN, a replay sends
// its JSON body, and a 401 or 403 says what to set.
func TestCommandsWithToken(t *testing.T) {
	fg := &fakeGateway{}
	srv := httptest.NewServer(fg)
	defer srv.Close()
	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		out   string // substring of stdout+stderr
	}{
		// No token: say which variable to set, and the role it needs.
		{"list without token", "", []string{"deadletter", "list"}, 1, "set ALERTGATE_TOKEN to one of its api.tokens with role read"},
		// A token the gateway does not know.
		{"list wrong token", "nope", []string{"deadletter", "list"}, 1, "refused the token in ALERTGATE_TOKEN: it is not one of its api.tokens"},
		{"list", cliReadToken, []string{"deadletter", "list"}, 0, "HTTP 400"},
		// A read token cannot replay.
		{"replay read token", cliReadToken, []string{"deadletter", "replay", "--id", "n1"}, 1, "may not replay dead letters: set ALERTGATE_TOKEN to a token with role admin"},
		{"replay one", cliAdminToken, []string{"deadletter", "replay", "--id", "n1"}, 0, "replayed n1\n1 replayed"},
		{"replay all", cliAdminToken, []string{"deadletter", "replay"}, 0, "2 replayed"},
		// explain reports the refusal in place of the last decision.
		{"explain without token", "", []string{"explain", "--config", "../../examples/alertgate.yaml", "--payload", "../../testdata/fixtures/datadog_triggered.json", "--source", "datadog"}, 0, "set ALERTGATE_TOKEN"},
		{"explain", cliReadToken, []string{"explain", "--config", "../../examples/alertgate.yaml", "--payload", "../../testdata/fixtures/datadog_triggered.json", "--source", "datadog"}, 0, `"outcome": "paged"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tokenEnv, tc.token)
			code, out, errs := run(t, append(tc.args, "--url", srv.URL)...)
			if code != tc.code {
				t.Fatalf("exit=%d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			if !strings.Contains(out+errs, tc.out) {
				t.Fatalf("output lacks %q:\nstdout: %s\nstderr: %s", tc.out, out, errs)
			}
			for _, tok := range []string{cliReadToken, cliAdminToken} {
				if strings.Contains(out+errs, tok) {
					t.Fatalf("output shows a token:\n%s%s", out, errs)
				}
			}
		})
	}
	if got, want := strings.Join(fg.replays, " "), `{"id":"n1"} {}`; got != want {
		t.Fatalf("replay bodies %s, want %s", got, want)
	}
}
