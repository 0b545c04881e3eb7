package routes

import (
	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/related"
)

// Correlator keeps the index of related signals (related.Index): the
// router tells it each bug occurrence and each incident key opened or
// closed. The sinks read it when they send a page or a digest.
type Correlator interface {
	ObserveBug(b related.Bug)
	ObserveIncident(in related.Incident, firing bool)
}

var _ Correlator = (*related.Index)(nil)

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
			FirstSeen: d.Since, Regressed: d.Outcome == dedup.OutcomeRegression, At: EventTime(ev)})
	case alertgate.KindIncident:
		r.Related.ObserveIncident(related.Incident{Key: ev.Key, Title: ev.Title, Source: ev.Source, Severity: ev.Severity, Labels: ev.Labels,
			OpenedAt: d.Since, Link: link}, d.Firing)
	}
}
