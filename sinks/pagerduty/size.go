package pagerduty

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	pd "github.com/PagerDuty/go-pagerduty"
)

// maxBody is the most bytes PagerDuty takes in one Events API v2 request
// body. It refuses a larger one with a 400: the page would be
// dead-lettered, and a replay would fail the same way.
const maxBody = 512 << 10

// The fewest bytes (as encoded) a cut leaves of a field: the start of its
// text and the marker. A custom_details value says less than the fields
// PagerDuty shows in the incident's title and list (summary, source,
// component, group, class).
const (
	keepDetail  = 64
	keepPayload = 128
)

// fit makes the body of ev, as go-pagerduty sends it, at most limit bytes,
// so that a page with a label as large as the webhook still goes out. The
// largest texts are cut first, all to one length, each marked with how
// much it lost ("… [truncated N bytes]"): custom_details values (labels,
// description, runbook steps), link texts and the payload's source,
// component, group and class (a service label as large as the webhook is
// all three); a link whose URL is among the largest is left out (a cut URL
// is not one). Then the summary, which is at most 1024 bytes already; and
// only then whole links and labels are left out, the largest first, which
// custom_details says. A body under the limit is left as it is, byte for
// byte. The notification's own labels are never changed.
func fit(ev *pd.V2Event, limit int) error {
	if ev.Payload == nil || sizeBound(ev) <= limit {
		return nil
	}
	size, err := bodySize(ev)
	if err != nil || size <= limit {
		return err
	}
	details, ok := ev.Payload.Details.(map[string]any)
	if !ok {
		return fmt.Errorf("custom_details of type %T", ev.Payload.Details)
	}
	if labels, ok := details["labels"].(map[string]string); ok {
		details["labels"] = maps.Clone(labels)
	}
	f := &fitting{ev: ev, details: details}
	for _, step := range []func(need int){f.cutTexts, f.cutSummary, f.dropLinks, f.dropLabels} {
		step(size - limit)
		if size, err = bodySize(ev); err != nil || size <= limit {
			return err
		}
	}
	return fmt.Errorf("page body of %d bytes is over PagerDuty's %d even cut", size, limit)
}

func bodySize(ev *pd.V2Event) (int, error) {
	// encoding/json, as go-pagerduty's ManageEventWithContext encodes it.
	b, err := json.Marshal(ev)
	return len(b), err
}

// sizeBound is a bound on the encoded size of ev computed without
// encoding it: every byte of text escaped to its longest form (6 bytes,
// \u003c) and room for each string's quotes, its name and punctuation.
// Most pages are under the limit by this bound alone, and are not
// encoded once more than go-pagerduty encodes them.
func sizeBound(ev *pd.V2Event) int {
	n := 512 // the names and punctuation of V2Event's and V2Payload's fields
	add := func(s string) { n += 6*len(s) + 8 }
	addMap := func(m map[string]string) {
		n += 2
		for k, v := range m {
			add(k)
			add(v)
		}
	}
	for _, s := range []string{ev.RoutingKey, ev.Action, ev.DedupKey, ev.Client, ev.ClientURL} {
		add(s)
	}
	for _, l := range ev.Links {
		m, ok := l.(map[string]string)
		if !ok {
			return math.MaxInt
		}
		addMap(m)
	}
	p := ev.Payload
	for _, s := range []string{p.Summary, p.Source, p.Severity, p.Timestamp, p.Component, p.Group, p.Class} {
		add(s)
	}
	details, ok := p.Details.(map[string]any)
	if !ok && p.Details != nil {
		return math.MaxInt
	}
	for k, v := range details {
		add(k)
		switch v := v.(type) {
		case string:
			add(v)
		case map[string]string:
			addMap(v)
		default:
			return math.MaxInt
		}
	}
	return n
}

