package dedup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/internal/wire"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openBus starts an embedded JetStream in dir; close stops it (also at the
// end of the test) and may be called more than once.
func openBus(t *testing.T, o bus.Options) (b *bus.Bus, close func()) {
	t.Helper()
	if o.URL == "" && o.DataDir == "" {
		o.DataDir = t.TempDir() // never the working directory
	}
	deadline := time.Now().Add(15 * time.Second)
	var err error
	for {
		// An attempt of a few seconds: a cluster may drop a request while
		// it moves its JetStream leader.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		b, err = bus.Open(ctx, o, discard)
		cancel()
		if err == nil || o.URL == "" || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	var once sync.Once
	close = func() { once.Do(b.Close) }
	t.Cleanup(close)
	return b, close
}

func newPolicy(b *bus.Bus) *Policy {
	return &Policy{Incidents: NewBucket(b.JS, b.Incidents), Bugs: NewBucket(b.JS, b.Bugs), Settings: testSettings}
}

// recorder is an Emitter that remembers every notification it was given.
type recorder struct {
	mu  sync.Mutex
	got []alertgate.Notification
	err error // returned by Emit when set
}

func (r *recorder) Emit(_ context.Context, ns []alertgate.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ns...)
	return r.err
}

// emitFunc is an Emitter that runs a test's own code on each emit.
type emitFunc func(ctx context.Context, ns []alertgate.Notification) error

func (f emitFunc) Emit(ctx context.Context, ns []alertgate.Notification) error { return f(ctx, ns) }

// conflictCount counts lost compare-and-sets, as the metrics do.
type conflictCount struct{ atomic.Int64 }

func (c *conflictCount) KVConflict(string) { c.Add(1) }

// ids lists the IDs of the notifications to sink, or to any sink if "".
func (r *recorder) ids(sink alertgate.Sink) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.got {
		if sink == "" || n.Sink == sink {
			out = append(out, n.ID)
		}
	}
	return out
}

