package bus

import (
	"fmt"
	"testing"
	"time"
)

// An ID is remembered for less than the duplicate window and never past
// it; a full generation rotates early.
func TestRecentIDs(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	r := newRecentIDs(20*time.Minute, 10)
	r.now = func() time.Time { return now }
	r.since = now
	r.Add("a")
	for _, c := range []struct {
		after time.Duration
		id    string
		want  bool
	}{
		// generations are 4m (a fifth of 20m)
		{0, "a", true},                 // just added
		{0, "b", false},                // never added
		{3 * time.Minute, "a", true},   // same generation
		{5 * time.Minute, "a", true},   // rotated: in the previous generation
		{10 * time.Minute, "a", false}, // rotated again: forgotten, well inside the 20m window
	} {
		now = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC).Add(c.after)
		if got := r.Contains(c.id); got != c.want {
			t.Fatalf("after %s Contains(%q)=%v, want %v", c.after, c.id, got, c.want)
		}
	}
	// Nothing lives as long as the window.
	r2 := newRecentIDs(20*time.Minute, 1000)
	start := time.Now()
	clock := start
	r2.now = func() time.Time { return clock }
	r2.since = start
	r2.Add("x")
	for d := time.Duration(0); d < 20*time.Minute; d += 30 * time.Second {
		clock = start.Add(d)
		if r2.Contains("x") && d >= 16*time.Minute {
			t.Fatalf("x still remembered after %s", d)
		}
	}
	// A full generation rotates early: the oldest IDs are forgotten first.
	r3 := newRecentIDs(time.Hour, 10)
	for i := 0; i < 20; i++ {
		r3.Add(fmt.Sprint(i))
	}
	if r3.Contains("0") || !r3.Contains("19") {
		t.Fatalf("early rotation kept the oldest or lost the newest")
	}
}

// A body is remembered per source with its number of events, ages with
// the IDs, and is never confused with an ID.
func TestRecentBodies(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	r := newRecentIDs(20*time.Minute, 10)
	r.now = func() time.Time { return now }
	r.since = now
	body := []byte(`{"alerts":[1,2,3]}`)
	r.AddBody("alertmanager", body, 3)
	if n, ok := r.Body("alertmanager", body); !ok || n != 3 {
		t.Fatalf("Body=%d,%v, want 3,true", n, ok)
	}
	if _, ok := r.Body("datadog", body); ok {
		t.Fatal("a body of another source was found")
	}
	if _, ok := r.Body("alertmanager", append(body, ' ')); ok {
		t.Fatal("a body one byte longer was found")
	}
	// An ID with the same bytes is not a body, and the other way round.
	r.Add(string(body))
	if _, ok := r.Body("", body); ok {
		t.Fatal("an ID was taken for a body")
	}
	now = now.Add(10 * time.Minute)
	if _, ok := r.Body("alertmanager", body); ok {
		t.Fatal("the body outlived two generations")
	}
}
