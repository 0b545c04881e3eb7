package sinks

import (
	"testing"
	"time"
)

func TestPace(t *testing.T) {
	p := NewPace(time.Minute/120, 20)
	// A burst goes out at once...
	for i := range 20 {
		if got := p.Reserve("key-1"); got != 0 {
			t.Fatalf("send %d of the burst waits %v", i+1, got)
		}
	}
	// ...then one every half second.
	if got := p.Reserve("key-1"); got < 400*time.Millisecond || got > 500*time.Millisecond {
		t.Fatalf("send after the burst waits %v, want about 500ms", got)
	}
	// Another destination has its own bucket; a dry-run team none.
	if got := p.Reserve("key-2"); got != 0 {
		t.Fatalf("another destination waits %v", got)
	}
	for range 100 {
		if got := p.Reserve(""); got != 0 {
			t.Fatalf("no destination waits %v", got)
		}
	}
	if got, want := len(p.buckets), 2; got != want {
		t.Fatalf("%d buckets, want %d", got, want)
	}
}