// field is a text fit may cut, or a link it may leave out.
type field struct {
	s    string
	enc  int // encoded length of s, quotes left out; of a link, its href and text
	keep int // cut no shorter than this; a link at most this long stays
	set  func(string)
	// drop, for a link, leaves it out (a cut URL is not a URL); saved is
	// then enc and the punctuation around it.
	drop func()
}

func newField(s string, keep int, set func(string)) field {
	return field{s: s, enc: jsonLen(s), keep: keep, set: set}
}

// The longest link href cutTexts keeps however small the other texts
// get: a longer one is left out as soon as the texts are cut below its
// size (a Prometheus generatorURL can be a few KiB); a shorter one only
// by dropLinks, last.
const keepLinkHref = 1024

// linkPunct is what a link costs besides its href and text.
const linkPunct = len(`{"href":"","text":""},`)

// fitting is a body being cut to size, one step after another.
type fitting struct {
	ev      *pd.V2Event
	details map[string]any // ev's custom_details
	links   int            // links left out so far
}

// cutTexts cuts custom_details values (labels among them), link texts
// and the payload fields but the summary, and leaves out links whose href
// is over keepLinkHref, the largest first.
func (f *fitting) cutTexts(need int) {
	ev, details := f.ev, f.details
	var fs []field
	p := ev.Payload
	for _, s := range []*string{&p.Source, &p.Component, &p.Group, &p.Class} {
		fs = append(fs, newField(*s, keepPayload, func(cut string) { *s = cut }))
	}
	for k, v := range details {
		switch v := v.(type) {
		case string:
			fs = append(fs, newField(v, keepDetail, func(s string) { details[k] = s }))
		case map[string]string:
			for lk, lv := range v {
				fs = append(fs, newField(lv, keepDetail, func(s string) { v[lk] = s }))
			}
		}
	}
	dropped := make([]bool, len(ev.Links))
	note := 0 // room for the note saying links were left out
	for i, l := range ev.Links {
		m, ok := l.(map[string]string)
		switch {
		case !ok:
		case jsonLen(m["href"]) > keepLinkHref:
			fs = append(fs, field{enc: jsonLen(m["href"]) + jsonLen(m["text"]), keep: keepLinkHref, drop: func() { dropped[i] = true }})
			note = len("links_omitted") + jsonLen(omitted(len(ev.Links), "links")) + 8
		default:
			fs = append(fs, newField(m["text"], keepDetail, func(s string) { m["text"] = s }))
		}
	}
	cutLargest(fs, need+note)
	f.removeLinks(dropped)
}

// removeLinks leaves out the links marked in drop and says how many.
func (f *fitting) removeLinks(drop []bool) {
	kept := f.ev.Links[:0:0]
	for i, l := range f.ev.Links {
		if !drop[i] {
			kept = append(kept, l)
		}
	}
	if n := len(f.ev.Links) - len(kept); n > 0 {
		f.ev.Links = kept
		f.links += n
		f.details["links_omitted"] = omitted(f.links, "links")
	}
}

// cutSummary cuts the summary, the incident's title in PagerDuty.
func (f *fitting) cutSummary(need int) {
	p := f.ev.Payload
	cutLargest([]field{newField(p.Summary, keepPayload, func(cut string) { p.Summary = cut })}, need)
}

// cutLargest cuts the largest fields first, each to one common length (or
// to its keep, if longer), to the longest length that still saves need
// bytes; every field to its keep when that is not enough. A link longer
// than that length is left out.
func cutLargest(fs []field, need int) {
	saves := func(f field, level int) int {
		t := max(level, f.keep)
		switch {
		case f.enc <= t:
			return 0
		case f.drop != nil:
			return f.enc + linkPunct
		}
		return f.enc - t
	}
	saved := func(level int) int {
		n := 0
		for _, f := range fs {
			n += saves(f, level)
		}
		return n
	}
	hi := 0
	for _, f := range fs {
		hi = max(hi, f.enc)
	}
	// saved falls as level rises: the largest level with saved(level) >=
	// need, or 0.
	level, lo := 0, 0
	for lo <= hi {
		mid := lo + (hi-lo)/2
		if saved(mid) >= need {
			level, lo = mid, mid+1
		} else {
			hi = mid - 1
		}
	}
	for _, f := range fs {
		switch {
		case saves(f, level) == 0:
		case f.drop != nil:
			f.drop()
		default:
			f.set(cutEncoded(f.s, max(level, f.keep)))
		}
	}
}

