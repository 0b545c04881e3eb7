package jsondec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/alertmanager/template"
)

// sample has a field of every kind the parsers decode into: an embedded
// struct pointer (Alertmanager's message embeds *template.Data), times,
// string maps, numbers, pointers, slices, json.RawMessage and a type with
// its own UnmarshalJSON.
type sample struct {
	*template.Data
	Version    string            `json:"version"`
	Truncated  uint64            `json:"truncatedAlerts"`
	Count      int               `json:"count"`
	Ratio      float64           `json:"ratio"`
	Flag       bool              `json:"flag"`
	Snake_Case string            `json:"snake_case"`
	At         time.Time         `json:"at"`
	Labels     map[string]string `json:"labels"`
	Nested     *sample           `json:"nested"`
	List       []sample          `json:"list"`
	Raw        json.RawMessage   `json:"raw"`
	Verbatim   verbatim          `json:"verbatim"`
	Any        any               `json:"any"`
}

// verbatim keeps the bytes its UnmarshalJSON is handed, to check that both
// decoders hand methods the same raw value.
type verbatim string

func (v *verbatim) UnmarshalJSON(b []byte) error {
	*v += verbatim(b) + ";"
	return nil
}

// seeds are the parsers' test inputs and inputs on which v2's defaults
// differ from encoding/json.
func seeds(f *testing.F) {
	for _, dir := range []string{"../../alertmanager/testdata", "../../sentry/testdata", "../../datadog/testdata"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, ".golden.json") {
				continue
			}
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"Version":"4","VERSION":"5"}`,                       // case variants of one name
		`{"version":"4","version":"5"}`,                       // duplicate name
		`{"labels":{"a":"1","a":"2"}}`,                        // duplicate map key
		`{"snakecase":"x","snake-case":"y","SNAKE_CASE":"z"}`, // v2 alone ignores '_' and '-'
		`{"ſtatus":"firing","\u212aount":1}`,                  // Unicode case folding
		`{"at":"2026-03-14T09:26:53.12Z"}`,
		`{"at":"2026-03-14T09\u003a26:53Z"}`, // escaped timestamp
		`{"at":"2026-03-14T9:26:53Z"}`,
		`{"at":"2026-03-14T09:26:53+24:00"}`,
		`{"at":null,"labels":null,"nested":null,"raw":null,"verbatim":null,"version":null}`,
		`{"receiver":null}`, `{"alerts":null}`, `{}`, `null`, `[]`, `"x"`,
		`{"truncatedAlerts":1e2}`, `{"truncatedAlerts":-0}`, `{"truncatedAlerts":18446744073709551616}`,
		`{"count":1.0}`, `{"ratio":1e400}`, `{"any":1.50}`, `{"any":[1,{"a":null}]}`,
		"{\"version\":\"\xff\"}", `{"version":"\ud800"}`, `{"version":"\ud83d\ude00"}`,
		`{"raw": [ 1, 2 ] }`, `{"verbatim": "a\"b" }`, `{"verbatim":1}{"verbatim":2}`,
		`{"list":[{"count":1},{"count":2}]} trailing`, ` {"flag":true} `,
	} {
		f.Add([]byte(s))
	}
	for _, depth := range []int{9998, 9999, 10000, 10001} { // both limit nesting
		f.Add([]byte(strings.Repeat(`{"nested":`, depth) + `null` + strings.Repeat(`}`, depth)))
	}
}

// The inputs senders send must take the fast path, or the package is all
// cost: an Alertmanager webhook decodes there.
func TestFastPathTaken(t *testing.T) {
	b, err := os.ReadFile("../../alertmanager/testdata/alertmanager_v4.json")
	if err != nil {
		t.Fatal(err)
	}
	var s sample
	if !fast(b, &s) || s.Data == nil || len(s.Alerts) != 2 {
		t.Fatalf("fast path refused an Alertmanager webhook")
	}
}

// FuzzMatchesEncodingJSON checks the package's premise: whatever the fast
// path accepts, encoding/json decodes to the same value.
func FuzzMatchesEncodingJSON(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var got sample
		if !fast(body, &got) {
			return
		}
		var want sample
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v)", err)
		}
		if g, w := canonical(t, got), canonical(t, want); !bytes.Equal(g, w) {
			t.Fatalf("fast path decoded\n%s\nencoding/json\n%s", g, w)
		}
	})
}

// canonical marshals every field of s, telling nil from empty and printing
// times by wall clock and offset: their *time.Location differs between two
// parses, and encoding/json cannot marshal every time it parses.
func canonical(t *testing.T, s sample) []byte {
	t.Helper()
	b, err := jsonv2.Marshal(s,
		jsonv2.Deterministic(true),
		jsonv2.FormatNilMapAsNull(true),
		jsonv2.FormatNilSliceAsNull(true),
		jsontext.AllowInvalidUTF8(true),
		jsonv2.WithMarshalers(jsonv2.MarshalToFunc(func(enc *jsontext.Encoder, tm time.Time) error {
			return enc.WriteToken(jsontext.String(tm.String()))
		})))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzString checks String against encoding/json on every JSON value.
func FuzzString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d\n"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"a"b"`, `12`, `null`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		wantErr := json.Unmarshal(b, &want)
		got, err := String(b)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("String(%q)=%q, %v; encoding/json gives %q, %v", b, got, err, want, wantErr)
		}
	})
}
