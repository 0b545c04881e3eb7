package web

import (
	"context"
	"errors"
	"sync"
	"time"
)

// The status page's bug class view walks every class: instant with a few
// thousand, seconds with a million, and the page refreshes every 15 s. So
// a view is kept for ten times what its walk took (a 5 ms walk for 50 ms,
// an 8 s walk for 80 s, at most bugViewMaxAge), which holds the walks to
// about a tenth of a core however often the page is open, and a walk
// longer than the page's wait goes on without it, for the next refresh.
const (
	bugViewCostFactor = 10
	bugViewMaxAge     = 2 * time.Minute
	// bugViewWalkTimeout bounds one walk.
	bugViewWalkTimeout = 2 * time.Minute
	// bugViewsKept bounds the views kept (team × order; ?team= is free text).
	bugViewsKept = 64
)

// errBugsReading says the walk is still under way and no earlier view exists.
var errBugsReading = errors.New("bug classes are still being read")

// bugViews caches the status page's bug class views by filter and order.
type bugViews struct {
	mu    sync.Mutex
	views map[string]*bugView
	// now is the clock (nil: time.Now); tests replace it.
	now func() time.Time
}

func (c *bugViews) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

type bugView struct {
	list bugPage
	at   time.Time     // when list was read; zero: never
	took time.Duration // what its walk took
	// running is closed when the walk under way ends; nil: none.
	running chan struct{}
	err     error // of the last walk
}

func (v *bugView) fresh(now time.Time) bool {
	return !v.at.IsZero() && now.Sub(v.at) < min(bugViewCostFactor*v.took, bugViewMaxAge)
}

// get returns the view under key: the one kept if still fresh, else a new
// walk's, waited for until ctx ends. A walk that outlasts ctx goes on; the
// last view read is returned meanwhile (with when it was read), or
// errBugsReading if there is none yet.
func (c *bugViews) get(ctx context.Context, key string, walk func(context.Context) (bugPage, error)) (bugPage, time.Time, error) {
	c.mu.Lock()
	if c.views == nil {
		c.views = map[string]*bugView{}
	}
	v := c.views[key]
	if v == nil {
		c.forgetIdle()
		v = &bugView{}
		c.views[key] = v
	}
	if v.running == nil && !v.fresh(c.clock()) {
		done := make(chan struct{})
		v.running = done
		go func() {
			defer close(done)
			wctx, cancel := context.WithTimeout(context.Background(), bugViewWalkTimeout)
			defer cancel()
			start := c.clock()
			list, err := guard(func() (bugPage, error) { return walk(wctx) })
			c.mu.Lock()
			defer c.mu.Unlock()
			v.running, v.err = nil, err
			if err == nil {
				end := c.clock()
				v.list, v.at, v.took = list, end, end.Sub(start)
			}
		}()
	}
	running := v.running
	c.mu.Unlock()
	if running != nil {
		select {
		case <-running:
		case <-ctx.Done():
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case v.running == nil && v.err != nil && v.at.IsZero():
		return bugPage{}, time.Time{}, v.err
	case v.at.IsZero():
		return bugPage{}, time.Time{}, errBugsReading
	}
	return v.list, v.at, nil
}

// forgetIdle drops the views no walk is filling once bugViewsKept are kept.
// Called with mu held.
func (c *bugViews) forgetIdle() {
	if len(c.views) < bugViewsKept {
		return
	}
	for k, v := range c.views {
		if v.running == nil {
			delete(c.views, k)
		}
	}
}
