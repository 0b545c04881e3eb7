package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
	sentryhttp "github.com/getsentry/sentry-go/http"
)

// InitSentry enables sentry-go for alertgate's own errors and panics when
// SENTRY_DSN is set (the alerts it routes never go there). It returns a
// flush function to call before exit.
func InitSentry(release string) (flush func(), err error) {
	dsn := os.Getenv("SENTRY_DSN")
	if dsn == "" {
		return func() {}, nil
	}
	if err := sentry.Init(sentry.ClientOptions{
		Dsn:              dsn,
		Release:          release,
		AttachStacktrace: true,
		Environment:      os.Getenv("SENTRY_ENVIRONMENT"),
		SendDefaultPII:   false,
		BeforeSend:       scrubRequest,
	}); err != nil {
		return func() {}, fmt.Errorf("SENTRY_DSN: %s", redact(err.Error(), dsn))
	}
	return func() { sentry.Flush(2 * time.Second) }, nil
}

// redact removes the DSN, whose user part is a key, from sentry-go's error
// (a URL parse error quotes the whole URL).
func redact(msg, dsn string) string {
	q := strconv.Quote(dsn)
	msg = strings.ReplaceAll(msg, q[1:len(q)-1], "…")
	return strings.ReplaceAll(msg, dsn, "…")
}

// keptHeaders are the only request headers an event keeps: enough to find
// the request in alertgate's logs, nothing a source authenticates with.
var keptHeaders = []string{"Content-Type", "Content-Length", "User-Agent", "X-Request-Id"}

// scrubRequest strips an event's request down to method, URL path and
// keptHeaders. Webhook bodies are the alerts alertgate routes, and tokens
// travel in headers (Authorization, Sentry-Hook-Signature) and in the query
// string (the legacy Sentry plugin's ?token=): none of it may reach Sentry,
// whatever the SDK's own defaults become.
func scrubRequest(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	r := ev.Request
	if r == nil {
		return ev
	}
	r.Data, r.QueryString, r.Cookies, r.Env = "", "", "", nil
	kept := make(map[string]string, len(keptHeaders))
	for _, k := range keptHeaders {
		if v, ok := r.Headers[k]; ok {
			kept[k] = v
		}
	}
	r.Headers = kept
	return ev
}

// sentryMiddleware reports handler panics to Sentry with the request, then
// re-panics so that a recoverer outside it still answers the request. It
// must wrap the handler inside any recoverer: a panic recovered before it
// never reaches Sentry. Without an enabled client (SENTRY_DSN unset) it
// returns next unchanged: sentry-go binds a no-op client rather than nil, so
// callers cannot tell by Client() != nil.
func sentryMiddleware(next http.Handler) http.Handler {
	if !sentry.CurrentHub().Client().IsEnabled() {
		return next
	}
	return sentryhttp.New(sentryhttp.Options{Repanic: true}).Handle(next)
}

// SentryLogs wraps a log handler so that every Error record also goes to
// Sentry as an event (message, attributes as extras), when SENTRY_DSN is
// set: "webhook not stored", "notification dead-lettered" and the like are
// alertgate's own errors. Without Sentry it returns h unchanged.
func SentryLogs(h slog.Handler) slog.Handler {
	if !sentry.CurrentHub().Client().IsEnabled() {
		return h
	}
	return &sentryLogs{Handler: h}
}

type sentryLogs struct {
	slog.Handler
	attrs []slog.Attr
}

func (s *sentryLogs) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		ev := sentry.NewEvent()
		ev.Level = sentry.LevelError
		ev.Message = r.Message
		ev.Logger = "alertgate"
		log := sentry.Context{}
		add := func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
				ev.Exception = []sentry.Exception{{Type: fmt.Sprintf("%T", err), Value: err.Error()}}
			}
			log[a.Key] = a.Value.String()
			return true
		}
		for _, a := range s.attrs {
			add(a)
		}
		r.Attrs(add)
		ev.Contexts["log"] = log
		sentry.CaptureEvent(ev)
	}
	return s.Handler.Handle(ctx, r)
}

func (s *sentryLogs) WithAttrs(as []slog.Attr) slog.Handler {
	return &sentryLogs{Handler: s.Handler.WithAttrs(as), attrs: append(append([]slog.Attr(nil), s.attrs...), as...)}
}

func (s *sentryLogs) WithGroup(name string) slog.Handler {
	return &sentryLogs{Handler: s.Handler.WithGroup(name), attrs: s.attrs}
}
