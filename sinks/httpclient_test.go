package sinks_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alertgate/alertgate/sinks"
)

// Concurrent deliveries reuse their connections, even when the caller
// stops reading a body at the end of its JSON value (as go-pagerduty's
// decoder does).
func TestHTTPClientReusesConnections(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"k"}` + "\n\n"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	const workers, each = 32, 50
	hc := sinks.NewHTTPClient()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := hc.Post(srv.URL, "application/json", nil)
				if err != nil {
					t.Error(err)
					return
				}
				var v map[string]string
				_ = json.NewDecoder(resp.Body).Decode(&v) // leaves the trailing newlines unread
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if got := dials.Load(); got > 2*workers {
		t.Fatalf("%d connections for %d requests from %d workers, want at most %d", got, workers*each, workers, 2*workers)
	}
}
