// Package silences holds alertgate's silences: matchers in Alertmanager's
// syntax and a time window during which a matching event's page (or bug
// notification) is held, not sent. A maintenance window is a silence that
// starts later.
//
// Silences live in the JetStream KV bucket "silences" (bus.BucketSilences),
// one entry per id, shared by every instance. Each Store watches the bucket
// and keeps an in-memory view, so the router asks Silenced for every event
// without a round trip, and a silence made on one instance holds events on
// every other within milliseconds. An entry carries a per-key TTL: it
// disappears Retention after its silence ends.
package silences

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/kvwatch"
)

// Retention is how long a silence stays stored, and listed as expired,
// after it ends.
const Retention = 7 * 24 * time.Hour

// States of a silence at a given time.
const (
	StateActive  = "active"  // StartsAt <= now < EndsAt: it holds matching events
	StatePending = "pending" // now < StartsAt: a maintenance window to come
	StateExpired = "expired" // EndsAt <= now: listed for Retention, then gone
)

// ErrNotFound is Expire's error for an id no silence has (never made, or
// gone Retention after it ended).
var ErrNotFound = errors.New("no such silence")

// InvalidError is Add's error for bad input: Field names the input
// ("matchers[1]", "ends_at"), Problem says what is wrong with it.
type InvalidError struct {
	Field, Problem string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Problem }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Silence holds the events whose labels all its matchers match from
// StartsAt until EndsAt.
type Silence struct {
	ID string `json:"id"`
	// Matchers in Alertmanager's syntax: service="checkout", env=~"prod|staging".
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	UpdatedAt time.Time `json:"updated_at"`
	// State is computed on output (StateAt), never stored.
	State string `json:"state,omitempty"`
}

// StateAt is the silence's state at now.
func (s Silence) StateAt(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return StatePending
	case now.Before(s.EndsAt):
		return StateActive
	}
	return StateExpired
}

// Active reports whether the silence holds events at t.
func (s Silence) Active(t time.Time) bool { return !t.Before(s.StartsAt) && t.Before(s.EndsAt) }

// TTL is the per-key TTL of a write of s made at now: the entry goes
// Retention after the silence ends. Never under a second (JetStream's
// least).
func TTL(s Silence, now time.Time) time.Duration {
	return max(s.EndsAt.Add(Retention).Sub(now), time.Second)
}

// ValidState reports whether state is one List takes ("" for all).
func ValidState(state string) bool {
	switch state {
	case "", StateActive, StatePending, StateExpired:
		return true
	}
	return false
}

// ttlUpdater replaces an entry by revision with a per-key TTL, which
// jetstream.KeyValue cannot (only Create takes a TTL). dedup.NewBucket's
// buckets can.
type ttlUpdater interface {
	UpdateTTL(ctx context.Context, key string, value []byte, revision uint64, ttl time.Duration) (uint64, error)
}

// Store is the silences of one bucket: writes go to the bucket and to the
// in-memory view at once; the view follows the bucket through a watch.
type Store struct {
	kv  jetstream.KeyValue
	ttl ttlUpdater // nil: an update (Expire) carries no TTL
	log *slog.Logger

	mu      sync.Mutex
	entries map[string]*entry
	loading bool // the watch replays the bucket: the view is built once at its end
	// view is rebuilt on every change: Silenced reads it without a lock.
	view atomic.Pointer[view]

	watch *kvwatch.Watch
}

// entry is a stored silence with its parsed matchers and KV revision.
type entry struct {
	s        Silence
	matchers labels.Matchers
	rev      uint64
	// prefixes are, for its regex matchers, the literal text any matching
	// value starts with: a value without it is rejected before the regexp
	// runs (most regex silences name a host or instance prefix).
	prefixes []prefix
}

type prefix struct{ name, text string }