func distinct(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

// State survives new Policy values and a restart of JetStream: every
// decision is read from and written to KV.
func TestPolicyApplyPersists(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	b, closeBus := openBus(t, bus.Options{DataDir: dir})
	steps := []struct {
		restart bool // close JetStream and open it again from dir first
		ev      alertgate.Event
		outcome string
	}{
		// The first firing pages.
		{ev: incident(incKey, "ep1", alertgate.StatusFiring, t0), outcome: OutcomePaged},
		// A re-send through a fresh Policy: the state came from KV.
		{ev: incident(incKey, "ep1", alertgate.StatusFiring, t0.Add(time.Minute)), outcome: OutcomeDuplicate},
		// After a restart the open episode is still known and resolves.
		{restart: true, ev: incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(10*time.Minute)), outcome: OutcomeResolved},
		// A bug class is new once...
		{ev: bug(bugKey, alertgate.StatusFiring, t0, 1), outcome: OutcomeNew},
		// ...and counted after a restart.
		{restart: true, ev: bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 2), outcome: OutcomeCounted},
	}
	rec := &recorder{}
	for i, s := range steps {
		if s.restart {
			closeBus()
			b, closeBus = openBus(t, bus.Options{DataDir: dir})
		}
		d, err := newPolicy(b).Apply(ctx, s.ev, payments, rec)
		if err != nil {
			t.Fatalf("step %d: Apply: %v", i, err)
		}
		if got, want := d.Outcome, s.outcome; got != want {
			t.Fatalf("step %d: outcome=%q (%s), want %q", i, got, d.Reason, want)
		}
	}
	p := newPolicy(b)
	inc, err := p.Incident(ctx, incKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(inc.Episodes), 1; got != want {
		t.Fatalf("len(Episodes)=%v, want %v", got, want)
	}
	if got, want := inc.Episodes[0].Status, EpisodeResolved; got != want {
		t.Fatalf("episode Status=%v, want %v", got, want)
	}
	// The resolve carries the dedup key of the page sent before the restart.
	var page, resolve string
	for _, n := range rec.got {
		switch {
		case n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypePage:
			page = n.DedupKey
		case n.Sink == alertgate.SinkPagerDuty && n.Type == alertgate.TypeResolve:
			resolve = n.DedupKey
		}
	}
	if got, want := resolve, page; got != want || got == "" {
		t.Fatalf("resolve dedup key=%q, want the page's %q", got, want)
	}
	bg, err := p.Bug(ctx, bugKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bg.Count, int64(3); got != want {
		t.Fatalf("bug Count=%v, want %v", got, want)
	}
	// Keys never seen have no state.
	if inc, err := p.Incident(ctx, "alertmanager:v1:never"); inc != nil || err != nil {
		t.Fatalf("Incident(never seen)=%v, %v, want nil, nil", inc, err)
	}
	if bg, err := p.Bug(ctx, "sentry:v1:never"); bg != nil || err != nil {
		t.Fatalf("Bug(never seen)=%v, %v, want nil, nil", bg, err)
	}
}

// The state, with the decision's notifications in its outbox, is written
// before they are emitted: when emit fails, Apply fails with the state
// already stored, and the event decided again (redelivered) finds its
// outbox and emits exactly the same notifications, writing nothing more.
func TestPolicyWriteBeforeEmit(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)
	errDown := errors.New("jetstream down")
	revision := func() uint64 {
		e, err := b.Incidents.Get(ctx, StateKey(incKey))
		if err != nil {
			return 0
		}
		return e.Revision()
	}

	for _, tc := range []struct {
		name    string
		ev      alertgate.Event
		outcome string
	}{
		// A first firing: the page is in the state written.
		{name: "page", ev: incident(incKey, "ep1", alertgate.StatusFiring, t0), outcome: OutcomePaged},
		// A resolve of the open episode: the stored state has it resolved.
		{name: "resolve", ev: incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(time.Minute)), outcome: OutcomeResolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := revision()
			var revAtEmit uint64
			failed := &recorder{err: errDown}
			_, err := p.Apply(ctx, tc.ev, payments, emitFunc(func(ctx context.Context, ns []alertgate.Notification) error {
				revAtEmit = revision()
				return failed.Emit(ctx, ns)
			}))
			if !errors.Is(err, errDown) {
				t.Fatalf("Apply with failing emit: err=%v, want %v", err, errDown)
			}
			stored := revision()
			if stored == before {
				t.Fatalf("state revision=%v after a failed emit, want a new one (written before the emit)", stored)
			}
			if got, want := revAtEmit, stored; got != want {
				t.Fatalf("revision during emit=%v, want %v (write before emit)", got, want)
			}
			if got, want := len(failed.got), 1; got != want {
				t.Fatalf("failing emit got %v notifications, want %v", got, want)
			}
			st, err := p.Incident(ctx, incKey)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := st.Last.Outcome, tc.outcome; got != want {
				t.Fatalf("stored outcome=%q, want %q", got, want)
			}
			if got, want := len(st.Outbox), 1; got != want {
				t.Fatalf("outbox entries=%d, want %d", got, want)
			}
			if got, want := notes(st.Outbox[0].notifications()), notes(failed.got); got != want {
				t.Fatalf("outbox=\n%s\nwant\n%s", got, want)
			}

			// The event again: its outbox is emitted, nothing decided or
			// written.
			ok := &recorder{}
			d, err := p.Apply(ctx, tc.ev, payments, ok)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := d.Outcome, OutcomeDuplicate; got != want {
				t.Fatalf("outcome=%q, want %q (already decided)", got, want)
			}
			if got, want := revision(), stored; got != want {
				t.Fatalf("revision=%v after the event again, want %v (no write)", got, want)
			}
			// The retry emitted exactly what the failed attempt did.
			if got, want := strings.Join(ok.ids(""), ","), strings.Join(failed.ids(""), ","); got != want {
				t.Fatalf("IDs on retry=%v, want %v", got, want)
			}
			if got, want := notes(ok.got), notes(failed.got); got != want {
				t.Fatalf("notifications on retry=\n%s\nwant\n%s", got, want)
			}
			if got, want := ok.got[0].Event.ID, tc.ev.ID; got != want {
				t.Fatalf("re-emitted notification's event=%q, want %q", got, want)
			}
		})
	}
}

// ackFloor is Acks for tests: messages up to floor are acknowledged.
type ackFloor struct{ floor atomic.Uint64 }

func (a *ackFloor) Acknowledged(seq uint64) bool { return seq <= a.floor.Load() }

