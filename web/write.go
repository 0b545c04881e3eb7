package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
)

// Writes: every endpoint that changes something is registered with
// addWrite, or, when it removes what its path names, addDelete (no body,
// no query). A write is for admin tokens only, takes its arguments as one
// JSON object in the body and nothing else: no query parameters, no
// body-less POST, no form. A browser sends a cross-site form (or a no-cors
// fetch) only as application/x-www-form-urlencoded, multipart/form-data or
// text/plain, and a JSON body only after a CORS preflight alertgate never
// answers, so another site cannot make a visitor's browser act here, even
// with basic-auth credentials the browser remembers. Each write is
// recorded in the audit trail, and refused while there is none.

// maxWriteBody bounds a write's body: writes carry ids and matchers, not
// payloads.
const maxWriteBody = 64 << 10

// auditTimeout bounds the audit record of an action already taken; it is
// written even when the client has gone.
const auditTimeout = 5 * time.Second

// addWrite registers a POST on path for admin tokens whose body decodes
// into T before act runs; act gets the decoded body.
func addWrite[T any](s *Server, rt *router, path string, act func(w http.ResponseWriter, r *http.Request, body T)) {
	rt.add(rule{access: accessAdmin}, http.MethodPost, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readJSON[T](w, r)
		if err != nil {
			httperr.Write(w, err)
			return
		}
		if s.Audit == nil {
			httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "audit trail unavailable: admin actions wait until they can be recorded"))
			return
		}
		act(w, r, body)
	}))
}

// addDelete registers a DELETE on path for admin tokens: what it acts on
// is in the path, so a query string or a body is refused. A browser sends
// a cross-site DELETE only after a CORS preflight alertgate never answers,
// so no form or page elsewhere can send one.
func addDelete(s *Server, rt *router, path string, act http.HandlerFunc) {
	rt.add(rule{access: accessAdmin}, http.MethodDelete, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if names := queryNames(r); names != "" {
			httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "query parameters (%s) are not taken by a DELETE: what it removes is in the path", names))
			return
		}
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "body: a DELETE takes none: what it removes is in the path"))
			return
		}
		if s.Audit == nil {
			httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "audit trail unavailable: admin actions wait until they can be recorded"))
			return
		}
		act(w, r)
	}))
}

// queryNames lists the query parameters of r, sorted, "" for none.
func queryNames(r *http.Request) string {
	q := r.URL.Query()
	if len(q) == 0 {
		return ""
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// readJSON decodes a write's body: a single JSON object of T's fields,
// sent as application/json. Every error names the problem.
func readJSON[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if names := queryNames(r); names != "" {
		return v, alertgate.Errorf(alertgate.EINVALID, "query parameters (%s) are not taken by a write: send them as fields of the JSON body", names)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return v, alertgate.Errorf(alertgate.EMEDIATYPE, "Content-Type: missing: a write takes a JSON body with Content-Type: application/json")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		if err == nil {
			ct = mt // without parameters such as a form's boundary
		}
		return v, alertgate.Errorf(alertgate.EMEDIATYPE, "Content-Type: want application/json, got %q", ct)
	}
	b, err := readBody(w, r, maxWriteBody)
	if err != nil {
		return v, err
	}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return v, alertgate.Errorf(alertgate.EINVALID, "body: missing: send a JSON object ({} for the defaults)")
	case b[0] != '{':
		return v, alertgate.Errorf(alertgate.EINVALID, "body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return v, alertgate.Errorf(alertgate.EINVALID, "body: invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
		case errors.As(err, &typ):
			return v, alertgate.Errorf(alertgate.EINVALID, "body.%s: want a %s, got a JSON %s", typ.Field, typ.Type, typ.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return v, alertgate.Errorf(alertgate.EINVALID, "body: invalid JSON: it ends early")
		}
		// Unknown fields: encoding/json says `json: unknown field "x"`.
		return v, alertgate.Errorf(alertgate.EINVALID, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.InputOffset() != int64(len(b)) {
		return v, alertgate.Errorf(alertgate.EINVALID, "body: more after the JSON object")
	}
	return v, nil
}

// readBody reads a request's body of at most limit bytes; an error says
// which limit it passed or that it could not be read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, alertgate.Errorf(alertgate.ETOOLARGE, "body: over %d bytes", limit)
		}
		return nil, alertgate.WrapError(alertgate.EINVALID, err, "body: unreadable")
	}
	return b, nil
}

// record logs an admin action and writes it to the audit trail. The
// action has been taken: a trail that cannot take the record does not
// undo it, so the record then stays in the log, at error level.
func (s *Server) record(r *http.Request, rec alertgate.AuditRecord) {
	s.Metrics.AdminActions.WithLabelValues(rec.Action).Inc()
	attrs := []any{"actor", rec.Actor, "action", rec.Action, "target", rec.Target, "detail", rec.Detail}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := s.Audit.Record(ctx, rec); err != nil {
		s.Logger.Error("admin action not recorded in the audit trail", append(attrs, "err", err)...)
		return
	}
	s.Logger.Info("admin action", attrs...)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
