package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/silences"
)

// fakeSilences keeps silences in memory, newest first, validating as the
// store does; err fails every write.
type fakeSilences struct {
	list    []silences.Silence
	n       int
	err     error
	expired []string // ids expired so far
}

func (f *fakeSilences) Add(_ context.Context, in silences.Silence, now time.Time) (silences.Silence, error) {
	sil, err := silences.Validate(in, now)
	if err != nil {
		return silences.Silence{}, err
	}
	if f.err != nil {
		return silences.Silence{}, f.err
	}
	f.n++
	sil.ID = fmt.Sprintf("N%d", f.n)
	f.list = append([]silences.Silence{sil}, f.list...)
	sil.State = sil.StateAt(now)
	return sil, nil
}

func (f *fakeSilences) Expire(_ context.Context, id string, now time.Time) error {
	if f.err != nil {
		return f.err
	}
	for i := range f.list {
		if f.list[i].ID != id {
			continue
		}
		if now.Before(f.list[i].EndsAt) {
			f.list[i].EndsAt = now
			f.expired = append(f.expired, id)
		}
		return nil
	}
	return silences.ErrNotFound
}

func (f *fakeSilences) List(state string, now time.Time) []silences.Silence {
	out := []silences.Silence{}
	for _, s := range f.list {
		if st := s.StateAt(now); state == "" || st == state {
			s.State = st
			out = append(out, s)
		}
	}
	return out
}

var _ Silences = (*fakeSilences)(nil)

func adminPost(s *Server, target, body string) answer {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", bearer(adminToken))
	return serveReq(s, r)
}

func adminDelete(s *Server, target string) answer {
	r := httptest.NewRequest(http.MethodDelete, target, nil)
	r.Header.Set("Authorization", bearer(adminToken))
	return serveReq(s, r)
}

type silenceList struct{ Silences []silences.Silence }

