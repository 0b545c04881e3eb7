package dedup

import (
	"reflect"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/wire"
)

// fullBug has every field set, an outbox and a held last decision, with
// times in UTC and at an offset.
func fullBug() *Bug {
	t0 := time.Date(2026, 3, 14, 9, 26, 53, 123456789, time.UTC)
	cet := time.FixedZone("", 3600)
	ev := bug("sentry:v1:issue:42", alertgate.StatusFiring, t0, 3)
	st, d := DecideBug(nil, ev, payments, testSettings)
	st.Links = []alertgate.Link{{Href: "https://sentry.example/issues/42", Text: "Sentry"}, {Href: "https://x.example/\xff"}}
	st.LastSeen = t0.Add(time.Hour).In(cet)
	st.Resolutions, st.Regressions, st.Spikes = 2, 1, 4
	st.SpikeNotified = true
	st.PageDedupKey, st.PageTeam = "bug:sentry:v1:issue:42/1", "payments"
	st.Digested = 2
	st.HeldBy = "silence-1"
	st.Last.Hold = &alertgate.Hold{Reason: alertgate.HoldSilenced, By: "silence-1", Detail: "team=payments"}
	st.Outbox = []Pending{pend(ev, 7, d.Notifications)}
	return st
}

func fullIncident() *Incident {
	t0 := time.Date(2026, 3, 14, 9, 26, 53, 5, time.UTC)
	ev := incident("alertmanager:v1:abc", "ep1", alertgate.StatusFiring, t0)
	st, d := DecideIncident(nil, ev, payments, testSettings)
	held := ev
	st.Episodes = append(st.Episodes, Episode{ID: "ep2", Status: EpisodeOpen, Cycle: 2, OpenedAt: t0.Add(time.Minute), DedupKey: "k/2",
		Hold: &alertgate.Hold{Reason: alertgate.HoldInhibited, By: "alertmanager:v1:src", Rule: "inhibit_rules[0]", Detail: "d"}, Event: &held},
		Episode{ID: "ep0", Status: EpisodeResolved, OpenedAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(-time.Minute), Team: "platform"})
	st.Flap = &Flap{Since: t0, Episode: "ep1", Cycle: 1, DedupKey: "k/1", Team: "payments", Episodes: 3, ResolveDue: t0.Add(time.Hour)}
	st.Outbox = []Pending{pend(ev, 9, d.Notifications), {EventID: "hold:x", At: t0, Event: ev}}
	return st
}

// The binary encoding keeps what the JSON one keeps, field for field: a
// state read back is the state written, and reads back as a JSON entry of
// it does (the encoding an entry was stored in changes nothing).
func TestStateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		out  func() any
	}{
		{"BugFull", fullBug(), func() any { return new(Bug) }},
		{"BugEmpty", &Bug{}, func() any { return new(Bug) }},
		{"IncidentFull", fullIncident(), func() any { return new(Incident) }},
		{"IncidentEmpty", &Incident{}, func() any { return new(Incident) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, err := MarshalState(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !wire.IsBinary(bin) {
				t.Fatalf("stored as %q, want binary", bin[:min(len(bin), 8)])
			}
			js, err := wire.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			fromBin, fromJSON := tc.out(), tc.out()
			if err := UnmarshalState(bin, fromBin); err != nil {
				t.Fatal(err)
			}
			if err := UnmarshalState(js, fromJSON); err != nil {
				t.Fatal(err)
			}
			// The JSON documents of both agree (times by instant and
			// offset, which is what either encoding keeps of a zone).
			a, _ := wire.Marshal(fromBin)
			b, _ := wire.Marshal(fromJSON)
			if string(a) != string(b) {
				t.Fatalf("binary and JSON entries read back differently:\nbinary: %s\nJSON:   %s", a, b)
			}
		})
	}
}

// A settled bug class (no outbox: most of a million of them) takes at
// most half the bytes of its JSON entry.
func TestBugStateSize(t *testing.T) {
	st := fullBug()
	st.Outbox = nil
	bin, _ := MarshalState(st)
	js, _ := wire.Marshal(st)
	if got, want := len(bin), len(js); got*2 > want {
		t.Errorf("binary entry %d B, JSON %d B: want at most half", got, want)
	}
}

