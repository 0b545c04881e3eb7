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
	"github.com/alertgate/alertgate/internal/wire"
)

// Emitter durably stores a decision's notifications (the router publishes
// them to NOTIFY).
type Emitter interface {
	// Emit must be idempotent per notification ID (JetStream's Nats-Msg-Id
	// makes it so): a decision taken again after a lost race or a
	// redelivery emits the same notifications again.
	Emit(ctx context.Context, ns []alertgate.Notification) error
}

// ConflictCounter counts the compare-and-set races lost on a bucket
// (metrics.Metrics).
type ConflictCounter interface {
	KVConflict(bucket string)
}

// Policy applies decisions against state in KV.
type Policy struct {
	Incidents Bucket
	Bugs      Bucket
	Settings  Settings
	// Conflicts is told of every lost compare-and-set; nil counts nothing.
	Conflicts ConflictCounter
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

// Apply decides ev against the stored state of its key, emits the
// decision's notifications to out, then writes the new state by revision.
// On a lost race it re-reads and decides again.
func (p *Policy) Apply(ctx context.Context, ev alertgate.Event, m alertgate.Match, out Emitter) (Decision, error) {
	kv := p.Bugs
	if ev.Kind == alertgate.KindIncident {
		kv = p.Incidents
	}
	k := StateKey(ev.Key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, rev, err := get(ctx, kv, k)
		if err != nil {
			return Decision{}, err
		}
		var next any
		var d Decision
		if ev.Kind == alertgate.KindIncident {
			var st *Incident
			if raw != nil {
				st = new(Incident)
				if err := wire.Unmarshal(raw, st); err != nil {
					return Decision{}, fmt.Errorf("incident state %q: %w", ev.Key, err)
				}
			}
			next, d = DecideIncident(st, ev, m, p.Settings)
		} else {
			var st *Bug
			if raw != nil {
				st = new(Bug)
				if err := wire.Unmarshal(raw, st); err != nil {
					return Decision{}, fmt.Errorf("bug state %q: %w", ev.Key, err)
				}
			}
			next, d = DecideBug(st, ev, m, p.Settings)
		}
		if len(d.Notifications) > 0 {
			if err := out.Emit(ctx, d.Notifications); err != nil {
				return Decision{}, fmt.Errorf("emit: %w", err)
			}
		}
		b, err := wire.Marshal(next)
		if err != nil {
			return Decision{}, err
		}
		var ttl time.Duration
		if inc, ok := next.(*Incident); ok {
			ttl = p.incidentTTL(inc)
		} else {
			ttl = p.bugTTL(next.(*Bug))
		}
		err = put(ctx, kv, k, b, rev, ttl)
		if isConflict(err) {
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
		return d, nil
	}
	return Decision{}, fmt.Errorf("state %q: still conflicting after %d attempts", ev.Key, maxAttempts)
}

// incidentTTL: an incident key with an open episode is kept; one without
// expires IncidentTTL after its last write.
func (p *Policy) incidentTTL(st *Incident) time.Duration {
	for _, e := range st.Episodes {
		if e.Status == EpisodeOpen {
			return 0
		}
	}
	return p.Settings.IncidentTTL
}

// bugTTL: a class expires BugClassTTL after its last write (an occurrence,
// or a digest counting it soon after one), unless a page_bugs page is
// open: forgetting the class would leave that page open for good.
func (p *Policy) bugTTL(st *Bug) time.Duration {
	if st.PageDedupKey != "" {
		return 0
	}
	return p.Settings.BugClassTTL
}

// Why per-key TTLs and not the bucket's MaxAge: MaxAge would forget an
// incident key with an open episode too, and a message's "never" TTL,
// which exempts it, would have to be on every such entry before MaxAge is
// set on a bucket an earlier version filled. A TTL per write expresses the
// rule where the state is known, and a write without one is simply kept.
// Nor a sweeper: JetStream removes the entries itself, on every replica,
// without a scan.

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
	return st, wire.Unmarshal(raw, st)
}

// Bug returns the state of a bug class (nil, nil if none).
func (p *Policy) Bug(ctx context.Context, key string) (*Bug, error) {
	raw, _, err := get(ctx, p.Bugs, StateKey(key))
	if err != nil || raw == nil {
		return nil, err
	}
	st := new(Bug)
	return st, wire.Unmarshal(raw, st)
}

// ErrStop ends an EachBug or EachIncident walk early; the walk then
// returns nil.
var ErrStop = errors.New("stop the walk")

// EachBug calls fn with every bug class state, one at a time, so memory is
// that of one state whatever the number of classes. An error from fn ends
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
		if err := wire.Unmarshal(e.Value(), v); err != nil {
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

// TopBugs walks every bug class once and keeps, of those keep accepts (nil:
// all), the first limit in the order cmp gives. Memory is that of limit
// states, whatever the number of classes: at a million classes, reading
// them all into a list would take gigabytes for a page that shows a
// hundred.
func (p *Policy) TopBugs(ctx context.Context, keep func(*Bug) bool, cmp func(a, b *Bug) int, limit int) (Page[Bug], error) {
	return top(ctx, p.Bugs, keep, cmp, limit)
}

// TopIncidents is TopBugs for incident states.
func (p *Policy) TopIncidents(ctx context.Context, keep func(*Incident) bool, cmp func(a, b *Incident) int, limit int) (Page[Incident], error) {
	return top(ctx, p.Incidents, keep, cmp, limit)
}

func top[T any](ctx context.Context, kv jetstream.KeyValue, keep func(*T) bool, cmp func(a, b *T) int, limit int) (Page[T], error) {
	t := NewTop(cmp, limit)
	err := each(ctx, kv, func(v *T) error {
		if keep == nil || keep(v) {
			t.Add(v)
		}
		return nil
	})
	if err != nil {
		return Page[T]{}, err
	}
	return t.Page(), nil
}

// Top collects the first Limit values in an order from a stream of them,
// holding no more than that many.
type Top[T any] struct {
	limit int
	// h is a heap with the last value kept (in order) at its root: a value
	// that comes before it takes its place.
	h     worstFirst[T]
	total int
}

// NewTop keeps the first limit (at least 1) values in the order cmp gives
// (cmp(a, b) < 0: a first). cmp must be a total order (break ties on the
// key), or which of equal values are kept depends on their arrival.
func NewTop[T any](cmp func(a, b *T) int, limit int) *Top[T] {
	return &Top[T]{limit: max(limit, 1), h: worstFirst[T]{order: cmp}}
}

// Add offers one value.
func (t *Top[T]) Add(v *T) {
	t.total++
	switch {
	case t.h.Len() < t.limit:
		heap.Push(&t.h, v)
	case t.h.order(v, t.h.items[0]) < 0:
		t.h.items[0] = v
		heap.Fix(&t.h, 0)
	}
}

// Page returns the values kept, in order, and how many were offered.
func (t *Top[T]) Page() Page[T] {
	items := slices.SortedFunc(slices.Values(t.h.items), t.h.order)
	if items == nil {
		items = []*T{}
	}
	return Page[T]{Items: items, Total: t.total, Limit: t.limit}
}

// worstFirst is a container/heap whose root is the last value in order.
type worstFirst[T any] struct {
	items []*T
	order func(a, b *T) int
}

func (h *worstFirst[T]) Len() int           { return len(h.items) }
func (h *worstFirst[T]) Less(i, j int) bool { return h.order(h.items[i], h.items[j]) > 0 }
func (h *worstFirst[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *worstFirst[T]) Push(x any)         { h.items = append(h.items, x.(*T)) }
func (h *worstFirst[T]) Pop() any {
	v := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return v
}

// MarkDigested records that a digest reported the class up to count. It
// only moves forward, and retries lost races with the router. The write
// keeps the class's expiry (a digest counts a recent occurrence).
func (p *Policy) MarkDigested(ctx context.Context, key string, count int64) error {
	k := StateKey(key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, rev, err := get(ctx, p.Bugs, k)
		if err != nil || raw == nil {
			return err
		}
		var st Bug
		if err := wire.Unmarshal(raw, &st); err != nil {
			return err
		}
		if st.Digested >= count {
			return nil
		}
		st.Digested = count
		b, err := wire.Marshal(&st)
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
