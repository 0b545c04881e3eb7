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
	"github.com/alertgate/alertgate/internal/wire"
)

// BugIndex answers the list of bug classes (GET /v1/bugs) from memory: it
// keeps, for every class, what the list filters and sorts on (team,
// status, count, last seen) and the revision of its entry, current from a
// watch of the bucket. A page sorts the index and reads only the entries
// it shows, by revision, so a million classes answer in milliseconds
// instead of a walk of every entry.
//
// An entry costs about 80 bytes of heap at a million classes (a map slot
// of a 64-bit hash of its key and 24 bytes of fields, and the map's spare
// room), against the hundreds a walk reads and decodes per class. Two
// keys whose hashes collide (about one chance in 10^7 at a million
// classes) would share one slot: the list would miss one of them until
// either is written again.
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
	// subjects prefixes the subject of each class's entry: "$KV.<bucket>.".
	subjects string
	stop     context.CancelFunc
	done     chan struct{}
	watch    *kvwatch.Watch
}

// indexEntry is a bug class as the list sorts and filters it: 24 bytes.
type indexEntry struct {
	rev    uint64
	count  int64
	seen   uint32 // LastSeen, Unix seconds (the list orders by the second)
	team   uint16
	status uint8
	gen    uint8 // the replay that last listed it
}

// interned numbers the distinct strings of a field (team names, status
// names): a handful, however many classes.
type interned struct {
	ids   map[string]uint16
	names []string
	max   int // ids it may give
}

func (t *interned) id(b []byte) (uint16, bool) {
	if id, ok := t.ids[string(b)]; ok {
		return id, true
	}
	s := string(b)
	if len(t.names) >= t.max {
		return 0, false
	}
	if t.ids == nil {
		t.ids = map[string]uint16{}
	}
	id := uint16(len(t.names))
	t.ids[s] = id
	t.names = append(t.names, s)
	return id, true
}

