package alertmanager

import (
	"os"
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/ingesttest"
)

func TestParseGolden(t *testing.T) {
	ingesttest.Golden(t, "testdata", func(_ string, body []byte) ([]alertgate.Event, error) { return Parse(body) })
}

// An episode's firing and resolved share key and episode but not ID; a new
// startsAt is a new episode of the same key.
func TestParseIdentity(t *testing.T) {
	parse := func(name string) alertgate.Event {
		t.Helper()
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return evs[0]
	}
	firing, resolved := parse("firing_one.json"), parse("resolved_one.json")
	if got, want := resolved.Key, firing.Key; got != want {
		t.Fatalf("resolved key=%q, want %q", got, want)
	}
	if got, want := resolved.Episode, firing.Episode; got != want {
		t.Fatalf("resolved episode=%q, want %q", got, want)
	}
	if firing.ID == resolved.ID {
		t.Fatalf("firing and resolved share ID %q", firing.ID)
	}
	all, err := Parse(mustRead(t, "testdata/alertmanager_v4.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), 2; got != want {
		t.Fatalf("events=%d, want %d", got, want)
	}
	if all[0].Key == all[1].Key {
		t.Fatalf("two fingerprints share key %q", all[0].Key)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"alertmanager_v4.json", "firing_one.json", "invalid_malformed.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body)
		if err != nil {
			if alertgate.ErrorCode(err) != alertgate.EINVALID {
				t.Fatalf("error code %q for %v", alertgate.ErrorCode(err), err)
			}
			return
		}
		for i := range evs {
			if err := evs[i].Validate(); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	})
}
