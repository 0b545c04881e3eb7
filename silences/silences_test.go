package silences

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/natstest"
)

var (
	discard = slog.New(slog.NewTextHandler(io.Discard, nil))
	t0      = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
)

// startStore starts a Store on the bus's bucket as the gateway does; it
// stops with the test.
func startStore(t *testing.T, b *bus.Bus) *Store {
	t.Helper()
	s := New(dedup.NewBucket(b.JS, b.Silences), discard)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func ids(list []Silence) string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID+":"+s.State)
	}
	return strings.Join(out, " ")
}

func add(t *testing.T, s *Store, in Silence, now time.Time) Silence {
	t.Helper()
	sil, err := s.Add(t.Context(), in, now)
	if err != nil {
		t.Fatal(err)
	}
	return sil
}

// Add, List, Silenced and Expire on a real bucket; the view has each
// write at once.
func TestAddListExpire(t *testing.T) {
	// The real clock: the bucket's TTLs count from the server's.
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := startStore(t, natstest.OpenBus(t, t.TempDir()))
	active := add(t, s, Silence{Matchers: []string{`service="checkout"`, `env=~"prod|staging"`}, EndsAt: now.Add(2 * time.Hour), CreatedBy: "alice", Comment: "deploy"}, now)
	pending := add(t, s, Silence{Matchers: []string{`service = search`}, StartsAt: now.Add(time.Hour), EndsAt: now.Add(3 * time.Hour), CreatedBy: "bob"}, now.Add(time.Millisecond))
	if active.State != StateActive || pending.State != StatePending || len(active.ID) != 26 {
		t.Fatalf("added %+v and %+v", active, pending)
	}
	// Matchers are kept in Alertmanager's normal form.
	if got := strings.Join(pending.Matchers, ","); got != `service="search"` {
		t.Fatalf("matchers=%s", got)
	}
	if !active.StartsAt.Equal(now) {
		t.Fatalf("starts_at=%v, want now", active.StartsAt)
	}

	if got, want := ids(s.List("", now)), pending.ID+":pending "+active.ID+":active"; got != want {
		t.Fatalf("list=%s, want %s (newest first)", got, want)
	}
	if got := ids(s.List(StateActive, now)); got != active.ID+":active" {
		t.Fatalf("list active=%s", got)
	}
	if a, p := s.Counts(now); a != 1 || p != 1 {
		t.Fatalf("counts=%d,%d", a, p)
	}
	if got := s.Silenced(map[string]string{"service": "checkout", "env": "prod"}, now); got == nil || got.ID != active.ID {
		t.Fatalf("silenced=%+v, want %s", got, active.ID)
	}
	if got := s.Silenced(map[string]string{"service": "checkout", "env": "dev"}, now); got != nil {
		t.Fatalf("silenced=%+v, want none (env)", got)
	}
	// The maintenance window holds once it starts.
	if s.Silenced(map[string]string{"service": "search"}, now) != nil || s.Silenced(map[string]string{"service": "search"}, now.Add(time.Hour)) == nil {
		t.Fatal("the pending silence holds before its start, or not after")
	}

	later := now.Add(time.Minute)
	if err := s.Expire(t.Context(), active.ID, later); err != nil {
		t.Fatal(err)
	}
	if got := s.Silenced(map[string]string{"service": "checkout", "env": "prod"}, later); got != nil {
		t.Fatalf("an expired silence holds: %+v", got)
	}
	got, ok := s.Get(active.ID, later)
	if !ok || got.State != StateExpired || !got.EndsAt.Equal(later) || !got.UpdatedAt.Equal(later) {
		t.Fatalf("expired silence=%+v", got)
	}
	// Again: nothing changes, no error.
	if err := s.Expire(t.Context(), active.ID, later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(active.ID, later); !got.EndsAt.Equal(later) {
		t.Fatalf("a second expire moved ends_at to %v", got.EndsAt)
	}
	// A pending silence expired ends before it starts.
	if err := s.Expire(t.Context(), pending.ID, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(pending.ID, later); got.State != StateExpired || !got.StartsAt.Equal(later) {
		t.Fatalf("expired pending silence=%+v", got)
	}
	for _, id := range []string{"01NOSUCHSILENCE0000000000", "bad id!", ""} {
		if err := s.Expire(t.Context(), id, later); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expire %q: %v, want ErrNotFound", id, err)
		}
	}
	if got := ids(s.List(StateExpired, later)); got != pending.ID+":expired "+active.ID+":expired" {
		t.Fatalf("list expired=%s", got)
	}
	// Listed for Retention after the end, then not.
	if got := s.List("", later.Add(Retention)); len(got) != 0 {
		t.Fatalf("listed after the retention: %s", ids(got))
	}
}

// Bad input is an *InvalidError naming the field, and nothing is stored.
func TestAddValidation(t *testing.T) {
	s := New(nil, discard) // never reaches the bucket
	ok := Silence{Matchers: []string{`service="checkout"`}, EndsAt: t0.Add(time.Hour), CreatedBy: "alice"}
	for _, tc := range []struct {
		name   string
		edit   func(*Silence)
		field  string
		detail string
	}{
		{"no matchers", func(s *Silence) { s.Matchers = nil }, "matchers", "missing"},
		{"bad matcher", func(s *Silence) { s.Matchers = []string{`service="a"`, `service=~"("`} }, "matchers[1]", `bad matcher 'service=~"("'`},
		{"unparsable", func(s *Silence) { s.Matchers = []string{`just words`} }, "matchers[0]", `'just words'`},
		{"matches everything", func(s *Silence) { s.Matchers = []string{`service=~".*"`, `env=""`} }, "matchers", "every event"},
		{"no end", func(s *Silence) { s.EndsAt = time.Time{} }, "ends_at", "missing"},
		{"end in the past", func(s *Silence) { s.EndsAt = t0.Add(-time.Minute) }, "ends_at", "not in the future"},
		{"end before start", func(s *Silence) { s.StartsAt = t0.Add(2 * time.Hour) }, "ends_at", "not after starts_at 2026-12-04T12:00:00Z"},
		{"no author", func(s *Silence) { s.CreatedBy = " " }, "created_by", "missing"},
		{"long comment", func(s *Silence) { s.Comment = strings.Repeat("x", maxText+1) }, "comment", "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.edit(&in)
			_, err := s.Add(t.Context(), in, t0)
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err=%v, want an *InvalidError", err)
			}
			if inv.Field != tc.field || !strings.Contains(inv.Error(), tc.field+": ") || !strings.Contains(inv.Problem, tc.detail) {
				t.Fatalf("err=%q (field %q), want field %q and %q", err, inv.Field, tc.field, tc.detail)
			}
		})
	}
	// One matcher that needs a label is enough beside empty-matching ones.
	if _, _, err := validate(Silence{Matchers: []string{`env=""`, `service!=""`}, EndsAt: t0.Add(time.Hour), CreatedBy: "a"}, t0); err != nil {
		t.Fatal(err)
	}
}

