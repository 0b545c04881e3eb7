package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/alertgate/alertgate/runbooks"
)

// Tokens of the access tests. Distinctive, so a test can look for them.
const (
	readToken  = "R3AD-token-grafana-0001"
	adminToken = "ADM1N-token-oncall-0001"
	wrongToken = "WR0NG-token-nobody-0001"
)

var testAccess = Access{Tokens: []Token{
	NewToken("grafana", readToken, RoleRead),
	NewToken("oncall", adminToken, RoleAdmin),
}}

// endpoints is every route the server registers ("METHOD template"), the
// rule the test expects for it and a request it answers with 2xx when let
// through. TestAccess fails on a route missing here: a new endpoint must
// be given its rule.
var endpoints = map[string]struct {
	want         access
	target, body string
}{
	// Each source checks its own token.
	"POST /v1/ingest/{source}": {accessOpen, "/v1/ingest/alertmanager", `{}`},
	// The health probes answer the orchestrator.
	"GET /healthz": {accessOpen, "/healthz", ""},
	"GET /readyz":  {accessOpen, "/readyz", ""},
	// Prometheus scrapes without a token unless protect_metrics.
	"GET /metrics": {accessMetrics, "/metrics", ""},
	// The read API, the status page and the runbooks.
	"GET /v1/notifications":       {accessRead, "/v1/notifications", ""},
	"GET /v1/incidents":           {accessRead, "/v1/incidents", ""},
	"GET /v1/incidents/{key:.+}":  {accessRead, "/v1/incidents/alertmanager:v1:aaa", ""},
	"GET /v1/bugs":                {accessRead, "/v1/bugs", ""},
	"GET /v1/explain":             {accessRead, "/v1/explain?key=alertmanager:v1:aaa", ""},
	"GET /v1/deadletters":         {accessRead, "/v1/deadletters", ""},
	"GET /v1/audit":               {accessRead, "/v1/audit", ""},
	"GET /":                       {accessRead, "/", ""},
	"GET /v1/report":              {accessRead, "/v1/report?since=24h", ""},
	"GET /report":                 {accessRead, "/report", ""},
	"GET /runbooks":               {accessRead, "/runbooks", ""},
	"GET /runbooks/{id}":          {accessRead, "/runbooks/checkout-high-error-rate", ""},
	"POST /v1/deadletters/replay": {accessAdmin, "/v1/deadletters/replay", `{}`},
	"GET /v1/silences":            {accessRead, "/v1/silences", ""},
	"POST /v1/silences":           {accessAdmin, "/v1/silences", `{"matchers":["service=\"checkout\""],"duration":"2h"}`},
	// A replay changes nothing but reads all history: admin only.
	"POST /v1/replay": {accessAdmin, "/v1/replay?since=24h", "routes: [{team: payments}]\n"},
	// Expiring is idempotent: each caller let through gets 204.
	"DELETE /v1/silences/{id}": {accessAdmin, "/v1/silences/S1", ""},
}

// accessServer is the fixture with an ingest endpoint and runbooks, so
// that every route is registered and answers 2xx.
func accessServer(t *testing.T, acc Access) (*Server, *fakeDeadLetters, *fakeAudit) {
	t.Helper()
	s, _, _, dl := fixtureServer()
	s.Ingest = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	set, err := runbooks.LoadDir("../examples/runbooks")
	if err != nil {
		t.Fatal(err)
	}
	s.Runbooks = set
	s.Access = acc
	return s, dl, s.Audit.(*fakeAudit)
}

