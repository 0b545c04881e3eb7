package sinks

import (
	"sync/atomic"
	"testing"
	"time"
)

// The heartbeat beats every interval while a delivery is in hand, and not
// once after it is stopped.
func TestHeartbeat(t *testing.T) {
	var beats atomic.Int64
	h := startHeartbeat(5*time.Millisecond, func() { beats.Add(1) })
	for deadline := time.Now().Add(5 * time.Second); beats.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d beats in 5s, want at least 3", beats.Load())
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing an assertion
	}
	h.stop()
	after := beats.Load()
	time.Sleep(30 * time.Millisecond)
	// One beat may have been under way when stop was called.
	if got := beats.Load(); got > after+1 {
		t.Fatalf("%d beats after stop", got-after)
	}
}
