package alertgate_test

import (
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
)

func validEvent() alertgate.Event {
	return alertgate.Event{
		ID: "events:1", Source: alertgate.SourceEvents, Kind: alertgate.KindIncident,
		Key: "events:k", Episode: "e", Status: alertgate.StatusFiring, Severity: alertgate.SeverityError,
		Labels: map[string]string{"service": "checkout"},
	}
}

// Validate bounds what becomes a JetStream header (id, key, episode) and
// label names, and names the field and both sizes; a label value may be as
// large as the body.
func TestValidateLimits(t *testing.T) {
	at := strings.Repeat("x", alertgate.MaxIdentityBytes)
	over := strings.Repeat("x", 64<<10)
	longName := strings.Repeat("n", alertgate.MaxFieldBytes+1)
	for _, tc := range []struct {
		name string
		mod  func(*alertgate.Event)
		want string // "" for valid
	}{
		{"at the limits", func(e *alertgate.Event) {
			e.ID, e.Key, e.Episode = at, at, at
			e.Labels[strings.Repeat("n", alertgate.MaxFieldBytes)] = "v"
		}, ""},
		{"huge label value", func(e *alertgate.Event) { e.Labels["big"] = strings.Repeat("v", 900<<10) }, ""},
		{"id", func(e *alertgate.Event) { e.ID = over }, "id: 65536 bytes, over the 2048-byte limit"},
		{"key", func(e *alertgate.Event) { e.Key = over }, "key: 65536 bytes, over the 2048-byte limit"},
		{"episode", func(e *alertgate.Event) { e.Episode = over }, "episode: 65536 bytes, over the 2048-byte limit"},
		{"label name", func(e *alertgate.Event) {
			e.Labels[longName] = "v"
			e.Labels["z"+longName] = "v"
		}, `labels: the name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"… is 1025 bytes, over the 1024-byte limit`},
		// The checks that were there first still come first.
		{"missing id wins", func(e *alertgate.Event) { e.ID, e.Key = "", over }, "id: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.mod(&e)
			err := e.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if got := alertgate.ErrorCode(err); got != alertgate.EINVALID {
				t.Fatalf("code=%q (%v), want %q", got, err, alertgate.EINVALID)
			}
			if got := alertgate.ErrorMessage(err); got != tc.want {
				t.Fatalf("message=%q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckField(t *testing.T) {
	if err := alertgate.CheckField("fingerprint", strings.Repeat("f", alertgate.MaxFieldBytes)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	err := alertgate.CheckField("fingerprint", strings.Repeat("f", 65536))
	if got, want := alertgate.ErrorMessage(err), "fingerprint: 65536 bytes, over the 1024-byte limit"; got != want {
		t.Fatalf("message=%q, want %q", got, want)
	}
	if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
		t.Fatalf("code=%q, want %q", got, want)
	}
}
