package report

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/alertgate/alertgate"
)

// topCounter counts occurrences per bug class in bounded memory. Up to
// its capacity it is exact; past it, it drops the quieter half of the
// classes it holds (a class that keeps occurring comes back and counts
// on), so the loudest stay, their counts possibly short by what was
// dropped, and pruned says so. A busy gateway's 14 days can hold a
// million classes; the loudest ten are what the report shows.
type topCounter struct {
	capacity int
	counts   map[string]*alertgate.BugCount
	pruned   bool
}

func newTopCounter(capacity int) *topCounter {
	return &topCounter{capacity: capacity, counts: map[string]*alertgate.BugCount{}}
}

func (c *topCounter) add(key, title string, n int64) {
	b := c.counts[key]
	if b == nil {
		if len(c.counts) >= c.capacity {
			c.prune()
		}
		b = &alertgate.BugCount{Key: key}
		c.counts[key] = b
	}
	b.Occurrences += n
	if title != "" {
		b.Title = title
	}
}

// prune keeps the louder half.
func (c *topCounter) prune() {
	all := c.sorted()
	for _, b := range all[len(all)/2:] {
		delete(c.counts, b.Key)
	}
	c.pruned = true
}

// sorted are the classes, loudest first, then by key.
func (c *topCounter) sorted() []*alertgate.BugCount {
	all := slices.Collect(maps.Values(c.counts))
	slices.SortFunc(all, func(a, b *alertgate.BugCount) int {
		if x := cmp.Compare(b.Occurrences, a.Occurrences); x != 0 {
			return x
		}
		return strings.Compare(a.Key, b.Key)
	})
	return all
}

// top returns the n loudest classes.
func (c *topCounter) top(n int) []alertgate.BugCount {
	all := c.sorted()
	out := make([]alertgate.BugCount, 0, min(n, len(all)))
	for _, b := range all[:min(n, len(all))] {
		out = append(out, *b)
	}
	return out
}
