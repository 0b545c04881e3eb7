package sentry

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/internal/jsondec"
)

// decode unmarshals body into v and turns encoding/json's errors into
// EINVALID errors naming the field path and the problem.
func decode[T any](body []byte, v *T) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return alertgate.Errorf(alertgate.EINVALID, "body: empty")
	}
	err := jsondec.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return alertgate.Errorf(alertgate.EINVALID, "body: malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 1e999" -> "number"
		return alertgate.Errorf(alertgate.EINVALID, "%s: want %s, got %s", field, want(te.Type), got)
	}
	return alertgate.WrapError(alertgate.EINVALID, err, "body: not a JSON object")
}

// want describes a Go type as a JSON type for error messages.
func want(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t {
	case reflect.TypeFor[flexString]():
		return "a string"
	case reflect.TypeFor[tagList]():
		return "a list of [key, value] pairs"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return want(t.Elem())
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another type"
}

// jsonKind names the JSON type of a raw value, as encoding/json does.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// flexString is a JSON string or number kept as text; null is "". Sentry
// sends most ids as strings but some as numbers (a comment's issue_id, an
// event's project), and a number where a string is documented is not worth a
// 400. Objects, lists and booleans are type errors.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	switch jsonKind(b) {
	case "null":
		return nil
	case "string":
		s, err := jsondec.String(b)
		if err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	case "number":
		*f = flexString(b)
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[flexString]()}
}

// String returns the value with surrounding space removed.
func (f flexString) String() string { return strings.TrimSpace(string(f)) }

// tag is one event tag.
type tag struct{ Key, Value string }

// tagList is an event's tags: Sentry sends [["key", "value"], …] in webhooks
// and [{"key": …, "value": …}, …] in its API. Entries of any other shape or
// with non-string parts are skipped; a tags value that is not a list is a
// type error.
type tagList []tag

// UnmarshalJSON implements json.Unmarshaler.
func (t *tagList) UnmarshalJSON(b []byte) error {
	if jsonKind(b) == "null" {
		return nil
	}
	var items []json.RawMessage
	if err := jsondec.Unmarshal(b, &items); err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[tagList]()}
	}
	*t = slices.Grow(*t, len(items)) // appends: a repeated "tags" adds up, as it always has
	for _, it := range items {
		k, v, ok := tagStrings(it)
		if !ok {
			continue
		}
		key, errK := jsondec.String(k)
		value, errV := jsondec.String(v)
		if errK == nil && errV == nil {
			*t = append(*t, tag{Key: key, Value: value})
		}
	}
	return nil
}

// tagStrings returns the key and value of one tags entry as JSON strings,
// ok false for an entry of another shape.
func tagStrings(it json.RawMessage) (k, v []byte, ok bool) {
	switch jsonKind(it) {
	case "array":
		if k, v, ok := stringPair(it); ok {
			return k, v, true // the shape Sentry sends, without decoding
		}
		var pair []json.RawMessage
		if jsondec.Unmarshal(it, &pair) != nil || len(pair) != 2 {
			return nil, nil, false
		}
		k, v = pair[0], pair[1]
	case "object":
		var kv struct {
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if jsondec.Unmarshal(it, &kv) != nil {
			return nil, nil, false
		}
		k, v = kv.Key, kv.Value
	default:
		return nil, nil, false
	}
	return k, v, jsonKind(k) == "string" && jsonKind(v) == "string"
}

// stringPair returns the two elements of arr, a valid JSON array, when it
// is exactly two strings (["key", "value"]); ok is false for any other
// array, which the caller then decodes in full.
func stringPair(arr []byte) (k, v []byte, ok bool) {
	rest := arr[1:] // past '['
	if k, rest, ok = leadingString(rest); !ok {
		return nil, nil, false
	}
	if rest = trimJSONSpace(rest); len(rest) == 0 || rest[0] != ',' {
		return nil, nil, false
	}
	if v, rest, ok = leadingString(rest[1:]); !ok {
		return nil, nil, false
	}
	if rest = trimJSONSpace(rest); len(rest) != 1 || rest[0] != ']' {
		return nil, nil, false
	}
	return k, v, true
}

// leadingString splits a JSON string literal, after JSON white space, off
// the front of b. b comes from valid JSON, so the literal ends at the first
// quote that is not escaped.
func leadingString(b []byte) (lit, rest []byte, ok bool) {
	b = trimJSONSpace(b)
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped character cannot end the string
		case '"':
			return b[:i+1], b[i+1:], true
		}
	}
	return nil, nil, false
}

// trimJSONSpace removes leading JSON white space.
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// addTags copies tags into labels. Sentry's internal "sentry:" prefix
// (sentry:release, sentry:user, sentry:dist) is dropped so that the label
// names match the ones users see in Sentry's UI.
func addTags(labels map[string]string, tags tagList) {
	for _, t := range tags {
		k := strings.TrimSpace(strings.TrimPrefix(t.Key, "sentry:"))
		if k == "" {
			continue
		}
		labels[k] = t.Value
	}
}

