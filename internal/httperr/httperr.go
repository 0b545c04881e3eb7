// Package httperr is the HTTP edge's one table from alertgate's error codes
// to statuses, and the one shape of an error answer ({"error": "…"}), shared
// by the ingest endpoints and the read API.
package httperr

import (
	"encoding/json"
	"net/http"

	"github.com/alertgate/alertgate"
)

// Status maps err's code to its HTTP status.
func Status(err error) int {
	switch alertgate.ErrorCode(err) {
	case alertgate.EINVALID:
		return http.StatusBadRequest
	case alertgate.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case alertgate.EFORBIDDEN:
		return http.StatusForbidden
	case alertgate.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case alertgate.EMEDIATYPE:
		return http.StatusUnsupportedMediaType
	case alertgate.ENOTFOUND:
		return http.StatusNotFound
	case alertgate.ECONFLICT:
		return http.StatusConflict
	case alertgate.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Write writes err as {"error": …} with its status.
func Write(w http.ResponseWriter, err error) { WriteStatus(w, Status(err), err) }

// WriteStatus writes err as {"error": …} with code. The message is the
// caller-safe one; a 401 says no more than "unauthorized" (detail would help
// a guesser), and a 503 asks the client to come back in 5 seconds.
func WriteStatus(w http.ResponseWriter, code int, err error) {
	msg := alertgate.ErrorMessage(err)
	if code == http.StatusUnauthorized {
		msg = "unauthorized"
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