// POST /v1/silences: 201 with the id, listed at once, recorded; bad input
// is a 400 naming the field, and nothing is recorded.
func TestSilenceAdd(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       int
		wantErr    string
		// what is stored, for a 201
		start, end time.Time
		by         string
	}{
		{name: "duration", body: `{"matchers":["service=\"cart\""],"duration":"2h","comment":"deploy"}`, code: 201, start: t0, end: t0.Add(2 * time.Hour), by: "oncall"},
		{name: "days", body: `{"matchers":["service=\"cart\""],"duration":"1d","created_by":"alice"}`, code: 201, start: t0, end: t0.Add(24 * time.Hour), by: "alice"},
		{name: "ends_at", body: `{"matchers":["service=\"cart\""],"ends_at":"2026-12-04T12:30:00Z"}`, code: 201, start: t0, end: t0.Add(150 * time.Minute), by: "oncall"},
		// A maintenance window: the duration counts from its start.
		{name: "maintenance window", body: `{"matchers":["service=\"cart\""],"starts_at":"2026-12-05T02:00:00+01:00","duration":"3h"}`, code: 201, start: t0.Add(15 * time.Hour), end: t0.Add(18 * time.Hour), by: "oncall"},

		{name: "no matchers", body: `{"duration":"2h"}`, code: 400, wantErr: "body.matchers: missing"},
		{name: "empty matchers", body: `{"matchers":[],"duration":"2h"}`, code: 400, wantErr: "body.matchers: missing"},
		{name: "bad matcher", body: `{"matchers":["service=\"cart\"","env=~\"(\""],"duration":"2h"}`, code: 400, wantErr: `body.matchers[1]: bad matcher 'env=~"("'`},
		{name: "matches everything", body: `{"matchers":["service=~\".*\""],"duration":"2h"}`, code: 400, wantErr: "body.matchers: every matcher matches the empty string"},
		{name: "end before start", body: `{"matchers":["service=\"cart\""],"starts_at":"2026-12-04T14:00:00Z","ends_at":"2026-12-04T12:00:00Z"}`, code: 400, wantErr: "body.ends_at: 2026-12-04T12:00:00Z is not after starts_at"},
		{name: "end in the past", body: `{"matchers":["service=\"cart\""],"ends_at":"2026-12-04T09:00:00Z"}`, code: 400, wantErr: "body.ends_at: 2026-12-04T09:00:00Z is not in the future"},
		{name: "both", body: `{"matchers":["service=\"cart\""],"ends_at":"2026-12-04T12:00:00Z","duration":"2h"}`, code: 400, wantErr: "body.duration: give ends_at or duration, not both"},
		{name: "neither", body: `{"matchers":["service=\"cart\""]}`, code: 400, wantErr: "body.duration: missing"},
		{name: "bad duration", body: `{"matchers":["service=\"cart\""],"duration":"soon"}`, code: 400, wantErr: `body.duration: want a duration like 90m, 2h or 1d, got "soon"`},
		{name: "negative duration", body: `{"matchers":["service=\"cart\""],"duration":"-2h"}`, code: 400, wantErr: `body.duration: want a duration`},
		{name: "bad start", body: `{"matchers":["service=\"cart\""],"starts_at":"tomorrow","duration":"2h"}`, code: 400, wantErr: `body.starts_at: want an RFC 3339 time like 2026-12-04T10:00:00Z, got "tomorrow"`},
		{name: "bad end", body: `{"matchers":["service=\"cart\""],"ends_at":"2026-12-04 12:00"}`, code: 400, wantErr: `body.ends_at: want an RFC 3339 time`},
		{name: "unknown field", body: `{"matchers":["service=\"cart\""],"duration":"2h","author":"x"}`, code: 400, wantErr: `body: unknown field "author"`},
		{name: "matcher not a string", body: `{"matchers":[{"service":"cart"}],"duration":"2h"}`, code: 400, wantErr: `body.matchers`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, audit := accessServer(t, testAccess)
			sils := s.Silences.(*fakeSilences)
			a := adminPost(s, "/v1/silences", tc.body)
			if a.code != tc.code {
				t.Fatalf("status=%d, want %d: %s", a.code, tc.code, a.body)
			}
			if tc.code != 201 {
				if got := decode[map[string]string](t, a)["error"]; !strings.Contains(got, tc.wantErr) {
					t.Fatalf("error=%q, want %q", got, tc.wantErr)
				}
				if len(audit.recs) != 0 || len(sils.list) != 2 {
					t.Fatalf("a refused add acted: audit=%+v silences=%d", audit.recs, len(sils.list))
				}
				return
			}
			id := decode[map[string]string](t, a)["id"]
			if id != "N1" {
				t.Fatalf("answer %s, want the id", a.body)
			}
			list := decode[silenceList](t, serveReq(s, request("GET /v1/silences", bearer(readToken)))).Silences
			if len(list) != 3 || list[0].ID != id {
				t.Fatalf("list=%+v, want the new silence first", list)
			}
			got := list[0]
			if !got.StartsAt.Equal(tc.start) || !got.EndsAt.Equal(tc.end) || got.CreatedBy != tc.by {
				t.Fatalf("stored %+v, want %v to %v by %s", got, tc.start, tc.end, tc.by)
			}
			want := alertgate.AuditRecord{At: t0, Actor: "oncall", Action: actionSilenceAdd, Target: id, Detail: silenceDetail(got)}
			if len(audit.recs) != 1 || audit.recs[0] != want {
				t.Fatalf("audit=%+v, want %+v", audit.recs, want)
			}
			if !strings.Contains(want.Detail, `service="cart" from `) {
				t.Fatalf("detail %q does not say what is silenced", want.Detail)
			}
		})
	}
}

// A silence store that cannot write answers 503, and the attempt is
// recorded.
func TestSilenceStoreDown(t *testing.T) {
	s, _, audit := accessServer(t, Access{})
	s.Silences.(*fakeSilences).err = fmt.Errorf("nats: timeout")
	a := post(s, "/v1/silences", `{"matchers":["service=\"cart\""],"duration":"2h"}`)
	if a.code != 503 || strings.Contains(a.body, "nats") {
		t.Fatalf("status=%d %s, want 503 without the cause", a.code, a.body)
	}
	if a := serveReq(s, httptest.NewRequest(http.MethodDelete, "/v1/silences/S1", nil)); a.code != 503 {
		t.Fatalf("expire: status=%d %s", a.code, a.body)
	}
	if len(audit.recs) != 2 || !strings.HasPrefix(audit.recs[0].Detail, "failed: ") || !strings.HasPrefix(audit.recs[1].Detail, "failed: ") || audit.recs[0].Actor != Anonymous {
		t.Fatalf("audit=%+v, want two failed attempts", audit.recs)
	}
	s.Silences = nil
	if a := serve(s, "GET", "/v1/silences"); a.code != 503 {
		t.Fatalf("list without silences: %d", a.code)
	}
}

