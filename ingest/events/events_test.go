package events

import (
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/ingesttest"
)

func TestParseGolden(t *testing.T) {
	ingesttest.Golden(t, "testdata", func(_ string, body []byte) ([]alertgate.Event, error) { return Parse(body) })
}

// The same body without an id gets the same ID, so a retry is stored once.
func TestParseStableID(t *testing.T) {
	body := []byte(`{"kind":"bug","key":"k","occurred_at":"2026-03-14T02:00:00Z"}`)
	a, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse(body)
	if got, want := a[0].ID, b[0].ID; got != want {
		t.Fatalf("id=%q, want %q", got, want)
	}
}

// A sender's id, key or episode over the limit is a 400 naming the event
// and the field as sent; nothing of the request is taken.
func TestParseLimits(t *testing.T) {
	big := strings.Repeat("k", 64<<10)
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{"key", `{"events":[{"kind":"bug","key":"` + big + `"}]}`, "events[0].key: 65536 bytes, over the 1024-byte limit"},
		{"id", `[{"kind":"bug","key":"ok"},{"id":"` + big + `","kind":"bug","key":"k"}]`, "events[1].id: 65536 bytes, over the 1024-byte limit"},
		{"episode", `{"kind":"incident","key":"k","episode":"` + big + `"}`, "events[0].episode: 65536 bytes, over the 1024-byte limit"},
		{"label name", `{"kind":"bug","key":"k","labels":{"` + strings.Repeat("n", 1500) + `":"v"}}`,
			`events[0].labels: the name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"… is 1500 bytes, over the 1024-byte limit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Parse([]byte(tc.body))
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v, %d events)", got, want, err, len(evs))
			}
			if got := alertgate.ErrorMessage(err); got != tc.want {
				t.Fatalf("message=%q, want %q", got, tc.want)
			}
		})
	}
	at := strings.Repeat("k", alertgate.MaxFieldBytes)
	if _, err := Parse([]byte(`{"id":"` + at + `","kind":"incident","key":"` + at + `","episode":"` + at + `","labels":{"big":"` + big + big + `"}}`)); err != nil {
		t.Fatalf("at the limits, with a large label value: %v", err)
	}
}
