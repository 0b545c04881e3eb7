// Package wire encodes what alertgate stores in JetStream (events,
// notifications, policy state, log records) with the engine of
// encoding/json/v2 (github.com/go-json-experiment/json): the same JSON
// documents as encoding/json writes, with less CPU and fewer allocations.
// Every stage decodes each message at least once, so this is on the path of
// every page.
//
// Only alertgate writes these documents, so the options are chosen for
// them: keys sorted (stored bytes do not depend on map order), invalid
// UTF-8 in a string replaced rather than refused (a source's text is kept
// as encoding/json kept it), and names matched exactly when decoding.
// API responses and Slack bodies stay with encoding/json.
//
// The policy's state entries, a million of them at a time, use the compact
// binary encoding of binary.go instead (Enc, Dec); a reader tells the two
// apart by the first byte.
package wire

import (
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

var (
	marshalOptions   = jsonv2.JoinOptions(jsonv2.Deterministic(true), jsontext.AllowInvalidUTF8(true), jsonv2.FormatNilSliceAsNull(true), jsonv2.FormatNilMapAsNull(true))
	unmarshalOptions = jsonv2.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
)

// Marshal encodes v.
func Marshal(v any) ([]byte, error) { return jsonv2.Marshal(v, marshalOptions) }

// Unmarshal decodes data into v. Unknown names are ignored, as
// encoding/json ignores them, so a newer alertgate's documents still
// decode.
func Unmarshal(data []byte, v any) error { return jsonv2.Unmarshal(data, v, unmarshalOptions) }
