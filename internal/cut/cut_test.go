package cut

import (
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		// Short enough: unchanged.
		{"checkout", 8, "checkout"},
		// Cut, with the mark inside the budget.
		{"checkout latency", 10, "checkou…"},
		// Never inside a rune: "é" is two bytes.
		{"café au lait", 7, "caf…"},
		// A budget smaller than the mark leaves the mark alone.
		{"checkout", 2, "…"},
	} {
		got := Bytes(tc.s, tc.n)
		if got != tc.want {
			t.Errorf("Bytes(%q, %d)=%q, want %q", tc.s, tc.n, got, tc.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Bytes(%q, %d)=%q is not valid UTF-8", tc.s, tc.n, got)
		}
	}
}
