package routes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/wire"
)

// Two routers share the router consumer and decide events of the same few
// keys at once: firing and resolve cycles of incidents and the life of bug
// classes, interleaved, in messages of one to three events. Both routers
// fail some emits after the state write (a crash between the write and the
// emit: the message is redelivered) and after the publish (an
// acknowledgement lost), and the first write of two keys is made to lose
// its compare-and-set to a third router deciding another event of the key.
//
// Every state written is recorded. NOTIFY must then hold exactly the
// notifications that sequence of stored states implies: each episode's
// page once, each resolve once and after its page, each bug item of a
// state change, and nothing for a state never stored. With the notifications
// emitted before the state write, the lost races alone break this: the
// loser's page is in NOTIFY while the stored episode was never paged.
func TestTwoRoutersRaceOnSharedKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir(), Name: "race"}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg, err := config.Load([]byte("teams: [{name: payments}]\nroutes: [{team: payments}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	table := New(cfg, nil)
	settings := dedup.Settings{
		SpikeCount: int64(cfg.Dedup.BugSpike.Count), SpikeWithin: cfg.Dedup.BugSpike.Within.D(), ReopenAfter: cfg.Dedup.DuplicateWindow.D(),
		BugClassTTL: cfg.Dedup.BugClassTTL.D(), IncidentTTL: cfg.Dedup.IncidentTTL.D(),
	}

	s := newScript()
	hist := &history{}
	var conflicts conflictCount
	lose := &loseFirst{keys: map[string]alertgate.Event{}}
	policy := func() *dedup.Policy {
		return &dedup.Policy{
			Incidents: &recording{stateBucket: dedup.NewBucket(b.JS, b.Incidents), h: hist, lose: lose},
			Bugs:      &recording{stateBucket: dedup.NewBucket(b.JS, b.Bugs), h: hist, lose: lose},
			Settings:  settings, Conflicts: &conflicts,
		}
	}
	// The third router decides the rivals' events directly, as a router
	// that won the race would have.
	rival := &Router{Bus: b, Routes: table, Policy: policy(), Logger: log, Metrics: metrics.New()}
	lose.decide = func(ctx context.Context, ev alertgate.Event) error {
		_, err := rival.Process(ctx, ev)
		return err
	}
	for key, ev := range s.rivals {
		lose.keys[dedup.StateKey(key)] = ev
	}
	var faults atomic.Int64
	stops := make([]func(), 2)
	for i := range stops {
		p := policy()
		r := &Router{Bus: b, Routes: table, Policy: p, Logger: log, Metrics: metrics.New(), Concurrency: 4, AckPoll: 20 * time.Millisecond}
		p.Acks = r
		r.publish = faulty(b, uint64(i), &faults)
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		stop := sync.OnceFunc(r.Stop)
		t.Cleanup(stop)
		stops[i] = stop
	}

	for _, msg := range s.messages {
		if _, err := b.PublishEvents(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	waitDecided(t, ctx, b)
	for _, stop := range stops {
		stop()
	}

	// Every event was decided: each is the last event of a stored state.
	decided := map[string]bool{}
	states := hist.byKey(t)
	for _, ws := range states {
		for _, w := range ws {
			decided[w.eventID] = true
		}
	}
	for _, id := range s.eventIDs {
		if !decided[id] {
			t.Errorf("event %s was never decided", id)
		}
	}

	// What the stored states imply, and what NOTIFY holds.
	wantPD, wantSlack := map[string]bool{}, map[string]bool{}
	for key, ws := range states {
		implied(t, key, ws, wantPD, wantSlack)
	}
	info, err := b.Notify.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotPD := map[string][]uint64{} // ID -> NOTIFY sequences
	gotSlack := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := b.Notify.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("NOTIFY %d: %v", seq, err)
		}
		var n alertgate.Notification
		if err := wire.Unmarshal(m.Data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Sink == alertgate.SinkPagerDuty {
			gotPD[n.ID] = append(gotPD[n.ID], seq)
		} else {
			// A Slack item carries no Msg-Id: its own event's redelivery
			// may store it again, and the digest lists each ID once.
			gotSlack[n.ID] = true
		}
	}
	for id, seqs := range gotPD {
		if !wantPD[id] {
			t.Errorf("NOTIFY holds %s, which no stored state implies", id)
		}
		if len(seqs) != 1 {
			t.Errorf("NOTIFY holds %s %d times", id, len(seqs))
		}
		if page, ok := strings.CutPrefix(id, "resolve:"); ok {
			if p := gotPD["page:"+page]; len(p) == 0 || p[0] > seqs[0] {
				t.Errorf("%s is in NOTIFY at %d, its page at %v: want the page first", id, seqs[0], p)
			}
		}
	}
	for id := range wantPD {
		if len(gotPD[id]) == 0 {
			t.Errorf("a stored state implies %s, NOTIFY lacks it", id)
		}
	}
	if got, want := strings.Join(sortedKeys(gotSlack), " "), strings.Join(sortedKeys(wantSlack), " "); got != want {
		t.Errorf("Slack items in NOTIFY:\n%s\nwant (from the stored states):\n%s", got, want)
	}

	pages := 0
	for id := range wantPD {
		if strings.HasPrefix(id, "page:") {
			pages++
		}
	}
	t.Logf("%d events in %d messages; %d pages and %d resolves implied; %d Slack items; %d emits failed; %d lost compare-and-sets",
		len(s.eventIDs), len(s.messages), pages, len(wantPD)-pages, len(wantSlack), faults.Load(), conflicts.Load())
	// The scenario did what it is for.
	if pages < 5 || faults.Load() == 0 || conflicts.Load() < int64(len(s.rivals)) {
		t.Fatalf("too tame: %d pages, %d failed emits, %d conflicts (want ≥5, >0, ≥%d)", pages, faults.Load(), conflicts.Load(), len(s.rivals))
	}
}

// script is the scenario: the events, grouped into ALERTS messages, and the
// rival event of each key whose first write loses.
type script struct {
	messages [][]alertgate.Event
	eventIDs []string
	rivals   map[string]alertgate.Event
}

func newScript() *script {
	t0 := time.Now().UTC().Truncate(time.Second)
	s := &script{rivals: map[string]alertgate.Event{}}
	n := 0
	ev := func(kind alertgate.Kind, key, episode string, status alertgate.Status, at time.Duration) alertgate.Event {
		n++
		e := alertgate.Event{
			ID: fmt.Sprintf("race-%04d", n), Source: alertgate.SourceEvents, Kind: kind, Key: key, Episode: episode, Status: status,
			Severity: alertgate.SeverityCritical, Title: "race " + key, Service: "checkout", OccurredAt: t0.Add(at), ReceivedAt: t0.Add(at), Count: 1,
		}
		e.Finish()
		return e
	}
	// Each key's events in their order at the source.
	var perKey [][]alertgate.Event
	for k := range 3 {
		key := fmt.Sprintf("events:race:incident:%d", k)
		var evs []alertgate.Event
		for c := range 5 {
			ep, at := fmt.Sprintf("cycle%d", c), time.Duration(c)*10*time.Second
			evs = append(evs,
				ev(alertgate.KindIncident, key, ep, alertgate.StatusFiring, at),
				ev(alertgate.KindIncident, key, ep, alertgate.StatusFiring, at+time.Second), // a re-send
				ev(alertgate.KindIncident, key, ep, alertgate.StatusResolved, at+2*time.Second),
				ev(alertgate.KindIncident, key, ep, alertgate.StatusResolved, at+3*time.Second)) // a re-send
		}
		perKey = append(perKey, evs)
	}
	for k := range 2 {
		key := fmt.Sprintf("events:race:bug:%d", k)
		var evs []alertgate.Event
		for i, st := range []alertgate.Status{alertgate.StatusFiring, alertgate.StatusFiring, alertgate.StatusFiring, alertgate.StatusResolved,
			alertgate.StatusFiring, alertgate.StatusFiring, alertgate.StatusMuted, alertgate.StatusFiring, alertgate.StatusResolved, alertgate.StatusFiring} {
			evs = append(evs, ev(alertgate.KindBug, key, "", st, time.Duration(i)*time.Second))
		}
		perKey = append(perKey, evs)
	}
	// Keys whose one event's first write loses to a rival's decision: a
	// firing overtaken by its episode's resolve (the firing is then stale),
	// a new class's occurrence overtaken by its mute (then only counted).
	lostInc, lostBug := "events:race:lost:incident", "events:race:lost:bug"
	perKey = append(perKey,
		[]alertgate.Event{ev(alertgate.KindIncident, lostInc, "lost", alertgate.StatusFiring, 0)},
		[]alertgate.Event{ev(alertgate.KindBug, lostBug, "", alertgate.StatusFiring, 0)})
	s.rivals[lostInc] = ev(alertgate.KindIncident, lostInc, "lost", alertgate.StatusResolved, time.Second)
	s.rivals[lostBug] = ev(alertgate.KindBug, lostBug, "", alertgate.StatusMuted, time.Second)

	// Round-robin over the keys, in messages of one to three events.
	var all []alertgate.Event
	for i := 0; ; i++ {
		added := false
		for _, evs := range perKey {
			if i < len(evs) {
				all = append(all, evs[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	for i := 0; i < len(all); {
		size := min(1+i%3, len(all)-i)
		s.messages = append(s.messages, all[i:i+size])
		i += size
	}
	for _, e := range all {
		s.eventIDs = append(s.eventIDs, e.ID)
	}
	for _, e := range s.rivals {
		s.eventIDs = append(s.eventIDs, e.ID)
	}
	return s
}

// faulty publishes notifications like the router, but fails some emits:
// before publishing (the router died between the state write and the
// emit) or after (the acknowledgement was lost). Either way the message is
// redelivered.
func faulty(b *bus.Bus, seed uint64, faults *atomic.Int64) func(context.Context, []alertgate.Notification) error {
	var mu sync.Mutex
	rnd := rand.New(rand.NewPCG(seed, 42))
	return func(ctx context.Context, ns []alertgate.Notification) error {
		mu.Lock()
		x := rnd.Float64()
		mu.Unlock()
		if x < 0.2 && faults.Add(1) <= 40 {
			return errors.New("injected: died before the emit")
		}
		if _, err := b.PublishNotifications(ctx, ns); err != nil {
			return err
		}
		if x > 0.9 && faults.Add(1) <= 40 {
			return errors.New("injected: emitted, acknowledgement lost")
		}
		return nil
	}
}

// waitDecided waits until the router consumer has acknowledged every
// ALERTS message.
func waitDecided(t *testing.T, ctx context.Context, b *bus.Bus) {
	t.Helper()
	for {
		info, err := b.Alerts.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cons, err := b.Alerts.Consumer(ctx, ConsumerName)
		if err != nil {
			t.Fatal(err)
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumPending == 0 && ci.NumAckPending == 0 && ci.AckFloor.Stream >= info.State.LastSeq {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("events not all decided: pending %d, ack pending %d, ack floor %d of %d", ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream, info.State.LastSeq)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// write is one stored state: the key's value from revision base to rev.
type write struct {
	key       string
	base, rev uint64
	value     []byte
	eventID   string
}

// history records every state write that succeeded, from any router.
type history struct {
	mu     sync.Mutex
	writes []write
}

func (h *history) add(key string, base, rev uint64, value []byte) {
	var last struct{ Last dedup.Last }
	if strings.HasPrefix(key, bus.BucketBugs+"/") {
		var st dedup.Bug
		_ = dedup.UnmarshalState(value, &st)
		last.Last = st.Last
	} else {
		var st dedup.Incident
		_ = dedup.UnmarshalState(value, &st)
		last.Last = st.Last
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes = append(h.writes, write{key: key, base: base, rev: rev, value: slices.Clone(value), eventID: last.Last.EventID})
}

// byKey returns each key's states in the order they were stored, checking
// that each was written over the one before (a compare-and-set chain).
func (h *history) byKey(t *testing.T) map[string][]write {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]write{}
	for _, w := range h.writes {
		out[w.key] = append(out[w.key], w)
	}
	for key, ws := range out {
		sort.Slice(ws, func(i, j int) bool { return ws[i].rev < ws[j].rev })
		for i, w := range ws {
			if i > 0 && w.base != ws[i-1].rev || i == 0 && w.base != 0 {
				t.Fatalf("%s: state at revision %d was written over revision %d, not over the state before it", key, w.rev, w.base)
			}
		}
	}
	return out
}

// implied adds to pd and slack the notifications a key's sequence of
// stored states implies: a page for each episode (cycle) that became open,
// a resolve for each that went from open to resolved; a bug item for each
// class announced, regressed or spiking.
func implied(t *testing.T, key string, ws []write, pd, slack map[string]bool) {
	var prevEps map[string]dedup.Episode
	var prevBug dedup.Bug
	for _, w := range ws {
		if strings.HasPrefix(key, bus.BucketBugs+"/") {
			var st dedup.Bug
			if err := dedup.UnmarshalState(w.value, &st); err != nil {
				t.Fatal(err)
			}
			life := st.FirstSeen.UnixNano()
			if st.Notified && !prevBug.Notified {
				slack[fmt.Sprintf("digest:bug_new:%s:%d", st.Key, life)] = true
			}
			if st.Regressions > prevBug.Regressions {
				slack[fmt.Sprintf("digest:bug_regression:%s:%d:%d", st.Key, st.Resolutions, life)] = true
			}
			if st.Spikes > prevBug.Spikes {
				slack[fmt.Sprintf("digest:bug_spike:%s:%d", st.Key, st.WindowStart.UnixNano())] = true
			}
			prevBug = st
			continue
		}
		var st dedup.Incident
		if err := dedup.UnmarshalState(w.value, &st); err != nil {
			t.Fatal(err)
		}
		eps := map[string]dedup.Episode{}
		for _, e := range st.Episodes {
			eps[e.ID] = e
			p, had := prevEps[e.ID]
			wasOpen := had && p.Status == dedup.EpisodeOpen && p.Cycle == e.Cycle
			id := fmt.Sprintf("%s:%s:%d", st.Key, e.ID, e.Cycle)
			switch {
			case e.Status == dedup.EpisodeOpen && !wasOpen:
				pd["page:"+id] = true
			case e.Status == dedup.EpisodeResolved && wasOpen:
				pd["resolve:"+id] = true
			}
		}
		prevEps = eps
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stateBucket names the dedup.Bucket embedded in a wrapper (a field named
// Bucket would hide KeyValue's Bucket method).
type stateBucket = dedup.Bucket

// recording is a state bucket that records every write that succeeded, and
// makes the first write of the keys in lose lose its compare-and-set.
type recording struct {
	stateBucket
	h    *history
	lose *loseFirst
}

func (r *recording) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if err := r.lose.race(ctx, key); err != nil {
		return 0, err
	}
	rev, err := r.stateBucket.Create(ctx, key, value, opts...)
	if err == nil {
		r.h.add(r.Bucket()+"/"+key, 0, rev, value)
	}
	return rev, err
}

func (r *recording) Update(ctx context.Context, key string, value []byte, base uint64) (uint64, error) {
	if err := r.lose.race(ctx, key); err != nil {
		return 0, err
	}
	rev, err := r.stateBucket.Update(ctx, key, value, base)
	if err == nil {
		r.h.add(r.Bucket()+"/"+key, base, rev, value)
	}
	return rev, err
}

func (r *recording) UpdateTTL(ctx context.Context, key string, value []byte, base uint64, ttl time.Duration) (uint64, error) {
	if err := r.lose.race(ctx, key); err != nil {
		return 0, err
	}
	rev, err := r.stateBucket.UpdateTTL(ctx, key, value, base, ttl)
	if err == nil {
		r.h.add(r.Bucket()+"/"+key, base, rev, value)
	}
	return rev, err
}

// loseFirst has a rival decide its event of a key just before the first
// write of that key goes out, so that write loses the compare-and-set.
type loseFirst struct {
	mu     sync.Mutex
	keys   map[string]alertgate.Event // by state key
	decide func(context.Context, alertgate.Event) error
}

func (l *loseFirst) race(ctx context.Context, key string) error {
	l.mu.Lock()
	ev, ok := l.keys[key]
	delete(l.keys, key)
	l.mu.Unlock()
	if !ok {
		return nil
	}
	return l.decide(ctx, ev)
}

// conflictCount counts lost compare-and-sets, as the metrics do.
type conflictCount struct{ atomic.Int64 }

func (c *conflictCount) KVConflict(string) { c.Add(1) }
