package sentry

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzStringPair checks the shortcut for ["key", "value"] tags against
// encoding/json: on a JSON array it must find exactly the pairs of two
// strings, and their raw elements.
func FuzzStringPair(f *testing.F) {
	for _, s := range []string{
		`["a","b"]`, ` [ "a" , "b" ] `, `["a\"]","b\\"]`, `["a","b","c"]`, `["a"]`, `[]`,
		`["a",1]`, `[null,"b"]`, `[["a"],"b"]`, `["a",{"b":"c"}]`, `["\u00e9","\ud83d\ude00"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimSpace(b)
		if !json.Valid(b) || jsonKind(b) != "array" {
			return
		}
		var pair []json.RawMessage
		if err := json.Unmarshal(b, &pair); err != nil {
			t.Fatal(err)
		}
		want := len(pair) == 2 && jsonKind(pair[0]) == "string" && jsonKind(pair[1]) == "string"
		k, v, ok := stringPair(b)
		if ok != want {
			t.Fatalf("stringPair(%q) ok=%v, want %v", b, ok, want)
		}
		if ok && (!bytes.Equal(k, pair[0]) || !bytes.Equal(v, pair[1])) {
			t.Fatalf("stringPair(%q)=%q, %q, want %q, %q", b, k, v, pair[0], pair[1])
		}
	})
}
