// The Digester turns the Slack items the router decides (new bug classes,
// regressions, spikes, incidents opened and resolved) into one message per
// team channel per window.
//
// Items are durable from the moment they are decided: they are messages in
// NOTIFY. Bug items have their own subject (notify.slack.<team>); incidents
// opened and resolved are the team's pages themselves (notify.pagerduty.<team>),
// read again here rather than copied. Each team has a cursor in the KV bucket
// "digests": the last NOTIFY sequence a stored digest covered. A flush reads
// the items after the cursor, renders, stores the digest in NOTIFY as a
// notification on notify.digest.<team> (which the Slack sink's Worker
// delivers, with its retries, dead letters and dry-run), and only then
// advances the cursor by compare-and-set. A restart before the store loses
// nothing (the items are still after the cursor); a restart between the
// store and the compare-and-set finds the digest stored (its ID follows
// from the state it was made from) and commits it instead of storing
// another. The items are never in two digests (the cursor moves past them
// once), and an item stored twice (the router deciding an event again
// after a crash) is listed once, unless a digest went out between the two
// copies. A per-team lock in the bucket "digest_locks" (entries expire)
// makes one instance at a time flush a channel when several share a NATS
// cluster.

package slack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/wire"
	"github.com/alertgate/alertgate/sinks"
)

// State is a team's digest cursor.
type State struct {
	// Cursor is the last NOTIFY sequence covered by a flushed digest.
	Cursor uint64 `json:"cursor"`
	// SubjectCount is the number of messages on the team's subjects at
	// Cursor, so pending = current count - SubjectCount without a read.
	SubjectCount uint64    `json:"subject_count"`
	WindowStart  time.Time `json:"window_start"`
	LastDigest   string    `json:"last_digest,omitempty"`
	// LastEarly is when the last early flush went out.
	LastEarly time.Time `json:"last_early,omitzero"`
	Digests   int       `json:"digests"`
}

// Digester flushes team digests.
type Digester struct {
	Bus    *bus.Bus
	Policy *dedup.Policy
	// Log gets a digest's first record (pending) just before it is stored.
	Log    *sinks.Log
	Logger *slog.Logger
	Teams  []string
	// Interval between digests of a channel (slack.digest_interval).
	Interval time.Duration
	// EarlyAt pending items flush a channel before its interval ends, at
	// most once per EarlyEvery (default 1m): a storm of pages or new
	// classes makes a message a minute, not one per tick.
	EarlyAt    int
	EarlyEvery time.Duration
	// MaxItems bounds the items one flush reads (and holds in memory); the
	// rest wait for the next flush, early since they are still pending.
	// A message shows far fewer anyway ("and N more"). Default 2000.
	MaxItems int
	// Tick is how often channels are checked.
	Tick      time.Duration
	PublicURL string
	// Instance names this process in the lock.
	Instance string
	Now      func() time.Time
	// Related lists what went on where a page fired, or a bug class
	// occurred, as of its decision (nil: nothing is listed).
	Related Correlator
	// Messages, when set, holds the digests of the teams in app mode
	// (AppTeam), which get buttons and can be edited once posted.
	Messages *Messages
	AppTeam  func(team string) bool

	states, locks jetstream.KeyValue
	stop          context.CancelFunc
	done          chan struct{}
}

// Buckets of the digest state.
const (
	BucketDigests = "digests"
	BucketLocks   = "digest_locks"
	lockTTL       = 2 * time.Minute
)

// Start creates the buckets and runs the flush loop.
func (d *Digester) Start(ctx context.Context, replicas int) error {
	var err error
	d.states, err = d.Bus.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketDigests, Description: "digest cursor per team", History: 1, Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return fmt.Errorf("kv %s: %w", BucketDigests, err)
	}
	d.locks, err = d.Bus.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketLocks, Description: "one digest flusher per team", History: 1, TTL: lockTTL, Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return fmt.Errorf("kv %s: %w", BucketLocks, err)
	}
	if d.Tick <= 0 {
		d.Tick = time.Second
	}
	if d.EarlyAt <= 0 {
		d.EarlyAt = 40
	}
	if d.EarlyEvery <= 0 {
		d.EarlyEvery = time.Minute
	}
	if d.MaxItems <= 0 {
		d.MaxItems = 2000
	}
	runCtx, cancel := context.WithCancel(context.Background())
	d.stop, d.done = cancel, make(chan struct{})
	go d.loop(runCtx)
	return nil
}

