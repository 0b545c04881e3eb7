package dedup

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/backoff"
)

// Emitter durably stores a decision's notifications (the router publishes
// them to NOTIFY).
type Emitter interface {
	// Emit must be idempotent per notification ID (JetStream's Nats-Msg-Id
	// makes it so for pages): the notifications of a stored decision are
	// emitted again when its event is redelivered, and a page may be
	// emitted again ahead of a later decision's resolve.
	Emit(ctx context.Context, ns []alertgate.Notification) error
}

// ConflictCounter counts the compare-and-set races lost on a bucket
// (metrics.Metrics).
type ConflictCounter interface {
	KVConflict(bucket string)
}

// Acks tells which ALERTS messages were acknowledged (the router's
// consumer's ack floor). The router acknowledges a message only after the
// notifications of all its events were emitted, so an outbox entry whose
// message was acknowledged is settled.
type Acks interface {
	Acknowledged(seq uint64) bool
}

// Policy applies decisions against state in KV.
type Policy struct {
	Incidents Bucket
	Bugs      Bucket
	Settings  Settings
	// Conflicts is told of every lost compare-and-set; nil counts nothing.
	Conflicts ConflictCounter
	// Acks settles outbox entries of delivered events; nil settles none of
	// them (they stay until the outbox is full).
	Acks Acks
}

// Bucket is a state bucket: a jetstream.KeyValue that can also replace a
// key's value by revision with a per-key TTL, which the KeyValue interface
// cannot (only Create takes a TTL; Update writes a value without one).
type Bucket interface {
	jetstream.KeyValue
	// UpdateTTL is Update with a TTL: JetStream removes the entry ttl
	// after this write unless it is written again. ttl 0: kept (Update).
	UpdateTTL(ctx context.Context, key string, value []byte, revision uint64, ttl time.Duration) (uint64, error)
}

// NewBucket makes kv a Bucket whose TTL updates are published through js.
// The bucket needs LimitMarkerTTL for per-key TTLs (bus creates it so).
func NewBucket(js jetstream.JetStream, kv jetstream.KeyValue) Bucket {
	return &bucket{KeyValue: kv, js: js}
}

type bucket struct {
	jetstream.KeyValue
	js jetstream.JetStream
}

