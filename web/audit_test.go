package web

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
)

// A replay is recorded with who asked, what and the outcome; /v1/audit
// lists the records newest first in the shape of the contract.
func TestReplayAudited(t *testing.T) {
	s, dl, audit := accessServer(t, testAccess)
	var logs bytes.Buffer
	s.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	admin := bearer(adminToken)

	for _, tc := range []struct {
		name, body string
		code       int
		want       alertgate.AuditRecord // At is t0, Action deadletter.replay
	}{
		// One notification.
		{"one", `{"id":"n1"}`, 200, alertgate.AuditRecord{Actor: "oncall", Target: "n1", Detail: "replayed 1: n1"}},
		// Every dead letter still dead ({}): the fake replays n1 again.
		{"all", `{}`, 200, alertgate.AuditRecord{Actor: "oncall", Target: "*", Detail: "replayed 1: n1"}},
		// An attempt that found nothing is recorded with its outcome.
		{"unknown", `{"id":"nope"}`, 404, alertgate.AuditRecord{Actor: "oncall", Target: "nope", Detail: `failed: no dead letter "nope" waiting for a replay; replayed 0`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(audit.recs)
			r := request("POST /v1/deadletters/replay", admin)
			r.Body = ioNopCloser(tc.body)
			r.ContentLength = int64(len(tc.body))
			if a := serveReq(s, r); a.code != tc.code {
				t.Fatalf("status=%d, want %d: %s", a.code, tc.code, a.body)
			}
			if got := len(audit.recs) - before; got != 1 {
				t.Fatalf("%d audit records, want 1", got)
			}
			want := tc.want
			want.At, want.Action = t0, actionReplay
			if got := audit.recs[len(audit.recs)-1]; got != want {
				t.Fatalf("record=%+v, want %+v", got, want)
			}
		})
	}

	// Refused before acting: no record.
	for _, body := range []string{`{"id":""}`, `{"id":5}`} {
		before := len(audit.recs)
		a := post(s, "/v1/deadletters/replay", body)
		if a.code != 401 {
			t.Fatalf("%s without a token: %d", body, a.code)
		}
		r := request("POST /v1/deadletters/replay", admin)
		r.Body = ioNopCloser(body)
		a = serveReq(s, r)
		if a.code != 400 || len(audit.recs) != before {
			t.Fatalf("%s: status=%d records=%d, want 400 and none", body, a.code, len(audit.recs)-before)
		}
	}
	if got := strings.Join(dl.replayed, ","); got != "n1,n1" {
		t.Fatalf("replayed=%s, want n1 twice", got)
	}

	a := serveReq(s, request("GET /v1/audit", bearer(readToken)))
	if a.code != 200 {
		t.Fatalf("GET /v1/audit: %d %s", a.code, a.body)
	}
	list := decode[struct{ Audit []map[string]any }](t, a).Audit
	if len(list) != 3 || list[0]["target"] != "nope" || list[2]["target"] != "n1" {
		t.Fatalf("audit=%v, want 3 records, newest first", list)
	}
	for _, k := range []string{"at", "actor", "action", "target", "detail"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("record %v lacks %q", list[0], k)
		}
	}
	if a := serveReq(s, request("GET /v1/audit", "")); a.code != 401 {
		t.Fatalf("GET /v1/audit without a token: %d", a.code)
	}
	r := request("GET /v1/audit", bearer(readToken))
	r.URL.RawQuery = "limit=1"
	if got := decode[struct{ Audit []map[string]any }](t, serveReq(s, r)).Audit; len(got) != 1 || got[0]["target"] != "nope" {
		t.Fatalf("audit?limit=1: %v, want the newest record", got)
	}

	// One log line per action, naming the actor, never a token.
	if got := strings.Count(logs.String(), `"msg":"admin action"`); got != 3 {
		t.Fatalf("%d admin action log lines, want 3:\n%s", got, logs.String())
	}
	if strings.Contains(logs.String(), adminToken) {
		t.Fatal("the log shows the admin token")
	}
}

// An action taken while the trail cannot store its record is answered as
// done, and the record is kept in an error log line.
func TestReplayAuditStoreDown(t *testing.T) {
	s, dl, _ := accessServer(t, Access{})
	s.Audit = &fakeAudit{err: errors.New("nats: timeout")}
	var logs bytes.Buffer
	s.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	if a := post(s, "/v1/deadletters/replay", `{}`); a.code != 200 || len(dl.replayed) != 1 {
		t.Fatalf("status=%d replayed=%v", a.code, dl.replayed)
	}
	for _, want := range []string{`"level":"ERROR"`, `admin action not recorded in the audit trail`, `"actor":"anonymous"`, `"action":"deadletter.replay"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}
}

func TestReplayDetail(t *testing.T) {
	ids := make([]string, 25)
	for i := range ids {
		ids[i] = "n"
	}
	for _, tc := range []struct {
		ids  []string
		want string
	}{
		{nil, "replayed 0"},
		{[]string{"a", "b"}, "replayed 2: a, b"},
		// A long list is cut: the record stays small.
		{ids, "replayed 25: " + strings.Repeat("n, ", 19) + "n and 5 more"},
	} {
		if got := replayDetail(tc.ids); got != tc.want {
			t.Errorf("replayDetail(%d ids)=%q, want %q", len(tc.ids), got, tc.want)
		}
	}
}

// A replay that finds nothing dead answers an empty list.
func TestReplayNothingDead(t *testing.T) {
	s, dl, _ := accessServer(t, Access{})
	dl.list = nil
	if a := post(s, "/v1/deadletters/replay", `{}`); a.code != 200 || !strings.Contains(a.body, `"replayed": []`) {
		t.Fatalf("status=%d body=%s, want 200 with an empty list", a.code, a.body)
	}
}
