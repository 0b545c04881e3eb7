package app

import (
	"net/http"
	"os"
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
	}); err != nil {
		return func() {}, err
	}
	return func() { sentry.Flush(2 * time.Second) }, nil
}

// sentryMiddleware reports handler panics to Sentry with the request, then
// re-panics into the server's own recoverer.
func sentryMiddleware(next http.Handler) http.Handler {
	return sentryhttp.New(sentryhttp.Options{Repanic: true}).Handle(next)
}
