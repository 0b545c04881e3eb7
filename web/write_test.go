package web

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// writes are the registered routes that change something with a body:
// every POST but the ingest endpoints (which authenticate and parse their
// sources' own way). Every other method is a DELETE (deletes).
func writes(t *testing.T, s *Server) []string {
	t.Helper()
	var out []string
	for key := range routeKeys(t, s) {
		// The replay takes a YAML config, not JSON; it changes nothing
		// and refuses what a form sends (TestReplayRefusals).
		if strings.HasPrefix(key, "POST ") && key != "POST /v1/ingest/{source}" && key != "POST /v1/replay" {
			out = append(out, key)
		}
	}
	if len(out) == 0 {
		t.Fatal("no write registered")
	}
	return out
}

// deletes are the registered DELETE routes; a route of any other method
// but GET and POST fails the test: it must be given a gate.
func deletes(t *testing.T, s *Server) []string {
	t.Helper()
	var out []string
	for key, ru := range routeKeys(t, s) {
		method, _, _ := strings.Cut(key, " ")
		switch method {
		case http.MethodGet, http.MethodPost:
		case http.MethodDelete:
			if ru.access != accessAdmin {
				t.Errorf("%s: rule %d, want admin", key, ru.access)
			}
			out = append(out, key)
		default:
			t.Errorf("%s: a write of a method neither addWrite nor addDelete registers", key)
		}
	}
	return out
}

// A DELETE takes what it removes from its path: a query string or a body
// is refused before anything is done, and nothing is recorded.
func TestDeletesTakeNoArguments(t *testing.T) {
	for _, tc := range []struct {
		name, query, contentType, body string
		wantErr                        string
	}{
		{name: "query", query: "?id=S2", wantErr: "query parameters (id) are not taken by a DELETE"},
		{name: "JSON body", contentType: "application/json", body: `{"id":"S2"}`, wantErr: "body: a DELETE takes none"},
		{name: "form body", contentType: "application/x-www-form-urlencoded", body: "id=S2", wantErr: "body: a DELETE takes none"},
	} {
		s, _, _ := accessServer(t, Access{})
		keys := deletes(t, s)
		if len(keys) == 0 {
			t.Fatal("no DELETE registered")
		}
		for _, key := range keys {
			t.Run(tc.name+"/"+key, func(t *testing.T) {
				s, _, audit := accessServer(t, testAccess)
				sils := s.Silences.(*fakeSilences)
				_, path, _ := strings.Cut(key, " ")
				path = strings.ReplaceAll(path, "{id}", "S1")
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				r := httptest.NewRequest(http.MethodDelete, path+tc.query, body)
				if tc.contentType != "" {
					r.Header.Set("Content-Type", tc.contentType)
				}
				r.Header.Set("Authorization", bearer(adminToken))
				a := serveReq(s, r)
				if a.code != 400 || !strings.Contains(decode[map[string]string](t, a)["error"], tc.wantErr) {
					t.Fatalf("status=%d %s, want 400 naming %q", a.code, a.body, tc.wantErr)
				}
				if len(sils.expired) != 0 || len(audit.recs) != 0 {
					t.Fatalf("a refused DELETE acted: expired=%v audit=%+v", sils.expired, audit.recs)
				}
			})
		}
	}
}

// A write takes one JSON object as application/json and nothing else:
// what a cross-site form, a body-less POST or a query string sends is
// refused before anything is done, and nothing is recorded.
func TestWritesTakeOnlyJSON(t *testing.T) {
	form := func() (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("id", "n1")
		_ = mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	multipartBody, multipartType := form()
	for _, tc := range []struct {
		name        string
		contentType string
		query       string
		body        string
		code        int
		wantErr     string
	}{
		// What a browser sends without a preflight.
		{name: "no body, no type", code: 415, wantErr: "Content-Type: missing"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "id=n1", code: 415, wantErr: `want application/json, got "application/x-www-form-urlencoded"`},
		{name: "multipart form", contentType: multipartType, body: multipartBody, code: 415, wantErr: `got "multipart/form-data"`},
		{name: "text/plain holding JSON", contentType: "text/plain", body: `{"id":"n1"}`, code: 415, wantErr: `got "text/plain"`},
		// JSON declared, but not one JSON object.
		{name: "no body", contentType: "application/json", code: 400, wantErr: "body: missing"},
		{name: "white space", contentType: "application/json", body: " \n", code: 400, wantErr: "body: missing"},
		{name: "malformed", contentType: "application/json", body: `{"id":`, code: 400, wantErr: "body: invalid JSON"},
		{name: "bad syntax", contentType: "application/json", body: `{"id" "n1"}`, code: 400, wantErr: "body: invalid JSON at byte"},
		{name: "null", contentType: "application/json", body: `null`, code: 400, wantErr: "body: want a JSON object"},
		{name: "array", contentType: "application/json", body: `[{}]`, code: 400, wantErr: "body: want a JSON object"},
		{name: "two objects", contentType: "application/json", body: `{}{}`, code: 400, wantErr: "body: more after the JSON object"},
		{name: "trailing brace", contentType: "application/json", body: `{}}`, code: 400, wantErr: "body: more after the JSON object"},
		{name: "unknown field", contentType: "application/json", body: `{"ids":["n1"]}`, code: 400, wantErr: `body: unknown field "ids"`},
		{name: "too large", contentType: "application/json", body: `{"id":"` + strings.Repeat("x", maxWriteBody) + `"}`, code: 413, wantErr: "body: over"},
		// One way to say it: arguments in the query are refused, even
		// with a body that alone would act on everything.
		{name: "query", contentType: "application/json", query: "?id=n1", body: `{}`, code: 400, wantErr: "query parameters (id) are not taken by a write"},
	} {
		for _, acc := range []struct {
			name   string
			access Access
			auth   string
		}{
			{"open API", Access{}, ""},
			{"admin token", testAccess, bearer(adminToken)},
		} {
			s, _, _ := accessServer(t, acc.access)
			for _, key := range writes(t, s) {
				t.Run(tc.name+"/"+acc.name+"/"+key, func(t *testing.T) {
					s, dl, audit := accessServer(t, acc.access)
					method, path, _ := strings.Cut(key, " ")
					r := httptest.NewRequest(method, path+tc.query, strings.NewReader(tc.body))
					if tc.contentType != "" {
						r.Header.Set("Content-Type", tc.contentType)
					}
					if acc.auth != "" {
						r.Header.Set("Authorization", acc.auth)
					}
					a := serveReq(s, r)
					if a.code != tc.code {
						t.Fatalf("status=%d, want %d: %s", a.code, tc.code, a.body)
					}
					if got := decode[map[string]string](t, a)["error"]; !strings.Contains(got, tc.wantErr) {
						t.Fatalf("error=%q, want it to name the problem: %q", got, tc.wantErr)
					}
					if len(dl.replayed) != 0 || len(audit.recs) != 0 {
						t.Fatalf("a refused write acted: replayed=%v audit=%+v", dl.replayed, audit.recs)
					}
				})
			}
		}
	}
}

// The content type may carry parameters; the body may be indented.
func TestWriteJSONVariants(t *testing.T) {
	s, dl, _ := accessServer(t, Access{})
	r := httptest.NewRequest(http.MethodPost, "/v1/deadletters/replay", strings.NewReader("{\n  \"id\": \"n1\"\n}\n"))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if a := serveReq(s, r); a.code != 200 || strings.Join(dl.replayed, ",") != "n1" {
		t.Fatalf("status=%d replayed=%v: %s", a.code, dl.replayed, a.body)
	}
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
