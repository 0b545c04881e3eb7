package pagerduty

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	pd "github.com/PagerDuty/go-pagerduty"
)

// jsonLen must be what encoding/json writes, or fit would cut too little
// (or too much).
func TestJSONLenIsEncodingJSON(t *testing.T) {
	inputs := []string{
		"", "plain ascii", `quote " and \ backslash`, "\n\r\t\b\f", "\x00\x01\x1f\x7f",
		"<script>&amp;</script>", "é ü 日本 🔥", "\u2028\u2029", "\xff\xfe bad \xc3", "a\xe2\x82",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsonLen(s), len(b)-2; got != want {
			t.Fatalf("jsonLen(%q)=%d, encoding/json writes %d (%s)", s, got, want, b)
		}
	}
}

// A cut keeps the longest start that fits, at a rune boundary, and says
// how many bytes it took away.
func TestCut(t *testing.T) {
	for _, s := range []string{strings.Repeat("x", 1000), strings.Repeat("🔥", 300), strings.Repeat("<", 500), strings.Repeat("\xff", 400)} {
		for _, budget := range []int{keepDetail, 100, 333} {
			got := cutEncoded(s, budget)
			b, _ := json.Marshal(got)
			if len(b)-2 > budget {
				t.Fatalf("cutEncoded(%.8q…, %d) encodes in %d bytes", s, budget, len(b)-2)
			}
			start, mark, ok := strings.Cut(got, "… [truncated ")
			if !ok || !strings.HasPrefix(s, start) || mark != strings.TrimPrefix(marker(len(s)-len(start)), "… [truncated ") {
				t.Fatalf("cutEncoded(%.8q…, %d)=%q, want a start of s and the marker of what it took", s, budget, got)
			}
			if utf8.ValidString(s) && !utf8.ValidString(start) {
				t.Fatalf("cutEncoded(%.8q…, %d) split a rune", s, budget)
			}
			// One more rune would not have fit.
			if _, size := utf8.DecodeRuneInString(s[len(start):]); jsonLen(start+s[len(start):len(start)+size])+jsonLen(marker(len(s))) <= budget {
				t.Fatalf("cutEncoded(%.8q…, %d) kept %d bytes: room for more", s, budget, len(start))
			}
		}
	}
}

// An event under the limit is left as it is, byte for byte, whether the
// quick bound says so or the encoding has to.
func TestFitLeavesSmallBodies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		label string
	}{
		{"small", "checkout"},
		{"over the bound, under the limit", strings.Repeat("x", 100<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &pd.V2Event{
				RoutingKey: strings.Repeat("k", 32), Action: "trigger", DedupKey: "alertmanager:v1:abc/0123",
				Links: []any{map[string]string{"href": "https://example.com/runbooks/x", "text": "Runbook"}},
				Payload: &pd.V2Payload{Summary: "s", Source: "checkout", Severity: "critical", Details: map[string]any{
					"labels": map[string]string{"service": tc.label}, "description": "d",
				}},
			}
			before, _ := json.Marshal(ev)
			if err := fit(ev, maxBody); err != nil {
				t.Fatal(err)
			}
			after, _ := json.Marshal(ev)
			if !bytes.Equal(before, after) {
				t.Fatalf("fit changed a body of %d bytes", len(before))
			}
		})
	}
}
