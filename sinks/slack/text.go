package slack

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// width is the length Slack's limits are checked against. Slack documents
// its limits in "characters" without saying which; counting UTF-16 code
// units is never less than counting code points (what the JSON Schema and
// slack-go's own Validate count), so a text within width n is within n by
// either measure.
func width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

const ellipsis = "…"

// Truncate cuts s to at most max (in width) and marks the cut with "…". It
// cuts at rune boundaries and never inside what renders as one symbol: not
// before a joiner, variation selector, skin-tone modifier, keycap, tag or
// combining mark, not right after a zero-width joiner, and not between the
// two regional indicators of a flag. A half-cut emoji would render as
// something else (a lone woman instead of a family, a letter instead of a
// flag).
func Truncate(s string, max int) string {
	if width(s) <= max {
		return s
	}
	rs := []rune(s)
	limit := max - width(ellipsis)
	used, cut := 0, 0
	for i, r := range rs {
		used += runeWidth(r)
		if used > limit {
			break
		}
		if canCut(rs, i+1) {
			cut = i + 1
		}
	}
	return strings.TrimRightFunc(string(rs[:cut]), unicode.IsSpace) + ellipsis
}

// canCut reports whether rs may be cut between rs[i-1] and rs[i].
func canCut(rs []rune, i int) bool {
	if i <= 0 || i >= len(rs) {
		return true
	}
	prev, next := rs[i-1], rs[i]
	if prev == zwj || extends(next) {
		return false
	}
	if isRegionalIndicator(prev) && isRegionalIndicator(next) {
		// Flags are pairs: count the indicators before the cut.
		n := 0
		for j := i - 1; j >= 0 && isRegionalIndicator(rs[j]); j-- {
			n++
		}
		return n%2 == 0
	}
	return true
}

const zwj = '\u200D'

// extends reports whether r belongs to the symbol before it.
func extends(r rune) bool {
	switch {
	case r == zwj,
		r >= 0xFE00 && r <= 0xFE0F,   // variation selectors (VS16 makes ❤ an emoji)
		r >= 0x1F3FB && r <= 0x1F3FF, // skin-tone modifiers
		r == 0x20E3,                  // combining enclosing keycap (1️⃣)
		r >= 0xE0020 && r <= 0xE007F: // tags (subdivision flags)
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc)
}

func isRegionalIndicator(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// clean makes user text one well-formed line: invalid UTF-8 replaced,
// control characters and runs of space collapsed to one space.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes user text inert in mrkdwn: &, < and > are the characters
// Slack reserves for links, mentions (<!channel>) and dates.
func escape(s string) string { return escaper.Replace(s) }

// text cleans, truncates (before escaping, so a cut never splits an
// entity) and escapes user text.
func text(s string, max int) string { return escape(Truncate(clean(s), max)) }

// code renders user text as inline code; a backtick would end it early.
func code(s string, max int) string {
	t := text(strings.ReplaceAll(s, "`", "'"), max)
	if t == "" {
		return ""
	}
	return "`" + t + "`"
}

var urlEscaper = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20")

// linkURL returns raw made safe for a mrkdwn link, or "" when it is not an
// absolute http(s) URL (no javascript:, no Slack-internal targets) or too
// long to be worth its share of the message.
func linkURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	s := urlEscaper.Replace(raw)
	if width(s) > maxURL {
		return ""
	}
	return s
}

// link renders label (already escaped) as a link to href (from linkURL),
// or as plain label when there is no href.
func link(href, label string) string {
	if href == "" {
		return label
	}
	return "<" + href + "|" + label + ">"
}

// date renders t in the reader's time zone with Slack's date formatting,
// falling back to UTC text in clients that cannot.
func date(t time.Time, format, fallback string) string {
	return fmt.Sprintf("<!date^%d^%s|%s>", t.Unix(), format, t.UTC().Format(fallback))
}

// when is a point in time within an item: "Today at 9:21 AM".
func when(t time.Time) string {
	return date(t, "{date_short_pretty} at {time}", "2006-01-02 15:04 UTC")
}

// duration is a short human duration: 45s, 12m, 2h5m, 3d4h.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + "d"
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// number formats n with thousands separators ("9,120"), as Slack's readers
// expect in English.
func number(n int64) string { return english.Sprintf("%d", n) }

var english = message.NewPrinter(language.English)

// count is "1 event", "1,204 events".
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return number(n) + " " + many
}
