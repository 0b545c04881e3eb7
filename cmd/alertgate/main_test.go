package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// The commands as a user's CI calls them, from the repository root.
func TestCommands(t *testing.T) {
	t.Chdir("../..")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("teams: [{name: a}]\nroutes:\n  - match: ['service=~\"(\"']\n    team: nobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout+stderr
	}{
		// the shipped example is valid
		{"check example", []string{"check", "--config", "examples/alertgate.yaml"}, 0, "3 teams"},
		// errors name the file, the key and the problem
		{"check bad", []string{"check", "--config", bad}, 1, "bad.yaml"},
		{"check bad key", []string{"check", "--config", bad}, 1, "routes[0]"},
		// route test by labels
		{"route labels", []string{"route", "test", "--config", "examples/alertgate.yaml", "--labels", "service=checkout,alertname=HighErrorRate,source=alertmanager"}, 0, "checkout-high-error-rate"},
		// route test as a CI check that fails
		{"route expect", []string{"route", "test", "--config", "examples/alertgate.yaml", "--payload", "testdata/fixtures/sentry_issue_created.json", "--source", "sentry", "--expect-team", "payments"}, 1, "goes to team frontend, expected payments"},
		// explain a payload without a gateway
		{"explain", []string{"explain", "--config", "examples/alertgate.yaml", "--payload", "testdata/fixtures/datadog_triggered.json", "--source", "datadog", "--url", ""}, 0, `"kind": "incident"`},
		// a payload the parser rejects
		{"explain invalid", []string{"explain", "--config", "examples/alertgate.yaml", "--payload", "testdata/fixtures/datadog_triggered.json", "--source", "sentry", "--url", ""}, 1, "datadog_triggered.json"},
		// unknown command
		{"unknown", []string{"frobnicate"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit=%d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out+errs, tt.out) {
				t.Fatalf("output lacks %q:\nstdout: %s\nstderr: %s", tt.out, out, errs)
			}
		})
	}
}
