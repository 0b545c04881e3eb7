package natstest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/alertgate/alertgate/bus"
)

// OpenBus opens alertgate's bus on an embedded JetStream with its data in
// dir, closed when the test ends. A second call on the same dir, after the
// first is closed, is the next process's.
func OpenBus(t testing.TB, dir string) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
