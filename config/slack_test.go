package config

import (
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
)

// appLine is a commented-out line of the Slack app in the example.
var appLine = regexp.MustCompile(`^(\s*)# ((?:bot_token|signing_secret|api_url|slack_channel): .*\n?)$`)

// exampleSlackApp is examples/alertgate.yaml with its Slack app lines
// uncommented, as a reader would: a team given a slack_channel loses its
// slack_webhook_url (the line just above), since a team has one or the
// other.
func exampleSlackApp(t *testing.T) (string, int) {
	t.Helper()
	b, err := os.ReadFile("../examples/alertgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	n := 0
	for line := range strings.Lines(string(b)) {
		m := appLine.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		n++
		if strings.HasPrefix(m[2], "slack_channel:") && len(out) > 0 && strings.HasPrefix(strings.TrimSpace(out[len(out)-1]), "slack_webhook_url:") {
			out = out[:len(out)-1]
		}
		out = append(out, m[1]+m[2])
	}
	return strings.Join(out, ""), n
}

// The example's commented-out Slack app lines, uncommented, are a valid
// config in app mode: what a reader copies works.
func TestExampleSlackApp(t *testing.T) {
	y, n := exampleSlackApp(t)
	if n != 4 {
		t.Fatalf("%d Slack app lines in examples/alertgate.yaml, want bot_token, signing_secret, api_url and a slack_channel", n)
	}
	vars := maps.Clone(exampleEnv)
	vars["SLACK_BOT_TOKEN"] = "xoxb-example"
	vars["SLACK_SIGNING_SECRET"] = "example-signing-secret"
	c, err := Load([]byte(y), env(vars))
	if err != nil {
		t.Fatalf("the example with its Slack app lines: %v", err)
	}
	if !c.Slack.AppMode() || c.Slack.SigningSecret.Value() != "example-signing-secret" || c.Slack.APIURL != "https://slack.com/api/" {
		t.Fatalf("slack=%+v, want app mode with the signing secret and Slack's API", c.Slack)
	}
	channels := map[string]string{}
	for _, team := range c.Teams {
		channels[team.Name] = team.SlackChannel
		if team.SlackChannel != "" && team.SlackWebhookURL != "" {
			t.Fatalf("team %s has a channel and a webhook", team.Name)
		}
	}
	if got, want := channels["payments"], "#payments-alerts"; got != want {
		t.Fatalf("payments' slack_channel=%q, want %q", got, want)
	}
	// Uncommented with only the token set, it names the missing secret.
	delete(vars, "SLACK_SIGNING_SECRET")
	if _, err := Load([]byte(y), env(vars)); err == nil || !strings.Contains(err.Error(), "slack.signing_secret: missing") {
		t.Fatalf("without SLACK_SIGNING_SECRET: %v, want slack.signing_secret: missing", err)
	}
}
