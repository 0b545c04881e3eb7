package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/alertgate/alertgate/internal/harness"
	"github.com/alertgate/alertgate/internal/natstest"
)

// clusterConfig points a gateway at a NATS cluster with R3 streams and KV.
func clusterConfig(url string) string {
	return harness.DefaultConfig + fmt.Sprintf(`
nats:
  url: %q
  replicas: 3
`, url)
}

// A 3-node NATS cluster, R3 streams and KV, two gateways. One NATS node is
// stopped mid-load: no acknowledged event is lost, none pages twice, and
// both gateways keep serving.
func TestClusterNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	c := natstest.StartCluster(t, 3)
	pd := harness.NewPagerDuty(t)
	cfg := clusterConfig(c.URL())
	a := harness.Start(t, harness.Options{PD: pd, Config: cfg})
	b := harness.Start(t, harness.Options{PD: pd, Config: cfg})

	const n = 1000
	load := &harness.Load{
		URLs: []string{a.URL(), b.URL()}, Path: "/v1/ingest/alertmanager", N: n, Concurrency: 8,
		Body: func(i int) []byte {
			return harness.AMWebhook(harness.AMAlert{Fingerprint: fmt.Sprintf("cl%05d", i), Status: "firing", StartsAt: t0})
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { load.Run(ctx); close(done) }()
	waitFor(t, 60*time.Second, "a third of the load acknowledged", func() bool { return load.Acked() >= n/3 })
	c.Nodes[0].Shutdown()
	<-done
	if got := load.Acked(); got != n {
		t.Fatalf("acknowledged %d of %d", got, n)
	}
	t.Logf("failed attempts during the node loss: %d", load.Failures())

	for deadline := time.Now().Add(60 * time.Second); distinctTriggers(pd) < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("paged %d of %d acknowledged alerts after 60s; consumers: %s", distinctTriggers(pd), n, consumerState(a))
		}
	}
	a.Settle(t)
	b.Settle(t)
	onePagePerKey(t, pd, n)

	// Both gateways still serve.
	for i, g := range []*harness.Gateway{a, b} {
		g.MustAccept(t, "/v1/ingest/alertmanager", harness.AMWebhook(harness.AMAlert{Fingerprint: fmt.Sprintf("after%d", i), Status: "firing", StartsAt: t0}), nil)
		resp, err := http.Get(g.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("gateway %d not ready after the node loss: %d", i, resp.StatusCode)
		}
	}
	a.Settle(t)
	onePagePerKey(t, pd, n+2)
}

func distinctTriggers(pd *harness.PagerDuty) int {
	keys := map[string]bool{}
	for _, e := range pd.Actions("trigger") {
		keys[e.DedupKey] = true
	}
	return len(keys)
}

// consumerState describes the durable consumers, for failure messages.
func consumerState(g *harness.Gateway) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := ""
	for _, c := range [][2]string{{"ALERTS", "router"}, {"NOTIFY", "sink-pagerduty"}} {
		cons, err := g.Bus.JS.Consumer(ctx, c[0], c[1])
		if err != nil {
			out += fmt.Sprintf("%s: %v; ", c[1], err)
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			out += fmt.Sprintf("%s: %v; ", c[1], err)
			continue
		}
		out += fmt.Sprintf("%s: pending %d, ack pending %d, redelivered %d, delivered %d; ", c[1], info.NumPending, info.NumAckPending, info.NumRedelivered, info.Delivered.Stream)
	}
	return out
}