// dropLinks leaves out links, the largest first, until need bytes are
// saved; custom_details says how many.
func (f *fitting) dropLinks(need int) {
	ev := f.ev
	if len(ev.Links) == 0 {
		return
	}
	sizes := make([]int, len(ev.Links))
	order := make([]int, len(ev.Links))
	for i, l := range ev.Links {
		order[i] = i
		if m, ok := l.(map[string]string); ok {
			sizes[i] = jsonLen(m["href"]) + jsonLen(m["text"])
		}
	}
	// Stable: of equal links, the first (the runbook's) is kept longest.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	need += len("links_omitted") + jsonLen(omitted(f.links+len(ev.Links), "links")) + 8
	drop := make([]bool, len(ev.Links))
	for _, i := range order {
		if need <= 0 {
			break
		}
		drop[i] = true
		need -= sizes[i] + linkPunct
	}
	f.removeLinks(drop)
}

// dropLabels leaves out labels from custom_details, the largest first,
// until need bytes are saved; custom_details says how many.
func (f *fitting) dropLabels(need int) {
	details := f.details
	labels, ok := details["labels"].(map[string]string)
	if !ok || len(labels) == 0 {
		return
	}
	size := make(map[string]int, len(labels))
	for k, v := range labels {
		size[k] = jsonLen(k) + jsonLen(v)
	}
	names := slices.Collect(maps.Keys(labels))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(size[b], size[a]), cmp.Compare(a, b)) })
	need += len("labels_omitted") + jsonLen(omitted(len(labels), "labels")) + 8
	n := 0
	for _, k := range names {
		if need <= 0 {
			break
		}
		need -= size[k] + len(`"":"",`)
		delete(labels, k)
		n++
	}
	details["labels_omitted"] = omitted(n, "labels")
}

func omitted(n int, what string) string {
	return strconv.Itoa(n) + " " + what + " left out to fit PagerDuty's 512 KB"
}

// marker ends a cut text, saying how many bytes were cut.
func marker(cut int) string { return "… [truncated " + strconv.Itoa(cut) + " bytes]" }

// cutEncoded returns the longest start of s that, with the marker, encodes in at
// most budget bytes, at a rune boundary. The marker's room is reserved for
// the largest count it may say, so the result is never over budget.
func cutEncoded(s string, budget int) string {
	room := budget - jsonLen(marker(len(s)))
	n, i := 0, 0
	for i < len(s) {
		c, size := runeCost(s, i)
		if n+c > room {
			break
		}
		n, i = n+c, i+size
	}
	return s[:i] + marker(len(s)-i)
}

// jsonLen is the length of s as encoding/json writes it in a string,
// quotes left out.
func jsonLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c, size := runeCost(s, i)
		n, i = n+c, i+size
	}
	return n
}

// runeCost returns how many bytes encoding/json writes for the rune at
// s[i], and its length in s. It escapes quotes, backslashes and control
// characters, and HTML's <, > and & as \u003c; it writes invalid UTF-8 as
// \ufffd and U+2028 and U+2029 as \u2028 and \u2029.
func runeCost(s string, i int) (cost, size int) {
	if b := s[i]; b < utf8.RuneSelf {
		switch {
		case b == '"', b == '\\', b == '\n', b == '\r', b == '\t', b == '\b', b == '\f':
			return 2, 1
		case b < 0x20, b == '<', b == '>', b == '&':
			return 6, 1
		}
		return 1, 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && size == 1:
		return 6, 1
	case r == '\u2028', r == '\u2029':
		return 6, size
	}
	return size, size
}