// withPrefixes fills e.prefixes from its matchers.
func (e *entry) withPrefixes() *entry {
	for _, m := range e.matchers {
		if m.Type != labels.MatchRegexp {
			continue
		}
		// Alertmanager anchors the pattern: a matching value is a match of
		// it from its first byte, so it starts with its literal prefix.
		re, err := regexp.Compile("(?:" + m.Value + ")")
		if err != nil {
			continue
		}
		if p, _ := re.LiteralPrefix(); p != "" {
			e.prefixes = append(e.prefixes, prefix{m.Name, p})
		}
	}
	return e
}

// New returns a Store on kv (the Bus's Silences bucket); nothing is read
// until Start. For Expire's write to carry its TTL, kv must also have
// UpdateTTL(ctx, key, value, revision, ttl) (dedup.NewBucket(js, kv) has):
// on a bare KeyValue an expired silence's entry is kept until deleted.
func New(kv jetstream.KeyValue, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Store{kv: kv, log: logger, entries: map[string]*entry{}}
	s.ttl, _ = kv.(ttlUpdater)
	s.view.Store(&view{})
	return s
}

// Start watches the bucket and returns once its current entries are in
// the view (or ctx ends first). The watch keeps the view up to date until
// Stop.
func (s *Store) Start(ctx context.Context) error {
	w, err := kvwatch.Start(ctx, s.kv, s, kvwatch.Options{Name: "silences", Logger: s.log})
	if err != nil {
		return err
	}
	s.watch = w
	return nil
}

// Stop ends the watch; the view stays as it was.
func (s *Store) Stop() { s.watch.Stop() }

// Replaying starts a replay of the bucket: the view is built once at its
// end (kvwatch.Replayer).
func (s *Store) Replaying() {
	s.mu.Lock()
	s.loading = true
	s.mu.Unlock()
}

// Apply applies one change of the bucket (kvwatch.View).
func (s *Store) Apply(e jetstream.KeyValueEntry) { s.applyEntry(e) }

// Replayed ends a replay (kvwatch.View).
func (s *Store) Replayed(seen map[string]bool) { s.loaded(seen) }

var _ kvwatch.Replayer = (*Store)(nil)

// loaded ends a replay of the bucket: entries it did not list are gone
// (deleted while no watch ran), and the view is built.
func (s *Store) loaded(seen map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.entries {
		if !seen[id] {
			delete(s.entries, id)
		}
	}
	s.loading = false
	s.rebuild()
}

// applyEntry applies one entry of the watch.
func (s *Store) applyEntry(e jetstream.KeyValueEntry) {
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		s.mu.Lock()
		if cur, ok := s.entries[e.Key()]; ok && cur.rev < e.Revision() {
			delete(s.entries, e.Key())
			s.changed()
		}
		s.mu.Unlock()
		return
	}
	var sil Silence
	if err := json.Unmarshal(e.Value(), &sil); err != nil {
		s.log.Error("silence entry undecodable: ignored", "id", e.Key(), "revision", e.Revision(), "err", err)
		return
	}
	sil.ID, sil.State = e.Key(), ""
	ms, err := parseMatchers(sil.Matchers)
	if err != nil {
		s.log.Error("silence entry has a bad matcher: ignored", "id", e.Key(), "err", err)
		return
	}
	s.apply((&entry{s: sil, matchers: ms, rev: e.Revision()}).withPrefixes())
}

// apply puts en in the view unless a later revision of it is there.
func (s *Store) apply(en *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.entries[en.s.ID]; ok && cur.rev >= en.rev {
		return
	}
	s.entries[en.s.ID] = en
	s.changed()
}

// changed rebuilds the view after a change, unless a replay is under way.
// s.mu is held.
func (s *Store) changed() {
	if !s.loading {
		s.rebuild()
	}
}

// parseMatchers parses a silence's matchers; the error names the one.
func parseMatchers(in []string) (labels.Matchers, error) {
	out := make(labels.Matchers, 0, len(in))
	for i, m := range in {
		pm, err := config.ParseMatcher(m)
		if err != nil {
			return nil, invalid(fmt.Sprintf("matchers[%d]", i), "%v", err)
		}
		out = append(out, pm)
	}
	return out, nil
}

