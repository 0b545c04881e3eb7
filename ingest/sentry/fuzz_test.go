package sentry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
)

// FuzzParse checks that no input panics, that every failure is an EINVALID
// error, and that every event returned validates and marshals.
func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob("testdata/*.json")
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
		f.Add(resourceFor(strings.TrimSuffix(filepath.Base(in), ".json")), body)
	}
	f.Fuzz(func(t *testing.T, resource string, body []byte) {
		events, err := parse(resource, body)
		if err != nil {
			if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
				t.Fatalf("code=%q, want %q (err=%v)", got, want, err)
			}
			return
		}
		for i := range events {
			if err := events[i].Validate(); err != nil {
				t.Fatalf("event %d invalid: %v", i, err)
			}
			if _, err := json.Marshal(events[i]); err != nil {
				t.Fatalf("event %d does not marshal: %v", i, err)
			}
			if strings.ContainsAny(events[i].ID, "\r\n ") {
				t.Fatalf("event %d ID %q is not a header value", i, events[i].ID)
			}
		}
	})
}
