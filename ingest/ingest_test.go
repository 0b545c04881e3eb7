package ingest

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
)

// appendResult must write what json.Encoder writes for the same result, so
// a field added to PublishResult fails here rather than going unsent.
func TestAppendResult(t *testing.T) {
	for _, res := range []alertgate.PublishResult{
		{}, {Accepted: 1}, {Accepted: 50, Duplicates: 3}, {Accepted: -1, Duplicates: 1 << 40},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(res); err != nil {
			t.Fatal(err)
		}
		if got := appendResult(nil, res); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendResult(%+v)=%q, want %q", res, got, want.Bytes())
		}
	}
}

// validRequestID keeps what the pattern it replaced matched.
func TestValidRequestID(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	for _, id := range []string{
		"", "a", "req-123", "a.b_c:d-e", strings.Repeat("x", 128), strings.Repeat("x", 129),
		"a b", "a\n", "a/b", "ä", "id\x00", "abc\r\nX-Injected: 1",
	} {
		if got, want := validRequestID(id), re.MatchString(id); got != want {
			t.Errorf("validRequestID(%q)=%v, want %v", id, got, want)
		}
	}
}

// A source without credentials configured is an open endpoint: its Auth is
// a nil interface (which the handler skips), not an authenticator holding
// nothing, which would reject every request.
func TestSourcesOpenWithoutCredentials(t *testing.T) {
	open := Sources(config.Ingest{}, time.Now)
	closed := Sources(config.Ingest{
		Alertmanager: config.TokenAuth{Token: "a"}, Datadog: config.TokenAuth{Token: "d"}, Events: config.TokenAuth{Token: "e"},
		Sentry: config.Sentry{LegacyToken: "s"},
	}, time.Now)
	for i, src := range open {
		if src.Auth != nil {
			t.Errorf("%s without credentials: Auth=%#v, want nil", src.Name, src.Auth)
		}
		if closed[i].Auth == nil {
			t.Errorf("%s with credentials: Auth=nil, want an authenticator", closed[i].Name)
		}
		if src.Parser == nil {
			t.Errorf("%s: no parser", src.Name)
		}
	}
}
