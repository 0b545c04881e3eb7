package slack

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	family = "👩\u200d👩\u200d👧\u200d👦" // 4 emoji joined by 3 ZWJ: 11 UTF-16 units
	fr     = "🇫🇷"                     // 2 regional indicators: 4 units
	de     = "🇩🇪"
	thumbs = "👍🏽"       // emoji + skin tone: 4 units
	heart  = "❤\ufe0f"  // text heart + VS16: 2 units
	keycap = "1\ufe0f⃣" // digit + VS16 + enclosing keycap: 3 units
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want string
	}{
		// Within the limit: unchanged.
		{"short", "abc", 3, "abc"},
		// Plain text: cut, marked, the mark counting in the limit.
		{"ascii", "abcdef", 4, "abc…"},
		// No trailing space before the mark.
		{"space", "abc def", 5, "abc…"},
		// Multi-byte runes are never split.
		{"accents", "ééééé", 3, "éé…"},
		// A family is one symbol: never cut between its members.
		{"zwj fits", family + family, 12, family + "…"},
		{"zwj inside", family + family, 20, family + "…"},
		{"zwj none fits", family, 10, "…"},
		// Flags are pairs of regional indicators: never half a flag.
		{"flag fits", fr + de, 5, fr + "…"},
		{"flag half", fr + de, 7, fr + "…"},
		{"flag none", fr + de, 4, "…"},
		{"flags", fr + de + fr + de, 13, fr + de + fr + "…"},
		// Skin tones stay with their emoji.
		{"skin tone", thumbs + thumbs, 5, thumbs + "…"},
		{"skin tone alone", thumbs + thumbs, 4, "…"},
		// Variation selectors stay with their symbol.
		{"vs16", heart + heart, 3, heart + "…"},
		// Keycaps are three code points.
		{"keycap", keycap + keycap, 4, keycap + "…"},
		{"keycap inside", keycap + keycap, 5, keycap + "…"},
		// Combining marks stay with their letter.
		{"combining", "e\u0301e\u0301", 3, "e\u0301…"},
		// Never right after a joiner.
		{"after zwj", "ab\u200dcd", 4, "a…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.in, tc.max)
			if got != tc.want {
				t.Fatalf("Truncate(%q, %d)=%q, want %q", tc.in, tc.max, got, tc.want)
			}
			if w := width(got); w > tc.max {
				t.Fatalf("width(%q)=%d, want at most %d", got, w, tc.max)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("invalid UTF-8: %q", got)
			}
		})
	}
}

func TestWidth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"abc", 3},   // ASCII
		{"é", 1},     // BMP
		{family, 11}, // 4 astral emoji (2 units each) and 3 joiners
		{fr, 4},      // 2 astral regional indicators
	} {
		if got := width(tc.in); got != tc.want {
			t.Fatalf("width(%q)=%d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		// Mentions and links become inert.
		{"mention", "<!channel> & <@U123|bob>", 100, "&lt;!channel&gt; &amp; &lt;@U123|bob&gt;"},
		// One line: newlines, tabs and runs of space collapse.
		{"lines", " a\n\tb  c\r\n", 100, "a b c"},
		// Invalid UTF-8 is replaced, not passed on.
		{"invalid", "a\xffb", 100, "a\uFFFDb"},
		// Cut before escaping, so an entity is never split.
		{"cut", "ab&&&&", 4, "ab&amp;…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := text(tc.in, tc.max); got != tc.want {
				t.Fatalf("text(%q)=%q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLinkURL(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		// An ordinary URL is kept.
		{"https", "https://sentry.io/issues/1/", "https://sentry.io/issues/1/"},
		// Characters that end or split a mrkdwn link are encoded.
		{"reserved", "https://x.test/a?b=1&c=2|d>e", "https://x.test/a?b=1&amp;c=2%7Cd%3Ee"},
		// Only http(s): no javascript:, no Slack-internal targets.
		{"javascript", "javascript:alert(1)", ""},
		{"relative", "/v1/bugs", ""},
		{"mailto", "mailto:a@b.c", ""},
		// Too long to be worth its share of the message.
		{"long", "https://x.test/" + strings.Repeat("a", maxURL), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := linkURL(tc.in); got != tc.want {
				t.Fatalf("linkURL(%q)=%q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{45 * time.Second, "45s"},                // under a minute
		{12*time.Minute + 30*time.Second, "12m"}, // minutes, seconds dropped
		{2 * time.Hour, "2h"},                    // whole hours
		{2*time.Hour + 5*time.Minute, "2h5m"},    // hours and minutes
		{75 * time.Hour, "3d3h"},                 // days and hours
		{-time.Minute, "0s"},                     // clock skew
	} {
		if got := duration(tc.in); got != tc.want {
			t.Fatalf("duration(%v)=%q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-1234, "-1,234"},
	} {
		if got := number(tc.in); got != tc.want {
			t.Fatalf("number(%d)=%q, want %q", tc.in, got, tc.want)
		}
	}
}
