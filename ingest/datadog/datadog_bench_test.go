package datadog_test

import (
	"os"
	"testing"

	"github.com/alertgate/alertgate/ingest/datadog"
)

// BenchmarkParse normalizes Datadog monitor webhooks: alertgate's payload
// template and Datadog's default payload.
func BenchmarkParse(b *testing.B) {
	for _, f := range []struct{ name, file string }{
		{"template", "datadog_triggered.json"},
		{"default_payload", "datadog_default_template_delivery.json"},
	} {
		body, err := os.ReadFile("../../testdata/fixtures/" + f.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := datadog.Parse(body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
