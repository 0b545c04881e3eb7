package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/alertgate/alertgate/sinks"
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
	client := sinks.NewHTTPClient() // alertgate's sinks' client
	client.Timeout = 10 * time.Second
	// forward posts ev, retrying a failed request twice (as alertgate's
	// sink would): an alert the floor drops would count as slower than
	// every delivered one.
	forward := func(ev pd.V2Event) {
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
			_ = resp.Body.Close() // drained by the client
			if resp.StatusCode < 300 {
				return
			}
		}
	}
	return serveChild(args[0], "POST /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			go forward(pd.V2Event{
				RoutingKey: "paymentspaymentspaymentspayments", Action: "trigger",
				DedupKey: "alertmanager:v1:" + a.Fingerprint + "/floor",
				Payload:  &pd.V2Payload{Summary: a.Annotations["summary"], Source: "alertgate-floor", Severity: "critical", Details: a.Labels},
			})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, `{"accepted":%d,"duplicates":0}`+"\n", len(msg.Alerts))
	}))
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
