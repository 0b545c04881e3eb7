// Package secret holds the one way alertgate checks a presented token
// against a configured one, shared by the ingest endpoints and the API so
// that both read credentials alike and neither leaks a token by timing.
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Equal compares in constant time, whatever the lengths: both sides are
// hashed first so the comparison does not leak the secret's length.
func Equal(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// FromRequest is the token r presents: the password of HTTP basic auth
// (what a browser and Alertmanager's http_config send; the user name is
// ignored), else the token of "Authorization: Bearer <token>"; "" when r
// presents neither.
func FromRequest(r *http.Request) string {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
