package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
	"github.com/alertgate/alertgate/silences"
)

// Silences over the API:
//
//	POST   /v1/silences        (admin) {"matchers": [...], "starts_at", "ends_at" | "duration", "created_by", "comment"} → 201 {"id"}
//	GET    /v1/silences        (read)  ?state=active|pending|expired → {"silences": [...]}, newest first
//	DELETE /v1/silences/{id}   (admin) expires it now → 204; 404 for an unknown id;
//	                                   an expired one answers 204 and is left as it is
//
// Adding and expiring are recorded in the audit trail.

// Audit trail actions of the silences.
const (
	actionSilenceAdd    = "silence.add"
	actionSilenceExpire = "silence.expire"
)

// silenceRequest is the body of POST /v1/silences. Times are strings so
// that an error names the field.
type silenceRequest struct {
	Matchers []string `json:"matchers"`
	// StartsAt is RFC 3339; now when left out (or past).
	StartsAt string `json:"starts_at"`
	// EndsAt (RFC 3339) or Duration ("2h", "90m", "1d"), not both.
	EndsAt   string `json:"ends_at"`
	Duration string `json:"duration"`
	// CreatedBy defaults to the name of the request's token.
	CreatedBy string `json:"created_by"`
	Comment   string `json:"comment"`
}

// silenceInput turns a request into the silence to add at now; an error
// names the field.
func silenceInput(req silenceRequest, actor string, now time.Time) (silences.Silence, error) {
	in := silences.Silence{Matchers: req.Matchers, CreatedBy: req.CreatedBy, Comment: req.Comment}
	if in.CreatedBy == "" {
		in.CreatedBy = actor
	}
	parseTime := func(field, v string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, alertgate.Errorf(alertgate.EINVALID, "body.%s: want an RFC 3339 time like 2026-12-04T10:00:00Z, got %q", field, v)
		}
		return t, nil
	}
	var err error
	if req.StartsAt != "" {
		if in.StartsAt, err = parseTime("starts_at", req.StartsAt); err != nil {
			return in, err
		}
	}
	switch {
	case req.EndsAt != "" && req.Duration != "":
		return in, alertgate.Errorf(alertgate.EINVALID, "body.duration: give ends_at or duration, not both")
	case req.EndsAt == "" && req.Duration == "":
		return in, alertgate.Errorf(alertgate.EINVALID, `body.duration: missing: give ends_at (RFC 3339) or duration (like "2h")`)
	case req.EndsAt != "":
		in.EndsAt, err = parseTime("ends_at", req.EndsAt)
		return in, err
	}
	d, err := model.ParseDuration(req.Duration)
	if err != nil || d <= 0 {
		return in, alertgate.Errorf(alertgate.EINVALID, `body.duration: want a duration like 90m, 2h or 1d, got %q`, req.Duration)
	}
	start := in.StartsAt
	if start.IsZero() || start.Before(now) {
		start = now
	}
	in.EndsAt = start.Add(time.Duration(d))
	return in, nil
}

// addSilence adds a silence.
func (s *Server) addSilence(w http.ResponseWriter, r *http.Request, req silenceRequest) {
	if s.Silences == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "silences unavailable"))
		return
	}
	now := s.now()
	in, err := silenceInput(req, Actor(r.Context()), now)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	sil, err := s.Silences.Add(r.Context(), in, now)
	if inv, ok := errors.AsType[*silences.InvalidError](err); ok {
		// Refused before anything was done: nothing to record.
		httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "body.%s", inv.Error()))
		return
	}
	rec := alertgate.AuditRecord{At: now, Actor: Actor(r.Context()), Action: actionSilenceAdd, Target: sil.ID, Detail: silenceDetail(sil)}
	if err != nil {
		s.Logger.Error("silence not stored", "err", err)
		rec.Target, rec.Detail = "-", "failed: silences unavailable; "+silenceDetail(in)
		s.record(r, rec)
		httperr.Write(w, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "silence not stored: silences unavailable (the gateway log has the error)"))
		return
	}
	s.record(r, rec)
	writeJSON(w, http.StatusCreated, map[string]string{"id": sil.ID})
}

// silenceDetail is what an audit record says of a silence.
func silenceDetail(sil silences.Silence) string {
	d := fmt.Sprintf("%s from %s to %s by %s", strings.Join(sil.Matchers, ", "),
		sil.StartsAt.UTC().Format(time.RFC3339), sil.EndsAt.UTC().Format(time.RFC3339), sil.CreatedBy)
	if sil.Comment != "" {
		d += ": " + sil.Comment
	}
	return d
}

// listSilences lists the silences, newest first, of ?state= if given.
func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if !silences.ValidState(state) {
		httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "state: want active, pending or expired, got %q", state))
		return
	}
	if s.Silences == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "silences unavailable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": s.Silences.List(state, s.now())})
}

// expireSilence ends a silence now.
func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request) {
	if s.Silences == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "silences unavailable"))
		return
	}
	id, now := pathVar(r, "id"), s.now()
	err := s.Silences.Expire(r.Context(), id, now)
	rec := alertgate.AuditRecord{At: now, Actor: Actor(r.Context()), Action: actionSilenceExpire, Target: id, Detail: "expired"}
	switch {
	case errors.Is(err, silences.ErrNotFound):
		err = alertgate.Errorf(alertgate.ENOTFOUND, "no silence %q (an expired silence is kept %d days after its end)", id, int(silences.Retention/(24*time.Hour)))
		rec.Detail = "failed: no such silence"
	case err != nil:
		s.Logger.Error("silence not expired", "id", id, "err", err)
		err = alertgate.WrapError(alertgate.EUNAVAILABLE, err, "silence not expired: silences unavailable (the gateway log has the error)")
		rec.Detail = "failed: silences unavailable"
	}
	s.record(r, rec)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