// Silences are kept across a restart: the next process's Store lists them.
func TestRestartKeepsSilences(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	b := natstest.OpenBus(t, dir)
	s := startStore(t, b)
	sil := add(t, s, Silence{Matchers: []string{`alertname="DiskFull"`}, EndsAt: now.Add(time.Hour), CreatedBy: "alice"}, now)
	s.Stop()
	b.Close()

	s2 := startStore(t, natstest.OpenBus(t, dir))
	if got := ids(s2.List("", now)); got != sil.ID+":active" {
		t.Fatalf("after restart: %q, want %s", got, sil.ID)
	}
	if s2.Silenced(map[string]string{"alertname": "DiskFull"}, now) == nil {
		t.Fatal("the silence does not hold after a restart")
	}
}

// The TTL of each write: Retention after the silence ends, counted from
// the write; what JetStream got is that.
func TestTTL(t *testing.T) {
	sil := Silence{StartsAt: t0, EndsAt: t0.Add(2 * time.Hour)}
	for _, tc := range []struct {
		now  time.Time
		want time.Duration
	}{
		{t0, 2*time.Hour + 7*24*time.Hour},
		{t0.Add(-time.Hour), 3*time.Hour + 7*24*time.Hour}, // a maintenance window made an hour ahead
		{t0.Add(2 * time.Hour), 7 * 24 * time.Hour},        // expired as it is written
		{t0.Add(2*time.Hour + Retention), time.Second},     // never under JetStream's least
	} {
		if got := TTL(sil, tc.now); got != tc.want {
			t.Errorf("TTL at %v=%v, want %v", tc.now, got, tc.want)
		}
	}

	now := time.Now().UTC()
	b := natstest.OpenBus(t, t.TempDir())
	s := startStore(t, b)
	added := add(t, s, Silence{Matchers: []string{`service="checkout"`}, EndsAt: now.Add(2 * time.Hour), CreatedBy: "alice"}, now)
	stored := func() time.Duration {
		t.Helper()
		st, err := b.JS.Stream(t.Context(), "KV_"+bus.BucketSilences)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(t.Context(), "$KV."+bus.BucketSilences+"."+added.ID)
		if err != nil {
			t.Fatal(err)
		}
		d, err := time.ParseDuration(m.Header.Get(jetstream.MsgTTLHeader))
		if err != nil {
			t.Fatalf("Nats-TTL %q: %v", m.Header.Get(jetstream.MsgTTLHeader), err)
		}
		return d
	}
	if got, want := stored(), 2*time.Hour+Retention; got != want {
		t.Fatalf("TTL of the add=%v, want %v", got, want)
	}
	if err := s.Expire(t.Context(), added.ID, now); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != Retention {
		t.Fatalf("TTL of the expire=%v, want %v", got, Retention)
	}
}

