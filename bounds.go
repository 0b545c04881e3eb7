package alertgate

import (
	"sort"
	"strconv"
)

// What alertgate keeps of an event's free text. A source may send a label
// value or a description as large as the request body allows (1 MiB by
// default); kept whole, one event would be stored several times over
// (in ALERTS, in its notifications in NOTIFY, in its key's state and that
// state's outbox) and a key's state could pass JetStream's message limit,
// which it refuses for good. Bound cuts what is over these budgets, with a
// visible marker, so that everything stored stays a few tens of KiB per
// event; a page carries far more than a person reads at 3 a.m.
const (
	// MaxLabelsBytes bounds the names and values of an event's labels
	// together; the longest values are cut first.
	MaxLabelsBytes = 32 << 10
	// MaxDescriptionBytes bounds the description.
	MaxDescriptionBytes = 16 << 10
	// MaxTextBytes bounds the title, the transition, the runbook URL and
	// each link's text.
	MaxTextBytes = 2 << 10
	// MaxLinks bounds the links kept; a link whose URL is over
	// MaxTextBytes is left out (a cut URL no longer leads anywhere).
	MaxLinks = 16
)

// Bound cuts the event's free text to the budgets above. Identity (id,
// key, episode) is never cut: Validate refuses it when it is too long.
// Label names are not cut either (Validate bounds each); their values are,
// longest first, each to one common length, so that a single huge value
// is cut and short ones are left whole. It is idempotent, and cheap for an
// event within the budgets.
func (e *Event) Bound() {
	e.Title = cutText(e.Title, MaxTextBytes)
	e.Description = cutText(e.Description, MaxDescriptionBytes)
	e.Transition = cutText(e.Transition, MaxTextBytes)
	if len(e.RunbookURL) > MaxTextBytes {
		e.RunbookURL = ""
	}
	if len(e.Links) > 0 {
		links := e.Links[:0:0]
		for _, l := range e.Links {
			if len(l.Href) > MaxTextBytes || len(links) == MaxLinks {
				continue
			}
			l.Text = cutText(l.Text, MaxTextBytes)
			links = append(links, l)
		}
		e.Links = links
	}
	e.boundLabels()
}

func (e *Event) boundLabels() {
	total, names := 0, 0
	for k, v := range e.Labels {
		total += len(k) + len(v)
		names += len(k)
	}
	if total <= MaxLabelsBytes {
		return
	}
	// The largest level (the length every longer value is cut to) at which
	// the labels fit: found by a binary search over the values' lengths.
	lens := make([]int, 0, len(e.Labels))
	for _, v := range e.Labels {
		lens = append(lens, len(v))
	}
	sort.Ints(lens)
	// A value cut to level is at most level bytes long.
	fits := func(level int) bool {
		n := names
		for _, l := range lens {
			n += min(l, level)
		}
		return n <= MaxLabelsBytes
	}
	// Validate keeps the names within half the budget, so level 0 fits.
	lo, hi := 0, lens[len(lens)-1]
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for k, v := range e.Labels {
		if len(v) > lo {
			e.Labels[k] = cutText(v, lo)
		}
	}
}

// cutText returns s cut to at most n bytes at a rune boundary, ending with
// a marker that says how many bytes were cut. Below the marker's own
// length, only as much of the marker as fits is kept.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	mark := "… [truncated " + strconv.Itoa(len(s)) + " bytes]"
	keep := n - len(mark)
	if keep <= 0 {
		return clip(mark, max(n, 0))
	}
	kept := clip(s, keep)
	return kept + "… [truncated " + strconv.Itoa(len(s)-len(kept)) + " bytes]"
}
