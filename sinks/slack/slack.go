// Package slack renders a team's digest (new bug classes, regressions,
// spikes, recurring counts, incidents opened and resolved, pages without a
// runbook) as a Block Kit message within Slack's limits, stores it in
// NOTIFY as a notification (Digester), and delivers it through the sinks
// Worker to the team channel's incoming webhook, at most one message per
// second per webhook (Notifier). Rendering is pure.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/sinks"
)

// maxErrorBody bounds how much of an error answer is read and quoted.
const maxErrorBody = 512

// Notifier posts messages to each team's incoming webhook.
type Notifier struct {
	hc       *http.Client
	webhooks map[string]string // team -> webhook URL, a secret
	now      func() time.Time
	// pace is the limit per webhook: Slack allows about one message per
	// second per channel.
	pace *sinks.Pace
}

// New returns a Notifier for the teams' webhook URLs (team -> URL). Teams
// with an empty URL are not Enabled. A nil hc means a default client; the
// caller's context bounds each Notify.
func New(webhooks map[string]string, hc *http.Client) *Notifier {
	if hc == nil {
		hc = &http.Client{}
	}
	w := make(map[string]string, len(webhooks))
	for team, u := range webhooks {
		if u = strings.TrimSpace(u); u != "" {
			w[team] = u
		}
	}
	return &Notifier{hc: hc, webhooks: w, now: time.Now, pace: sinks.NewPace(time.Second, 1)}
}

// Enabled reports whether team has a webhook; a team without one runs in
// dry-run.
func (n *Notifier) Enabled(team string) bool { return n.webhooks[team] != "" }

// Teams lists the teams with a webhook, for logs at start.
func (n *Notifier) Teams() []string {
	out := make([]string, 0, len(n.webhooks))
	for t := range n.webhooks {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Reserve takes note's turn under its webhook's rate limit (the Worker
// waits for it before Notify; sinks.Throttle).
func (n *Notifier) Reserve(note alertgate.Notification) time.Duration {
	return n.pace.Reserve(n.webhooks[note.Team])
}

// Notify posts a digest (its Body is the Slack message) to the team's
// webhook now; the rate limit is the caller's (Reserve). Success is only
// HTTP 200 with the body "ok". On failure, retry says whether trying again
// may help: yes for 429 (the error carries Retry-After, see
// sinks.RetryAfter), 5xx and network errors; no for other 4xx
// (invalid_payload, channel_not_found, channel_is_archived, …) and for a
// 200 that is not "ok". Errors name the team, never the webhook URL.
func (n *Notifier) Notify(ctx context.Context, note alertgate.Notification) (retry bool, err error) {
	team := note.Team
	webhook := n.webhooks[team]
	switch {
	case webhook == "":
		return false, fmt.Errorf("slack: team %q has no webhook", team)
	case note.Type != alertgate.TypeDigest:
		// Items reach Slack inside their team's digest only.
		return false, fmt.Errorf("slack: team %q: a %s notification is not sent on its own", team, note.Type)
	case len(note.Body) == 0:
		return false, fmt.Errorf("slack: team %q: digest %s has no message", team, note.ID)
	}
	// NOTIFY's encoding (internal/wire) writes the message's strings with
	// escapes of its own; Slack gets the message as encoding/json writes
	// it, as the goldens show.
	body, err := json.Marshal(json.RawMessage(note.Body))
	if err != nil {
		return false, fmt.Errorf("slack: team %q: digest %s: %w", team, note.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL: do not wrap it.
		return false, fmt.Errorf("slack: team %q: invalid webhook URL", team)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.hc.Do(req)
	if err != nil {
		return true, fmt.Errorf("slack: team %q: post: %w", team, redact(err, webhook))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if err != nil {
		return true, fmt.Errorf("slack: team %q: read answer: %w", team, redact(err, webhook))
	}
	answer := scrub(strings.TrimSpace(string(raw)), webhook)
	if resp.StatusCode == http.StatusOK && answer == "ok" {
		return false, nil
	}
	herr := &sinks.HTTPError{Status: resp.StatusCode, Body: answer}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		herr.After = sinks.ParseRetryAfter(resp.Header.Get("Retry-After"), n.now())
	}
	// A 200 that is not "ok" is Slack refusing the message in its own
	// words: sending it again will not change the answer.
	retry = resp.StatusCode != http.StatusOK && sinks.Retryable(resp.StatusCode)
	return retry, fmt.Errorf("slack: team %q: %w", team, herr)
}

// encode is the request body of msg; the goldens are it, indented.
func encode(msg *slackapi.WebhookMessage) ([]byte, error) { return json.Marshal(msg) }

// redact drops net/http's *url.Error, whose text is the full webhook URL,
// keeping its cause, and scrubs what is left in case the cause quotes the
// URL too. The result no longer matches errors.As(*url.Error) on purpose.
func redact(err error, webhook string) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if s := err.Error(); scrub(s, webhook) != s {
		return errors.New(scrub(s, webhook))
	}
	return err
}

// scrub removes the webhook URL, and its path (where the secret is), from
// s.
func scrub(s, webhook string) string {
	s = strings.ReplaceAll(s, webhook, "[webhook]")
	if u, err := url.Parse(webhook); err == nil && len(u.Path) > 1 {
		s = strings.ReplaceAll(s, u.Path, "[webhook]")
		if u.RawPath != "" {
			s = strings.ReplaceAll(s, u.RawPath, "[webhook]")
		}
	}
	return s
}

var (
	_ sinks.Notifier = (*Notifier)(nil)
	_ sinks.Throttle = (*Notifier)(nil)
)
