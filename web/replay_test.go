package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

// fakeReplayer records what it was asked and answers err, or a report.
type fakeReplayer struct {
	candidate string
	q         alertgate.ReplayQuery
	calls     int
	err       error
}

func (f *fakeReplayer) Replay(_ context.Context, candidate []byte, q alertgate.ReplayQuery) (*alertgate.ReplayReport, error) {
	f.calls++
	f.candidate, f.q = string(candidate), q
	if f.err != nil {
		return nil, f.err
	}
	return &alertgate.ReplayReport{Since: q.Since, Until: q.Until, Exact: true, Teams: map[string]alertgate.ReplayTeam{}}, nil
}

var _ Replayer = (*fakeReplayer)(nil)

func replayReq(target, contentType, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// The query's times, the limit and the flag reach the replayer as asked.
func TestReplayQuery(t *testing.T) {
	for _, c := range []struct {
		name, target   string
		since, until   time.Time
		limit          int
		ignoreSilences bool
	}{
		// No window: the last week.
		{"default", "/v1/replay", t0.Add(-7 * 24 * time.Hour), time.Time{}, 100, false},
		{"days", "/v1/replay?since=3d&limit=5", t0.Add(-3 * 24 * time.Hour), time.Time{}, 5, false},
		{"Go duration", "/v1/replay?since=90m&until=30m", t0.Add(-90 * time.Minute), t0.Add(-30 * time.Minute), 100, false},
		{"RFC 3339", "/v1/replay?since=2026-12-01T00:00:00Z&until=2026-12-02T00:00:00Z&ignore_silences=true",
			time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), 100, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _, _ := fixtureServer()
			f := s.Replayer.(*fakeReplayer)
			a := serveReq(s, replayReq(c.target, "application/yaml; charset=utf-8", "routes: []\n"))
			if a.code != http.StatusOK {
				t.Fatalf("status=%d %s", a.code, a.body)
			}
			q := f.q
			if !q.Since.Equal(c.since) || !q.Until.Equal(c.until) || q.Limit != c.limit || q.IgnoreSilences != c.ignoreSilences || f.candidate != "routes: []\n" {
				t.Fatalf("asked %+v with %q, want since %v until %v limit %d ignore %v", q, f.candidate, c.since, c.until, c.limit, c.ignoreSilences)
			}
		})
	}
}

// A bad request is refused naming the problem, before any replay runs.
func TestReplayRefusals(t *testing.T) {
	for _, c := range []struct {
		name, target, ct, body string
		code                   int
		want                   string
	}{
		{"no content type", "/v1/replay", "", "routes: []", 415, "Content-Type: missing"},
		{"JSON", "/v1/replay", "application/json", `{}`, 415, `got \"application/json\"`},
		// A form may send text/plain anywhere: never taken.
		{"text/plain", "/v1/replay", "text/plain", "routes: []", 415, `got \"text/plain\"`},
		{"form", "/v1/replay", "application/x-www-form-urlencoded", "routes=x", 415, `got \"application/x-www-form-urlencoded\"`},
		{"multipart form", "/v1/replay", "multipart/form-data; boundary=x", "--x--", 415, `got \"multipart/form-data\"`},
		{"empty body", "/v1/replay", "application/yaml", " \n", 400, "body: missing"},
		{"too large", "/v1/replay", "application/yaml", strings.Repeat("#", maxReplayBody+1), 413, "over"},
		{"bad since", "/v1/replay?since=yesterday", "application/yaml", "routes: []", 400, "since: want a duration"},
		{"until before since", "/v1/replay?since=1h&until=2h", "application/yaml", "routes: []", 400, "until:"},
		{"bad flag", "/v1/replay?ignore_silences=maybe", "application/yaml", "routes: []", 400, "ignore_silences"},
		{"bad limit", "/v1/replay?limit=0", "application/yaml", "routes: []", 400, "limit"},
		{"unknown parameter", "/v1/replay?team=payments", "application/yaml", "routes: []", 400, "team: unknown parameter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _, _ := fixtureServer()
			a := serveReq(s, replayReq(c.target, c.ct, c.body))
			if a.code != c.code || !strings.Contains(a.body, c.want) {
				t.Fatalf("status=%d %s, want %d naming %q", a.code, a.body, c.code, c.want)
			}
			if n := s.Replayer.(*fakeReplayer).calls; n != 0 {
				t.Fatalf("replayer called %d times for a refused request", n)
			}
		})
	}
}

// The replayer's errors keep their codes: a bad candidate is a 400, a
// replay already running a 409.
func TestReplayErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{alertgate.Errorf(alertgate.EINVALID, "candidate config: line 3: routes[0].team: no team \"x\""), 400},
		{alertgate.Errorf(alertgate.ECONFLICT, "a replay is already running on this instance"), 409},
	} {
		s, _, _, _ := fixtureServer()
		s.Replayer.(*fakeReplayer).err = c.err
		a := serveReq(s, replayReq("/v1/replay", "application/yaml", "routes: []"))
		if a.code != c.code || !strings.Contains(a.body, alertgate.ErrorMessage(c.err)[:20]) {
			t.Errorf("status=%d %s, want %d with the message", a.code, a.body, c.code)
		}
	}
}