// UpdateTTL publishes what KeyValue.Update does (the value on the key's
// subject, expecting its revision as the subject's last sequence) with a
// Nats-TTL header: what nats.go's Create does with KeyTTL.
func (b *bucket) UpdateTTL(ctx context.Context, key string, value []byte, revision uint64, ttl time.Duration) (uint64, error) {
	if ttl <= 0 {
		return b.Update(ctx, key, value, revision)
	}
	m := &nats.Msg{Subject: "$KV." + b.Bucket() + "." + key, Data: value, Header: nats.Header{}}
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(revision), jetstream.WithMsgTTL(ttl))
	if err != nil {
		// As Update reports it (10071, or 10164 on a replicated bucket).
		var api *jetstream.APIError
		if errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// maxAttempts bounds retries after CAS conflicts; with a handful of routers
// a key rarely sees more than one or two.
const maxAttempts = 20

// conflictBackoff spaces re-reads after a lost compare-and-set: from about
// 1 ms, doubling up to 100 ms, jittered (the sinks' backoff), so racers
// spread out instead of colliding again, and a replica that served a stale
// read (a direct get on a follower) has time to catch up.
var conflictBackoff = backoff.Backoff{Min: time.Millisecond, Max: 100 * time.Millisecond}

// conflictPause waits before the re-read after the attempt-th lost
// compare-and-set (counted from 0).
func conflictPause(ctx context.Context, attempt int) error {
	t := time.NewTimer(conflictBackoff.Delay(attempt + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// maxPlainKey is the longest event key StateKey encodes reversibly. The KV
// key is part of a NATS subject, and a subject longer than the server's
// control line (4096 bytes by default) makes the server close the whole
// connection: one absurd key from a source would cut every stage off
// JetStream, again on each redelivery. 2048 bytes encode to 2731, which
// leaves room for the bucket and API prefixes.
const maxPlainKey = 2048

// hashedPrefix starts the StateKey of a key over maxPlainKey; base64url
// never produces '=', so the two forms cannot collide.
const hashedPrefix = "="

// StateKey encodes an event key as a KV key (KV keys allow only
// [-/_=.A-Za-z0-9]; base64url without '.' keeps it one token). Keys over
// maxPlainKey bytes are hashed instead; their state still holds the key.
func StateKey(key string) string {
	if len(key) > maxPlainKey {
		sum := sha256.Sum256([]byte(key))
		return hashedPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// KeyOf decodes a StateKey. A hashed one (of a key over maxPlainKey bytes)
// cannot be decoded: read Key from the stored state instead.
func KeyOf(stateKey string) (string, error) {
	if strings.HasPrefix(stateKey, hashedPrefix) {
		return "", errors.New("state key of a long key is a hash: read the key from the state")
	}
	b, err := base64.RawURLEncoding.DecodeString(stateKey)
	return string(b), err
}

// maxOutbox bounds the outbox entries kept per key. Entries leave when
// their message is acknowledged, usually within a second; more than a few
// pending on one key means acknowledgements are not seen (a message failing
// over and over holds the ack floor back). The oldest is dropped then: it
// was almost surely emitted, since losing it takes its own router dying
// between write and emit while seven more decisions on the key go by
// before its redelivery.
const maxOutbox = 8

// state is what Apply needs of *Incident and *Bug beyond decide.
type state[T any] interface {
	*T
	outbox() *[]Pending
	Watched() bool
	Firing() bool
	Since() time.Time
}

func (s *Incident) outbox() *[]Pending { return &s.Outbox }
func (s *Bug) outbox() *[]Pending      { return &s.Outbox }

// Watched: a bug class has no hold that ends by itself (a silenced
// notification waits for the next occurrence).
func (s *Bug) Watched() bool { return false }

// Firing: bug classes are not inhibit sources.
func (s *Bug) Firing() bool { return false }

// Since is when the class was first seen (zero for none).
func (s *Bug) Since() time.Time {
	if s == nil {
		return time.Time{}
	}
	return s.FirstSeen
}

// Apply decides ev against the stored state of its key, writes the new
// state with the decision's notifications by revision, then emits them to
// out. On a lost race it emits nothing, re-reads and decides again. For an
// event of an ALERTS message, the router calls ApplyDelivered.
func (p *Policy) Apply(ctx context.Context, ev alertgate.Event, m alertgate.Match, out Emitter) (Decision, error) {
	return p.ApplyDelivered(ctx, ev, 0, m, out)
}

// ApplyDelivered is Apply for an event of the ALERTS message at stream
// sequence seq, which is acknowledged only after this returns without
// error: its outbox entry is settled by the acknowledgement (Acks).
//
// The common path costs one KV write, as before the outbox: the entry
// rides in the state's own write, and the next write of the key drops it
// once settled. A redelivered event whose entry is still pending emits it
// again and writes nothing.
func (p *Policy) ApplyDelivered(ctx context.Context, ev alertgate.Event, seq uint64, m alertgate.Match, out Emitter) (Decision, error) {
	if ev.Kind == alertgate.KindIncident {
		return apply(ctx, p, p.Incidents, ev, seq, m, out, DecideIncident, p.incidentTTL)
	}
	return apply(ctx, p, p.Bugs, ev, seq, m, out, DecideBug, p.bugTTL)
}

// incidentTTL is the TTL of a write of st (Settings.IncidentStateTTL).
func (p *Policy) incidentTTL(st *Incident) time.Duration { return p.Settings.IncidentStateTTL(st) }

// bugTTL is the TTL of a write of st (Settings.BugStateTTL).
func (p *Policy) bugTTL(st *Bug) time.Duration { return p.Settings.BugStateTTL(st) }

// IncidentStateTTL is how long after a write of st the key is forgotten
// unless written again: an incident key with an open episode is kept (0);
// one without expires IncidentTTL after its last write.
func (s Settings) IncidentStateTTL(st *Incident) time.Duration {
	for _, e := range st.Episodes {
		if e.Status == EpisodeOpen {
			return 0
		}
	}
	return s.IncidentTTL
}

// BugStateTTL is IncidentStateTTL for a bug class: it expires BugClassTTL
// after its last write (an occurrence, or a digest counting it soon after
// one), unless a page_bugs page is open (0): forgetting the class would
// leave that page open for good.
func (s Settings) BugStateTTL(st *Bug) time.Duration {
	if st.PageDedupKey != "" {
		return 0
	}
	return s.BugClassTTL
}

// Why per-key TTLs and not the bucket's MaxAge: MaxAge would forget an
// incident key with an open episode too, and a message's "never" TTL,
// which exempts it, would have to be on every such entry before MaxAge is
// set on a bucket an earlier version filled. A TTL per write expresses the
// rule where the state is known, and a write without one is simply kept.
// Nor a sweeper: JetStream removes the entries itself, on every replica,
// without a scan.

func apply[T any, S state[T]](ctx context.Context, p *Policy, kv Bucket, ev alertgate.Event, seq uint64, m alertgate.Match, out Emitter,
	decide func(S, alertgate.Event, alertgate.Match, Settings) (S, Decision), ttl func(S) time.Duration) (Decision, error) {
	k := StateKey(ev.Key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, rev, err := get(ctx, kv, k)
		if err != nil {
			return Decision{}, err
		}
		var st S
		var outbox []Pending
		if raw != nil {
			st = S(new(T))
			if err := UnmarshalState(raw, st); err != nil {
				return Decision{}, fmt.Errorf("%s state %q: %w", ev.Kind, ev.Key, err)
			}
			outbox = *st.outbox()
		}
		// This event's decision is stored and may not have been emitted
		// (a crash between the write and the emit, or the write's
		// acknowledgement lost): emit it, do not decide again.
		if i := p.pendingOf(outbox, ev.ID); i >= 0 {
			own := outbox[i].notificationsOf(ev)
			if err := emit(ctx, out, p.ahead(outbox[:i], ev.ID, own), own); err != nil {
				return Decision{}, err
			}
			return Decision{Kind: ev.Kind, Outcome: OutcomeDuplicate, Notifications: own,
				Reason: fmt.Sprintf("this event was already decided (delivered again): its %d notification(s) emitted again under the same IDs", len(own)),
				Watch:  st.Watched(), Watched: st.Watched(), Firing: st.Firing(), Since: st.Since()}, nil
		}
		next, d := decide(st, ev, m, p.Settings)
		// The new state's outbox: the entries still pending, and this
		// decision's. A fresh slice: st's may share its array with next's.
		var pending []Pending
		for _, e := range outbox {
			if !p.settled(e, ev.ID, eventTime(ev)) {
				pending = append(pending, e)
			}
		}
		if len(d.Notifications) > 0 {
			pending = append(pending, pend(ev, seq, d.Notifications))
		}
		if len(pending) > maxOutbox {
			pending = pending[len(pending)-maxOutbox:]
		}
		*next.outbox() = pending
		b, err := MarshalState(next)
		if err != nil {
			return Decision{}, err
		}
		err = put(ctx, kv, k, b, rev, ttl(next))
		if isConflict(err) {
			// Nothing was emitted: the winner's state is decided on again.
			if p.Conflicts != nil {
				p.Conflicts.KVConflict(kv.Bucket())
			}
			if err := conflictPause(ctx, attempt); err != nil {
				return Decision{}, err
			}
			continue
		}
		if err != nil {
			return Decision{}, fmt.Errorf("write state %q: %w", ev.Key, err)
		}
		if len(d.Notifications) > 0 {
			if err := emit(ctx, out, p.ahead(pending[:len(pending)-1], ev.ID, d.Notifications), d.Notifications); err != nil {
				return Decision{}, err
			}
		}
		d.Watch, d.Firing, d.Since = next.Watched(), next.Firing(), next.Since()
		if raw != nil {
			d.Watched = st.Watched()
		}
		return d, nil
	}
	return Decision{}, fmt.Errorf("state %q: still conflicting after %d attempts", ev.Key, maxAttempts)
}

// holdEventPrefix starts the outbox event ID of a decision the router's
// re-check took (DecideHeld), which belongs to no delivered event.
const holdEventPrefix = "hold:"

// holdSettle is how long a re-check's outbox entry counts as possibly not
// emitted: the re-check runs every few seconds and emits it again while
// the key is indexed as held, so minutes are plenty.
const holdSettle = 10 * time.Minute

// Recheck re-decides, at now, the holds of the incident key (DecideHeld):
// m gives the key's match as of now, with its Hold evaluated at now. The
// new state is written by compare-and-set with its notifications, then
// they are emitted. Notifications of an earlier re-check still in the
// outbox are emitted again (a crash or failed emit after their write:
// their IDs make the copies harmless). The decision's Watch says whether
// the key is still to be re-checked.
func (p *Policy) Recheck(ctx context.Context, key string, now time.Time, m func(*Incident) alertgate.Match, out Emitter) (Decision, error) {
	k := StateKey(key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, rev, err := get(ctx, p.Incidents, k)
		if err != nil || raw == nil {
			return Decision{Kind: alertgate.KindIncident, Outcome: OutcomeUnknown, Reason: "no state"}, err
		}
		st := new(Incident)
		if err := UnmarshalState(raw, st); err != nil {
			return Decision{}, fmt.Errorf("incident state %q: %w", key, err)
		}
		var again []alertgate.Notification
		for _, e := range st.Outbox {
			if strings.HasPrefix(e.EventID, holdEventPrefix) && !p.settled(e, "", now) {
				again = append(again, e.notifications()...)
			}
		}
		next, d := DecideHeld(st, now, m(st), p.Settings)
		if next == nil {
			if len(again) > 0 {
				if err := emit(ctx, out, nil, again); err != nil {
					return Decision{}, err
				}
			}
			d.Watch, d.Watched, d.Firing, d.Since = st.Watched(), st.Watched(), st.Firing(), st.Since()
			return d, nil
		}
		evID := holdEventPrefix + now.UTC().Format(time.RFC3339Nano)
		var pending []Pending
		for _, e := range st.Outbox {
			if !p.settled(e, evID, now) {
				pending = append(pending, e)
			}
		}
		// One entry per notification: each carries its own event (the
		// held episode's firing), which the entry stores for it.
		for _, n := range d.Notifications {
			// Always with its event: no redelivery brings it back.
			e := pend(n.Event, 0, []alertgate.Notification{n})
			e.EventID, e.At, e.Event = evID, now, n.Event
			pending = append(pending, e)
		}
		if len(pending) > maxOutbox {
			pending = pending[len(pending)-maxOutbox:]
		}
		next.Outbox = pending
		b, err := MarshalState(next)
		if err != nil {
			return Decision{}, err
		}
		err = put(ctx, p.Incidents, k, b, rev, p.incidentTTL(next))
		if isConflict(err) {
			if p.Conflicts != nil {
				p.Conflicts.KVConflict(p.Incidents.Bucket())
			}
			if err := conflictPause(ctx, attempt); err != nil {
				return Decision{}, err
			}
			continue
		}
		if err != nil {
			return Decision{}, fmt.Errorf("write state %q: %w", key, err)
		}
		if err := emit(ctx, out, again, d.Notifications); err != nil {
			return Decision{}, err
		}
		d.Watch, d.Watched, d.Firing, d.Since = next.Watched(), st.Watched(), next.Firing(), next.Since()
		return d, nil
	}
	return Decision{}, fmt.Errorf("state %q: still conflicting after %d attempts", key, maxAttempts)
}

// settled reports whether an outbox entry was surely emitted, as seen by
// a decision on event evID. An entry decided outside a delivery (seq 0)
// is settled for any other event: Apply's caller emits or retries that
// event before deciding another of its key.
func (p *Policy) settled(e Pending, evID string, at time.Time) bool {
	if e.Seq == 0 && strings.HasPrefix(e.EventID, holdEventPrefix) {
		// A hold's end, decided by the router's re-check outside any
		// delivery: the re-check emits it again until the key's hold
		// index entry is gone; a resolve sends it ahead for a while more.
		return at.Sub(e.At) > holdSettle
	}
	if e.Seq == 0 {
		return e.EventID != evID
	}
	return p.Acks != nil && p.Acks.Acknowledged(e.Seq)
}

// pendingOf returns the index of event evID's unsettled outbox entry, or -1.
func (p *Policy) pendingOf(outbox []Pending, evID string) int {
	if evID == "" {
		return -1
	}
	for i := len(outbox) - 1; i >= 0; i-- {
		if outbox[i].EventID == evID && !p.settled(outbox[i], evID, time.Time{}) {
			return i
		}
	}
	return -1
}

// ahead returns what must reach NOTIFY before a decision's notifications
// own: when own holds a PagerDuty notification (a resolve), the PagerDuty
// notifications of the earlier entries still pending (its page, decided
// by a router that may not have emitted it yet). Their IDs are their
// Nats-Msg-Ids, so a copy already stored is dropped by JetStream. Slack
// items are left to their own event's redelivery: the digest needs no
// order, and they carry no Msg-Id.
func (p *Policy) ahead(earlier []Pending, evID string, own []alertgate.Notification) []alertgate.Notification {
	var at time.Time
	for _, n := range own {
		at = eventTime(n.Event)
	}
	if !slices.ContainsFunc(own, func(n alertgate.Notification) bool { return n.Sink == alertgate.SinkPagerDuty }) {
		return nil
	}
	var out []alertgate.Notification
	for _, e := range earlier {
		if p.settled(e, evID, at) {
			continue
		}
		for _, n := range e.notifications() {
			if n.Sink == alertgate.SinkPagerDuty {
				out = append(out, n)
			}
		}
	}
	return out
}

func emit(ctx context.Context, out Emitter, ahead, own []alertgate.Notification) error {
	if err := out.Emit(ctx, append(ahead, own...)); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	return nil
}

// put writes a state entry: created when rev is 0 (Create also takes the
// place of a key JetStream expired, whose marker remains for a while),
// else by compare-and-set on rev. ttl 0 keeps the entry.
func put(ctx context.Context, kv Bucket, k string, b []byte, rev uint64, ttl time.Duration) error {
	var err error
	switch {
	case rev == 0 && ttl > 0:
		_, err = kv.Create(ctx, k, b, jetstream.KeyTTL(ttl))
	case rev == 0:
		_, err = kv.Create(ctx, k, b)
	default:
		_, err = kv.UpdateTTL(ctx, k, b, rev, ttl)
	}
	return err
}

func get(ctx context.Context, kv jetstream.KeyValue, k string) ([]byte, uint64, error) {
	e, err := kv.Get(ctx, k)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read state: %w", err)
	}
	return e.Value(), e.Revision(), nil
}

// Incident returns the state of an incident key (nil, nil if none).
func (p *Policy) Incident(ctx context.Context, key string) (*Incident, error) {
	raw, _, err := get(ctx, p.Incidents, StateKey(key))
	if err != nil || raw == nil {
		return nil, err
	}
	st := new(Incident)
	return st, UnmarshalState(raw, st)
}

// Bug returns the state of a bug class (nil, nil if none).
func (p *Policy) Bug(ctx context.Context, key string) (*Bug, error) {
	raw, _, err := get(ctx, p.Bugs, StateKey(key))
	if err != nil || raw == nil {
		return nil, err
	}
	st := new(Bug)
	return st, UnmarshalState(raw, st)
}

// ErrStop ends an EachBug or EachIncident walk early; the walk then
// returns nil.
var ErrStop = errors.New("stop the walk")

// EachBug calls fn with every bug class state, one at a time, so memory is
// that of one state whatever the number of classes. The states come
// without their Outbox (the router's bookkeeping, no view's business),
// except entries still in an earlier version's JSON. An error from fn ends
// the walk and is returned (ErrStop: nil).
func (p *Policy) EachBug(ctx context.Context, fn func(*Bug) error) error {
	return each(ctx, p.Bugs, fn)
}

// EachIncident is EachBug for incident states.
func (p *Policy) EachIncident(ctx context.Context, fn func(*Incident) error) error {
	return each(ctx, p.Incidents, fn)
}

// each reads a bucket's current values through a watcher (an ordered
// consumer with flow control, so the server sends no further ahead than
// the walk reads).
func each[T any](ctx context.Context, kv jetstream.KeyValue, fn func(*T) error) error {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e = <-w.Updates():
		}
		if e == nil { // initial values delivered
			return nil
		}
		v := new(T)
		if err := unmarshalView(e.Value(), v); err != nil {
			return fmt.Errorf("%s %s: %w", kv.Bucket(), strings.TrimSpace(e.Key()), err)
		}
		if err := fn(v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
}

// Page is a bounded view of a bucket's states: the first Limit of those
// a filter kept, in an order, and how many it kept in all.
type Page[T any] struct {
	Items []*T
	// Total is the number of states the filter kept (Items has at most
	// Limit of them).
	Total int
	Limit int
}

// Top collects the first Limit values in an order from a stream of them,
// holding no more than that many.
type Top[T any] struct{ b best[*T] }

// NewTop keeps the first limit (at least 1) values in the order cmp gives
// (cmp(a, b) < 0: a first). cmp must be a total order (break ties on the
// key), or which of equal values are kept depends on their arrival.
func NewTop[T any](cmp func(a, b *T) int, limit int) *Top[T] {
	return &Top[T]{b: newBest(cmp, limit)}
}

// Add offers one value.
func (t *Top[T]) Add(v *T) { t.b.add(v) }

// Page returns the values kept, in order, and how many were offered.
func (t *Top[T]) Page() Page[T] {
	items := t.b.sorted()
	if items == nil {
		items = []*T{}
	}
	return Page[T]{Items: items, Total: t.b.total, Limit: t.b.limit}
}

// best keeps the first limit values in an order from a stream of them
// (Top's, and the bug index's over its entries), counting them all.
type best[V any] struct {
	limit int
	// h is a heap with the last value kept (in order) at its root: a value
	// that comes before it takes its place.
	h     worstFirst[V]
	total int
}

func newBest[V any](cmp func(a, b V) int, limit int) best[V] {
	return best[V]{limit: max(limit, 1), h: worstFirst[V]{order: cmp}}
}

func (t *best[V]) add(v V) {
	t.total++
	switch {
	case t.h.Len() < t.limit:
		heap.Push(&t.h, v)
	case t.h.order(v, t.h.items[0]) < 0:
		t.h.items[0] = v
		heap.Fix(&t.h, 0)
	}
}

// sorted returns the values kept, in order.
func (t *best[V]) sorted() []V {
	return slices.SortedFunc(slices.Values(t.h.items), t.h.order)
}

// worstFirst is a container/heap whose root is the last value in order.
type worstFirst[V any] struct {
	items []V
	order func(a, b V) int
}

func (h *worstFirst[V]) Len() int           { return len(h.items) }
func (h *worstFirst[V]) Less(i, j int) bool { return h.order(h.items[i], h.items[j]) > 0 }
func (h *worstFirst[V]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *worstFirst[V]) Push(x any)         { h.items = append(h.items, x.(V)) }
func (h *worstFirst[V]) Pop() any {
	v := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return v
}

// MarkDigested records that a digest reported the class up to count. It
// only moves forward, and retries lost races with the router. The write
// keeps the class's expiry (a digest counts a recent occurrence) and drops
// the outbox entries settled since: a class seen once keeps no outbox.
func (p *Policy) MarkDigested(ctx context.Context, key string, count int64) error {
	k := StateKey(key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, rev, err := get(ctx, p.Bugs, k)
		if err != nil || raw == nil {
			return err
		}
		var st Bug
		if err := UnmarshalState(raw, &st); err != nil {
			return err
		}
		if st.Digested >= count {
			return nil
		}
		st.Digested = count
		st.Outbox = slices.DeleteFunc(st.Outbox, func(e Pending) bool { return p.settled(e, "", time.Time{}) })
		if len(st.Outbox) == 0 {
			st.Outbox = nil
		}
		b, err := MarshalState(&st)
		if err != nil {
			return err
		}
		err = put(ctx, p.Bugs, k, b, rev, p.bugTTL(&st))
		if isConflict(err) {
			if p.Conflicts != nil {
				p.Conflicts.KVConflict(p.Bugs.Bucket())
			}
			if err := conflictPause(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		return err
	}
	return fmt.Errorf("bug %q: digest count still conflicting after %d attempts", key, maxAttempts)
}

// isConflict reports a lost compare-and-set race: Create reports
// ErrKeyExists; Update reports ErrKeyRevisionMismatch (on replicated buckets
// only that one, code 10164, which does not match ErrKeyExists).
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}