// setLabel sets labels[k] = v when v is not empty.
func setLabel(labels map[string]string, k string, v flexString) {
	if s := v.String(); s != "" {
		labels[k] = s
	}
}

// installation is the "installation" member of every integration-platform
// payload: the installation of the Sentry app in one organization.
type installation struct {
	UUID flexString `json:"uuid"`
}

// actor is who caused the webhook: {"type": "application", "id": "sentry"}
// for Sentry itself, {"type": "user", "id": 1, "name": …} for a person.
type actor struct {
	Type flexString `json:"type"`
	ID   flexString `json:"id"`
}

// errMissing is the error for a required field that is absent or empty.
func errMissing(path string) error {
	return alertgate.Errorf(alertgate.EINVALID, "%s: missing", path)
}

// requireID returns v if it is a usable Sentry id: present, short and made
// of letters, digits, '.', '_' and '-' (Sentry's ids are numbers, hex event
// ids and UUIDs). Ids become part of keys and Nats-Msg-Id headers, so
// anything else is rejected rather than escaped.
func requireID(path string, v flexString) (string, error) {
	s := v.String()
	if s == "" {
		return "", errMissing(path)
	}
	if !isToken(s) {
		return "", alertgate.Errorf(alertgate.EINVALID, "%s: %q is not a Sentry id", path, clip(s))
	}
	return s, nil
}

// isToken reports whether s is 1 to 128 characters of [A-Za-z0-9._-].
func isToken(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// clip shortens untrusted text quoted in error messages.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// firstOf returns the first non-empty value.
func firstOf(vs ...flexString) string {
	for _, v := range vs {
		if s := v.String(); s != "" {
			return s
		}
	}
	return ""
}

// parseTime reads the first of vs that is a time: RFC 3339 (Sentry writes
// microseconds and "Z", Python's isoformat "+00:00"), the same without a
// zone (taken as UTC), or unix seconds with an optional fraction. A value
// that is none of these is skipped: a bad timestamp is not worth losing an
// alert, and the ingest edge stamps ReceivedAt anyway.
func parseTime(vs ...flexString) time.Time {
	layouts := []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
	}
	for _, v := range vs {
		s := v.String()
		if s == "" {
			continue
		}
		for _, l := range layouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC()
			}
		}
		if t, ok := parseUnix(s); ok {
			return t
		}
	}
	return time.Time{}
}

// parseUnix reads unix seconds written as digits with an optional decimal
// fraction ("1566248777", "1566248777.677"). Signs, exponents, hex and more
// than 11 integer digits (past year 5000) are refused.
func parseUnix(s string) (time.Time, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) == 0 || len(intPart) > 11 || (hasFrac && len(frac) == 0) {
		return time.Time{}, false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return time.Time{}, false
			}
		}
	}
	sec, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		frac = (frac + "000000000")[:9]
		nsec, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(sec, nsec).UTC(), true
}

// webURL returns raw if it is an absolute http(s) URL, else "": links end
// up in Slack and PagerDuty and must not be javascript: or relative.
func webURL(raw flexString) string {
	s := raw.String()
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// orgFromURL returns the organization slug in a Sentry URL: the path
// segment after /organizations/ or after /api/0/projects/, else the
// customer-domain host <org>.sentry.io. It returns "" when there is none.
func orgFromURL(raw flexString) string {
	u, err := url.Parse(raw.String())
	if err != nil || u.Host == "" {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] == "organizations" || (segs[i] == "projects" && i >= 2 && segs[i-2] == "api") {
			if isToken(segs[i+1]) {
				return segs[i+1]
			}
			return ""
		}
	}
	sub, ok := strings.CutSuffix(strings.ToLower(u.Hostname()), ".sentry.io")
	if !ok || strings.Contains(sub, ".") || !isToken(sub) {
		return ""
	}
	switch sub {
	case "www", "us", "de", "api":
		return "" // sentry.io's own hosts, not an organization
	}
	return sub
}

// projectFromURL returns the project slug in a Sentry API URL
// (/api/0/projects/<org>/<project>/…), else "".
func projectFromURL(raw flexString) string {
	u, err := url.Parse(raw.String())
	if err != nil || u.Host == "" {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 2; i+2 < len(segs); i++ {
		if segs[i] == "projects" && segs[i-2] == "api" && isToken(segs[i+2]) {
			return segs[i+2]
		}
	}
	return ""
}

// isSlug reports whether a project field holds a slug rather than a
// numeric project id.
func isSlug(s string) bool {
	if !isToken(s) {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err != nil
}
