package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
)

// Silencer finds the silence holding an event's page: the active silence
// whose matchers match its labels at the given time (silences.Store).
type Silencer interface {
	Hold(labels map[string]string, at time.Time) *alertgate.Hold
}

// Inhibitor holds an incident's page while a related source incident
// fires (inhibit.Inhibitor), and is told which sources fire.
type Inhibitor interface {
	IsSource(labels map[string]string) bool
	Observe(ctx context.Context, key, title string, labels map[string]string, firing bool) error
	Inhibited(key string, labels map[string]string) *alertgate.Hold
}

// Holder says what holds a page: the route table's own holds (notify:
// digest, time intervals), the silences and the inhibitor. The router
// asks one for every event and every re-check; a replay keeps its own,
// over an inhibitor in memory, to decide each event as the router did.
type Holder struct {
	Routes *Table
	// Silences and Inhibitor may be nil (none).
	Silences  Silencer
	Inhibitor Inhibitor
}

// holder is the router's Holder.
func (r *Router) holder() Holder {
	return Holder{Routes: r.Routes, Silences: r.Silences, Inhibitor: r.Inhibitor}
}

// Match classifies and routes ev (bounded, its labels made non-nil) and,
// when it fires, evaluates what holds its page at its arrival: the match
// the policy decides it with. ev's kind, episode and labels change as
// Table.Classify changes them.
func (h Holder) Match(ev *alertgate.Event) alertgate.Match {
	// Ingest bounds every event it stores; an ALERTS message stored by an
	// older version may not be.
	ev.Bound()
	if ev.Labels == nil {
		ev.Labels = map[string]string{}
	}
	why := h.Routes.Classify(ev)
	m := h.Routes.Route(*ev)
	m.KindWhy = why
	if ev.Status == alertgate.StatusFiring {
		m.Hold = h.Hold(*ev, m, EventTime(*ev))
	}
	return m
}

// Hold says what holds the page of ev, routed to m, at time at: the
// route's notify: digest, then a silence, then an inhibiting incident,
// then the route's time intervals. A bug class is held by silences only.
// Nil: nothing holds it.
func (h Holder) Hold(ev alertgate.Event, m alertgate.Match, at time.Time) *alertgate.Hold {
	if ev.Kind == alertgate.KindIncident {
		if hold := h.Routes.RouteHold(m); hold != nil {
			return hold
		}
	}
	if h.Silences != nil {
		if hold := h.Silences.Hold(ev.Labels, at); hold != nil {
			return hold
		}
	}
	if ev.Kind != alertgate.KindIncident {
		return nil
	}
	if h.Inhibitor != nil {
		if hold := h.Inhibitor.Inhibited(ev.Key, ev.Labels); hold != nil {
			return hold
		}
	}
	return h.Routes.TimeHold(m, at)
}

// afterDecision keeps the shared indexes a decision on ev changed: the
// held index (keys the re-check visits) and the firing inhibit sources.
// Both writes are idempotent and happen before the event is acknowledged,
// so a crash in between redoes them on the redelivery.
func (r *Router) afterDecision(ctx context.Context, ev alertgate.Event, d dedup.Decision) error {
	r.observe(ev, d)
	if ev.Kind != alertgate.KindIncident {
		return nil
	}
	if err := r.index(ctx, ev.Key, d, d.Outcome == dedup.OutcomeDuplicate); err != nil {
		return err
	}
	if r.Inhibitor != nil && r.Inhibitor.IsSource(ev.Labels) {
		return r.Inhibitor.Observe(ctx, ev.Key, ev.Title, ev.Labels, d.Firing)
	}
	return nil
}

// index adds key to the held index when the decision left it watched (or
// again, on a re-send, in case a crash lost the first write), and removes
// it when a decision ended its last hold.
func (r *Router) index(ctx context.Context, key string, d dedup.Decision, again bool) error {
	if r.Bus == nil || r.Bus.Held == nil {
		return nil
	}
	k := dedup.StateKey(key)
	switch {
	case d.Watch && (!d.Watched || again):
		if _, err := r.Bus.Held.Put(ctx, k, []byte(key)); err != nil {
			return fmt.Errorf("held index: %w", err)
		}
	case !d.Watch && d.Watched:
		if err := r.Bus.Held.Delete(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("held index: %w", err)
		}
	}
	return nil
}

// recheck visits every held key: a page whose hold ended pages, a
// flapping incident quiet long enough is resolved. Every instance runs
// it; the policy's compare-and-set makes one of them write each change,
// and notification IDs make a repeated emit harmless.
func (r *Router) recheck(ctx context.Context) {
	defer close(r.rechecked)
	t := time.NewTicker(r.RecheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.RecheckHolds(ctx)
		}
	}
}

// RecheckHolds re-checks every held key once, now.
func (r *Router) RecheckHolds(ctx context.Context) {
	if r.Bus == nil || r.Bus.Held == nil {
		return
	}
	lister, err := r.Bus.Held.ListKeys(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) {
			r.Metrics.RouterErrors.WithLabelValues("recheck").Inc()
			r.Logger.Warn("held keys not listed, will retry", "err", err)
		}
		return
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	_ = lister.Stop()
	now := r.now()
	for _, k := range keys {
		if err := r.recheckKey(ctx, k, now); err != nil && ctx.Err() == nil {
			r.Metrics.RouterErrors.WithLabelValues("recheck").Inc()
			r.Logger.Error("held key not re-checked, will retry", "state_key", k, "err", err)
		}
	}
}

func (r *Router) recheckKey(ctx context.Context, k string, now time.Time) error {
	e, err := r.Bus.Held.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	key := string(e.Value())
	d, err := r.Policy.Recheck(ctx, key, now, func(st *dedup.Incident) alertgate.Match { return r.holder().MatchHeld(st, now) }, r)
	if err != nil {
		return err
	}
	if len(d.Notifications) > 0 || d.Outcome != dedup.OutcomeDuplicate {
		r.Metrics.Decisions.WithLabelValues(string(alertgate.KindIncident), d.Outcome).Inc()
		r.Logger.LogAttrs(ctx, slog.LevelInfo, "decision", slog.String("key", key), slog.String("kind", string(alertgate.KindIncident)),
			slog.String("outcome", d.Outcome), slog.String("reason", d.Reason), slog.Int("notifications", len(d.Notifications)))
	}
	if d.Watch {
		return nil
	}
	// Remove the key unless a decision indexed it again meanwhile.
	if err := r.Bus.Held.Delete(ctx, k, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("held index: %w", err)
	}
	return nil
}

// MatchHeld is the match, at now, of a key's held episode: routed again
// from its firing event (the config may have changed), its hold
// evaluated at now.
func (h Holder) MatchHeld(st *dedup.Incident, now time.Time) alertgate.Match {
	ev := alertgate.Event{Key: st.Key, Source: st.Source, Kind: alertgate.KindIncident, Status: alertgate.StatusFiring, Title: st.Title, Labels: st.Last.Labels}
	for _, ep := range st.Episodes {
		if ep.Status == dedup.EpisodeOpen && !ep.Paged && ep.Event != nil {
			ev = *ep.Event
			break
		}
	}
	if ev.Labels == nil {
		ev.Labels = map[string]string{}
	}
	ev.Kind = alertgate.KindIncident
	m := h.Routes.Route(ev)
	m.Hold = h.Hold(ev, m, now)
	return m
}

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
