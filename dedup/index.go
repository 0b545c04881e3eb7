package dedup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate/internal/kvwatch"
)

// BugIndex answers the list of bug classes (GET /v1/bugs) from memory: it
// keeps, for every class, what the list filters and sorts on (team,
// status, count, last seen) and the revision of its entry, current from a
// watch of the bucket. A page sorts the index and reads only the entries
// it shows, by revision, so a million classes answer in milliseconds
// instead of a walk of every entry.
//
// An entry costs about 50 bytes of heap (a map slot of a 64-bit hash of
// its key and 40 bytes of fields), against the hundreds a walk reads and
// decodes per class. Two keys whose hashes collide (about one chance in
// 10^7 at a million classes) would share one slot: the list would miss
// one of them until either is written again.
type BugIndex struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	logger *slog.Logger

	mu       sync.RWMutex
	entries  map[uint64]indexEntry
	teams    interned
	statuses interned
	gen      uint8
	loaded   bool
	applied  uint64 // the highest revision applied
	caughtUp *sync.Cond

	stream jetstream.Stream
	stop   context.CancelFunc
	done   chan struct{}
	watch  *kvwatch.Watch
}

// indexEntry is a bug class as the list sorts and filters it.
type indexEntry struct {
	rev    uint64
	seen   int64 // LastSeen, Unix nanoseconds
	count  int64
	team   uint16
	status uint16
	gen    uint8 // the replay that last listed it
}

// interned numbers the distinct strings of a field (team names, status
// names): a handful, however many classes.
type interned struct {
	ids   map[string]uint16
	names []string
}

func (t *interned) id(s string) (uint16, bool) {
	if id, ok := t.ids[s]; ok {
		return id, true
	}
	if len(t.names) > math.MaxUint16 {
		return 0, false
	}
	if t.ids == nil {
		t.ids = map[string]uint16{}
	}
	id := uint16(len(t.names))
	t.ids[strings.Clone(s)] = id
	t.names = append(t.names, strings.Clone(s))
	return id, true
}

// NewBugIndex indexes the bug class bucket kv; nothing runs until Start.
func NewBugIndex(js jetstream.JetStream, kv jetstream.KeyValue, logger *slog.Logger) *BugIndex {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	x := &BugIndex{kv: kv, js: js, logger: logger, entries: map[uint64]indexEntry{}}
	x.caughtUp = sync.NewCond(x.mu.RLocker())
	return x
}

// Start loads the index in the background and keeps it current; until it
// has loaded, Bugs answers ok=false and the list walks the bucket.
func (x *BugIndex) Start(ctx context.Context) error {
	stream, err := x.js.Stream(ctx, "KV_"+x.kv.Bucket())
	if err != nil {
		return fmt.Errorf("bug index: %w", err)
	}
	x.stream = stream
	ctx, x.stop = context.WithCancel(context.WithoutCancel(ctx))
	x.done = make(chan struct{})
	go func() {
		defer close(x.done)
		start := time.Now()
		w, err := kvwatch.Start(ctx, x.kv, x, kvwatch.Options{Name: "bug index", Logger: x.logger})
		if err != nil {
			if ctx.Err() == nil {
				x.logger.Error("bug index: not loaded: GET /v1/bugs walks every class", "err", err)
			}
			return
		}
		x.mu.Lock()
		x.watch = w
		n := len(x.entries)
		x.mu.Unlock()
		x.logger.Info("bug index loaded", "classes", n, "took", time.Since(start).Round(time.Millisecond))
	}()
	return nil
}

// Stop ends the watch; the index stays as it was.
func (x *BugIndex) Stop() {
	if x.stop == nil {
		return
	}
	x.stop()
	<-x.done
	x.watch.Stop()
	x.stop = nil
}

// SweepsItself: Replaying and Replayed mark the classes a replay lists.
func (x *BugIndex) SweepsItself() {}

// Replaying begins a (re)load of the bucket.
func (x *BugIndex) Replaying() {
	x.mu.Lock()
	x.gen++
	x.mu.Unlock()
}

// Replayed drops the classes the replay did not list (deleted while no
// watch ran), and makes the index answer.
func (x *BugIndex) Replayed(map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for h, e := range x.entries {
		if e.gen != x.gen {
			delete(x.entries, h)
		}
	}
	x.loaded = true
	x.caughtUp.Broadcast()
}

// Apply applies one change of the bucket.
func (x *BugIndex) Apply(e jetstream.KeyValueEntry) {
	h := indexHash(e.Key())
	var (
		b   Bug
		err error
	)
	if e.Operation() == jetstream.KeyValuePut {
		err = unmarshalView(e.Value(), &b)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	defer x.caughtUp.Broadcast()
	x.applied = max(x.applied, e.Revision())
	if e.Operation() != jetstream.KeyValuePut {
		delete(x.entries, h)
		return
	}
	if err != nil {
		delete(x.entries, h)
		x.logger.Warn("bug index: a class's state does not decode: left out of GET /v1/bugs", "key", e.Key(), "err", err)
		return
	}
	team, okT := x.teams.id(b.Team)
	status, okS := x.statuses.id(b.Status)
	if !okT || !okS {
		delete(x.entries, h)
		x.logger.Warn("bug index: over 65,536 teams or statuses: class left out of GET /v1/bugs", "key", e.Key())
		return
	}
	x.entries[h] = indexEntry{rev: e.Revision(), seen: b.LastSeen.UnixNano(), count: b.Count, team: team, status: status, gen: x.gen}
}

// indexHash is the index's key of a class and the last step of the list's
// order: FNV-1a of its entry's key.
func indexHash(stateKey string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(stateKey))
	return f.Sum64()
}