// routeKeys walks the router: what the server really registers.
func routeKeys(t *testing.T, s *Server) map[string]rule {
	t.Helper()
	rt := s.router()
	out := map[string]rule{}
	err := rt.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, m := range methods {
			out[m+" "+path] = rt.rules[route]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// request builds the sample request of an endpoint with an Authorization
// header (none when auth is "").
func request(key, auth string) *http.Request {
	e := endpoints[key]
	method, _, _ := strings.Cut(key, " ")
	var body io.Reader
	if e.body != "" {
		body = strings.NewReader(e.body)
	}
	r := httptest.NewRequest(method, e.target, body)
	if e.body != "" {
		r.Header.Set("Content-Type", "application/json")
		if strings.HasPrefix(e.target, "/v1/replay") {
			r.Header.Set("Content-Type", "application/yaml")
		}
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func bearer(tok string) string { return "Bearer " + tok }

func basicAuth(user, tok string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+tok))
}

// Every route answers each kind of caller as its rule says, and the rule
// comes with the route: a route without one is reported.
func TestAccess(t *testing.T) {
	s, _, _ := accessServer(t, testAccess)
	registered := routeKeys(t, s)
	for key, ru := range registered {
		e, ok := endpoints[key]
		if !ok {
			t.Errorf("%s: registered but not in this test's endpoints: add it with the rule it must have", key)
			continue
		}
		if ru.access == accessNone {
			t.Errorf("%s: registered without a rule", key)
		}
		if ru.access != e.want {
			t.Errorf("%s: rule %d, want %d", key, ru.access, e.want)
		}
	}
	for key := range endpoints {
		if _, ok := registered[key]; !ok {
			t.Errorf("%s: in this test but not registered", key)
		}
	}

	// What each caller gets for a rule: the status, or 0 for the
	// endpoint's own 2xx answer.
	callers := []struct {
		name, auth string
		want       map[access]int
	}{
		{"no token", "", map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 401, accessAdmin: 401}},
		{"wrong token", bearer(wrongToken), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 401, accessAdmin: 401}},
		{"wrong basic password", basicAuth("oncall", wrongToken), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 401, accessAdmin: 401}},
		// The token, not the user name, is checked.
		{"user name as password", basicAuth(adminToken, "oncall"), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 401, accessAdmin: 401}},
		{"read token", bearer(readToken), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 0, accessAdmin: 403}},
		{"read token as basic password", basicAuth("grafana", readToken), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 0, accessAdmin: 403}},
		{"admin token", bearer(adminToken), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 0, accessAdmin: 0}},
		{"admin token as basic password", basicAuth("", adminToken), map[access]int{accessOpen: 0, accessMetrics: 0, accessRead: 0, accessAdmin: 0}},
	}
	for key, e := range endpoints {
		for _, c := range callers {
			t.Run(key+"/"+c.name, func(t *testing.T) {
				s, _, _ := accessServer(t, testAccess)
				a := serveReq(s, request(key, c.auth))
				want := c.want[e.want]
				switch {
				case want == 0 && (a.code < 200 || a.code > 299):
					t.Fatalf("status=%d, want 2xx: %s", a.code, a.body)
				case want != 0 && a.code != want:
					t.Fatalf("status=%d, want %d: %s", a.code, want, a.body)
				}
				// The pages a browser opens get a Basic challenge, so it asks.
				page := key == "GET /" || key == "GET /runbooks/{id}" || key == "GET /report"
				switch challenge := a.hdr.Get("WWW-Authenticate"); {
				case a.code != 401 && challenge != "":
					t.Fatalf("WWW-Authenticate %q on a %d", challenge, a.code)
				case a.code == 401 && !page && challenge != `Bearer realm="alertgate"`:
					t.Fatalf("WWW-Authenticate=%q, want a Bearer challenge for an API client", challenge)
				case a.code == 401 && page && !strings.HasPrefix(challenge, `Basic realm="alertgate"`):
					t.Fatalf("WWW-Authenticate=%q, want a Basic challenge so the browser asks", challenge)
				}
				if a.code == 403 && !strings.Contains(a.body, `the token \"grafana\" has role read`) {
					t.Fatalf("403 body %s does not say which token lacks the role", a.body)
				}
				for _, tok := range []string{readToken, adminToken, wrongToken} {
					if strings.Contains(a.body, tok) || strings.Contains(fmt.Sprint(a.hdr), tok) {
						t.Fatalf("answer shows a token: %v %s", a.hdr, a.body)
					}
				}
			})
		}
	}
}

