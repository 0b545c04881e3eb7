// Package cut shortens text to a byte budget without splitting a rune, and
// marks the cut so a reader knows there was more.
package cut

import "unicode/utf8"

// Mark ends a cut text.
const Mark = "…"

// Bytes returns s cut to at most n bytes at a rune boundary, ending with
// Mark when anything was cut.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := n - len(Mark)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	if end < 0 {
		end = 0
	}
	return s[:end] + Mark
}