// The router dies between writing a page's state and emitting it. Events
// of the key keep coming (to another router) before the page's message is
// redelivered: a re-send finds the episode open and sends nothing, but
// keeps the pending page; the redelivery emits it; a resolve decided
// while the page is still unacknowledged emits the page ahead of itself;
// once acknowledged, the next write drops the entries.
func TestPolicyOutboxAcrossDeliveries(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)
	acks := &ackFloor{}
	p.Acks = acks
	errDown := errors.New("killed")
	outbox := func() []string {
		st, err := p.Incident(ctx, incKey)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range st.Outbox {
			for _, n := range e.Notifications {
				ids = append(ids, n.ID)
			}
		}
		return ids
	}
	page, resolve := "page:"+incKey+":ep1:1", "resolve:"+incKey+":ep1:1"

	// Message 1: the firing; its state is written, the emit never happens.
	fire := incident(incKey, "ep1", alertgate.StatusFiring, t0)
	if _, err := p.ApplyDelivered(ctx, fire, 1, payments, &recorder{err: errDown}); !errors.Is(err, errDown) {
		t.Fatalf("err=%v, want %v", err, errDown)
	}
	// Message 2: a re-send, on another router, acknowledged.
	rec := &recorder{}
	d, err := p.ApplyDelivered(ctx, incident(incKey, "ep1", alertgate.StatusFiring, t0.Add(time.Minute)), 2, payments, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Outcome, OutcomeDuplicate; got != want {
		t.Fatalf("re-send: outcome=%q, want %q", got, want)
	}
	if got, want := strings.Join(outbox(), " "), page; got != want {
		t.Fatalf("outbox after the re-send=%q, want %q (the page still pending)", got, want)
	}
	// Message 1 redelivered: the page is emitted, not decided again.
	d, err = p.ApplyDelivered(ctx, fire, 1, payments, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Outcome, OutcomeDuplicate; got != want {
		t.Fatalf("redelivery: outcome=%q, want %q", got, want)
	}
	if got, want := strings.Join(rec.ids(""), " "), page; got != want {
		t.Fatalf("emitted=%q, want %q", got, want)
	}
	// Message 3: the resolve, before message 1's acknowledgement is seen:
	// the page goes ahead of it again (NOTIFY drops the copy by its ID).
	if _, err := p.ApplyDelivered(ctx, incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(time.Hour)), 3, payments, rec); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rec.ids(""), " "), page+" "+page+" "+resolve; got != want {
		t.Fatalf("emitted=%q, want %q", got, want)
	}
	if got, want := strings.Join(outbox(), " "), page+" "+resolve; got != want {
		t.Fatalf("outbox=%q, want %q", got, want)
	}
	// All three acknowledged: the next write drops both entries.
	acks.floor.Store(3)
	if _, err := p.ApplyDelivered(ctx, incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(2*time.Hour)), 4, payments, rec); err != nil {
		t.Fatal(err)
	}
	if got := outbox(); len(got) != 0 {
		t.Fatalf("outbox=%q after the acknowledgements, want none", got)
	}
	if got, want := len(rec.got), 3; got != want {
		t.Fatalf("emitted %d notifications, want %d", got, want)
	}
}

func TestPolicyConcurrentApply(t *testing.T) {
	runConcurrent(t, bus.Options{DataDir: t.TempDir()})
}

// On a replicated bucket a lost compare-and-set is reported with another
// error code than on a single replica; it must still be retried, not
// returned as an error.
func TestPolicyConcurrentApplyReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	runConcurrent(t, bus.Options{URL: natstest.StartCluster(t, 3).URL(), Replicas: 3})
}

