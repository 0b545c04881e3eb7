package routes

import (
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/related"
)

// Correlator keeps and answers the related signals of a page
// (related.Index).
type Correlator interface {
	Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related
	ObserveBug(b related.Bug)
	ObserveIncident(in related.Incident, firing bool)
}

var _ Correlator = (*related.Index)(nil)

// related is what a firing event's notifications list as related, as of
// at: for an incident, the bug classes and other open incidents sharing
// its correlation labels; for a bug class, the open incidents only (its
// digest item says "during" one of them).
func (r *Router) related(ev alertgate.Event, at time.Time) *alertgate.Related {
	if r.Related == nil {
		return nil
	}
	rel := r.Related.Related(ev.Labels, ev.Key, at)
	if rel != nil && ev.Kind == alertgate.KindBug {
		rel.Bugs, rel.MoreBugs = []alertgate.RelatedBug{}, 0
	}
	return rel
}

// observe tells the correlator what a decision changed: one more
// occurrence of a bug class, an incident key opened or closed.
func (r *Router) observe(ev alertgate.Event, d dedup.Decision) {
	if r.Related == nil || d.Outcome == dedup.OutcomeDuplicate || d.Outcome == dedup.OutcomeStale {
		return
	}
	link := ""
	if len(ev.Links) > 0 {
		link = ev.Links[0].Href
	}
	switch ev.Kind {
	case alertgate.KindBug:
		if ev.Status != alertgate.StatusFiring || d.Outcome == dedup.OutcomeMuted {
			return
		}
		r.Related.ObserveBug(related.Bug{Key: ev.Key, Title: ev.Title, Source: ev.Source, Labels: ev.Labels, Link: link,
			FirstSeen: d.Since, Regressed: d.Outcome == dedup.OutcomeRegression, At: eventTime(ev)})
	case alertgate.KindIncident:
		r.Related.ObserveIncident(related.Incident{Key: ev.Key, Title: ev.Title, Source: ev.Source, Severity: ev.Severity, Labels: ev.Labels,
			OpenedAt: d.Since, Link: link}, d.Firing)
	}
}
