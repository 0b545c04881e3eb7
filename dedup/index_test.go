package dedup

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
)

// walkPage is the list as a walk of every class answers it: what the
// index must answer too.
func walkPage(t *testing.T, ctx context.Context, p *Policy, q BugQuery) BugList {
	t.Helper()
	order := Loudest
	if q.ByLastSeen {
		order = Latest
	}
	top := NewTop(order, q.Limit)
	teams := map[string]bool{}
	err := p.EachBug(ctx, func(b *Bug) error {
		teams[b.Team] = true
		if (q.Team == "" || b.Team == q.Team) && (q.Status == "" || b.Status == q.Status) {
			top.Add(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	list := BugList{Page: top.Page(), Teams: slices.Sorted(maps.Keys(teams))}
	for _, b := range list.Items { // as GET /v1/bugs shows them
		b.Outbox = nil
	}
	return list
}

func describe(p BugList) string {
	var s strings.Builder
	fmt.Fprintf(&s, "total=%d limit=%d teams=%v\n", p.Total, p.Limit, p.Teams)
	for _, b := range p.Items {
		fmt.Fprintf(&s, "  %s team=%s status=%s count=%d seen=%s outbox=%d\n", b.Key, b.Team, b.Status, b.Count, b.LastSeen.Format(time.RFC3339Nano), len(b.Outbox))
	}
	return s.String()
}

func putBug(t *testing.T, ctx context.Context, p *Policy, b Bug, asJSON bool) {
	t.Helper()
	var (
		raw []byte
		err error
	)
	if asJSON { // as an earlier version stored it
		raw, err = json.Marshal(b)
	} else {
		raw, err = MarshalState(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Bugs.Put(ctx, StateKey(b.Key), raw); err != nil {
		t.Fatal(err)
	}
}

// The index answers every list exactly as a walk of the bucket does, in
// the same order, after its load and after changes made while it runs,
// and a change written before a request is in its answer.
func TestBugIndexMatchesWalk(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{})
	p := newPolicy(b)
	rnd := rand.New(rand.NewPCG(7, 11))
	teams := []string{"payments", "platform", "storage"}
	statuses := []string{BugOpen, BugResolved, BugMuted}
	mk := func(i int) Bug {
		key := fmt.Sprintf("sentry:v1:%04d", i)
		if i%50 == 0 { // a key too long for a KV key as it is: its state key is a hash
			key += strings.Repeat("x", 600)
		}
		var links []alertgate.Link
		if i%3 == 0 { // the index skips them in place
			links = []alertgate.Link{{Href: "https://sentry.example/" + key[:14], Text: "Sentry"}, {Href: "https://x", Text: ""}}
		}
		return Bug{
			Links: links, Key: key, Source: alertgate.SourceSentry, Title: "error " + key[:14], Team: teams[rnd.IntN(len(teams))],
			Status: statuses[rnd.IntN(len(statuses))], Count: int64(1 + rnd.IntN(4)), // many equal counts
			LastSeen: t0.Add(time.Duration(rnd.IntN(3)) * time.Minute), // and many equal times
			Outbox:   []Pending{{EventID: "e", Seq: uint64(i + 1)}},
		}
	}
	for i := range 600 {
		putBug(t, ctx, p, mk(i), i%97 == 0)
	}

	x := NewBugIndex(b.JS, b.Bugs, discard)
	if _, ok, _ := x.Bugs(ctx, BugQuery{Limit: 10}); ok {
		t.Fatal("an index that has not loaded answered")
	}
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok, _ := x.Bugs(ctx, BugQuery{Limit: 1}); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the index did not load in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	check := func(when string) {
		t.Helper()
		for _, q := range []BugQuery{
			{Limit: 1000}, {Limit: 25}, {Limit: 1}, {Team: "payments", Limit: 40}, {Status: BugMuted, Limit: 1000},
			{Team: "storage", Status: BugOpen, Limit: 7}, {Team: "nobody", Limit: 10}, {Status: "no-such-status", Limit: 10},
			{ByLastSeen: true, Limit: 30}, {Team: "platform", ByLastSeen: true, Limit: 1000},
		} {
			got, ok, err := x.Bugs(ctx, q)
			if err != nil || !ok {
				t.Fatalf("%s: Bugs(%+v) = ok %v, %v", when, q, ok, err)
			}
			want := walkPage(t, ctx, p, q)
			if describe(got) != describe(want) {
				t.Fatalf("%s: Bugs(%+v) =\n%s\nwant (the walk)\n%s", when, q, describe(got), describe(want))
			}
		}
	}
	check("after the load")
	if got, _, _ := x.Bugs(ctx, BugQuery{Limit: 1000}); got.Total != 600 || len(got.Items) != 600 {
		t.Fatalf("the index lists %d of %d classes, want 600", len(got.Items), got.Total)
	}

	// Changes while it runs, each listed by the next request without a
	// wait: counts move classes up, deleted and purged classes leave, new
	// ones come.
	for i := range 600 {
		switch {
		case i%7 == 0:
			c := mk(i)
			c.Count = 100 + int64(i)
			putBug(t, ctx, p, c, false)
		case i%11 == 0:
			if err := p.Bugs.Delete(ctx, StateKey(mk(i).Key)); err != nil {
				t.Fatal(err)
			}
		case i%13 == 0:
			if err := p.Bugs.Purge(ctx, StateKey(mk(i).Key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 600; i < 650; i++ {
		putBug(t, ctx, p, mk(i), false)
	}
	check("after changes")
	last := mk(649)
	last.Count = 1_000_000
	putBug(t, ctx, p, last, false)
	got, _, err := x.Bugs(ctx, BugQuery{Limit: 1})
	if err != nil || len(got.Items) != 1 || got.Items[0].Key != last.Key || got.Items[0].Count != 1_000_000 {
		t.Fatalf("the class written just before the request is not first:\n%s (%v)", describe(got), err)
	}
}

// A class written again between the ranking and the read is read at its
// new revision; one deleted since is left out.
func TestBugIndexReadsNewerRevision(t *testing.T) {
	ctx := testContext(t)
	b, _ := openBus(t, bus.Options{})
	p := newPolicy(b)
	for i := range 3 {
		putBug(t, ctx, p, Bug{Key: fmt.Sprintf("sentry:%d", i), Team: "payments", Status: BugOpen, Count: 1, LastSeen: t0}, false)
	}
	x := NewBugIndex(b.JS, b.Bugs, discard)
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Stop)
	for {
		if _, ok, _ := x.Bugs(ctx, BugQuery{Limit: 1}); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ranked, _, _ := x.top(BugQuery{Limit: 10}, loudest)
	if len(ranked) != 3 {
		t.Fatalf("ranked %d classes, want 3", len(ranked))
	}
	putBug(t, ctx, p, Bug{Key: "sentry:1", Team: "payments", Status: BugOpen, Count: 5, LastSeen: t0}, false)
	if err := p.Bugs.Delete(ctx, StateKey("sentry:2")); err != nil {
		t.Fatal(err)
	}
	items, err := x.read(ctx, ranked, Loudest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range items {
		got = append(got, fmt.Sprintf("%s=%d", b.Key, b.Count))
	}
	if strings.Join(got, " ") != "sentry:1=5 sentry:0=1" {
		t.Fatalf("read %v, want sentry:1=5 sentry:0=1", got)
	}
}

// A reload drops the classes it did not list (deleted while no watch ran).
func TestBugIndexReloadSweeps(t *testing.T) {
	x := NewBugIndex(nil, nil, discard)
	x.Replaying()
	x.Apply(putEntry(t, "a", 1))
	x.Apply(putEntry(t, "b", 2))
	x.Replayed(nil)
	x.Replaying() // the watch starts again: only a is still there
	x.Apply(putEntry(t, "a", 3))
	x.Replayed(nil)
	if _, ok := x.entries[indexHash("b")]; ok || len(x.entries) != 1 {
		t.Fatalf("after a reload that listed only a, the index holds %d classes (b: %v)", len(x.entries), ok)
	}
	if e := x.entries[indexHash("a")]; e.rev != 3 {
		t.Fatalf("a at revision %d, want 3", e.rev)
	}
}

// putEntry is a bucket change putting a bug class under state key k.
func putEntry(t *testing.T, k string, rev uint64) kvEntry {
	raw, err := MarshalState(&Bug{Key: k, Team: "payments", Status: BugOpen, Count: int64(rev)})
	if err != nil {
		t.Fatal(err)
	}
	return kvEntry{key: k, value: raw, rev: rev}
}

// kvEntry is a jetstream.KeyValueEntry of a put.
type kvEntry struct {
	key   string
	value []byte
	rev   uint64
}

func (e kvEntry) Bucket() string                  { return "bugs" }
func (e kvEntry) Key() string                     { return e.key }
func (e kvEntry) Value() []byte                   { return e.value }
func (e kvEntry) Revision() uint64                { return e.rev }
func (e kvEntry) Created() time.Time              { return time.Time{} }
func (e kvEntry) Delta() uint64                   { return 0 }
func (e kvEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
