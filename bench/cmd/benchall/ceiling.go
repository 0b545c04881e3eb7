package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/ingest/alertmanager"
)

// jsResult is one JetStream publish ceiling.
type jsResult struct {
	Mode    string        `json:"mode"`
	Msgs    int64         `json:"msgs"`
	Elapsed time.Duration `json:"elapsed"`
	MsgSize int           `json:"msg_size"`
	Err     string        `json:"err,omitempty"`
}

func (r jsResult) PerSec() float64 { return float64(r.Msgs) / r.Elapsed.Seconds() }

// sampleEvent is what alertgate stores for one Alertmanager alert: the
// message size of the ceiling.
func sampleEvent(fixtures string) ([]byte, string, error) {
	p, err := loadgen.NewPayloads(loadgen.Alertmanager, 1, fixtures, time.Now().Truncate(time.Second))
	if err != nil {
		return nil, "", err
	}
	evs, err := alertmanager.Parse(p.Render(nil, []uint64{1}))
	if err != nil {
		return nil, "", err
	}
	ev := evs[0]
	ev.ReceivedAt, ev.RequestID = time.Now(), "2qi6GG5gAW6vRpMjHpNTqI"
	b, err := json.Marshal(&ev)
	return b, ev.Key, err
}

// jetStreamCeiling publishes alertgate-sized messages to ALERTS on a fresh
// embedded server opened exactly as alertgate opens it (bus.Open with the
// config defaults: file store, limits retention, Msg-Id de-duplication),
// from conc publishers: sync (one PublishMsg at a time each, as a 1-alert
// webhook does) or async (batch messages in flight, then wait for all
// acks, as a batched webhook does).
func jetStreamCeiling(ctx context.Context, mode string, conc, batch int, d, warmup time.Duration, data []byte, key string) jsResult {
	res := jsResult{Mode: mode, MsgSize: len(data)}
	dir, err := os.MkdirTemp("", "js-ceiling-")
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer os.RemoveAll(dir)
	def := config.Default()
	b, err := bus.Open(ctx, bus.Options{
		DataDir: dir, SyncInterval: def.NATS.SyncInterval, Replicas: 1,
		Retention: def.Retention.D(), DuplicateWindow: def.Dedup.DuplicateWindow.D(), Name: "ceiling",
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer b.Close()

	var measuring atomic.Bool
	var count atomic.Int64
	var seq atomic.Uint64
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(ctx)
	msg := func() *nats.Msg {
		m := nats.NewMsg(bus.SubjectAlerts + ".alertmanager")
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, "ceiling:"+strconv.FormatUint(seq.Add(1), 10))
		m.Header.Set(bus.HeaderKey, key)
		m.Header.Set(bus.HeaderRequestID, "2qi6GG5gAW6vRpMjHpNTqI")
		return m
	}
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Go(func() {
			futures := make([]jetstream.PubAckFuture, 0, batch)
			for ctx.Err() == nil {
				n := 0
				if mode == "sync" {
					if _, err := b.JS.PublishMsg(ctx, msg()); err != nil {
						if ctx.Err() == nil {
							firstErr.CompareAndSwap(nil, err.Error())
						}
						continue
					}
					n = 1
				} else {
					futures = futures[:0]
					for i := 0; i < batch; i++ {
						f, err := b.JS.PublishMsgAsync(msg(), jetstream.WithStallWait(5*time.Second))
						if err != nil {
							firstErr.CompareAndSwap(nil, err.Error())
							break
						}
						futures = append(futures, f)
					}
					for _, f := range futures {
						select {
						case <-f.Ok():
							n++
						case err := <-f.Err():
							firstErr.CompareAndSwap(nil, err.Error())
						case <-ctx.Done():
						}
					}
				}
				if measuring.Load() {
					count.Add(int64(n))
				}
			}
		})
	}
	time.Sleep(warmup)
	t0 := time.Now()
	measuring.Store(true)
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	measuring.Store(false)
	res.Elapsed = time.Since(t0)
	res.Msgs = count.Load()
	cancel()
	wg.Wait()
	if e, ok := firstErr.Load().(string); ok {
		res.Err = e
	}
	return res
}

// serveBare is the child process of the HTTP ceiling: a bare net/http
// server (same http.Server timeouts as alertgate's) on --listen.
func serveBare(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: benchall bare-http ADDR")
	}
	return serveChild(args[0], "/", bareHandler())
}

// serveChild serves h for pattern on addr, with GET /readyz answering
// 200, from a child process: an http.Server with alertgate's timeouts.
func serveChild(addr, pattern string, h http.Handler) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.Handle(pattern, h)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	return srv.ListenAndServe()
}

func startBare(self string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return start("bare-http", self, []string{"bare-http", addr}, "", "http://"+addr, "/readyz", "", 10*time.Second)
}
