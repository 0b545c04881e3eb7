package report

import (
	"fmt"
	"testing"
	"time"
)

// Past its capacity the counter keeps the loud classes and says it
// dropped some; below it, it is exact.
func TestTopCounterPrunes(t *testing.T) {
	c := newTopCounter(100)
	for i := range 1000 {
		c.add(fmt.Sprintf("quiet-%d", i), "", 1)
		if i%10 == 0 {
			c.add("loud", "Loud", 10)
		}
	}
	top := c.top(1)
	if len(top) != 1 || top[0].Key != "loud" || top[0].Occurrences != 1000 || top[0].Title != "Loud" {
		t.Errorf("top=%+v, want loud with its 1000 occurrences", top)
	}
	if !c.pruned || len(c.counts) > 100 {
		t.Errorf("pruned=%v with %d classes held, want pruned and at most 100", c.pruned, len(c.counts))
	}
	exact := newTopCounter(100)
	exact.add("a", "", 2)
	exact.add("b", "", 3)
	if got := exact.top(10); exact.pruned || len(got) != 2 || got[0].Key != "b" || got[1].Occurrences != 2 {
		t.Errorf("top=%+v pruned=%v", got, exact.pruned)
	}
}

// Days are civil days of the location: a day of 23 hours (DST) is one
// day, and the last day is the one holding the window's last instant.
func TestWindowDays(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	since := time.Date(2026, 3, 28, 0, 0, 0, 0, berlin) // Saturday; Sunday has 23 hours
	w := newWindow(since, since.Add(71*time.Hour), berlin)
	if w.days != 3 || w.date(0) != "2026-03-28" || w.date(2) != "2026-03-30" {
		t.Errorf("days=%d from %s to %s, want 3 from 2026-03-28", w.days, w.date(0), w.date(w.days-1))
	}
	if got := w.day(time.Date(2026, 3, 29, 23, 30, 0, 0, berlin)); got != 1 {
		t.Errorf("Sunday 23:30 is day %d, want 1", got)
	}
	for _, tt := range []struct {
		pct  int
		want time.Duration
	}{{50, 3}, {90, 5}, {10, 1}} {
		if got := nearestRank([]time.Duration{1, 2, 3, 4, 5}, tt.pct); got != tt.want {
			t.Errorf("p%d=%v, want %v", tt.pct, got, tt.want)
		}
	}
}
