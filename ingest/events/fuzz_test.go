package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

// FuzzParse checks that no body panics, that every failure is an EINVALID
// error, and that every success is 1 to MaxEvents events, each valid,
// marshalling, namespaced under "events:" and carrying the labels Finish
// sets; and that parsing the same body again gives the same IDs (a sender's
// retry is stored once).
func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		body, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	// The three shapes Parse tells apart, and a few near misses.
	for _, s := range []string{
		`[{"kind":"bug","key":"k"},{"id":"a","kind":"incident","key":"k","episode":"e","status":"muted","count":3}]`,
		`{"kind":"bug","key":"k","labels":{"source":"x","team":"t"},"links":[{"href":"h"}],"occurred_at":"2026-03-14T02:00:00+05:00"}`,
		`{"kind":"bug","key":" ","title":"events"}`,
		`{"events":null}`,
		`[]`,
		`{"kind":"bug","key":"k"} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body)
		if err != nil {
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v)", got, want, err)
			}
			if evs != nil {
				t.Fatalf("%d events returned with error %v", len(evs), err)
			}
			return
		}
		if n := len(evs); n < 1 || n > MaxEvents {
			t.Fatalf("%d events, want 1 to %d", n, MaxEvents)
		}
		for i := range evs {
			ev := &evs[i]
			if err := ev.Validate(); err != nil {
				t.Fatalf("event %d invalid: %v", i, err)
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("event %d does not marshal: %v", i, err)
			}
			if ev.Source != alertgate.SourceEvents {
				t.Fatalf("event %d source=%q", i, ev.Source)
			}
			if !strings.HasPrefix(ev.ID, "events:") || !strings.HasPrefix(ev.Key, KeyPrefix) {
				t.Fatalf("event %d id=%q key=%q, want both under events:", i, ev.ID, ev.Key)
			}
			if ev.Count < 1 {
				t.Fatalf("event %d count=%d", i, ev.Count)
			}
			if ev.OccurredAt.Location() != time.UTC {
				t.Fatalf("event %d occurred_at %v not in UTC", i, ev.OccurredAt)
			}
			for k, want := range map[string]string{
				alertgate.LabelSource:   string(ev.Source),
				alertgate.LabelKind:     string(ev.Kind),
				alertgate.LabelSeverity: string(ev.Severity),
			} {
				if got := ev.Labels[k]; got != want {
					t.Fatalf("event %d label %s=%q, want %q", i, k, got, want)
				}
			}
		}
		again, err := Parse(body)
		if err != nil || len(again) != len(evs) {
			t.Fatalf("second parse: %d events, %v; first gave %d", len(again), err, len(evs))
		}
		for i := range evs {
			if again[i].ID != evs[i].ID {
				t.Fatalf("event %d id=%q, then %q", i, evs[i].ID, again[i].ID)
			}
		}
	})
}