// Loudest is the order of the bug class list: most occurrences first,
// then the most recently seen, then by a hash of the key (arbitrary, but
// the same on every instance and every run).
func Loudest(a, b *Bug) int {
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
		return c
	}
	return cmp.Compare(indexHash(StateKey(a.Key)), indexHash(StateKey(b.Key)))
}

type ranked struct {
	h uint64
	e indexEntry
}

// loudest is Loudest on index entries.
func loudest(a, b ranked) int {
	if c := cmp.Compare(b.e.count, a.e.count); c != 0 {
		return c
	}
	if c := cmp.Compare(b.e.seen, a.e.seen); c != 0 {
		return c
	}
	return cmp.Compare(a.h, b.h)
}

// catchUpWait bounds how long a list waits for the watch to apply the
// bucket's newest entry (written before the request came) before it
// answers from the index as it is.
const catchUpWait = 2 * time.Second

// Bugs returns the loudest limit bug classes whose team and status are
// those asked ("" for any), with how many matched. ok is false until the
// index has loaded (the caller walks the bucket instead). A class written
// before the request is in the answer: the index first applies the
// bucket's newest entry.
func (x *BugIndex) Bugs(ctx context.Context, team, status string, limit int) (page Page[Bug], ok bool, err error) {
	x.mu.RLock()
	loaded := x.loaded
	x.mu.RUnlock()
	if !loaded {
		return Page[Bug]{}, false, nil
	}
	if err := x.catchUp(ctx); err != nil {
		return Page[Bug]{}, true, err
	}
	limit = max(limit, 1)
	top, total := x.top(team, status, limit)
	items, err := x.read(ctx, top)
	if err != nil {
		return Page[Bug]{}, true, err
	}
	return Page[Bug]{Items: items, Total: total, Limit: limit}, true, nil
}

// catchUp waits (at most catchUpWait) until the watch has applied the
// newest entry in the bucket.
func (x *BugIndex) catchUp(ctx context.Context) error {
	last, err := x.stream.GetLastMsgForSubject(ctx, "$KV."+x.kv.Bucket()+".>")
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read the newest bug class: %w", err)
	}
	deadline := time.AfterFunc(catchUpWait, func() {
		x.mu.Lock()
		x.caughtUp.Broadcast()
		x.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	x.mu.RLock()
	defer x.mu.RUnlock()
	for x.applied < last.Sequence && time.Since(start) < catchUpWait && ctx.Err() == nil {
		x.caughtUp.Wait()
	}
	return ctx.Err()
}

// top selects the loudest limit classes that match, and counts them all.
func (x *BugIndex) top(team, status string, limit int) ([]ranked, int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	teamID, okT := x.teams.ids[team]
	statusID, okS := x.statuses.ids[status]
	if (team != "" && !okT) || (status != "" && !okS) {
		return nil, 0
	}
	// A heap with the quietest class kept at its root.
	h := make([]ranked, 0, min(limit, len(x.entries)))
	worse := func(i, j int) bool { return loudest(h[i], h[j]) > 0 }
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && worse(r, l) {
				l = r
			}
			if !worse(l, i) {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	total := 0
	for k, e := range x.entries {
		if (team != "" && e.team != teamID) || (status != "" && e.status != statusID) {
			continue
		}
		total++
		r := ranked{h: k, e: e}
		switch {
		case len(h) < limit:
			h = append(h, r)
			for i := len(h) - 1; i > 0; { // up
				p := (i - 1) / 2
				if !worse(i, p) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		case loudest(r, h[0]) < 0:
			h[0] = r
			down(0)
		}
	}
	slices.SortFunc(h, loudest)
	return h, total
}

// readers is how many entries a page reads at once.
const readers = 8

// read reads the entries of a page by revision. An entry written again
// since the index ranked it is read at its new revision; a class deleted
// since is left out.
func (x *BugIndex) read(ctx context.Context, top []ranked) ([]*Bug, error) {
	items := make([]*Bug, len(top))
	errs := make([]error, len(top))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(readers, len(top)) {
		wg.Go(func() {
			for i := range next {
				items[i], errs[i] = x.readOne(ctx, top[i])
			}
		})
	}
	for i := range top {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	items = slices.DeleteFunc(items, func(b *Bug) bool { return b == nil })
	// Entries read at a newer revision may have moved.
	slices.SortStableFunc(items, Loudest)
	return items, nil
}

func (x *BugIndex) readOne(ctx context.Context, r ranked) (*Bug, error) {
	rev := r.e.rev
	for range 5 {
		msg, err := x.stream.GetMsg(ctx, rev)
		if err == nil && indexHash(strings.TrimPrefix(msg.Subject, "$KV."+x.kv.Bucket()+".")) == r.h {
			b := new(Bug)
			if err := unmarshalView(msg.Data, b); err != nil {
				return nil, fmt.Errorf("bug class at revision %d: %w", rev, err)
			}
			b.Outbox = nil
			return b, nil
		}
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("read bug class at revision %d: %w", rev, err)
		}
		// Written again or deleted since: the index knows its newest
		// revision once the watch applied it.
		x.mu.RLock()
		e, ok := x.entries[r.h]
		x.mu.RUnlock()
		if !ok {
			return nil, nil
		}
		if e.rev == rev {
			time.Sleep(10 * time.Millisecond) // the watch has not applied it yet
		}
		rev = e.rev
	}
	return nil, nil
}
