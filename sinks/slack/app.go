package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/sinks"
)

// App delivers the digests of the teams with a slack_channel as alertgate's
// Slack app: chat.postMessage, then chat.update for each change to show.
// Teams without a channel go through their webhook (Webhooks), as before.
type App struct {
	api      *slackapi.Client
	token    string
	channels map[string]string // team -> channel
	webhooks *Notifier
	messages *Messages
	metrics  *metrics.Metrics
	logger   *slog.Logger
	// pace is the limit per channel: Slack allows about one message a
	// second per channel, and chat.update is Tier 3 (about 50 a minute).
	pace *sinks.Pace
}

// AppOptions configure NewApp.
type AppOptions struct {
	// Token is the bot token; APIURL Slack's Web API base.
	Token, APIURL string
	// Channels are the teams' channels (team -> "#name" or ID).
	Channels map[string]string
	// Webhooks deliver the teams without a channel.
	Webhooks *Notifier
	Messages *Messages
	// HTTPClient is the base client (nil: a default one).
	HTTPClient *http.Client
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
}

// NewApp returns the Slack app's notifier.
func NewApp(o AppOptions) *App {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	// The token goes in the Authorization header, as Slack asks, rather
	// than in the form where slack-go puts it.
	client := &http.Client{Transport: bearer{token: o.Token, next: next}, Timeout: hc.Timeout}
	base := strings.TrimRight(o.APIURL, "/") + "/"
	ch := map[string]string{}
	for team, c := range o.Channels {
		if c = strings.TrimSpace(c); c != "" {
			ch[team] = c
		}
	}
	return &App{
		api:   slackapi.New("", slackapi.OptionAPIURL(base), slackapi.OptionHTTPClient(client)),
		token: o.Token, channels: ch, webhooks: o.Webhooks, messages: o.Messages, metrics: o.Metrics, logger: o.Logger,
		pace: sinks.NewPace(1200*time.Millisecond, 10),
	}
}

// Channel is the team's channel in app mode ("" for a webhook team).
func (a *App) Channel(team string) string { return a.channels[team] }

// Enabled reports whether the team has a channel or a webhook.
func (a *App) Enabled(team string) bool {
	return a.channels[team] != "" || (a.webhooks != nil && a.webhooks.Enabled(team))
}

// Reserve takes note's turn under its channel's rate limit.
func (a *App) Reserve(note alertgate.Notification) time.Duration {
	if c := a.channels[note.Team]; c != "" {
		return a.pace.Reserve("channel:" + c)
	}
	if a.webhooks == nil {
		return 0
	}
	return a.webhooks.Reserve(note)
}

// Notify posts a digest, or edits one already posted (digest_update).
func (a *App) Notify(ctx context.Context, note alertgate.Notification) (bool, error) {
	channel := a.channels[note.Team]
	if channel == "" {
		if a.webhooks == nil || note.Type == alertgate.TypeDigestUpdate {
			// A webhook's message cannot be edited: nothing to do.
			return false, fmt.Errorf("slack: team %q has no slack_channel: a %s cannot be sent", note.Team, note.Type)
		}
		return a.webhooks.Notify(ctx, note)
	}
	switch note.Type {
	case alertgate.TypeDigest:
		return a.post(ctx, channel, note)
	case alertgate.TypeDigestUpdate:
		return a.update(ctx, note)
	}
	return false, fmt.Errorf("slack: team %q: a %s notification is not sent on its own", note.Team, note.Type)
}

func (a *App) post(ctx context.Context, channel string, note alertgate.Notification) (bool, error) {
	rec, _, err := a.messages.Get(ctx, note.ID)
	if err != nil {
		return true, fmt.Errorf("slack: team %q: digest %s: %w", note.Team, note.ID, err)
	}
	if rec != nil && rec.Posted() {
		// Posted before a crash that kept the delivery from being
		// recorded: posting again would show it twice.
		a.logger.Info("digest already posted, not posting again", "team", note.Team, "digest", note.ID, "channel", rec.Channel, "ts", rec.TS)
		return false, nil
	}
	var msg slackapi.WebhookMessage
	if err := json.Unmarshal(note.Body, &msg); err != nil {
		return false, fmt.Errorf("slack: team %q: digest %s: %w", note.Team, note.ID, err)
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(msg.Text, false)}
	if msg.Blocks != nil {
		opts = append(opts, slackapi.MsgOptionBlocks(msg.Blocks.BlockSet...))
	}
	gotChannel, ts, err := a.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return a.failed(note.Team, "chat.postMessage", err)
	}
	if rec == nil {
		return false, nil
	}
	rec, _, err = a.messages.Change(ctx, note.ID, func(m *Message) bool {
		m.Channel, m.TS, m.Rendered = gotChannel, ts, m.Version
		return true
	})
	if err == nil && rec != nil {
		err = a.messages.Index(ctx, note.ID, rec.Keys())
	}
	if err != nil {
		// Posted: sending again would post it twice. It stays as it is;
		// its items' changes show in the next digest.
		a.logger.Warn("digest posted but not recorded: it will not be edited", "team", note.Team, "digest", note.ID, "err", err)
	}
	return false, nil
}

