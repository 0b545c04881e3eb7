package bus

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
)

// Records come back newest first, as stored; AUDIT keeps them by age only,
// a year at least.
func TestAuditTrail(t *testing.T) {
	b := openBus(t)
	a := AuditTrail{Bus: b}
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for i, target := range []string{"n1", "*", "n2"} {
		rec := alertgate.AuditRecord{At: at.Add(time.Duration(i) * time.Minute), Actor: "oncall", Action: "deadletter.replay", Target: target, Detail: "replayed 1: " + target}
		if err := a.Record(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.List(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Target != "n2" || got[1].Target != "*" {
		t.Fatalf("List(2)=%+v, want n2 then *", got)
	}
	if want := (alertgate.AuditRecord{At: at.Add(2 * time.Minute), Actor: "oncall", Action: "deadletter.replay", Target: "n2", Detail: "replayed 1: n2"}); got[0] != want {
		t.Fatalf("record=%+v, want %+v", got[0], want)
	}
	if all, err := a.List(t.Context(), 100); err != nil || len(all) != 3 {
		t.Fatalf("List(100)=%d records, %v; want 3", len(all), err)
	}

	info, err := b.Audit.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Retention != jetstream.LimitsPolicy || c.MaxAge < minAuditRetention || c.Replicas != 1 || c.Subjects[0] != "audit.>" {
		t.Fatalf("AUDIT config: retention %v, max age %v, replicas %d, subjects %v", c.Retention, c.MaxAge, c.Replicas, c.Subjects)
	}
	if got, want := info.State.Msgs, uint64(3); got != want {
		t.Fatalf("AUDIT holds %d messages, want %d", got, want)
	}
}

// An empty trail lists as an empty list, not null.
func TestAuditTrailEmpty(t *testing.T) {
	got, err := AuditTrail{Bus: openBus(t)}.List(t.Context(), 10)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("List=%v, %v; want an empty list", got, err)
	}
}