// maxMatchers and maxText bound a silence: it is held in every instance's
// memory and checked for every event.
const (
	maxMatchers = 64
	maxText     = 4096
)

// Add validates in and stores it as a new silence with a fresh id. in.ID,
// in.State and in.UpdatedAt are ignored; a zero StartsAt, or one already
// past, is now. Bad input is an *InvalidError naming the field.
func (s *Store) Add(ctx context.Context, in Silence, now time.Time) (Silence, error) {
	sil, ms, err := validate(in, now)
	if err != nil {
		return Silence{}, err
	}
	b, err := json.Marshal(sil)
	if err != nil {
		return Silence{}, err
	}
	for range 3 { // a second id taken in the same millisecond is not likely twice
		sil.ID = newID(now)
		rev, err := s.kv.Create(ctx, sil.ID, b, jetstream.KeyTTL(TTL(sil, now)))
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return Silence{}, fmt.Errorf("store silence: %w", err)
		}
		s.apply((&entry{s: sil, matchers: ms, rev: rev}).withPrefixes())
		sil.State = sil.StateAt(now)
		return sil, nil
	}
	return Silence{}, errors.New("store silence: no free id")
}

// Validate returns the silence Add would store for in at now (without an
// id), or an *InvalidError naming what is wrong.
func Validate(in Silence, now time.Time) (Silence, error) {
	sil, _, err := validate(in, now)
	return sil, err
}

// validate checks in and returns the silence to store.
func validate(in Silence, now time.Time) (Silence, labels.Matchers, error) {
	if len(in.Matchers) == 0 {
		return Silence{}, nil, invalid("matchers", `missing: at least one matcher, like service="checkout"`)
	}
	if len(in.Matchers) > maxMatchers {
		return Silence{}, nil, invalid("matchers", "%d matchers: at most %d", len(in.Matchers), maxMatchers)
	}
	ms, err := parseMatchers(in.Matchers)
	if err != nil {
		return Silence{}, nil, err
	}
	// As Alertmanager: a silence of matchers that all match the empty
	// string would hold every event.
	if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches("") }) {
		return Silence{}, nil, invalid("matchers", "every matcher matches the empty string, so the silence would hold every event: at least one must need a label, like service=\"checkout\"")
	}
	start := in.StartsAt
	if start.IsZero() || start.Before(now) {
		start = now
	}
	switch {
	case in.EndsAt.IsZero():
		return Silence{}, nil, invalid("ends_at", "missing")
	case !in.EndsAt.After(now):
		return Silence{}, nil, invalid("ends_at", "%s is not in the future", in.EndsAt.UTC().Format(time.RFC3339))
	case !in.EndsAt.After(start):
		return Silence{}, nil, invalid("ends_at", "%s is not after starts_at %s", in.EndsAt.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	createdBy := strings.TrimSpace(in.CreatedBy)
	switch {
	case createdBy == "":
		return Silence{}, nil, invalid("created_by", "missing: who made the silence")
	case len(createdBy) > maxText:
		return Silence{}, nil, invalid("created_by", "over %d bytes", maxText)
	case len(in.Comment) > maxText:
		return Silence{}, nil, invalid("comment", "over %d bytes", maxText)
	}
	norm := make([]string, len(ms))
	for i, m := range ms {
		norm[i] = m.String()
	}
	return Silence{
		Matchers: norm, StartsAt: start.UTC(), EndsAt: in.EndsAt.UTC(),
		CreatedBy: createdBy, Comment: in.Comment, UpdatedAt: now.UTC(),
	}, ms, nil
}

// Expire ends the silence id now: its EndsAt becomes now (and a pending
// one's StartsAt too). Expiring an expired silence changes nothing and is
// no error. ErrNotFound for an unknown id. The write is a compare-and-set
// on the entry's revision, retried after a lost race.
func (s *Store) Expire(ctx context.Context, id string, now time.Time) error {
	for attempt := 0; ; attempt++ {
		e, err := s.kv.Get(ctx, id)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted), errors.Is(err, jetstream.ErrInvalidKey):
			return ErrNotFound
		case err != nil:
			return fmt.Errorf("read silence %s: %w", id, err)
		}
		var sil Silence
		if err := json.Unmarshal(e.Value(), &sil); err != nil {
			return fmt.Errorf("silence %s undecodable: %w", id, err)
		}
		sil.ID, sil.State = id, ""
		if !now.Before(sil.EndsAt) {
			return nil
		}
		ms, err := parseMatchers(sil.Matchers)
		if err != nil {
			return fmt.Errorf("silence %s: %w", id, err)
		}
		sil.EndsAt, sil.UpdatedAt = now.UTC(), now.UTC()
		if now.Before(sil.StartsAt) {
			sil.StartsAt = sil.EndsAt
		}
		b, err := json.Marshal(sil)
		if err != nil {
			return err
		}
		var rev uint64
		if s.ttl != nil {
			rev, err = s.ttl.UpdateTTL(ctx, id, b, e.Revision(), TTL(sil, now))
		} else {
			rev, err = s.kv.Update(ctx, id, b, e.Revision())
		}
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("expire silence %s: %w", id, err)
		}
		s.apply((&entry{s: sil, matchers: ms, rev: rev}).withPrefixes())
		return nil
	}
}

