package alertgate

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func labelsSize(l map[string]string) int {
	n := 0
	for k, v := range l {
		n += len(k) + len(v)
	}
	return n
}

func TestBound(t *testing.T) {
	huge := strings.Repeat("0123456789abcdef", 900<<10/16)
	for _, tc := range []struct {
		name  string
		ev    Event
		check func(t *testing.T, ev Event)
	}{
		{
			// Within the budgets: untouched.
			name: "small",
			ev:   Event{Title: "t", Description: "d", Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout"}},
			check: func(t *testing.T, ev Event) {
				if ev.Title != "t" || ev.Description != "d" || ev.Labels["alertname"] != "HighErrorRate" || ev.Labels["service"] != "checkout" {
					t.Fatalf("changed: %+v", ev)
				}
			},
		},
		{
			// One huge value is cut, with the marker; the short ones stay.
			name: "one huge label",
			ev:   Event{Labels: map[string]string{"alertname": "HighErrorRate", "blob": huge}},
			check: func(t *testing.T, ev Event) {
				if ev.Labels["alertname"] != "HighErrorRate" {
					t.Fatalf("alertname=%q, cut though short", ev.Labels["alertname"])
				}
				b := ev.Labels["blob"]
				if !strings.HasPrefix(b, "0123456789abcdef") || !strings.Contains(b, "… [truncated ") {
					t.Fatalf("blob=%.40q…%q, want its start and the marker", b, b[max(0, len(b)-40):])
				}
				if got := labelsSize(ev.Labels); got > MaxLabelsBytes || got < MaxLabelsBytes-1024 {
					t.Fatalf("labels take %d bytes, want just under %d", got, MaxLabelsBytes)
				}
			},
		},
		{
			// Many medium values: each cut to one level.
			name: "many medium labels",
			ev: func() Event {
				l := map[string]string{}
				for i := range 40 {
					l["l"+strings.Repeat("x", i)] = strings.Repeat("é", 2000)
				}
				return Event{Labels: l}
			}(),
			check: func(t *testing.T, ev Event) {
				if got := labelsSize(ev.Labels); got > MaxLabelsBytes {
					t.Fatalf("labels take %d bytes, over %d", got, MaxLabelsBytes)
				}
				for k, v := range ev.Labels {
					if !utf8.ValidString(v) || !strings.Contains(v, "[truncated") {
						t.Fatalf("label %s=%.20q…: not a marked cut at a rune boundary", k, v)
					}
				}
			},
		},
		{
			// Texts and links.
			name: "texts and links",
			ev: Event{Title: huge, Description: huge, Transition: huge, RunbookURL: "https://x/" + huge,
				Links: append([]Link{{Href: "https://x/" + huge, Text: "long url"}}, make([]Link, 40)...)},
			check: func(t *testing.T, ev Event) {
				if len(ev.Title) > MaxTextBytes || len(ev.Description) > MaxDescriptionBytes || len(ev.Transition) > MaxTextBytes {
					t.Fatalf("texts of %d, %d, %d bytes", len(ev.Title), len(ev.Description), len(ev.Transition))
				}
				if ev.RunbookURL != "" {
					t.Fatalf("a cut runbook URL kept")
				}
				if len(ev.Links) != MaxLinks || ev.Links[0].Text == "long url" {
					t.Fatalf("%d links (first %q), want %d without the long URL", len(ev.Links), ev.Links[0].Text, MaxLinks)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.Bound()
			tc.check(t, ev)
			// Bound again changes nothing.
			again := ev
			again.Labels = map[string]string{}
			for k, v := range ev.Labels {
				again.Labels[k] = v
			}
			again.Bound()
			for k, v := range ev.Labels {
				if again.Labels[k] != v {
					t.Fatalf("second Bound changed label %s", k)
				}
			}
		})
	}
}

func TestValidateLabelNamesTotal(t *testing.T) {
	ev := Event{ID: "i", Key: "k", Kind: KindBug, Status: StatusFiring, Severity: SeverityError, Labels: map[string]string{}}
	for i := range 40 {
		ev.Labels[strings.Repeat("n", 1000)+string(rune('A'+i))] = "v"
	}
	err := ev.Validate()
	if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), "labels:") {
		t.Fatalf("err=%v, want a 400 naming labels", err)
	}
}