// eventually polls cond for a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not after 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two Stores on one bucket (two instances) see each other's writes.
func TestTwoStoresShareSilences(t *testing.T) {
	now := time.Now()
	b := natstest.OpenBus(t, t.TempDir())
	one, two := startStore(t, b), startStore(t, b)
	sil := add(t, one, Silence{Matchers: []string{`team="payments"`}, EndsAt: now.Add(time.Hour), CreatedBy: "alice"}, now)
	lset := map[string]string{"team": "payments"}
	eventually(t, "the second store sees the silence", func() bool { return two.Silenced(lset, now) != nil })
	if got := two.Silenced(lset, now); got.ID != sil.ID || got.CreatedBy != "alice" {
		t.Fatalf("second store: %+v", got)
	}
	if err := two.Expire(t.Context(), sil.ID, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first store sees the expiry", func() bool { return one.Silenced(lset, now.Add(time.Second)) == nil })
	// A deleted entry (the TTL's doing) leaves both views.
	if err := b.Silences.Delete(t.Context(), sil.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both stores drop the deleted entry", func() bool {
		return len(one.List("", now)) == 0 && len(two.List("", now)) == 0
	})
}

// memStore is a Store whose view is filled directly: Silenced without a
// bucket.
func memStore(t testing.TB, sils ...Silence) *Store {
	t.Helper()
	s := New(nil, discard)
	for i, sil := range sils {
		ms, err := parseMatchers(sil.Matchers)
		if err != nil {
			t.Fatal(err)
		}
		s.apply((&entry{s: sil, matchers: ms, rev: uint64(i + 1)}).withPrefixes())
	}
	return s
}

// Silenced finds indexed and unindexed silences alike and chooses one
// deterministically.
func TestSilenced(t *testing.T) {
	h := func(id string, end time.Duration, ms ...string) Silence {
		return Silence{ID: id, Matchers: ms, StartsAt: t0, EndsAt: t0.Add(end)}
	}
	s := memStore(t,
		h("A", time.Hour, `service="checkout"`, `severity="critical"`),
		h("B", 2*time.Hour, `service="checkout"`),
		h("C", 2*time.Hour, `alertname="HighLatency"`, `service="checkout"`),
		h("D", time.Hour, `alertname=~"Disk.*"`),               // no equality: scanned for every event
		h("E", time.Hour, `service!="checkout"`, `env="prod"`), // indexed under env
		h("F", time.Hour, `region=""`, `team="search"`),        // region absent
	)
	for _, tc := range []struct {
		labels map[string]string
		at     time.Time
		want   string
	}{
		// B and C end last; B has the smaller id.
		{map[string]string{"service": "checkout", "severity": "critical", "alertname": "HighLatency"}, t0, "B"},
		{map[string]string{"service": "checkout", "severity": "critical"}, t0.Add(90 * time.Minute), "B"},
		{map[string]string{"service": "checkout", "severity": "critical"}, t0.Add(30 * time.Minute), "B"},
		{map[string]string{"alertname": "DiskFull", "service": "x"}, t0, "D"},
		{map[string]string{"alertname": "DiskFull", "service": "x"}, t0.Add(time.Hour), ""}, // ends_at is exclusive
		{map[string]string{"alertname": "DiskFull"}, t0.Add(-time.Second), ""},              // not yet
		{map[string]string{"env": "prod", "service": "search"}, t0, "E"},
		{map[string]string{"env": "prod", "service": "checkout"}, t0, "B"},
		{map[string]string{"team": "search"}, t0, "F"},
		{map[string]string{"team": "search", "region": "eu"}, t0, ""},
		{map[string]string{"service": "cart"}, t0, ""},
		{nil, t0, ""},
	} {
		got := s.Silenced(tc.labels, tc.at)
		if (got == nil && tc.want != "") || (got != nil && got.ID != tc.want) {
			t.Errorf("Silenced(%v, %v)=%+v, want %q", tc.labels, tc.at.Sub(t0), got, tc.want)
		}
		if got != nil && got.State != StateActive {
			t.Errorf("state=%q", got.State)
		}
	}
	// The answer is a copy: changing it changes nothing stored.
	got := s.Silenced(map[string]string{"service": "checkout"}, t0)
	got.Matchers[0] = "x"
	if again := s.Silenced(map[string]string{"service": "checkout"}, t0); again.Matchers[0] != `service="checkout"` {
		t.Fatalf("the view was changed through an answer: %v", again.Matchers)
	}
}

