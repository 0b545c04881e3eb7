// Package ingesttest runs golden-file tests for source parsers: every
// testdata/<name>.json is parsed and the events compared with
// testdata/<name>.golden.json; `go test ./ingest/... -update` rewrites them.
package ingesttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// ParseFunc is a source parser under test. name is the input file's base
// name without extension, for parsers that need a header the file name
// stands in for (Sentry's resource).
type ParseFunc func(name string, body []byte) ([]alertgate.Event, error)

// Golden runs one subtest per testdata/*.json input (skipping *.golden.json)
// in dir. An input whose name starts with "invalid_" must fail to parse, and
// its golden file holds the error message.
func Golden(t *testing.T, dir string, parse ParseFunc) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			events, perr := parse(name, body)
			var got []byte
			if strings.HasPrefix(name, "invalid_") {
				if perr == nil {
					t.Fatalf("parse succeeded, want an error")
				}
				if code := alertgate.ErrorCode(perr); code != alertgate.EINVALID {
					t.Fatalf("error code=%q, want %q (err=%v)", code, alertgate.EINVALID, perr)
				}
				got, _ = json.MarshalIndent(map[string]string{"error": alertgate.ErrorMessage(perr)}, "", "  ")
			} else {
				if perr != nil {
					t.Fatalf("parse: %v", perr)
				}
				for i := range events {
					if err := events[i].Validate(); err != nil {
						t.Fatalf("event %d invalid: %v", i, err)
					}
				}
				got, err = json.MarshalIndent(events, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
			}
			got = append(got, '\n')
			golden := filepath.Join(dir, name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the parser's output (run with -update after checking):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no inputs in %s", dir)
	}
}
