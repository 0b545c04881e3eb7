package runbooks

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// rb is a runbook file with the given id and matchers.
func rb(id string, match ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\nid: %s\ntitle: Title of %s\nmatch:\n", id, id)
	for _, m := range match {
		fmt.Fprintf(&b, "  - '%s'\n", m)
	}
	fmt.Fprintf(&b, "---\n# Steps for %s\n\n1. Look.\n", id)
	return b.String()
}

// testSet is a set exercising every rule of Match.
func testSet(t *testing.T) *Set {
	return load(t, map[string]string{
		"generic.md":  rb("generic", `severity="critical"`),
		"checkout.md": rb("checkout", `alertname="HighErrorRate"`, `service=~"checkout|payments"`),
		// Written in reverse file order so that ID order, not file order, breaks the tie.
		"1.md":        rb("tie-b", `service="tie"`),
		"2.md":        rb("tie-a", `service="tie"`),
		"by-id.md":    rb("by-id"),
		"not-prod.md": rb("not-prod", `service="np"`, `env!="prod"`),
	})
}

func TestMatch(t *testing.T) {
	s := testSet(t)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   string // "" for nil
	}{
		// Both checkout matchers and the generic one match: two matchers beat one.
		{"MostMatchersWins", map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}, "checkout"},
		// The regexp alternative matches too.
		{"RegexpAlternative", map[string]string{"alertname": "HighErrorRate", "service": "payments"}, "checkout"},
		// Regexps are anchored as in Alertmanager: checkout-v2 is not checkout.
		{"RegexpAnchored", map[string]string{"alertname": "HighErrorRate", "service": "checkout-v2", "severity": "critical"}, "generic"},
		// Only the one-matcher runbook matches.
		{"LessSpecific", map[string]string{"alertname": "Other", "severity": "critical"}, "generic"},
		// Equally specific: the lower ID wins, whatever the file order.
		{"TieByID", map[string]string{"service": "tie"}, "tie-a"},
		// A label the event lacks is "", which != "prod" accepts.
		{"AbsentLabelNotEqual", map[string]string{"service": "np"}, "not-prod"},
		// ... and a present label equal to the value does not.
		{"PresentLabelNotEqual", map[string]string{"service": "np", "env": "prod"}, ""},
		// A runbook without matchers is never chosen by labels, even for no labels at all.
		{"NoLabels", map[string]string{}, ""},
		{"NilLabels", nil, ""},
		// Nothing applies.
		{"NoMatch", map[string]string{"service": "search", "severity": "warning"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if r := s.Match(tt.labels); r != nil {
				got = r.ID
			}
			if want := tt.want; got != want {
				t.Fatalf("Match(%v)=%q, want %q", tt.labels, got, want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	s := testSet(t)
	checkout := map[string]string{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}
	const src = "https://runbooks.example.com/checkout/high-error-rate"
	for _, tt := range []struct {
		name      string
		route     string
		labels    map[string]string
		sourceURL string
		publicURL string
		wantID    string
		wantURL   string
		wantWhy   string // "" for a nil result
	}{
		// The route's runbook wins over a more specific match and the source's link.
		{"Route", "generic", checkout, src, "http://localhost:8080", "generic", "http://localhost:8080/runbooks/generic", "route"},
		// The route can name a runbook without matchers.
		{"RouteByIDOnly", "by-id", nil, "", "http://localhost:8080", "by-id", "http://localhost:8080/runbooks/by-id", "route"},
		// A route naming an unknown id falls back to matching: `check` reports
		// the route, but a page should still carry the closest runbook.
		{"RouteUnknownFallsBackToMatch", "no-such-runbook", checkout, src, "http://localhost:8080", "checkout", "http://localhost:8080/runbooks/checkout", "match"},
		// ... and past matching to the source when nothing matches.
		{"RouteUnknownFallsBackToSource", "no-such-runbook", map[string]string{"service": "search"}, src, "http://localhost:8080", "", src, "source"},
		// No route runbook: the most specific match.
		{"Match", "", checkout, src, "http://localhost:8080", "checkout", "http://localhost:8080/runbooks/checkout", "match"},
		// No match: the event's own runbook URL, without steps.
		{"Source", "", map[string]string{"service": "search"}, "  " + src + " ", "http://localhost:8080", "", src, "source"},
		// Nothing at all.
		{"None", "", map[string]string{"service": "search"}, "", "http://localhost:8080", "", "", ""},
		// One trailing slash on public_url must not double the slash.
		{"TrailingSlash", "", checkout, "", "https://alertgate.example.com/", "checkout", "https://alertgate.example.com/runbooks/checkout", "match"},
		// Nor several.
		{"TrailingSlashes", "", checkout, "", "https://alertgate.example.com///", "checkout", "https://alertgate.example.com/runbooks/checkout", "match"},
		// A gateway behind a path prefix keeps it.
		{"PathPrefix", "", checkout, "", "https://ops.example.com/alertgate/", "checkout", "https://ops.example.com/alertgate/runbooks/checkout", "match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Choose(tt.route, tt.labels, tt.sourceURL, tt.publicURL)
			if tt.wantWhy == "" {
				if got != nil {
					t.Fatalf("Choose()=%+v, want nil", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Choose()=nil, want %s", tt.wantWhy)
			}
			if got, want := got.Why, tt.wantWhy; got != want {
				t.Fatalf("Why=%v, want %v", got, want)
			}
			if got, want := got.ID, tt.wantID; got != want {
				t.Fatalf("ID=%v, want %v", got, want)
			}
			if got, want := got.URL, tt.wantURL; got != want {
				t.Fatalf("URL=%v, want %v", got, want)
			}
			if tt.wantID == "" {
				if got.Title != "" {
					t.Fatalf("source runbook has a title: %+v", got)
				}
				return
			}
			r, _ := s.Get(tt.wantID)
			if got, want := got.Title, r.Title; got != want {
				t.Fatalf("Title=%v, want %v", got, want)
			}
			// The steps the page gets with it, by its id.
			steps, ok := s.Steps(got.ID)
			if got, want := steps, "# Steps for "+tt.wantID+"\n\n1. Look."; !ok || got != want {
				t.Fatalf("Steps(%q)=%q, %v; want %q", tt.wantID, got, ok, want)
			}
		})
	}

	// A nil set (no runbooks_dir) still passes the source's link on.
	t.Run("NilSet", func(t *testing.T) {
		var s *Set
		got := s.Choose("generic", checkout, src, "http://localhost:8080")
		if got == nil || got.URL != src || got.Why != "source" {
			t.Fatalf("Choose()=%+v, want the source URL", got)
		}
	})
	// Each call returns a fresh value: a sink editing it cannot change the next page.
	t.Run("Fresh", func(t *testing.T) {
		a := s.Choose("", checkout, "", "")
		a.Title = "edited"
		if b := s.Choose("", checkout, "", ""); b.Title == "edited" {
			t.Fatalf("Choose returned shared state")
		}
	})
}

func TestCapSteps(t *testing.T) {
	const max = 100
	lines := strings.Repeat("step one two three\n", 10) // 190 bytes, lines of 19
	for _, tt := range []struct {
		name string
		in   string
		want string
	}{
		// Under the cap: unchanged.
		{"Short", "1. Look.", "1. Look."},
		// Exactly the cap: unchanged.
		{"Exact", strings.Repeat("a", max), strings.Repeat("a", max)},
		// Cut at the last line break that fits with the note.
		{"LineBoundary", lines, strings.Repeat("step one two three\n", 2) + "step one two three" + truncatedNote},
		// One long line of 2-, 3- and 4-byte runes: cut between runes.
		{"Runes2", strings.Repeat("é", 100), strings.Repeat("é", (max-len(truncatedNote))/2) + truncatedNote},
		{"Runes3", strings.Repeat("€", 100), strings.Repeat("€", (max-len(truncatedNote))/3) + truncatedNote},
		{"Runes4", strings.Repeat("😀", 100), strings.Repeat("😀", (max-len(truncatedNote))/4) + truncatedNote},
		// A line break too early would throw away most of the budget: cut mid-line instead.
		{"EarlyBreak", "title\n" + strings.Repeat("x", 200), "title\n" + strings.Repeat("x", max-len(truncatedNote)-len("title\n")) + truncatedNote},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := capSteps(tt.in, max)
			if got != tt.want {
				t.Fatalf("capSteps()=%q, want %q", got, tt.want)
			}
			if got, want := len(got) <= max, true; got != want {
				t.Fatalf("len<=%d is %v, want %v", max, got, want)
			}
			if got, want := utf8.ValidString(got), true; got != want {
				t.Fatalf("ValidString=%v, want %v", got, want)
			}
		})
	}

	// Through Choose and Steps, on a runbook far over 8 KiB of multi-byte text.
	t.Run("Page", func(t *testing.T) {
		body := strings.Repeat("1. Redémarrer le service « checkout » — vérifier 😀\n", 400)
		src := "---\nid: long\ntitle: Long\nmatch: ['service=\"long\"']\n---\n" + body
		s := load(t, map[string]string{"long.md": src})
		got, _ := s.Steps(s.Choose("", map[string]string{"service": "long"}, "", "http://x").ID)
		if len(got) > maxSteps || !utf8.ValidString(got) || !strings.HasSuffix(got, "…(truncated, see link)") {
			t.Fatalf("Steps: %d bytes, valid UTF-8 %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-40:])
		}
		if got, want := strings.HasSuffix(strings.TrimSuffix(got, truncatedNote), "😀"), true; got != want {
			t.Fatalf("cut mid-line: %v, want %v", got, want)
		}
	})
}

// The set is shared by the router's workers and the HTTP server; -race checks it.
func TestSet_Concurrent(t *testing.T) {
	s := testSet(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				rb := s.Choose("", map[string]string{"alertname": "HighErrorRate", "service": "checkout"}, "", "http://x")
				if rb == nil || rb.ID != "checkout" {
					t.Errorf("Choose()=%+v", rb)
					return
				}
				r, _ := s.Get("checkout")
				if _, err := r.HTML(); err != nil {
					t.Error(err)
					return
				}
				_ = s.All()
			}
		}()
	}
	wg.Wait()
}
