package pagerduty_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alertgate/alertgate/sinks/pagerduty"
)

// BenchmarkNotify is one page through the notifier to a loopback Events
// API that answers at once: body built, runbook steps attached by id, the
// request sent through go-pagerduty and its answer read. accepted is the
// usual answer; throttled is a 429 with Retry-After, whose status, delay
// and error text the notifier keeps from go-pagerduty's request.
func BenchmarkNotify(b *testing.B) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		retry  bool
	}{
		{"accepted", http.StatusAccepted, `{"status":"success","message":"Event processed","dedup_key":"k"}`, false},
		{"throttled", http.StatusTooManyRequests, `{"status":"throttle event","message":"Requests for this service are arriving too quickly."}`, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				if tc.status == http.StatusTooManyRequests {
					w.Header().Set("Retry-After", "7")
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			b.Cleanup(srv.Close)
			n := pagerduty.New(srv.URL, keys, 6000, publicURL, srv.Client())
			n.Runbooks = loadedRunbooks{runbook.ID: "1. Check the last deploy.\n2. Roll back."}
			note := page()
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				retry, err := n.Notify(ctx, note)
				if (err != nil) != tc.retry || retry != tc.retry {
					b.Fatalf("retry=%v err=%v", retry, err)
				}
			}
		})
	}
}