// The no-match case allocates nothing.
func TestSilencedNoAllocations(t *testing.T) {
	s := memStore(t, thousand()...)
	ev := map[string]string{"service": "other", "alertname": "HighErrorRate", "severity": "critical"}
	if n := testing.AllocsPerRun(100, func() { _ = s.Silenced(ev, t0) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

// Ids are 26 characters, valid KV keys, ordered by time.
func TestNewID(t *testing.T) {
	a, b := newID(t0), newID(t0.Add(time.Millisecond))
	if len(a) != 26 || a >= b || strings.Trim(a, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != "" {
		t.Fatalf("ids %s, %s", a, b)
	}
	if newID(t0) == a {
		t.Fatal("two ids alike")
	}
}

// thousand are 1,000 active silences, one per service, some with a
// second matcher.
func thousand() []Silence {
	out := make([]Silence, 1000)
	for i := range out {
		ms := []string{fmt.Sprintf(`service="svc-%d"`, i)}
		if i%3 == 0 {
			ms = append(ms, `severity=~"critical|warning"`)
		}
		out[i] = Silence{ID: fmt.Sprintf("S%04d", i), Matchers: ms, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), CreatedBy: "x"}
	}
	return out
}

// BenchmarkSilenced1000: 1,000 active silences on distinct services, an
// event none of them matches.
func BenchmarkSilenced1000(b *testing.B) {
	s := memStore(b, thousand()...)
	ev := map[string]string{"service": "checkout", "alertname": "HighErrorRate", "severity": "critical", "env": "prod"}
	b.ReportAllocs()
	for b.Loop() {
		if s.Silenced(ev, t0) != nil {
			b.Fatal("matched")
		}
	}
}

// BenchmarkSilencedRegex: 900 indexed silences and 100 that only regex
// matchers select (checked for every event), none matching: make bench's
// holds phase.
func BenchmarkSilencedRegex(b *testing.B) {
	var sils []Silence
	for i := range 1000 {
		ms := []string{`alertname="Maintenance"`, fmt.Sprintf(`service="svc-%d"`, i)}
		if i >= 900 {
			ms = []string{fmt.Sprintf(`instance=~"10\\.8\\.%d\\..*"`, i-900)}
			if i%2 == 0 {
				ms = append(ms, `severity!="info"`)
			}
		}
		sils = append(sils, Silence{ID: fmt.Sprintf("S%04d", i), Matchers: ms, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), CreatedBy: "x"})
	}
	s := memStore(b, sils...)
	ev := map[string]string{"service": "checkout", "alertname": "HighErrorRate", "severity": "critical", "instance": "10.0.3.17:8080", "job": "checkout-api"}
	b.ReportAllocs()
	for b.Loop() {
		if s.Silenced(ev, t0) != nil {
			b.Fatal("matched")
		}
	}
}

// The literal-prefix check before a regexp never rejects what the
// matcher accepts.
func TestSilencedRegexPrefixes(t *testing.T) {
	for _, tc := range []struct {
		matcher, value string
		want           bool
	}{
		{`instance=~"10\\.8\\.1\\..*"`, "10.8.1.7:8080", true},
		{`instance=~"10\\.8\\.1\\..*"`, "10.8.10.7:8080", false},
		{`instance=~"10\\.8\\.1\\..*"`, "x10.8.1.7", false},
		{`host=~"(?i)WEB-.*"`, "web-3", true},
		{`host=~"web-.*|db-.*"`, "db-1", true},
		{`host=~"web-(a|b)"`, "web-b", true},
		{`host=~".*-prod"`, "api-prod", true},
		{`host=~"web-[0-9]+"`, "web-", false},
	} {
		s := memStore(t, Silence{ID: "S1", Matchers: []string{tc.matcher}, StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), CreatedBy: "x"})
		name := strings.SplitN(tc.matcher, "=", 2)[0]
		if got := s.Silenced(map[string]string{name: tc.value}, t0) != nil; got != tc.want {
			t.Errorf("%s on %q: silenced %v, want %v", tc.matcher, tc.value, got, tc.want)
		}
	}
}
