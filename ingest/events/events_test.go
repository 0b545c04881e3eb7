package events

import (
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
