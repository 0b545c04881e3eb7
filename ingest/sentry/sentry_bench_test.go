package sentry_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/alertgate/alertgate/ingest/sentry"
)

func fixture(b *testing.B, name string) []byte {
	b.Helper()
	body, err := os.ReadFile("../../testdata/fixtures/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkParse normalizes each kind of Sentry webhook alertgate reads.
func BenchmarkParse(b *testing.B) {
	for _, f := range []struct{ name, resource, file string }{
		{"event_alert", "event_alert", "sentry_event_alert_triggered.json"},
		{"issue", "issue", "sentry_issue_created.json"},
		{"metric_alert", "metric_alert", "sentry_metric_alert_resolved.json"},
		{"legacy_plugin", "", "sentry_legacy_webhooks_plugin.json"},
	} {
		body := fixture(b, f.file)
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if f.resource == "" {
					_, err = sentry.ParseLegacy(body)
				} else {
					_, err = sentry.Parse(f.resource, body)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkVerifySignature is the HMAC check every signed webhook pays
// before it is parsed.
func BenchmarkVerifySignature(b *testing.B) {
	body := fixture(b, "sentry_event_alert_triggered.json")
	const secret = "bench-client-secret"
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if !sentry.VerifySignature(secret, body, sig) {
			b.Fatal("signature rejected")
		}
	}
}
