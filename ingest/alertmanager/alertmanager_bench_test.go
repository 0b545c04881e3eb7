package alertmanager_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/alertgate/alertgate/ingest/alertmanager"
)

// webhook returns the fixture with its alerts repeated to n, each with its
// own fingerprint (as in one Alertmanager notification of a large group).
func webhook(b *testing.B, n int) []byte {
	b.Helper()
	raw, err := os.ReadFile("../../testdata/fixtures/alertmanager_v4.json")
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	src := m["alerts"].([]any)
	alerts := make([]any, 0, n)
	for i := 0; i < n; i++ {
		a := map[string]any{}
		for k, v := range src[i%len(src)].(map[string]any) {
			a[k] = v
		}
		a["fingerprint"] = fmt.Sprintf("%016x", i+1)
		alerts = append(alerts, a)
	}
	m["alerts"] = alerts
	body, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkParse normalizes webhooks of 1 and 50 alerts; events/s is per
// core (the benchmark runs on one goroutine).
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1, 50} {
		body := webhook(b, n)
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				evs, err := alertmanager.Parse(body)
				if err != nil || len(evs) != n {
					b.Fatalf("parse: %d events, %v", len(evs), err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
