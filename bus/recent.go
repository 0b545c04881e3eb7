package bus

import (
	"hash/maphash"
	"sync"
	"time"
)

// recentIDs remembers the IDs of events JetStream acknowledged lately, so
// a repeat is answered as a duplicate without another round trip. It
// holds 64-bit hashes in two generations of plain maps (no pointers for
// the garbage collector to trace, unlike a linked LRU); a generation is a
// fifth of the duplicate window and an ID lives at most four, so
// JetStream itself would still call it a duplicate. A full generation
// rotates early, which only forgets sooner. A hash collision (about one
// in 2^64 per lookup for each remembered ID) would report a new event as a
// duplicate: at 200,000 IDs, about 1e-14 per event.
//
// It also remembers webhook bodies whose events are all stored, with their
// number of events: a byte-identical re-send is then a duplicate without
// being parsed. A body entry ages like an ID added at the same moment.
type recentIDs struct {
	mu        sync.Mutex
	seed      maphash.Seed
	cur, prev map[uint64]uint32
	since     time.Time
	every     time.Duration
	max       int
	now       func() time.Time
}

func newRecentIDs(window time.Duration, max int) *recentIDs {
	return &recentIDs{
		seed: maphash.MakeSeed(), cur: map[uint64]uint32{}, prev: map[uint64]uint32{},
		since: time.Now(), every: window / 5, max: max / 2, now: time.Now,
	}
}

// age moves to a new generation when the current one is a generation old
// or full, and forgets both when nothing came for two generations. An ID
// is then at most four generations old: 4/5 of the duplicate window.
func (r *recentIDs) age() {
	elapsed := r.now().Sub(r.since)
	switch {
	case elapsed >= 2*r.every:
		r.cur, r.prev, r.since = map[uint64]uint32{}, map[uint64]uint32{}, r.now()
	case elapsed >= r.every || len(r.cur) >= r.max:
		r.prev, r.cur, r.since = r.cur, make(map[uint64]uint32, len(r.cur)), r.now()
	}
}

// Contains reports whether id was added lately.
func (r *recentIDs) Contains(id string) bool {
	_, ok := r.lookup(maphash.String(r.seed, id))
	return ok
}

func (r *recentIDs) lookup(h uint64) (uint32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.age()
	if v, ok := r.cur[h]; ok {
		return v, true
	}
	v, ok := r.prev[h]
	return v, ok
}

// Add remembers ids.
func (r *recentIDs) Add(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.age()
	for _, id := range ids {
		r.cur[maphash.String(r.seed, id)] = 0
	}
}

// bodyHash keys a body of one source; the NUL keeps it apart from any ID.
func (r *recentIDs) bodyHash(src string, body []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	_, _ = h.WriteString(src)
	_ = h.WriteByte(0)
	_, _ = h.Write(body)
	return h.Sum64()
}

// Body returns the number of events body stood for, if it was added
// lately.
func (r *recentIDs) Body(src string, body []byte) (int, bool) {
	n, ok := r.lookup(r.bodyHash(src, body))
	return int(n), ok && n > 0
}

// AddBody remembers that body carried n events, all stored just now.
func (r *recentIDs) AddBody(src string, body []byte, n int) {
	h := r.bodyHash(src, body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.age()
	r.cur[h] = uint32(min(n, 1<<31))
}
