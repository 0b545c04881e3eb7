// Package jsondec decodes webhook bodies with the engine of encoding/json/v2
// (github.com/go-json-experiment/json), which takes a fraction of the CPU and
// allocations of encoding/json, while keeping exactly what encoding/json
// returns: the parsers' results, and the error messages their golden files
// pin, must not depend on which decoder ran.
//
// The fast path runs v2 with encoding/json's name matching and time parsing
// but keeps v2's strictness: duplicate or ambiguous names, invalid UTF-8 and
// trailing data are errors there. Every input the fast path refuses is
// decoded again by encoding/json, which then decides, so such inputs (rare:
// senders emit clean JSON) get the value or error they always got. Inputs the
// fast path accepts decode as with encoding/json; FuzzMatchesEncodingJSON
// checks that.
package jsondec

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// fastOptions are the v2 options whose results agree with encoding/json on
// every input v2 accepts with them. v2's defaults already reject duplicate
// names (which encoding/json merges or overwrites) and invalid UTF-8 (which
// it replaces), sending those inputs to encoding/json.
var fastOptions = jsonv2.JoinOptions(
	// encoding/json matches object names to fields as strings.EqualFold
	// does; v2 alone would also ignore '_' and '-'.
	jsonv2.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(unmarshalTime)),
)

// unmarshalTime hands the raw JSON value to time.Time.UnmarshalJSON, as
// encoding/json does. v2 would unescape the string first and so accept
// escaped timestamps ("2026-03-14T09\u003a26:53Z") that encoding/json
// refuses.
func unmarshalTime(dec *jsontext.Decoder, t *time.Time) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return t.UnmarshalJSON(v)
}

// Unmarshal decodes body into a zero T at v, as json.Unmarshal does.
func Unmarshal[T any](body []byte, v *T) error {
	if fast(body, v) {
		return nil
	}
	return json.Unmarshal(body, v)
}

// DecodeFirst decodes the first JSON value of body into a zero T at v and
// ignores what follows it, as json.NewDecoder(bytes.NewReader(body)).Decode
// does.
func DecodeFirst[T any](body []byte, v *T) error {
	if fast(body, v) {
		return nil
	}
	return json.NewDecoder(bytes.NewReader(body)).Decode(v)
}

// fast decodes body, which must be one JSON value, into a zero T at v with
// v2 and reports whether it did. When it did not, *v is left zero.
func fast[T any](body []byte, v *T) bool {
	var zero T
	*v = zero
	if jsonv2.Unmarshal(body, v, fastOptions) != nil {
		*v = zero // drop what was filled in before the error
		return false
	}
	return true
}

// String decodes b, one JSON string, as json.Unmarshal into a string does.
// UnmarshalJSON methods use it for the strings they pick out.
func String(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		// The common case: nothing to unescape or check but UTF-8.
		if s := b[1 : len(b)-1]; plain(s) {
			return string(s), nil
		}
		// v2 unquotes as encoding/json does wherever it succeeds; it fails
		// on invalid UTF-8 and lone surrogates, which encoding/json replaces.
		if u, err := jsontext.AppendUnquote(nil, b); err == nil {
			return string(u), nil
		}
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// plain reports whether s is valid UTF-8 with no quote, backslash or
// control character: the inside of a JSON string that reads as it is.
func plain(s []byte) bool {
	for _, c := range s {
		if c < ' ' || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(s)
}
