package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad checks that no file panics Load; that it returns either a config
// or an error, never both; that every error it joins says something; and
// that a config it returns passes its own validation again, is left alone by
// the defaults (they were applied), resolves every route's team and ends
// with a catch-all route. Load is deterministic: the same bytes give an
// equal config or the same error text. (A loaded config cannot be written
// back out to load again: secrets print as <secret>.)
func FuzzLoad(f *testing.F) {
	files := []string{"../examples/alertgate.yaml"}
	for _, glob := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Anchors, aliases and merge keys (supported, see TestLoad_Merge), and
	// ${ENV} in odd places.
	for _, s := range []string{
		minimal,
		"teams:\n  - &team {name: payments, slack_webhook_url: \"https://hooks.slack.com/services/T/B/X\"}\n  - <<: *team\n    name: frontend\nroutes:\n  - team: payments\n",
		"teams:\n  - &a {name: a}\n  - &b {<<: *a, name: b}\n  - <<: [*b, *a]\n    name: c\nroutes:\n  - team: c\n",
		"delivery: &d {attempts: 3, min_backoff: 2s}\nteams: [{name: a}]\nroutes: [{match: &m ['x=\"1\"'], team: a}, {match: [], team: a}]\nclassify: [{match: *m, kind: bug}]\n",
		"teams: [{name: a, pagerduty_routing_key: ${PD_PAYMENTS_KEY}}]\nroutes: [{team: a}]\nretention: ${UNSET}\n${X}: 1\n",
	} {
		f.Add([]byte(s))
	}
	lookup := env(designEnv)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Load(b, lookup)
		if (c == nil) == (err == nil) {
			t.Fatalf("Load returned config %v and error %v", c != nil, err)
		}
		c2, err2 := Load(b, lookup)
		if err != nil {
			for _, e := range unjoin(err) {
				if e == nil || strings.TrimSpace(e.Error()) == "" {
					t.Fatalf("empty error among %q", err)
				}
			}
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("first load: %v\nsecond load: %v", err, err2)
			}
			return
		}
		if err2 != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("second load differs (%v):\n%+v\n%+v", err2, c, c2)
		}
		if err := c.validate(); err != nil {
			t.Fatalf("loaded config fails validation: %v", err)
		}
		again := *c
		again.setDefaults()
		if !reflect.DeepEqual(&again, c) {
			t.Fatalf("defaults change a loaded config:\n%+v\n%+v", c, &again)
		}
		for i, r := range c.Routes {
			if _, ok := c.Team(r.Team); !ok {
				t.Fatalf("routes[%d].team %q not found", i, r.Team)
			}
		}
		if last := c.Routes[len(c.Routes)-1]; len(last.Match) != 0 {
			t.Fatalf("last route matches %v, not everything", last.Match.Strings())
		}
	})
}
