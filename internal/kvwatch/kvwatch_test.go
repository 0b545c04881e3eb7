package kvwatch

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// fakeKV hands out watchers whose updates the test sends.
type fakeKV struct {
	jetstream.KeyValue
	watchers chan *fakeWatcher
}

func (f *fakeKV) Bucket() string { return "fake" }

func (f *fakeKV) WatchAll(context.Context, ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	w := &fakeWatcher{ch: make(chan jetstream.KeyValueEntry, 16)}
	f.watchers <- w
	return w, nil
}

type fakeWatcher struct{ ch chan jetstream.KeyValueEntry }

func (w *fakeWatcher) Updates() <-chan jetstream.KeyValueEntry { return w.ch }
func (w *fakeWatcher) Stop() error                             { return nil }

type entry struct {
	jetstream.KeyValueEntry
	key string
	op  jetstream.KeyValueOp
}

func (e entry) Key() string                     { return e.key }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }

// view is a set of keys.
type view struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (v *view) Apply(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() == jetstream.KeyValuePut {
		v.keys[e.Key()] = true
	} else {
		delete(v.keys, e.Key())
	}
}

func (v *view) Replayed(seen map[string]bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.keys {
		if !seen[k] {
			delete(v.keys, k)
		}
	}
}

func (v *view) has(k string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.keys[k]
}

func put(k string) entry { return entry{key: k, op: jetstream.KeyValuePut} }

// Start returns after the first replay; a watch that ends is started
// again, and its replay drops what was deleted meanwhile; Stop ticks once
// more.
func TestWatchRestartsAndResyncs(t *testing.T) {
	kv := &fakeKV{watchers: make(chan *fakeWatcher, 4)}
	v := &view{keys: map[string]bool{}}
	firstCh := make(chan *fakeWatcher, 1)
	go func() {
		w := <-kv.watchers
		w.ch <- put("a")
		w.ch <- put("b")
		w.ch <- nil
		firstCh <- w
	}()
	var ticks atomic.Int32
	w, err := Start(t.Context(), kv, v, Options{Every: time.Hour, Tick: func(context.Context) { ticks.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if !v.has("a") || !v.has("b") {
		t.Fatalf("after Start: %v", v.keys)
	}
	// The first watch ends; "a" is deleted while none runs.
	first := <-firstCh
	close(first.ch)
	second := <-kv.watchers // within the restart delay
	second.ch <- put("b")
	second.ch <- put("c")
	second.ch <- nil
	deadline := time.Now().Add(5 * time.Second)
	for v.has("a") || !v.has("c") {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v, want b and c", v.keys)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Stop()
	if ticks.Load() != 1 {
		t.Fatalf("ticks %d, want the one on Stop", ticks.Load())
	}
	w.Stop() // twice is fine
}
