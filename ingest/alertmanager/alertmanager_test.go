package alertmanager

import (
	"encoding/json"
	"os"
	"strings"
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

// webhook renders a one-alert webhook with the given fingerprint, labels
// and annotations.
func webhook(t *testing.T, fingerprint string, labels, annotations map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "alertgate", "groupKey": "{}:{}",
		"alerts": []map[string]any{{
			"status": "firing", "labels": labels, "annotations": annotations,
			"startsAt": "2026-03-14T09:26:53Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A fingerprint or label name over the limit is a 400 naming the alert
// and the field, whatever it would have become (key, episode, ID).
func TestParseLimits(t *testing.T) {
	labels := map[string]string{"alertname": "HighErrorRate"}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"fingerprint", webhook(t, strings.Repeat("f", 64<<10), labels, nil), "alerts[0].fingerprint: 65536 bytes, over the 1024-byte limit"},
		{"label name", webhook(t, "abc", map[string]string{"alertname": "A", strings.Repeat("l", 2000): "v"}, nil),
			`alerts[0].labels: the name "llllllllllllllllllllllllllllllll"… is 2000 bytes, over the 1024-byte limit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.body)
			if got := alertgate.ErrorCode(err); got != alertgate.EINVALID {
				t.Fatalf("code=%q (%v), want %q", got, err, alertgate.EINVALID)
			}
			if got := alertgate.ErrorMessage(err); got != tc.want {
				t.Fatalf("message=%q, want %q", got, tc.want)
			}
		})
	}
	// At the limit the alert is taken.
	if _, err := Parse(webhook(t, strings.Repeat("f", alertgate.MaxFieldBytes), labels, nil)); err != nil {
		t.Fatalf("fingerprint at the limit: %v", err)
	}
}

// A label value as large as the body is taken, and is in the event once:
// a title made of the labels (no summary annotation) is cut, or the event
// would hold the value twice and could pass JetStream's message limit.
func TestParseHugeLabelValue(t *testing.T) {
	big := strings.Repeat("v", 900<<10)
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		wantTitle   string
	}{
		{"with summary", map[string]string{"summary": "disk full"}, "disk full"},
		{"title from labels", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Parse(webhook(t, "abc", map[string]string{"alertname": "DiskFull", "blob": big}, tc.annotations))
			if err != nil {
				t.Fatal(err)
			}
			ev := evs[0]
			if got := ev.Labels["blob"]; got != big {
				t.Fatalf("label value of %d bytes, want it whole (%d)", len(got), len(big))
			}
			if tc.wantTitle != "" {
				if got := ev.Title; got != tc.wantTitle {
					t.Fatalf("title=%q, want %q", got, tc.wantTitle)
				}
				return
			}
			if got := len(ev.Title); got > maxLabelTitle {
				t.Fatalf("title of %d bytes, want at most %d", got, maxLabelTitle)
			}
			if !strings.HasPrefix(ev.Title, "DiskFull {blob=vvv") || !strings.HasSuffix(ev.Title, "…") {
				t.Fatalf("title=%.60q…, want the labels, cut and marked", ev.Title)
			}
		})
	}
}
