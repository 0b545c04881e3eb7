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
)

// Sources returns the endpoints of every source, authenticated as cfg says.
func Sources(cfg config.Ingest, now func() time.Time) []Source {
	return []Source{
		{
			Name:     alertgate.SourceAlertmanager,
			Auth:     TokenAuth(cfg.Alertmanager.Token.Value()),
			Parse:    func(_ *http.Request, b []byte) ([]alertgate.Event, error) { return alertmanager.Parse(b) },
			BodyOnly: true,
		},
		{
			Name:     alertgate.SourceDatadog,
			Auth:     TokenAuth(cfg.Datadog.Token.Value()),
			Parse:    func(_ *http.Request, b []byte) ([]alertgate.Event, error) { return datadog.Parse(b) },
			BodyOnly: true,
		},
		{
			Name:     alertgate.SourceEvents,
			Auth:     TokenAuth(cfg.Events.Token.Value()),
			Parse:    func(_ *http.Request, b []byte) ([]alertgate.Event, error) { return events.Parse(b) },
			BodyOnly: true,
		},
		{
			Name:  alertgate.SourceSentry,
			Auth:  sentryAuth(cfg.Sentry, now),
			Parse: parseSentry,
		},
	}
}

// Sentry's headers.
const (
	headerSentrySignature = "Sentry-Hook-Signature"
	headerSentryTimestamp = "Sentry-Hook-Timestamp"
	headerSentryResource  = "Sentry-Hook-Resource"
)

// sentryAuth verifies the integration platform's signature, or the legacy
// WebHooks plugin's token in the URL (?token=…), which cannot sign.
func sentryAuth(cfg config.Sentry, now func() time.Time) func(*http.Request, []byte) error {
	secret, legacy := cfg.ClientSecret.Value(), cfg.LegacyToken.Value()
	if secret == "" && legacy == "" {
		return nil
	}
	return func(r *http.Request, body []byte) error {
		if sig := r.Header.Get(headerSentrySignature); sig != "" {
			if secret == "" {
				return alertgate.Errorf(alertgate.EUNAUTHORIZED, "signed request but no client secret configured")
			}
			if !sentry.VerifySignature(secret, body, sig) {
				return alertgate.Errorf(alertgate.EUNAUTHORIZED, "bad signature")
			}
			return sentry.CheckTimestamp(r.Header.Get(headerSentryTimestamp), now(), cfg.MaxAge.D())
		}
		if tok := r.URL.Query().Get("token"); tok != "" && legacy != "" && SecretEqual(tok, legacy) {
			return nil
		}
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "missing signature or token")
	}
}

func parseSentry(r *http.Request, body []byte) ([]alertgate.Event, error) {
	if res := r.Header.Get(headerSentryResource); res != "" {
		return sentry.Parse(res, body)
	}
	return sentry.ParseLegacy(body)
}