// Get returns the silence id, with its state at now.
func (s *Store) Get(id string, now time.Time) (Silence, bool) {
	v := s.view.Load()
	i, ok := slices.BinarySearchFunc(v.all, id, func(e *entry, id string) int { return strings.Compare(id, e.s.ID) })
	if !ok || !retained(v.all[i].s, now) {
		return Silence{}, false
	}
	sil := v.all[i].s.clone()
	sil.State = sil.StateAt(now)
	return sil, true
}

// List returns the silences in state at now ("" for all), newest first
// (ids are time-ordered: by when they were made), each with its State.
func (s *Store) List(state string, now time.Time) []Silence {
	out := []Silence{}
	for _, e := range s.view.Load().all {
		st := e.s.StateAt(now)
		if (state != "" && st != state) || !retained(e.s, now) {
			continue
		}
		sil := e.s.clone()
		sil.State = st
		out = append(out, sil)
	}
	return out
}

// Counts returns how many silences are active and pending at now.
func (s *Store) Counts(now time.Time) (active, pending int) {
	for _, e := range s.view.Load().all {
		switch e.s.StateAt(now) {
		case StateActive:
			active++
		case StatePending:
			pending++
		}
	}
	return active, pending
}

// Silenced returns the silence that holds an event of labels at at: of the
// active ones (StartsAt <= at < EndsAt) whose matchers all match (an
// absent label is ""), the one ending last, then the smallest id. Nil if
// none. It takes no lock and allocates only for the silence it returns.
func (s *Store) Silenced(lset map[string]string, at time.Time) *Silence {
	v := s.view.Load()
	var best *entry
	consider := func(es []*entry) {
		for _, e := range es {
			if !e.s.Active(at) || !hasPrefixes(e.prefixes, lset) || !matches(e.matchers, lset) {
				continue
			}
			if best == nil || e.s.EndsAt.After(best.s.EndsAt) || (e.s.EndsAt.Equal(best.s.EndsAt) && e.s.ID < best.s.ID) {
				best = e
			}
		}
	}
	for i := range v.index {
		ix := &v.index[i]
		if val := lset[ix.name]; val != "" {
			consider(ix.byValue[val])
		}
	}
	consider(v.rest)
	if best == nil {
		return nil
	}
	sil := best.s.clone()
	sil.State = StateActive
	return &sil
}

func hasPrefixes(ps []prefix, lset map[string]string) bool {
	for _, p := range ps {
		if !strings.HasPrefix(lset[p.name], p.text) {
			return false
		}
	}
	return true
}

