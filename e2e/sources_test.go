package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
)

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Each source's authentication as the contract says, and installation or
// comment webhooks accepted and ignored.
func TestSourceAuth(t *testing.T) {
	cfg := harness.DefaultConfig + `
ingest:
  sentry: {client_secret: "` + harness.SentrySecret + `", legacy_token: "legacy-tok", max_age: 5m}
  datadog: {token: "dd-token"}
`
	g := harness.Start(t, harness.Options{Config: cfg})
	issue := harness.Testdata(t, "fixtures/sentry_issue_created.json")
	legacy := harness.Testdata(t, "fixtures/sentry_legacy_webhooks_plugin.json")
	dd := harness.Testdata(t, "fixtures/datadog_triggered.json")
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	sentryHdr := func(sig, ts, resource string) map[string]string {
		return map[string]string{"Sentry-Hook-Signature": sig, "Sentry-Hook-Timestamp": ts, "Sentry-Hook-Resource": resource}
	}
	tests := []struct {
		name     string
		path     string
		body     []byte
		header   map[string]string
		code     int
		accepted int
	}{
		// the fixture's documented signature
		{"sentry signed", "/v1/ingest/sentry", issue, sentryHdr("92459983d56544cf0f163f5c0cfd99e17b0167eaca8dd50c029c0ff6b6787a0c", now, "issue"), 202, 1},
		// a signature by another secret
		{"sentry bad signature", "/v1/ingest/sentry", issue, sentryHdr(sign("other", issue), now, "issue"), 401, 0},
		// a replay an hour later
		{"sentry stale", "/v1/ingest/sentry", issue, sentryHdr(sign(harness.SentrySecret, issue), stale, "issue"), 401, 0},
		// no signature, no token
		{"sentry unsigned", "/v1/ingest/sentry", issue, map[string]string{"Sentry-Hook-Resource": "issue"}, 401, 0},
		// installation webhooks are accepted and ignored
		{"sentry installation", "/v1/ingest/sentry", []byte(`{"action":"created","data":{"installation":{"uuid":"x"}},"installation":{"uuid":"x"}}`), sentryHdr(sign(harness.SentrySecret, []byte(`{"action":"created","data":{"installation":{"uuid":"x"}},"installation":{"uuid":"x"}}`)), now, "installation"), 202, 0},
		// unknown resource is a 400 naming it
		{"sentry unknown resource", "/v1/ingest/sentry", issue, sentryHdr(sign(harness.SentrySecret, issue), now, "seer"), 400, 0},
		// the legacy plugin authenticates by a token in the URL
		{"legacy token", "/v1/ingest/sentry?token=legacy-tok", legacy, nil, 202, 1},
		// and a wrong one is refused
		{"legacy bad token", "/v1/ingest/sentry?token=nope", legacy, nil, 401, 0},
		// the legacy token does not stand in for an integration payload's signature
		{"integration payload with the legacy token", "/v1/ingest/sentry?token=legacy-tok", issue, map[string]string{"Sentry-Hook-Resource": "issue"}, 401, 0},
		// Datadog's custom header
		{"datadog bearer", "/v1/ingest/datadog", dd, map[string]string{"Authorization": "Bearer dd-token"}, 202, 1},
		// and without it
		{"datadog no auth", "/v1/ingest/datadog", dd, nil, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := g.Post(t, tt.path, tt.body, tt.header)
			if code != tt.code {
				t.Fatalf("status=%d, want %d (%s)", code, tt.code, body)
			}
			if code == 202 && !strings.Contains(string(body), `"accepted":`+strconv.Itoa(tt.accepted)) {
				t.Fatalf("body=%s, want accepted %d", body, tt.accepted)
			}
			for _, secret := range []string{harness.SentrySecret, "legacy-tok", "dd-token"} {
				if strings.Contains(string(body), secret) {
					t.Fatalf("secret in response: %s", body)
				}
			}
		})
	}
}

// When JetStream cannot take the event the source gets 503 (and retries):
// nothing is acknowledged that is not stored.
func TestUnavailable(t *testing.T) {
	g := harness.Start(t, harness.Options{})
	g.Bus.NC.Close()
	code, body := g.Post(t, "/v1/ingest/alertmanager", harness.AMWebhook(harness.AMAlert{Fingerprint: "cccc", Status: "firing", StartsAt: t0}), nil)
	if got, want := code, http.StatusServiceUnavailable; got != want {
		t.Fatalf("status=%d, want %d (%s)", got, want, body)
	}
	if !strings.Contains(string(body), "retry") {
		t.Fatalf("body=%s, want it to say retry", body)
	}
	resp, err := http.Get(g.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusServiceUnavailable; got != want {
		t.Fatalf("readyz=%d, want %d", got, want)
	}
}
