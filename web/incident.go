package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/httperr"
)

// IncidentView is GET /v1/incidents/{key}: the incident's state as
// /v1/incidents lists it (its episodes, its last decision) and what is
// related to it now, absent when correlation is off or the incident's
// last labels lack a correlation label.
type IncidentView struct {
	Incident *dedup.Incident    `json:"incident"`
	Related  *alertgate.Related `json:"related,omitempty"`
}

// incident answers GET /v1/incidents/{key}. The key is path-escaped (its
// "/" as %2F); with ?source= it may be the source's own id, as explain
// takes it.
func (s *Server) incident(w http.ResponseWriter, r *http.Request) {
	key, source := pathVar(r, "key"), alertgate.Source(r.URL.Query().Get("source"))
	if s.States == nil {
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAVAILABLE, "incident state unavailable"))
		return
	}
	in, err := findIncident(r.Context(), s.States, source, key)
	if err != nil {
		httperr.Write(w, err)
		return
	}
	if in == nil {
		httperr.Write(w, s.noIncident(r.Context(), key))
		return
	}
	in.Outbox = nil
	writeJSON(w, http.StatusOK, IncidentView{Incident: in, Related: s.relatedTo(in.Key, in.Last.Labels)})
}

// noIncident is the 404 of a key no incident has: it says so when the key
// is a bug class's, which explain shows.
func (s *Server) noIncident(ctx context.Context, key string) error {
	if b, err := s.States.Bug(ctx, key); err == nil && b != nil {
		return alertgate.Errorf(alertgate.ENOTFOUND, "%q is a bug class, not an incident: GET /v1/explain?key=%s shows it", key, url.QueryEscape(key))
	}
	return alertgate.Errorf(alertgate.ENOTFOUND, "no incident with key %q has been seen", key)
}

// findIncident reads the incident of key: the full key, else, with a
// source, the source's own id (a fingerprint: the versioned prefix is
// added) or the end of a longer key (found by a walk of the incidents).
// Nil when none has it.
func findIncident(ctx context.Context, st States, source alertgate.Source, key string) (*dedup.Incident, error) {
	for _, k := range candidateKeys(source, key) {
		in, err := st.Incident(ctx, k)
		if err != nil {
			return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "incident state unavailable")
		}
		if in != nil {
			return in, nil
		}
	}
	if source == "" {
		return nil, nil
	}
	found, err := incidentBySuffix(ctx, st, source, key)
	if err != nil {
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "incident state unavailable")
	}
	return found, nil
}

// incidentBySuffix walks the incidents, one at a time, for the first whose
// key ends with the source's own id key (of any source when source is
// ""). Nil when none does.
func incidentBySuffix(ctx context.Context, st States, source alertgate.Source, key string) (*dedup.Incident, error) {
	var found *dedup.Incident
	err := st.EachIncident(ctx, func(in *dedup.Incident) error {
		if matchesSuffix(in.Key, in.Source, source, key) {
			found = in
			return dedup.ErrStop
		}
		return nil
	})
	return found, err
}

// relatedTo is what is related to the incident key with labels now,
// itself left out; nil without a correlator.
func (s *Server) relatedTo(key string, labels map[string]string) *alertgate.Related {
	if s.Related == nil {
		return nil
	}
	return s.Related.Related(labels, key, s.now())
}

// pathVar is the path variable name, unescaped: the router matches the
// escaped path (UseEncodedPath), so that a key's "/", sent as %2F, stays
// in the key instead of splitting the path.
func pathVar(r *http.Request, name string) string {
	v := mux.Vars(r)[name]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