// A browser opening a JSON endpoint (a link in a Slack digest) is asked
// for the token too.
func TestAccessBrowserChallenge(t *testing.T) {
	s, _, _ := accessServer(t, testAccess)
	r := httptest.NewRequest("GET", "/v1/bugs", nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	a := serveReq(s, r)
	if got := a.hdr.Get("WWW-Authenticate"); a.code != 401 || !strings.HasPrefix(got, `Basic realm="alertgate"`) {
		t.Fatalf("status=%d WWW-Authenticate=%q, want 401 with a Basic challenge", a.code, got)
	}
}

// /metrics takes a read token once protect_metrics is set.
func TestAccessProtectMetrics(t *testing.T) {
	acc := testAccess
	acc.ProtectMetrics = true
	for _, c := range []struct {
		name, auth string
		code       int
	}{
		{"no token", "", 401},
		{"wrong token", bearer(wrongToken), 401},
		{"read token", bearer(readToken), 200},
		{"admin token", bearer(adminToken), 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := accessServer(t, acc)
			if a := serveReq(s, request("GET /metrics", c.auth)); a.code != c.code {
				t.Fatalf("status=%d, want %d", a.code, c.code)
			}
		})
	}
}

// Without tokens every endpoint answers without credentials, whatever
// credentials come along, and an admin action is the anonymous actor's.
func TestAccessOpen(t *testing.T) {
	for key := range endpoints {
		for _, auth := range []string{"", bearer(wrongToken)} {
			t.Run(key+"/"+auth, func(t *testing.T) {
				s, _, audit := accessServer(t, Access{})
				a := serveReq(s, request(key, auth))
				if a.code < 200 || a.code > 299 {
					t.Fatalf("status=%d, want 2xx: %s", a.code, a.body)
				}
				if key == "POST /v1/deadletters/replay" && (len(audit.recs) != 1 || audit.recs[0].Actor != Anonymous) {
					t.Fatalf("audit=%+v, want one record by %s", audit.recs, Anonymous)
				}
			})
		}
	}
}

// Refusals are counted and logged, with the token's name for a 403 and
// never a token.
func TestAccessRefusalsLoggedAndCounted(t *testing.T) {
	s, dl, audit := accessServer(t, testAccess)
	var logs bytes.Buffer
	s.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	serveReq(s, request("GET /v1/bugs", bearer(wrongToken)))
	serveReq(s, request("POST /v1/deadletters/replay", ""))
	serveReq(s, request("POST /v1/deadletters/replay", basicAuth("x", readToken)))
	if len(dl.replayed) != 0 || len(audit.recs) != 0 {
		t.Fatalf("refused requests acted: replayed=%v audit=%v", dl.replayed, audit.recs)
	}
	m := serveReq(s, request("GET /metrics", ""))
	for _, want := range []string{`alertgate_api_auth_failures_total{code="401"} 2`, `alertgate_api_auth_failures_total{code="403"} 1`} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(logs.String(), `"actor":"grafana"`) {
		t.Errorf("the 403 log line does not name the token:\n%s", logs.String())
	}
	for _, tok := range []string{readToken, adminToken, wrongToken} {
		if strings.Contains(logs.String(), tok) || strings.Contains(m.body, tok) {
			t.Fatalf("a token is in the logs or metrics:\n%s", logs.String())
		}
	}
}

// A Token prints its name and role, never its value.
func TestTokenNeverPrinted(t *testing.T) {
	tok := NewToken("oncall", adminToken, RoleAdmin)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "token", tok, "access", testAccess)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "token", tok, "access", testAccess)
	out := fmt.Sprintf("%v %+v %#v %s %q %d", tok, tok, tok, tok, tok, tok) + fmt.Sprintf("%v %+v %#v", testAccess, testAccess, testAccess) + logs.String()
	if strings.Contains(out, adminToken) || strings.Contains(out, readToken) {
		t.Fatalf("a token is printed: %s", out)
	}
	if !strings.Contains(out, "oncall (admin)") {
		t.Fatalf("the token's name and role are not printed: %s", out)
	}
}

// The router matches the escaped path (so that an incident key keeps its
// "/"): every path variable is still read unescaped.
func TestPathVariablesUnescaped(t *testing.T) {
	s, _, _ := accessServer(t, Access{})
	if a := serve(s, "GET", "/runbooks/checkout%2Dhigh-error-rate"); a.code != 200 {
		t.Fatalf("escaped runbook id: %d %s", a.code, a.body)
	}
	if a := serve(s, "DELETE", "/v1/silences/S%31"); a.code != 204 {
		t.Fatalf("escaped silence id: %d %s", a.code, a.body)
	}
	if a := serve(s, "DELETE", "/v1/silences/S%2F1"); a.code != 404 || !strings.Contains(a.body, `no silence \"S/1\"`) {
		t.Fatalf("silence id with an escaped slash: %d %s", a.code, a.body)
	}
}
