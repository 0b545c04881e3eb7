package config

import (
	"fmt"
	"strings"
)

// API says who may use the HTTP API beside the ingest endpoints. With no
// tokens it is open, so that a local `make run` needs none; the gateway
// warns at start.
type API struct {
	Tokens []APIToken `yaml:"tokens"`
	// ProtectMetrics puts /metrics behind a read token too. Off by default:
	// Prometheus scrapes it, and the metrics carry counts, not alerts.
	ProtectMetrics bool `yaml:"protect_metrics"`
}

// APIToken is one credential of the API. Name is what logs and the audit
// trail show; Token itself is never printed.
type APIToken struct {
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
	Role  string `yaml:"role"`
}

// Roles of an API token.
const (
	// RoleRead reads: the API's GETs, the status page, the runbook pages.
	RoleRead = "read"
	// RoleAdmin also acts: dead-letter replay, and later silences and
	// config replays.
	RoleAdmin = "admin"
)

// Anonymous is the actor the audit trail names when the API is open; no
// token may take the name.
const Anonymous = "anonymous"

// validateAPI reports each problem of the api section through bad. No
// message shows a token: two equal tokens are named by their keys.
func (c *Config) validateAPI(bad func(key, format string, args ...any)) {
	names := map[string]int{}
	tokens := map[Secret]int{}
	for i, t := range c.API.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		j, dup := names[t.Name]
		switch {
		case t.Name == "":
			bad(key+".name", "missing (it names the token in logs and the audit trail)")
		case !validName(t.Name):
			bad(key+".name", "%q: use letters, digits, '-' and '_' only", t.Name)
		case t.Name == Anonymous:
			bad(key+".name", "%q is what the audit trail calls requests without a token: choose another name", t.Name)
		case dup:
			bad(key+".name", "%q already used by api.tokens[%d]", t.Name, j)
		default:
			names[t.Name] = i
		}
		v := t.Token.Value()
		switch j, dup := tokens[t.Token]; {
		case v == "":
			bad(key+".token", "missing (is its ${ENV} variable set?)")
		case strings.TrimSpace(v) != v:
			bad(key+".token", "starts or ends with white space, which a bearer token cannot carry")
		case dup:
			bad(key+".token", "the same token as api.tokens[%d]: give each its own, so the audit trail knows who acted", j)
		default:
			tokens[t.Token] = i
		}
		switch t.Role {
		case RoleRead, RoleAdmin:
		case "":
			bad(key+".role", "missing: read or admin")
		default:
			bad(key+".role", "must be read or admin, got %q", t.Role)
		}
	}
}
