package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
	"github.com/alertgate/alertgate/internal/secret"
)

// Who may call what. Every route is registered with a rule (see router);
// with tokens configured, a request needs a token whose role covers the
// rule, sent as "Authorization: Bearer <token>" or as the password of
// basic auth (so that a browser can open the status page). The ingest
// endpoints check their sources' own tokens, and the health probes must
// answer the orchestrator, so those stay open.

// Role is what an API token may do.
type Role string

// Roles, from least to most.
const (
	// RoleRead reads: the API's GETs, the status page, the runbook pages.
	RoleRead Role = "read"
	// RoleAdmin also acts: every write (dead-letter replay, silences).
	RoleAdmin Role = "admin"
)

// Anonymous is the actor of every request while the API is open.
const Anonymous = "anonymous"

// Token is one API credential. Formatting or logging it shows its name and
// role, never its value.
type Token struct {
	Name  string
	Role  Role
	value string
}

// NewToken returns the token value called name, with role.
func NewToken(name, value string, role Role) Token {
	return Token{Name: name, Role: role, value: value}
}

// Format prints the name and role under every verb.
func (t Token) Format(f fmt.State, _ rune) { _, _ = fmt.Fprintf(f, "%s (%s)", t.Name, t.Role) }

// LogValue logs the name and role.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", t.Name), slog.String("role", string(t.Role)))
}

// Access says who may use the API. The zero Access (no tokens) leaves it
// open: every request acts as Anonymous.
type Access struct {
	Tokens []Token
	// ProtectMetrics puts /metrics behind a read token.
	ProtectMetrics bool
}

// Open reports whether the API takes requests without a token.
func (a Access) Open() bool { return len(a.Tokens) == 0 }

// match returns the token whose value is got. Every token is compared,
// in constant time, whatever matches: the time taken says nothing about
// which token, or how much of one, was guessed.
func (a Access) match(got string) (Token, bool) {
	var found Token
	ok := false
	for _, t := range a.Tokens {
		if secret.Equal(got, t.value) && !ok {
			found, ok = t, true
		}
	}
	return found, ok && got != ""
}

// access is the rule of one route.
type access int

const (
	// accessNone is a route registered without a rule: it is treated as
	// admin, so a forgotten rule closes an endpoint instead of opening it.
	accessNone access = iota
	// accessOpen authenticates itself (ingest) or answers probes (health).
	accessOpen
	// accessMetrics is open unless Access.ProtectMetrics, then read.
	accessMetrics
	accessRead
	accessAdmin
)

// need is the role a request must have for a; "" for none.
func (a access) need(acc Access) Role {
	switch a {
	case accessOpen:
		return ""
	case accessMetrics:
		if acc.ProtectMetrics {
			return RoleRead
		}
		return ""
	case accessRead:
		return RoleRead
	}
	return RoleAdmin
}

// rule is how a route is guarded: its access, and whether it is a page a
// browser opens (whose 401 asks the browser for credentials).
type rule struct {
	access access
	page   bool
}

type actorKey struct{}

// Actor is the name of the token the request of ctx was authorized with:
// Anonymous while the API is open, "" on an open endpoint.
func Actor(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}

// authorize is the router's middleware: it checks the matched route's rule
// before its handler runs.
func (s *Server) authorize(rules map[*mux.Route]rule) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ru := rules[mux.CurrentRoute(r)]
			need := ru.access.need(s.Access)
			switch {
			case need == "":
				next.ServeHTTP(w, r)
				return
			case s.Access.Open():
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, Anonymous)))
				return
			}
			tok, ok := s.Access.match(secret.FromRequest(r))
			if !ok {
				s.refuse(w, r, ru, alertgate.Errorf(alertgate.EUNAUTHORIZED, "unauthorized"), "")
				return
			}
			if need == RoleAdmin && tok.Role != RoleAdmin {
				s.refuse(w, r, ru, alertgate.Errorf(alertgate.EFORBIDDEN,
					"forbidden: the token %q has role %s; %s %s needs an admin token", tok.Name, tok.Role, r.Method, r.URL.Path), tok.Name)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, tok.Name)))
		})
	}
}

// refuse answers a request its credentials do not allow. A 401 carries a
// challenge: Basic for a page or a browser (it then asks for the token as
// a password), Bearer for API clients.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, ru rule, err error, actor string) {
	code := httperr.Status(err)
	s.Metrics.APIAuthFails.WithLabelValues(strconv.Itoa(code)).Inc()
	if code == http.StatusUnauthorized {
		if ru.page || strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("WWW-Authenticate", `Basic realm="alertgate", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alertgate"`)
		}
		s.Logger.Info("api request refused: no valid token", "method", r.Method, "path", r.URL.Path, "status", code, "remote", r.RemoteAddr)
	} else {
		s.Logger.Warn("api request refused: the token's role does not allow it", "method", r.Method, "path", r.URL.Path, "status", code, "actor", actor, "remote", r.RemoteAddr)
	}
	httperr.Write(w, err)
}

// router is the mux router with the rule of each route, so that no route
// is registered without one.
type router struct {
	*mux.Router
	rules map[*mux.Route]rule
}

// newRouter matches routes against the escaped path, so that a path
// variable may hold an escaped "/" (an incident key); handlers read their
// variables unescaped with pathVar.
func newRouter() *router {
	return &router{Router: mux.NewRouter().UseEncodedPath(), rules: map[*mux.Route]rule{}}
}

func (rt *router) add(ru rule, method, path string, h http.Handler) {
	rt.rules[rt.Handle(path, h).Methods(method)] = ru
}

// open registers a GET anyone may call, even with tokens configured.
func (rt *router) open(path string, h http.HandlerFunc) {
	rt.add(rule{access: accessOpen}, http.MethodGet, path, h)
}

// read registers a JSON GET for read tokens.
func (rt *router) read(path string, h http.HandlerFunc) {
	rt.add(rule{access: accessRead}, http.MethodGet, path, h)
}

// page registers an HTML GET for read tokens.
func (rt *router) page(path string, h http.HandlerFunc) {
	rt.add(rule{access: accessRead, page: true}, http.MethodGet, path, h)
}
