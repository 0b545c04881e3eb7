package web

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/alertgate/alertgate/dedup"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBugViews(t *testing.T) {
	clock := &fakeClock{t: uiNow}
	c := &bugViews{now: clock.Now}
	walks := 0
	// A walk that "takes" 2 s on the fake clock, and may be held.
	var hold chan struct{}
	walk := func(ctx context.Context) (bugPage, error) {
		walks++
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return bugPage{}, ctx.Err()
			}
		}
		clock.Add(2 * time.Second)
		return bugPage{Page: dedup.Page[dedup.Bug]{Total: walks}}, nil
	}
	get := func(wait time.Duration) (bugPage, time.Time, error) {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		return c.get(ctx, "k", walk)
	}

	l, at, err := get(time.Minute)
	if err != nil || l.Total != 1 || !at.Equal(uiNow.Add(2*time.Second)) {
		t.Fatalf("first view: %+v at %v, %v; want walk 1 read at +2s", l, at, err)
	}
	// Kept for ten times its walk: 20 s.
	clock.Add(19 * time.Second)
	if l, _, _ := get(time.Minute); l.Total != 1 || walks != 1 {
		t.Fatalf("at +21s: view of walk %d, %d walks; want the first kept", l.Total, walks)
	}
	clock.Add(time.Second)
	if l, _, _ := get(time.Minute); l.Total != 2 || walks != 2 {
		t.Fatalf("at +22s: view of walk %d, %d walks; want a new walk", l.Total, walks)
	}

	// A walk that outlasts the page's wait: the last view meanwhile, then
	// the new one once it ends.
	clock.Add(time.Hour)
	hold = make(chan struct{})
	l, at, err = get(10 * time.Millisecond)
	if err != nil || l.Total != 2 || !at.Equal(uiNow.Add(24*time.Second)) {
		t.Fatalf("during a slow walk: %+v at %v, %v; want the last view, read at +24s", l, at, err)
	}
	close(hold)
	if l, _, err := get(time.Minute); err != nil || l.Total != 3 {
		t.Fatalf("after the slow walk: %+v, %v; want walk 3", l, err)
	}
}

func TestBugViewsFirstWalk(t *testing.T) {
	c := &bugViews{}
	release := make(chan struct{})
	slow := func(ctx context.Context) (bugPage, error) {
		<-release
		return bugPage{Page: dedup.Page[dedup.Bug]{Total: 7}}, nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := c.get(ctx, "k", slow); !errors.Is(err, errBugsReading) {
		t.Fatalf("first view during its walk: %v, want errBugsReading", err)
	}
	close(release)
	if l, _, err := c.get(t.Context(), "k", slow); err != nil || l.Total != 7 {
		t.Fatalf("after the walk: %+v, %v; want its view", l, err)
	}

	// A failed walk with nothing read before: the error, and the next
	// request walks again.
	failed := 0
	fail := func(ctx context.Context) (bugPage, error) {
		failed++
		return bugPage{}, errors.New("jetstream down")
	}
	for i := 1; i <= 2; i++ {
		if _, _, err := c.get(t.Context(), "f", fail); err == nil || errors.Is(err, errBugsReading) {
			t.Fatalf("failed walk %d: %v, want its error", i, err)
		}
	}
	if failed != 2 {
		t.Fatalf("%d walks after two failed views, want 2", failed)
	}
}
