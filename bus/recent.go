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
type recentIDs struct {
	mu        sync.Mutex
	seed      maphash.Seed
	cur, prev map[uint64]struct{}
	since     time.Time
	every     time.Duration
	max       int
	now       func() time.Time
}

func newRecentIDs(window time.Duration, max int) *recentIDs {
	return &recentIDs{
		seed: maphash.MakeSeed(), cur: map[uint64]struct{}{}, prev: map[uint64]struct{}{},
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
		r.cur, r.prev, r.since = map[uint64]struct{}{}, map[uint64]struct{}{}, r.now()
	case elapsed >= r.every || len(r.cur) >= r.max:
		r.prev, r.cur, r.since = r.cur, make(map[uint64]struct{}, len(r.cur)), r.now()
	}
}

// Contains reports whether id was added lately.
func (r *recentIDs) Contains(id string) bool {
	h := maphash.String(r.seed, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.age()
	_, a := r.cur[h]
	_, b := r.prev[h]
	return a || b
}

// Add remembers ids.
func (r *recentIDs) Add(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.age()
	for _, id := range ids {
		r.cur[maphash.String(r.seed, id)] = struct{}{}
	}
}