// errNotPosted: an edit came before its digest was posted.
var errNotPosted = errors.New("its digest is not posted yet")

func (a *App) update(ctx context.Context, note alertgate.Notification) (bool, error) {
	rec, _, err := a.messages.Get(ctx, note.Key)
	switch {
	case err != nil:
		return true, fmt.Errorf("slack: team %q: digest %s: %w", note.Team, note.Key, err)
	case rec == nil:
		// Expired: nothing left to edit.
		a.logger.Info("digest record gone, not edited", "team", note.Team, "digest", note.Key)
		return false, nil
	case !rec.Posted():
		return true, fmt.Errorf("slack: team %q: digest %s: %w", note.Team, note.Key, errNotPosted)
	case rec.Rendered >= rec.Version:
		// An earlier edit showed this change already.
		a.metrics.SlackUpdates.WithLabelValues("coalesced").Inc()
		return false, nil
	}
	msg := Render(rec.Digest)
	if msg == nil {
		return false, nil
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks.BlockSet...)}
	if _, _, _, err := a.api.UpdateMessageContext(ctx, rec.Channel, rec.TS, opts...); err != nil {
		return a.failed(note.Team, "chat.update", err)
	}
	a.metrics.SlackUpdates.WithLabelValues("sent").Inc()
	version := rec.Version
	if _, _, err := a.messages.Change(ctx, note.Key, func(m *Message) bool {
		if m.Rendered >= version {
			return false
		}
		m.Rendered = version
		return true
	}); err != nil {
		a.logger.Warn("digest edited but not recorded: a redelivery edits it again", "team", note.Team, "digest", note.Key, "err", err)
	}
	return false, nil
}

// permanent are Slack's errors a retry cannot fix: a person must invite
// the bot, fix the channel or the token (docs/runbooks/alertgate-slack-app.md).
var permanent = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true, "token_expired": true,
	"missing_scope": true, "message_not_found": true, "cant_update_message": true,
}

// SlackError is an error answer of Slack's Web API: Code is Slack's own
// ("channel_not_found"); After is Retry-After on ratelimited.
type SlackError struct {
	Method, Code string
	After        time.Duration
}

func (e *SlackError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%s: %s (retry after %s)", e.Method, e.Code, e.After)
	}
	return e.Method + ": " + e.Code
}

// RetryAfter is the wait Slack asked for.
func (e *SlackError) RetryAfter() time.Duration { return e.After }

// failed classifies an error of Slack's Web API: ratelimited waits out
// Retry-After (the Worker redelivers no sooner); the errors a person must
// fix are permanent (dead-lettered with Slack's word for them); the rest
// are retried with backoff. The bot token is never in the error.
func (a *App) failed(team, method string, err error) (bool, error) {
	serr := &SlackError{Method: method}
	retry, label := true, ""
	var rl *slackapi.RateLimitedError
	var resp slackapi.SlackErrorResponse
	var status slackapi.StatusCodeError
	switch {
	case errors.As(err, &rl):
		serr.Code, serr.After = "ratelimited", rl.RetryAfter
		label = serr.Code
	case errors.As(err, &resp):
		serr.Code, retry = resp.Err, !permanent[resp.Err]
		label = serr.Code
	case errors.As(err, &status):
		serr.Code, retry = "HTTP "+strconv.Itoa(status.Code), sinks.Retryable(status.Code)
		label = serr.Code
	default:
		label = "network"
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text holds the URL
		}
		serr.Code = strings.ReplaceAll(err.Error(), a.token, "[bot token]")
	}
	a.metrics.SlackAPIErrors.WithLabelValues(method, label).Inc()
	return retry, fmt.Errorf("slack: team %q: %w", team, serr)
}

// bearer sends the bot token as "Authorization: Bearer" and takes it out
// of the form body, where it would reach proxies' logs.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		raw, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, err
		}
		vals.Del("token")
		body := vals.Encode()
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	}
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

var (
	_ sinks.Notifier   = (*App)(nil)
	_ sinks.Throttle   = (*App)(nil)
	_ sinks.RetryAfter = (*SlackError)(nil)
)