// runConcurrent has N routers race on one key. Whatever the interleaving,
// the set of notifications is what one router alone would send, and no
// update is lost.
func runConcurrent(t *testing.T, o bus.Options) {
	const n = 8
	b, _ := openBus(t, o)
	for _, tc := range []struct {
		name  string
		event func(i int) alertgate.Event // the event of goroutine i
		check func(t *testing.T, p *Policy, outcomes []string, rec *recorder)
	}{
		{
			// The same firing N times (a redelivery racing the original):
			// one page, one open episode.
			name:  "same episode",
			event: func(int) alertgate.Event { return incident("race:same", "ep1", alertgate.StatusFiring, t0) },
			check: func(t *testing.T, p *Policy, outcomes []string, rec *recorder) {
				if got, want := count(outcomes, OutcomePaged), 1; got != want {
					t.Fatalf("paged %v times, want %v (outcomes %v)", got, want, outcomes)
				}
				if got, want := count(outcomes, OutcomeDuplicate), n-1; got != want {
					t.Fatalf("duplicate %v times, want %v", got, want)
				}
				if got, want := len(distinct(rec.ids(alertgate.SinkPagerDuty))), 1; got != want {
					t.Fatalf("distinct page IDs=%v, want %v", got, want)
				}
				st, err := p.Incident(t.Context(), "race:same")
				if err != nil {
					t.Fatal(err)
				}
				if got, want := len(st.Open()), 1; got != want {
					t.Fatalf("open episodes=%v, want %v", got, want)
				}
				if got, want := len(st.Episodes), 1; got != want {
					t.Fatalf("episodes=%v, want %v", got, want)
				}
			},
		},
		{
			// N different episodes of one key at once: N pages, none lost
			// from the state.
			name: "distinct episodes",
			event: func(i int) alertgate.Event {
				return incident("race:episodes", fmt.Sprintf("ep%d", i), alertgate.StatusFiring, t0)
			},
			check: func(t *testing.T, p *Policy, outcomes []string, rec *recorder) {
				if got, want := count(outcomes, OutcomePaged), n; got != want {
					t.Fatalf("paged %v times, want %v (outcomes %v)", got, want, outcomes)
				}
				if got, want := len(distinct(rec.ids(alertgate.SinkPagerDuty))), n; got != want {
					t.Fatalf("distinct page IDs=%v, want %v", got, want)
				}
				st, err := p.Incident(t.Context(), "race:episodes")
				if err != nil {
					t.Fatal(err)
				}
				if got, want := len(st.Open()), n; got != want {
					t.Fatalf("open episodes=%v, want %v", got, want)
				}
			},
		},
		{
			// N occurrences of a new bug class at once: announced once,
			// every occurrence counted.
			// The 5th of them reaches SpikeCount: one spike too.
			name:  "new bug class",
			event: func(i int) alertgate.Event { return bug("race:bug", alertgate.StatusFiring, t0, 1) },
			check: func(t *testing.T, p *Policy, outcomes []string, rec *recorder) {
				if got, want := count(outcomes, OutcomeNew), 1; got != want {
					t.Fatalf("new %v times, want %v (outcomes %v)", got, want, outcomes)
				}
				if got, want := count(outcomes, OutcomeSpike), 1; got != want {
					t.Fatalf("spike %v times, want %v (outcomes %v)", got, want, outcomes)
				}
				if got, want := count(outcomes, OutcomeCounted), n-2; got != want {
					t.Fatalf("counted %v times, want %v (outcomes %v)", got, want, outcomes)
				}
				if got, want := strings.Join(distinct(rec.ids(alertgate.SinkSlack)), " "), fmt.Sprintf("digest:bug_new:race:bug:%d digest:bug_spike:race:bug:%d", t0.UnixNano(), t0.UnixNano()); got != want {
					t.Fatalf("distinct digest IDs=%v, want %v", got, want)
				}
				st, err := p.Bug(t.Context(), "race:bug")
				if err != nil {
					t.Fatal(err)
				}
				if got, want := st.Count, int64(n); got != want {
					t.Fatalf("Count=%v, want %v (an update was lost)", got, want)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			var conflicts conflictCount
			p := newPolicy(b)
			p.Conflicts = &conflicts
			rec := &recorder{}
			outcomes := make([]string, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					d, err := p.Apply(ctx, tc.event(i), payments, rec)
					outcomes[i], errs[i] = d.Outcome, err
				})
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			tc.check(t, p, outcomes, rec)
			// How many lost the compare-and-set depends on scheduling (about
			// 19 per round on an idle machine, none when the goroutines
			// happen to run one after another): TestPolicyLostRace forces one.
			t.Logf("conflicts: %d", conflicts.Load())
		})
	}
}

func count(outcomes []string, outcome string) int {
	n := 0
	for _, o := range outcomes {
		if o == outcome {
			n++
		}
	}
	return n
}