// NewBugIndex indexes the bug class bucket kv; nothing runs until Start.
func NewBugIndex(js jetstream.JetStream, kv jetstream.KeyValue, logger *slog.Logger) *BugIndex {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	x := &BugIndex{kv: kv, js: js, logger: logger, entries: map[uint64]indexEntry{},
		teams: interned{max: math.MaxUint16 + 1}, statuses: interned{max: math.MaxUint8 + 1}}
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
	x.stream, x.subjects = stream, "$KV."+x.kv.Bucket()+"."
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

// Classes is how many bug classes the index holds, -1 until it has loaded.
func (x *BugIndex) Classes() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.loaded {
		return -1
	}
	return len(x.entries)
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

// Apply applies one change of the bucket. It reads only the fields the
// list needs, without allocating: the watch keeps pace with a flood of
// new classes.
func (x *BugIndex) Apply(e jetstream.KeyValueEntry) {
	h := indexHash(e.Key())
	var (
		f   bugFields
		err error
	)
	if e.Operation() == jetstream.KeyValuePut {
		f, err = indexFields(e.Value())
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
	team, okT := x.teams.id(f.team)
	status, okS := x.statuses.id(f.status)
	if !okT || !okS {
		delete(x.entries, h)
		x.logger.Warn("bug index: over 65,536 teams or 256 statuses: class left out of GET /v1/bugs", "key", e.Key())
		return
	}
	x.entries[h] = indexEntry{rev: e.Revision(), seen: f.seen, count: f.count, team: team, status: uint8(status), gen: x.gen}
}

// seconds is t in Unix seconds, as the list orders it: a time before 1970
// (the zero time) is 0, one after 2106 the last second uint32 holds.
func seconds(t time.Time) uint32 {
	return uint32(min(max(t.Unix(), 0), math.MaxUint32))
}

// bugFields are the fields of a bug class state the index keeps; team and
// status point into the value read.
type bugFields struct {
	team, status []byte
	count        int64
	seen         uint32
}

// indexFields reads a state's bugFields: from the binary encoding in
// place, from an earlier version's JSON by decoding it.
func indexFields(data []byte) (bugFields, error) {
	if !wire.IsBinary(data) {
		var b Bug
		if err := unmarshalView(data, &b); err != nil {
			return bugFields{}, err
		}
		return bugFields{team: []byte(b.Team), status: []byte(b.Status), count: b.Count, seen: seconds(b.LastSeen)}, nil
	}
	// The order of Bug.appendBinary.
	d := wire.NewDec(data)
	if d.Err() == nil && d.Format != formatBug {
		return bugFields{}, fmt.Errorf("bug state: binary format %d", d.Format)
	}
	var f bugFields
	d.Bytes() // key
	d.Bytes() // source
	d.Bytes() // title
	d.Bytes() // service
	f.team = d.Bytes()
	d.Bytes() // severity
	if n, _ := d.Count(); n > 0 {
		for range 2 * n { // href, text
			d.Bytes()
		}
	}
	f.status = d.Bytes()
	d.Time() // first seen
	f.seen = seconds(d.Time())
	f.count = d.Int()
	if err := d.Err(); err != nil {
		return bugFields{}, fmt.Errorf("bug state: %w", err)
	}
	return f, nil
}

// indexHash is the index's key of a class and the last step of the list's
// order: FNV-1a of its entry's key.
func indexHash(stateKey string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(stateKey))
	return f.Sum64()
}

// Loudest is the order of the bug class list: most occurrences first,
// then the most recently seen (to the second), then by a hash of the key
// (arbitrary, but the same on every instance and every run).
func Loudest(a, b *Bug) int {
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	if c := cmp.Compare(seconds(b.LastSeen), seconds(a.LastSeen)); c != 0 {
		return c
	}
	return cmp.Compare(indexHash(StateKey(a.Key)), indexHash(StateKey(b.Key)))
}

// Latest is the other order of the status page: the most recently seen
// first (to the second), then the most occurrences, then as Loudest.
func Latest(a, b *Bug) int {
	if c := cmp.Compare(seconds(b.LastSeen), seconds(a.LastSeen)); c != 0 {
		return c
	}
	return Loudest(a, b)
}

type ranked struct {
	h uint64
	e indexEntry
}

// loudest and latest are Loudest and Latest on index entries.
func loudest(a, b ranked) int {
	if c := cmp.Compare(b.e.count, a.e.count); c != 0 {
		return c
	}
	if c := cmp.Compare(b.e.seen, a.e.seen); c != 0 {
		return c
	}
	return cmp.Compare(a.h, b.h)
}

func latest(a, b ranked) int {
	if c := cmp.Compare(b.e.seen, a.e.seen); c != 0 {
		return c
	}
	return loudest(a, b)
}

// BugQuery selects a page of the bug class list.
type BugQuery struct {
	// Team and Status keep the classes of that team and status ("": any).
	Team, Status string
	// ByLastSeen orders by Latest instead of Loudest.
	ByLastSeen bool
	Limit      int
}

// BugList is a page of the bug class list, and every team that has a
// class (whatever the query's filters).
type BugList struct {
	Page[Bug]
	Teams []string
}

// catchUpWait bounds how long a list waits for the watch to apply the
// bucket's newest entry (written before the request came) before it
// answers from the index as it is.
const catchUpWait = 2 * time.Second

// Bugs returns the first q.Limit bug classes of q's team and status in
// q's order, with how many matched. ok is false until the index has
// loaded (the caller walks the bucket instead). A class written before
// the request is in the answer: the index first applies the bucket's
// newest entry.
func (x *BugIndex) Bugs(ctx context.Context, q BugQuery) (list BugList, ok bool, err error) {
	x.mu.RLock()
	loaded := x.loaded
	x.mu.RUnlock()
	if !loaded {
		return BugList{}, false, nil
	}
	if err := x.catchUp(ctx); err != nil {
		return BugList{}, true, err
	}
	q.Limit = max(q.Limit, 1)
	order, orderBugs := loudest, Loudest
	if q.ByLastSeen {
		order, orderBugs = latest, Latest
	}
	top, total, teams := x.top(q, order)
	items, err := x.read(ctx, top, orderBugs)
	if err != nil {
		return BugList{}, true, err
	}
	return BugList{Page: Page[Bug]{Items: items, Total: total, Limit: q.Limit}, Teams: teams}, true, nil
}

// catchUp waits (at most catchUpWait) until the watch has applied the
// newest entry in the bucket.
func (x *BugIndex) catchUp(ctx context.Context) error {
	last, err := x.stream.GetLastMsgForSubject(ctx, x.subjects+">")
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

// top selects the first q.Limit classes that match in order, counts them
// all, and lists the teams that have a class.
func (x *BugIndex) top(q BugQuery, order func(a, b ranked) int) (top []ranked, total int, teams []string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	teamID, okT := x.teams.ids[q.Team]
	statusID, okS := x.statuses.ids[q.Status]
	// A team or status the index has never seen matches nothing.
	none := (q.Team != "" && !okT) || (q.Status != "" && !okS)
	hasClass := make([]bool, len(x.teams.names))
	b := newBest(order, q.Limit)
	for k, e := range x.entries {
		hasClass[e.team] = true
		if none || (q.Team != "" && e.team != teamID) || (q.Status != "" && uint16(e.status) != statusID) {
			continue
		}
		b.add(ranked{h: k, e: e})
	}
	for id, has := range hasClass {
		if has && x.teams.names[id] != "" {
			teams = append(teams, x.teams.names[id])
		}
	}
	slices.Sort(teams)
	return b.sorted(), b.total, teams
}

// readers is how many entries a page reads at once.
const readers = 8

// read reads the entries of a page by revision. An entry written again
// since the index ranked it is read at its new revision; a class deleted
// since is left out.
func (x *BugIndex) read(ctx context.Context, top []ranked, order func(a, b *Bug) int) ([]*Bug, error) {
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
	slices.SortStableFunc(items, order)
	return items, nil
}

func (x *BugIndex) readOne(ctx context.Context, r ranked) (*Bug, error) {
	rev := r.e.rev
	for range 5 {
		msg, err := x.stream.GetMsg(ctx, rev)
		if err == nil && indexHash(strings.TrimPrefix(msg.Subject, x.subjects)) == r.h {
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
