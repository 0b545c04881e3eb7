package web

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
)

// A replay over the API:
//
//	POST /v1/replay?since=168h[&until=…][&limit=100][&ignore_silences=true]   (admin)
//	     body: the candidate config file, Content-Type: application/yaml
//	     → 200 the report (alertgate.ReplayReport)
//
// It is the one POST whose body is not JSON: a config file is YAML. A
// browser sends no cross-site request with a YAML content type without a
// CORS preflight (alertgate answers none), so this endpoint takes
// application/yaml and application/x-yaml only, never text/plain, which a
// form may send anywhere. It changes nothing, so it leaves no audit
// record (the audit trail is a stream, and a replay must leave every
// stream as it was); its log line names the actor.

// maxReplayBody bounds the candidate config: config files are kilobytes.
const maxReplayBody = 1 << 20

// defaultReplaySince is the window of a replay that names none: a week.
const defaultReplaySince = 7 * 24 * time.Hour

// replayConfig answers POST /v1/replay.
func (s *Server) replayConfig(w http.ResponseWriter, r *http.Request) {
	q, err := s.replayQuery(r)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	body, err := readYAML(w, r)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if s.Replayer == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "replay unavailable"))
		return
	}
	// A week of a busy gateway takes longer than the server's write
	// timeout, which is meant for ordinary answers.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	s.Logger.Info("replay requested", "actor", Actor(r.Context()), "since", q.Since, "until", q.Until, "limit", q.Limit, "ignore_silences", q.IgnoreSilences)
	rep, err := s.Replayer.Replay(r.Context(), body, q)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// replayQuery reads the query parameters of a replay; an error names the
// parameter.
func (s *Server) replayQuery(r *http.Request) (alertgate.ReplayQuery, error) {
	now := s.now()
	v := r.URL.Query()
	for name := range v {
		switch name {
		case "since", "until", "limit", "ignore_silences":
		default:
			return alertgate.ReplayQuery{}, alertgate.Errorf(alertgate.EINVALID, "%s: unknown parameter: a replay takes since, until, limit and ignore_silences", name)
		}
	}
	q := alertgate.ReplayQuery{Since: now.Add(-defaultReplaySince)}
	var err error
	if x := v.Get("since"); x != "" {
		if q.Since, err = parseWhen("since", x, now); err != nil {
			return q, err
		}
	}
	if x := v.Get("until"); x != "" {
		if q.Until, err = parseWhen("until", x, now); err != nil {
			return q, err
		}
		if !q.Since.Before(q.Until) {
			return q, alertgate.Errorf(alertgate.EINVALID, "until: %s is not after since %s", q.Until.UTC().Format(time.RFC3339), q.Since.UTC().Format(time.RFC3339))
		}
	}
	if q.Limit, err = limitParam(r, 100); err != nil {
		return q, err
	}
	if x := v.Get("ignore_silences"); x != "" {
		if q.IgnoreSilences, err = strconv.ParseBool(x); err != nil {
			return q, alertgate.Errorf(alertgate.EINVALID, "ignore_silences: want true or false, got %q", x)
		}
	}
	return q, nil
}

// parseWhen reads a point in time: an RFC 3339 time, or a duration before
// now ("168h", "7d", "90m").
func parseWhen(name, v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := model.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-time.Duration(d)), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, alertgate.Errorf(alertgate.EINVALID, "%s: want a duration before now like 168h or 7d, or an RFC 3339 time like 2026-12-04T10:00:00Z, got %q", name, v)
}

// readYAML reads the candidate config: YAML, bounded.
func readYAML(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, alertgate.Errorf(alertgate.EMEDIATYPE, "Content-Type: missing: a replay takes the candidate config with Content-Type: application/yaml")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/yaml" && mt != "application/x-yaml") {
		if err == nil {
			ct = mt
		}
		return nil, alertgate.Errorf(alertgate.EMEDIATYPE, "Content-Type: want application/yaml (the candidate config file), got %q", ct)
	}
	b, err := readBody(w, r, maxReplayBody)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, alertgate.Errorf(alertgate.EINVALID, "body: missing: send the candidate config file")
	}
	return b, nil
}
