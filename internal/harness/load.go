package harness

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load posts n webhooks (body(i) to path on the gateway urls[i%len]) with
// the given concurrency, retrying each one until it gets a 202, as a
// source does; it records which were acknowledged. Acked reports how many
// so far, for triggering faults mid-load.
type Load struct {
	URLs        []string
	Path        string
	N           int
	Concurrency int
	Body        func(i int) []byte
	Header      map[string]string

	acked    []atomic.Bool
	count    atomic.Int64
	failures atomic.Int64
}

// Acked is how many webhooks have been acknowledged.
func (l *Load) Acked() int { return int(l.count.Load()) }

// Failures counts attempts that did not get a 202 (refused connections
// while a gateway is down, 503 while JetStream elects a leader).
func (l *Load) Failures() int { return int(l.failures.Load()) }

// IsAcked reports whether webhook i was acknowledged.
func (l *Load) IsAcked(i int) bool { return l.acked[i].Load() }

// Run posts everything; it returns when all are acknowledged or ctx ends.
func (l *Load) Run(ctx context.Context) {
	l.acked = make([]atomic.Bool, l.N)
	next := atomic.Int64{}
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for w := 0; w < l.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= l.N {
					return
				}
				body := l.Body(i)
				for attempt := 0; ; attempt++ {
					if ctx.Err() != nil {
						return
					}
					url := l.URLs[(i+attempt)%len(l.URLs)] + l.Path
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					for k, v := range l.Header {
						req.Header.Set(k, v)
					}
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusAccepted {
							l.acked[i].Store(true)
							l.count.Add(1)
							break
						}
					}
					l.failures.Add(1)
					select {
					case <-ctx.Done():
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		}(w)
	}
	wg.Wait()
}
