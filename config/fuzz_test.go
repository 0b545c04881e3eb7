package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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

// FuzzMatcher checks the matcher syntax of routes and classify rules
// (parseMatcher, Alertmanager's labels.ParseMatcher) as Load and
// Matchers.UnmarshalYAML use it: a matcher that parses, printed with String
// and parsed again, is an equal matcher (type, name, value) that accepts the
// same label values; and every error quotes the matcher it is about.
func FuzzMatcher(f *testing.F) {
	for _, s := range []string{
		`service="checkout"`, `service=~"checkout|payments"`, `env!="prod"`, `team!~"a.*"`,
		` a = b `, `a=`, `a=""`, `a="x\"y"`, `a="\n\\"`, `a=x\`, `a="x\"`, `a="é"`, "a=\"\xff\"",
		"a=\"x\ny\"", `a=~"(a|b)+"`, `a=~(`, `a~x`, `1a="b"`, `{a="b"}`, `a="b",c="d"`, `__name__!~"^$"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMatcher(s)
		if err != nil {
			if !strings.Contains(err.Error(), "'"+s+"'") {
				t.Fatalf("error %q does not quote the matcher %q", err, s)
			}
		} else {
			back := m.String()
			m2, err := parseMatcher(back)
			if err != nil {
				t.Fatalf("%q printed as %q, which does not parse: %v", s, back, err)
			}
			if m2.Type != m.Type || m2.Name != m.Name || m2.Value != m.Value {
				t.Fatalf("%q printed as %q parses as %q %q %q, want %q %q %q",
					s, back, m2.Name, m2.Type, m2.Value, m.Name, m.Type, m.Value)
			}
			for _, v := range []string{"", m.Value, s, "x", m.Value + "x", strings.ToUpper(m.Value)} {
				if a, b := m.Matches(v), m2.Matches(v); a != b {
					t.Fatalf("%q matches %q: %v; printed and parsed again (%q): %v", s, v, a, back, b)
				}
				// Matchers looks the label up, an absent one being "".
				lset := map[string]string{m.Name: v}
				if v == "" {
					lset = map[string]string{}
				}
				if got := (Matchers{m}).Matches(lset); got != m.Matches(v) {
					t.Fatalf("Matchers{%q}.Matches(%v)=%v, matcher says %v", s, lset, got, !got)
				}
			}
		}

		// The same string as a YAML list item, through both decoders.
		item := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: 7}
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}, Line: 7}
		var viaYAML Matchers
		yerr := viaYAML.UnmarshalYAML(list)
		d := &decoder{lines: map[string]int{}, orig: map[*yaml.Node]string{}}
		var viaLoad Matchers
		d.matchers(list, reflect.ValueOf(&viaLoad).Elem(), "routes[2].match")
		lerr := errors.Join(d.errs...)
		if err != nil {
			if yerr == nil || lerr == nil {
				t.Fatalf("%q: parseMatcher fails (%v), UnmarshalYAML gives %v, Load's decoder %v", s, err, yerr, lerr)
			}
			if !strings.Contains(yerr.Error(), "[0]: ") || !strings.Contains(yerr.Error(), "'"+s+"'") {
				t.Fatalf("UnmarshalYAML error %q does not name item [0] and quote %q", yerr, s)
			}
			if !strings.HasPrefix(lerr.Error(), "line 7: routes[2].match[0]: ") || !strings.Contains(lerr.Error(), "'"+s+"'") {
				t.Fatalf("Load's error %q does not name line 7, routes[2].match[0] and quote %q", lerr, s)
			}
			return
		}
		if yerr != nil || lerr != nil {
			t.Fatalf("%q parses, but UnmarshalYAML gives %v and Load's decoder %v", s, yerr, lerr)
		}
		for _, got := range []Matchers{viaYAML, viaLoad} {
			if len(got) != 1 || got[0].String() != m.String() {
				t.Fatalf("%q decoded from YAML as %q, want [%s]", s, got.Strings(), m)
			}
		}
	})
}
