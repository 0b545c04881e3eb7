// Package runbooks owns the playbooks attached to pages: Markdown files with
// YAML front matter in runbooks_dir, loaded once into an immutable Set. It
// decides which runbook a page carries (Choose), what of it travels inside
// the page (Steps, capped so PagerDuty bodies stay small) and how it reads in
// a browser at GET /runbooks/<id> (HTML).
package runbooks

import (
	"strings"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/alertgate/alertgate"
)

// Why values of a chosen runbook, as alertgate.Runbook documents them.
const (
	WhyRoute  = "route"
	WhyMatch  = "match"
	WhySource = "source"
)

// maxSteps caps the runbook text carried inside a page. PagerDuty accepts
// 512 KB per event, but a page is read on a phone at 3 a.m.: the full runbook
// is one tap away behind the link, so the page only needs the first screens.
const maxSteps = 8 << 10

// truncatedNote ends capped steps so the reader knows to open the link.
const truncatedNote = "\n\n…(truncated, see link)"

// Runbook is one loaded runbook file. Values handed out by a Set are shared
// and must not be modified.
type Runbook struct {
	ID    string
	Title string
	Owner string
	// Match selects the events this runbook applies to when the route does
	// not name one; empty means it is only ever chosen by id.
	Match labels.Matchers
	// Body is the Markdown after the front matter.
	Body string
	// Path is the file it was loaded from, for error messages and `check`.
	Path string

	steps string // Body trimmed and capped, computed once at load
	html  []byte // the rendered page, computed once at load
}

// Matches reports whether every matcher of r accepts lset. A label lset
// lacks is matched as "", as Alertmanager does, so `env!="prod"` accepts an
// event without env. A runbook without matchers matches nothing.
func (r *Runbook) Matches(lset map[string]string) bool {
	if len(r.Match) == 0 {
		return false
	}
	for _, m := range r.Match {
		if !m.Matches(lset[m.Name]) {
			return false
		}
	}
	return true
}

// Steps returns the body as it travels inside a page: trimmed, and capped at
// 8 KiB on a line (or at least rune) boundary with a note pointing to the link.
func (r *Runbook) Steps() string {
	if r.steps != "" || r.Body == "" {
		return r.steps
	}
	// r was not built by LoadDir.
	return capSteps(strings.TrimSpace(r.Body), maxSteps)
}

// Set is the runbooks of one directory. It is immutable after LoadDir and
// safe for concurrent use. A nil *Set is an empty set, so a gateway without
// runbooks_dir still falls back to the source's runbook URL.
type Set struct {
	byID map[string]*Runbook
	all  []*Runbook // sorted by ID, which makes Match's tie-break an order
}

// Get returns the runbook with the given id.
func (s *Set) Get(id string) (*Runbook, bool) {
	if s == nil {
		return nil, false
	}
	r, ok := s.byID[id]
	return r, ok
}

// Steps returns the steps of the runbook with the given id, as a page
// carries them (the PagerDuty sink attaches them when it sends a page).
func (s *Set) Steps(id string) (string, bool) {
	r, ok := s.Get(id)
	if !ok {
		return "", false
	}
	return r.Steps(), true
}

// All returns every runbook sorted by ID. The slice is the caller's; the
// runbooks are shared.
func (s *Set) All() []*Runbook {
	if s == nil {
		return nil
	}
	return append([]*Runbook(nil), s.all...)
}

// Len returns the number of runbooks.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.all)
}

// Match returns the matching runbook with the most matchers, the lowest ID
// among equally specific ones, or nil. Counting matchers is the whole notion
// of specificity: it is predictable from the front matter alone, which
// matters more to whoever writes runbooks than cleverness about regexps.
func (s *Set) Match(lset map[string]string) *Runbook {
	if s == nil {
		return nil
	}
	var best *Runbook
	for _, r := range s.all {
		// Strictly more: on a tie the earlier, lower ID stays.
		if (best == nil || len(r.Match) > len(best.Match)) && r.Matches(lset) {
			best = r
		}
	}
	return best
}

// Choose returns the runbook a page names, following DESIGN.md: the
// route's runbook, else the most specific matching runbook, else the
// event's own runbook URL (sourceURL), else nil.
//
// A route naming an id the set lacks falls back to matching rather than to
// nothing: `alertgate check` reports such a route, but if it ships anyway
// the on-call engineer is better served by the closest runbook than by none.
//
// URLs point at publicURL + "/runbooks/" + id, served by the gateway. The
// steps are not part of it: Steps gives them by id. A new value is returned
// on every call, so the caller may modify it.
func (s *Set) Choose(routeRunbook string, lset map[string]string, sourceURL, publicURL string) *alertgate.Runbook {
	why := WhyRoute
	r, ok := s.Get(routeRunbook)
	if !ok {
		why, r = WhyMatch, s.Match(lset)
	}
	if r != nil {
		return &alertgate.Runbook{
			ID:    r.ID,
			Title: r.Title,
			URL:   strings.TrimRight(publicURL, "/") + "/runbooks/" + r.ID,
			Why:   why,
		}
	}
	if u := strings.TrimSpace(sourceURL); u != "" {
		return &alertgate.Runbook{URL: u, Why: WhySource}
	}
	return nil
}

// capSteps cuts s to at most max bytes including the note. It prefers the
// last line break in the second half of the budget so a step is not cut
// mid-sentence, and otherwise cuts between runes so the text stays valid
// UTF-8 (PagerDuty rejects a body that is not).
func capSteps(s string, max int) string {
	if len(s) <= max {
		return s
	}
	limit := max - len(truncatedNote)
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if i := strings.LastIndexByte(s[:cut], '\n'); i >= limit/2 {
		cut = i
	}
	return strings.TrimRight(s[:cut], " \t\r\n") + truncatedNote
}