// The page emitted by racing routers is stored once in NOTIFY: the
// notification ID is the Nats-Msg-Id.
func TestPolicyConcurrentApplyStoresOnePage(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)
	emit := emitFunc(func(ctx context.Context, ns []alertgate.Notification) error {
		_, err := b.PublishNotifications(ctx, ns)
		return err
	})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	start := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = p.Apply(ctx, incident(incKey, "ep1", alertgate.StatusFiring, t0), payments, emit)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	info, err := b.Notify.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One page (the team's digest reads it too).
	if got, want := info.State.Msgs, uint64(1); got != want {
		t.Fatalf("NOTIFY holds %v messages, want %v", got, want)
	}
}

var kvKey = regexp.MustCompile(`^[-/_=A-Za-z0-9]+$`)

func TestStateKey(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)
	for _, tc := range []struct {
		name       string
		key        string
		reversible bool // KeyOf gives the key back
	}{
		// Source prefixes and versions use ':'.
		{name: "colons", key: "alertmanager:v1:0335742509d16c93", reversible: true},
		// Datadog scopes carry '/', ':' and spaces.
		{name: "slash and spaces", key: "datadog:v1:123/host:web-1 env:prod", reversible: true},
		// Dots would split a KV key into tokens.
		{name: "dots", key: "events:v1:svc.checkout.latency", reversible: true},
		// Anything a source may send.
		{name: "unicode", key: "events:v1:ünïcödé/日本語 🔥", reversible: true},
		// Wildcards of NATS subjects.
		{name: "wildcards", key: "events:v1:*.>", reversible: true},
		// The longest key kept reversible.
		{name: "2048 bytes", key: strings.Repeat("k", 2048), reversible: true},
		// Longer keys are hashed so the KV subject stays under NATS's
		// control line.
		{name: "2049 bytes", key: strings.Repeat("k", 2049)},
		// A key larger than the control line used to make the server close
		// the connection.
		{name: "100 KB", key: strings.Repeat("🔥", 25000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sk := StateKey(tc.key)
			if !kvKey.MatchString(sk) {
				t.Fatalf("StateKey=%q is not a single-token KV key", sk)
			}
			if got, want := len(sk) <= 2731, true; got != want {
				t.Fatalf("len(StateKey)=%d, want ≤2731", len(sk))
			}
			if got, want := StateKey(tc.key), sk; got != want {
				t.Fatalf("StateKey not deterministic: %q, want %q", got, want)
			}
			if StateKey(tc.key+"x") == sk {
				t.Fatalf("keys %q and %q+x share state key %q", tc.key, tc.key, sk)
			}
			k, err := KeyOf(sk)
			if got, want := err == nil, tc.reversible; got != want {
				t.Fatalf("KeyOf: err=%v, want reversible=%v", err, want)
			}
			if tc.reversible {
				if got, want := k, tc.key; got != want {
					t.Fatalf("KeyOf(StateKey(k))=%q, want %q", got, want)
				}
			}
			// The key works against JetStream and the state holds the key.
			if _, err := p.Apply(ctx, incident(tc.key, "ep1", alertgate.StatusFiring, t0), payments, &recorder{}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			st, err := p.Incident(ctx, tc.key)
			if err != nil || st == nil {
				t.Fatalf("Incident: %v, %v", st, err)
			}
			if got, want := st.Key, tc.key; got != want {
				t.Fatalf("state Key=%.40q, want %.40q", got, want)
			}
			if !b.NC.IsConnected() {
				t.Fatal("connection to NATS lost")
			}
		})
	}
	// Two keys that differ only in the characters base64 would fold.
	if StateKey("a:b") == StateKey("a/b") {
		t.Fatal(`"a:b" and "a/b" share a state key`)
	}
	if _, err := KeyOf("not base64!"); err == nil {
		t.Fatal("KeyOf(garbage): no error")
	}
}