// GET /v1/silences lists every silence or those of ?state=.
func TestSilenceList(t *testing.T) {
	s, _, _ := accessServer(t, Access{})
	s.Silences.(*fakeSilences).list = append(s.Silences.(*fakeSilences).list,
		silences.Silence{ID: "S0", Matchers: []string{`service="old"`}, StartsAt: t0.Add(-3 * time.Hour), EndsAt: t0.Add(-2 * time.Hour), CreatedBy: "carol"})
	for _, tc := range []struct{ query, want string }{
		{"", "S2:pending S1:active S0:expired"},
		{"?state=active", "S1:active"},
		{"?state=pending", "S2:pending"},
		{"?state=expired", "S0:expired"},
	} {
		a := serve(s, "GET", "/v1/silences"+tc.query)
		if a.code != 200 {
			t.Fatalf("%s: %d %s", tc.query, a.code, a.body)
		}
		var got []string
		for _, sil := range decode[silenceList](t, a).Silences {
			got = append(got, sil.ID+":"+sil.State)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %v, want %s", tc.query, got, tc.want)
		}
	}
	a := serve(s, "GET", "/v1/silences")
	for _, field := range []string{`"id"`, `"matchers"`, `"starts_at"`, `"ends_at"`, `"created_by"`, `"comment"`, `"state"`} {
		if !strings.Contains(a.body, field) {
			t.Errorf("a listed silence lacks %s: %s", field, a.body)
		}
	}
	if a := serve(s, "GET", "/v1/silences?state=gone"); a.code != 400 || !strings.Contains(a.body, `state: want active, pending or expired, got \"gone\"`) {
		t.Fatalf("bad state: %d %s", a.code, a.body)
	}
	s.Silences.(*fakeSilences).list = nil
	if a := serve(s, "GET", "/v1/silences"); !strings.Contains(a.body, `"silences": []`) {
		t.Fatalf("no silences: %s, want an empty list", a.body)
	}
}

// DELETE /v1/silences/{id} expires the silence: 204, recorded; again 204
// and nothing changes; an unknown id 404, recorded as a failed attempt; a
// read token 403.
func TestSilenceExpire(t *testing.T) {
	s, _, audit := accessServer(t, testAccess)
	sils := s.Silences.(*fakeSilences)
	r := httptest.NewRequest(http.MethodDelete, "/v1/silences/S1", nil)
	r.Header.Set("Authorization", bearer(readToken))
	if a := serveReq(s, r); a.code != 403 || len(sils.expired) != 0 {
		t.Fatalf("read token: %d, expired %v", a.code, sils.expired)
	}
	if a := adminDelete(s, "/v1/silences/S1"); a.code != 204 || a.body != "" {
		t.Fatalf("expire: %d %q", a.code, a.body)
	}
	if a := adminDelete(s, "/v1/silences/S1"); a.code != 204 {
		t.Fatalf("expire again: %d %s", a.code, a.body)
	}
	if got := strings.Join(sils.expired, ","); got != "S1" {
		t.Fatalf("expired=%s, want S1 once", got)
	}
	a := adminDelete(s, "/v1/silences/NOPE")
	if a.code != 404 || !strings.Contains(a.body, `no silence \"NOPE\"`) {
		t.Fatalf("unknown: %d %s", a.code, a.body)
	}
	want := []alertgate.AuditRecord{
		{At: t0, Actor: "oncall", Action: actionSilenceExpire, Target: "S1", Detail: "expired"},
		{At: t0, Actor: "oncall", Action: actionSilenceExpire, Target: "S1", Detail: "expired"},
		{At: t0, Actor: "oncall", Action: actionSilenceExpire, Target: "NOPE", Detail: "failed: no such silence"},
	}
	if fmt.Sprint(audit.recs) != fmt.Sprint(want) {
		t.Fatalf("audit=%+v\nwant %+v", audit.recs, want)
	}
}

// The status page's silences: active ones ending first first, then the
// pending ones; expired ones are left out.
func TestUISilenceRows(t *testing.T) {
	h := func(id string, start, end time.Duration) silences.Silence {
		return silences.Silence{ID: id, Matchers: []string{`service="` + id + `"`}, StartsAt: t0.Add(start), EndsAt: t0.Add(end), CreatedBy: "alice"}
	}
	rows := buildSilenceRows([]silences.Silence{
		h("late", -time.Hour, 5*time.Hour),
		h("soon", -time.Hour, 30*time.Minute),
		h("window", 2*time.Hour, 4*time.Hour),
		h("gone", -2*time.Hour, -time.Hour),
		h("tonight", 10*time.Hour, 12*time.Hour),
	}, t0)
	var got []string
	for _, r := range rows {
		got = append(got, r.ID+":"+r.State+":"+r.When)
	}
	want := "soon:active:ends in 30m late:active:ends in 5h 00m window:pending:starts in 2h 00m tonight:pending:starts in 10h 00m"
	if strings.Join(got, " ") != want {
		t.Fatalf("rows=%v\nwant %s", got, want)
	}
	if rows[0].StartsAt.ISO != "2026-12-04T09:00:00Z" || rows[0].Matchers[0] != `service="soon"` || rows[0].CreatedBy != "alice" {
		t.Fatalf("row=%+v", rows[0])
	}
}