// An entry written as JSON by an earlier version is read as it was.
func TestStateReadsJSONEntries(t *testing.T) {
	old := []byte(`{"key":"events:bench:1","source":"events","title":"TypeError","service":"checkout","team":"payments","severity":"error","status":"open","first_seen":"2026-03-14T09:00:00Z","last_seen":"2026-03-14T09:05:00+01:00","count":3,"notified":true,"resolutions":0,"regressions":0,"window_start":"2026-03-14T09:00:00Z","window_count":3,"spike_notified":false,"spikes":0,"digested":1,"last":{"event_id":"e3","outcome":"counted","reason":"r","route":0,"at":"2026-03-14T09:05:00Z","labels":{"service":"checkout"}},"a_later_field":1}`)
	var st Bug
	if err := UnmarshalState(old, &st); err != nil {
		t.Fatal(err)
	}
	if st.Key != "events:bench:1" || st.Count != 3 || st.Digested != 1 || !st.Notified || st.Last.Labels["service"] != "checkout" {
		t.Fatalf("read %+v", st)
	}
	if _, off := st.LastSeen.Zone(); off != 3600 {
		t.Fatalf("last_seen offset %d, want 3600", off)
	}
	// Written back, it is binary and reads back the same.
	bin, err := MarshalState(&st)
	if err != nil {
		t.Fatal(err)
	}
	var again Bug
	if err := UnmarshalState(bin, &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Last, st.Last) || !again.LastSeen.Equal(st.LastSeen) || again.Count != st.Count {
		t.Fatalf("binary of a JSON entry read back as %+v, want %+v", again, st)
	}
}

// A reader ignores fields appended by a newer format, and a value cut
// short is an error, not a panic or a half-read state taken for whole.
func TestStateBinaryEdges(t *testing.T) {
	bin, err := MarshalState(fullBug())
	if err != nil {
		t.Fatal(err)
	}
	var st Bug
	if err := UnmarshalState(append(bin, 0x05, 'x', 'y'), &st); err != nil {
		t.Fatalf("value with appended fields: %v", err)
	}
	if st.Key != "sentry:v1:issue:42" {
		t.Fatalf("key %q", st.Key)
	}
	for n := 2; n < len(bin)-1; n++ {
		if err := UnmarshalState(bin[:n], &st); err == nil {
			t.Fatalf("value cut to %d of %d bytes decoded without error", n, len(bin))
		}
	}
	inc, _ := MarshalState(&Incident{Key: "k"})
	if err := UnmarshalState(inc, &st); err == nil {
		t.Fatal("an incident value decoded as a bug class")
	}
}

// FuzzBugState: any bug class state the fields can hold round-trips, and
// no bytes make the decoder panic.
func FuzzBugState(f *testing.F) {
	full, _ := MarshalState(fullBug())
	f.Add("k", "title", "payments", "open", int64(1), int64(0), int64(1e9), int32(3600), true, "env", "prod", full)
	f.Add("", "", "", "", int64(-1), int64(-1<<62), int64(-62135596800), int32(0), false, "", "", []byte("{}"))
	f.Fuzz(func(t *testing.T, key, title, team, status string, count, digested, sec int64, off int32, notified bool, lk, lv string, raw []byte) {
		// Arbitrary bytes: an error or a state, never a panic.
		var junk Bug
		_ = UnmarshalState(raw, &junk)

		at := time.Unix(sec, int64(uint64(sec)%1e9)).In(time.FixedZone("", int(off%(18*3600))))
		in := &Bug{Key: key, Title: title, Team: team, Status: status, Count: count, Digested: digested, Notified: notified,
			FirstSeen: at, LastSeen: at.UTC(), Last: Last{EventID: key, At: at, Labels: map[string]string{lk: lv}}}
		if notified {
			in.Links = []alertgate.Link{{Href: title, Text: lk}}
			in.Last.Hold = &alertgate.Hold{Reason: status, By: lv}
		}
		bin, err := MarshalState(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Bug
		if err := UnmarshalState(bin, &out); err != nil {
			t.Fatal(err)
		}
		// Times come back as the same instant at the same offset.
		for _, p := range [][2]*time.Time{{&in.FirstSeen, &out.FirstSeen}, {&in.LastSeen, &out.LastSeen}, {&in.Last.At, &out.Last.At}} {
			_, o1 := p[0].Zone()
			_, o2 := p[1].Zone()
			if !p[0].Equal(*p[1]) || o1 != o2 {
				t.Fatalf("time %v read back as %v", *p[0], *p[1])
			}
			*p[1] = *p[0]
		}
		if !reflect.DeepEqual(in, &out) {
			t.Fatalf("read back as %+v, want %+v", out, *in)
		}
	})
}