// collect walks a bucket with one of Policy's Each methods into a list.
func collect[T any](ctx context.Context, each func(context.Context, func(*T) error) error) ([]*T, error) {
	var out []*T
	err := each(ctx, func(v *T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

func TestPolicyList(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)

	// Empty buckets walk nothing (and do not wait for updates).
	if got, err := collect(ctx, p.EachIncident); err != nil || len(got) != 0 {
		t.Fatalf("EachIncident on empty bucket=%v, %v, want none", got, err)
	}
	if got, err := collect(ctx, p.EachBug); err != nil || len(got) != 0 {
		t.Fatalf("EachBug on empty bucket=%v, %v, want none", got, err)
	}

	rec := &recorder{}
	events := []struct {
		ev alertgate.Event
		m  alertgate.Match
	}{
		// An open incident.
		{incident("am:1", "e", alertgate.StatusFiring, t0), payments},
		// An incident opened and resolved: one entry, its latest state.
		{incident("am:2", "e", alertgate.StatusFiring, t0), platform},
		{incident("am:2", "e", alertgate.StatusResolved, t0.Add(time.Minute)), platform},
		// A key that is no valid KV key as it is.
		{incident("am:3 with/odd:chars", "e", alertgate.StatusFiring, t0), payments},
		// A bug class seen twice (1 + 4 occurrences).
		{bug("sentry:1", alertgate.StatusFiring, t0, 1), payments},
		{bug("sentry:1", alertgate.StatusFiring, t0, 4), payments},
		// A class first seen muted.
		{bug("sentry:2", alertgate.StatusMuted, t0, 1), platform},
	}
	for _, e := range events {
		if _, err := p.Apply(ctx, e.ev, e.m, rec); err != nil {
			t.Fatal(err)
		}
	}
	incs, err := collect(ctx, p.EachIncident)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range incs {
		got = append(got, fmt.Sprintf("%s team=%s open=%d", in.Key, in.Team, len(in.Open())))
	}
	slices.Sort(got)
	if got, want := strings.Join(got, "\n"), "am:1 team=payments open=1\nam:2 team=platform open=0\nam:3 with/odd:chars team=payments open=1"; got != want {
		t.Fatalf("EachIncident=\n%s\nwant\n%s", got, want)
	}
	bugs, err := collect(ctx, p.EachBug)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, bg := range bugs {
		got = append(got, fmt.Sprintf("%s team=%s status=%s count=%d", bg.Key, bg.Team, bg.Status, bg.Count))
	}
	slices.Sort(got)
	if got, want := strings.Join(got, "\n"), "sentry:1 team=payments status=open count=5\nsentry:2 team=platform status=muted count=0"; got != want {
		t.Fatalf("EachBug=\n%s\nwant\n%s", got, want)
	}
}

// racingBucket is a Bucket on which another router wins the race for each
// key in lose: before this router's first write of the key goes out, rival
// writes the key (through its own policy), so the write loses the
// compare-and-set.
type racingBucket struct {
	stateBucket
	mu    sync.Mutex
	lose  map[string]bool // state keys whose first write loses
	rival func(ctx context.Context, key string) error
}

func (b *racingBucket) race(ctx context.Context, key string) error {
	b.mu.Lock()
	lose := b.lose[key]
	delete(b.lose, key)
	b.mu.Unlock()
	if !lose {
		return nil
	}
	return b.rival(ctx, key)
}

func (b *racingBucket) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if err := b.race(ctx, key); err != nil {
		return 0, err
	}
	return b.stateBucket.Create(ctx, key, value, opts...)
}

func (b *racingBucket) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if err := b.race(ctx, key); err != nil {
		return 0, err
	}
	return b.stateBucket.Update(ctx, key, value, rev)
}

func (b *racingBucket) UpdateTTL(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if err := b.race(ctx, key); err != nil {
		return 0, err
	}
	return b.stateBucket.UpdateTTL(ctx, key, value, rev, ttl)
}

// stateBucket names the Bucket embedded in a wrapper (a field named Bucket
// would hide KeyValue's Bucket method).
type stateBucket = Bucket

