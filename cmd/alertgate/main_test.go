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

// route test --at evaluates the routes' time intervals at that time, and
// check reports a config's hold rules' problems with line and key.
func TestRouteTestAt(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("holds.yaml", `runbooks_dir: `+filepath.Join(dir, "no-runbooks")+`
teams: [{name: payments}]
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '18:00'}]
        location: Europe/Berlin
routes:
  - match: ['service="checkout"']
    team: payments
    active_time_intervals: [office-hours]
  - match: []
    team: payments
    notify: digest
`)
	bad := write("bad.yaml", `teams: [{name: payments}]
routes:
  - team: payments
    mute_time_intervals: [holidays]
`)
	labels := []string{"route", "test", "--config", cfg, "--labels", "service=checkout,severity=critical"}
	tests := []struct {
		name string
		args []string
		code int
		out  []string // substrings of stdout+stderr
	}{
		// Saturday 04:00 in Berlin: outside office hours, the page is held.
		{"held", append(labels, "--at", "2026-12-05T03:00:00Z"), 0, []string{
			"page     no: held: outside active interval \"office-hours\" (routes[0].active_time_intervals)\n",
			"action   held (muted_time: outside active interval \"office-hours\", routes[0].active_time_intervals)\n"}},
		// Friday 09:00 in Berlin, with an offset: it pages.
		{"pages", append(labels, "--at", "2026-12-04T09:00:00+01:00"), 0, []string{
			"page     yes: a new firing episode pages team payments", "action   page\n"}},
		{"json", append(labels, "--at", "2026-12-05T03:00:00Z", "--json"), 0, []string{
			`"action": "held"`, `"reason": "muted_time"`, `"by": "office-hours"`, `"rule": "routes[0].active_time_intervals"`}},
		{"digest", []string{"route", "test", "--config", cfg, "--labels", "service=search", "--at", "2026-12-04T10:00:00Z"}, 0, []string{
			"action   digest (digest_only: routes[1] notify: digest: listed in the team's digest, never paged, routes[1].notify)\n"}},
		{"bad --at", append(labels, "--at", "2026-12-05 03:00"), 1, []string{
			`--at: want an RFC 3339 time like 2026-12-05T03:00:00Z, got "2026-12-05 03:00"`}},
		{"check", []string{"check", "--config", bad}, 1, []string{
			`bad.yaml: line 4: routes[0].mute_time_intervals[0]: unknown time interval "holidays"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit=%d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			for _, want := range tt.out {
				if !strings.Contains(out+errs, want) {
					t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", want, out, errs)
				}
			}
		})
	}
}
