package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const apiYAML = minimal + `
api:
  tokens:
    - name: grafana
      token: "${ALERTGATE_READ_TOKEN}"
      role: read
    - name: oncall
      token: "${ALERTGATE_ADMIN_TOKEN}"
      role: admin
  protect_metrics: true
`

const (
	readToken  = "READTOKENfromENVread"
	adminToken = "ADMINTOKENfromENVadmin"
)

var apiEnv = map[string]string{"ALERTGATE_READ_TOKEN": readToken, "ALERTGATE_ADMIN_TOKEN": adminToken}

func TestLoad_API(t *testing.T) {
	c, err := Load([]byte(apiYAML), env(apiEnv))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.API.Tokens), 2; got != want {
		t.Fatalf("len(api.tokens)=%d, want %d", got, want)
	}
	for i, want := range []APIToken{{"grafana", readToken, RoleRead}, {"oncall", adminToken, RoleAdmin}} {
		if got := c.API.Tokens[i]; got.Name != want.Name || got.Token.Value() != want.Token.Value() || got.Role != want.Role {
			t.Errorf("api.tokens[%d]=%s %s, want %s %s (and its token)", i, got.Name, got.Role, want.Name, want.Role)
		}
	}
	if !c.API.ProtectMetrics {
		t.Error("api.protect_metrics=false, want true")
	}

	// Without an api section the API is open and /metrics too.
	c, err = Load([]byte(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.API.Tokens) != 0 || c.API.ProtectMetrics {
		t.Fatalf("api=%+v, want no tokens, metrics open", c.API)
	}
	if d := Default(); len(d.API.Tokens) != 0 {
		t.Fatalf("Default api.tokens=%d, want none", len(d.API.Tokens))
	}
}

// API tokens print as <secret> every way a config is printed, and no
// error about one shows it.
func TestSecrets_API(t *testing.T) {
	c, err := Load([]byte(apiYAML), env(apiEnv))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", c, "api", c.API)
	jsonCfg, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	yamlCfg, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	tok := c.API.Tokens[0]
	out := strings.Join([]string{
		fmt.Sprintf("%v %+v %#v", c, c.API, c.API.Tokens),
		fmt.Sprintf(oddVerbs, tok.Token, tok.Token, tok, tok.Token, c.API),
		string(jsonCfg), string(yamlCfg), logged.String(),
	}, "\n")
	for _, s := range []string{readToken, adminToken} {
		if strings.Contains(out, s) {
			t.Fatalf("printed config contains token %q:\n%s", s, out)
		}
	}

	// A token that is wrong (white space, repeated) is named by its key.
	const padded = " PADDEDtokenFROMenv "
	_, err = Load([]byte(minimal+`
api:
  tokens:
    - {name: a, token: "${T}", role: read}
    - {name: b, token: "${T}", role: admin}
    - {name: c, token: "${U}", role: admin}
    - {name: d, token: "${U}", role: admin}
`), env(map[string]string{"T": padded, "U": readToken}))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{
		"api.tokens[0].token: starts or ends with white space",
		"api.tokens[1].token: starts or ends with white space",
		"api.tokens[3].token: the same token as api.tokens[2]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%v\nwant it to contain %q", err, want)
		}
	}
	for _, s := range []string{strings.TrimSpace(padded), readToken} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains token %q", err, s)
		}
	}
}

// The example's commented-out api block, uncommented, is a valid config:
// what a reader copies works.
func TestExampleAPIBlock(t *testing.T) {
	b, err := os.ReadFile("../examples/alertgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	for line := range strings.Lines(string(b)) {
		switch {
		case strings.HasPrefix(line, "# api:"):
			block = append(block, line[2:])
		case len(block) > 0 && strings.HasPrefix(line, "#   "):
			block = append(block, line[2:])
		case len(block) > 0:
			t.Fatalf("a line that is not part of the api block follows it: %q", line)
		}
	}
	if len(block) == 0 {
		t.Fatal("examples/alertgate.yaml has no commented-out api block")
	}
	c, err := Load([]byte(string(b)+strings.Join(block, "")), env(apiEnv))
	if err != nil {
		t.Fatalf("the example with its api block: %v", err)
	}
	if got := len(c.API.Tokens); got != 2 || c.API.Tokens[0].Role != RoleRead || c.API.Tokens[1].Role != RoleAdmin {
		t.Fatalf("api.tokens=%d, want grafana (read) and oncall (admin)", got)
	}
	// Uncommented without its variables set, it fails instead of opening
	// the API.
	if _, err := Load([]byte(string(b)+strings.Join(block, "")), noEnv); err == nil || !strings.Contains(err.Error(), "api.tokens[0].token: missing") {
		t.Fatalf("without ALERTGATE_*_TOKEN: %v, want api.tokens[0].token: missing", err)
	}
}