// A competing router writes the key between this router's read and its
// write: the write loses the compare-and-set, Conflicts is told, and the
// decision is taken again on the winner's state. The loser emits nothing
// of the decision it could not store.
func TestPolicyLostRace(t *testing.T) {
	b, _ := openBus(t, bus.Options{})
	ctx := testContext(t)
	rival := newPolicy(b)
	rivalSent := &recorder{}
	for _, tc := range []struct {
		name     string
		rival    alertgate.Event // what the winner decides first
		outcome  string          // the loser's decision on the winner's state
		rivalIDs string          // what the winner emitted
		loserIDs string          // what the loser emitted
	}{
		// The rival pages the same episode first (another copy of the
		// firing): the loser finds it open.
		{name: "same episode", rival: incident("race:lost", "ep1", alertgate.StatusFiring, t0.Add(time.Second)), outcome: OutcomeDuplicate, rivalIDs: "page:race:lost:ep1:1"},
		// The rival decides the very same event (a redelivery racing the
		// first delivery): the loser finds that event's decision stored and
		// emits it again, under the same ID, which NOTIFY stores once.
		{name: "same event", rival: incident("race:same", "ep1", alertgate.StatusFiring, t0), outcome: OutcomeDuplicate, rivalIDs: "page:race:same:ep1:1", loserIDs: "page:race:same:ep1:1"},
		// The episode's resolve overtakes its firing on the other router:
		// the firing is then a late re-send of an episode that is over. A
		// page emitted before the lost write would be one no state has.
		{name: "resolve overtakes", rival: incident("race:overtaken", "ep1", alertgate.StatusResolved, t0.Add(time.Second)), outcome: OutcomeStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conflicts conflictCount
			p := newPolicy(b)
			p.Conflicts = &conflicts
			p.Incidents = &racingBucket{stateBucket: p.Incidents, lose: map[string]bool{StateKey(tc.rival.Key): true}, rival: func(ctx context.Context, _ string) error {
				_, err := rival.Apply(ctx, tc.rival, payments, rivalSent)
				return err
			}}
			rivalSent.got = nil
			sent := &recorder{}
			d, err := p.Apply(ctx, incident(tc.rival.Key, "ep1", alertgate.StatusFiring, t0), payments, sent)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := conflicts.Load(), int64(1); got != want {
				t.Fatalf("conflicts=%d, want %d", got, want)
			}
			if got, want := d.Outcome, tc.outcome; got != want {
				t.Fatalf("outcome after the lost race=%s, want %s", got, want)
			}
			if got, want := strings.Join(sent.ids(""), " "), tc.loserIDs; got != want {
				t.Fatalf("the loser emitted %q, want %q", got, want)
			}
			if got, want := strings.Join(rivalSent.ids(""), " "), tc.rivalIDs; got != want {
				t.Fatalf("the winner emitted %q, want %q", got, want)
			}
		})
	}
}

