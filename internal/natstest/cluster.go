// Package natstest runs NATS JetStream inside a test process: clusters
// (below) and alertgate's bus on an embedded server (OpenBus). Clusters:
// nodes on loopback, ports picked up front, every node given the full
// route list.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a running n-node cluster.
type Cluster struct {
	Nodes []*server.Server
	// URLs are the client URLs, one per node.
	URLs []string
}

// URL is every node's client URL, comma-separated (nats.url).
func (c *Cluster) URL() string { return strings.Join(c.URLs, ",") }

// StartCluster runs an n-node JetStream cluster; it stops with the test.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := FreePorts(t, 2*n)
	var routeURLs []*url.URL
	for i := range n {
		routeURLs = append(routeURLs, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[n+i])})
	}
	c := &Cluster{}
	for i := range n {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("alertgate-%d", i),
			Host:       "127.0.0.1", Port: ports[i],
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "alertgate-test", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:  routeURLs,
			NoLog:   true, NoSigs: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("node %d not ready", i)
		}
		c.URLs = append(c.URLs, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		c.Nodes = append(c.Nodes, s)
	}
	// JetStream places replicated streams once the nodes have elected a
	// meta leader (≈1 s) and the leader has current stats from every node:
	// before that, creating an R3 stream fails with "no suitable peers for
	// placement".
	for deadline := time.Now().Add(20 * time.Second); ; {
		if i := slices.IndexFunc(c.Nodes, (*server.Server).JetStreamIsLeader); i >= 0 && len(c.Nodes[i].JetStreamClusterPeers()) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster not formed in 20s (a leader seeing all %d nodes)", n)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not timing an assertion
	}
	return c
}

// FreePorts returns n distinct free loopback ports.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