func matches(ms labels.Matchers, lset map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(lset[m.Name]) {
			return false
		}
	}
	return true
}

// retained reports whether s is still kept at now: the TTL removes an
// entry Retention after its end, and a bucket without TTLs should not
// list it longer.
func retained(s Silence, now time.Time) bool { return now.Before(s.EndsAt.Add(Retention)) }

func (s Silence) clone() Silence {
	s.Matchers = slices.Clone(s.Matchers)
	return s
}

// view is an immutable snapshot of the silences: every one by id, newest
// first, and an index for Silenced.
type view struct {
	// all is sorted by id, descending (newest first).
	all []*entry
	// index holds each silence with an equality matcher on a non-empty
	// value under one such matcher: an event can match it only if it has
	// that label with that value. Few label names (service, alertname),
	// so a slice.
	index []indexName
	// rest are the silences with no such matcher: checked for every event.
	rest []*entry
}

type indexName struct {
	name    string
	byValue map[string][]*entry
}

// rebuild makes a new view from s.entries. s.mu is held.
func (s *Store) rebuild() {
	v := &view{all: make([]*entry, 0, len(s.entries))}
	// Each silence is indexed under the label name, of its equality
	// matchers, that the most silences could be indexed under: the
	// fewer names, the fewer lookups per event.
	names := map[string]int{}
	for _, e := range s.entries {
		v.all = append(v.all, e)
		for _, m := range indexable(e.matchers) {
			names[m.Name]++
		}
	}
	slices.SortFunc(v.all, func(a, b *entry) int { return strings.Compare(b.s.ID, a.s.ID) })
	at := map[string]int{}
	for _, e := range v.all {
		var pick *labels.Matcher
		for _, m := range indexable(e.matchers) {
			if pick == nil || names[m.Name] > names[pick.Name] || (names[m.Name] == names[pick.Name] && m.Name < pick.Name) {
				pick = m
			}
		}
		if pick == nil {
			v.rest = append(v.rest, e)
			continue
		}
		i, ok := at[pick.Name]
		if !ok {
			i = len(v.index)
			at[pick.Name] = i
			v.index = append(v.index, indexName{name: pick.Name, byValue: map[string][]*entry{}})
		}
		v.index[i].byValue[pick.Value] = append(v.index[i].byValue[pick.Value], e)
	}
	slices.SortFunc(v.index, func(a, b indexName) int { return cmp.Compare(a.name, b.name) })
	s.view.Store(v)
}

// indexable returns the matchers a silence can be indexed under: equality
// on a non-empty value.
func indexable(ms labels.Matchers) []*labels.Matcher {
	var out []*labels.Matcher
	for _, m := range ms {
		if m.Type == labels.MatchEqual && m.Value != "" {
			out = append(out, m)
		}
	}
	return out
}

// newID returns a ULID: 48 bits of milliseconds and 80 random bits in
// Crockford's base32, 26 characters that sort as the time they were made
// and are valid KV keys.
func newID(now time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [16]byte
	ms := uint64(max(now.UnixMilli(), 0))
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	_, _ = rand.Read(b[6:])
	// 128 bits as 26 base32 digits, the first holding the top 3 bits.
	var out [26]byte
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// Hold is the hold an active silence puts on an event's page (the
// router's Silencer): the silence's id, matchers, author and comment.
func (s *Store) Hold(lset map[string]string, at time.Time) *alertgate.Hold {
	sil := s.Silenced(lset, at)
	if sil == nil {
		return nil
	}
	d := "silence " + sil.ID + " {" + strings.Join(sil.Matchers, ", ") + "}"
	if sil.CreatedBy != "" {
		d += " by " + sil.CreatedBy
	}
	if sil.Comment != "" {
		d += ": " + sil.Comment
	}
	d += " until " + sil.EndsAt.UTC().Format(time.RFC3339)
	return &alertgate.Hold{Reason: alertgate.HoldSilenced, By: sil.ID, Rule: "silence " + sil.ID, Detail: d}
}