// Buckets made by a version without per-key TTLs are updated in place when
// alertgate starts: their entries stay (an open episode still resolves with
// its page's dedup key), and writes from then on carry TTLs that expire.
func TestStateBucketsUpgradedInPlace(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()

	// The earlier version's buckets, in the store bus.Open uses.
	ns, err := server.NewServer(&server.Options{ServerName: "alertgate", JetStream: true, StoreDir: filepath.Join(dir, "jetstream"), DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]jetstream.KeyValue{}
	for _, name := range []string{bus.BucketIncidents, bus.BucketBugs} {
		if old[name], err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1, Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
	}
	open, _ := DecideIncident(nil, incident(incKey, "ep1", alertgate.StatusFiring, t0), payments, testSettings)
	known, _ := DecideBug(nil, bug(bugKey, alertgate.StatusFiring, t0, 1), payments, testSettings)
	for name, v := range map[string]any{bus.BucketIncidents: open, bus.BucketBugs: known} {
		raw, err := wire.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		key := StateKey(incKey)
		if name == bus.BucketBugs {
			key = StateKey(bugKey)
		}
		if _, err := old[name].Create(ctx, key, raw); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	ns.Shutdown()
	ns.WaitForShutdown()

	b, _ := openBus(t, bus.Options{DataDir: dir})
	for _, kv := range []jetstream.KeyValue{b.Incidents, b.Bugs} {
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.LimitMarkerTTL() <= 0 {
			t.Fatalf("bucket %s: LimitMarkerTTL=%v after the upgrade, want per-key TTLs on", kv.Bucket(), st.LimitMarkerTTL())
		}
		if got, want := st.TTL(), time.Duration(0); got != want {
			t.Fatalf("bucket %s: TTL=%v, want %v (no MaxAge: an open episode is kept)", kv.Bucket(), got, want)
		}
	}
	p := newPolicy(b)
	p.Settings.IncidentTTL, p.Settings.BugClassTTL = time.Second, time.Second
	// The earlier state is there: the class is known, the episode open.
	rec := &recorder{}
	d, err := p.Apply(ctx, bug(bugKey, alertgate.StatusFiring, t0.Add(time.Minute), 1), payments, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Outcome, OutcomeCounted; got != want {
		t.Fatalf("bug after the upgrade: outcome=%q, want %q", got, want)
	}
	d, err = p.Apply(ctx, incident(incKey, "ep1", alertgate.StatusResolved, t0.Add(time.Minute)), payments, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Outcome, OutcomeResolved; got != want {
		t.Fatalf("resolve after the upgrade: outcome=%q, want %q", got, want)
	}
	if got, want := d.Notifications[0].DedupKey, open.Episodes[0].DedupKey; got != want {
		t.Fatalf("resolve dedup_key=%q, want the page's %q", got, want)
	}
	// Both were written with a TTL of a second: JetStream removes them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		inc, err1 := p.Incident(ctx, incKey)
		bg, err2 := p.Bug(ctx, bugKey)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if inc == nil && bg == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: incident state %v, bug state %v, want both expired", inc != nil, bg != nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A class forgotten is new again, an expired key takes a new state.
	d, err = p.Apply(ctx, bug(bugKey, alertgate.StatusFiring, t0.Add(time.Hour), 1), payments, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Outcome, OutcomeNew; got != want {
		t.Fatalf("bug after its TTL: outcome=%q, want %q", got, want)
	}
}

// A new bug class's Slack item is stored without its event, which the
// class's state already holds: the event's redelivery brings it back, and
// the item emitted again is the one the failed attempt emitted, event and
// all.
func TestPolicyBugItemRedelivered(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)
	ev := bug(bugKey, alertgate.StatusFiring, t0, 1)
	failed := &recorder{err: errors.New("jetstream down")}
	if _, err := p.ApplyDelivered(ctx, ev, 3, payments, failed); err == nil {
		t.Fatal("Apply with failing emit: no error")
	}
	if got, want := len(failed.got), 1; got != want {
		t.Fatalf("failing emit got %d notifications, want %d", got, want)
	}
	e, err := b.Bugs.Get(ctx, StateKey(bugKey))
	if err != nil {
		t.Fatal(err)
	}
	var st Bug
	if err := UnmarshalState(e.Value(), &st); err != nil {
		t.Fatal(err)
	}
	if got, want := len(st.Outbox), 1; got != want {
		t.Fatalf("outbox entries=%d, want %d", got, want)
	}
	if got := st.Outbox[0].Event.ID; got != "" {
		t.Fatalf("outbox entry stores event %q, want none (Slack items only)", got)
	}
	ok := &recorder{}
	d, err := p.ApplyDelivered(ctx, ev, 3, payments, ok)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Outcome, OutcomeDuplicate; got != want {
		t.Fatalf("outcome=%q, want %q (already decided)", got, want)
	}
	if got, want := notes(ok.got), notes(failed.got); got != want {
		t.Fatalf("notifications on retry=\n%s\nwant\n%s", got, want)
	}
	again, _ := wire.Marshal(ok.got)
	first, _ := wire.Marshal(failed.got)
	if string(again) != string(first) {
		t.Fatalf("item on retry=\n%s\nwant\n%s", again, first)
	}
}

// A walk hands out states without their outbox (no view shows it), while
// the key's own read keeps it for the router.
func TestEachBugLeavesOutboxOut(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{DataDir: t.TempDir()})
	p := newPolicy(b)
	if _, err := p.ApplyDelivered(ctx, bug(bugKey, alertgate.StatusFiring, t0, 1), 5, payments, &recorder{}); err != nil {
		t.Fatal(err)
	}
	st, err := p.Bug(ctx, bugKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(st.Outbox), 1; got != want {
		t.Fatalf("outbox entries read by key=%d, want %d (not acknowledged)", got, want)
	}
	n := 0
	if err := p.EachBug(ctx, func(b *Bug) error {
		n++
		if b.Key != bugKey || b.Count != 1 {
			t.Fatalf("walk read %q count %d", b.Key, b.Count)
		}
		if b.Outbox != nil {
			t.Fatalf("walk read an outbox of %d entries, want none", len(b.Outbox))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("walk read %d classes, want 1", n)
	}
}