// Stop ends the loop after the flush in hand.
func (d *Digester) Stop() {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
}

func (d *Digester) loop(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(d.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.CheckAll(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Warn("digest check failed", "err", err)
		}
	}
}

// CheckAll flushes every channel that is due. Exported for tests.
func (d *Digester) CheckAll(ctx context.Context) error {
	counts, err := d.subjectCounts(ctx)
	if err != nil {
		return err
	}
	var errs []error
	scan := &bugScan{policy: d.Policy}
	for _, team := range d.Teams {
		n := counts[bus.NotifySubject(alertgate.SinkSlack, team)] + counts[bus.NotifySubject(alertgate.SinkPagerDuty, team)]
		if err := d.check(ctx, team, n, scan); err != nil {
			errs = append(errs, fmt.Errorf("team %s: %w", team, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Digester) subjectCounts(ctx context.Context) (map[string]uint64, error) {
	info, err := d.Bus.Notify.Info(ctx, jetstream.WithSubjectFilter(bus.SubjectNotify+".>"))
	if err != nil {
		return nil, err
	}
	return info.State.Subjects, nil
}

func (d *Digester) state(ctx context.Context, team string) (State, uint64, error) {
	e, err := d.states.Get(ctx, team)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, 0, nil
	}
	if err != nil {
		return State{}, 0, err
	}
	var s State
	return s, e.Revision(), wire.Unmarshal(e.Value(), &s)
}

func (d *Digester) check(ctx context.Context, team string, subjectCount uint64, scan *bugScan) error {
	st, rev, err := d.state(ctx, team)
	if err != nil {
		return err
	}
	now := d.Now()
	if rev == 0 {
		// First sight of the team: open its first window.
		b, _ := wire.Marshal(State{WindowStart: now})
		if _, err := d.states.Create(ctx, team, b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
		return nil
	}
	pending := int64(subjectCount) - int64(st.SubjectCount)
	due := !now.Before(st.WindowStart.Add(d.Interval))
	early := pending >= int64(d.EarlyAt) && now.Sub(st.LastEarly) >= d.EarlyEvery
	if !due && !early {
		return nil
	}
	// Only one instance flushes a team at a time.
	lrev, err := d.locks.Create(ctx, team, []byte(d.Instance))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { _ = d.locks.Delete(context.Background(), team, jetstream.LastRevision(lrev)) }()
	if !due {
		// An early flush sends the waiting items only: recurring counts
		// (a read of every bug class) wait for the window's end.
		scan = nil
	}
	// A backlog larger than MaxItems goes out in several messages, stored
	// in this round while the lock is held (the Slack worker delivers them
	// at Slack's rate); what is left after maxRounds waits for the next
	// tick.
	for range maxRounds {
		more, err := d.flush(ctx, team, scan)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// maxRounds bounds the messages one check stores for a channel.
const maxRounds = 5

// bugScan reads every bug class once per check round, however many
// teams are due in it, and keeps only those that recurred since their last
// digest: a walk, not a list, so a million classes cost the memory of the
// few that changed.
type bugScan struct {
	policy    *dedup.Policy
	done      bool
	recurring map[string][]*dedup.Bug // by team
	err       error
}

// recurred returns the team's classes whose count moved since their last
// digest.
func (b *bugScan) recurred(ctx context.Context, team string) ([]*dedup.Bug, error) {
	if !b.done {
		b.recurring = map[string][]*dedup.Bug{}
		b.err = b.policy.EachBug(ctx, func(st *dedup.Bug) error {
			if st.Count > st.Digested {
				b.recurring[st.Team] = append(b.recurring[st.Team], st)
			}
			return nil
		})
		b.done = true
	}
	return b.recurring[team], b.err
}

// Flush renders and stores the team's digest for the window ending now
// (nothing to report: no message, the window still closes). Exported for
// tests; the loop calls it under the team's lock.
func (d *Digester) Flush(ctx context.Context, team string) error {
	for {
		more, err := d.flush(ctx, team, &bugScan{policy: d.Policy})
		if err != nil || !more {
			return err
		}
	}
}

// flush stores the team's digest; with scan nil it is an early flush of
// the waiting items only, and the window stays open. more says items were
// left for another message: this one was then an early flush too.
func (d *Digester) flush(ctx context.Context, team string, scan *bugScan) (more bool, err error) {
	st, rev, err := d.state(ctx, team)
	if err != nil {
		return false, err
	}
	now := d.Now()
	id := digestID(team, st)
	stored, err := d.stored(ctx, team, id, st.Cursor)
	if err != nil {
		return false, err
	}
	until := uint64(math.MaxUint64)
	if stored != nil {
		// A flush from this state stored its digest and stopped before
		// moving the cursor: read what the digest covered again, to
		// commit it as it was made.
		until = stored.upTo
		if !stored.closes {
			scan = nil
		} else if scan == nil {
			scan = &bugScan{policy: d.Policy}
		}
	}
	items, upTo, count, more, err := d.readItems(ctx, team, st.Cursor, until)
	if err != nil {
		return false, err
	}
	switch {
	case stored != nil:
		upTo, more = max(upTo, until), false
	case more:
		scan = nil
	}
	dg, bugs, err := d.build(ctx, team, st.WindowStart, now, items, scan)
	if err != nil {
		return false, err
	}
	next := st
	next.SubjectCount += count
	if scan == nil {
		next.LastEarly = now
	} else {
		next.WindowStart = now
	}
	if upTo > next.Cursor {
		next.Cursor = upTo
	}
	if d.Messages != nil && d.AppTeam != nil && d.AppTeam(team) {
		dg.ID, dg.Buttons = id, true
	}
	msg := Render(dg)
	if stored == nil && msg != nil {
		if dg.Buttons {
			// Before the digest is stored: whoever posts it finds it.
			if err := d.Messages.Create(ctx, Message{ID: id, Team: team, Digest: dg}); err != nil {
				return false, err
			}
		}
		if err := d.store(ctx, team, id, msg, items, next.Cursor, scan != nil, now); err != nil {
			return false, err
		}
	}
	if stored != nil || msg != nil {
		next.LastDigest = id
		next.Digests++
	}
	b, _ := wire.Marshal(next)
	if _, err := d.states.Update(ctx, team, b, rev); err != nil {
		return false, fmt.Errorf("advance cursor: %w", err)
	}
	for _, b := range bugs {
		if err := d.Policy.MarkDigested(ctx, b.Key, b.Count); err != nil {
			d.Logger.Warn("bug digest count not updated", "key", b.Key, "err", err)
		}
	}
	return more, nil
}

// digestID is the ID (and Nats-Msg-Id) of the digest flushed from st: the
// team, its window and the first NOTIFY sequence the digest covers. A
// flush repeated from the same state makes the same ID; a stored digest
// moves the cursor past its items or closes its window, so the next one
// has another. The last sequence covered is not part of it: a repeated
// flush may find more items waiting.
func digestID(team string, st State) string {
	return fmt.Sprintf("digest:%s:%d:%d", team, st.WindowStart.UnixMilli(), st.Cursor+1)
}

// Headers of a digest's NOTIFY message: what a repeated flush needs to
// commit it as it was made.
const (
	headerUpTo   = "Alertgate-Digest-Up-To"  // the cursor after it: the last NOTIFY sequence covered
	headerCloses = "Alertgate-Digest-Closes" // "true": it closed its window
)

// storedDigest is a digest found stored before its cursor moved.
type storedDigest struct {
	upTo   uint64
	closes bool
}

// stored finds the digest id among the team's digests stored after
// cursor (every digest made from that cursor is stored after it):
// usually the last committed one and nothing else.
func (d *Digester) stored(ctx context.Context, team, id string, cursor uint64) (*storedDigest, error) {
	subject := bus.DigestSubject(team)
	for seq := cursor + 1; ; {
		m, err := d.Bus.Notify.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if m.Header.Get(jetstream.MsgIDHeader) == id {
			upTo, err := strconv.ParseUint(m.Header.Get(headerUpTo), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("digest %s: %s: %w", id, headerUpTo, err)
			}
			return &storedDigest{upTo: upTo, closes: m.Header.Get(headerCloses) == "true"}, nil
		}
		seq = m.Sequence + 1
	}
}

// store records the digest as pending and stores it in NOTIFY, where the
// Slack sink's worker delivers it; cursor is the cursor after it. The
// record comes first: the worker's own records must not be overwritten,
// and the items stay listed from the moment the cursor moves past them.
func (d *Digester) store(ctx context.Context, team, id string, msg *slackapi.WebhookMessage, items []alertgate.Notification, cursor uint64, closes bool, now time.Time) error {
	body, err := encode(msg)
	if err != nil {
		return fmt.Errorf("digest %s: %w", id, err)
	}
	n := alertgate.Notification{
		ID: id, Sink: alertgate.SinkSlack, Team: team, Type: alertgate.TypeDigest, Key: "digest:" + team,
		CreatedAt: now, Body: body, Items: d.itemRefs(team, items),
	}
	n.Event.Title = msg.Text
	m, err := bus.NotifyMsg(&n)
	if err != nil {
		return fmt.Errorf("digest %s: %w", id, err)
	}
	m.Header.Set(headerUpTo, strconv.FormatUint(cursor, 10))
	if closes {
		m.Header.Set(headerCloses, "true")
	}
	d.Log.Put(ctx, alertgate.Record{Notification: n, State: alertgate.StatePending, UpdatedAt: now})
	if _, err := d.Bus.JS.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("store digest %s: %w", id, err)
	}
	d.Logger.Info("digest stored for delivery", "sink", "slack", "team", team, "digest", id, "items", len(items))
	return nil
}

// readItems returns the team's items after cursor (at most MaxItems, none
// after until), the last sequence read, how many messages that was, and
// whether more are waiting. Of the team's PagerDuty messages only
// incidents are items: a bug that pages is already a bug item.
func (d *Digester) readItems(ctx context.Context, team string, cursor, until uint64) (items []alertgate.Notification, upTo, n uint64, more bool, err error) {
	// A Slack item can be stored twice (it has no Nats-Msg-Id: see
	// bus.PublishNotifications); the copy is read and passed over.
	seen := map[string]bool{}
	subjects := []string{bus.NotifySubject(alertgate.SinkSlack, team), bus.NotifySubject(alertgate.SinkPagerDuty, team)}
	upTo, n, more, err = d.read(ctx, subjects, cursor+1, until, d.MaxItems, func(it alertgate.Notification) {
		if (it.Sink == alertgate.SinkSlack || it.Event.Kind == alertgate.KindIncident) && !seen[it.ID] {
			seen[it.ID] = true
			items = append(items, it)
		}
	})
	if err != nil {
		return nil, 0, 0, false, err
	}
	return items, upTo, n, more, nil
}

// read hands the notifications of subjects from sequence from on to
// visit, at most limit messages and none after until. It returns the last
// sequence read, how many messages that was, and whether more are
// waiting.
func (d *Digester) read(ctx context.Context, subjects []string, from, until uint64, limit int, visit func(alertgate.Notification)) (upTo, n uint64, more bool, err error) {
	cons, pending, err := d.consumer(ctx, subjects, from)
	if err != nil {
		return 0, 0, false, err
	}
	defer d.drop(cons)
	return readFrom(cons, pending, until, limit, visit)
}

// readFrom is read on a consumer with pending messages to deliver.
func readFrom(cons jetstream.Consumer, pending, until uint64, limit int, visit func(alertgate.Notification)) (upTo, n uint64, more bool, err error) {
	want := min(pending, uint64(max(limit, 1)))
	for n < want {
		batch, err := cons.Fetch(int(min(want-n, 500)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return 0, 0, false, err
		}
		got, past := 0, false
		for m := range batch.Messages() {
			got++
			var seq uint64
			if md, err := m.Metadata(); err == nil {
				seq = md.Sequence.Stream
			}
			if past || seq > until {
				past = true // the rest of the batch is drained, not read
				continue
			}
			n++
			upTo = max(upTo, seq)
			var it alertgate.Notification
			if wire.Unmarshal(m.Data(), &it) == nil {
				visit(it)
			}
		}
		if err := batch.Error(); err != nil {
			return 0, 0, false, err
		}
		if got == 0 {
			// The count said more: never send a partial digest quietly.
			return 0, 0, false, fmt.Errorf("read %d of %d digest items", n, want)
		}
		if past {
			return upTo, n, true, nil
		}
	}
	return upTo, n, n < pending, nil
}

// consumer opens a short-lived consumer of NOTIFY on subjects from
// sequence from, and says how many of their messages it has to deliver.
// drop deletes it; it also expires soon after its last use.
func (d *Digester) consumer(ctx context.Context, subjects []string, from uint64) (jetstream.Consumer, uint64, error) {
	cons, err := d.Bus.Notify.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
		AckPolicy:      jetstream.AckNonePolicy,
		// Only this reader reads it: no replicas, nothing on disk.
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, 0, err
	}
	return cons, cons.CachedInfo().NumPending, nil
}

func (d *Digester) drop(cons jetstream.Consumer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.Bus.Notify.DeleteConsumer(ctx, cons.CachedInfo().Name)
}

// Pending lists the bug items no digest carries yet, newest first: those
// after each team's cursor, at most limit in all (sinks.PendingLister).
func (d *Digester) Pending(ctx context.Context, limit int) ([]alertgate.Notification, error) {
	if d.states == nil || limit < 1 {
		return nil, nil
	}
	var all []alertgate.Notification
	for _, team := range d.Teams {
		st, _, err := d.state(ctx, team)
		if err != nil {
			return nil, err
		}
		items, err := d.newest(ctx, bus.NotifySubject(alertgate.SinkSlack, team), st.Cursor, limit)
		if err != nil {
			return nil, fmt.Errorf("team %s: %w", team, err)
		}
		all = append(all, items...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreatedAt.After(all[j].CreatedAt) })
	return all[:min(len(all), limit)], nil
}

// newest returns the last limit notifications of subject after cursor,
// newest first, each ID once.
func (d *Digester) newest(ctx context.Context, subject string, cursor uint64, limit int) ([]alertgate.Notification, error) {
	last, err := d.Bus.Notify.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if last.Sequence <= cursor {
		return nil, nil
	}
	subjects := []string{subject}
	cons, n, err := d.consumer(ctx, subjects, cursor+1)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		d.drop(cons)
		from, err := d.tail(ctx, subject, cursor+1, last.Sequence, limit)
		if err != nil {
			return nil, err
		}
		if cons, n, err = d.consumer(ctx, subjects, from); err != nil {
			return nil, err
		}
	}
	defer d.drop(cons)
	var out []alertgate.Notification
	seen := map[string]bool{}
	_, _, _, err = readFrom(cons, n, last.Sequence, limit, func(n alertgate.Notification) {
		if !seen[n.ID] {
			seen[n.ID] = true
			out = append(out, n)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	return out, nil
}

// tail returns the sequence from which the last limit messages of subject
// in [from, last] begin, when more than limit are left after from. A
// backlog larger than limit (a storm of new bug classes) is searched by
// the count of what is left after a sequence, a few dozen probes at most,
// rather than read.
func (d *Digester) tail(ctx context.Context, subject string, from, last uint64, limit int) (uint64, error) {
	// More than limit are left after lo, at most limit after hi (last
	// itself is one).
	lo, hi := from, last
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		cons, n, err := d.consumer(ctx, []string{subject}, mid)
		if err != nil {
			return 0, err
		}
		d.drop(cons)
		if n > uint64(limit) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// itemsBudget bounds the bytes of item references one digest record
// carries, well inside JetStream's default 1 MB message.
const itemsBudget = 256 << 10

// itemRefs are the digest's bug items as its record lists them (pages have
// their sink's records). Past itemsBudget the rest are left out, and said so.
func (d *Digester) itemRefs(team string, items []alertgate.Notification) []alertgate.DigestItem {
	var refs []alertgate.DigestItem
	size := 0
	for i, it := range items {
		if it.Sink != alertgate.SinkSlack {
			continue
		}
		ref := alertgate.DigestItem{ID: it.ID, Type: it.Type, Key: it.Key, Title: Truncate(it.Event.Title, 100), CreatedAt: it.CreatedAt}
		size += len(ref.ID) + len(ref.Key) + len(ref.Title) + 100
		if size > itemsBudget {
			d.Logger.Warn("digest record lists only some of its items", "team", team, "listed", len(refs), "items", len(items)-i+len(refs))
			break
		}
		refs = append(refs, ref)
	}
	return refs
}

// build assembles the digest model from the items and the bug states.
func (d *Digester) build(ctx context.Context, team string, from, to time.Time, items []alertgate.Notification, scan *bugScan) (Digest, []*dedup.Bug, error) {
	dg := Digest{Team: team, WindowStart: from, WindowEnd: to, PublicURL: d.PublicURL}
	// The classes the items name, read one by one: cheap whatever the
	// number of classes.
	bugs := map[string]*dedup.Bug{}
	var changed []*dedup.Bug
	for _, it := range items {
		switch it.Type {
		case alertgate.TypeBugNew, alertgate.TypeBugRegression, alertgate.TypeBugSpike:
		default:
			continue
		}
		if it.Hold != nil {
			continue
		}
		if _, ok := bugs[it.Key]; ok {
			continue
		}
		b, err := d.Policy.Bug(ctx, it.Key)
		if err != nil {
			return dg, nil, err
		}
		bugs[it.Key] = b
		if b != nil {
			changed = append(changed, b)
		}
	}
	var recurring []*dedup.Bug
	if scan != nil {
		moved, err := scan.recurred(ctx, team)
		if err != nil {
			return dg, nil, err
		}
		for _, b := range moved {
			if _, named := bugs[b.Key]; !named {
				recurring = append(recurring, b)
				changed = append(changed, b)
			}
		}
	}
	for _, it := range items { // each ID once: readItems passed over copies
		if it.Hold != nil {
			dg.Held = append(dg.Held, Held{Key: it.Key, Title: it.Event.Title, Service: it.Event.Service, Source: string(it.Event.Source),
				Reason: it.Hold.Reason, Detail: it.Hold.Detail, Resolved: it.Event.Status == alertgate.StatusResolved, At: it.CreatedAt})
			continue
		}
		switch it.Type {
		case alertgate.TypeBugNew, alertgate.TypeBugRegression, alertgate.TypeBugSpike:
			b := bugItem(it, bugs[it.Key])
			b.Related = d.related(it, true)
			switch it.Type {
			case alertgate.TypeBugNew:
				dg.New = append(dg.New, b)
			case alertgate.TypeBugRegression:
				dg.Regressions = append(dg.Regressions, b)
			default:
				dg.Spikes = append(dg.Spikes, b)
			}
		case alertgate.TypePage:
			in := d.incidentItem(ctx, it)
			dg.Opened = append(dg.Opened, in)
			if it.Runbook == nil {
				dg.NoRunbook = append(dg.NoRunbook, in)
			}
		case alertgate.TypeResolve:
			dg.Resolved = append(dg.Resolved, d.incidentItem(ctx, it))
		}
	}
	for _, b := range recurring {
		dg.Recurring = append(dg.Recurring, bugItem(alertgate.Notification{Key: b.Key}, b))
	}
	// Items of different keys are decided side by side and reach NOTIFY in
	// either order: list them by time, then key, so that the same window
	// reads the same whichever router was faster.
	byTime := func(at func(Incident) time.Time) func(a, b Incident) int {
		return func(a, b Incident) int {
			if c := at(a).Compare(at(b)); c != 0 {
				return c
			}
			return cmp.Compare(a.Key, b.Key)
		}
	}
	opened := byTime(func(in Incident) time.Time { return in.OpenedAt })
	slices.SortStableFunc(dg.Opened, opened)
	slices.SortStableFunc(dg.NoRunbook, opened)
	slices.SortStableFunc(dg.Resolved, byTime(func(in Incident) time.Time { return in.ResolvedAt }))
	slices.SortStableFunc(dg.Held, func(a, b Held) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	firstSeen := func(a, b Bug) int {
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	}
	slices.SortStableFunc(dg.New, firstSeen)
	lastSeen := func(a, b Bug) int {
		if c := a.LastSeen.Compare(b.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	}
	slices.SortStableFunc(dg.Regressions, lastSeen)
	slices.SortStableFunc(dg.Spikes, lastSeen)
	sort.SliceStable(dg.Recurring, func(i, j int) bool {
		if dg.Recurring[i].CountSince != dg.Recurring[j].CountSince {
			return dg.Recurring[i].CountSince > dg.Recurring[j].CountSince
		}
		return dg.Recurring[i].Key < dg.Recurring[j].Key
	})
	return dg, changed, nil
}

// Correlator answers what shares a key's correlation labels as of a time
// (related.Index).
type Correlator interface {
	Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related
}

// related is what went on where its notification was decided: for a bug
// item only the open incidents (it says "during" one).
func (d *Digester) related(it alertgate.Notification, incidentsOnly bool) *alertgate.Related {
	if d.Related == nil || it.Event.Labels == nil {
		return nil
	}
	rel := d.Related.Related(it.Event.Labels, it.Key, it.CreatedAt)
	if rel != nil && incidentsOnly {
		rel.Bugs, rel.MoreBugs = nil, 0
	}
	return rel
}

func bugItem(it alertgate.Notification, st *dedup.Bug) Bug {
	b := Bug{Key: it.Key, Title: it.Event.Title, Service: it.Event.Service, Source: string(it.Event.Source), Reason: it.Reason, Severity: it.Event.Severity, FirstSeen: it.CreatedAt, LastSeen: it.CreatedAt, Count: 1, CountSince: 1}
	if len(it.Event.Links) > 0 {
		b.Link = it.Event.Links[0].Href
	}
	if st != nil {
		if b.Title == "" {
			b.Title = st.Title
		}
		if b.Service == "" {
			b.Service = st.Service
		}
		if b.Source == "" {
			b.Source = string(st.Source)
		}
		if b.Link == "" && len(st.Links) > 0 {
			b.Link = st.Links[0].Href
		}
		if b.Severity == "" {
			b.Severity = st.Severity
		}
		b.FirstSeen, b.LastSeen, b.Count, b.CountSince = st.FirstSeen, st.LastSeen, st.Count, st.Count-st.Digested
	}
	return b
}

func (d *Digester) incidentItem(ctx context.Context, it alertgate.Notification) Incident {
	in := Incident{Key: it.Key, Title: it.Event.Title, Service: it.Event.Service, Source: string(it.Event.Source), DedupKey: it.DedupKey, Severity: it.Event.Severity}
	if it.Type == alertgate.TypePage {
		in.Related = d.related(it, false)
	}
	if len(it.Event.Links) > 0 {
		in.Link = it.Event.Links[0].Href
	}
	if it.Runbook != nil {
		in.RunbookURL, in.RunbookTitle = it.Runbook.URL, it.Runbook.Title
	}
	in.OpenedAt = it.CreatedAt
	if it.Type == alertgate.TypeResolve {
		in.ResolvedAt = it.CreatedAt
		if st, err := d.Policy.Incident(ctx, it.Key); err == nil && st != nil {
			for _, ep := range st.Episodes {
				if ep.ID == it.Episode {
					in.OpenedAt = ep.OpenedAt
					if in.RunbookURL == "" {
						in.RunbookURL = ep.Runbook
					}
				}
			}
			if in.Title == "" {
				in.Title = st.Title
			}
		}
	}
	return in
}

// Running reports whether the flush loop runs.
func (d *Digester) Running() error {
	if d.done == nil {
		return errors.New("digest loop not started")
	}
	select {
	case <-d.done:
		return errors.New("digest loop stopped")
	default:
		return nil
	}
}

// Busy reports whether any instance holds a team's flush lock right now
// (a flush is under way), for tests and tools that need a quiet moment.
func (d *Digester) Busy(ctx context.Context) (bool, error) {
	for _, team := range d.Teams {
		_, err := d.locks.Get(ctx, team)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return false, err
		}
	}
	return false, nil
}

var _ sinks.PendingLister = (*Digester)(nil)
