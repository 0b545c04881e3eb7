package slack

import (
	"encoding/json"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"
)

// longKey is a key of n bytes: sources put whole label sets or URLs in keys.
func longKey(prefix string, n int) string {
	return prefix + strings.Repeat("x", n-len(prefix))
}

func TestButtonValueRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    ButtonValue
		// hashed: the key travels as KeyRef, the dedup_key not at all.
		hashed bool
	}{
		// An incident's button: the key and dedup_key as they are.
		{"short incident", ButtonValue{Digest: "digest:payments:1:1", Key: "alertmanager:v1:a1a1", DedupKey: "alertmanager:v1:a1a1/c876b4e4733562f9"}, false},
		// A bug class's button: no dedup_key.
		{"short bug", ButtonValue{Digest: "digest:platform:1:1", Key: "sentry:v1:issue:5151"}, false},
		// Characters JSON escapes: the value is JSON and round-trips them.
		{"escaped characters", ButtonValue{Digest: "d", Key: `events:a"b\c<d>&é` + "\n"}, false},
		// A 64 KB key does not fit Slack's 2000 characters.
		{"64 KB key", ButtonValue{Digest: "digest:platform:1:1", Key: longKey("events:", 64<<10), DedupKey: longKey("events:", 64<<10) + "/0011"}, true},
		// Fits in bytes, not once JSON escapes each '<' as \u003c.
		{"key that grows when escaped", ButtonValue{Digest: "d", Key: strings.Repeat("<", 1000)}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.v.Encode()
			if len(s) > maxButtonValue {
				t.Fatalf("value of %d bytes, Slack takes %d", len(s), maxButtonValue)
			}
			got, err := ParseButtonValue(s)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.v
			if tt.hashed {
				want.Key, want.DedupKey = KeyRef(tt.v.Key), ""
			}
			if got != want {
				t.Fatalf("parsed %+v, want %+v", got, want)
			}
		})
	}
}

// The longest key kept whole fills the value to exactly Slack's limit;
// one byte more and it is hashed.
func TestButtonValueLimit(t *testing.T) {
	overhead := len(ButtonValue{Digest: "d"}.Encode()) // {"d":"d","k":""}
	fits := ButtonValue{Digest: "d", Key: longKey("k:", maxButtonValue-overhead)}
	if s := fits.Encode(); len(s) != maxButtonValue || !strings.Contains(s, fits.Key) {
		t.Fatalf("a key filling the value exactly: %d bytes, key kept %v", len(s), strings.Contains(s, fits.Key))
	}
	over := ButtonValue{Digest: "d", Key: longKey("k:", maxButtonValue-overhead+1)}
	if v, _ := ParseButtonValue(over.Encode()); v.Key != KeyRef(over.Key) {
		t.Fatalf("a key one byte over: %q, want its KeyRef", v.Key)
	}
}

func TestKeyRef(t *testing.T) {
	a, b := longKey("events:", 64<<10), longKey("events:", 64<<10)+"y"
	if KeyRef(a) != KeyRef(a) {
		t.Fatal("KeyRef is not stable")
	}
	if KeyRef(a) == KeyRef(b) {
		t.Fatal("keys differing in their last byte share a KeyRef")
	}
	// "#" marks a reference: no key alertgate makes starts with it.
	if r := KeyRef(a); !strings.HasPrefix(r, "#") || len(r) != 33 {
		t.Fatalf("KeyRef=%q, want # and 32 hex digits", r)
	}
}

func TestParseButtonValueRefuses(t *testing.T) {
	for _, s := range []string{
		"",                   // empty
		"sentry:v1:issue:1",  // not JSON: a value of some other app
		`{"d":"digest:x:1"}`, // names no key
		`["k"]`,              // JSON, not alertgate's object
	} {
		if v, err := ParseButtonValue(s); err == nil {
			t.Errorf("ParseButtonValue(%q)=%+v, want an error", s, v)
		}
	}
}

// A digest listing an incident and a bug class with 64 KB keys: every
// button's value is within Slack's limit and resolves, through the
// digest's record, to the full key (and the incident's dedup_key).
func TestLongKeyButtonsResolve(t *testing.T) {
	inKey, bugKey := longKey("alertmanager:v1:", 64<<10), longKey("sentry:v1:issue:", 64<<10)
	d := Digest{
		Team: "platform", ID: "digest:platform:1:1", Buttons: true,
		Opened: []Incident{{Key: inKey, Title: "Disk full", Service: "db", Source: "alertmanager", DedupKey: inKey + "/0011"}},
		New:    []Bug{{Key: bugKey, Title: "TypeError", Service: "web", Source: "sentry"}},
	}
	rec := &Message{ID: d.ID, Team: d.Team, Digest: d}
	msg := Render(d)
	b, err := json.Marshal(msg.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(b, &blocks); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, bl := range blocks {
		if bl.Type != string(slackapi.MBTAction) {
			continue
		}
		for _, e := range bl.Elements {
			if len(e.Value) > maxButtonValue {
				t.Fatalf("%s: value of %d bytes", e.ActionID, len(e.Value))
			}
			v, err := ParseButtonValue(e.Value)
			if err != nil {
				t.Fatal(err)
			}
			if v.Digest != d.ID {
				t.Fatalf("%s names digest %q, want %q", e.ActionID, v.Digest, d.ID)
			}
			got, err := resolveRef(rec, v)
			if err != nil {
				t.Fatalf("%s: %v", e.ActionID, err)
			}
			want := ButtonValue{Digest: d.ID, Key: inKey, DedupKey: inKey + "/0011"}
			if e.ActionID == ActionMute {
				want = ButtonValue{Digest: d.ID, Key: bugKey}
			}
			if got != want {
				t.Fatalf("%s resolves to a key of %d bytes (dedup_key %d), want %d (%d)", e.ActionID, len(got.Key), len(got.DedupKey), len(want.Key), len(want.DedupKey))
			}
			seen[e.ActionID] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("buttons %v, want acknowledge, silence_1h and mute", seen)
	}
	// A reference the digest does not list, or with its record gone, is
	// refused naming why.
	if _, err := resolveRef(rec, ButtonValue{Digest: d.ID, Key: KeyRef("other")}); err == nil || !strings.Contains(err.Error(), "lists no item") {
		t.Fatalf("unknown reference: %v", err)
	}
	if _, err := resolveRef(nil, ButtonValue{Digest: d.ID, Key: KeyRef(bugKey)}); err == nil || !strings.Contains(err.Error(), "no longer kept") {
		t.Fatalf("record gone: %v", err)
	}
}
