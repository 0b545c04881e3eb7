// Package kvwatch keeps an in-memory view of a JetStream KV bucket
// current: the shared indexes (silences, inhibit sources, related
// signals) each watch their bucket with it and answer from memory.
//
// A watch that ends before Stop (a lost connection, a server restart) is
// started again a second later; its replay lists every current entry, and
// Replayed then tells the view which keys it listed, so that it drops
// what was deleted while no watch ran.
package kvwatch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// View is what a watch keeps current.
type View interface {
	// Apply applies one change (a put, a delete or a purge).
	Apply(e jetstream.KeyValueEntry)
	// Replayed ends a replay: seen are the keys it listed; the view drops
	// any other. Called after the first load too.
	Replayed(seen map[string]bool)
}

// Replayer is a View told when a replay begins (before the first load
// and each restart), to build its view once at its end.
type Replayer interface {
	Replaying()
}

// Sweeper is a Replayer that tells the keys a replay listed apart itself
// (it marks what Apply sees between Replaying and Replayed): the watch
// then keeps no set of them, which for a bucket of a million keys is
// tens of megabytes, and calls Replayed(nil).
type Sweeper interface {
	Replayer
	SweepsItself()
}

// Options of a watch.
type Options struct {
	// Every, when positive, calls Tick every Every on the watch's
	// goroutine (between changes), and once more on Stop.
	Every time.Duration
	Tick  func(ctx context.Context)
	// Name calls the bucket in log lines.
	Name   string
	Logger *slog.Logger
}

// Watch is a running watch.
type Watch struct {
	kv   jetstream.KeyValue
	view View
	o    Options
	stop context.CancelFunc
	done chan struct{}
}

// Start watches kv into view and returns once the current entries are
// applied (or ctx ends first).
func Start(ctx context.Context, kv jetstream.KeyValue, view View, o Options) (*Watch, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = kv.Bucket()
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	startReplay(view)
	kw, err := kv.WatchAll(runCtx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("watch %s: %w", o.Name, err)
	}
	w := &Watch{kv: kv, view: view, o: o, stop: stop, done: make(chan struct{})}
	loaded := make(chan struct{})
	go w.run(runCtx, kw, loaded)
	select {
	case <-loaded:
		return w, nil
	case <-ctx.Done():
		w.Stop()
		return nil, fmt.Errorf("load %s: %w", o.Name, ctx.Err())
	}
}

// Stop ends the watch (after a last Tick); the view stays as it was.
func (w *Watch) Stop() {
	if w == nil || w.stop == nil {
		return
	}
	w.stop()
	<-w.done
	w.stop = nil
}

func (w *Watch) run(ctx context.Context, kw jetstream.KeyWatcher, loaded chan struct{}) {
	defer close(w.done)
	var tick <-chan time.Time
	if w.o.Every > 0 && w.o.Tick != nil {
		t := time.NewTicker(w.o.Every)
		defer t.Stop()
		tick = t.C
		defer func() {
			// What is still unwritten goes now, on the way out.
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			w.o.Tick(fctx)
		}()
	}
	first := true
	_, sweeps := w.view.(Sweeper)
	for {
		var seen map[string]bool
		if !sweeps {
			seen = map[string]bool{}
		}
		replaying := true
	updates:
		for {
			select {
			case <-ctx.Done():
				_ = kw.Stop()
				return
			case <-tick:
				w.o.Tick(ctx)
			case e, ok := <-kw.Updates():
				if !ok {
					break updates
				}
				if e == nil { // the current entries are all in
					replaying = false
					w.view.Replayed(seen)
					if first {
						first = false
						close(loaded)
					}
					continue
				}
				if replaying && seen != nil {
					seen[e.Key()] = true
				}
				w.view.Apply(e)
			}
		}
		w.o.Logger.Warn("watch ended: watching again", "bucket", w.o.Name)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			var err error
			startReplay(w.view)
			if kw, err = w.kv.WatchAll(ctx); err == nil {
				break
			}
			w.o.Logger.Warn("watch failed: retrying", "bucket", w.o.Name, "err", err)
		}
	}
}

func startReplay(v View) {
	if r, ok := v.(Replayer); ok {
		r.Replaying()
	}
}
