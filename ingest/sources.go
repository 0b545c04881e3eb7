package ingest

import (
	"net/http"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/ingest/alertmanager"
	"github.com/alertgate/alertgate/ingest/datadog"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/ingest/sentry"
	"github.com/alertgate/alertgate/internal/secret"
)

// Sources returns the endpoints of every source, authenticated as cfg says.
func Sources(cfg config.Ingest, now func() time.Time) []Source {
	return []Source{
		{
			Name:     alertgate.SourceAlertmanager,
			Auth:     TokenAuth(cfg.Alertmanager.Token.Value()),
			Parser:   alertmanagerParser{},
			BodyOnly: true,
		},
		{
			Name:     alertgate.SourceDatadog,
			Auth:     TokenAuth(cfg.Datadog.Token.Value()),
			Parser:   datadogParser{},
			BodyOnly: true,
		},
		{
			Name:     alertgate.SourceEvents,
			Auth:     TokenAuth(cfg.Events.Token.Value()),
			Parser:   eventsParser{},
			BodyOnly: true,
		},
		{
			Name:   alertgate.SourceSentry,
			Auth:   newSentryAuth(cfg.Sentry, now),
			Parser: sentryParser{},
		},
	}
}

// alertmanagerParser parses Alertmanager's webhook (version 4).
type alertmanagerParser struct{}

func (alertmanagerParser) Parse(_ *http.Request, body []byte) ([]alertgate.Event, error) {
	return alertmanager.Parse(body)
}

// datadogParser parses a Datadog monitor webhook.
type datadogParser struct{}

func (datadogParser) Parse(_ *http.Request, body []byte) ([]alertgate.Event, error) {
	return datadog.Parse(body)
}

// eventsParser parses alertgate's own events format.
type eventsParser struct{}

func (eventsParser) Parse(_ *http.Request, body []byte) ([]alertgate.Event, error) {
	return events.Parse(body)
}

// Sentry's headers.
const (
	headerSentrySignature = "Sentry-Hook-Signature"
	headerSentryTimestamp = "Sentry-Hook-Timestamp"
	headerSentryResource  = "Sentry-Hook-Resource"
)

// sentryAuth verifies the integration platform's signature, or the legacy
// WebHooks plugin's token in the URL (?token=…), which cannot sign.
type sentryAuth struct {
	secret, legacy string
	maxAge         time.Duration
	now            func() time.Time
}

// newSentryAuth returns nil, an open endpoint, when cfg sets neither a
// client secret nor a legacy token.
func newSentryAuth(cfg config.Sentry, now func() time.Time) Authenticator {
	a := sentryAuth{secret: cfg.ClientSecret.Value(), legacy: cfg.LegacyToken.Value(), maxAge: cfg.MaxAge.D(), now: now}
	if a.secret == "" && a.legacy == "" {
		return nil
	}
	return a
}

func (a sentryAuth) Authenticate(r *http.Request, body []byte) error {
	if sig := r.Header.Get(headerSentrySignature); sig != "" {
		if a.secret == "" {
			return alertgate.Errorf(alertgate.EUNAUTHORIZED, "signed request but no client secret configured")
		}
		if !sentry.VerifySignature(a.secret, body, sig) {
			return alertgate.Errorf(alertgate.EUNAUTHORIZED, "bad signature")
		}
		return sentry.CheckTimestamp(r.Header.Get(headerSentryTimestamp), a.now(), a.maxAge)
	}
	// The legacy plugin cannot sign, so its token in the URL is all it
	// has; an integration-platform payload (it names its resource) always
	// comes signed, and a URL token must not stand in for the signature.
	if r.Header.Get(headerSentryResource) != "" {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "integration payload without a signature")
	}
	if tok := r.URL.Query().Get("token"); tok != "" && a.legacy != "" && secret.Equal(tok, a.legacy) {
		return nil
	}
	return alertgate.Errorf(alertgate.EUNAUTHORIZED, "missing signature or token")
}

// sentryParser parses Sentry's integration platform webhooks, whose resource
// the Sentry-Hook-Resource header names, and the legacy WebHooks plugin's,
// which has no such header. It reads a header, so a Sentry source is not
// BodyOnly.
type sentryParser struct{}

func (sentryParser) Parse(r *http.Request, body []byte) ([]alertgate.Event, error) {
	if res := r.Header.Get(headerSentryResource); res != "" {
		return sentry.Parse(res, body)
	}
	return sentry.ParseLegacy(body)
}
