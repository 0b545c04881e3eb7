package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// serveForward is the floor of the end-to-end path: for each Alertmanager
// webhook it answers 202 and posts one Events API v2 trigger per firing
// alert to the loopback PagerDuty, storing nothing and deciding nothing.
// Its latency at alertgate's offered rate is what the load generator, the
// validating PagerDuty loopback, HTTP and the two shared cores cost on
// their own.
func serveForward(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: benchall forward ADDR PAGERDUTY_URL")
	}
	enqueue := args[1] + "/v2/enqueue"
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	type pdPayload struct {
		Summary       string            `json:"summary"`
		Source        string            `json:"source"`
		Severity      string            `json:"severity"`
		CustomDetails map[string]string `json:"custom_details"`
	}
	type pdEvent struct {
		RoutingKey string    `json:"routing_key"`
		Action     string    `json:"event_action"`
		DedupKey   string    `json:"dedup_key"`
		Payload    pdPayload `json:"payload"`
	}
	// forward posts ev, retrying a failed request twice (as alertgate's
	// sink would): an alert the floor drops would count as slower than
	// every delivered one.
	forward := func(ev pdEvent) {
		body, err := json.Marshal(ev)
		if err != nil {
			return
		}
		for attempt := 0; attempt < 3; attempt++ {
			resp, err := client.Post(enqueue, "application/json", bytes.NewReader(body))
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct {
				Status      string            `json:"status"`
				Fingerprint string            `json:"fingerprint"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, `{"error":"body: not an Alertmanager webhook"}`, http.StatusBadRequest)
			return
		}
		for _, a := range msg.Alerts {
			if a.Status != "firing" {
				continue
			}
			go forward(pdEvent{
				RoutingKey: "paymentspaymentspaymentspayments", Action: "trigger",
				DedupKey: "alertmanager:v1:" + a.Fingerprint + "/floor",
				Payload:  pdPayload{Summary: a.Annotations["summary"], Source: "alertgate-floor", Severity: "critical", CustomDetails: a.Labels},
			})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, `{"accepted":%d,"duplicates":0}`+"\n", len(msg.Alerts))
	})
	srv := &http.Server{Addr: args[0], Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	return srv.ListenAndServe()
}

// e2eFloor runs the end-to-end measurement against serveForward at rate.
func (b *bench) e2eFloor(ctx context.Context, rate float64) (e2eResult, error) {
	port, err := freePort()
	if err != nil {
		return e2eResult{Rate: rate}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := start("forward", b.self, []string{"forward", addr, b.pd.URL}, "", "http://"+addr, "/readyz", "", 10*time.Second)
	if err != nil {
		return e2eResult{Rate: rate}, err
	}
	defer p.stop()
	return b.e2eToPagerDuty(ctx, "floor", p.url, rate)
}
