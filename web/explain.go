package web

import (
	"context"
	"strings"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
)

// Explanation answers "what did alertgate do with this key, and why".
type Explanation struct {
	Source  alertgate.Source `json:"source"`
	Key     string           `json:"key"`
	Kind    alertgate.Kind   `json:"kind"`
	KindWhy string           `json:"kind_why"`
	Episode string           `json:"episode,omitempty"`
	// Route is the current config's answer for the last event's labels.
	Route    alertgate.Match `json:"route"`
	Last     dedup.Last      `json:"last_decision"`
	Incident *dedup.Incident `json:"incident,omitempty"`
	Bug      *dedup.Bug      `json:"bug,omitempty"`
	// Related is, for an incident, what shares its correlation label
	// values now (its own key left out); absent when correlation is off or
	// its last labels lack a correlation label.
	Related *alertgate.Related `json:"related,omitempty"`
}

// Explain finds the state of key (the full alertgate key, or the source's
// own id such as a fingerprint or a Sentry issue id) and explains it.
func Explain(ctx context.Context, p States, rt Matcher, source alertgate.Source, key string) (*Explanation, error) {
	for _, k := range candidateKeys(source, key) {
		if ex, err := explainKey(ctx, p, rt, k); ex != nil || err != nil {
			return ex, err
		}
	}
	// The source's own id inside a longer key (a Sentry issue id): walk
	// the states, one at a time, until one ends with it.
	var found string
	in, err := incidentBySuffix(ctx, p, source, key)
	if in != nil {
		found = in.Key
	}
	if err == nil && found == "" {
		err = p.EachBug(ctx, func(b *dedup.Bug) error {
			if matchesSuffix(b.Key, b.Source, source, key) {
				found = b.Key
				return dedup.ErrStop
			}
			return nil
		})
	}
	if err != nil {
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "state unavailable")
	}
	if found != "" {
		return explainKey(ctx, p, rt, found)
	}
	return nil, alertgate.Errorf(alertgate.ENOTFOUND, "no incident or bug class with key %q has been seen", key)
}

// candidateKeys are the keys key may stand for: itself and, with a
// source, the source's own id (a fingerprint) under its versioned prefix.
func candidateKeys(source alertgate.Source, key string) []string {
	candidates := []string{key}
	if source != "" && !strings.HasPrefix(key, string(source)+":") {
		candidates = append(candidates, string(source)+":v1:"+key)
	}
	return candidates
}

func matchesSuffix(full string, have, want alertgate.Source, key string) bool {
	return (want == "" || have == want) && strings.HasSuffix(full, ":"+key)
}

func explainKey(ctx context.Context, p States, rt Matcher, key string) (*Explanation, error) {
	in, err := p.Incident(ctx, key)
	if err != nil {
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "state unavailable")
	}
	if in != nil {
		in.Outbox = nil
		ex := &Explanation{Source: in.Source, Key: key, Kind: alertgate.KindIncident, Last: in.Last, Incident: in, Episode: in.Last.Episode}
		ex.reroute(rt, alertgate.KindIncident)
		return ex, nil
	}
	b, err := p.Bug(ctx, key)
	if err != nil {
		return nil, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "state unavailable")
	}
	if b != nil {
		b.Outbox = nil
		ex := &Explanation{Source: b.Source, Key: key, Kind: alertgate.KindBug, Last: b.Last, Bug: b}
		ex.reroute(rt, alertgate.KindBug)
		return ex, nil
	}
	return nil, nil
}

func (ex *Explanation) reroute(rt Matcher, kind alertgate.Kind) {
	ev := alertgate.Event{Source: ex.Source, Kind: kind, Key: ex.Key, Episode: ex.Episode, Labels: map[string]string{}, Transition: ex.Last.Transition}
	for k, v := range ex.Last.Labels {
		ev.Labels[k] = v
	}
	// The kind stored is the classified one; re-classify from the source's
	// default is not recoverable, so say what the rules say now.
	ex.KindWhy = rt.Classify(&ev)
	ex.Route = rt.Route(ev)
	ex.Route.KindWhy = ex.KindWhy
}
